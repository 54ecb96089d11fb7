//! UDP echo throughput: receive → handler → `send` back, measured from one
//! client socket (like sipp, a single source address) on loopback.
//!
//! `cargo run --release -p sip-stack --example udp_echo_load -- [threads] [count] [window]`
//!
//! The client (one thread) keeps `window` datagrams in flight, so the number is
//! the loss-free echo rate. Bounded by `count` and a 60 s deadline. On a
//! 2-core machine the client threads share the CPUs with the receivers.

use std::net::UdpSocket;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sip_stack::transport::{Handler, Incoming, TransportConfig, Transports};
use sip_stack::Transport;

struct Echo(OnceLock<Transports>);

impl Handler for Echo {
    fn on_message(&self, incoming: Incoming) {
        if let Some(t) = self.0.get() {
            let _ = t.send(&incoming.peer, incoming.data);
        }
    }
}

const MESSAGE: &str = "OPTIONS sip:load@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-load-1\r\n\
Max-Forwards: 70\r\nFrom: <sip:load@127.0.0.1>;tag=1\r\nTo: <sip:load@127.0.0.1>\r\n\
Call-ID: load-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let threads = arg(1, 2) as usize;
    let count = arg(2, 500_000);
    let window = arg(3, 512);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let echo = Arc::new(Echo(OnceLock::new()));
    let config = TransportConfig {
        udp: vec!["127.0.0.1:0".parse().expect("literal")],
        udp_threads: threads,
        ..Default::default()
    };
    let transports = rt.block_on(Transports::start(config, echo.clone()))?;
    let _ = echo.0.set(transports.clone());
    let server = transports.local_addr(Transport::Udp).expect("UDP bound");

    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    client.set_recv_buffer_size(4 << 20)?;
    client.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .expect("literal")
            .into(),
    )?;
    let client: UdpSocket = client.into();
    client.set_read_timeout(Some(Duration::from_millis(200)))?;
    // Closed loop on one thread: `window` datagrams in flight, one sent per
    // echo received; 200 ms of silence ends the run (the rest is lost).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut sent = 0u64;
    let mut done = 0u64;
    while sent < window.min(count) {
        client.send_to(MESSAGE.as_bytes(), server)?;
        sent += 1;
    }
    let mut last = start;
    while done < count && Instant::now() < deadline {
        if client.recv(&mut buf).is_err() {
            break;
        }
        done += 1;
        last = Instant::now();
        if sent < count {
            client.send_to(MESSAGE.as_bytes(), server)?;
            sent += 1;
        }
    }
    let elapsed = last - start;
    let stats = transports.stats().snapshot();
    println!(
        "udp_threads={threads} window={window} echoed={done}/{sent} (lost {}) in {:.2}s = {:.0} datagrams/s (server received={} sent={} dropped={})",
        sent - done,
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        stats.received,
        stats.sent,
        stats.dropped
    );
    rt.block_on(transports.shutdown());
    Ok(())
}
