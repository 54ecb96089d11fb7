//! Where a message came from or goes to: transport, socket address and, for
//! connection-oriented transports, the connection it travelled on.
//!
//! This module is shared by the sans-IO layers (messages, transactions) and the
//! tokio transport driver, so it knows nothing about sockets.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A SIP transport protocol (RFC 3261 §18, RFC 7118 for WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP, unreliable: transactions retransmit (Timers A, E, G).
    Udp,
    /// TCP with Content-Length framing.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// The token used in a Via header and in `transport=` URI parameters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// Reliable transports do not retransmit requests or responses (RFC 3261 §17.1.1.2).
    pub const fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Transports protected by TLS (used for `sips:` URIs).
    pub const fn is_secure(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }

    /// Port used when a URI or Via names none (RFC 3261 §19.1.2, RFC 7118).
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 5060,
            Self::Tls => 5061,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token was not a known transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport")]
pub struct UnknownTransport;

impl FromStr for Transport {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = match s.as_bytes() {
            b if b.eq_ignore_ascii_case(b"udp") => Self::Udp,
            b if b.eq_ignore_ascii_case(b"tcp") => Self::Tcp,
            b if b.eq_ignore_ascii_case(b"tls") => Self::Tls,
            b if b.eq_ignore_ascii_case(b"ws") => Self::Ws,
            b if b.eq_ignore_ascii_case(b"wss") => Self::Wss,
            _ => return Err(UnknownTransport),
        };
        Ok(t)
    }
}

/// Identifies one connection of a connection-oriented transport, so that a
/// response goes back on the connection its request arrived on (RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The far end of a message: who sent it, or where it must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport protocol.
    pub transport: Transport,
    /// Remote socket address (the packet's source, or the destination).
    pub addr: SocketAddr,
    /// The connection for TCP/TLS/WS; `None` for UDP, or "any connection to `addr`, or a new one".
    pub conn: Option<ConnId>,
}

impl Peer {
    /// A UDP peer.
    pub const fn udp(addr: SocketAddr) -> Self {
        Self {
            transport: Transport::Udp,
            addr,
            conn: None,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}
