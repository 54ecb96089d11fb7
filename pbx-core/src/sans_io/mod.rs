//! The vocabulary every sans-IO core of pbx shares — the clock reading
//! handed in ([`Now`]), the datagrams handed out ([`Outbox`]), who "this
//! server" is ([`Locals`]), identifier generation ([`IdGen`]) and locally
//! generated responses. A leaf: it imports nothing else of the crate.

mod locals;

use std::time::Instant;

use sip_stack::message::{Request, Response, StatusCode};
use sip_stack::Peer;

pub use locals::{resolve, uri_transport, IdGen, Locals};

/// The current time, as the driver read it.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time (transaction timers).
    pub instant: Instant,
    /// Unix seconds (binding expiry, nonces).
    pub unix_secs: u64,
    /// Monotonic milliseconds (ban windows).
    pub mono_ms: u64,
}

/// Messages to send: (destination, bytes).
pub type Outbox = Vec<(Peer, bytes::Bytes)>;

/// A locally generated response with a reason phrase of our own.
pub fn local_response(req: &Request, status: StatusCode, reason: &str, tag: &str) -> Response {
    let mut r = Response::for_request(req, status, if status.0 >= 200 { Some(tag) } else { None });
    if !reason.is_empty() {
        r.reason = reason.to_owned();
    }
    r
}
