//! The tokio transport driver: UDP, TCP, TLS and WebSocket (WS/WSS, RFC 7118)
//! sockets moving complete SIP messages as [`Bytes`]. It knows nothing about
//! SIP beyond stream framing (RFC 3261 §18.3) and RFC 5626 keep-alives.
//!
//! Received messages go to one [`Handler`], called synchronously on the
//! receiving thread (UDP: dedicated std threads) or task (TCP/TLS).
//! [`Transports::send`] never blocks and works from any thread.
//!
//! ```no_run
//! # use std::sync::Arc;
//! use sip_stack::transport::{Handler, Incoming, TransportConfig, Transports};
//!
//! struct Echo(std::sync::OnceLock<Transports>);
//! impl Handler for Echo {
//!     fn on_message(&self, incoming: Incoming) {
//!         if let Some(t) = self.0.get() {
//!             let _ = t.send(&incoming.peer, incoming.data);
//!         }
//!     }
//! }
//! # async fn run() -> std::io::Result<()> {
//! let echo = Arc::new(Echo(Default::default()));
//! let config = TransportConfig { udp: vec!["127.0.0.1:5060".parse().unwrap()], ..Default::default() };
//! let transports = Transports::start(config, echo.clone()).await?;
//! let _ = echo.0.set(transports.clone());
//! // ...
//! transports.shutdown().await;
//! # Ok(()) }
//! ```

mod config;
mod framing;
mod registry;
mod stats;
mod stream;
mod tls;
mod udp;
mod ws;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{ConfigError, TlsConfig, TransportConfig};
pub use stats::{StatsSnapshot, TransportStats};
pub use ws::SUBPROTOCOL as WS_SUBPROTOCOL;

use crate::peer::{Peer, Transport};
use registry::Registry;
use udp::UdpEndpoint;

/// One complete received message.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Sender: transport, source address and, for streams, the connection
    /// (pass it back to [`Transports::send`] to answer on the same connection,
    /// RFC 3261 §18.2.2).
    pub peer: Peer,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The message bytes (headers and body). UDP messages share a 256 KiB
    /// receive chunk with their neighbours; a consumer that keeps one for a
    /// long time (hours, not transaction lifetimes) should copy it out.
    pub data: Bytes,
}

/// Receives every message, synchronously, on the receiving thread or task.
/// Must be fast and non-blocking: hand work off to a channel or queue.
///
/// A handler that holds a [`Transports`] clone (to answer directly) forms a
/// reference cycle: such owners must call [`Transports::shutdown`] rather than
/// rely on dropping the last handle.
pub trait Handler: Send + Sync + 'static {
    /// Called once per complete message.
    fn on_message(&self, incoming: Incoming);
}

/// Why [`Transports::send`] did not queue a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No socket of this transport (and address family for UDP) is bound,
    /// or outbound TLS has no client configuration.
    #[error("no {0} transport available for this destination")]
    NoTransport(Transport),
    /// The connection's send queue is full (slow or stalled peer).
    #[error("send queue full")]
    QueueFull,
    /// No open WebSocket connection to this peer: WebSocket clients are
    /// reachable only on the connection they opened (RFC 7118 §5).
    #[error("no open {0} connection to this peer")]
    NoConnection(Transport),
    /// `max_connections` is reached, so no new outbound connection is opened.
    #[error("connection limit reached")]
    TooManyConnections,
    /// The transports are shutting down.
    #[error("transports are shutting down")]
    ShuttingDown,
    /// The UDP send failed (including a full socket buffer).
    #[error("UDP send failed: {0}")]
    Io(#[from] io::Error),
}

/// Limits the connection tasks read from [`Shared`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    idle_timeout: Duration,
    max_connections: usize,
    max_message_size: usize,
    send_queue: usize,
    connect_timeout: Duration,
    ws_ping_interval: Duration,
}

/// State shared by the handle, the tasks and (parts of it) the UDP threads.
struct Shared {
    handler: Arc<dyn Handler>,
    stats: Arc<TransportStats>,
    udp: Vec<UdpEndpoint>,
    tcp_local: Vec<SocketAddr>,
    tls_local: Vec<SocketAddr>,
    ws_local: Vec<SocketAddr>,
    wss_local: Vec<SocketAddr>,
    registry: Mutex<Registry>,
    runtime: tokio::runtime::Handle,
    cancel: CancellationToken,
    tracker: TaskTracker,
    tls_connector: Option<TlsConnector>,
    limits: Limits,
}

