//! Header names: canonical spelling, case-insensitive parsing and compact
//! forms (RFC 3261 §7.3.1, §7.3.3, §20).

use std::fmt;
use std::hash::{Hash, Hasher};

/// A header field name. Known names are variants; anything else is kept
/// as received in [`HeaderName::Other`], compared case-insensitively.
#[derive(Debug, Clone)]
pub enum HeaderName {
    /// Via / `v` (RFC 3261 §20.42).
    Via,
    /// From / `f` (RFC 3261 §20.20).
    From,
    /// To / `t` (RFC 3261 §20.39).
    To,
    /// Call-ID / `i` (RFC 3261 §20.8).
    CallId,
    /// CSeq (RFC 3261 §20.16).
    CSeq,
    /// Contact / `m` (RFC 3261 §20.10).
    Contact,
    /// Max-Forwards (RFC 3261 §20.22).
    MaxForwards,
    /// Route (RFC 3261 §20.34).
    Route,
    /// Record-Route (RFC 3261 §20.30).
    RecordRoute,
    /// Content-Length / `l` (RFC 3261 §20.14).
    ContentLength,
    /// Content-Type / `c` (RFC 3261 §20.15).
    ContentType,
    /// Expires (RFC 3261 §20.19).
    Expires,
    /// Min-Expires (RFC 3261 §20.23).
    MinExpires,
    /// Authorization (RFC 3261 §20.7).
    Authorization,
    /// Proxy-Authorization (RFC 3261 §20.28).
    ProxyAuthorization,
    /// WWW-Authenticate (RFC 3261 §20.44).
    WwwAuthenticate,
    /// Proxy-Authenticate (RFC 3261 §20.27).
    ProxyAuthenticate,
    /// Authentication-Info (RFC 3261 §20.6).
    AuthenticationInfo,
    /// Path (RFC 3327).
    Path,
    /// Supported / `k` (RFC 3261 §20.37).
    Supported,
    /// Require (RFC 3261 §20.32).
    Require,
    /// Proxy-Require (RFC 3261 §20.29).
    ProxyRequire,
    /// Unsupported (RFC 3261 §20.40).
    Unsupported,
    /// Allow (RFC 3261 §20.5).
    Allow,
    /// User-Agent (RFC 3261 §20.41).
    UserAgent,
    /// Server (RFC 3261 §20.35).
    Server,
    /// Event / `o` (RFC 6665).
    Event,
    /// Refer-To / `r` (RFC 3515).
    ReferTo,
    /// Referred-By / `b` (RFC 3892).
    ReferredBy,
    /// Replaces (RFC 3891).
    Replaces,
    /// Date (RFC 3261 §20.17).
    Date,
    /// Timestamp (RFC 3261 §20.38).
    Timestamp,
    /// Accept (RFC 3261 §20.1).
    Accept,
    /// Any other header, spelled as received (or as expanded from a compact form).
    Other(String),
}

impl HeaderName {
    /// Parses a header name: case-insensitive, compact forms expanded
    /// (RFC 3261 §7.3.3: `v f t i m l c k s e`; RFC 6665 `o u`, RFC 3515 `r`,
    /// RFC 3892 `b`, RFC 4028 `x`, RFC 3841 `a j d`, RFC 4474 `y n`).
    /// Does not validate that `name` is a token; the message parser does.
    pub fn parse(name: &[u8]) -> Self {
        if name.len() == 1 {
            return Self::compact(name[0].to_ascii_lowercase())
                .unwrap_or_else(|| Self::Other(String::from_utf8_lossy(name).into_owned()));
        }
        macro_rules! pick {
            ($($s:literal => $v:expr,)*) => {
                {$(if name.eq_ignore_ascii_case($s) { return $v; })*}
            };
        }
        match name.len() {
            2 => pick! { b"To" => Self::To, },
            3 => pick! { b"Via" => Self::Via, },
            4 => {
                pick! { b"From" => Self::From, b"CSeq" => Self::CSeq, b"Path" => Self::Path, b"Date" => Self::Date, }
            }
            5 => {
                pick! { b"Route" => Self::Route, b"Allow" => Self::Allow, b"Event" => Self::Event, }
            }
            6 => pick! { b"Server" => Self::Server, b"Accept" => Self::Accept, },
            7 => {
                pick! { b"Call-ID" => Self::CallId, b"Contact" => Self::Contact, b"Expires" => Self::Expires,
                b"Require" => Self::Require, }
            }
            8 => pick! { b"Refer-To" => Self::ReferTo, b"Replaces" => Self::Replaces, },
            9 => pick! { b"Supported" => Self::Supported, b"Timestamp" => Self::Timestamp, },
            10 => pick! { b"User-Agent" => Self::UserAgent, },
            11 => pick! { b"Min-Expires" => Self::MinExpires, b"Unsupported" => Self::Unsupported,
            b"Referred-By" => Self::ReferredBy, },
            12 => {
                pick! { b"Max-Forwards" => Self::MaxForwards, b"Record-Route" => Self::RecordRoute,
                b"Content-Type" => Self::ContentType, }
            }
            13 => {
                pick! { b"Authorization" => Self::Authorization, b"Proxy-Require" => Self::ProxyRequire, }
            }
            14 => pick! { b"Content-Length" => Self::ContentLength, },
            16 => pick! { b"WWW-Authenticate" => Self::WwwAuthenticate, },
            18 => pick! { b"Proxy-Authenticate" => Self::ProxyAuthenticate, },
            19 => pick! { b"Proxy-Authorization" => Self::ProxyAuthorization,
            b"Authentication-Info" => Self::AuthenticationInfo, },
            _ => {}
        }
        Self::Other(String::from_utf8_lossy(name).into_owned())
    }

