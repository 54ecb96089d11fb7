//! What the engine reports: [`EngineEvent`]s numbered in the order they
//! happened (call events, finished call records, media quality), drained by
//! its driver with `Engine::poll_event` and fanned out to the call-record
//! writer, the durable event outbox (webhooks) and the in-process
//! [`EventBus`] of live views. Every call event carries the stable
//! [`CallId`] and the wall-clock time it happened.

use tokio::sync::broadcast;

use super::call::{Disposition, HangupCause, Side};
use super::cdr::{CallRecord, LegQuality};
use super::{CallId, LegId};

/// Something that happened to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// The call.
    pub call: CallId,
    /// When, Unix milliseconds.
    pub unix_ms: u64,
    /// What.
    pub kind: CallEventKind,
}

/// The kinds of call events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEventKind {
    /// A new call (the caller's INVITE was accepted for routing).
    Created {
        /// Caller (From user).
        caller: String,
        /// Dialed number.
        callee: String,
    },
    /// The callee rings (180).
    Ringing,
    /// The callee sent early media (183 with SDP).
    EarlyMedia,
    /// The callee answered.
    Answered,
    /// Two legs exchange media.
    Bridged {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// One side put the other on hold (RFC 3264 §8.4).
    Held {
        /// Who.
        by: Side,
    },
    /// The held side was taken off hold.
    Resumed {
        /// Who.
        by: Side,
    },
    /// The call was transferred.
    Transferred {
        /// The new target.
        to: String,
    },
    /// pbx dials the number of a call it placed (click-to-call, callback),
    /// its first party having answered.
    Dialing {
        /// The number.
        number: String,
    },
    /// A DTMF digit from a leg.
    Dtmf {
        /// The leg.
        leg: LegId,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
    },
    /// The call is over.
    Ended {
        /// Why.
        cause: HangupCause,
        /// Who ended it.
        side: Side,
        /// The record's disposition.
        disposition: Disposition,
    },
}

impl CallEvent {
    /// The event's name in the outbox and in webhooks (`call.ringing`, ...).
    pub fn name(&self) -> &'static str {
        match &self.kind {
            CallEventKind::Created { .. } => "call.created",
            CallEventKind::Ringing => "call.ringing",
            CallEventKind::EarlyMedia => "call.early_media",
            CallEventKind::Answered => "call.answered",
            CallEventKind::Bridged { .. } => "call.bridged",
            CallEventKind::Held { .. } => "call.held",
            CallEventKind::Resumed { .. } => "call.resumed",
            CallEventKind::Transferred { .. } => "call.transferred",
            CallEventKind::Dialing { .. } => "call.dialing",
            CallEventKind::Dtmf { .. } => "call.dtmf",
            CallEventKind::Ended { .. } => "call.ended",
        }
    }

    /// The event as JSON: `type`, `call_id`, `at_ms` and its own fields.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let mut v = json!({
            "type": self.name(),
            "call_id": self.call.to_string(),
            "at_ms": self.unix_ms,
        });
        let extra = match &self.kind {
            CallEventKind::Created { caller, callee } => {
                json!({ "caller": caller, "callee": callee })
            }
            CallEventKind::Bridged { a, b } => json!({ "legs": [a.0, b.0] }),
            CallEventKind::Held { by } | CallEventKind::Resumed { by } => {
                json!({ "by": by.as_str() })
            }
            CallEventKind::Transferred { to } => json!({ "to": to }),
            CallEventKind::Dialing { number } => json!({ "number": number }),
            CallEventKind::Dtmf { leg, digit } => {
                json!({ "leg": leg.0, "digit": digit.to_string() })
            }
            CallEventKind::Ended {
                cause,
                side,
                disposition,
            } => json!({
                "cause": cause.code(),
                "side": side.as_str(),
                "disposition": disposition.as_str(),
            }),
            CallEventKind::Ringing | CallEventKind::EarlyMedia | CallEventKind::Answered => {
                json!({})
            }
        };
        if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    }
}

/// One output of the engine, in order: `seq` grows by one per event over
/// the engine's life, so a consumer can tell it missed none.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineEvent {
    /// Position in the engine's output (from 1).
    pub seq: u64,
    /// What happened.
    pub kind: EngineEventKind,
}

/// The kinds of engine output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EngineEventKind {
    /// Something happened to a live call.
    Call(CallEvent),
    /// A call ended: its record (written with the call's `Ended` event,
    /// which precedes it, in one transaction).
    Record(Box<CallRecord>),
    /// Media quality of a call's legs (caller side first), once the relay
    /// closed the call's ports; it follows the record.
    Quality {
        /// The call.
        call_id: String,
        /// Per leg.
        legs: [LegQuality; 2],
    },
}

/// The live-view bus: a broadcast channel; slow subscribers lose the oldest events
/// (they see `RecvError::Lagged`) instead of slowing calls down.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<CallEvent>,
}

impl EventBus {
    /// A bus keeping up to `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// A new subscriber (sees events published from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.tx.subscribe()
    }

    /// Publishes an event (dropped when nobody listens).
    pub fn publish(&self, ev: CallEvent) {
        let _ = self.tx.send(ev);
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}
