//! Request methods (RFC 3261 §7.1, §27.4 and the extension RFCs).

use std::fmt;
use std::str::FromStr;

use super::{is_token, ParseError, ParseErrorKind};

/// A SIP request method. Methods are case-sensitive tokens (RFC 3261 §7.1):
/// `invite` is an extension method, not INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261 §13).
    Invite,
    /// ACK (RFC 3261 §17.1.1.3).
    Ack,
    /// BYE (RFC 3261 §15).
    Bye,
    /// CANCEL (RFC 3261 §9).
    Cancel,
    /// REGISTER (RFC 3261 §10).
    Register,
    /// OPTIONS (RFC 3261 §11).
    Options,
    /// INFO (RFC 6086).
    Info,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other (extension) method token, kept as received.
    Other(String),
}

impl Method {
    /// The method token as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Register => "REGISTER",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Update => "UPDATE",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Publish => "PUBLISH",
            Self::Other(s) => s,
        }
    }

    /// Parses a method token from raw bytes (case-sensitive).
    pub fn from_bytes(b: &[u8]) -> Result<Self, ParseError> {
        let m = match b {
            b"INVITE" => Self::Invite,
            b"ACK" => Self::Ack,
            b"BYE" => Self::Bye,
            b"CANCEL" => Self::Cancel,
            b"REGISTER" => Self::Register,
            b"OPTIONS" => Self::Options,
            b"INFO" => Self::Info,
            b"UPDATE" => Self::Update,
            b"PRACK" => Self::Prack,
            b"SUBSCRIBE" => Self::Subscribe,
            b"NOTIFY" => Self::Notify,
            b"REFER" => Self::Refer,
            b"MESSAGE" => Self::Message,
            b"PUBLISH" => Self::Publish,
            _ if is_token(b) => {
                // is_token guarantees ASCII.
                Self::Other(String::from_utf8_lossy(b).into_owned())
            }
            _ => return Err(ParseError::new(ParseErrorKind::Method)),
        };
        Ok(m)
    }
}

impl FromStr for Method {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
