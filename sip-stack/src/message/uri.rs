//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), parsed into owned parts
//! and printed back; comparison follows RFC 3261 §19.1.4.

use std::fmt::{self, Write as _};

use super::{find_byte, find_byte2, split_once_byte, trim, ParseError, ParseErrorKind};
use crate::peer::Transport;

/// The URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:` (RFC 3261 §19.1).
    Sip,
    /// `sips:` (RFC 3261 §19.1): TLS on every hop.
    Sips,
    /// `tel:` (RFC 3966).
    Tel,
}

impl Scheme {
    /// The scheme name without the colon.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sip => "sip",
            Self::Sips => "sips",
            Self::Tel => "tel",
        }
    }
}

/// A generic `;name[=value]` parameter (RFC 3261 §25.1 `generic-param`,
/// `uri-parameter`). Names and values are kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// Parameter name.
    pub name: String,
    /// Value, `None` for a flag such as `;lr`.
    pub value: Option<String>,
}

impl Param {
    /// A parameter with a value.
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        Self {
            name: name.into(),
            value: value.map(Into::into),
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            f.write_char('=')?;
            f.write_str(v)?;
        }
        Ok(())
    }
}

/// Finds a parameter by case-insensitive name.
pub(crate) fn find_param<'a>(params: &'a [Param], name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_deref())
}

/// Replaces the first parameter called `name` (case-insensitive) or appends it.
pub(crate) fn set_param(params: &mut Vec<Param>, name: &str, value: Option<String>) {
    match params
        .iter_mut()
        .find(|p| p.name.eq_ignore_ascii_case(name))
    {
        Some(p) => p.value = value,
        None => params.push(Param {
            name: name.to_owned(),
            value,
        }),
    }
}

/// Parses `;a=b;c` (the leading `;` already stripped or not); whitespace
/// around names, `=` and values is dropped (header params allow LWS).
/// `quoted` allows quoted-string values (header params, RFC 3261 §25.1 `gen-value`).
pub(crate) fn parse_params(s: &str, quoted: bool) -> Result<Vec<Param>, ParseErrorKind> {
    let mut out = Vec::new();
    scan_params(s, quoted, |name, value| {
        out.push(Param {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        });
    })?;
    Ok(out)
}

/// Checks parameters like [`parse_params`] without keeping them.
pub(crate) fn check_params(s: &str, quoted: bool) -> Result<(), ParseErrorKind> {
    scan_params(s, quoted, |_, _| {})
}

/// The grammar of [`parse_params`]: calls `f(name, value)` for each parameter.
fn scan_params<'a>(
    s: &'a str,
    quoted: bool,
    mut f: impl FnMut(&'a str, Option<&'a str>),
) -> Result<(), ParseErrorKind> {
    let mut rest = s;
    loop {
        rest = trim(rest);
        if let Some(r) = rest.strip_prefix(';') {
            rest = r;
            continue;
        }
        if rest.is_empty() {
            return Ok(());
        }
        let end = if quoted {
            param_end_quoted(rest)?
        } else {
            find_byte(rest, b';').unwrap_or(rest.len())
        };
        let (one, tail) = rest.split_at(end);
        rest = tail;
        let (name, value) = match split_once_byte(one, b'=') {
            Some((n, v)) => (trim(n), Some(trim(v))),
            None => (trim(one), None),
        };
        if name.is_empty() || !super::is_token(name.as_bytes()) {
            return Err(ParseErrorKind::HeaderValue);
        }
        // Unquoted values are tokens or hosts: no whitespace or control characters.
        if value.is_some_and(|v| !v.starts_with('"') && v.bytes().any(|c| c <= b' ' || c == 0x7f)) {
            return Err(ParseErrorKind::HeaderValue);
        }
        f(name, value);
    }
}

/// Byte index of the `;` ending the parameter at the start of `s`, skipping quoted strings.
fn param_end_quoted(s: &str) -> Result<usize, ParseErrorKind> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b';' if !in_quote => return Ok(i),
            _ => {}
        }
        i += 1;
    }
    if in_quote {
        Err(ParseErrorKind::HeaderValue)
    } else {
        Ok(b.len())
    }
}

/// A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966).
///
/// For `tel:` the telephone-subscriber is stored in `user` and `host` is empty.
/// Escaped characters are kept as received so that printing is faithful;
/// [`Uri::matches`] unescapes before comparing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    /// Scheme.
    pub scheme: Scheme,
    /// User part (escaped as received).
    pub user: Option<String>,
    /// Password (deprecated, RFC 3261 §19.1.1, but must be parsed).
    pub password: Option<String>,
    /// Host name, IPv4 address or `[IPv6]` reference (brackets kept).
    pub host: String,
    /// Port if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Vec<Param>,
    /// Header components (`?Subject=x&Priority=y`).
    pub headers: Vec<(String, String)>,
}

