//! User agents in virtual time: two (or more) [`UserAgent`]s and an
//! optional digest-checking proxy wired through a fake network, no sockets.

mod b2b;
mod calls;
mod prack;
mod register;
mod session_timer;
mod transfer;
mod update;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::auth::digest::{self, DigestAlgorithm};
use crate::message::{AuthParams, Header, HeaderName, Response, SipMessage};

pub(super) const PASSWORD: &str = "secret";

pub(super) fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 5060))
}

pub(super) const PROXY: u8 = 100;

/// A stateless stand-in for pbx: challenges REGISTER (401) and INVITE
/// (407) without valid credentials, answers REGISTER itself and forwards
/// everything else to the node named by the Request-URI's host.
#[derive(Debug, Default)]
pub(super) struct Proxy {
    pub(super) challenges: usize,
    pub(super) registers: usize,
    /// Answer every REGISTER with this instead.
    pub(super) register_status: Option<u16>,
    pub(super) nonce: u32,
    /// Where a NAT in front of the UAs makes REGISTERs come from: written
    /// as `received`/`rport` into the REGISTER responses' Via.
    pub(super) public: Option<SocketAddr>,
}

/// A message in flight.
struct Packet {
    from: SocketAddr,
    to: SocketAddr,
    data: Bytes,
}

pub(super) struct Net {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) uas: Vec<UserAgent>,
    pub(super) proxy: Proxy,
    queue: VecDeque<Packet>,
    /// Every event so far, by UA index.
    pub(super) events: Vec<(usize, UaEvent)>,
    /// Every delivered message as text, for assertions.
    pub(super) log: Vec<(SocketAddr, SocketAddr, String)>,
    /// Returns true to drop a message.
    pub(super) drop: Box<dyn FnMut(&str) -> bool>,
}

pub(super) fn config(n: u8, outbound: u8) -> UaConfig {
    let aor = Uri::parse(&format!("sip:u{n}@example.com")).expect("aor");
    let mut c = UaConfig::new(aor, addr(n));
    c.outbound_proxy = Some(addr(outbound));
    c.seed = u64::from(n);
    c.credentials = Some(Credentials {
        username: format!("u{n}"),
        password: PASSWORD.into(),
    });
    c.register_expires = 60;
    c
}