struct Inner {
    shared: Arc<Shared>,
    udp_stop: Arc<AtomicBool>,
    udp_threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    /// Dropping the last handle without `shutdown` still stops everything,
    /// just without waiting for it.
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.udp_stop.store(true, Relaxed);
    }
}

/// Handle to the running transports; cheap to clone.
#[derive(Clone)]
pub struct Transports {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Transports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transports")
            .field(
                "udp",
                &self
                    .inner
                    .shared
                    .udp
                    .iter()
                    .map(|u| u.local)
                    .collect::<Vec<_>>(),
            )
            .field("tcp", &self.inner.shared.tcp_local)
            .field("tls", &self.inner.shared.tls_local)
            .field("ws", &self.inner.shared.ws_local)
            .field("wss", &self.inner.shared.wss_local)
            .finish_non_exhaustive()
    }
}

impl Transports {
    /// Binds every configured address (port 0 allowed, see [`Self::local_addr`])
    /// and starts the receivers. Must be called inside a tokio runtime: TCP,
    /// TLS and WebSocket run as tasks on it; UDP receivers are dedicated std threads.
    pub async fn start(config: TransportConfig, handler: Arc<dyn Handler>) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let udp = config
            .udp
            .iter()
            .map(|&a| UdpEndpoint::bind(a, config.recv_buffer))
            .collect::<io::Result<Vec<_>>>()?;
        let local = |l: &TcpListener| l.local_addr();
        let mut tcp = Vec::new();
        for &addr in &config.tcp {
            tcp.push(TcpListener::bind(addr).await?);
        }
        let mut tls = Vec::new();
        for (addr, cert) in &config.tls {
            let acceptor = TlsAcceptor::from(tls::server_config(cert)?);
            tls.push((TcpListener::bind(addr).await?, acceptor));
        }
        let mut ws = Vec::new();
        for &addr in &config.ws {
            ws.push((TcpListener::bind(addr).await?, None));
        }
        for (addr, cert) in &config.wss {
            let acceptor = TlsAcceptor::from(tls::server_config(cert)?);
            ws.push((TcpListener::bind(addr).await?, Some(acceptor)));
        }
        let ws_locals = |secure: bool| {
            ws.iter()
                .filter(|(_, a)| a.is_some() == secure)
                .map(|(l, _)| local(l))
                .collect::<io::Result<Vec<_>>>()
        };
        let shared = Arc::new(Shared {
            handler,
            stats: Arc::default(),
            tcp_local: tcp.iter().map(local).collect::<io::Result<_>>()?,
            tls_local: tls
                .iter()
                .map(|(l, _)| local(l))
                .collect::<io::Result<_>>()?,
            ws_local: ws_locals(false)?,
            wss_local: ws_locals(true)?,
            udp,
            registry: Mutex::default(),
            runtime: tokio::runtime::Handle::current(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            tls_connector: tls::client_config(&config)?.map(TlsConnector::from),
            limits: Limits {
                idle_timeout: config.tcp_idle_timeout,
                max_connections: config.max_connections,
                max_message_size: config.max_message_size,
                send_queue: config.send_queue,
                connect_timeout: config.connect_timeout,
                ws_ping_interval: config.ws_ping_interval,
            },
        });
        let udp_stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for endpoint in &shared.udp {
            let started = endpoint.spawn_receivers(
                config.udp_threads,
                &shared.handler,
                &shared.stats,
                &udp_stop,
            );
            match started {
                Ok(mut t) => threads.append(&mut t),
                Err(e) => {
                    udp_stop.store(true, Relaxed);
                    threads
                        .into_iter()
                        .for_each(|t: JoinHandle<()>| drop(t.join()));
                    return Err(e);
                }
            }
        }
        for listener in tcp {
            shared
                .tracker
                .spawn(stream::accept_loop(shared.clone(), listener, None, false));
        }
        for (listener, acceptor) in tls {
            shared.tracker.spawn(stream::accept_loop(
                shared.clone(),
                listener,
                Some(acceptor),
                false,
            ));
        }
        for (listener, acceptor) in ws {
            shared.tracker.spawn(stream::accept_loop(
                shared.clone(),
                listener,
                acceptor,
                true,
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                udp_stop,
                udp_threads: Mutex::new(threads),
            }),
        })
    }

    /// Queues `data` for `peer` without blocking; callable from any thread.
    ///
    /// UDP: sent at once from the first bound socket of the peer's address
    /// family. TCP/TLS: on `peer.conn` if that connection is open, else on
    /// any open connection to `peer.addr` (RFC 3261 §18.2.2, connection
    /// reuse), else on a new outbound connection opened in the background;
    /// data queued for it is dropped if the connect fails. WS/WSS: only on
    /// an open connection (by `peer.conn`, else by address), never a new one.
    pub fn send(&self, peer: &Peer, data: Bytes) -> Result<(), SendError> {
        let shared = &self.inner.shared;
        match peer.transport {
            Transport::Udp => {
                let endpoint = shared
                    .udp
                    .iter()
                    .find(|e| e.local.is_ipv4() == peer.addr.is_ipv4())
                    .ok_or(SendError::NoTransport(Transport::Udp))?;
                if let Err(e) = endpoint.send_to(&data, peer.addr) {
                    TransportStats::inc(&shared.stats.dropped);
                    return Err(SendError::Io(e));
                }
                TransportStats::inc(&shared.stats.sent);
                Ok(())
            }
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                self.send_stream(peer, data)
            }
        }
    }

    fn send_stream(&self, peer: &Peer, data: Bytes) -> Result<(), SendError> {
        let shared = &self.inner.shared;
        if shared.cancel.is_cancelled() {
            return Err(SendError::ShuttingDown);
        }
        let mut registry = shared.registry.lock();
        let existing = peer
            .conn
            .and_then(|id| registry.get(id, peer.transport))
            .or_else(|| registry.by_addr(peer.transport, peer.addr));
        let data = match existing {
            None => data,
            Some(handle) => match handle.tx.try_send(data) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(_)) => return Err(SendError::QueueFull),
                // The connection closed a moment ago: open a new one.
                Err(TrySendError::Closed(data)) => data,
            },
        };
        let can_open = match peer.transport {
            t @ (Transport::Ws | Transport::Wss) => return Err(SendError::NoConnection(t)),
            Transport::Tls => shared.tls_connector.is_some(),
            _ => !shared.tcp_local.is_empty(),
        };
        if !can_open {
            return Err(SendError::NoTransport(peer.transport));
        }
        if shared.stats.connections_open.load(Relaxed) >= shared.limits.max_connections as u64 {
            return Err(SendError::TooManyConnections);
        }
        let (tx, rx) = mpsc::channel(shared.limits.send_queue);
        tx.try_send(data).map_err(|_| SendError::QueueFull)?;
        let id = registry.insert(peer.transport, peer.addr, tx.clone());
        drop(registry);
        let guard = stream::OpenGuard::new(&shared.stats);
        let task = stream::connect(shared.clone(), id, peer.transport, peer.addr, tx, rx, guard);
        shared.tracker.spawn_on(task, &shared.runtime);
        Ok(())
    }

    /// The address a transport's first listener is bound to (resolves port 0).
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        let shared = &self.inner.shared;
        match transport {
            Transport::Udp => shared.udp.first().map(|u| u.local),
            Transport::Tcp => shared.tcp_local.first().copied(),
            Transport::Tls => shared.tls_local.first().copied(),
            Transport::Ws => shared.ws_local.first().copied(),
            Transport::Wss => shared.wss_local.first().copied(),
        }
    }

    /// Every bound address of a transport, in configuration order.
    pub fn local_addrs(&self, transport: Transport) -> Vec<SocketAddr> {
        let shared = &self.inner.shared;
        match transport {
            Transport::Udp => shared.udp.iter().map(|u| u.local).collect(),
            Transport::Tcp => shared.tcp_local.clone(),
            Transport::Tls => shared.tls_local.clone(),
            Transport::Ws => shared.ws_local.clone(),
            Transport::Wss => shared.wss_local.clone(),
        }
    }

    /// Number of TCP/TLS/WS connections registered (open or being opened).
    pub fn connection_count(&self) -> usize {
        self.inner.shared.registry.lock().len()
    }

    /// Live counters.
    pub fn stats(&self) -> &TransportStats {
        &self.inner.shared.stats
    }

    /// Stops accepting, closes every connection (flushing what each writer
    /// already took, dropping the rest), waits for all tasks, and joins the
    /// UDP threads (they notice within their 100 ms receive timeout).
    pub async fn shutdown(self) {
        let shared = &self.inner.shared;
        shared.cancel.cancel();
        shared.tracker.close();
        shared.tracker.wait().await;
        self.inner.udp_stop.store(true, Relaxed);
        let threads = std::mem::take(&mut *self.inner.udp_threads.lock());
        if !threads.is_empty() {
            let _ = tokio::task::spawn_blocking(move || {
                threads.into_iter().for_each(|t| drop(t.join()))
            })
            .await;
        }
    }
}
