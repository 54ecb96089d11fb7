//! Bounded load on the media bridge of `pbx serve` (`benches/webrtc.sh`):
//! N calls anchored through [`MediaAnchor`] exactly as the B2BUA anchors
//! them, 20 ms PCMU packets both ways for a fixed time, over loopback.
//!
//! Modes (same generator, same accounting, run one after another):
//! - `webrtc`: the caller is a browser (a str0m `Rtc`: full ICE, DTLS
//!   client, SRTP), the callee a plain RTP socket: WebRTC side + relay.
//! - `plain`: both parties plain RTP: the relay alone.
//! - `rtpengine`: both plain, through rtpengine's userspace daemon driven
//!   over its ng control protocol (`NG=127.0.0.1:PORT`).
//!
//! Reports packets delivered, loss, and the CPU seconds of the media
//! threads (pbx: threads `rtp-relay*` and `webrtc-*` of this process;
//! rtpengine: its process, `RTPENGINE_PID`), per packet.
//!
//! `cargo run --release -p pbx-core --example webrtc_load -- [calls] [seconds] [port_base] [mode]`

mod rtpengine;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pbx_core::media_anchor::{AnchorConfig, AnchorMode, MediaAnchor};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// CPU seconds (user + system) of this process's threads whose name starts
/// with one of `prefixes`, or of process `pid`.
fn cpu_seconds(prefixes: &[&str], pid: Option<u32>) -> f64 {
    let ticks = |stat: &str| -> f64 {
        let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        (ut + st) / 100.0
    };
    if let Some(pid) = pid {
        return ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default());
    }
    let mut total = 0.0;
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if prefixes.iter().any(|p| comm.trim().starts_with(p)) {
            total += ticks(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default());
        }
    }
    total
}

/// The first `m=audio` port and connection address of an SDP.
fn media_addr(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(LOCAL);
    let port = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .expect("m=audio port");
    SocketAddr::new(ip, port)
}

fn plain_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n"
    )
}

/// A plain RTP party: a socket and where it sends.
struct Plain {
    sock: UdpSocket,
    peer: SocketAddr,
}

impl Plain {
    fn new() -> Self {
        let sock = UdpSocket::bind((LOCAL, 0)).expect("bind");
        sock.set_nonblocking(true).expect("nonblocking");
        Self {
            peer: sock.local_addr().expect("addr"),
            sock,
        }
    }
    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }
}

/// The browser: a str0m peer on its own socket.
struct Browser {
    rtc: Rtc,
    sock: UdpSocket,
    addr: SocketAddr,
    mid: Mid,
    timeout: Instant,
    connected: bool,
}

impl Browser {
    fn offer() -> (Self, String, str0m::change::SdpPendingOffer) {
        let sock = UdpSocket::bind((LOCAL, 0)).expect("bind");
        sock.set_nonblocking(true).expect("nonblocking");
        let addr = sock.local_addr().expect("addr");
        let now = Instant::now();
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m_rust_crypto::default_provider()))
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().expect("offer");
        let b = Self {
            rtc,
            sock,
            addr,
            mid,
            timeout: now,
            connected: false,
        };
        (b, offer.to_sdp_string(), pending)
    }

    /// Handles what arrived and what is due; returns RTP packets received.
    fn poll(&mut self, buf: &mut [u8]) -> u64 {
        let mut got = 0;
        while let Ok((n, from)) = self.sock.recv_from(buf) {
            let Ok(contents) = DatagramRecv::try_from(&buf[..n]) else {
                continue;
            };
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Udp,
                    source: from,
                    destination: self.addr,
                    contents,
                },
            );
            let _ = self.rtc.handle_input(input);
            got += self.drain();
        }
        let now = Instant::now();
        if now >= self.timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
            got += self.drain();
        }
        got
    }

    fn drain(&mut self) -> u64 {
        let mut got = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return got;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::RtpPacket(_))) => got += 1,
                Ok(Output::Event(_)) => {}
                Err(_) => return got,
            }
        }
    }

    fn send(&mut self, seq: u64, payload: &[u8]) {
        let now = Instant::now();
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(self.mid, None) {
            tx.write_rtp(RtpWrite::new(
                Pt::from(0),
                SeqNo::from(seq),
                (seq * 160) as u32,
                now,
                payload,
            ));
        }
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.drain();
    }
}

enum Caller {
    Plain(Plain),
    Browser(Box<Browser>),
}

struct Call {
    a: Caller,
    b: Plain,
}

