//! WebRTC legs against a "browser": a plain str0m `Rtc` (full ICE,
//! controlling, the DTLS client of an `actpass` offer), as Chromium behaves.
//! First on a virtual clock over an in-memory network (fingerprint, DTLS and
//! ICE failures, both offer directions), then on real UDP sockets on
//! 127.0.0.1 bridged to a plain RTP phone.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use media::webrtc::{CloseReason, LegOutput, WebRtcConfig, WebRtcError, WebRtcLeg};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

/// A browser-like peer: full ICE, RTP mode, Opus/PCMU/PCMA.
struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    connected: bool,
    received: Vec<(u8, u16, Vec<u8>)>,
    timeout: Option<Instant>,
    seq: u64,
}

impl Browser {
    fn new(now: Instant, addr: SocketAddr) -> Self {
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m_rust_crypto::default_provider()))
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        Self {
            rtc,
            addr,
            mid: None,
            pending: None,
            out: VecDeque::new(),
            connected: false,
            received: Vec::new(),
            timeout: None,
            seq: 1000,
        }
    }

    fn offer(&mut self, now: Instant) -> String {
        let mut api = self.rtc.sdp_api();
        self.mid = Some(api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
        let (offer, pending) = api.apply().expect("an offer");
        self.pending = Some(pending);
        self.drain(now);
        offer.to_sdp_string()
    }

    fn accept_answer(&mut self, now: Instant, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        let pending = self.pending.take().expect("offer pending");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        self.drain(now);
    }

    fn answer(&mut self, now: Instant, offer: &str) -> String {
        let offer = SdpOffer::from_sdp_string(offer).expect("offer parses");
        let answer = self.rtc.sdp_api().accept_offer(offer).expect("accepted");
        self.drain(now);
        answer.to_sdp_string()
    }

    fn handle(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let contents = DatagramRecv::try_from(data).expect("a WebRTC datagram");
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.addr,
                contents,
            },
        );
        self.rtc.handle_input(input).expect("browser input");
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.rtc.handle_input(Input::Timeout(now)).expect("timeout");
        self.drain(now);
    }

    fn send_rtp(&mut self, now: Instant, pt: u8, payload: &[u8]) {
        let mid = self.mid.expect("media");
        self.seq += 1;
        let (seq, ts) = (self.seq, (self.seq * 160) as u32);
        let mut api = self.rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("send stream");
        tx.write_rtp(RtpWrite::new(
            Pt::from(pt),
            SeqNo::from(seq),
            ts,
            now,
            payload,
        ));
        self.drain(now);
        // The pacer releases the packet on its (immediately due) timeout.
        self.handle_timeout(now);
    }

    fn drain(&mut self, _now: Instant) {
        loop {
            match self.rtc.poll_output().expect("browser output") {
                Output::Timeout(t) => {
                    self.timeout = Some(t);
                    return;
                }
                Output::Transmit(t) => self.out.push_back((t.destination, t.contents.into())),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaAdded(m)) if self.mid.is_none() => self.mid = Some(m.mid),
                Output::Event(Event::RtpPacket(p)) => self.received.push((
                    *p.header.payload_type,
                    p.header.sequence_number,
                    p.payload.to_vec(),
                )),
                Output::Event(_) => {}
            }
        }
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Which browser datagrams the in-memory network delivers to the leg.
type Filter = fn(&[u8]) -> bool;

fn deliver_all(_: &[u8]) -> bool {
    true
}

/// RFC 7983: DTLS records start with 20..=63.
fn drop_dtls(d: &[u8]) -> bool {
    !matches!(d.first(), Some(20..=63))
}

fn drop_everything(_: &[u8]) -> bool {
    false
}

/// A leg and a browser on a virtual clock and a lossless in-memory network.
struct Pair {
    now: Instant,
    leg: WebRtcLeg,
    browser: Browser,
    leg_out: Vec<LegOutput>,
    filter: Filter,
}

