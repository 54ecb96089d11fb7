//! Digest authentication headers (RFC 3261 §22, RFC 7616, RFC 8760):
//! WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::addr::{parse_quoted, write_quoted};
use super::{find_byte, find_ws, is_token, trim, ParseError, ParseErrorKind};

/// `Digest k=v, k="quoted", ...` with values unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthParams {
    /// Scheme, normally `Digest`.
    pub scheme: String,
    /// Parameters in order, values unquoted and unescaped.
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    /// Parses a challenge or credentials value.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError::new(ParseErrorKind::HeaderValue);
        let s = trim(s);
        let (scheme, mut rest) = match find_ws(s) {
            Some(i) => (&s[..i], trim(&s[i..])),
            None => (s, ""),
        };
        if !is_token(scheme.as_bytes()) {
            return Err(err());
        }
        // Credentials carry about ten parameters: one allocation for all.
        let mut params = Vec::with_capacity(12);
        while !rest.is_empty() {
            let eq = find_byte(rest, b'=').ok_or_else(err)?;
            let name = trim(&rest[..eq]);
            if !is_token(name.as_bytes()) {
                return Err(err());
            }
            let after = trim(&rest[eq + 1..]);
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                parse_quoted(q).ok_or_else(err)?
            } else {
                let end = after
                    .bytes()
                    .position(|c| matches!(c, b',' | b' ' | b'\t'))
                    .unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            };
            params.push((name.to_owned(), value));
            let tail = trim(tail);
            rest = match tail.strip_prefix(',') {
                Some(t) => trim(t),
                None if tail.is_empty() => tail,
                None => return Err(err()),
            };
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            params,
        })
    }

    /// A parameter value by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a parameter is printed as a token rather than a quoted string
    /// (RFC 7616 §3.3/§3.4: `algorithm`, `stale`, `nc` always; `qop` in
    /// credentials, i.e. when a `response` parameter is present).
    fn is_token_param(&self, name: &str) -> bool {
        ["algorithm", "stale", "nc"]
            .iter()
            .any(|t| name.eq_ignore_ascii_case(t))
            || (name.eq_ignore_ascii_case("qop") && self.get("response").is_some())
    }
}

impl fmt::Display for AuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (n, v)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            f.write_str(n)?;
            f.write_char('=')?;
            if self.is_token_param(n) && is_token(v.as_bytes()) {
                f.write_str(v)?;
            } else {
                write_quoted(f, v)?;
            }
        }
        Ok(())
    }
}

impl FromStr for AuthParams {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
