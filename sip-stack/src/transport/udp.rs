//! UDP: one socket per bound address and `udp_threads` std threads blocking
//! in `recv_from` on clones of it, as Kamailio does. Load generators send from
//! a single source address, so SO_REUSEPORT hashing would pin all their
//! traffic to one thread; a shared socket lets the kernel hand each datagram
//! to whichever thread is waiting.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::stats::TransportStats;
use super::{Handler, Incoming};
use crate::peer::Peer;

/// Largest UDP payload (IPv4 65 535 − 8 − 20); a datagram never exceeds it.
const MAX_DATAGRAM: usize = 65_535 - 28;
/// Receive buffers are carved from chunks of this size, so one allocation
/// (and one zero-fill) serves many datagrams. A chunk lives as long as any
/// message received into it.
/// How often a blocked receiver wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// A bound UDP socket.
#[derive(Debug)]
pub(crate) struct UdpEndpoint {
    pub(crate) socket: UdpSocket,
    pub(crate) local: SocketAddr,
}

impl UdpEndpoint {
    /// Binds `addr` with large kernel buffers and a receive timeout.
    pub(crate) fn bind(addr: SocketAddr, buffer: usize) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        // Best effort: the kernel caps these at net.core.{r,w}mem_max.
        let _ = socket.set_recv_buffer_size(buffer);
        let _ = socket.set_send_buffer_size(buffer);
        socket.set_read_timeout(Some(POLL))?;
        socket.bind(&SockAddr::from(addr))?;
        let socket: UdpSocket = socket.into();
        let local = socket.local_addr()?;
        Ok(Self { socket, local })
    }

    /// Sends one datagram without blocking (MSG_DONTWAIT): the receiver
    /// threads share the socket in blocking mode, so O_NONBLOCK is not an option.
    pub(crate) fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        SockRef::from(&self.socket).send_to_with_flags(
            data,
            &SockAddr::from(to),
            libc::MSG_DONTWAIT,
        )
    }

    /// Starts `threads` receivers on clones of the socket.
    pub(crate) fn spawn_receivers(
        &self,
        threads: usize,
        handler: &Arc<dyn Handler>,
        stats: &Arc<TransportStats>,
        stop: &Arc<AtomicBool>,
    ) -> io::Result<Vec<JoinHandle<()>>> {
        (0..threads)
            .map(|i| {
                let rx = Receiver {
                    socket: self.socket.try_clone()?,
                    local: self.local,
                    handler: handler.clone(),
                    stats: stats.clone(),
                    stop: stop.clone(),
                };
                std::thread::Builder::new()
                    .name(format!("sip-udp-{}-{i}", self.local.port()))
                    .spawn(move || rx.run())
            })
            .collect()
    }
}

struct Receiver {
    socket: UdpSocket,
    local: SocketAddr,
    handler: Arc<dyn Handler>,
    stats: Arc<TransportStats>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn run(self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while !self.stop.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => self.deliver(copy_out(&buf[..n]), from),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                // ICMP port unreachable from an earlier send surfaces here on Linux.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(local = %self.local, error = %e, "UDP receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn deliver(&self, data: Bytes, from: SocketAddr) {
        // RFC 5626 §4.4.1 keep-alives (and stray CRLFs) carry no message.
        if data
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
        {
            return;
        }
        TransportStats::inc(&self.stats.received);
        self.handler.on_message(Incoming {
            peer: Peer::udp(from),
            local: self.local,
            data,
        });
    }
}

/// Copies a datagram out of the receive buffer into an allocation of its own.
///
/// Messages are kept for a transaction's lifetime (up to 32 s, RFC 3261 Timers J
/// and L). Slicing them out of large shared chunks pinned every chunk that still
/// held one live message, so under load each chunk was fresh memory: the profile
/// showed ~30 % of the proxy's CPU in the kernel zeroing new pages. One small
/// copy per datagram lets the allocator recycle memory instead.
fn copy_out(datagram: &[u8]) -> Bytes {
    Bytes::copy_from_slice(datagram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_owns_exactly_its_bytes() {
        let buf = vec![7u8; MAX_DATAGRAM];
        let d = copy_out(&buf[..500]);
        assert_eq!(d.len(), 500);
        assert_ne!(
            d.as_ptr(),
            buf.as_ptr(),
            "not a view into the receive buffer"
        );
    }
}