impl Pair {
    fn browser_offers(config: WebRtcConfig, offer_edit: impl Fn(String) -> String) -> Self {
        let now = Instant::now();
        let mut browser = Browser::new(now, addr(50_000));
        let offer = offer_edit(browser.offer(now));
        let (leg, answer) = WebRtcLeg::accept_offer(config, now, &offer).expect("offer accepted");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("a=setup:passive"), "{answer}");
        browser.accept_answer(now, &answer);
        Self {
            now,
            leg,
            browser,
            leg_out: Vec::new(),
            filter: deliver_all,
        }
    }

    fn config() -> WebRtcConfig {
        WebRtcConfig::new(addr(40_000))
    }

    /// Moves every pending datagram, then advances the clock to the next
    /// deadline; stops once `until` holds or `limit` of virtual time passed.
    fn run(&mut self, limit: Duration, until: impl Fn(&Self) -> bool) {
        let end = self.now + limit;
        while self.now < end && !until(self) {
            let mut moved = true;
            while moved {
                moved = false;
                while let Some(o) = self.leg.poll_output() {
                    match o {
                        LegOutput::Transmit { to, data } => {
                            assert_eq!(to, self.browser.addr);
                            self.browser.handle(self.now, self.leg_local(), &data);
                            moved = true;
                        }
                        other => self.leg_out.push(other),
                    }
                }
                while let Some((to, data)) = self.browser.out.pop_front() {
                    assert_eq!(to, self.leg_local());
                    if (self.filter)(&data) {
                        self.leg.handle_datagram(self.now, self.browser.addr, &data);
                    }
                    moved = true;
                }
            }
            if until(self) {
                return;
            }
            let next = [self.leg.poll_timeout(), self.browser.timeout]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end)
                .clamp(self.now + Duration::from_millis(1), end);
            self.now = next;
            self.leg.handle_timeout(self.now);
            self.browser.handle_timeout(self.now);
        }
    }

    fn leg_local(&self) -> SocketAddr {
        addr(40_000)
    }

    fn closed(&self) -> Option<&CloseReason> {
        self.leg_out.iter().find_map(|o| match o {
            LegOutput::Closed(r) => Some(r),
            _ => None,
        })
    }

    fn connected(&self) -> bool {
        self.leg.is_connected() && self.browser.connected
    }

    fn rtp(&self) -> Vec<(u8, u16, Vec<u8>)> {
        self.leg_out
            .iter()
            .filter_map(|o| match o {
                LegOutput::Rtp(r) => Some((
                    r.header.payload_type.0,
                    r.header.sequence,
                    r.payload.to_vec(),
                )),
                _ => None,
            })
            .collect()
    }
}

fn plain_rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    let header = RtpHeader {
        marker: seq == 1,
        payload_type: PayloadType(pt),
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(0x1234_5678),
    };
    let n = header.write(payload, &mut buf).expect("fits");
    buf.truncate(n);
    buf
}

#[test]
fn browser_offer_connects_and_audio_flows_both_ways() {
    let mut p = Pair::browser_offers(Pair::config(), |o| o);
    assert!(
        p.leg.send_rtp(p.now, &plain_rtp(0, 1, &[1; 160])).is_err(),
        "not connected yet"
    );
    p.run(Duration::from_secs(5), Pair::connected);
    assert!(p.connected(), "ICE + DTLS complete");
    assert!(matches!(p.leg_out.first(), Some(LegOutput::Connected)));
    let pts = p.leg.payload_types();
    for pt in [111, 0, 8] {
        assert!(pts.contains(&PayloadType(pt)), "{pt} negotiated: {pts:?}");
    }

    // Relay -> browser: plain PCMU in, SRTP out, decrypted by the browser.
    p.leg
        .send_rtp(p.now, &plain_rtp(0, 1, &[1; 160]))
        .expect("sent");
    match p.leg.poll_output() {
        Some(LegOutput::Transmit { data, .. }) => p.browser.handle(p.now, p.leg_local(), &data),
        other => panic!("the SRTP datagram leaves in the same call: {other:?}"),
    }
    for seq in 2..=5u16 {
        let payload = [seq as u8; 160];
        p.leg
            .send_rtp(p.now, &plain_rtp(0, seq, &payload))
            .expect("sent");
    }
    // Browser -> relay: Opus.
    for i in 0..5u8 {
        p.browser.send_rtp(p.now, 111, &[0xa0 + i; 60]);
    }
    p.run(Duration::from_secs(1), |p| {
        p.browser.received.len() >= 5 && p.rtp().len() >= 5
    });
    let got: Vec<_> = p
        .browser
        .received
        .iter()
        .map(|(pt, _, pl)| (*pt, pl[0], pl.len()))
        .collect();
    assert_eq!(got, (1..=5).map(|s| (0, s as u8, 160)).collect::<Vec<_>>());
    let seqs: Vec<u16> = p.browser.received.iter().map(|r| r.1).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "sequence numbers kept");
    let rtp = p.rtp();
    assert_eq!(
        rtp.iter()
            .map(|(pt, _, pl)| (*pt, pl[0]))
            .collect::<Vec<_>>(),
        (0..5).map(|i| (111, 0xa0 + i)).collect::<Vec<_>>()
    );
    // The relay gets a plain packet it can forward as is.
    let LegOutput::Rtp(first) = p
        .leg_out
        .iter()
        .find(|o| matches!(o, LegOutput::Rtp(_)))
        .expect("rtp")
    else {
        unreachable!()
    };
    let mut buf = [0u8; 1500];
    let n = first.write_to(&mut buf).expect("fits");
    let parsed = RtpPacket::parse(&buf[..n]).expect("valid RTP");
    assert_eq!(
        (parsed.payload_type(), parsed.payload()),
        (PayloadType(111), &[0xa0; 60][..])
    );

    assert!(matches!(
        p.leg.send_rtp(p.now, &plain_rtp(9, 6, &[0; 160])),
        Err(WebRtcError::UnknownPayloadType(9))
    ));
    assert!(matches!(
        p.leg.send_rtp(p.now, &[0x80, 0]),
        Err(WebRtcError::Rtp(_))
    ));

    p.leg.close(p.now);
    p.run(Duration::from_millis(100), |_| false);
    assert_eq!(p.closed(), Some(&CloseReason::Local));
    assert!(p.leg.poll_timeout().is_none());
}

