//! SDP (RFC 4566/8866) session descriptions: owned types, a parser with
//! line-precise errors ([`parse`]), printing (`Display`, CRLF line ends) and
//! RFC 3264 offer/answer ([`negotiate`]).
//!
//! SDP is handled once per offer/answer, not per packet, so these types own
//! their strings.

use std::fmt;
use std::net::IpAddr;

pub mod negotiate;
pub mod parse;
pub mod webrtc;

pub use negotiate::{Codec, LocalMedia, Negotiated, NegotiationError};
pub use parse::{SdpError, SdpErrorKind};

/// Origin line `o=` (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` when none).
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version; must grow with every changed offer (RFC 3264 §8).
    pub session_version: u64,
    /// Unicast address of the originator.
    pub address: IpAddr,
}

/// Connection line `c=` (RFC 4566 §5.7); multicast TTL suffixes are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// Address; `0.0.0.0` is RFC 2543-style hold.
    pub address: IpAddr,
}

/// Media direction (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Send and receive (the default).
    #[default]
    SendRecv,
    /// Send only (the offerer puts the peer on hold).
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
    fn from_attr(s: &str) -> Option<Self> {
        Some(match s {
            "sendrecv" => Self::SendRecv,
            "sendonly" => Self::SendOnly,
            "recvonly" => Self::RecvOnly,
            "inactive" => Self::Inactive,
            _ => return None,
        })
    }
    /// Whether this side sends.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }
    /// Whether this side receives.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
    /// Builds from send/receive flags.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }
    /// The direction seen from the other side (sendonly <-> recvonly).
    pub fn reverse(self) -> Self {
        Self::from_flags(self.receives(), self.sends())
    }
}

/// An `a=` line (RFC 4566 §5.13): property (`value == None`) or value attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Name before the colon.
    pub name: String,
    /// Value after the colon.
    pub value: Option<String>,
}

impl Attribute {
    /// Property attribute (`a=name`).
    pub fn flag(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: None,
        }
    }
    /// Value attribute (`a=name:value`).
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

/// `a=rtpmap` (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels (audio), 1 when absent.
    pub channels: u8,
}

/// One `m=` section (RFC 4566 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, ...).
    pub media: String,
    /// Transport port; 0 rejects/disables the stream (RFC 3264 §5.1).
    pub port: u16,
    /// Number of ports (`/2`), if given.
    pub port_count: Option<u16>,
    /// Transport protocol (`RTP/AVP`, ...).
    pub protocol: String,
    /// Format list (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// Media-level connection.
    pub connection: Option<Connection>,
    /// `b=` lines, raw.
    pub bandwidths: Vec<String>,
    /// Attributes in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// First value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_deref())
    }
    /// Whether property attribute `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name == name)
    }
    /// Direction attribute at media level, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.name))
    }
    /// All well-formed `a=rtpmap` entries.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'_>> {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| parse::rtpmap(a.value.as_deref()?))
    }
    /// `a=fmtp` parameters for payload type `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name == "fmtp")
            .find_map(|a| {
                let v = a.value.as_deref()?;
                let (p, rest) = v.split_once(' ')?;
                (p.parse::<u8>().ok()? == pt).then_some(rest.trim())
            })
    }
    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime")?.trim().parse().ok()
    }
    /// `a=rtcp` port (RFC 3605), if present.
    pub fn rtcp_port(&self) -> Option<u16> {
        self.attribute("rtcp")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
    /// Whether `a=rtcp-mux` (RFC 5761 §5.1.1) is present.
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }
    /// Replaces (or adds) the direction attribute.
    pub fn set_direction(&mut self, d: Direction) {
        self.attributes
            .retain(|a| Direction::from_attr(&a.name).is_none());
        self.attributes.push(Attribute::flag(d.as_str()));
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` line.
    pub origin: Origin,
    /// `s=` line.
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines, raw.
    pub bandwidths: Vec<String>,
    /// `t=` start and stop.
    pub timing: (u64, u64),
    /// Session-level attributes.
    pub attributes: Vec<Attribute>,
    /// `m=` sections.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// Parses an SDP body; see [`parse::parse`].
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        parse::parse(text)
    }

    /// Session-level direction attribute.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.name))
    }

    /// Effective direction of media `i`: media level, else session level,
    /// else sendrecv (RFC 3264 §5.1). `c=0.0.0.0` counts as sendonly-style
    /// hold (RFC 3264 §8.4) when no attribute says otherwise.
    pub fn media_direction(&self, i: usize) -> Direction {
        let Some(m) = self.media.get(i) else {
            return Direction::Inactive;
        };
        if let Some(d) = m.direction().or(self.direction()) {
            return d;
        }
        if self
            .media_connection(i)
            .is_some_and(|c| c.address.is_unspecified())
        {
            return Direction::SendOnly;
        }
        Direction::SendRecv
    }

    /// Effective connection of media `i` (media level overrides session).
    pub fn media_connection(&self, i: usize) -> Option<Connection> {
        self.media.get(i)?.connection.or(self.connection)
    }

    /// Rewrites every address and port for media anchoring: the origin,
    /// session and media `c=` lines get `address`; media `i` gets `ports[i]`
    /// (streams with port 0 stay rejected); `a=rtcp` becomes `port + 1`
    /// unless rtcp-mux is used. Missing entries in `ports` keep their port.
    /// ICE attributes (RFC 8839) are removed: their candidates would let the
    /// endpoints bypass the relay.
    pub fn rewrite_for_anchor(&mut self, address: IpAddr, ports: &[u16]) {
        self.origin.address = address;
        if self.connection.is_some() || self.media.iter().any(|m| m.connection.is_none()) {
            self.connection = Some(Connection { address });
        }
        self.attributes.retain(|a| !is_ice(&a.name));
        for (i, m) in self.media.iter_mut().enumerate() {
            m.attributes.retain(|a| !is_ice(&a.name));
            if m.connection.is_some() {
                m.connection = Some(Connection { address });
            }
            if m.port == 0 {
                continue;
            }
            if let Some(p) = ports.get(i) {
                m.port = *p;
            }
            let mux = m.rtcp_mux();
            let rtcp = m.port.wrapping_add(1);
            m.attributes.retain(|a| a.name != "rtcp");
            if !mux {
                let fam = if address.is_ipv4() { "IP4" } else { "IP6" };
                m.attributes
                    .push(Attribute::new("rtcp", format!("{rtcp} IN {fam} {address}")));
            }
        }
    }
}

fn is_ice(name: &str) -> bool {
    matches!(
        name,
        "candidate"
            | "remote-candidates"
            | "end-of-candidates"
            | "ice-ufrag"
            | "ice-pwd"
            | "ice-options"
            | "ice-lite"
            | "ice-mismatch"
    )
}

fn addr_type(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{}\r\n", self.name, v),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.protocol)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        f.write_str("\r\n")?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {}\r\n", addr_type(&c.address), c.address)?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            addr_type(&o.address),
            o.address,
            self.session_name
        )?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {}\r\n", addr_type(&c.address), c.address)?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}
