//! Zero-copy view of the top Via's matching fields (branch and sent-by),
//! read on every message the layer matches.
//!
//! [`crate::message::Via`] owns its host and parameters, which costs a few
//! allocations per message; matching only needs three borrowed fields. The
//! fast path here handles the usual shape (`SIP/2.0/UDP host:port;params`
//! without quoted parameter values or inner whitespace) and gives up on
//! anything else, in which case the caller falls back to the full parser, so
//! odd but valid Vias still match (RFC 3261 §25.1).

use std::str::FromStr;

use crate::message::{HeaderName, Headers, Via};
use crate::peer::Transport;

/// The fields of the top Via that transaction matching uses (§17.1.3, §17.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopVia<'a> {
    /// The branch parameter, empty when absent (RFC 2543 peers).
    pub(crate) branch: &'a str,
    /// The sent-by host (IPv6 references keep their brackets).
    pub(crate) host: &'a str,
    /// The sent-by port, or the transport's default.
    pub(crate) port: u16,
}

impl<'a> From<&'a Via> for TopVia<'a> {
    fn from(via: &'a Via) -> Self {
        Self {
            branch: via.branch().unwrap_or(""),
            host: &via.host,
            port: via.sent_by_port(),
        }
    }
}

/// The top Via of `headers` if it has the usual shape; `None` means "ask the
/// full parser" (which also reports a missing or malformed Via).
pub(crate) fn fast_top_via(headers: &Headers) -> Option<TopVia<'_>> {
    let (_, raw) = headers.values(&HeaderName::Via).next()?;
    let s = std::str::from_utf8(raw).ok()?;
    let prefix = s.get(..8)?;
    if !prefix.eq_ignore_ascii_case("SIP/2.0/") {
        return None;
    }
    let rest = &s[8..];
    let t_end = rest.find([' ', '\t'])?;
    let transport = Transport::from_str(&rest[..t_end]).ok()?;
    let rest = rest[t_end..].trim_start_matches([' ', '\t']);
    let (sent_by, params) = rest.split_once(';').unwrap_or((rest, ""));
    let sent_by = sent_by.trim_end_matches([' ', '\t']);
    if sent_by.is_empty() || sent_by.contains([' ', '\t', '"']) || params.contains('"') {
        return None;
    }
    let (host, port) = split_host_port(sent_by)?;
    let mut branch = "";
    for param in params.split(';') {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name
            .trim_matches([' ', '\t'])
            .eq_ignore_ascii_case("branch")
        {
            branch = value.trim_matches([' ', '\t']);
            break;
        }
    }
    let port = port.unwrap_or(transport.default_port());
    Some(TopVia { branch, host, port })
}

fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']')?;
        let (h, rest) = s.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Header;

    fn headers(via: &'static str) -> Headers {
        let mut h = Headers::new();
        h.push(Header::new(HeaderName::Via, via));
        h
    }

    /// The fast path agrees with the full parser wherever it answers.
    fn agrees(via: &'static str) -> bool {
        let h = headers(via);
        let full = h.vias().next().and_then(Result::ok);
        match (fast_top_via(&h), &full) {
            (Some(fast), Some(full)) => {
                assert_eq!(fast, TopVia::from(full), "{via}");
                true
            }
            (Some(fast), None) => {
                panic!("fast path accepted what the parser rejects: {via} -> {fast:?}")
            }
            (None, _) => false,
        }
    }

    #[test]
    fn usual_shapes_take_the_fast_path() {
        for via in [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport",
            "SIP/2.0/TCP pc33.example.com;branch=z9hG4bKa",
            "SIP/2.0/TLS [2001:db8::1]:5061;received=192.0.2.9;branch=z9hG4bKb",
            "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKc",
            "sip/2.0/udp host.example.com:5080;BRANCH=z9hG4bKd",
            "SIP/2.0/UDP host.example.com:5060",
            "SIP/2.0/UDP host.example.com:5060 ; branch = z9hG4bKe",
            "SIP/2.0/UDP a.example.com;branch=z9hG4bKf, SIP/2.0/UDP b.example.com;branch=z9hG4bKg",
        ] {
            assert!(agrees(via), "{via} should take the fast path");
        }
    }

    #[test]
    fn unusual_shapes_fall_back() {
        for via in [
            "SIP / 2.0 / UDP host.example.com;branch=z9hG4bKa",
            "SIP/2.0/UDP host.example.com : 5060;branch=z9hG4bKa",
            "SIP/2.0/UDP host.example.com;branch=z9hG4bKa;x=\"a;b\"",
            "SIP/2.0/UDP host.example.com:99999;branch=z9hG4bKa",
            "SIP/2.0/FOO host.example.com;branch=z9hG4bKa",
            "garbage",
            "",
        ] {
            assert!(!agrees(via), "{via} should fall back");
        }
    }
}
