//! The run loop of one WebRTC side: a thread owning the side's UDP socket
//! and its [`WebRtcLeg`]. The socket serves both halves: datagrams from
//! the relay's port of the call (plain RTP) are sent to the browser as
//! SRTP, everything else (STUN, DTLS, SRTP from the browser) goes into the
//! leg, whose decrypted RTP goes to the relay's port.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use media::relay::Side;
use media::webrtc::{LegOutput, WebRtcError, WebRtcLeg};

use super::WebRtcEnded;

/// The longest the loop sleeps without a datagram or a leg timeout.
const IDLE: Duration = Duration::from_millis(500);

/// Who a side is, for its ended report and its logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SideId {
    pub relay_id: u64,
    pub side: Side,
}

/// A running side: stop it with [`Running::stop`] (or let the leg end).
#[derive(Debug)]
pub(crate) struct Running {
    stop: Arc<AtomicBool>,
    local: SocketAddr,
}

impl Running {
    /// Asks the thread to close the leg (DTLS close_notify) and exit; a
    /// datagram from `waker` wakes it at once.
    pub(crate) fn stop(&self, waker: &UdpSocket) {
        self.stop.store(true, Ordering::Release);
        let _ = waker.send_to(&[0], self.local);
    }
}

/// Starts the thread of a side whose leg is negotiated.
pub(crate) fn spawn(
    id: SideId,
    socket: UdpSocket,
    leg: WebRtcLeg,
    relay_port: SocketAddr,
    ended: Sender<WebRtcEnded>,
) -> std::io::Result<Running> {
    let local = socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name(format!("webrtc-{}", id.relay_id))
        .spawn(move || {
            let code = run(id, &socket, leg, relay_port, &flag);
            if let Some(code) = code {
                let _ = ended.send(WebRtcEnded {
                    relay_id: id.relay_id,
                    side: id.side,
                    code,
                });
            }
        })?;
    Ok(Running { stop, local })
}

/// Whether a datagram is RTCP (RFC 5761 §4: packet types 192–223).
fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && (192..=223).contains(&data[1])
}

/// The loop; returns the `webrtc.*` code when the leg ended on its own
/// (None when pbx stopped it).
fn run(
    id: SideId,
    socket: &UdpSocket,
    mut leg: WebRtcLeg,
    relay_port: SocketAddr,
    stop: &AtomicBool,
) -> Option<&'static str> {
    let mut buf = [0u8; 2048];
    let mut plain = [0u8; 2048];
    let mut stopping = false;
    let mut read_timeout: Option<Duration> = None;
    loop {
        let now = Instant::now();
        if !stopping && stop.load(Ordering::Acquire) {
            stopping = true;
            leg.close(now);
        }
        while let Some(out) = leg.poll_output() {
            match out {
                LegOutput::Transmit { to, data } => {
                    if let Err(e) = socket.send_to(&data, to) {
                        tracing::debug!(relay = id.relay_id, %to, error = %e, "WebRTC datagram not sent");
                    }
                }
                LegOutput::Rtp(rtp) => {
                    if let Ok(n) = rtp.write_to(&mut plain) {
                        let _ = socket.send_to(&plain[..n], relay_port);
                    }
                }
                LegOutput::Connected => {
                    tracing::info!(relay = id.relay_id, side = ?id.side, "WebRTC leg connected");
                }
                LegOutput::Closed(reason) => {
                    return (!stopping).then(|| {
                        tracing::info!(relay = id.relay_id, side = ?id.side, code = reason.code(), %reason, "WebRTC leg failed");
                        reason.code()
                    });
                }
                _ => {}
            }
        }
        if stopping {
            // close() ends the leg with Closed(Local) above; a leg that was
            // already closed has nothing more to say
            return None;
        }
        // whole milliseconds, set only when they change: in a call's steady
        // state the wait is IDLE and no setsockopt rides along each packet
        let wait = leg
            .poll_timeout()
            .map_or(IDLE, |t| t.saturating_duration_since(now).min(IDLE));
        let wait = Duration::from_millis((wait.as_millis() as u64).max(1));
        if read_timeout != Some(wait) {
            let _ = socket.set_read_timeout(Some(wait));
            read_timeout = Some(wait);
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == relay_port => {
                let data = &buf[..n];
                if is_rtcp(data) {
                    continue;
                }
                match leg.send_rtp(Instant::now(), data) {
                    Ok(()) | Err(WebRtcError::NotConnected) => {}
                    Err(e) => {
                        tracing::trace!(relay = id.relay_id, error = %e, "RTP not sent to the browser")
                    }
                }
            }
            Ok((n, from)) => leg.handle_datagram(Instant::now(), from, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                // ICMP port unreachable from a gone peer shows up here on Linux
                tracing::trace!(relay = id.relay_id, error = %e, "WebRTC socket");
            }
        }
        let now = Instant::now();
        if leg.poll_timeout().is_some_and(|t| t <= now) {
            leg.handle_timeout(now);
        }
    }
}
