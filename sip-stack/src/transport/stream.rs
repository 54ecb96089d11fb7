//! TCP and TLS: accept loops, outbound connects, and one task per connection
//! that frames the byte stream into messages (RFC 3261 §18.3) and writes
//! queued messages. TLS runs the same code over tokio-rustls. WebSocket
//! listeners share the accept loop and hand the (TLS) stream to [`super::ws`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::framing::{frame, Frame};
use super::stats::TransportStats;
use super::{Incoming, Shared};
use crate::peer::{ConnId, Peer, Transport};

/// How long a closing connection may take to flush and send close_notify/FIN.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Read buffer growth step.
const READ_CHUNK: usize = 8 << 10;

/// One connection's identity, as handed to the handler in every [`Peer`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) id: ConnId,
    pub(crate) transport: Transport,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// Counts a connection as open until dropped, then as closed.
#[derive(Debug)]
pub(crate) struct OpenGuard(Arc<TransportStats>);

impl OpenGuard {
    pub(crate) fn new(stats: &Arc<TransportStats>) -> Self {
        TransportStats::inc(&stats.connections_open);
        Self(stats.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Relaxed);
        TransportStats::inc(&self.0.connections_closed);
    }
}

/// Accepts connections on `listener` until shutdown; `ws` makes it a
/// WebSocket listener (WS, or WSS with `tls`).
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    ws: bool,
) {
    let transport = match (tls.is_some(), ws) {
        (false, false) => Transport::Tcp,
        (true, false) => Transport::Tls,
        (false, true) => Transport::Ws,
        (true, true) => Transport::Wss,
    };
    let Ok(local) = listener.local_addr() else {
        return;
    };
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.stats.connections_open.load(Relaxed) >= shared.limits.max_connections as u64 {
            TransportStats::inc(&shared.stats.connections_refused);
            continue;
        }
        TransportStats::inc(&shared.stats.connections_accepted);
        let guard = OpenGuard::new(&shared.stats);
        let _ = stream.set_nodelay(true);
        let task_shared = shared.clone();
        let tls = tls.clone();
        shared.tracker.spawn(async move {
            let shared = task_shared;
            match tls {
                None if ws => super::ws::serve(&shared, transport, remote, local, stream).await,
                None => serve(&shared, transport, remote, local, stream).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(shared.limits.connect_timeout, acceptor.accept(stream));
                    let stream = tokio::select! {
                        () = shared.cancel.cancelled() => return,
                        r = handshake => match r {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => return tracing::debug!(%remote, error = %e, "TLS accept failed"),
                            Err(_) => return tracing::debug!(%remote, "TLS accept timed out"),
                        },
                    };
                    if ws {
                        super::ws::serve(&shared, transport, remote, local, stream).await;
                    } else {
                        serve(&shared, transport, remote, local, stream).await;
                    }
                }
            }
            drop(guard);
        });
    }
}

/// Registers an accepted connection and runs it.
async fn serve<S>(
    shared: &Arc<Shared>,
    transport: Transport,
    remote: SocketAddr,
    local: SocketAddr,
    stream: S,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(shared.limits.send_queue);
    let id = shared.registry.lock().insert(transport, remote, tx.clone());
    run(
        shared,
        ConnInfo {
            id,
            transport,
            remote,
            local,
        },
        stream,
        tx,
        rx,
    )
    .await;
}

/// Opens an outbound connection registered as `id` (data already queued in
/// `rx`), then runs it. On failure the queued messages are dropped.
pub(crate) async fn connect(
    shared: Arc<Shared>,
    id: ConnId,
    transport: Transport,
    remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
    guard: OpenGuard,
) {
    let attempt = tokio::time::timeout(shared.limits.connect_timeout, TcpStream::connect(remote));
    let result = tokio::select! {
        () = shared.cancel.cancelled() => None,
        r = attempt => match r {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => { tracing::debug!(%remote, error = %e, "connect failed"); None }
            Err(_) => { tracing::debug!(%remote, "connect timed out"); None }
        },
    };
    let Some(stream) = result else {
        return fail(&shared, id, transport, remote, &mut rx);
    };
    let _ = stream.set_nodelay(true);
    let Ok(local) = stream.local_addr() else {
        return fail(&shared, id, transport, remote, &mut rx);
    };
    let conn = ConnInfo {
        id,
        transport,
        remote,
        local,
    };
    match (transport, &shared.tls_connector) {
        (Transport::Tls, Some(connector)) => {
            let name = rustls_pki_types::ServerName::IpAddress(remote.ip().into());
            let handshake = tokio::time::timeout(
                shared.limits.connect_timeout,
                connector.connect(name, stream),
            );
            let stream = tokio::select! {
                () = shared.cancel.cancelled() => None,
                r = handshake => match r {
                    Ok(Ok(stream)) => Some(stream),
                    Ok(Err(e)) => { tracing::debug!(%remote, error = %e, "TLS connect failed"); None }
                    Err(_) => { tracing::debug!(%remote, "TLS connect timed out"); None }
                },
            };
            let Some(stream) = stream else {
                return fail(&shared, id, transport, remote, &mut rx);
            };
            TransportStats::inc(&shared.stats.connections_connected);
            run(&shared, conn, stream, tx, rx).await;
        }
        (Transport::Tcp, _) => {
            TransportStats::inc(&shared.stats.connections_connected);
            run(&shared, conn, stream, tx, rx).await;
        }
        _ => fail(&shared, id, transport, remote, &mut rx),
    }
    drop(guard);
}

