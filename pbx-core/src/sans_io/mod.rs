//! The vocabulary every sans-IO core of pbx shares — the clock reading
//! handed in ([`Now`], read by the drivers' [`Clock`]), the datagrams handed out ([`Outbox`]), who "this
//! server" is ([`Locals`]), identifier generation ([`IdGen`]) and locally
//! generated responses. A leaf: it imports nothing else of the crate.

mod locals;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

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

/// The drivers' clock: reads real time into a [`Now`]. Cores never hold
/// one — the threads and tasks that feed them read it and pass the
/// reading in. Every reader of one server shares its start, so the
/// monotonic milliseconds of [`Now::mono_ms`] (ban windows) agree.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose monotonic milliseconds count from `start`.
    pub fn new(start: Instant) -> Self {
        Self { start }
    }

    /// The time now.
    pub fn now(&self) -> Now {
        let instant = Instant::now();
        let unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Now {
            instant,
            unix_secs,
            mono_ms: instant.duration_since(self.start).as_millis() as u64,
        }
    }
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
