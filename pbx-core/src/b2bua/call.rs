//! The sans-IO state machine of one call: `Created` → `Ringing` /
//! `EarlyMedia` → `Answered` → `Ended`, with the ring timeout as its only
//! timer. Inputs come from the engine (leg events it already translated);
//! outputs are [`CallEvent`]s drained with [`Call::poll_event`]. Time is
//! always passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::events::{CallEvent, CallEventKind};
use super::{CallId, LegId, Timestamp};

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// INVITE accepted, callee not reached yet.
    Created,
    /// The callee rings.
    Ringing,
    /// The callee sends early media.
    EarlyMedia,
    /// Answered and talking.
    Answered,
    /// Over.
    Ended,
}

impl CallState {
    /// Upper-case name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Ringing => "ringing",
            Self::EarlyMedia => "early",
            Self::Answered => "answered",
            Self::Ended => "ended",
        }
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The calling party.
    Caller,
    /// The called party.
    Callee,
    /// pbx itself (timeout, routing failure, shutdown).
    Pbx,
}

impl Side {
    /// Lower-case name stored in CDRs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
            Self::Pbx => "pbx",
        }
    }
}

/// Why a call ended; [`HangupCause::code`] is the stable string in CDRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HangupCause {
    /// A party hung up an answered call (BYE).
    Normal,
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// Nobody answered before the ring timeout, or 480/408 from the callee.
    NoAnswer,
    /// The caller gave up before the answer (CANCEL).
    Cancelled,
    /// The callee refused with this final status.
    Rejected(u16),
    /// No route for the dialed number (404 / 480 to the caller).
    NoRoute,
    /// The target type is not implemented yet (IVR, queue, trunk, conference).
    NotImplemented,
    /// The media relay could not anchor the call (ports, bad SDP).
    Media,
    /// pbx's 2xx was never acknowledged, or a leg failed to reach its peer.
    Signalling,
    /// The call's other party was handed to another call by an attended
    /// transfer (RFC 3891): the consultation call ends this way.
    Transferred,
    /// An administrator ended the call (`pbx calls hangup`, the API).
    Administrative,
    /// pbx is shutting down and ended the call first.
    Shutdown,
    /// A WebRTC leg failed (wrong DTLS fingerprint, ICE or DTLS timeout,
    /// consent lost): the leg's `webrtc.*` code.
    WebRtc(&'static str),
}

impl HangupCause {
    /// The stable code of the cause (documented, used in CDRs).
    pub fn code(self) -> &'static str {
        match self {
            Self::Normal => "call.normal",
            Self::Busy => "call.busy",
            Self::NoAnswer => "call.no_answer",
            Self::Cancelled => "call.cancelled",
            Self::Rejected(_) => "call.rejected",
            Self::NoRoute => "routing.no_route",
            Self::NotImplemented => "routing.not_implemented",
            Self::Media => "media.unavailable",
            Self::Signalling => "sip.signalling",
            Self::Transferred => "call.transferred",
            Self::Administrative => "admin.hangup",
            Self::Shutdown => "pbx.shutdown",
            Self::WebRtc(code) => code,
        }
    }

    /// The cause of a callee's final failure status.
    pub fn of_status(status: u16) -> Self {
        match status {
            486 | 600 => Self::Busy,
            408 | 480 | 487 => Self::NoAnswer,
            404 | 484 | 604 => Self::NoRoute,
            s => Self::Rejected(s),
        }
    }

    /// The status the caller gets when the call fails with this cause.
    pub fn status(self) -> u16 {
        match self {
            Self::Normal => 200,
            Self::Busy => 486,
            Self::NoAnswer => 480,
            Self::Cancelled => 487,
            Self::Rejected(s) => s,
            Self::NoRoute => 404,
            Self::NotImplemented => 501,
            Self::Media => 503,
            Self::Signalling => 500,
            Self::Transferred => 200,
            Self::Administrative => 480,
            Self::Shutdown => 503,
            Self::WebRtc(_) => 488,
        }
    }
}

/// The outcome of a call as call-detail records know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Answered.
    Answered,
    /// Rang, nobody answered.
    NoAnswer,
    /// The callee was busy.
    Busy,
    /// Routing, media or signalling failure, or a refusal.
    Failed,
    /// The caller hung up before the answer.
    Cancelled,
}