impl Net {
    pub(super) fn new(configs: Vec<UaConfig>) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            uas: configs.into_iter().map(UserAgent::new).collect(),
            proxy: Proxy::default(),
            queue: VecDeque::new(),
            events: Vec::new(),
            log: Vec::new(),
            drop: Box::new(|_| false),
        }
    }

    /// Two UAs calling each other directly (each other's outbound proxy).
    pub(super) fn pair() -> Self {
        Self::new(vec![config(1, 2), config(2, 1)])
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn collect(&mut self) {
        for (i, ua) in self.uas.iter_mut().enumerate() {
            let from = ua.config().local_addr;
            while let Some(out) = ua.poll_output() {
                match out {
                    Output::Transmit { peer, data } => self.queue.push_back(Packet {
                        from,
                        to: peer.addr,
                        data,
                    }),
                    Output::Event(ev) => self.events.push((i, ev)),
                }
            }
        }
    }

    fn deliver(&mut self, p: Packet) {
        let text = String::from_utf8_lossy(&p.data).into_owned();
        if (self.drop)(&text) {
            return;
        }
        self.log.push((p.from, p.to, text));
        let Ok(msg) = SipMessage::parse(p.data) else {
            return;
        };
        if p.to == addr(PROXY) {
            self.proxy_handle(msg, p.from);
            return;
        }
        let now = self.now;
        if let Some(ua) = self.uas.iter_mut().find(|u| u.config().local_addr == p.to) {
            ua.handle_message(now, msg, crate::Peer::udp(p.from));
        }
    }

    /// Delivers everything in flight (zero latency), then advances the
    /// clock to the next deadline, until `until` after start.
    pub(super) fn run(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            self.collect();
            if let Some(p) = self.queue.pop_front() {
                self.deliver(p);
                continue;
            }
            let next = self.uas.iter().filter_map(UserAgent::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for ua in &mut self.uas {
                        if ua.poll_timeout().is_some_and(|d| d <= now) {
                            ua.handle_timeout(now);
                        }
                    }
                }
                _ => {
                    self.now = self.now.max(end);
                    return;
                }
            }
        }
    }

    /// Runs `d` more.
    pub(super) fn advance(&mut self, d: Duration) {
        let target = self.elapsed() + d;
        self.run(target);
    }

    /// Events of UA `i`.
    pub(super) fn events_of(&self, i: usize) -> Vec<UaEvent> {
        self.events
            .iter()
            .filter(|(n, _)| *n == i)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The first IncomingCall session of UA `i`.
    pub(super) fn incoming(&self, i: usize) -> SessionId {
        self.events_of(i)
            .into_iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { session, .. } => Some(session),
                _ => None,
            })
            .expect("an incoming call")
    }

    /// How many delivered messages start with `prefix` (e.g. "SIP/2.0 200").
    pub(super) fn count(&self, prefix: &str) -> usize {
        self.log
            .iter()
            .filter(|(_, _, t)| t.starts_with(prefix))
            .count()
    }

    fn proxy_handle(&mut self, msg: SipMessage, from: SocketAddr) {
        let SipMessage::Request(req) = msg else {
            return;
        };
        let (challenge, answer, code) = match req.method {
            Method::Register => (HeaderName::WwwAuthenticate, HeaderName::Authorization, 401),
            Method::Invite => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
                407,
            ),
            Method::Ack if req.to().ok().is_none_or(|t| t.tag().is_none()) => return,
            _ => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
                0,
            ),
        };
        if req.method == Method::Register {
            self.proxy.registers += 1;
        }
        let nonce = format!("nonce{}", self.proxy.nonce);
        let authorized = code == 0
            || req
                .headers
                .get_str(&answer)
                .and_then(|v| AuthParams::parse(v).ok())
                .is_some_and(|creds| check(&creds, req.method.as_str(), &nonce));
        let reply = |status: u16| {
            let mut r = Response::for_request(&req, StatusCode(status), Some("px"));
            if status == 401 || status == 407 {
                r.headers.push(Header::new(
                    challenge.clone(),
                    format!("Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"),
                ));
            }
            r
        };
        let public = self.proxy.public.filter(|_| req.method == Method::Register);
        let nat = |mut r: Response| {
            if let (Some(public), Ok(mut via)) = (public, r.top_via()) {
                via.set_param("received", Some(public.ip().to_string()));
                via.set_param("rport", Some(public.port().to_string()));
                r.headers.set(Header::new(HeaderName::Via, via.to_string()));
            }
            r
        };
        let resp = if !authorized {
            self.proxy.challenges += 1;
            Some(reply(code))
        } else if req.method == Method::Register {
            let status = self.proxy.register_status.unwrap_or(200);
            let mut r = reply(status);
            for c in req.headers.get_all(&HeaderName::Contact) {
                r.headers.push(c.clone());
            }
            Some(r)
        } else {
            None
        };
        match resp {
            Some(r) => self.queue.push_back(Packet {
                from: addr(PROXY),
                to: from,
                data: nat(r).to_bytes(),
            }),
            None => {
                // Forward by Request-URI host (u2@example.com → 10.0.0.2).
                let n: u8 = req
                    .uri
                    .user
                    .as_deref()
                    .and_then(|u| u.trim_start_matches('u').parse().ok())
                    .unwrap_or(0);
                self.queue.push_back(Packet {
                    from,
                    to: addr(n),
                    data: req.to_bytes(),
                });
            }
        }
    }
}

/// Verifies digest credentials as a server would (RFC 7616 §3.4.1).
fn check(creds: &AuthParams, method: &str, nonce: &str) -> bool {
    let (Some(user), Some(uri), Some(resp)) = (
        creds.get("username"),
        creds.get("uri"),
        creds.get("response"),
    ) else {
        return false;
    };
    if creds.get("nonce") != Some(nonce) {
        return false;
    }
    let ha1 = digest::ha1(DigestAlgorithm::Md5, user, "example.com", PASSWORD);
    let expected = digest::response(
        DigestAlgorithm::Md5,
        &ha1,
        &digest::ResponseInput {
            method,
            uri,
            nonce,
            qop_auth: creds.get("nc").zip(creds.get("cnonce")),
        },
    );
    digest::ct_eq(&expected, resp)
}

pub(super) fn sdp(dir: &str) -> Body {
    Body::sdp(format!("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na={dir}\r\n"))
}
