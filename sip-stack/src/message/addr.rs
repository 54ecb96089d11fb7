//! name-addr / addr-spec values: From, To, Contact, Route, Record-Route,
//! Path, Refer-To (RFC 3261 §20.10, §25.1).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::uri::{check_params, check_uri, find_param, parse_params, set_param};
use super::{find_byte, trim, Param, ParseError, ParseErrorKind, Uri};

/// `"Display" <uri>;params` or a bare `uri;params`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// Display name, unquoted and unescaped.
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, ...), not URI parameters.
    pub params: Vec<Param>,
}

impl NameAddr {
    /// A name-addr with only a URI.
    pub fn new(uri: Uri) -> Self {
        Self {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    /// Parses one value. In the bare form (no `<>`) everything after the
    /// first `;` is a header parameter (RFC 3261 §20.10).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        parse_name_addr(trim(s)).map_err(ParseError::new)
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// A header parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Sets (or adds) a header parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        set_param(&mut self.params, name, value);
    }
}

/// A checked name-addr or addr-spec, borrowed: the display name as written
/// (a quoted-string body still escaped, or tokens), the URI text and the
/// header parameters text.
struct NameAddrParts<'a> {
    display: Display<'a>,
    uri: &'a str,
    params: &'a str,
}

enum Display<'a> {
    None,
    /// The body of a quoted string, after the opening quote.
    Quoted(&'a str),
    /// Unquoted tokens.
    Tokens(&'a str),
}

fn parse_name_addr(s: &str) -> Result<NameAddr, ParseErrorKind> {
    let p = name_addr_parts(s, false)?;
    let display = match p.display {
        Display::None => None,
        Display::Quoted(q) => Some(parse_quoted(q).ok_or(ParseErrorKind::HeaderValue)?.0),
        Display::Tokens(t) => Some(t.to_owned()),
    };
    Ok(NameAddr {
        display,
        uri: Uri::parse(p.uri).map_err(|e| e.kind())?,
        params: parse_params(p.params, true)?,
    })
}

/// Checks a value like [`NameAddr::parse`] without building it.
pub(crate) fn check_name_addr(s: &str) -> Result<(), ParseErrorKind> {
    name_addr_parts(trim(s), true).map(|_| ())
}

/// Splits a name-addr; with `check`, the URI and the parameters are checked
/// too (the owning parser checks them while it copies them).
fn name_addr_parts(s: &str, check: bool) -> Result<NameAddrParts<'_>, ParseErrorKind> {
    let err = ParseErrorKind::HeaderValue;
    let (display, rest) = if let Some(q) = s.strip_prefix('"') {
        let after = skip_quoted(q).ok_or(err)?;
        let after = trim(after);
        if !after.starts_with('<') {
            return Err(err);
        }
        (Display::Quoted(q), after)
    } else if let Some(lt) = find_byte(s, b'<') {
        let name = trim(&s[..lt]);
        if !name
            .bytes()
            .all(|c| c.is_ascii_whitespace() || super::is_token_char(c))
        {
            return Err(err);
        }
        let display = if name.is_empty() {
            Display::None
        } else {
            Display::Tokens(name)
        };
        (display, &s[lt..])
    } else {
        let (uri, params) = match find_byte(s, b';') {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        let uri = trim(uri);
        if check {
            check_uri(uri)?;
            check_params(params, true)?;
        }
        return Ok(NameAddrParts {
            display: Display::None,
            uri,
            params,
        });
    };
    // rest starts with '<'
    let gt = find_byte(rest, b'>').ok_or(err)?;
    let uri = trim(&rest[1..gt]);
    let tail = trim(&rest[gt + 1..]);
    if !tail.is_empty() && !tail.starts_with(';') {
        return Err(err);
    }
    if check {
        check_uri(uri)?;
        check_params(tail, true)?;
    }
    Ok(NameAddrParts {
        display,
        uri,
        params: tail,
    })
}

/// What follows the closing quote of a quoted string whose body starts `s`
/// (after the opening quote), or `None` when it is not closed.
fn skip_quoted(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(&s[i + 1..]),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Parses the body of a quoted string (after the opening quote); returns the
/// unescaped text and what follows the closing quote (RFC 3261 §25.1 `quoted-string`).
pub(crate) fn parse_quoted(s: &str) -> Option<(String, &str)> {
    // Usual case: no escapes, one copy of the slice.
    if let Some(end) = s.as_bytes().iter().position(|&c| c == b'"' || c == b'\\') {
        if s.as_bytes()[end] == b'"' {
            return Some((s[..end].to_owned(), &s[end + 1..]));
        }
    }
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write_quoted(f, d)?;
            f.write_char(' ')?;
        }
        write!(f, "<{}>", self.uri)?;
        for p in &self.params {
            f.write_char(';')?;
            fmt::Display::fmt(p, f)?;
        }
        Ok(())
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The Contact header of a request: `*` (REGISTER removal, RFC 3261 §10.2.2)
/// or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *`.
    Star,
    /// Zero or more addresses, in order.
    List(Vec<NameAddr>),
}
