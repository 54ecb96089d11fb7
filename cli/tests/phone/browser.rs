//! A browser phone for the WebRTC tests: SIP over a real WebSocket
//! (RFC 7118, JsSIP-shaped messages) and a str0m `Rtc` as the browser's
//! media (full ICE, controlling, the DTLS client of pbx's `actpass`), on a
//! real UDP socket on 127.0.0.1. It plays a tone as PCMU or PCMA, records
//! what it hears, and can send RFC 4733 key presses.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use media::g711::{alaw_decode_sample, alaw_encode, ulaw_decode_sample, ulaw_encode};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

const HOST: &str = "df7jal23ls0d.invalid";
const WAIT: Duration = Duration::from_secs(10);

/// What the browser does to its own DTLS datagrams (failure tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtls {
    Send,
    /// Drops every outgoing DTLS record (RFC 7983: first byte 20..=63).
    Drop,
}

/// A SIP message, parsed just enough.
#[derive(Debug, Clone)]
pub(crate) struct Sip {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sip {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Self {
            start,
            headers,
            body: body.to_owned(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn status(&self) -> u16 {
        self.start
            .strip_prefix("SIP/2.0 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn method(&self) -> Option<&str> {
        (!self.start.starts_with("SIP/")).then(|| self.start.split(' ').next().unwrap_or(""))
    }

    /// A response to this request with `status`, `extra` headers and `body`.
    fn reply(&self, status: &str, to_tag: Option<&str>, extra: &str, body: &str) -> String {
        let mut r = format!("SIP/2.0 {status}\r\n");
        for v in self.all("Via") {
            r.push_str(&format!("Via: {v}\r\n"));
        }
        for h in ["From", "Call-ID", "CSeq"] {
            r.push_str(&format!("{h}: {}\r\n", self.header(h).unwrap_or_default()));
        }
        let to = self.header("To").unwrap_or_default();
        match to_tag {
            Some(tag) if !to.contains("tag=") => r.push_str(&format!("To: {to};tag={tag}\r\n")),
            _ => r.push_str(&format!("To: {to}\r\n")),
        }
        r.push_str(extra);
        if !body.is_empty() {
            r.push_str("Content-Type: application/sdp\r\n");
        }
        r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        r
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let at = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[at..];
    Some(match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"')?],
        None => rest.split([',', ' ']).next()?,
    })
}

/// The G.711 law the browser speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Law {
    Pcmu,
    Pcma,
}

/// The browser phone.
pub(crate) struct Browser {
    ws: WebSocket<TcpStream>,
    udp: UdpSocket,
    addr: SocketAddr,
    rtc: Rtc,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    user: String,
    password: String,
    cseq: u32,
    branch: u32,
    call_id: String,
    /// The dialog: remote target, the From/To of our side's requests.
    dialog: Option<(String, String, String)>,
    inbox: VecDeque<Sip>,
    pub(crate) heard: Vec<i16>,
    pub(crate) connected: bool,
    pub(crate) bye: bool,
    pub(crate) dtls: Dtls,
    law: Law,
    tone: f64,
    sample: u64,
    seq: u64,
    rtc_timeout: Option<Instant>,
    te_pt: Option<u8>,
    audio_start: Option<Instant>,
}

impl Browser {
    pub(crate) fn connect(ws: SocketAddr, user: &str, password: &str, law: Law, tone: f64) -> Self {
        let tcp = TcpStream::connect(ws).expect("TCP connect");
        let mut req = format!("ws://{ws}/")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
        let (ws, _) = tungstenite::client(req, tcp).expect("WebSocket upgrade");
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        udp.set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let addr = udp.local_addr().expect("addr");
        let now = Instant::now();
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m_rust_crypto::default_provider()))
            .set_rtp_mode(true)
            .clear_codecs()
            // G.711 only: the test decodes what it hears itself
            .enable_opus(false, false)
            .enable_pcmu(law == Law::Pcmu, false)
            .enable_pcma(law == Law::Pcma, false);
        // Chromium offers telephone-event at 48 and 8 kHz
        for (pt, rate) in [
            (110, Frequency::FORTY_EIGHT_KHZ),
            (126, Frequency::EIGHT_KHZ),
        ] {
            rtc.codec_config().add_config(
                Pt::new_with_value(pt),
                None,
                Codec::Tele,
                rate,
                None,
                FormatParams::default(),
            );
        }
        let mut rtc = rtc.build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        Self {
            ws,
            udp,
            addr,
            rtc,
            mid: None,
            pending: None,
            user: user.to_owned(),
            password: password.to_owned(),
            cseq: 0,
            branch: 0,
            call_id: format!("wrtc-{user}-{}", std::process::id()),
            dialog: None,
            inbox: VecDeque::new(),
            heard: Vec::new(),
            connected: false,
            bye: false,
            dtls: Dtls::Send,
            law,
            tone,
            sample: 0,
            seq: 7000,
            rtc_timeout: None,
            te_pt: None,
            audio_start: None,
        }
    }

    fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).expect("send frame");
    }

    fn via(&mut self) -> String {
        self.branch += 1;
        format!(
            "SIP/2.0/WS {HOST};branch=z9hG4bKwrtc{}{};rport",
            self.user, self.branch
        )
    }

    /// Reads frames for up to `wait`; every SIP message goes to the inbox
    /// (requests from pbx are answered here: BYE, OPTIONS).
    fn pump_ws(&mut self) {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let m = Sip::parse(t.as_str());
                    match m.method() {
                        Some("BYE") => {
                            self.bye = true;
                            let ok = m.reply("200 OK", None, "", "");
                            self.send(ok);
                        }
                        Some("OPTIONS") => {
                            let ok = m.reply("200 OK", None, "", "");
                            self.send(ok);
                        }
                        _ => self.inbox.push_back(m),
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return
                }
                Err(e) => panic!("WebSocket: {e}"),
            }
        }
    }

    /// The next SIP message matching `want`, running media meanwhile.
    fn wait_for(&mut self, what: &str, want: impl Fn(&Sip) -> bool) -> Sip {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.inbox.iter().position(&want) {
                return self.inbox.remove(i).expect("message");
            }
            assert!(Instant::now() < deadline, "no {what} in {WAIT:?}");
            self.tick();
        }
    }

    fn register_msg(&mut self, auth: Option<&str>) -> String {
        self.cseq += 1;
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        let (user, via, cseq) = (self.user.clone(), self.via(), self.cseq);
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 69\r\n\
             To: <sip:{user}@127.0.0.1>\r\nFrom: <sip:{user}@127.0.0.1>;tag=reg{user}\r\n\
             Call-ID: reg-{call_id}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{HOST};transport=ws>;expires=600\r\nUser-Agent: str0m-browser\r\n{auth}\r\n",
            call_id = self.call_id
        )
    }

    fn digest(&self, challenge: &str, method: &str, uri: &str) -> String {
        let realm = param(challenge, "realm").expect("realm");
        let nonce = param(challenge, "nonce").expect("nonce");
        let ha1 = md5_hex(&format!("{}:{realm}:{}", self.user, self.password));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        if challenge.contains("qop") {
            let response = md5_hex(&format!("{ha1}:{nonce}:00000001:brcnonce:auth:{ha2}"));
            format!(
                "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"brcnonce\"",
                self.user
            )
        } else {
            let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{response}\", algorithm=MD5",
                self.user
            )
        }
    }

    fn md5_challenge(m: &Sip) -> String {
        m.all("WWW-Authenticate")
            .into_iter()
            .chain(m.all("Proxy-Authenticate"))
            .find(|c| param(c, "algorithm").is_none_or(|a| a.eq_ignore_ascii_case("MD5")))
            .unwrap_or_else(|| panic!("no MD5 challenge: {m:?}"))
            .to_owned()
    }

    /// REGISTER with digest auth over the WebSocket.
    pub(crate) fn register(&mut self) {
        let first = self.register_msg(None);
        self.send(first);
        let c = self.wait_for("401 to REGISTER", |m| m.status() >= 200);
        assert_eq!(c.status(), 401, "{c:?}");
        let auth = self.digest(&Self::md5_challenge(&c), "REGISTER", "sip:127.0.0.1");
        let second = self.register_msg(Some(&auth));
        self.send(second);
        let ok = self.wait_for("200 to REGISTER", |m| m.status() >= 200);
        assert_eq!(ok.status(), 200, "{ok:?}");
    }

    fn invite_msg(&mut self, target: &str, sdp: &str, auth: Option<(&str, String)>) -> String {
        self.cseq += 1;
        let auth = auth.map_or(String::new(), |(h, a)| format!("{h}: {a}\r\n"));
        let (user, via, cseq) = (self.user.clone(), self.via(), self.cseq);
        format!(
            "INVITE {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 69\r\n\
             To: <{target}>\r\nFrom: <sip:{user}@127.0.0.1>;tag=br{user}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <sip:{user}@{HOST};transport=ws;ob>\r\n{auth}\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            call_id = self.call_id,
            len = sdp.len()
        )
    }

    fn ack_for(&mut self, resp: &Sip, target: &str) -> String {
        let via = self.via();
        format!(
            "ACK {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 69\r\nTo: {}\r\nFrom: {}\r\n\
             Call-ID: {}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
            resp.header("To").unwrap_or_default(),
            resp.header("From").unwrap_or_default(),
            self.call_id,
            self.cseq
        )
    }

    /// Calls `number`; `edit` changes the offer (a wrong fingerprint).
    /// Returns the final status (200: answered, media starts).
    pub(crate) fn call(&mut self, number: &str, edit: impl Fn(String) -> String) -> u16 {
        let now = Instant::now();
        let mut api = self.rtc.sdp_api();
        self.mid = Some(api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
        let (offer, pending) = api.apply().expect("an offer");
        self.pending = Some(pending);
        self.drain(now);
        let offer = edit(offer.to_sdp_string());
        let target = format!("sip:{number}@127.0.0.1");
        let invite = self.invite_msg(&target, &offer, None);
        self.send(invite);
        let mut resp = self.wait_for("final answer to INVITE", |m| m.status() >= 200);
        if matches!(resp.status(), 401 | 407) {
            let ack = self.ack_for(&resp, &target);
            self.send(ack);
            let header = if resp.status() == 401 {
                "Authorization"
            } else {
                "Proxy-Authorization"
            };
            let auth = self.digest(&Self::md5_challenge(&resp), "INVITE", &target);
            let invite = self.invite_msg(&target, &offer, Some((header, auth)));
            self.send(invite);
            resp = self.wait_for("final answer to INVITE", |m| m.status() >= 200);
        }
        let status = resp.status();
        let remote = resp
            .header("Contact")
            .and_then(|c| Some(c[c.find('<')? + 1..c.find('>')?].to_owned()))
            .unwrap_or_else(|| target.clone());
        let ack = self.ack_for(&resp, &remote);
        self.send(ack);
        if status == 200 {
            let answer = SdpAnswer::from_sdp_string(&resp.body).expect("answer parses");
            let pending = self.pending.take().expect("offer pending");
            self.rtc
                .sdp_api()
                .accept_answer(pending, answer)
                .expect("answer accepted");
            self.te_pt = te_pt(&resp.body);
            self.dialog = Some((
                remote,
                resp.header("From").unwrap_or_default().to_owned(),
                resp.header("To").unwrap_or_default().to_owned(),
            ));
            self.drain(Instant::now());
        }
        status
    }

    /// Waits for an INVITE and answers it (200 with the browser's answer).
    /// Returns pbx's offer.
    pub(crate) fn answer(&mut self) -> String {
        let invite = self.wait_for("INVITE", |m| m.method() == Some("INVITE"));
        let trying = invite.reply("180 Ringing", Some("brans"), "", "");
        self.send(trying);
        let offer = SdpOffer::from_sdp_string(&invite.body).expect("pbx's offer parses");
        let answer = self.rtc.sdp_api().accept_offer(offer).expect("accepted");
        self.drain(Instant::now());
        let answer = answer.to_sdp_string();
        self.te_pt = te_pt(&answer);
        let contact = format!("Contact: <sip:{}@{HOST};transport=ws>\r\n", self.user);
        let ok = invite.reply("200 OK", Some("brans"), &contact, &answer);
        self.send(ok);
        self.call_id = invite.header("Call-ID").unwrap_or_default().to_owned();
        let remote = invite
            .header("Contact")
            .and_then(|c| Some(c[c.find('<')? + 1..c.find('>')?].to_owned()))
            .unwrap_or_default();
        let to = format!("{};tag=brans", invite.header("To").unwrap_or_default());
        self.dialog = Some((
            remote,
            to,
            invite.header("From").unwrap_or_default().to_owned(),
        ));
        self.cseq = 100;
        self.wait_for("ACK", |m| m.method() == Some("ACK"));
        invite.body
    }

    /// Sends BYE in the dialog and waits for its 200.
    pub(crate) fn hangup(&mut self) {
        let (target, from, to) = self.dialog.clone().expect("a dialog");
        self.cseq += 1;
        let via = self.via();
        let bye = format!(
            "BYE {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 69\r\nTo: {to}\r\nFrom: {from}\r\n\
             Call-ID: {}\r\nCSeq: {} BYE\r\nContent-Length: 0\r\n\r\n",
            self.call_id, self.cseq
        );
        self.send(bye);
        let ok = self.wait_for("200 to BYE", |m| m.status() >= 200);
        assert_eq!(ok.status(), 200, "{ok:?}");
    }

    /// Runs media for `dur` or until pbx sends BYE.
    pub(crate) fn run(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        while Instant::now() < end && !self.bye {
            self.tick();
        }
    }

    /// Sends key `event` (RFC 4733: 0-9, 10 = *, 11 = #) as telephone-event.
    pub(crate) fn press(&mut self, event: u8) {
        let (Some(mid), Some(pt)) = (self.mid, self.te_pt) else {
            panic!("no telephone-event negotiated");
        };
        let ts = (self.sample * 8000 / 8000) as u32;
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let payload = [
                event,
                if end { 0x80 | 10 } else { 10 },
                (duration >> 8) as u8,
                duration as u8,
            ];
            self.seq += 1;
            let now = Instant::now();
            let mut api = self.rtc.direct_api();
            if let Some(tx) = api.stream_tx_by_mid(mid, None) {
                tx.write_rtp(RtpWrite::new(
                    Pt::from(pt),
                    SeqNo::from(self.seq),
                    ts,
                    now,
                    &payload[..],
                ));
            }
            self.rtc.handle_input(Input::Timeout(now)).expect("timeout");
            self.drain(now);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.run(Duration::from_millis(200));
    }

    /// One turn: WebSocket frames, datagrams, the 20 ms audio clock.
    fn tick(&mut self) {
        self.pump_ws();
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.udp.recv_from(&mut buf) {
            let now = Instant::now();
            if let Ok(contents) = DatagramRecv::try_from(&buf[..n]) {
                let input = Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source: from,
                        destination: self.addr,
                        contents,
                    },
                );
                let _ = self.rtc.handle_input(input);
                self.drain(now);
            }
        }
        let now = Instant::now();
        if self.rtc_timeout.is_some_and(|t| t <= now) {
            let _ = self.rtc.handle_input(Input::Timeout(now));
            self.drain(now);
        }
        self.audio(now);
    }

    /// 20 ms of tone per 20 ms of wall clock once connected.
    fn audio(&mut self, now: Instant) {
        let (true, Some(mid)) = (self.connected, self.mid) else {
            return;
        };
        let started = *self.audio_start.get_or_insert(now);
        let due = now.duration_since(started).as_millis() as u64 * 8;
        while self.sample + 160 <= due {
            let mut payload = [0u8; 160];
            for (i, p) in payload.iter_mut().enumerate() {
                let t = (self.sample + i as u64) as f64 / 8000.0;
                let s = (8000.0 * (2.0 * std::f64::consts::PI * self.tone * t).sin()) as i16;
                *p = match self.law {
                    Law::Pcmu => ulaw_encode(s),
                    Law::Pcma => alaw_encode(s),
                };
            }
            let pt = if self.law == Law::Pcmu { 0 } else { 8 };
            self.seq += 1;
            let ts = self.sample as u32;
            self.sample += 160;
            let mut api = self.rtc.direct_api();
            if let Some(tx) = api.stream_tx_by_mid(mid, None) {
                tx.write_rtp(RtpWrite::new(
                    Pt::from(pt),
                    SeqNo::from(self.seq),
                    ts,
                    now,
                    &payload[..],
                ));
            }
            let _ = self.rtc.handle_input(Input::Timeout(now));
            self.drain(now);
        }
    }

    fn drain(&mut self, _now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = Some(t);
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let dtls = matches!(t.contents.first(), Some(20..=63));
                    if !(dtls && self.dtls == Dtls::Drop) {
                        let _ = self.udp.send_to(&t.contents, t.destination);
                    }
                }
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::MediaAdded(m))) if self.mid.is_none() => {
                    self.mid = Some(m.mid)
                }
                Ok(Output::Event(Event::RtpPacket(p))) => {
                    let decode = match *p.header.payload_type {
                        0 => ulaw_decode_sample,
                        8 => alaw_decode_sample,
                        _ => continue,
                    };
                    self.heard.extend(p.payload.iter().map(|b| decode(*b)));
                }
                Ok(Output::Event(_)) => {}
                Err(e) => panic!("browser rtc: {e}"),
            }
        }
    }
}

/// The telephone-event payload type at 8 kHz of an SDP.
fn te_pt(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=rtpmap:")?;
        let (pt, enc) = rest.split_once(' ')?;
        enc.eq_ignore_ascii_case("telephone-event/8000")
            .then(|| pt.parse().ok())
            .flatten()
    })
}
