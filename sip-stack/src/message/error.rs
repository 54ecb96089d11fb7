//! Parse errors: small, allocation-free (except for unknown header names) and
//! printable verbatim as the reason phrase of a 400 response (RFC 3261 §21.4.1).

use std::fmt;

use super::{HeaderName, StatusCode};

/// What went wrong while parsing a message, a header value or a URI.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The input held no message at all.
    Empty,
    /// The request line or status line is malformed (RFC 3261 §7.1, §7.2).
    StartLine,
    /// The SIP version is not `SIP/2.0` (answered with 505, RFC 3261 §21.5.6).
    Version,
    /// The method token is not a valid token (RFC 3261 §25.1 `Method`).
    Method,
    /// A URI is malformed (RFC 3261 §19.1, §25.1 `SIP-URI`).
    Uri,
    /// A well-formed URI of a scheme other than sip, sips or tel
    /// (answered with 416 when it is the Request-URI, RFC 3261 §8.2.2.1).
    Scheme,
    /// The status code is not three digits in 100..=699 (RFC 3261 §7.2).
    StatusCode,
    /// A header line has no colon or its name is not a token (RFC 3261 §7.3).
    HeaderLine,
    /// A header value does not match its grammar.
    HeaderValue,
    /// A mandatory header is absent (RFC 3261 §8.1.1).
    Missing,
    /// The Content-Length value is not a number (RFC 3261 §20.14).
    ContentLength,
    /// The body is shorter than Content-Length says (RFC 3261 §18.3).
    BodyTruncated,
    /// The message exceeds [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
    TooLarge,
    /// Text that must be UTF-8 is not.
    Utf8,
    /// A header that may appear once (Call-ID, From, To, CSeq,
    /// Max-Forwards, Content-Length) appears again with another value
    /// (RFC 3261 §7.3.1: only list headers may be repeated).
    Duplicate,
}

/// A parse failure, optionally naming the header it happened in.
///
/// Its `Display` text ("bad header: CSeq", "missing header: Call-ID",
/// "bad start line") is meant to be used verbatim as a 400 reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    kind: ParseErrorKind,
    header: Option<HeaderName>,
}

impl ParseError {
    /// An error not tied to a header.
    pub const fn new(kind: ParseErrorKind) -> Self {
        Self { kind, header: None }
    }

    /// An error inside the named header.
    pub const fn with_header(kind: ParseErrorKind, header: HeaderName) -> Self {
        Self {
            kind,
            header: Some(header),
        }
    }

    /// The value of `header` does not match its grammar.
    pub const fn bad_header(header: HeaderName) -> Self {
        Self::with_header(ParseErrorKind::HeaderValue, header)
    }

    /// The mandatory `header` is absent.
    pub const fn missing(header: HeaderName) -> Self {
        Self::with_header(ParseErrorKind::Missing, header)
    }

    /// Attaches `header` to an error from a typed-value parser (URI, Via, ...).
    pub(crate) fn in_header(mut self, header: &HeaderName) -> Self {
        if self.header.is_none() {
            self.header = Some(header.clone());
        }
        self
    }

    /// What went wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The header the error was found in, if any.
    pub const fn header(&self) -> Option<&HeaderName> {
        self.header.as_ref()
    }

    /// The response a server sends for a request that failed this way:
    /// 505 for a wrong version (RFC 3261 §21.5.6), 513 for an
    /// oversized message (§21.5.7), 416 for a Request-URI of an unknown
    /// scheme (§8.2.2.1), 400 otherwise (§21.4.1).
    pub const fn status(&self) -> StatusCode {
        match self.kind {
            ParseErrorKind::Version => StatusCode::VERSION_NOT_SUPPORTED,
            ParseErrorKind::TooLarge => StatusCode::MESSAGE_TOO_LARGE,
            ParseErrorKind::Scheme if self.header.is_none() => StatusCode::UNSUPPORTED_URI_SCHEME,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParseErrorKind as K;
        match (self.kind, &self.header) {
            (K::Missing, Some(h)) => write!(f, "missing header: {h}"),
            (K::HeaderValue | K::Uri | K::Scheme | K::Utf8 | K::ContentLength, Some(h)) => {
                write!(f, "bad header: {h}")
            }
            (K::Duplicate, Some(h)) => write!(f, "duplicate header: {h}"),
            (K::Duplicate, None) => f.write_str("duplicate header"),
            (K::Empty, _) => f.write_str("empty message"),
            (K::StartLine, _) => f.write_str("bad start line"),
            (K::Version, _) => f.write_str("unsupported SIP version"),
            (K::Method, _) => f.write_str("bad method"),
            (K::Uri, _) => f.write_str("bad URI"),
            (K::Scheme, _) => f.write_str("unsupported URI scheme"),
            (K::StatusCode, _) => f.write_str("bad status code"),
            (K::HeaderLine, _) => f.write_str("bad header line"),
            (K::HeaderValue, _) => f.write_str("bad header value"),
            (K::Missing, None) => f.write_str("missing header"),
            (K::ContentLength, _) => f.write_str("bad header: Content-Length"),
            (K::BodyTruncated, _) => f.write_str("body shorter than Content-Length"),
            (K::TooLarge, _) => f.write_str("message too large"),
            (K::Utf8, _) => f.write_str("invalid UTF-8"),
        }
    }
}
