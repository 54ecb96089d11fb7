//! The tokio driver of the sans-IO [`UserAgent`]: its transport (one UDP
//! socket, or the sip-stack TCP/TLS transports), the agent, and the run
//! loop of the sip-stack contract (feed, drain, sleep until
//! `poll_timeout`). The application awaits [`SipDriver::next_event`] and
//! issues commands through [`SipDriver::act`].
//!
//! The driver keeps the flow to the server open with RFC 5626 §4.4.1 CRLF
//! keep-alives: on TCP/TLS a double CRLF "ping" the server answers with a
//! CRLF "pong"; on UDP the same bytes, which servers drop as an empty
//! message (RFC 5626 prefers STUN there, pbx and most servers accept
//! CRLF), so a NAT keeps the mapping the server uses to reach us.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use sip_stack::message::SipMessage;
use sip_stack::transport::{Handler, Incoming, TransportConfig, Transports};
use sip_stack::ua::{Output, UaConfig, UaEvent, UserAgent};
use sip_stack::{Peer, Transport};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How the phone reaches the server.
#[derive(Debug, Clone)]
pub(crate) struct LinkConfig {
    /// UDP, TCP or TLS.
    pub(crate) transport: Transport,
    /// CA certificates (PEM) trusted for TLS.
    pub(crate) tls_roots: Vec<PathBuf>,
    /// Interval of the CRLF keep-alives to the server.
    pub(crate) keepalive: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            transport: Transport::Udp,
            tls_roots: Vec::new(),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// Hands stream messages from the transport tasks to the driver.
struct Forward(mpsc::UnboundedSender<Incoming>);

impl Handler for Forward {
    fn on_message(&self, incoming: Incoming) {
        let _ = self.0.send(incoming);
    }
}

/// The socket(s) under the agent.
enum Link {
    Udp(UdpSocket),
    Stream {
        transports: Transports,
        incoming: mpsc::UnboundedReceiver<Incoming>,
    },
}

/// The next message from the link. Cancel-safe.
async fn receive(link: &mut Link, buf: &mut [u8]) -> anyhow::Result<(Bytes, Peer)> {
    match link {
        Link::Udp(socket) => {
            let (n, from) = socket.recv_from(buf).await.context("receiving SIP")?;
            Ok((Bytes::copy_from_slice(&buf[..n]), Peer::udp(from)))
        }
        Link::Stream { incoming, .. } => {
            let m = incoming.recv().await.context("SIP transports stopped")?;
            Ok((m.data, m.peer))
        }
    }
}

/// A user agent on its transport.
pub(crate) struct SipDriver {
    link: Link,
    ua: UserAgent,
    events: VecDeque<UaEvent>,
    buf: Vec<u8>,
    keepalive: tokio::time::Interval,
}

impl SipDriver {
    /// Binds `bind` and starts a user agent whose Via/Contact use the bound address.
    pub(crate) async fn bind(
        bind: SocketAddr,
        link: &LinkConfig,
        config: impl FnOnce(SocketAddr) -> UaConfig,
    ) -> anyhow::Result<Self> {
        let (socket, local) = match link.transport {
            Transport::Udp => {
                let socket = UdpSocket::bind(bind)
                    .await
                    .with_context(|| format!("binding SIP socket {bind}"))?;
                let local = socket.local_addr()?;
                (Link::Udp(socket), local)
            }
            Transport::Tcp | Transport::Tls => Self::bind_stream(bind, link).await?,
            t @ (Transport::Ws | Transport::Wss) => {
                anyhow::bail!("transport {t} is not supported by pbx phone (udp, tcp or tls)")
            }
        };
        let mut keepalive = tokio::time::interval(link.keepalive);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.reset();
        Ok(Self {
            link: socket,
            ua: UserAgent::new(config(local)),
            events: VecDeque::new(),
            buf: vec![0; 65_535],
            keepalive,
        })
    }

