//! Header fields and the ordered header list, with helpers for the
//! comma-separated list headers (RFC 3261 §7.3.1) that proxies edit.

use bytes::Bytes;

use super::{HeaderName, NameAddr, ParseError, ParseErrorKind, Via};

/// One header field. `value` is trimmed and unfolded; when the received line
/// needed no unfolding it is a zero-copy slice of the received buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub name: HeaderName,
    /// Raw value bytes (no leading/trailing whitespace, no CRLF).
    pub value: Bytes,
}

impl Header {
    /// A header from a name and a value (the value is not validated).
    pub fn new(name: HeaderName, value: impl Into<Bytes>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }

    /// The value as text.
    pub fn value_str(&self) -> Result<&str, ParseError> {
        std::str::from_utf8(&self.value)
            .map_err(|_| ParseError::with_header(ParseErrorKind::Utf8, self.name.clone()))
    }

    /// The comma-separated values of a list header, trimmed (RFC 3261 §7.3.1).
    pub fn values(&self) -> ValueSplit<'_> {
        ValueSplit { rest: &self.value }
    }
}

/// Iterator over the top-level comma-separated values of a header value:
/// commas inside quoted strings or `<...>` do not split. Empty elements are
/// skipped.
#[derive(Debug, Clone)]
pub struct ValueSplit<'a> {
    rest: &'a [u8],
}

impl<'a> ValueSplit<'a> {
    /// Splits `value` on top-level commas.
    pub fn new(value: &'a [u8]) -> Self {
        Self { rest: value }
    }
}

/// Index of the first top-level comma in `b`, or `b.len()`.
pub(crate) fn top_level_comma(b: &[u8]) -> usize {
    let mut in_quote = false;
    let mut in_angle = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' if !in_angle => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            b',' if !in_quote && !in_angle => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

pub(crate) fn trim_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

impl<'a> Iterator for ValueSplit<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let end = top_level_comma(self.rest);
            let item = trim_bytes(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
    }
}

/// The header fields of a message, in received order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// An empty list.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// An empty list with room for `n` headers.
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// The first header called `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&Header> {
        self.0.iter().find(|h| h.name == *name)
    }

    /// The first header called `name`, as text (`None` if absent or not UTF-8).
    pub fn get_str(&self, name: &HeaderName) -> Option<&str> {
        self.get(name).and_then(|h| h.value_str().ok())
    }

    /// All headers called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Header> + 'a {
        self.0.iter().filter(move |h| h.name == *name)
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header.
    pub fn push(&mut self, h: Header) {
        self.0.push(h);
    }

    /// Prepends a header: before the first header of the same name if there
    /// is one (so a new Via / Record-Route becomes the topmost, RFC 3261
    /// §16.6 steps 4 and 8), else at the very start.
    pub fn push_front(&mut self, h: Header) {
        let at = self.0.iter().position(|x| x.name == h.name).unwrap_or(0);
        self.0.insert(at, h);
    }

    /// Removes and returns the first header called `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<Header> {
        let at = self.0.iter().position(|h| h.name == *name)?;
        Some(self.0.remove(at))
    }

    /// Removes every header called `name`.
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| h.name != *name);
    }

    /// Replaces every header of `h.name` by `h`, at the position of the first
    /// one; appends if there was none.
    pub fn set(&mut self, h: Header) {
        match self.0.iter().position(|x| x.name == h.name) {
            Some(at) => {
                let name = h.name.clone();
                self.0[at] = h;
                let mut i = 0;
                self.0.retain(|x| {
                    let keep = i <= at || x.name != name;
                    i += 1;
                    keep
                });
            }
            None => self.0.push(h),
        }
    }

    /// Iterates over all headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers as a slice.
    pub fn as_slice(&self) -> &[Header] {
        &self.0
    }

    /// All values of the headers called `name`, split on top-level commas,
    /// in order (RFC 3261 §7.3.1: several lines equal one comma-joined line).
    pub fn values<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = (&'a Header, &'a [u8])> + 'a {
        self.get_all(name)
            .flat_map(|h| h.values().map(move |v| (h, v)))
    }

    /// Every Via value, topmost first, parsed on demand.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via, ParseError>> + '_ {
        const VIA: &HeaderName = &HeaderName::Via;
        self.values(VIA).map(|(_, v)| {
            std::str::from_utf8(v)
                .map_err(|_| ParseError::with_header(ParseErrorKind::Utf8, HeaderName::Via))
                .and_then(Via::parse)
        })
    }

    /// All name-addr values of Route, Record-Route, Path or Contact headers, in
    /// order, whether sent as one comma-separated line or several lines.
    pub fn route_set(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        self.values(name)
            .map(|(_, v)| {
                std::str::from_utf8(v)
                    .map_err(|_| ParseError::with_header(ParseErrorKind::Utf8, name.clone()))
                    .and_then(|s| NameAddr::parse(s).map_err(|e| e.in_header(name)))
            })
            .collect()
    }

    /// Removes only the first comma-separated value of the first `name`
    /// header (dropping the line when it becomes empty) and returns it:
    /// how a proxy pops its own Route (RFC 3261 §16.4) or the top Via
    /// (§16.7 step 3).
    pub fn remove_first_value(&mut self, name: &HeaderName) -> Option<Bytes> {
        loop {
            let at = self.0.iter().position(|h| h.name == *name)?;
            let value = self.0[at].value.clone();
            let b: &[u8] = &value;
            let end = top_level_comma(b);
            let first = trim_range(b, 0, end);
            let rest = trim_range(b, (end + 1).min(b.len()), b.len());
            if rest.is_empty() {
                self.0.remove(at);
            } else {
                self.0[at].value = value.slice(rest);
            }
            // An empty element ("Via: , x") is skipped: take the next one.
            if !first.is_empty() {
                return Some(value.slice(first));
            }
        }
    }
}

/// The range of `b[start..end]` without surrounding whitespace.
fn trim_range(b: &[u8], mut start: usize, mut end: usize) -> std::ops::Range<usize> {
    while start < end && b[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    start..end
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<T: IntoIterator<Item = Header>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<Header> for Headers {
    fn extend<T: IntoIterator<Item = Header>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}