impl Disposition {
    /// The CDR spelling (`ANSWERED`, `NO ANSWER`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "ANSWERED",
            Self::NoAnswer => "NO ANSWER",
            Self::Busy => "BUSY",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses the CDR spelling (case-insensitive; `_` for the space).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().replace('_', " ").as_str() {
            "ANSWERED" => Some(Self::Answered),
            "NO ANSWER" | "NOANSWER" => Some(Self::NoAnswer),
            "BUSY" => Some(Self::Busy),
            "FAILED" => Some(Self::Failed),
            "CANCELLED" | "CANCELED" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// What the engine tells a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallInput {
    /// The callee rings.
    Ringing,
    /// The callee sends early media.
    EarlyMedia,
    /// The callee answered.
    Answered,
    /// Two legs exchange media.
    Bridged(LegId, LegId),
    /// A side sent a hold offer (sendonly / inactive).
    Hold(Side),
    /// A side sent a resume offer (sendrecv).
    Resume(Side),
    /// The call goes elsewhere.
    Transferred(String),
    /// pbx dials this number for a call it placed, the first party (the
    /// agent) having answered: the outbound pop's moment (SPEC §9).
    Dialing(String),
    /// A digit from a leg.
    Dtmf(LegId, char),
    /// The call is over.
    Hangup(HangupCause, Side),
}

/// An input that does not fit the call's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("call {call} is {state:?}: {input} does not apply")]
pub struct CallError {
    /// The call.
    pub call: CallId,
    /// Its state.
    pub state: CallState,
    /// The input, for logs.
    pub input: &'static str,
}

/// One call.
#[derive(Debug)]
pub struct Call {
    id: CallId,
    caller: String,
    callee: String,
    state: CallState,
    created: Timestamp,
    ring_at: Option<Timestamp>,
    answer_at: Option<Timestamp>,
    end_at: Option<Timestamp>,
    end: Option<(HangupCause, Side)>,
    held_by: Option<Side>,
    hold_since: Option<Instant>,
    hold_total: Duration,
    ring_timeout: Duration,
    events: VecDeque<CallEvent>,
}

impl Call {
    /// A new call from `caller` to the dialed `callee`; emits `Created`.
    pub fn new(
        id: CallId,
        caller: String,
        callee: String,
        at: Timestamp,
        ring_timeout: Duration,
    ) -> Self {
        let mut call = Self {
            id,
            caller: caller.clone(),
            callee: callee.clone(),
            state: CallState::Created,
            created: at,
            ring_at: None,
            answer_at: None,
            end_at: None,
            end: None,
            held_by: None,
            hold_since: None,
            hold_total: Duration::ZERO,
            ring_timeout,
            events: VecDeque::new(),
        };
        call.emit(at, CallEventKind::Created { caller, callee });
        call
    }

    fn emit(&mut self, at: Timestamp, kind: CallEventKind) {
        self.events.push_back(CallEvent {
            call: self.id,
            unix_ms: at.unix_ms,
            kind,
        });
    }

    fn reject(&self, input: &'static str) -> CallError {
        CallError {
            call: self.id,
            state: self.state,
            input,
        }
    }

    /// Feeds one input at time `now`.
    pub fn handle_input(&mut self, now: Instant, input: CallInput) -> Result<(), CallError> {
        let at = self.created.at(now);
        use CallState as S;
        match (self.state, input) {
            (S::Ended, _) => return Err(self.reject("any input")),
            (S::Created, CallInput::Ringing) => {
                self.state = S::Ringing;
                self.ring_at.get_or_insert(at);
                self.emit(at, CallEventKind::Ringing);
            }
            (S::Ringing | S::EarlyMedia, CallInput::Ringing) => {}
            (S::Created | S::Ringing, CallInput::EarlyMedia) => {
                self.state = S::EarlyMedia;
                self.ring_at.get_or_insert(at);
                self.emit(at, CallEventKind::EarlyMedia);
            }
            (S::EarlyMedia, CallInput::EarlyMedia) => {}
            (S::Created | S::Ringing | S::EarlyMedia, CallInput::Answered) => {
                self.state = S::Answered;
                self.answer_at = Some(at);
                self.emit(at, CallEventKind::Answered);
            }
            (_, CallInput::Answered) => return Err(self.reject("answer")),
            (_, CallInput::Bridged(a, b)) => self.emit(at, CallEventKind::Bridged { a, b }),
            (S::Answered, CallInput::Hold(by)) => {
                if self.held_by.is_none() {
                    self.held_by = Some(by);
                    self.hold_since = Some(now);
                    self.emit(at, CallEventKind::Held { by });
                }
            }
            (S::Answered, CallInput::Resume(by)) => {
                if self.held_by.take().is_some() {
                    self.close_hold(now);
                    self.emit(at, CallEventKind::Resumed { by });
                }
            }
            (_, CallInput::Hold(_) | CallInput::Resume(_)) => return Err(self.reject("hold")),
            (_, CallInput::Transferred(to)) => self.emit(at, CallEventKind::Transferred { to }),
            (_, CallInput::Dialing(number)) => self.emit(at, CallEventKind::Dialing { number }),
            (_, CallInput::Dtmf(leg, digit)) => self.emit(at, CallEventKind::Dtmf { leg, digit }),
            (_, CallInput::Hangup(cause, side)) => self.end(at, cause, side),
            (S::Answered, CallInput::Ringing | CallInput::EarlyMedia) => {}
        }
        Ok(())
    }

