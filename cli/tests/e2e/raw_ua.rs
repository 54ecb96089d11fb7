//! A tiny raw SIP-over-UDP user agent for single crafted messages, and the
//! minimal message view the assertions use.

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::harness::password;

/// A received SIP message, parsed just enough for assertions.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    /// The first line.
    pub(crate) start: String,
    /// Headers in order (name as sent, value trimmed).
    pub(crate) headers: Vec<(String, String)>,
    /// Everything.
    pub(crate) raw: String,
}

impl Msg {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let head = raw.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(Self {
            start,
            headers,
            raw: raw.to_owned(),
        })
    }

    /// The status code of a response (0 for a request).
    pub(crate) fn status(&self) -> u16 {
        self.start
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The reason phrase of a response.
    pub(crate) fn reason(&self) -> &str {
        self.start.splitn(3, ' ').nth(2).unwrap_or("")
    }

    /// All values of a header (case-insensitive name).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }
}

/// Digest algorithm of a raw REGISTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
}

impl Alg {
    fn token(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    pub(crate) fn h(self, s: &str) -> String {
        match self {
            Self::Md5 => hex::encode(Md5::digest(s.as_bytes())),
            Self::Sha256 => hex::encode(Sha256::digest(s.as_bytes())),
        }
    }
}

/// One parameter of a `Digest a="b", c=d` challenge.
pub(crate) fn challenge_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let rest = challenge.trim_start().strip_prefix("Digest")?;
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"'))
    })
}

/// The outcome of [`RawUa::register`].
#[derive(Debug)]
pub(crate) struct RegisterOutcome {
    /// The 401 to the first, credential-less REGISTER.
    pub(crate) challenge: Msg,
    /// The final answer to the REGISTER with credentials (None: no answer).
    pub(crate) answer: Option<Msg>,
}

static RAW_SEQ: AtomicU64 = AtomicU64::new(0);

/// A minimal SIP UA over one UDP socket on 127.0.0.1.
pub(crate) struct RawUa {
    /// The socket.
    pub(crate) sock: UdpSocket,
}

impl Default for RawUa {
    fn default() -> Self {
        Self::new()
    }
}

impl RawUa {
    /// A UA on a fresh ephemeral port.
    pub(crate) fn new() -> Self {
        Self {
            sock: UdpSocket::bind("127.0.0.1:0").expect("bind raw UA socket"),
        }
    }

    /// The local address.
    pub(crate) fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("local addr")
    }

    /// A fresh identifier (branch suffix, Call-ID, tag).
    pub(crate) fn unique(&self) -> String {
        format!(
            "{}-{}-{}",
            std::process::id(),
            self.local().port(),
            RAW_SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A Via of this UA with a fresh branch.
    pub(crate) fn via(&self) -> String {
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK-{};rport",
            self.local(),
            self.unique()
        )
    }

    /// Sends raw bytes.
    pub(crate) fn send_bytes(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).expect("send datagram");
    }

    /// Receives one datagram within `timeout` (None: nothing, or not SIP).
    /// Retries when a signal (a child exiting) interrupts the wait.
    pub(crate) fn recv(&self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        let n = loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set timeout");
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("recv: {e}"),
            }
        };
        Msg::parse(&String::from_utf8_lossy(&buf[..n]))
    }

    /// Sends `msg` and returns the first final response with its Call-ID (provisional ones are skipped).
    pub(crate) fn transact(&self, to: SocketAddr, msg: &str, timeout: Duration) -> Option<Msg> {
        let call_id = Msg::parse(msg).and_then(|m| m.header("Call-ID").map(str::to_owned));
        self.send_bytes(to, msg.as_bytes());
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let m = self.recv(left)?;
            if m.status() >= 200 && m.header("Call-ID").map(str::to_owned) == call_id {
                return Some(m);
            }
        }
    }

    /// OPTIONS to the server itself.
    pub(crate) fn options(&self, to: SocketAddr, timeout: Duration) -> Option<Msg> {
        let id = self.unique();
        let msg = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{l}>;tag={id}\r\n\
             To: <sip:{to}>\r\nCall-ID: opt-{id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            self.via(),
            l = self.local(),
        );
        self.transact(to, &msg, timeout)
    }

    /// A REGISTER for `user` with `contact`; `auth` is an extra Authorization line.
    pub(crate) fn register_msg(
        &self,
        to: SocketAddr,
        user: &str,
        contact: &str,
        call_id: &str,
        cseq: u32,
        auth: Option<&str>,
    ) -> String {
        let mut m = format!(
            "REGISTER sip:{host} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag={call_id}\r\n\
             To: <sip:{user}@{host}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\nExpires: 3600\r\n",
            self.via(),
            host = to.ip(),
        );
        if let Some(a) = auth {
            let _ = write!(m, "Authorization: {a}\r\n");
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// REGISTER → 401 → REGISTER with digest credentials (qop=auth) of `alg`.
    /// Panics if the first answer is not a 401 offering `alg`.
    pub(crate) fn register(
        &self,
        to: SocketAddr,
        user: &str,
        password: &str,
        contact: &str,
        alg: Alg,
    ) -> RegisterOutcome {
        let call_id = format!("reg-{}", self.unique());
        let t = Duration::from_secs(2);
        let first = self.register_msg(to, user, contact, &call_id, 1, None);
        let challenge = self
            .transact(to, &first, t)
            .unwrap_or_else(|| panic!("no answer to REGISTER of {user}"));
        assert_eq!(
            challenge.status(),
            401,
            "first REGISTER of {user}: {}",
            challenge.raw
        );
        let www = challenge
            .all("WWW-Authenticate")
            .into_iter()
            .find(|c| {
                challenge_param(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case(alg.token()))
            })
            .unwrap_or_else(|| panic!("no {} challenge in {}", alg.token(), challenge.raw))
            .to_owned();
        let realm = challenge_param(&www, "realm").expect("realm in challenge");
        let nonce = challenge_param(&www, "nonce").expect("nonce in challenge");
        let uri = format!("sip:{}", to.ip());
        let cnonce = format!("c{}", self.unique().replace('-', ""));
        let ha1 = alg.h(&format!("{user}:{realm}:{password}"));
        let ha2 = alg.h(&format!("REGISTER:{uri}"));
        let response = alg.h(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        let auth = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", \
             algorithm={}, qop=auth, nc=00000001, cnonce=\"{cnonce}\"",
            alg.token()
        );
        let second = self.register_msg(to, user, contact, &call_id, 2, Some(&auth));
        let answer = self.transact(to, &second, t);
        RegisterOutcome { challenge, answer }
    }

    /// [`Self::register`] with MD5, asserting a 200.
    pub(crate) fn register_ok(&self, to: SocketAddr, user: &str, contact: &str) -> Msg {
        let out = self.register(to, user, &password(user), contact, Alg::Md5);
        let answer = out
            .answer
            .unwrap_or_else(|| panic!("no answer to authenticated REGISTER of {user}"));
        assert_eq!(answer.status(), 200, "REGISTER of {user}: {}", answer.raw);
        answer
    }

    /// An out-of-dialog INVITE to `ruri` from `from`, with `extra` header lines.
    pub(crate) fn invite_msg(&self, ruri: &str, from: &str, extra: &str) -> String {
        let id = self.unique();
        format!(
            "INVITE {ruri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <{from}>;tag={id}\r\nTo: <{ruri}>\r\n\
             Call-ID: inv-{id}\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@{}>\r\n{extra}Content-Length: 0\r\n\r\n",
            self.via(),
            self.local()
        )
    }
}
