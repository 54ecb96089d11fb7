//! Requests and responses the transaction layer builds itself: CANCEL
//! (§9.1), ACK for a non-2xx final (§17.1.1.3) and `100 Trying` (§8.2.6.1),
//! plus the one-time serialization of outgoing messages.

use bytes::Bytes;

use crate::message::{Header, HeaderName, Headers, Method, Request, Response, StatusCode};

/// Serializes a request once; the bytes are kept for retransmission.
pub(crate) fn encode_request(request: &Request) -> Bytes {
    request.to_bytes()
}

/// Serializes a response once; the bytes are kept for retransmission.
pub(crate) fn encode_response(response: &Response) -> Bytes {
    response.to_bytes()
}

/// The first Via value of `headers`, as a zero-copy slice.
fn top_via_value(headers: &Headers) -> Option<Bytes> {
    headers
        .values(&HeaderName::Via)
        .next()
        .map(|(h, v)| h.value.slice_ref(v))
}

/// Headers shared by CANCEL and ACK-for-non-2xx: the top Via only, Route
/// copied, Max-Forwards, From, Call-ID; `to` and the CSeq method vary.
fn hop_headers(invite: &Request, to: Option<&Header>, method: &Method) -> Headers {
    let mut headers = Headers::with_capacity(8);
    if let Some(via) = top_via_value(&invite.headers) {
        headers.push(Header::new(HeaderName::Via, via));
    }
    for route in invite.headers.get_all(&HeaderName::Route) {
        headers.push(route.clone());
    }
    let max_forwards = invite
        .headers
        .get(&HeaderName::MaxForwards)
        .map_or_else(|| Bytes::from_static(b"70"), |h| h.value.clone());
    headers.push(Header::new(HeaderName::MaxForwards, max_forwards));
    for name in [HeaderName::From, HeaderName::CallId] {
        if let Some(h) = invite.headers.get(&name) {
            headers.push(h.clone());
        }
    }
    if let Some(h) = to.or_else(|| invite.headers.get(&HeaderName::To)) {
        headers.push(h.clone());
    }
    // A malformed CSeq in our own INVITE cannot happen (the TU built it);
    // fall back to 1 rather than panic.
    let seq = invite.cseq().map_or(1, |c| c.seq);
    headers.push(Header::new(HeaderName::CSeq, format!("{seq} {method}")));
    headers
}

/// Builds the CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI,
/// Call-ID, To, From and CSeq number (method CANCEL), a single Via equal to
/// the INVITE's top Via, the INVITE's Route headers, no body.
pub fn build_cancel(invite: &Request) -> Request {
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        headers: hop_headers(invite, None, &Method::Cancel),
        body: Bytes::new(),
    }
}

/// Builds the ACK for a 300-699 final response to `invite` (RFC 3261
/// §17.1.1.3): Request-URI, Call-ID, From and CSeq number of the INVITE, the
/// To of the response (with its tag), the INVITE's top Via only and its Route
/// headers, no body. The INVITE client transaction sends it itself.
pub fn build_ack_for_non2xx(invite: &Request, response: &Response) -> Request {
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers: hop_headers(invite, response.headers.get(&HeaderName::To), &Method::Ack),
        body: Bytes::new(),
    }
}

/// `100 Trying` for `request` (RFC 3261 §8.2.6.1, §16.2): Via, From, To,
/// Call-ID and CSeq copied, no To tag, Timestamp copied when present.
pub(crate) fn build_trying(request: &Request) -> Response {
    let mut response = Response::for_request(request, StatusCode::TRYING, None);
    if !response.headers.contains(&HeaderName::Timestamp) {
        if let Some(ts) = request.headers.get(&HeaderName::Timestamp) {
            response.headers.push(ts.clone());
        }
    }
    response
}
