//! SIP messages (RFC 3261 §7, §20, §25): a lazy, zero-copy parser, a printer,
//! and typed views of the headers a proxy and a transaction layer need.
//!
//! [`SipMessage::parse`] finds the start line and the header boundaries in
//! one pass; header values stay slices of the received [`Bytes`]. Typed
//! values ([`Via`], [`NameAddr`], [`CSeq`], [`Uri`] of headers) are parsed
//! only when a getter asks for them, and every getter names the header in
//! its [`ParseError`], whose text is a ready-made 400 reason phrase.
//! Stream transports cut messages with [`frame`] before parsing.
//!
//! ```
//! use sip_stack::message::{SipMessage, StatusCode, Response};
//! let raw = "OPTIONS sip:pbx.example.com SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!            From: <sip:alice@example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n\
//!            Call-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";
//! let SipMessage::Request(req) = SipMessage::parse(raw.into()).unwrap() else { panic!() };
//! req.validate().unwrap();
//! assert_eq!(req.top_via().unwrap().branch(), Some("z9hG4bK776"));
//! let resp = Response::for_request(&req, StatusCode::OK, Some("srv1"));
//! assert_eq!(resp.to().unwrap().tag(), Some("srv1"));
//! ```

mod addr;
mod auth;
mod error;
mod header;
mod method;
mod name;
mod parse;
mod print;
mod request;
mod status;
mod uri;
mod via;

#[cfg(test)]
mod tests;

use bytes::{Bytes, BytesMut};

pub use addr::{Contacts, NameAddr};
pub use auth::AuthParams;
pub use error::{ParseError, ParseErrorKind};
pub use header::{Header, Headers, ValueSplit};
pub use method::Method;
pub use name::HeaderName;
pub use parse::{frame, Framing};
pub use request::{Request, Response};
pub use status::StatusCode;
pub use uri::{Param, Scheme, Uri};
pub use via::{CSeq, Via};

/// Largest message accepted by the parser and the stream framer (64 KiB:
/// the UDP datagram limit, also applied to streams to bound buffering).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl SipMessage {
    /// Parses one complete message: a datagram, or a message cut from a
    /// stream by [`frame`]. Without Content-Length the body is the rest of
    /// the input; a larger Content-Length is [`ParseErrorKind::BodyTruncated`],
    /// a smaller one truncates the body (RFC 3261 §18.3).
    pub fn parse(buf: Bytes) -> Result<Self, ParseError> {
        parse::parse_message(buf)
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }

    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Self::Request(r) => &mut r.headers,
            Self::Response(r) => &mut r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        match self {
            Self::Request(r) => &r.body,
            Self::Response(r) => &r.body,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Self::Request(_))
    }

    /// Prints the message; Content-Length is always written as the body length.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Self::Request(r) => r.to_bytes(),
            Self::Response(r) => r.to_bytes(),
        }
    }

    /// Appends the printed message to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Self::Request(r) => r.write_to(out),
            Self::Response(r) => r.write_to(out),
        }
    }
}

impl From<Request> for SipMessage {
    fn from(r: Request) -> Self {
        Self::Request(r)
    }
}

impl From<Response> for SipMessage {
    fn from(r: Response) -> Self {
        Self::Response(r)
    }
}

/// RFC 3261 §25.1 `token` characters, as a lookup table (header names are
/// checked byte by byte on the hot path).
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        c += 1;
    }
    t
};

/// Whether `c` is an RFC 3261 §25.1 `token` character.
#[inline]
pub(crate) const fn is_token_char(c: u8) -> bool {
    TOKEN[c as usize]
}

/// Non-empty and all token characters.
pub(crate) fn is_token(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_token_char(c))
}

/// Trims SIP whitespace (SP, HTAB, CR, LF). Byte-wise: the hot path of
/// every typed getter, where `str::trim_matches` decodes chars.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let (mut start, mut end) = (0, b.len());
    while start < end && ws(b[start]) {
        start += 1;
    }
    while end > start && ws(b[end - 1]) {
        end -= 1;
    }
    // Both ends sit next to ASCII bytes: valid char boundaries.
    &s[start..end]
}

/// Byte index of the first ASCII byte `c` in `s`. Header values are short
/// (tens of bytes), where a plain scan beats `str::find`'s char searcher.
#[inline]
pub(crate) fn find_byte(s: &str, c: u8) -> Option<usize> {
    debug_assert!(c.is_ascii());
    s.as_bytes().iter().position(|&b| b == c)
}

/// Byte index of the first of the ASCII bytes `a` or `b` in `s`.
#[inline]
pub(crate) fn find_byte2(s: &str, a: u8, b: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c == a || c == b)
}

/// `str::split_once` for an ASCII byte.
#[inline]
pub(crate) fn split_once_byte(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, c)?;
    Some((&s[..i], &s[i + 1..]))
}

/// Byte index of the first ASCII whitespace byte in `s`.
#[inline]
pub(crate) fn find_ws(s: &str) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c.is_ascii_whitespace())
}
