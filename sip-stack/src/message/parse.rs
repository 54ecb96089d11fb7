//! The message parser (RFC 3261 §7) and stream framing (§18.3).
//!
//! One pass over the input finds the start line and each header's name and
//! value boundaries with `memchr`; values stay zero-copy `Bytes` slices
//! unless a folded line had to be joined. Typed values are parsed later, on
//! demand, by the getters.

use bytes::{Bytes, BytesMut};
use memchr::memchr;

use super::header::trim_bytes;
use super::{
    is_token, is_token_char, Header, HeaderName, Headers, Method, ParseError, ParseErrorKind,
    Request, Response, SipMessage, StatusCode, Uri, MAX_MESSAGE_LEN,
};

/// Finds the line starting at `pos`: returns (content end, next line start).
/// Accepts CRLF and bare LF endings.
#[inline]
fn line_at(b: &[u8], pos: usize) -> (usize, usize) {
    match memchr(b'\n', &b[pos..]) {
        Some(i) => {
            let nl = pos + i;
            let end = if nl > pos && b[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (end, nl + 1)
        }
        None => {
            let end = if b.len() > pos && b[b.len() - 1] == b'\r' {
                b.len() - 1
            } else {
                b.len()
            };
            (end, b.len())
        }
    }
}

/// A header whose value may still grow by folded continuation lines.
struct Pending {
    name: HeaderName,
    start: usize,
    end: usize,
    folded: Option<BytesMut>,
}

impl Pending {
    fn finish(self, buf: &Bytes) -> Header {
        let value = match self.folded {
            Some(v) => v.freeze(),
            None => buf.slice(self.start..self.end),
        };
        Header {
            name: self.name,
            value,
        }
    }

    /// Appends a continuation line: folding whitespace becomes one space
    /// (RFC 3261 §7.3.1).
    fn fold(&mut self, b: &[u8], cont: &[u8]) {
        let cont = trim_bytes(cont);
        if cont.is_empty() {
            return;
        }
        let v = self.folded.get_or_insert_with(|| {
            let mut v = BytesMut::with_capacity(self.end - self.start + cont.len() + 1);
            v.extend_from_slice(&b[self.start..self.end]);
            v
        });
        if !v.is_empty() {
            v.extend_from_slice(b" ");
        }
        v.extend_from_slice(cont);
    }
}

pub(crate) fn parse_message(buf: Bytes) -> Result<SipMessage, ParseError> {
    if buf.len() > MAX_MESSAGE_LEN {
        return Err(ParseErrorKind::TooLarge.into());
    }
    let b: &[u8] = &buf;
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let pos = b
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .ok_or(ParseErrorKind::Empty)?;
    let (end, next) = line_at(b, pos);
    let start = parse_start_line(&b[pos..end])?;
    let (headers, body_start) = parse_headers(&buf, next)?;

    let available = b.len() - body_start;
    let body_len = match content_length(&headers)? {
        // RFC 3261 §18.3: on a datagram, a shorter Content-Length truncates
        // the body and a longer one is an error.
        Some(n) if n > available => return Err(ParseErrorKind::BodyTruncated.into()),
        Some(n) => n,
        None => available,
    };
    let body = buf.slice(body_start..body_start + body_len);
    Ok(match start {
        StartLine::Request(method, uri) => SipMessage::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Response(status, reason) => SipMessage::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

/// Scans the header lines starting at `pos` up to the empty line; returns
/// the headers and where the body starts.
pub(super) fn parse_headers(buf: &Bytes, mut pos: usize) -> Result<(Headers, usize), ParseError> {
    let b: &[u8] = buf;
    let mut headers = Headers::with_capacity(16);
    let mut pending: Option<Pending> = None;
    let body_start = loop {
        if pos >= b.len() {
            // No empty line: tolerated on datagrams, the body is empty.
            break b.len();
        }
        match b[pos] {
            // The empty line ending the headers (CRLF or bare LF, or a lone
            // CR ending the datagram).
            b'\n' => break pos + 1,
            b'\r' if b.get(pos + 1) == Some(&b'\n') => break pos + 2,
            b'\r' if pos + 1 == b.len() => break b.len(),
            b' ' | b'\t' => {
                let (end, next) = line_at(b, pos);
                let p = pending.as_mut().ok_or(ParseErrorKind::HeaderLine)?;
                p.fold(b, &b[pos..end]);
                pos = next;
                continue;
            }
            _ => {}
        }
        if let Some(p) = pending.take() {
            headers.push(p.finish(buf));
        }
        // One pass over the name checks it and finds the colon; RFC 3261
        // §7.3.1 allows whitespace between the name and the colon.
        let mut i = pos;
        while i < b.len() && is_token_char(b[i]) {
            i += 1;
        }
        let name = &b[pos..i];
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if name.is_empty() || b.get(i) != Some(&b':') {
            return Err(ParseErrorKind::HeaderLine.into());
        }
        let (end, next) = line_at(b, i + 1);
        let (mut vs, mut ve) = (i + 1, end);
        while vs < ve && (b[vs] == b' ' || b[vs] == b'\t') {
            vs += 1;
        }
        while ve > vs && (b[ve - 1] == b' ' || b[ve - 1] == b'\t') {
            ve -= 1;
        }
        pending = Some(Pending {
            name: HeaderName::parse(name),
            start: vs,
            end: ve,
            folded: None,
        });
        pos = next;
    };
    if let Some(p) = pending.take() {
        headers.push(p.finish(buf));
    }
    Ok((headers, body_start))
}

/// The headers of a request whose start line or body did not parse (a bad
/// version, URI scheme or Content-Length), so that a server can still answer
/// it (RFC 3261 §8.2.2, §21.4.1, RFC 4475 §3.1.2): `None` for responses, ACK,
/// and input whose header lines themselves are broken.
pub(super) fn request_headers_of_unparseable(buf: &Bytes) -> Option<Headers> {
    let b: &[u8] = buf;
    let pos = b.iter().position(|&c| c != b'\r' && c != b'\n')?;
    let (end, next) = line_at(b, pos);
    let (method, _) = field(&b[pos..end]);
    if !is_token(method) || method.len() >= 4 && method[..4].eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    if method == b"ACK" {
        return None;
    }
    parse_headers(buf, next).ok().map(|(h, _)| h)
}

/// The Content-Length; several headers must agree (RFC 4475 §3.1.2.11 "mcl01").
fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    let mut found = None;
    for h in headers.get_all(&HeaderName::ContentLength) {
        let n = parse_content_length(&h.value)?;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::with_header(
                ParseErrorKind::ContentLength,
                HeaderName::ContentLength,
            ));
        }
        found = Some(n);
    }
    Ok(found)
}

fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    let v = trim_bytes(v);
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::with_header(
            ParseErrorKind::ContentLength,
            HeaderName::ContentLength,
        ));
    }
    Ok(v.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0')))
}