fn rtp(seq: u16, buf: &mut [u8; 172]) {
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    buf[12..].fill(0xff);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(50);
    let secs: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10);
    let base: u16 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(30000);
    let mode = args.get(4).map_or("webrtc", String::as_str).to_owned();
    assert!(calls <= 2000, "at most 2000 calls");
    let anchor = (mode != "rtpengine").then(|| {
        MediaAnchor::start(AnchorConfig {
            mode: AnchorMode::Always,
            address: LOCAL,
            port_min: base,
            port_max: base + (calls as u16) * 4 + 16,
            threads: 1,
            inactivity_timeout: Duration::from_secs(60),
        })
        .expect("relay")
    });
    let rtpengine_pid: Option<u32> = std::env::var("RTPENGINE_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    let mut ng = (mode == "rtpengine").then(|| {
        let addr: SocketAddr = std::env::var("NG")
            .expect("NG=127.0.0.1:PORT of rtpengine's ng listener")
            .parse()
            .expect("NG address");
        let mut ng = rtpengine::Ng::new(addr);
        ng.ping().expect("rtpengine answers ping");
        ng
    });
    let mut list = Vec::with_capacity(calls);
    let mut anchored = Vec::new();
    for i in 0..calls {
        let mut b = Plain::new();
        let a = match (&anchor, mode.as_str()) {
            (Some(anchor), "webrtc") => {
                let (mut browser, offer, pending) = Browser::offer();
                let (to_b, call) = anchor.open_bridging(offer.as_bytes()).expect("anchored");
                b.peer = media_addr(&String::from_utf8_lossy(&to_b));
                let answer = anchor
                    .update(&call, plain_sdp(b.port()).as_bytes(), false)
                    .expect("WebRTC answer");
                let answer =
                    SdpAnswer::from_sdp_string(&String::from_utf8_lossy(&answer)).expect("answer");
                browser
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, answer)
                    .expect("accepted");
                browser.drain();
                anchored.push(call);
                Caller::Browser(Box::new(browser))
            }
            (Some(anchor), _) => {
                let mut a = Plain::new();
                let (to_b, call) = anchor
                    .open_bridging(plain_sdp(a.port()).as_bytes())
                    .expect("anchored");
                b.peer = media_addr(&String::from_utf8_lossy(&to_b));
                let to_a = anchor
                    .update(&call, plain_sdp(b.port()).as_bytes(), false)
                    .expect("answer");
                a.peer = media_addr(&String::from_utf8_lossy(&to_a));
                anchored.push(call);
                Caller::Plain(a)
            }
            (None, _) => {
                let ng = ng.as_mut().expect("ng");
                let mut a = Plain::new();
                let id = format!("load-{i}");
                let to_b = ng.offer(&id, &plain_sdp(a.port())).expect("offer");
                b.peer = media_addr(&to_b);
                let to_a = ng.answer(&id, &plain_sdp(b.port())).expect("answer");
                a.peer = media_addr(&to_a);
                Caller::Plain(a)
            }
        };
        list.push(Call { a, b });
    }
    let mut buf = [0u8; 2048];
    // ICE + DTLS of every browser first (bounded)
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut waiting = 0;
        for c in &mut list {
            if let Caller::Browser(br) = &mut c.a {
                br.poll(&mut buf);
                waiting += usize::from(!br.connected);
            }
        }
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} browsers not connected in 30 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let prefixes = ["rtp-relay", "webrtc-"];
    let cpu0 = cpu_seconds(&prefixes, rtpengine_pid);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let (mut sent, mut got) = (0u64, 0u64);
    let mut seq: u16 = 0;
    let mut pkt = [0u8; 172];
    let mut tick = start;
    while Instant::now() < end {
        seq = seq.wrapping_add(1);
        rtp(seq, &mut pkt);
        for c in &mut list {
            match &mut c.a {
                Caller::Plain(a) => {
                    let _ = a.sock.send_to(&pkt, a.peer);
                }
                Caller::Browser(br) => br.send(u64::from(seq) + 10, &pkt[12..]),
            }
            let _ = c.b.sock.send_to(&pkt, c.b.peer);
            sent += 2;
        }
        tick += Duration::from_millis(20);
        // receive until the next tick
        loop {
            for c in &mut list {
                match &mut c.a {
                    Caller::Plain(a) => {
                        while a.sock.recv_from(&mut buf).is_ok() {
                            got += 1;
                        }
                    }
                    Caller::Browser(br) => got += br.poll(&mut buf),
                }
                while let Ok((n, _)) = c.b.sock.recv_from(&mut buf) {
                    got += u64::from(n > 12 && buf[1] & 0x7f == 0);
                }
            }
            if Instant::now() >= tick {
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    // the last packets in flight
    std::thread::sleep(Duration::from_millis(50));
    for c in &mut list {
        if let Caller::Plain(a) = &mut c.a {
            while a.sock.recv_from(&mut buf).is_ok() {
                got += 1;
            }
        }
        if let Caller::Browser(br) = &mut c.a {
            got += br.poll(&mut buf);
        }
        while c.b.sock.recv_from(&mut buf).is_ok() {
            got += 1;
        }
    }
    let cpu = cpu_seconds(&prefixes, rtpengine_pid) - cpu0;
    let elapsed = start.elapsed().as_secs_f64();
    let loss = 100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64;
    println!(
        "mode={mode} calls={calls} seconds={elapsed:.1} sent={sent} delivered={got} loss={loss:.2}% \
         media_cpu_s={cpu:.2} cpu_per_packet_us={:.2} core_share={:.1}%",
        cpu * 1e6 / got.max(1) as f64,
        100.0 * cpu / elapsed
    );
    if let Some(anchor) = &anchor {
        for call in &anchored {
            anchor.close(call);
        }
    }
    if let Some(ng) = ng.as_mut() {
        for i in 0..calls {
            ng.delete(&format!("load-{i}"));
        }
    }
}