    fn close_hold(&mut self, now: Instant) {
        if let Some(since) = self.hold_since.take() {
            self.hold_total += now.saturating_duration_since(since);
        }
    }

    fn end(&mut self, at: Timestamp, cause: HangupCause, side: Side) {
        self.close_hold(at.instant);
        // An answered call that ends is a normal hangup whatever the leg
        // said, unless it ended by an attended transfer or pbx ended it.
        let kept = matches!(
            cause,
            HangupCause::Transferred
                | HangupCause::Administrative
                | HangupCause::Shutdown
                | HangupCause::WebRtc(_)
        );
        let cause = if self.state == CallState::Answered && !kept {
            HangupCause::Normal
        } else {
            cause
        };
        self.state = CallState::Ended;
        self.end_at = Some(at);
        self.end = Some((cause, side));
        let disposition = self.disposition().unwrap_or(Disposition::Failed);
        self.emit(
            at,
            CallEventKind::Ended {
                cause,
                side,
                disposition,
            },
        );
    }

    /// The ring timeout, while the call is not answered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        matches!(
            self.state,
            CallState::Created | CallState::Ringing | CallState::EarlyMedia
        )
        .then(|| self.created.instant + self.ring_timeout)
    }

    /// Ends an unanswered call whose ring timeout passed (NO ANSWER, by pbx).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| t <= now) {
            let at = self.created.at(now);
            self.end(at, HangupCause::NoAnswer, Side::Pbx);
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// The id.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The caller.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The dialed number.
    pub fn callee(&self) -> &str {
        &self.callee
    }

    /// The state.
    pub fn state(&self) -> CallState {
        self.state
    }

    /// Who holds the call, if it is on hold.
    pub fn held_by(&self) -> Option<Side> {
        self.held_by
    }

    /// When the call was created.
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// When the callee started ringing.
    pub fn ring_at(&self) -> Option<Timestamp> {
        self.ring_at
    }

    /// When the callee answered.
    pub fn answer_at(&self) -> Option<Timestamp> {
        self.answer_at
    }

    /// When it ended.
    pub fn end_at(&self) -> Option<Timestamp> {
        self.end_at
    }

    /// Cause and side, once ended.
    pub fn ending(&self) -> Option<(HangupCause, Side)> {
        self.end
    }

    /// Total time on hold so far (closed hold periods).
    pub fn hold_total(&self) -> Duration {
        self.hold_total
    }

    /// Milliseconds from creation to the end (or to `now` while live).
    pub fn duration_ms(&self, now: Instant) -> u64 {
        let end = self.end_at.map_or(now, |t| t.instant);
        end.saturating_duration_since(self.created.instant)
            .as_millis() as u64
    }

    /// Milliseconds from the answer to the end (0 if never answered).
    pub fn billsec_ms(&self, now: Instant) -> u64 {
        let Some(answer) = self.answer_at else {
            return 0;
        };
        let end = self.end_at.map_or(now, |t| t.instant);
        end.saturating_duration_since(answer.instant).as_millis() as u64
    }

    /// The disposition, once ended.
    pub fn disposition(&self) -> Option<Disposition> {
        let (cause, _) = self.end?;
        Some(if self.answer_at.is_some() {
            Disposition::Answered
        } else {
            match cause {
                HangupCause::Busy => Disposition::Busy,
                HangupCause::NoAnswer => Disposition::NoAnswer,
                HangupCause::Cancelled => Disposition::Cancelled,
                _ => Disposition::Failed,
            }
        })
    }
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
