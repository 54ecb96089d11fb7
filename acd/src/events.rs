//! Queue events: the single source for reports, webhooks and wallboards.
//! Every step of a call through the queues and every agent state change is
//! one [`QueueEvent`], numbered by a gap-free sequence per engine, with the
//! call, queue and agent it concerns and a wall-clock stamp.

use serde::{Deserialize, Serialize};

use crate::config::OverflowTarget;
use crate::ids::{AgentId, CallId, CallbackId, OfferId, QueueId};
use crate::state::AgentStateRecord;

/// One queue event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEvent {
    /// 1, 2, 3, ... in emission order.
    pub seq: u64,
    /// When (Unix ms).
    pub at_unix_ms: u64,
    /// The call (for callbacks: the call that asked for it).
    pub call: Option<CallId>,
    /// The queue.
    pub queue: Option<QueueId>,
    /// The agent.
    pub agent: Option<AgentId>,
    /// What happened.
    pub kind: EventKind,
}

/// Why an offer ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OfferFailure {
    /// Rang for the ring timeout (the engine's timer, or the driver's 408/480).
    NoAnswer,
    /// The agent declined (486/603 from the phone).
    Rejected,
    /// The agent's phone is busy.
    Busy,
    /// The agent's phone could not be reached (not registered, 404, 5xx).
    Unreachable,
}

/// Why a caller left a queue without an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverflowReason {
    /// Waited `max_wait_s`.
    MaxWait,
    /// The queue had `max_length` callers.
    Full,
    /// No agent logged in and `join_empty = false`.
    JoinEmpty,
    /// The last agent logged out and `leave_when_empty = true`.
    LeaveEmpty,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum EventKind {
    /// A caller entered the queue.
    Enter {
        /// The caller's number (exact digits as received).
        number: String,
        /// The service number dialed, if known.
        service_number: Option<String>,
        /// Caller priority.
        priority: u8,
        /// 1-based position on entry.
        position: u32,
    },
    /// An agent is being offered the caller.
    Offer {
        /// The offer.
        offer: OfferId,
        /// Ring timeout (ms).
        ring_timeout_ms: u64,
    },
    /// The agent did not take the offer.
    RingNoAnswer {
        /// The offer.
        offer: OfferId,
        /// Why.
        reason: OfferFailure,
        /// How long it rang (ms).
        rang_ms: u64,
    },
    /// An agent answered; caller and agent are connected.
    Connect {
        /// The offer answered.
        offer: OfferId,
        /// Time in the queue (ms).
        wait_ms: u64,
        /// How long the agent's phone rang (ms).
        ring_ms: u64,
    },
    /// The caller hung up while queued.
    Abandon {
        /// Position when it hung up (1-based).
        position: u32,
        /// Time in the queue (ms).
        wait_ms: u64,
    },
    /// The caller left without an agent (timeout, full, empty).
    Overflow {
        /// Why.
        reason: OverflowReason,
        /// Where it went (None: hung up by the driver).
        target: Option<OverflowTarget>,
        /// Time in the queue (ms).
        wait_ms: u64,
    },
    /// The agent transferred the caller away.
    Transfer {
        /// Target as given by the driver.
        target: String,
        /// Talk time until then (ms).
        talk_ms: u64,
    },
    /// The connected call ended.
    Complete {
        /// Talk time (ms, hold included).
        talk_ms: u64,
        /// Time on hold (ms).
        hold_ms: u64,
    },
    /// The caller asked to be called back; the request keeps its place.
    CallbackRequested {
        /// The request.
        callback: CallbackId,
        /// The number to call.
        number: String,
        /// Position kept (1-based).
        position: u32,
        /// Time in the queue so far (ms).
        wait_ms: u64,
    },
    /// A callback reached the front: the agent is called first.
    CallbackPlaced {
        /// The request.
        callback: CallbackId,
        /// The offer to the agent.
        offer: OfferId,
        /// Customer attempt number about to be made (1-based).
        attempt: u32,
    },
    /// The customer of a callback answered; agent and customer are connected.
    CallbackConnected {
        /// The request.
        callback: CallbackId,
        /// The new call carrying the conversation.
        callback_call: CallId,
        /// From the original queue entry to the customer's answer (ms).
        wait_ms: u64,
        /// Attempt that connected.
        attempt: u32,
    },
    /// A customer attempt failed.
    CallbackFailed {
        /// The request.
        callback: CallbackId,
        /// The attempt that failed.
        attempt: u32,
        /// No attempts left: the request is dropped.
        gave_up: bool,
    },
    /// An agent state change.
    AgentState(AgentStateRecord),
}

impl EventKind {
    /// A short stable name (`enter`, `connect`, ...), for webhooks and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Enter { .. } => "enter",
            Self::Offer { .. } => "offer",
            Self::RingNoAnswer { .. } => "ring_no_answer",
            Self::Connect { .. } => "connect",
            Self::Abandon { .. } => "abandon",
            Self::Overflow { .. } => "overflow",
            Self::Transfer { .. } => "transfer",
            Self::Complete { .. } => "complete",
            Self::CallbackRequested { .. } => "callback_requested",
            Self::CallbackPlaced { .. } => "callback_placed",
            Self::CallbackConnected { .. } => "callback_connected",
            Self::CallbackFailed { .. } => "callback_failed",
            Self::AgentState(_) => "agent_state",
        }
    }
}
