//! Requests and responses with typed getters that parse header values on
//! demand (RFC 3261 §8.1.1, §8.2, §20).

use bytes::{Bytes, BytesMut};

use super::print::{request_len, response_len, write_request, write_response};
use super::{
    CSeq, Contacts, Header, HeaderName, Headers, Method, NameAddr, ParseError, ParseErrorKind,
    StatusCode, Uri, Via,
};

/// A SIP request (RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Headers in order.
    pub headers: Headers,
    /// Body (Content-Length is derived from it when printing).
    pub body: Bytes,
}

/// A SIP response (RFC 3261 §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

fn header_str<'a>(headers: &'a Headers, name: &HeaderName) -> Result<&'a str, ParseError> {
    headers
        .get(name)
        .ok_or_else(|| ParseError::missing(name.clone()))?
        .value_str()
}

fn top_via(headers: &Headers) -> Result<Via, ParseError> {
    headers
        .vias()
        .next()
        .unwrap_or_else(|| Err(ParseError::missing(HeaderName::Via)))
}

fn call_id(headers: &Headers) -> Result<&str, ParseError> {
    let v = header_str(headers, &HeaderName::CallId)?;
    if v.is_empty() || v.bytes().any(|c| c.is_ascii_whitespace()) {
        return Err(ParseError::bad_header(HeaderName::CallId));
    }
    Ok(v)
}

fn cseq(headers: &Headers) -> Result<CSeq, ParseError> {
    CSeq::parse(header_str(headers, &HeaderName::CSeq)?)
}

fn check_name_addr(headers: &Headers, name: HeaderName) -> Result<(), ParseError> {
    super::addr::check_name_addr(header_str(headers, &name)?)
        .map_err(|k| ParseError::new(k).in_header(&name))
}

fn name_addr(headers: &Headers, name: HeaderName) -> Result<NameAddr, ParseError> {
    NameAddr::parse(header_str(headers, &name)?).map_err(|e| e.in_header(&name))
}

/// RFC 3261 §7.3.1: only list headers may be repeated. An identical copy is
/// tolerated (a harmless duplicate line); a different value is an error.
fn check_singletons(headers: &Headers) -> Result<(), ParseError> {
    let mut seen: [Option<&Bytes>; 5] = [None; 5];
    for h in headers {
        let slot = match h.name {
            HeaderName::CallId => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CSeq => 3,
            HeaderName::MaxForwards => 4,
            _ => continue,
        };
        match seen[slot] {
            None => seen[slot] = Some(&h.value),
            Some(v) if *v == h.value => {}
            Some(_) => {
                return Err(ParseError::with_header(
                    ParseErrorKind::Duplicate,
                    h.name.clone(),
                ))
            }
        }
    }
    Ok(())
}

/// Parses a delta-seconds value; values past u32 saturate (RFC 3261 §20.19
/// allows up to 2**32-1).
fn delta_seconds(headers: &Headers, name: HeaderName) -> Result<Option<u32>, ParseError> {
    let Some(h) = headers.get(&name) else {
        return Ok(None);
    };
    let v = super::header::trim_bytes(&h.value);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::bad_header(name));
    }
    let n = v.iter().fold(0u64, |n, d| {
        (n * 10 + u64::from(d - b'0')).min(u64::from(u32::MAX))
    });
    Ok(Some(n as u32))
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// The topmost Via value (RFC 3261 §18.2.1).
    pub fn top_via(&self) -> Result<Via, ParseError> {
        top_via(&self.headers)
    }

    /// Call-ID (RFC 3261 §20.8).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        call_id(&self.headers)
    }

    /// CSeq (RFC 3261 §20.16).
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        cseq(&self.headers)
    }

    /// From (RFC 3261 §20.20).
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        name_addr(&self.headers, HeaderName::From)
    }

    /// To (RFC 3261 §20.39).
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        name_addr(&self.headers, HeaderName::To)
    }

    /// Max-Forwards, `None` when absent (RFC 3261 §20.22).
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        delta_seconds(&self.headers, HeaderName::MaxForwards)
    }

    /// Expires, `None` when absent (RFC 3261 §20.19).
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        delta_seconds(&self.headers, HeaderName::Expires)
    }

    /// The Contact header(s): `*` or the addresses in order (RFC 3261 §10.2.2).
    /// No Contact header gives an empty list.
    pub fn contacts(&self) -> Result<Contacts, ParseError> {
        let mut values = self.headers.values(&HeaderName::Contact);
        if let Some((_, first)) = values.next() {
            if first == b"*" {
                return if values.next().is_none() {
                    Ok(Contacts::Star)
                } else {
                    Err(ParseError::bad_header(HeaderName::Contact))
                };
            }
        }
        self.headers
            .route_set(&HeaderName::Contact)
            .map(Contacts::List)
    }

    /// Checks the mandatory headers (RFC 3261 §8.1.1, §8.2.2):
    /// To, From, CSeq, Call-ID and at least one Via must be present and
    /// parse; every Via must parse; Max-Forwards, if present, must be a
    /// number; the CSeq method must equal the request method (§8.1.1.5, also
    /// for ACK and CANCEL, §17.1.1.3 and §9.1). To, From, CSeq, Call-ID and
    /// Max-Forwards may appear only once (§7.3.1): a repetition with another
    /// value is [`ParseErrorKind::Duplicate`](super::ParseErrorKind::Duplicate)
    /// (two Call-IDs would let each element pick a different dialog).
    pub fn validate(&self) -> Result<(), ParseError> {
        check_singletons(&self.headers)?;
        // Checked without building the typed values: the caller parses the
        // ones it needs (validate runs on every request).
        check_name_addr(&self.headers, HeaderName::To)?;
        check_name_addr(&self.headers, HeaderName::From)?;
        let cseq = self.cseq()?;
        self.call_id()?;
        self.max_forwards()?;
        let mut vias = self.headers.values(&HeaderName::Via);
        let (_, top) = vias.next().ok_or(ParseError::missing(HeaderName::Via))?;
        let top = std::str::from_utf8(top)
            .map_err(|_| ParseError::with_header(ParseErrorKind::Utf8, HeaderName::Via))?;
        if !Via::check(top, false) {
            return Err(ParseError::bad_header(HeaderName::Via));
        }
        // Vias below the top are only carried back: any transport token is
        // fine there (RFC 3261 §25.1 other-transport), bad syntax is not.
        for (_, v) in vias {
            let ok = std::str::from_utf8(v).is_ok_and(Via::is_well_formed);
            if !ok {
                return Err(ParseError::bad_header(HeaderName::Via));
            }
        }
        if cseq.method != self.method {
            return Err(ParseError::bad_header(HeaderName::CSeq));
        }
        Ok(())
    }

    /// Prints the request (Content-Length = body length).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(request_len(self));
        write_request(self, &mut out);
        out.freeze()
    }

    /// Appends the printed request to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        write_request(self, out);
    }
}

