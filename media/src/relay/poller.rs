//! Level-triggered epoll for the relay thread (through `rustix`, no unsafe
//! code). `mio` only offers edge-triggered readiness, which obliges the
//! driver to read every socket until `WouldBlock`: with one socket per leg a
//! readiness event almost always carries a single datagram, so that final
//! `recvfrom` returning `EAGAIN` was one wasted syscall per packet
//! (≈ 0.3 µs, 8-9 % of the relay's per-packet CPU on loopback; see
//! `media/BENCHMARKS.md`). Level-triggered, the driver reads one datagram per
//! event and the kernel re-checks the socket on the next `epoll_wait`
//! instead, at the cost of a poll callback rather than a syscall.
//!
//! A non-blocking `eventfd` is the waker of the control channel.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags, Timespec};

/// Token reported for the waker.
pub const WAKER: u64 = u64::MAX;

/// Wakes [`Poller::wait`] from another thread.
#[derive(Debug, Clone)]
pub struct Waker(Arc<OwnedFd>);

impl Waker {
    /// Makes the waker's descriptor readable (the eventfd counter is
    /// incremented; [`Poller::wait`] resets it when it reports [`WAKER`]).
    pub fn wake(&self) -> io::Result<()> {
        rustix::io::write(&*self.0, &1u64.to_ne_bytes())
            .map(drop)
            .map_err(io::Error::from)
    }
}

/// A level-triggered epoll instance plus its waker.
#[derive(Debug)]
pub struct Poller {
    epoll: OwnedFd,
    waker: Waker,
}

/// Room for the events of one [`Poller::wait`] (not `Send`: make it on
/// the thread that waits).
pub struct Events(Vec<MaybeUninit<Event>>);

impl Events {
    /// Room for `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(vec![MaybeUninit::uninit(); capacity.max(1)])
    }
}

impl Poller {
    /// New instance.
    pub fn new() -> io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(&epoll, &fd, EventData::new_u64(WAKER), EventFlags::IN)?;
        Ok(Self {
            epoll,
            waker: Waker(Arc::new(fd)),
        })
    }

    /// A waker for other threads.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Watches `fd` for readability (level-triggered) under `token`.
    pub fn add(&self, fd: impl AsFd, token: u64) -> io::Result<()> {
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(token),
            EventFlags::IN,
        )?)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds) and calls
    /// `on_ready` with the token of every readable descriptor, the waker's
    /// excepted (it is reset here). Returns whether the waker fired.
    /// Allocates nothing.
    pub fn wait(
        &self,
        events: &mut Events,
        timeout: Duration,
        mut on_ready: impl FnMut(u64),
    ) -> io::Result<bool> {
        let timeout = Timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let (ready, _) = match epoll::wait(&self.epoll, &mut events.0[..], Some(&timeout)) {
            Ok(x) => x,
            Err(rustix::io::Errno::INTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut woken = false;
        for ev in ready.iter() {
            let token = ev.data.u64();
            if token == WAKER {
                woken = true;
            } else {
                on_ready(token);
            }
        }
        if woken {
            // level-triggered: reset the counter or it stays readable
            let mut b = [0u8; 8];
            let _ = rustix::io::read(&*self.waker.0, &mut b);
        }
        Ok(woken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn level_triggered_reports_until_read_and_waker_resets() {
        let p = Poller::new().unwrap();
        let mut events = Events::with_capacity(8);
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        p.add(&rx, 7).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"one", rx.local_addr().unwrap()).unwrap();
        tx.send_to(b"two", rx.local_addr().unwrap()).unwrap();
        let mut ready = |p: &Poller| {
            let mut got = Vec::new();
            let woken = p
                .wait(&mut events, Duration::ZERO, |t| got.push(t))
                .unwrap();
            (got, woken)
        };
        // not read: reported again (level-triggered)
        assert_eq!(ready(&p), (vec![7], false));
        assert_eq!(ready(&p), (vec![7], false));
        let mut buf = [0u8; 8];
        assert_eq!(rx.recv(&mut buf).unwrap(), 3);
        assert_eq!(ready(&p), (vec![7], false), "second datagram queued");
        assert_eq!(rx.recv(&mut buf).unwrap(), 3);
        assert_eq!(ready(&p), (vec![], false));
        p.waker().wake().unwrap();
        p.waker().wake().unwrap();
        assert_eq!(ready(&p), (vec![], true));
        assert_eq!(ready(&p), (vec![], false), "waker reset");
        p.delete(&rx).unwrap();
        tx.send_to(b"three", rx.local_addr().unwrap()).unwrap();
        assert_eq!(ready(&p), (vec![], false), "deleted");
    }
}
