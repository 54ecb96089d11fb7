//! Printing messages into one pre-sized buffer (RFC 3261 §7).

use std::fmt::Write as _;

use bytes::BytesMut;

use super::{HeaderName, Headers, Request, Response};

fn headers_len(headers: &Headers) -> usize {
    headers
        .iter()
        .map(|h| h.name.as_str().len() + h.value.len() + 4)
        .sum()
}

/// Upper estimate of a request's printed size (URI estimated generously).
pub(crate) fn request_len(r: &Request) -> usize {
    let uri = 16
        + r.uri.user.as_ref().map_or(0, String::len)
        + r.uri.host.len()
        + r.uri
            .params
            .iter()
            .map(|p| p.name.len() + p.value.as_ref().map_or(0, String::len) + 2)
            .sum::<usize>();
    r.method.as_str().len() + uri + 12 + headers_len(&r.headers) + 24 + r.body.len()
}

/// Upper estimate of a response's printed size.
pub(crate) fn response_len(r: &Response) -> usize {
    14 + r.reason.len() + headers_len(&r.headers) + 24 + r.body.len()
}

pub(crate) fn write_request(r: &Request, out: &mut BytesMut) {
    out.reserve(request_len(r));
    out.extend_from_slice(r.method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    // BytesMut's fmt::Write never fails.
    let _ = write!(out, "{}", r.uri);
    out.extend_from_slice(b" SIP/2.0\r\n");
    write_headers_body(&r.headers, &r.body, out);
}

pub(crate) fn write_response(r: &Response, out: &mut BytesMut) {
    out.reserve(response_len(r));
    out.extend_from_slice(b"SIP/2.0 ");
    write_u(out, usize::from(r.status.0));
    out.extend_from_slice(b" ");
    // CR/LF in a reason phrase would split the status line.
    if r.reason.bytes().any(|c| c == b'\r' || c == b'\n') {
        out.extend_from_slice(r.status.reason_phrase().as_bytes());
    } else {
        out.extend_from_slice(r.reason.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    write_headers_body(&r.headers, &r.body, out);
}

/// Writes the headers, then `Content-Length` = body length (any received
/// Content-Length is dropped, RFC 3261 §18.3), the empty line and the body.
fn write_headers_body(headers: &Headers, body: &[u8], out: &mut BytesMut) {
    for h in headers {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        write_value(&h.value, out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    write_u(out, body.len());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Writes a header value. Parsed values never hold CR or LF (folding is
/// undone on input); one built by the application might, and would inject
/// header lines, so each CR/LF is printed as a space.
fn write_value(v: &[u8], out: &mut BytesMut) {
    if memchr::memchr2(b'\r', b'\n', v).is_none() {
        out.extend_from_slice(v);
    } else {
        out.extend(
            v.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
    }
}

fn write_u(out: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