    fn compact(c: u8) -> Option<Self> {
        let other = |s: &str| Some(Self::Other(s.to_owned()));
        match c {
            b'v' => Some(Self::Via),
            b'f' => Some(Self::From),
            b't' => Some(Self::To),
            b'i' => Some(Self::CallId),
            b'm' => Some(Self::Contact),
            b'l' => Some(Self::ContentLength),
            b'c' => Some(Self::ContentType),
            b'k' => Some(Self::Supported),
            b'o' => Some(Self::Event),
            b'r' => Some(Self::ReferTo),
            b'b' => Some(Self::ReferredBy),
            b's' => other("Subject"),
            b'e' => other("Content-Encoding"),
            b'x' => other("Session-Expires"),
            b'u' => other("Allow-Events"),
            b'a' => other("Accept-Contact"),
            b'j' => other("Reject-Contact"),
            b'd' => other("Request-Disposition"),
            b'y' => other("Identity"),
            b'n' => other("Identity-Info"),
            _ => None,
        }
    }

    /// The canonical spelling used when printing ("Call-ID", "CSeq",
    /// "WWW-Authenticate"); for `Other`, the name as received.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Via => "Via",
            Self::From => "From",
            Self::To => "To",
            Self::CallId => "Call-ID",
            Self::CSeq => "CSeq",
            Self::Contact => "Contact",
            Self::MaxForwards => "Max-Forwards",
            Self::Route => "Route",
            Self::RecordRoute => "Record-Route",
            Self::ContentLength => "Content-Length",
            Self::ContentType => "Content-Type",
            Self::Expires => "Expires",
            Self::MinExpires => "Min-Expires",
            Self::Authorization => "Authorization",
            Self::ProxyAuthorization => "Proxy-Authorization",
            Self::WwwAuthenticate => "WWW-Authenticate",
            Self::ProxyAuthenticate => "Proxy-Authenticate",
            Self::AuthenticationInfo => "Authentication-Info",
            Self::Path => "Path",
            Self::Supported => "Supported",
            Self::Require => "Require",
            Self::ProxyRequire => "Proxy-Require",
            Self::Unsupported => "Unsupported",
            Self::Allow => "Allow",
            Self::UserAgent => "User-Agent",
            Self::Server => "Server",
            Self::Event => "Event",
            Self::ReferTo => "Refer-To",
            Self::ReferredBy => "Referred-By",
            Self::Replaces => "Replaces",
            Self::Date => "Date",
            Self::Timestamp => "Timestamp",
            Self::Accept => "Accept",
            Self::Other(s) => s,
        }
    }

    /// Headers whose value is a comma-separated list that may be split over
    /// several lines (RFC 3261 §7.3.1), among those this crate splits.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Self::Via | Self::Route | Self::RecordRoute | Self::Contact | Self::Path
        )
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Other(a), Self::Other(b)) => a.eq_ignore_ascii_case(b),
            (Self::Other(_), _) | (_, Self::Other(_)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let Self::Other(s) = self {
            for b in s.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    /// Same as [`HeaderName::parse`], so `"call-id".into()` is `CallId`.
    fn from(s: &str) -> Self {
        Self::parse(s.as_bytes())
    }
}
