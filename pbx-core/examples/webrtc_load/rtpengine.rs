//! A minimal client of rtpengine's ng control protocol (bencode over UDP,
//! `cookie d7:command5:offer...e`), enough for offer / answer / delete of
//! plain RTP calls.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub(crate) struct Ng {
    sock: UdpSocket,
    to: SocketAddr,
    cookie: u64,
}

fn bstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(format!("{}:", s.len()).as_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The value of string key `key` of a flat bencoded dictionary.
fn find(reply: &[u8], key: &str) -> Option<String> {
    let mut i = reply.iter().position(|b| *b == b'd')? + 1;
    let read = |i: &mut usize| -> Option<String> {
        let colon = *i + reply[*i..].iter().position(|b| *b == b':')?;
        let len: usize = std::str::from_utf8(&reply[*i..colon]).ok()?.parse().ok()?;
        let s = String::from_utf8_lossy(reply.get(colon + 1..colon + 1 + len)?).into_owned();
        *i = colon + 1 + len;
        Some(s)
    };
    while i < reply.len() && reply[i] != b'e' {
        let k = read(&mut i)?;
        if reply.get(i).is_some_and(u8::is_ascii_digit) {
            let v = read(&mut i)?;
            if k == key {
                return Some(v);
            }
        } else {
            return None; // lists and dictionaries: not needed here
        }
    }
    None
}

impl Ng {
    pub(crate) fn new(to: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        Self {
            sock,
            to,
            cookie: 0,
        }
    }

    fn command(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<u8>, String> {
        self.cookie += 1;
        let cookie = format!("c{}", self.cookie);
        let mut msg = format!("{cookie} d").into_bytes();
        for (k, v) in pairs {
            bstr(&mut msg, k);
            bstr(&mut msg, v);
        }
        msg.push(b'e');
        self.sock
            .send_to(&msg, self.to)
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 65536];
        let n = self
            .sock
            .recv(&mut buf)
            .map_err(|e| format!("rtpengine: {e}"))?;
        buf.truncate(n);
        let body = buf[cookie.len() + 1..].to_vec();
        match find(&body, "result").as_deref() {
            Some("ok") | Some("pong") => Ok(body),
            other => Err(format!(
                "rtpengine said {other:?}: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }

    pub(crate) fn ping(&mut self) -> Result<(), String> {
        self.command(&[("command", "ping")]).map(drop)
    }

    /// Offer `sdp` of call `id`; the SDP for the callee.
    pub(crate) fn offer(&mut self, id: &str, sdp: &str) -> Result<String, String> {
        let r = self.command(&[
            ("command", "offer"),
            ("call-id", id),
            ("from-tag", "a"),
            ("sdp", sdp),
        ])?;
        find(&r, "sdp").ok_or_else(|| "no sdp in the offer reply".into())
    }

    /// The callee's answer `sdp`; the SDP for the caller.
    pub(crate) fn answer(&mut self, id: &str, sdp: &str) -> Result<String, String> {
        let r = self.command(&[
            ("command", "answer"),
            ("call-id", id),
            ("from-tag", "a"),
            ("to-tag", "b"),
            ("sdp", sdp),
        ])?;
        find(&r, "sdp").ok_or_else(|| "no sdp in the answer reply".into())
    }

    pub(crate) fn delete(&mut self, id: &str) {
        let _ = self.command(&[("command", "delete"), ("call-id", id), ("from-tag", "a")]);
    }
}