#[test]
fn wrong_fingerprint_ends_the_leg() {
    // The browser's certificate will not match what its offer announces.
    let mut p = Pair::browser_offers(Pair::config(), |offer| {
        let at = offer.find("a=fingerprint:sha-256 ").expect("fingerprint") + 22;
        let mut s = offer.into_bytes();
        s[at] = if s[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(s).expect("ASCII")
    });
    p.run(Duration::from_secs(5), |p| p.closed().is_some());
    assert_eq!(p.closed(), Some(&CloseReason::FingerprintMismatch));
    assert_eq!(
        CloseReason::FingerprintMismatch.code(),
        "webrtc.fingerprint_mismatch"
    );
    assert!(!p.leg.is_connected());
}

#[test]
fn dtls_that_never_completes_times_out() {
    let config = WebRtcConfig {
        dtls_timeout: Duration::from_secs(3),
        ..Pair::config()
    };
    let mut p = Pair::browser_offers(config, |o| o);
    p.filter = drop_dtls;
    let start = p.now;
    p.run(Duration::from_secs(20), |p| p.closed().is_some());
    assert_eq!(p.closed(), Some(&CloseReason::DtlsTimeout));
    let took = p.now - start;
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn silence_is_an_ice_timeout() {
    let config = WebRtcConfig {
        ice_timeout: Duration::from_secs(2),
        ..Pair::config()
    };
    let mut p = Pair::browser_offers(config, |o| o);
    p.filter = drop_everything;
    p.run(Duration::from_secs(20), |p| p.closed().is_some());
    assert_eq!(p.closed(), Some(&CloseReason::IceTimeout));
}

#[test]
fn pbx_offer_to_a_browser_connects() {
    let now = Instant::now();
    let (mut leg, offer) = WebRtcLeg::create_offer(Pair::config(), now).expect("offer");
    for needle in [
        "UDP/TLS/RTP/SAVPF",
        "a=ice-lite",
        "a=setup:actpass",
        "a=rtcp-mux",
        "a=group:BUNDLE",
        "a=fingerprint:sha-256",
        "a=candidate:",
        "opus/48000/2",
        "PCMU/8000",
    ] {
        assert!(offer.contains(needle), "{needle} in\n{offer}");
    }
    let mut browser = Browser::new(now, addr(50_000));
    let answer = browser.answer(now, &offer);
    assert!(
        leg.accept_answer(now, "v=0\r\n").is_err(),
        "a broken answer is refused"
    );
    leg.accept_answer(now, &answer).expect("answer accepted");
    let mut p = Pair {
        now,
        leg,
        browser,
        leg_out: Vec::new(),
        filter: deliver_all,
    };
    p.run(Duration::from_secs(5), Pair::connected);
    assert!(p.connected());
    p.browser.send_rtp(p.now, 0, &[0x55; 160]);
    p.run(Duration::from_secs(1), |p| !p.rtp().is_empty());
    assert_eq!(p.rtp()[0].0, 0);
    assert!(matches!(
        p.leg.accept_answer(p.now, &answer),
        Err(WebRtcError::NoPendingOffer)
    ));
}

#[test]
fn offers_pbx_cannot_bridge_are_refused() {
    let now = Instant::now();
    let mut browser = Browser::new(now, addr(50_000));
    let offer = browser.offer(now);
    let no_mux = offer.replace("a=rtcp-mux\r\n", "");
    assert!(matches!(
        WebRtcLeg::accept_offer(Pair::config(), now, &no_mux),
        Err(WebRtcError::NotBridgeable(_))
    ));
    let plain = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(matches!(
        WebRtcLeg::accept_offer(Pair::config(), now, plain),
        Err(WebRtcError::NotBridgeable(_))
    ));
    assert!(matches!(
        WebRtcLeg::accept_offer(Pair::config(), now, "garbage"),
        Err(WebRtcError::Sdp(_))
    ));
    let g722_only = WebRtcConfig {
        codecs: media::webrtc::WebRtcCodecs {
            opus: false,
            pcmu: false,
            pcma: false,
            telephone_event: false,
        },
        ..Pair::config()
    };
    assert!(
        WebRtcLeg::accept_offer(g722_only, now, &offer).is_err(),
        "no common codec"
    );
}

/// Real sockets: browser <-UDP SRTP-> leg, and the leg's plain RTP relayed
/// to a plain phone socket and back.
#[test]
fn srtp_over_loopback_udp_arrives_as_plain_rtp_at_a_phone() {
    let bind = || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_nonblocking(true).expect("nonblocking");
        s
    };
    let (browser_sock, leg_sock, relay_sock, phone) = (bind(), bind(), bind(), bind());
    let (browser_addr, leg_addr) = (
        browser_sock.local_addr().expect("addr"),
        leg_sock.local_addr().expect("addr"),
    );
    let relay_addr = relay_sock.local_addr().expect("addr");
    let phone_addr = phone.local_addr().expect("addr");

    let start = Instant::now();
    let mut browser = Browser::new(start, browser_addr);
    let offer = browser.offer(start);
    let (mut leg, answer) =
        WebRtcLeg::accept_offer(WebRtcConfig::new(leg_addr), start, &offer).expect("accepted");
    browser.accept_answer(start, &answer);

    let marker: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
    let mut buf = [0u8; 2048];
    let mut phone_got: Vec<Vec<u8>> = Vec::new();
    let mut browser_sent = 0;
    let mut phone_sent = 0u16;
    let mut leaked = false;
    let deadline = start + Duration::from_secs(10);
    while Instant::now() < deadline && (phone_got.len() < 5 || browser.received.len() < 5) {
        let now = Instant::now();
        // Leg outputs: datagrams to the browser, plain RTP to the phone.
        while let Some(o) = leg.poll_output() {
            match o {
                LegOutput::Transmit { to, data } => {
                    leg_sock.send_to(&data, to).expect("send");
                }
                LegOutput::Rtp(rtp) => {
                    let n = rtp.write_to(&mut buf).expect("fits");
                    relay_sock.send_to(&buf[..n], phone_addr).expect("send");
                }
                LegOutput::Closed(r) => panic!("leg closed: {r}"),
                _ => {}
            }
        }
        while let Some((to, data)) = browser.out.pop_front() {
            // SRTP on the wire: the payload never travels in the clear.
            leaked |= data.windows(16).any(|w| w == &marker[..16]);
            browser_sock.send_to(&data, to).expect("send");
        }
        if let Ok((n, from)) = leg_sock.recv_from(&mut buf) {
            leg.handle_datagram(now, from, &buf[..n]);
        }
        if let Ok((n, from)) = browser_sock.recv_from(&mut buf) {
            browser.handle(now, from, &buf[..n]);
        }
        if let Ok((n, from)) = relay_sock.recv_from(&mut buf) {
            assert_eq!(from, phone_addr);
            leg.send_rtp(now, &buf[..n]).expect("to the browser");
        }
        if let Ok((n, _)) = phone.recv_from(&mut buf) {
            phone_got.push(buf[..n].to_vec());
        }
        if leg.is_connected() && browser.connected {
            if browser_sent < 5 {
                browser.send_rtp(now, 0, &marker);
                browser_sent += 1;
            }
            if phone_sent < 5 {
                phone_sent += 1;
                phone
                    .send_to(
                        &plain_rtp(8, phone_sent, &[phone_sent as u8; 160]),
                        relay_addr,
                    )
                    .expect("send");
            }
        }
        if leg.poll_timeout().is_some_and(|t| t <= now) {
            leg.handle_timeout(now);
        }
        if browser.timeout.is_some_and(|t| t <= now) {
            browser.handle_timeout(now);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(leg.is_connected(), "connected over loopback");
    assert!(!leaked, "plaintext payload seen on the wire");
    assert!(
        phone_got.len() >= 5,
        "phone got {} packets",
        phone_got.len()
    );
    for pkt in &phone_got[..5] {
        let rtp = RtpPacket::parse(pkt).expect("plain RTP at the phone");
        assert_eq!(
            (rtp.payload_type(), rtp.payload()),
            (PayloadType(0), &marker[..])
        );
    }
    let got: Vec<(u8, u8)> = browser
        .received
        .iter()
        .map(|(pt, _, p)| (*pt, p[0]))
        .collect();
    assert_eq!(got[..5], [(8, 1), (8, 2), (8, 3), (8, 4), (8, 5)]);
}
