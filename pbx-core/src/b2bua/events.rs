//! Call events on an internal bus: the feed for CDRs now and for recording,
//! webhooks and the contact-center layer later. Every event carries the
//! stable [`CallId`] and the wall-clock time it happened.

use tokio::sync::broadcast;

use super::call::{Disposition, HangupCause, Side};
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

/// The bus: a broadcast channel; slow subscribers lose the oldest events
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