fn fail(
    shared: &Shared,
    id: ConnId,
    transport: Transport,
    remote: SocketAddr,
    rx: &mut mpsc::Receiver<Bytes>,
) {
    shared.registry.lock().remove(id, transport, remote);
    rx.close();
    while rx.try_recv().is_ok() {
        TransportStats::inc(&shared.stats.dropped);
    }
}

/// Runs one established connection until EOF, error, idle timeout or shutdown.
async fn run<S>(
    shared: &Shared,
    conn: ConnInfo,
    stream: S,
    tx: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let activity = Activity::new();
    tokio::select! {
        () = shared.cancel.cancelled() => {}
        r = read_loop(shared, conn, &mut reader, &tx, &activity) => {
            if let Err(reason) = r {
                tracing::debug!(remote = %conn.remote, transport = %conn.transport, reason, "closing connection");
            }
        }
        r = write_loop(shared, &mut writer, &mut rx, &activity) => {
            if let Err(e) = r {
                tracing::debug!(remote = %conn.remote, error = %e, "write failed");
            }
        }
        () = activity.idle(shared.limits.idle_timeout) => {
            tracing::debug!(remote = %conn.remote, "idle connection closed");
        }
    }
    shared
        .registry
        .lock()
        .remove(conn.id, conn.transport, conn.remote);
    rx.close();
    while rx.try_recv().is_ok() {
        TransportStats::inc(&shared.stats.dropped);
    }
    let mut stream = reader.unsplit(writer);
    let _ = tokio::time::timeout(CLOSE_GRACE, stream.shutdown()).await;
}

/// Reads and frames; returns `Ok` on EOF, `Err(reason)` when framing is lost.
async fn read_loop(
    shared: &Shared,
    conn: ConnInfo,
    reader: &mut (impl AsyncRead + Unpin),
    tx: &mpsc::Sender<Bytes>,
    activity: &Activity,
) -> Result<(), &'static str> {
    let peer = Peer {
        transport: conn.transport,
        addr: conn.remote,
        conn: Some(conn.id),
    };
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        loop {
            match frame(&buf) {
                Ok(Frame::Message(n)) if n > shared.limits.max_message_size => {
                    TransportStats::inc(&shared.stats.dropped);
                    return Err("message too large");
                }
                Ok(Frame::Message(n)) => {
                    let data = buf.split_to(n).freeze();
                    TransportStats::inc(&shared.stats.received);
                    shared.handler.on_message(Incoming {
                        peer,
                        local: conn.local,
                        data,
                    });
                }
                Ok(Frame::KeepAlive { len, ping }) => {
                    buf.advance(len);
                    if ping {
                        // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                        let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                }
                Ok(Frame::Incomplete) if buf.len() > shared.limits.max_message_size => {
                    TransportStats::inc(&shared.stats.dropped);
                    return Err("message too large");
                }
                Ok(Frame::Incomplete) => break,
                Err(_) => {
                    TransportStats::inc(&shared.stats.dropped);
                    return Err("framing lost");
                }
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        match reader.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => activity.touch(),
            Err(_) => return Err("read failed"),
        }
    }
}

/// Writes queued messages, batching whatever is queued before one flush.
async fn write_loop(
    shared: &Shared,
    writer: &mut (impl AsyncWrite + Unpin),
    rx: &mut mpsc::Receiver<Bytes>,
    activity: &Activity,
) -> std::io::Result<()> {
    while let Some(mut msg) = rx.recv().await {
        loop {
            writer.write_all(&msg).await?;
            if msg[..] != b"\r\n"[..] {
                TransportStats::inc(&shared.stats.sent);
            }
            match rx.try_recv() {
                Ok(next) => msg = next,
                Err(_) => break,
            }
        }
        writer.flush().await?;
        activity.touch();
    }
    Ok(())
}

/// Last time the connection carried traffic, for the idle timeout.
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Relaxed);
    }

    /// Completes once no traffic was seen for `idle`.
    pub(crate) async fn idle(&self, idle: Duration) {
        loop {
            let last = self.last_ms.load(Relaxed);
            let deadline = (self.start + Duration::from_millis(last)).checked_add(idle);
            // An idle timeout too large to represent means "never".
            let Some(deadline) = deadline else {
                return std::future::pending().await;
            };
            tokio::time::sleep_until(deadline).await;
            if self.last_ms.load(Relaxed) == last {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_waits_for_silence_since_last_activity() {
        let activity = Activity::new();
        let idle = activity.idle(Duration::from_secs(10));
        tokio::pin!(idle);
        tokio::time::sleep(Duration::from_secs(6)).await;
        activity.touch();
        // 10 s after the start, but only 4 s after the last traffic.
        assert!(tokio::time::timeout(Duration::from_secs(4), &mut idle)
            .await
            .is_err());
        assert!(tokio::time::timeout(Duration::from_secs(7), &mut idle)
            .await
            .is_ok());
        assert!(activity.start.elapsed() >= Duration::from_secs(16));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_idle_timeout_never_fires() {
        let activity = Activity::new();
        let idle = activity.idle(Duration::MAX);
        assert!(tokio::time::timeout(Duration::from_secs(86_400), idle)
            .await
            .is_err());
    }
}