    /// TCP/TLS: a TCP listener on `bind` (requests the server sends on a new
    /// connection arrive there; its address goes into Via and Contact) and
    /// outbound connections opened on demand.
    async fn bind_stream(
        bind: SocketAddr,
        link: &LinkConfig,
    ) -> anyhow::Result<(Link, SocketAddr)> {
        let (tx, incoming) = mpsc::unbounded_channel();
        let config = TransportConfig {
            tcp: vec![bind],
            udp_threads: 1,
            tls_client_roots: link.tls_roots.clone(),
            ..TransportConfig::default()
        };
        let transports = Transports::start(config, Arc::new(Forward(tx)))
            .await
            .with_context(|| format!("binding SIP TCP listener {bind}"))?;
        if link.transport == Transport::Tls && link.tls_roots.is_empty() {
            anyhow::bail!("TLS needs the server's CA certificate (--tls-ca FILE.pem)");
        }
        let local = transports
            .local_addr(Transport::Tcp)
            .context("no TCP listener")?;
        let link = Link::Stream {
            transports,
            incoming,
        };
        Ok((link, local))
    }

    /// Runs a command on the agent with the current time, then sends what it produced.
    pub(crate) fn act<R>(&mut self, f: impl FnOnce(&mut UserAgent, Instant) -> R) -> R {
        let r = f(&mut self.ua, Instant::now());
        self.flush();
        r
    }

    /// The agent, read-only.
    pub(crate) fn ua(&self) -> &UserAgent {
        &self.ua
    }

    fn flush(&mut self) {
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit { peer, data } => self.transmit(&peer, data),
                Output::Event(ev) => self.events.push_back(ev),
            }
        }
    }

    fn transmit(&self, peer: &Peer, data: Bytes) {
        let sent = match &self.link {
            Link::Udp(socket) => socket
                .try_send_to(&data, peer.addr)
                .map(drop)
                .map_err(anyhow::Error::from),
            Link::Stream { transports, .. } => {
                transports.send(peer, data).map_err(anyhow::Error::from)
            }
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, to = %peer.addr, "SIP send failed");
        }
    }

    /// RFC 5626 §4.4.1: a CRLF ping on the flow to the server.
    fn ping(&self) {
        if let Some(addr) = self.ua.config().outbound_proxy {
            let peer = Peer {
                transport: self.ua.config().transport,
                addr,
                conn: None,
            };
            tracing::trace!(to = %peer, "keep-alive");
            self.transmit(&peer, Bytes::from_static(b"\r\n\r\n"));
        }
    }

    /// The next event; meanwhile receives datagrams and fires timers.
    /// Cancel-safe: nothing is lost if the future is dropped.
    pub(crate) async fn next_event(&mut self) -> anyhow::Result<UaEvent> {
        loop {
            self.flush();
            if let Some(ev) = self.events.pop_front() {
                return Ok(ev);
            }
            let deadline = self
                .ua
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                r = receive(&mut self.link, &mut self.buf) => {
                    let (data, from) = r?;
                    match SipMessage::parse(data) {
                        Ok(msg) => self.ua.handle_message(Instant::now(), msg, from),
                        Err(e) => tracing::debug!(%from, error = %e, "unparsable SIP message dropped"),
                    }
                }
                _ = self.keepalive.tick() => self.ping(),
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.ua.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Waits up to `limit` for an event matching `want`; other events are
    /// passed to `other`. `None` on timeout.
    pub(crate) async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(&UaEvent) -> Option<T>,
        mut other: impl FnMut(&UaEvent),
    ) -> anyhow::Result<Option<T>> {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let ev = tokio::select! {
                ev = self.next_event() => ev?,
                () = tokio::time::sleep_until(end) => return Ok(None),
            };
            if let Some(t) = want(&ev) {
                return Ok(Some(t));
            }
            other(&ev);
        }
    }
}
