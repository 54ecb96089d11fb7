//! Via (RFC 3261 §20.42) and CSeq (§20.16) views.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::uri::{check_params, find_param, parse_host_port, parse_params, set_param};
use super::{
    find_byte, find_ws, is_token, split_once_byte, trim, HeaderName, Method, Param, ParseError,
};
use crate::peer::Transport;

/// One via-parm: `SIP/2.0/UDP host:port;branch=z9hG4bK...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// Transport of the hop.
    pub transport: Transport,
    /// sent-by host (IPv6 with brackets).
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// Via parameters (`branch`, `received`, `rport`, ...).
    pub params: Vec<Param>,
}

impl Via {
    /// A Via with a branch parameter.
    pub fn new(
        transport: Transport,
        host: impl Into<String>,
        port: Option<u16>,
        branch: &str,
    ) -> Self {
        Self {
            transport,
            host: host.into(),
            port,
            params: vec![Param {
                name: "branch".into(),
                value: Some(branch.into()),
            }],
        }
    }

    /// Parses one via-parm; LWS is allowed around `/`, `:` and `;`
    /// (RFC 3261 §25.1 `via-parm`, `sent-protocol`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::parse_inner(s).ok_or(ParseError::bad_header(HeaderName::Via))
    }

    /// Whether `s` is a well-formed via-parm of any transport, including
    /// ones this stack cannot send over (`SCTP`, `DTLS-SCTP`, other-transport
    /// tokens): Vias below the top are only carried back, never used.
    pub(crate) fn is_well_formed(s: &str) -> bool {
        Self::check(s, true)
    }

    fn parse_inner(s: &str) -> Option<Self> {
        let (transport, sent_by, params) = via_parts(s, false)?;
        let (host, port) = host_port_of(sent_by)?;
        let params = parse_params(params, true).ok()?;
        Some(Self {
            transport,
            host: host.into_owned(),
            port,
            params,
        })
    }

    /// Checks a via-parm like [`Via::is_well_formed`] (`any_transport`) or
    /// [`Via::parse`] without building it.
    pub(crate) fn check(s: &str, any_transport: bool) -> bool {
        via_parts(s, any_transport).is_some_and(|(_, sent_by, params)| {
            host_port_of(sent_by).is_some() && check_params(params, true).is_ok()
        })
    }

    /// A parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// Sets (or adds) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        set_param(&mut self.params, name, value);
    }

    /// The sent-by port, or the transport's default (RFC 3261 §18.2.2).
    pub fn sent_by_port(&self) -> u16 {
        self.port.unwrap_or(self.transport.default_port())
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            f.write_char(';')?;
            fmt::Display::fmt(p, f)?;
        }
        Ok(())
    }
}

impl FromStr for Via {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `sent-protocol`, sent-by and the parameter text of a via-parm.
fn via_parts(s: &str, any_transport: bool) -> Option<(Transport, &str, &str)> {
    let (name, rest) = split_once_byte(s, b'/')?;
    let (version, rest) = split_once_byte(rest, b'/')?;
    if !trim(name).eq_ignore_ascii_case("SIP") || trim(version) != "2.0" {
        return None;
    }
    let rest = trim(rest);
    let t_end = find_ws(rest)?;
    let token = &rest[..t_end];
    let transport = match Transport::from_str(token) {
        Ok(t) => t,
        // Only a syntax check: the transport is not kept.
        Err(_) if any_transport && is_token(token.as_bytes()) => Transport::Udp,
        Err(_) => return None,
    };
    let rest = trim(&rest[t_end..]);
    let (sent_by, params) = match find_byte(rest, b';') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    Some((transport, trim(sent_by), params))
}

/// Host and port of a sent-by; whitespace around ':' is legal (RFC 3261
/// §25.1 HCOLON-like LWS) and is removed, the only case that copies.
fn host_port_of(sent_by: &str) -> Option<(Cow<'_, str>, Option<u16>)> {
    if sent_by.contains(char::is_whitespace) {
        let compact: String = sent_by.chars().filter(|c| !c.is_whitespace()).collect();
        let (h, p) = parse_host_port(&compact)?;
        Some((Cow::Owned(h.to_owned()), p))
    } else {
        let (h, p) = parse_host_port(sent_by)?;
        Some((Cow::Borrowed(h), p))
    }
}

/// CSeq: sequence number and method (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// Sequence number (< 2**31 when generated, RFC 3261 §8.1.1.5; any u32 accepted).
    pub seq: u32,
    /// Method of the request.
    pub method: Method,
}

impl CSeq {
    /// Parses `1 INVITE`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError::bad_header(HeaderName::CSeq);
        let s = trim(s);
        let i = find_ws(s).ok_or_else(err)?;
        let num = &s[..i];
        if num.is_empty() || num.len() > 10 || !num.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let seq = num.parse().map_err(|_| err())?;
        let method = Method::from_str(trim(&s[i..])).map_err(|_| err())?;
        Ok(Self { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl FromStr for CSeq {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
