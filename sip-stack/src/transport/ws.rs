//! SIP over WebSocket (RFC 7118): the server side of `ws:` and `wss:`
//! listeners. The accept loop (and, for WSS, the TLS handshake) is shared
//! with TCP/TLS in [`super::stream`]; this module runs the HTTP upgrade,
//! insists on the `sip` subprotocol (RFC 7118 §4.1), and then moves one SIP
//! message per text or binary frame (RFC 7118 §5).
//!
//! The connection is the contact: it is registered like a TCP connection, so
//! responses and later requests to that peer (RFC 7118 §5.2, the registrar
//! stores the [`Peer`] with its connection id) travel on it while it lives.
//! pbx never opens outbound WebSocket connections: a browser is not
//! reachable except through the connection it opened.
//!
//! Keep-alives: a ping frame every `ws_ping_interval`; any frame received
//! (including the pong) is traffic for the idle timeout. CRLF keep-alives
//! inside a data frame (SIP.js, JsSIP) are answered like RFC 5626 pings.
//! A WebSocket protocol violation or a frame that is not one SIP message
//! closes the connection with a logged reason.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::framing::{ws_frame, WsFrame};
use super::stats::TransportStats;
use super::stream::{Activity, ConnInfo, CLOSE_GRACE};
use super::{Incoming, Shared};
use crate::peer::{Peer, Transport};

/// The WebSocket subprotocol of RFC 7118 §4.1.
pub const SUBPROTOCOL: &str = "sip";

/// Why a WebSocket connection ended (logged once, at its close).
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("peer closed the connection")]
    ByPeer,
    #[error("WebSocket protocol error: {0}")]
    Protocol(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("malformed SIP frame: {0}")]
    Frame(#[from] super::framing::WsFrameError),
    #[error("write failed: {0}")]
    Write(tokio_tungstenite::tungstenite::Error),
    #[error("idle timeout")]
    Idle,
    #[error("shutting down")]
    Shutdown,
}

impl Closed {
    /// The close code sent to the peer, if a close frame is still worth sending.
    fn code(&self) -> Option<CloseCode> {
        match self {
            Self::Frame(_) => Some(CloseCode::Unsupported),
            Self::Protocol(_) => Some(CloseCode::Protocol),
            Self::Idle => Some(CloseCode::Normal),
            Self::Shutdown => Some(CloseCode::Away),
            Self::ByPeer | Self::Write(_) => None,
        }
    }
}

/// Whether the upgrade request offers the `sip` subprotocol.
fn offers_sip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// The handshake callback: accept with `Sec-WebSocket-Protocol: sip`, or
/// refuse with 400 when the client does not speak SIP.
#[allow(clippy::result_large_err)] // the signature tungstenite's Callback wants
fn negotiate(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if !offers_sip(request) {
        let mut refusal = ErrorResponse::new(Some(
            "Sec-WebSocket-Protocol must offer \"sip\" (RFC 7118)".to_owned(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// Upgrades an accepted (TLS) stream, registers the connection and runs it.
pub(crate) async fn serve<S>(
    shared: &Arc<Shared>,
    transport: Transport,
    remote: SocketAddr,
    local: SocketAddr,
    stream: S,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let max = shared.limits.max_message_size;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let upgrade = tokio::time::timeout(
        shared.limits.connect_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config)),
    );
    let ws = tokio::select! {
        () = shared.cancel.cancelled() => return,
        r = upgrade => match r {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return tracing::debug!(%transport, error = %e, "WebSocket upgrade refused"),
            Err(_) => return tracing::debug!(%transport, "WebSocket upgrade timed out"),
        },
    };
    let (tx, rx) = mpsc::channel(shared.limits.send_queue);
    let id = shared.registry.lock().insert(transport, remote, tx.clone());
    let conn = ConnInfo {
        id,
        transport,
        remote,
        local,
    };
    run(shared, conn, ws, &tx, rx).await;
}

async fn run<S>(
    shared: &Shared,
    conn: ConnInfo,
    ws: WebSocketStream<S>,
    tx: &mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut frames) = ws.split();
    let activity = Activity::new();
    let closed = tokio::select! {
        () = shared.cancel.cancelled() => Closed::Shutdown,
        c = read_loop(shared, conn, &mut frames, tx, &activity) => c,
        c = write_loop(shared, &mut sink, &mut rx, &activity) => c,
        () = activity.idle(shared.limits.idle_timeout) => Closed::Idle,
    };
    match &closed {
        Closed::ByPeer | Closed::Shutdown => {
            tracing::debug!(conn = conn.id.0, transport = %conn.transport, reason = %closed, "WebSocket connection closed");
        }
        _ => {
            tracing::info!(conn = conn.id.0, transport = %conn.transport, reason = %closed, "closing WebSocket connection");
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
    if let Some(code) = closed.code() {
        let frame = CloseFrame {
            code,
            reason: closed
                .to_string()
                .chars()
                .take(100)
                .collect::<String>()
                .into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}

/// Hands each data frame to the handler; returns why reading stopped.
async fn read_loop<S>(
    shared: &Shared,
    conn: ConnInfo,
    frames: &mut futures_util::stream::SplitStream<WebSocketStream<S>>,
    tx: &mpsc::Sender<Bytes>,
    activity: &Activity,
) -> Closed
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let peer = Peer {
        transport: conn.transport,
        addr: conn.remote,
        conn: Some(conn.id),
    };
    while let Some(frame) = frames.next().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                TransportStats::inc(&shared.stats.dropped);
                return Closed::Protocol(e);
            }
        };
        activity.touch();
        let data: Bytes = match frame {
            Message::Text(text) => text.into(),
            Message::Binary(data) => data,
            // tungstenite queues the pong to a ping itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Close(_) => return Closed::ByPeer,
        };
        match ws_frame(&data) {
            Ok(WsFrame::Message) => {
                TransportStats::inc(&shared.stats.received);
                shared.handler.on_message(Incoming {
                    peer,
                    local: conn.local,
                    data,
                });
            }
            Ok(WsFrame::KeepAlive { ping }) => {
                if ping {
                    let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                }
            }
            Err(e) => {
                TransportStats::inc(&shared.stats.dropped);
                return Closed::Frame(e);
            }
        }
    }
    Closed::ByPeer
}

/// Writes queued messages as text frames (binary if not UTF-8) and pings
/// every `ws_ping_interval`.
async fn write_loop<S>(
    shared: &Shared,
    sink: &mut futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
    rx: &mut mpsc::Receiver<Bytes>,
    activity: &Activity,
) -> Closed
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let period = shared.limits.ws_ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Only SIP data counts as our traffic: a ping that goes out to a
        // vanished peer must not keep its connection alive.
        let (frame, is_data) = tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => {
                    if msg[..] != b"\r\n"[..] {
                        TransportStats::inc(&shared.stats.sent);
                    }
                    (data_frame(msg), true)
                }
                None => return Closed::Shutdown,
            },
            _ = ping.tick() => (Message::Ping(Bytes::new()), false),
        };
        if let Err(e) = sink.send(frame).await {
            return Closed::Write(e);
        }
        if is_data {
            activity.touch();
        }
    }
}

/// SIP is UTF-8 text in practice; a body that is not goes as binary.
fn data_frame(msg: Bytes) -> Message {
    // A clone of `Bytes` is a reference count, not a copy.
    match tokio_tungstenite::tungstenite::Utf8Bytes::try_from(msg.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(msg),
    }
}