impl Uri {
    /// A `sip:` URI with only a host.
    pub fn sip(host: impl Into<String>) -> Self {
        Self {
            scheme: Scheme::Sip,
            user: None,
            password: None,
            host: host.into(),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Parses a URI (RFC 3261 §25.1 `SIP-URI` / `SIPS-URI`, RFC 3966 `telephone-uri`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        parse_uri(s).map_err(ParseError::new)
    }

    /// A URI parameter by case-insensitive name: `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Sets (or adds) a URI parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        set_param(&mut self.params, name, value);
    }

    /// The `transport=` parameter, if present and known (RFC 3261 §19.1.1).
    pub fn transport(&self) -> Option<Transport> {
        self.param("transport")
            .flatten()
            .and_then(|t| t.parse().ok())
    }

    /// Whether the URI carries `;lr` (loose routing, RFC 3261 §16.12).
    pub fn has_lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// `host` or `host:port`.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// URI equivalence (RFC 3261 §19.1.4): scheme equal; user and password
    /// case-sensitive; host case-insensitive; ports equal (an absent port does
    /// not equal an explicit default one); `user`, `ttl`, `method`, `maddr` and
    /// `transport` must agree when present in either; other parameters must
    /// agree when present in both; header components must agree exactly.
    /// Escapes are decoded before comparing.
    pub fn matches(&self, other: &Self) -> bool {
        const MUST: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];
        if self.scheme != other.scheme
            || self.port != other.port
            || !self.host.eq_ignore_ascii_case(&other.host)
            || !opt_eq(&self.user, &other.user, false)
            || !opt_eq(&self.password, &other.password, false)
        {
            return false;
        }
        for p in &self.params {
            match other.param(&p.name) {
                Some(v) if !opt_eq_str(p.value.as_deref(), v, true) => return false,
                Some(_) => {}
                None if MUST.iter().any(|m| p.name.eq_ignore_ascii_case(m)) => return false,
                None => {}
            }
        }
        for p in &other.params {
            if self.param(&p.name).is_none() && MUST.iter().any(|m| p.name.eq_ignore_ascii_case(m))
            {
                return false;
            }
        }
        self.headers.len() == other.headers.len()
            && self.headers.iter().all(|(n, v)| {
                other
                    .headers
                    .iter()
                    .any(|(n2, v2)| n.eq_ignore_ascii_case(n2) && unescaped_eq(v, v2, false))
            })
    }
}

fn opt_eq(a: &Option<String>, b: &Option<String>, ci: bool) -> bool {
    opt_eq_str(a.as_deref(), b.as_deref(), ci)
}

fn opt_eq_str(a: Option<&str>, b: Option<&str>, ci: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => unescaped_eq(a, b, ci),
        _ => false,
    }
}

/// Compares two strings after %-decoding (RFC 3261 §19.1.4).
fn unescaped_eq(a: &str, b: &str, ci: bool) -> bool {
    let (mut x, mut y) = (Unescape(a.as_bytes()), Unescape(b.as_bytes()));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(c), Some(d)) if c == d || (ci && c.eq_ignore_ascii_case(&d)) => {}
            _ => return false,
        }
    }
}

struct Unescape<'a>(&'a [u8]);

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&c, rest) = self.0.split_first()?;
        if c == b'%' && rest.len() >= 2 {
            if let (Some(h), Some(l)) = (hex(rest[0]), hex(rest[1])) {
                self.0 = &rest[2..];
                return Some(h << 4 | l);
            }
        }
        self.0 = rest;
        Some(c)
    }
}

const fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Characters allowed in the user/password/param/header parts: anything
/// printable except the delimiters that would make printing ambiguous.
fn uri_text_ok(s: &str, extra_forbidden: &[u8]) -> bool {
    s.bytes()
        .all(|c| URI_TEXT[usize::from(c)] && !extra_forbidden.contains(&c))
}

/// Printable ASCII except `<`, `>` and `"` (checked per byte of every URI).
const URI_TEXT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'!';
    while c < 0x7f {
        t[c as usize] = !matches!(c, b'<' | b'>' | b'"');
        c += 1;
    }
    t
};

/// A checked URI, borrowed from the text it was found in: what
/// [`check_uri`] needs without allocating, and what [`parse_uri`] copies.
struct UriParts<'a> {
    scheme: Scheme,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    /// `;params?headers`, already checked.
    tail: &'a str,
}

fn parse_uri(s: &str) -> Result<Uri, ParseErrorKind> {
    let p = uri_parts(s)?;
    let mut params = Vec::new();
    let mut headers = Vec::new();
    scan_uri_tail(
        p.tail,
        |name, value| {
            params.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        },
        |n, v| headers.push((n.to_owned(), v.to_owned())),
    )?;
    Ok(Uri {
        scheme: p.scheme,
        user: p.user.map(str::to_owned),
        password: p.password.map(str::to_owned),
        host: p.host.to_owned(),
        port: p.port,
        params,
        headers,
    })
}

/// Checks a URI like [`Uri::parse`] without building it.
pub(crate) fn check_uri(s: &str) -> Result<(), ParseErrorKind> {
    uri_parts(s).map(|_| ())
}

