//! The agent state machine: ONE state per agent across every queue it
//! serves. [`check_transition`] is the single table of legal moves; the
//! engine never changes a state without it, and every change becomes an
//! [`AgentStateRecord`] (SPEC §17: timestamp, from, to, cause, reason).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, QueueId, ReasonCode};

/// What kind of call an agent is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A call this engine connected (queue caller or callback).
    Queue,
    /// A direct call to or from the agent, not through a queue.
    Direct,
    /// An outbound call placed by the agent.
    Outbound,
}

/// An agent's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum AgentState {
    /// Not working; gets no offers.
    LoggedOut,
    /// Ready (idle): may get an offer.
    Available,
    /// Being offered a call (ringing), one offer at a time.
    Reserved,
    /// On a call. Non-queue calls make the agent busy for every queue.
    OnCall(CallKind),
    /// After-call work following a queue call.
    WrapUp,
    /// Not ready, with a reason code.
    Break(ReasonCode),
    /// Put on break by the engine after too many unanswered offers.
    NoAnswer,
}

impl AgentState {
    /// The state's name as stored and shown (`on_call`, `break`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Available => "available",
            Self::Reserved => "reserved",
            Self::OnCall(_) => "on_call",
            Self::WrapUp => "wrap_up",
            Self::Break(_) => "break",
            Self::NoAnswer => "no_answer",
        }
    }

    /// Logged in (anything but [`AgentState::LoggedOut`]).
    pub fn is_logged_in(&self) -> bool {
        !matches!(self, Self::LoggedOut)
    }

    /// Counts as staffing a queue for wait estimates: logged in and not on
    /// a break of any kind.
    pub fn is_staffed(&self) -> bool {
        !matches!(self, Self::LoggedOut | Self::Break(_) | Self::NoAnswer)
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OnCall(k) => write!(f, "on_call({k:?})"),
            Self::Break(r) => write!(f, "break({r})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Why a state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StateCause {
    /// The agent logged in.
    Login,
    /// The agent logged out (or was removed).
    Logout,
    /// The agent took a break.
    Break,
    /// The agent made itself ready (from break, no-answer, or ending wrap-up early).
    Ready,
    /// The engine offered the agent a call.
    Offer,
    /// The agent answered an offer.
    Answered,
    /// The offer was withdrawn (caller gone, answered elsewhere, agent busy).
    OfferCancelled,
    /// The agent did not take the offer (no answer, declined, unreachable).
    OfferFailed,
    /// Too many consecutive unanswered offers.
    MaxNoAnswer,
    /// A queue call ended.
    CallEnded,
    /// The wrap-up time ran out.
    WrapUpExpired,
    /// The agent started a non-queue call.
    Busy,
    /// The agent's non-queue call ended.
    Idle,
    /// A callback's customer leg failed.
    CallbackFailed,
    /// Reconciled after a restart.
    Restart,
}

/// One stored state change (SPEC §17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateRecord {
    /// The agent.
    pub agent: AgentId,
    /// When (Unix ms).
    pub at_unix_ms: u64,
    /// Previous state.
    pub from: AgentState,
    /// New state.
    pub to: AgentState,
    /// Why.
    pub cause: StateCause,
    /// The break reason when `to` is a break.
    pub reason: Option<ReasonCode>,
    /// The call involved, if any.
    pub call: Option<CallId>,
    /// The queue involved, if any.
    pub queue: Option<QueueId>,
    /// Milliseconds spent in `from`.
    pub from_duration_ms: u64,
}

/// An impossible move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agent {agent}: cannot go from {from} to {to} ({cause:?})")]
pub struct StateError {
    /// The agent.
    pub agent: AgentId,
    /// Its state.
    pub from: AgentState,
    /// The refused state.
    pub to: AgentState,
    /// The refused cause.
    pub cause: StateCause,
}

/// Whether `from → to` for `cause` is a legal move. The table:
///
/// | from | to |
/// |---|---|
/// | logged_out | available, break (login) |
/// | available | reserved (offer), break, logged_out, on_call(non-queue) |
/// | reserved | on_call(queue) (answered), available / no_answer (failed, cancelled), break, logged_out, on_call(non-queue) |
/// | on_call(queue) | wrap_up, available (call ended, callback failed) |
/// | on_call(non-queue) | available, break, no_answer, wrap_up (idle: back where it was) |
/// | wrap_up | available (expired / ready), break, logged_out, on_call(non-queue) |
/// | break, no_answer | available (ready), break (new reason), logged_out, on_call(non-queue) |
///
/// A restart may move any state to available or logged_out.
pub fn check_transition(from: &AgentState, to: &AgentState, cause: StateCause) -> bool {
    use AgentState as S;
    use StateCause as C;
    if cause == C::Restart {
        return matches!(to, S::Available | S::LoggedOut);
    }
    let non_queue = |s: &S| matches!(s, S::OnCall(CallKind::Direct | CallKind::Outbound));
    match (from, to) {
        (S::LoggedOut, S::Available | S::Break(_)) => cause == C::Login,
        (_, S::LoggedOut) => {
            cause == C::Logout
                && matches!(
                    from,
                    S::Available | S::Reserved | S::WrapUp | S::Break(_) | S::NoAnswer
                )
        }
        (S::Available, S::Reserved) => cause == C::Offer,
        (S::Available | S::WrapUp | S::Break(_) | S::NoAnswer | S::Reserved, to)
            if non_queue(to) =>
        {
            cause == C::Busy
        }
        (S::Available | S::Reserved | S::WrapUp | S::Break(_) | S::NoAnswer, S::Break(_)) => {
            cause == C::Break
        }
        (S::Reserved, S::OnCall(CallKind::Queue)) => cause == C::Answered,
        (S::Reserved, S::Available) => matches!(cause, C::OfferFailed | C::OfferCancelled),
        (S::Reserved, S::NoAnswer) => cause == C::MaxNoAnswer,
        (S::OnCall(CallKind::Queue), S::WrapUp) => cause == C::CallEnded,
        (S::OnCall(CallKind::Queue), S::Available) => {
            matches!(cause, C::CallEnded | C::CallbackFailed)
        }
        (from, S::Available | S::Break(_) | S::NoAnswer | S::WrapUp) if non_queue(from) => {
            cause == C::Idle
        }
        (S::WrapUp, S::Available) => matches!(cause, C::WrapUpExpired | C::Ready),
        (S::Break(_) | S::NoAnswer, S::Available) => cause == C::Ready,
        _ => false,
    }
}