impl Response {
    /// A response with the default reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            reason: status.reason_phrase().to_owned(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to `req` (RFC 3261 §8.2.6.2): copies every Via in order,
    /// From, To, Call-ID and CSeq; adds `to_tag` to To when given and To has
    /// no tag yet. The reason phrase is the default one for `status`.
    pub fn for_request(req: &Request, status: StatusCode, to_tag: Option<&str>) -> Self {
        Self::for_headers(&req.headers, status, to_tag)
    }

    fn for_headers(headers: &Headers, status: StatusCode, to_tag: Option<&str>) -> Self {
        let mut resp = Self::new(status);
        let h = &mut resp.headers;
        for hdr in headers.iter() {
            match hdr.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    h.push(hdr.clone());
                }
                HeaderName::To => h.push(with_to_tag(hdr, to_tag)),
                _ => {}
            }
        }
        resp
    }

    /// The stateless answer to a received request that [`SipMessage::parse`]
    /// refused with `err` (505 for a bad version, 416 for an unknown
    /// Request-URI scheme, 513 when too large, else 400 with the error as
    /// reason phrase; RFC 3261 §8.2.2, §21, RFC 4475 §3.1.2.11 for several
    /// Content-Lengths). `None` when there is nobody to answer: `buf` is a
    /// response or an ACK, its header lines are broken, or it has no Via.
    ///
    /// [`SipMessage::parse`]: super::SipMessage::parse
    pub fn for_unparseable(buf: &Bytes, err: &ParseError, to_tag: &str) -> Option<Self> {
        let headers = super::parse::request_headers_of_unparseable(buf)?;
        if !headers.contains(&HeaderName::Via) {
            return None;
        }
        let mut resp = Self::for_headers(&headers, err.status(), Some(to_tag));
        resp.reason = err.to_string();
        Some(resp)
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        top_via(&self.headers)
    }

    /// Call-ID.
    pub fn call_id(&self) -> Result<&str, ParseError> {
        call_id(&self.headers)
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        cseq(&self.headers)
    }

    /// From.
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        name_addr(&self.headers, HeaderName::From)
    }

    /// To.
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        name_addr(&self.headers, HeaderName::To)
    }

    /// Prints the response (Content-Length = body length).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(response_len(self));
        write_response(self, &mut out);
        out.freeze()
    }

    /// Appends the printed response to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        write_response(self, out);
    }
}

/// The To header with `;tag=` appended, unless it has a tag already or does
/// not parse (then it is copied unchanged). Appending keeps the received
/// spelling; in the bare form a trailing `;tag` is a header parameter too.
fn with_to_tag(to: &Header, tag: Option<&str>) -> Header {
    let Some(tag) = tag else { return to.clone() };
    match to.value_str().ok().and_then(|s| NameAddr::parse(s).ok()) {
        Some(addr) if addr.tag().is_none() => {
            let mut v = BytesMut::with_capacity(to.value.len() + tag.len() + 5);
            v.extend_from_slice(&to.value);
            v.extend_from_slice(b";tag=");
            v.extend_from_slice(tag.as_bytes());
            Header::new(HeaderName::To, v.freeze())
        }
        _ => to.clone(),
    }
}