fn uri_parts(s: &str) -> Result<UriParts<'_>, ParseErrorKind> {
    let err = ParseErrorKind::Uri;
    let (scheme, rest) = split_once_byte(s, b':').ok_or(err)?;
    let scheme = if scheme.eq_ignore_ascii_case("sip") {
        Scheme::Sip
    } else if scheme.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else if scheme.eq_ignore_ascii_case("tel") {
        Scheme::Tel
    } else if super::is_token(scheme.as_bytes()) {
        // RFC 3261 §8.2.2.1: answered with 416.
        return Err(ParseErrorKind::Scheme);
    } else {
        return Err(err);
    };
    if scheme == Scheme::Tel {
        return tel_parts(rest);
    }
    let q = find_byte(rest, b'?').unwrap_or(rest.len());
    // RFC 3261 §25.1: '@' is not allowed unescaped in params or headers, so
    // the first '@' before any '?' ends the userinfo. A user part may itself
    // contain '?' (user-unreserved; RFC 4475 §3.1.1.3 "intmeth"), so when the
    // only '@' follows a '?', "no userinfo" is tried first, then that split.
    if let Some(at) = find_byte(&rest[..q], b'@') {
        return sip_parts(scheme, rest, Some(at));
    }
    match find_byte(&rest[q..], b'@') {
        Some(at) => {
            sip_parts(scheme, rest, None).or_else(|_| sip_parts(scheme, rest, Some(q + at)))
        }
        None => sip_parts(scheme, rest, None),
    }
}

/// The part after `sip:` / `sips:`, with the userinfo ending at `at`.
fn sip_parts(
    scheme: Scheme,
    rest: &str,
    at: Option<usize>,
) -> Result<UriParts<'_>, ParseErrorKind> {
    let err = ParseErrorKind::Uri;
    let (user, password, hostpart) = match at {
        Some(at) => {
            let (ui, hp) = (&rest[..at], &rest[at + 1..]);
            let (u, p) = match split_once_byte(ui, b':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() || !uri_text_ok(u, b"@") || !p.is_none_or(|p| uri_text_ok(p, b"@;?:")) {
                return Err(err);
            }
            (Some(u), p, hp)
        }
        None => (None, None, rest),
    };
    let (hostport, tail) = match find_byte2(hostpart, b';', b'?') {
        Some(i) => hostpart.split_at(i),
        None => (hostpart, ""),
    };
    let (host, port) = parse_host_port(hostport).ok_or(err)?;
    scan_uri_tail(tail, |_, _| {}, |_, _| {})?;
    Ok(UriParts {
        scheme,
        user,
        password,
        host,
        port,
        tail,
    })
}

fn tel_parts(rest: &str) -> Result<UriParts<'_>, ParseErrorKind> {
    let (number, tail) = match find_byte2(rest, b';', b'?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if number.is_empty() || !uri_text_ok(number, b"@") {
        return Err(ParseErrorKind::Uri);
    }
    scan_uri_tail(tail, |_, _| {}, |_, _| {})?;
    Ok(UriParts {
        scheme: Scheme::Tel,
        user: Some(number),
        password: None,
        host: "",
        port: None,
        tail,
    })
}

/// The grammar of `;params?headers`: URI parameters go to `param`, header
/// components to `header`.
fn scan_uri_tail<'a>(
    tail: &'a str,
    mut param: impl FnMut(&'a str, Option<&'a str>),
    mut header: impl FnMut(&'a str, &'a str),
) -> Result<(), ParseErrorKind> {
    let err = ParseErrorKind::Uri;
    let (ps, hs) = match split_once_byte(tail, b'?') {
        Some((p, h)) => (p, Some(h)),
        None => (tail, None),
    };
    for p in ps.split(';').skip(1) {
        let (name, value) = match split_once_byte(p, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if name.is_empty()
            || !uri_text_ok(name, b"=?;")
            || !value.is_none_or(|v| uri_text_ok(v, b"=?;"))
        {
            return Err(err);
        }
        param(name, value);
    }
    if let Some(hs) = hs {
        for h in hs.split('&') {
            let (n, v) = split_once_byte(h, b'=').ok_or(err)?;
            if n.is_empty() || !uri_text_ok(n, b"=?&") || !(v.is_empty() || uri_text_ok(v, b"?&")) {
                return Err(err);
            }
            header(n, v);
        }
    }
    Ok(())
}

/// Splits `host[:port]`; IPv6 references keep their brackets.
pub(crate) fn parse_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = find_byte(s, b']')?;
        let (h, rest) = s.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match split_once_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if !valid_host(host) {
        return None;
    }
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Some((host, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// RFC 3261 §25.1 `host`: hostname (alnum, '-', '.'; '_' tolerated), IPv4, or `[IPv6]`.
fn valid_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[') {
        return inner.strip_suffix(']').is_some_and(|v6| {
            !v6.is_empty()
                && v6
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        });
    }
    !h.is_empty()
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_char(':')?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                f.write_char(':')?;
                f.write_str(p)?;
            }
            if self.scheme != Scheme::Tel {
                f.write_char('@')?;
            }
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            f.write_char(';')?;
            fmt::Display::fmt(p, f)?;
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            f.write_char(if i == 0 { '?' } else { '&' })?;
            f.write_str(n)?;
            f.write_char('=')?;
            f.write_str(v)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uri {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