enum StartLine {
    Request(Method, Uri),
    Response(StatusCode, String),
}

fn is_sip_version(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        Ok(())
    } else if v.len() >= 4 && v[..4].eq_ignore_ascii_case(b"SIP/") {
        Err(ParseErrorKind::Version.into())
    } else {
        Err(ParseErrorKind::StartLine.into())
    }
}

/// Splits off the next space-separated field (runs of spaces tolerated).
fn field(line: &[u8]) -> (&[u8], &[u8]) {
    let i = memchr(b' ', line).unwrap_or(line.len());
    let mut rest = &line[i..];
    while let [b' ', r @ ..] = rest {
        rest = r;
    }
    (&line[..i], rest)
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    let (first, rest) = field(line);
    if first.len() >= 4 && first[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)
        is_sip_version(first)?;
        let (code, reason) = field(rest);
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(ParseErrorKind::StatusCode.into());
        }
        let n = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&n) {
            return Err(ParseErrorKind::StatusCode.into());
        }
        let reason =
            std::str::from_utf8(reason).map_err(|_| ParseError::new(ParseErrorKind::Utf8))?;
        return Ok(StartLine::Response(StatusCode(n), reason.trim().to_owned()));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1)
    let method = Method::from_bytes(first)?;
    let (uri, version) = field(rest);
    let version = trim_bytes(version);
    if uri.is_empty() || version.is_empty() || memchr(b' ', version).is_some() {
        return Err(ParseErrorKind::StartLine.into());
    }
    is_sip_version(version)?;
    let uri = std::str::from_utf8(uri).map_err(|_| ParseError::new(ParseErrorKind::Uri))?;
    Ok(StartLine::Request(method, Uri::parse(uri)?))
}

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A complete message of this many bytes (headers and body).
    Message(usize),
    /// CR/LF keep-alive bytes to skip (RFC 5626 §3.5.1: a ping is `CRLFCRLF`,
    /// answered with a `CRLF` pong; a count of 4 or more means a ping).
    KeepAlive(usize),
    /// More bytes are needed.
    Incomplete,
}

/// Check-then-parse framing for stream transports (RFC 3261 §18.3): finds
/// the end of the headers, requires Content-Length (or `l`), and reports the
/// total length of the first message in `buf` without allocating. Messages
/// larger than [`MAX_MESSAGE_LEN`] are refused.
pub fn frame(buf: &[u8]) -> Result<Framing, ParseError> {
    let crlf = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    if crlf > 0 {
        return Ok(Framing::KeepAlive(crlf));
    }
    let Some(head_end) = find_head_end(buf) else {
        return if buf.len() > MAX_MESSAGE_LEN {
            Err(ParseErrorKind::TooLarge.into())
        } else {
            Ok(Framing::Incomplete)
        };
    };
    let mut cl = None;
    let mut pos = line_at(buf, 0).1;
    while pos < head_end {
        let (end, next) = line_at(buf, pos);
        let line = &buf[pos..end];
        if let Some(colon) = memchr(b':', line) {
            let name = trim_bytes(&line[..colon]);
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                cl = Some(parse_content_length(&line[colon + 1..])?);
                break;
            }
        }
        pos = next;
    }
    let cl = cl.ok_or(ParseError::missing(HeaderName::ContentLength))?;
    let total = head_end + cl;
    if total > MAX_MESSAGE_LEN {
        return Err(ParseErrorKind::TooLarge.into());
    }
    Ok(if buf.len() >= total {
        Framing::Message(total)
    } else {
        Framing::Incomplete
    })
}

/// Index just past the empty line ending the headers (CRLFCRLF or LFLF).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let limit = &buf[..buf.len().min(MAX_MESSAGE_LEN + 4)];
    let mut pos = 0;
    while let Some(i) = memchr(b'\n', &limit[pos..]) {
        let nl = pos + i;
        match limit.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if limit.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => pos = nl + 1,
        }
    }
    None
}
