//! The call engine: pbx as a back-to-back user agent (RFC 7092 §3).
//!
//! A call is a set of legs, each an INVITE session of pbx's own
//! [`sip_stack::ua::UserAgent`]: the inbound leg is answered by pbx (the
//! caller sees pbx's To tag and Contact), outbound legs are INVITEs pbx places
//! (forked to every contact; the first 2xx wins). Media is anchored in the
//! relay on both legs and SDP passes through with its addresses rewritten.
//!
//! The parts:
//! - [`call`]: the sans-IO call state machine (created → ringing / early
//!   media → answered → ended with cause and side), in virtual time;
//! - [`app`]: the [`app::Application`] trait — whatever owns a call for a
//!   while (dial + bridge today; conference, IVR and queues later) sees leg
//!   events and returns actions, and never touches SIP;
//! - [`bridge`]: dial + bridge — forking, ringing / early media, answer,
//!   hold and re-INVITE relay, blind transfer (REFER, RFC 3515);
//! - [`events`]: the call event bus (created, ringing, early media,
//!   answered, bridged, held, resumed, transferred, DTMF, ended);
//! - [`cdr`]: the call record written at hangup and the [`cdr::CdrSink`]
//!   storage trait;
//! - [`conference`]: a caller of a conference room (PIN, moderator keys);
//! - [`media`]: pbx's own media endpoints (prompts, recording, DTMF,
//!   conference rooms) as a service of the engine;
//! - [`engine`]: the glue between the user agent, the relay, the calls,
//!   their applications, the bus and the CDR sink. It follows the SIP core's
//!   contract: messages and timers in, datagrams out in an `Outbox`.

pub mod app;
pub mod bridge;
pub mod call;
pub mod cdr;
pub mod conference;
pub mod engine;
pub mod events;
pub mod feature_codes;
pub mod handle;
pub mod ivr_app;
pub mod media;
pub mod presentation;
pub mod queue_app;
pub mod sdp;
pub mod trunk_route;

use std::fmt;
use std::time::Instant;

pub use call::{Call, CallState, HangupCause, Side};
pub use engine::{Command, CommandError, Engine, EngineConfig, Originate};
pub use events::{CallEvent, CallEventKind, EngineEvent, EngineEventKind, EventBus};
pub use handle::{AcdReload, EngineHandle, EngineInput};

/// pbx's own, stable identifier of a call (not a SIP Call-ID: a call has one
/// Call-ID per leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl CallId {
    /// Reads the printed form back (`c` and 16 hex digits).
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix('c')?;
        if hex.len() != 16 {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(Self)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{:016x}", self.0)
    }
}

/// A leg of a call: 0 is the inbound (caller) leg, outbound legs count up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl LegId {
    /// The caller's leg.
    pub const CALLER: Self = Self(0);
}

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg{}", self.0)
    }
}

/// A point in time as the driver read it: monotonic for durations and
/// timers, wall-clock milliseconds for records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Monotonic time.
    pub instant: Instant,
    /// Unix milliseconds.
    pub unix_ms: u64,
}

impl Timestamp {
    /// `self` moved forward to `instant` (wall time moves by the same amount).
    pub fn at(&self, instant: Instant) -> Self {
        let delta = instant.saturating_duration_since(self.instant).as_millis() as u64;
        Self {
            instant,
            unix_ms: self.unix_ms + delta,
        }
    }
}
