//! The floor of a socket relay, for comparison with the real one: each
//! datagram read from one connected socket of a pair is sent on the other,
//! nothing else — no latching, stats, continuity or timers.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use media::relay::poller::{Events, Poller};

/// Forwards until `stop`: on a level-triggered epoll with a `recv` and a
/// `send` per datagram, or (`uring`) on io_uring.
pub(crate) fn forward(pairs: Vec<(UdpSocket, UdpSocket)>, stop: &AtomicBool, uring: bool) {
    for (a, b) in &pairs {
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
    }
    if uring {
        forward_uring(&pairs, stop).expect("io_uring forwarder");
    } else {
        forward_epoll(&pairs, stop);
    }
}

fn forward_epoll(pairs: &[(UdpSocket, UdpSocket)], stop: &AtomicBool) {
    let poll = Poller::new().expect("poller");
    for (i, (a, b)) in pairs.iter().enumerate() {
        poll.add(a, (i * 2) as u64).unwrap();
        poll.add(b, (i * 2 + 1) as u64).unwrap();
    }
    let mut events = Events::with_capacity(1024);
    let mut ready = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        ready.clear();
        poll.wait(&mut events, Duration::from_millis(50), |t| ready.push(t))
            .expect("wait");
        for &t in &ready {
            let (a, b) = &pairs[(t / 2) as usize];
            let (from, to) = if t % 2 == 0 { (a, b) } else { (b, a) };
            if let Ok(n) = from.recv(&mut buf) {
                let _ = to.send(&buf[..n]);
            }
        }
    }
}

const SEND: u64 = 1 << 63;

/// One `Recv` kept armed per socket; a completed receive is copied to the
/// partner socket's send buffer, sent, and the receive re-armed. Every
/// loop is one `io_uring_enter` that submits the batch and waits.
fn forward_uring(pairs: &[(UdpSocket, UdpSocket)], stop: &AtomicBool) -> std::io::Result<()> {
    use io_uring::{opcode, types, IoUring};
    let sockets: Vec<&UdpSocket> = pairs.iter().flat_map(|(a, b)| [a, b]).collect();
    let n = sockets.len();
    let fds: Vec<types::Fd> = sockets.iter().map(|s| types::Fd(s.as_raw_fd())).collect();
    let mut rbufs = vec![[0u8; 2048]; n];
    let mut sbufs = vec![[0u8; 2048]; n];
    let entries = (2 * n).next_power_of_two().clamp(256, 32768) as u32;
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(entries * 2)
        .build(entries)?;
    let recv = |i: usize, buf: &mut [u8; 2048]| {
        opcode::Recv::new(fds[i], buf.as_mut_ptr(), buf.len() as u32)
            .build()
            .user_data(i as u64)
    };
    for (i, buf) in rbufs.iter_mut().enumerate() {
        push(&mut ring, &recv(i, buf))?;
    }
    let ts = types::Timespec::new().nsec(50_000_000);
    let args = types::SubmitArgs::new().timespec(&ts);
    let mut done = Vec::with_capacity(entries as usize);
    while !stop.load(Ordering::Relaxed) {
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc_etime()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        done.clear();
        done.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        for &(data, res) in &done {
            if data & SEND != 0 {
                continue;
            }
            let i = data as usize;
            if res > 0 {
                let len = res as usize;
                let to = i ^ 1;
                sbufs[to][..len].copy_from_slice(&rbufs[i][..len]);
                let send = opcode::Send::new(fds[to], sbufs[to].as_ptr(), len as u32)
                    .build()
                    .user_data(SEND | to as u64);
                push(&mut ring, &send)?;
            }
            push(&mut ring, &recv(i, &mut rbufs[i]))?;
        }
    }
    Ok(())
}

fn libc_etime() -> i32 {
    62 // ETIME on Linux
}

fn push(ring: &mut io_uring::IoUring, e: &io_uring::squeue::Entry) -> std::io::Result<()> {
    loop {
        // SAFETY: every buffer an entry points at lives in the forwarder's
        // vectors, which outlive the ring's use of them (the thread ends
        // only after the ring is dropped at the end of `forward_uring`).
        if unsafe { ring.submission().push(e) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}
