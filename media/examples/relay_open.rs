//! Latency of [`RelayHandle::open_sync`] as the B2BUA sees it (the SIP
//! thread waits for the relay's port pairs before it can rewrite the SDP):
//! opens and closes `calls` sessions one after the other and reports the
//! median and p99 of the `open_sync` call. The relay thread is otherwise
//! idle here (it sleeps in `epoll_wait`, so a round trip to it includes a
//! thread wake-up); a relay busy with packets would only add to that.
//!
//! `cargo run --release -p media --example relay_open -- [calls=2000] [port_base=24000]`

use std::time::{Duration, Instant};

use media::relay::driver::{Command, DriverConfig, RelayHandle, SessionId};
use media::relay::LegConfig;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(2000);
    let base: u16 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(24000);
    let relay = RelayHandle::spawn(DriverConfig {
        port_min: base,
        port_max: base + 999,
        ..DriverConfig::default()
    })
    .expect("relay");
    let leg = LegConfig {
        remote_rtp: Some("127.0.0.1:9".parse().expect("addr")),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    let mut lat = Vec::with_capacity(calls as usize);
    for i in 0..calls {
        let t = Instant::now();
        relay
            .open_sync(SessionId(i), leg, leg, Duration::from_secs(2))
            .expect("open");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        relay.send(Command::Close(SessionId(i)));
        // let the relay thread catch up so that each open finds it idle
        std::thread::sleep(Duration::from_micros(200));
    }
    lat.sort_by(f64::total_cmp);
    let at = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "open_sync over {calls} calls: p50={:.1}us p99={:.1}us",
        at(0.5),
        at(0.99)
    );
}
