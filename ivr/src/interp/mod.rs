//! Sans-IO flow interpreter: one [`Interpreter`] per call.
//!
//! The interpreter owns no socket, task or clock. The driver
//! 1. calls [`Interpreter::start`] once with the current time,
//! 2. feeds [`Event`]s with [`Interpreter::handle_event`] and expired timers
//!    with [`Interpreter::handle_timeout`],
//! 3. after every call drains [`Interpreter::poll_action`] until `None` and
//!    performs each [`Action`] (play, collect DTMF, POST, transfer, …),
//! 4. sleeps until [`Interpreter::poll_timeout`] or the next event.
//!
//! Time is a [`Time`] (a local date-time with its UTC offset, which the driver
//! computes from the tenant's time zone); conditions use its local part,
//! trajectory entries its UTC instant. The timers of the current node (menu
//! timeout, inter-digit timeout, http timeout, recording limit) live inside
//! the interpreter and surface only through `poll_timeout`, so "start timer"
//! and "timer fired" are that pair of calls rather than actions and events.

mod condition;
mod nodes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::model::{Digit, Flow, TransferTarget};
use crate::trajectory::{Outcome, Trajectory, TrajectoryEntry, TrajectoryEvent};

/// The injected clock's type: local wall time with its UTC offset.
pub type Time = DateTime<FixedOffset>;

/// Variables every call has; flows may read them without assigning them.
pub const BUILTIN_VARS: [&str; 5] = ["call_id", "caller", "callee", "caller_region", "flow"];

/// Most node transitions without waiting before the interpreter hangs up with
/// `ivr.loop` (the validator rejects such flows; this guards the rest).
const MAX_IMMEDIATE_STEPS: u32 = 256;

/// Identifies one `Action::Play`, echoed by `Event::PromptFinished`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlayId(pub u64);

/// Identifies one `Action::HttpRequest`, echoed by `Event::HttpResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Facts about the call the driver knows before the flow starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// Call id (SIP Call-ID or the engine's).
    pub call_id: String,
    /// Caller number.
    pub caller: String,
    /// Called (service) number.
    pub callee: String,
    /// Caller region from the prefix table, if known.
    pub caller_region: Option<String>,
    /// Extra initial variables.
    pub vars: BTreeMap<String, String>,
}

/// Holiday calendar injected by the driver (merged with the flow's own list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// A calendar with these holidays.
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
        }
    }

    /// Whether `date` is a holiday.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }
}

/// Something that happened on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// All prompts of `Action::Play { id }` were played (or it was stopped).
    PromptFinished {
        /// The play that finished.
        id: PlayId,
    },
    /// A DTMF key (RFC 4733, SIP INFO or in-band: the driver does not care).
    Digit(Digit),
    /// The answer to `Action::HttpRequest { id }`.
    HttpResult {
        /// The request answered.
        id: RequestId,
        /// What came back.
        outcome: HttpOutcome,
    },
    /// The recording started by `Action::StartRecording` ended.
    RecordFinished {
        /// Storage reference of the message.
        reference: String,
        /// Its length.
        duration: Duration,
    },
    /// The caller hung up.
    Hangup,
}

/// Result of an http node's request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpOutcome {
    /// A response arrived.
    Response {
        /// HTTP status code.
        status: u16,
        /// Body text (JSON expected on 2xx).
        body: String,
    },
    /// Connection or protocol failure.
    Failed {
        /// Why.
        reason: String,
    },
    /// The driver gave up waiting (the interpreter's own timer may fire first).
    TimedOut,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Play these WAV files in order, then report `Event::PromptFinished { id }`.
    Play {
        /// Echoed in `PromptFinished`.
        id: PlayId,
        /// Files to play.
        prompts: Vec<PathBuf>,
        /// Whether a key may interrupt (the interpreter sends `StopPlayback`).
        barge_in: bool,
    },
    /// Stop the play `id` early (no `PromptFinished` needed).
    StopPlayback {
        /// The play to stop.
        id: PlayId,
    },
    /// Start delivering DTMF keys as `Event::Digit`.
    StartCollecting,
    /// Keys are no longer needed.
    StopCollecting,
    /// POST `body_json` to `url`, report `Event::HttpResult { id }`.
    HttpRequest {
        /// Echoed in `HttpResult`.
        id: RequestId,
        /// Target URL.
        url: String,
        /// JSON body (call context and variables).
        body_json: String,
        /// How long the interpreter waits before taking the timeout exit.
        timeout: Duration,
    },
    /// Start recording the caller, then report `Event::RecordFinished`.
    StartRecording {
        /// Play a beep first.
        beep: bool,
        /// Longest recording.
        max_duration: Duration,
    },
    /// Stop the current recording (terminator key or limit reached).
    StopRecording,
    /// Hand the call over; the flow is finished.
    Transfer {
        /// Where.
        target: TransferTarget,
    },
    /// Hang up; the flow is finished.
    Hangup {
        /// Reason for the CDR.
        reason: Option<String>,
    },
}

/// Progress inside a node that plays a prompt before waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prompting(PlayId),
    Waiting,
}

/// What the current node is doing.
#[derive(Debug, Clone)]
enum NodeState {
    /// A node that finishes at once or ends the call.
    Passing,
    Play {
        play: PlayId,
        barge_in: bool,
    },
    Menu {
        attempt: u32,
        phase: Phase,
        deadline: Option<Time>,
    },
    Collect {
        attempt: u32,
        phase: Phase,
        digits: String,
        overall: Option<Time>,
        inter: Option<Time>,
    },
    Http {
        id: RequestId,
        url: String,
        sent_at: Time,
        deadline: Time,
    },
    Record {
        phase: RecordPhase,
        deadline: Option<Time>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordPhase {
    Prompting(PlayId),
    Recording,
    Stopping,
}

/// One call's run through one flow. See the module docs for the run loop.
#[derive(Debug)]
pub struct Interpreter {
    flow: Arc<Flow>,
    calendar: Calendar,
    vars: BTreeMap<String, String>,
    /// Index of the current node and what it is doing; `None` before start
    /// and after the end.
    current: Option<(usize, NodeState)>,
    entered_at: Option<Time>,
    actions: VecDeque<Action>,
    trajectory: Trajectory,
    type_ahead: VecDeque<Digit>,
    collecting: bool,
    next_id: u64,
    finished: bool,
    /// Detail for the next `exit_node` entry (digit count, recording reference).
    exit_detail: Option<String>,
}

impl Interpreter {
    /// A new interpreter for one call; nothing happens until [`Self::start`].
    pub fn new(flow: Arc<Flow>, ctx: CallContext, calendar: Calendar) -> Self {
        let mut vars = ctx.vars;
        vars.insert("call_id".into(), ctx.call_id.clone());
        vars.insert("caller".into(), ctx.caller);
        vars.insert("callee".into(), ctx.callee);
        vars.insert("flow".into(), flow.name.clone());
        if let Some(r) = ctx.caller_region {
            vars.insert("caller_region".into(), r);
        }
        let trajectory = Trajectory::new(ctx.call_id, flow.name.clone(), DateTime::UNIX_EPOCH);
        Self {
            flow,
            calendar,
            vars,
            current: None,
            entered_at: None,
            actions: VecDeque::new(),
            trajectory,
            type_ahead: VecDeque::new(),
            collecting: false,
            next_id: 0,
            finished: false,
            exit_detail: None,
        }
    }

    /// Enters the start node. Calling it twice does nothing.
    pub fn start(&mut self, now: Time) {
        if self.entered_at.is_some() || self.finished {
            return;
        }
        self.trajectory.started_at = now.to_utc();
        match self.flow.node_index(&self.flow.start) {
            Some(i) => self.run(now, i),
            None => self.finish_hangup(now, Some("ivr.dead_end".into())),
        }
    }

    /// Feeds one event.
    pub fn handle_event(&mut self, now: Time, event: Event) {
        if self.finished || self.entered_at.is_none() {
            return;
        }
        if event == Event::Hangup {
            self.abandon(now);
            return;
        }
        let next = match event {
            Event::Digit(d) => self.on_digit(now, d),
            Event::PromptFinished { id } => self.on_prompt_finished(now, id),
            Event::HttpResult { id, outcome } => self.on_http_result(now, id, outcome),
            Event::RecordFinished {
                reference,
                duration,
            } => self.on_record_finished(now, reference, duration),
            Event::Hangup => None,
        };
        self.follow(now, next);
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.finished {
            return;
        }
        let next = self.on_timeout(now);
        self.follow(now, next);
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Time> {
        match &self.current.as_ref()?.1 {
            NodeState::Menu { deadline, .. } | NodeState::Record { deadline, .. } => *deadline,
            NodeState::Collect { overall, inter, .. } => match (overall, inter) {
                (Some(a), Some(b)) => Some(*a.min(b)),
                (a, b) => a.or(*b),
            },
            NodeState::Http { deadline, .. } => Some(*deadline),
            NodeState::Play { .. } | NodeState::Passing => None,
        }
    }

    /// True once the call left the flow (transfer, hangup, abandon).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True while a menu or collect node waits for keys after its prompt
    /// (the simulator uses this to time scripted input).
    pub fn awaiting_input(&self) -> bool {
        matches!(
            self.current,
            Some((
                _,
                NodeState::Menu {
                    phase: Phase::Waiting,
                    ..
                } | NodeState::Collect {
                    phase: Phase::Waiting,
                    ..
                }
            ))
        )
    }

    /// Id of the current node.
    pub fn current_node(&self) -> Option<&str> {
        self.current
            .as_ref()
            .and_then(|(i, _)| self.flow.nodes.get(*i))
            .map(|n| n.id.as_str())
    }

    /// The call's variables.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// The trajectory so far.
    pub fn trajectory(&self) -> &Trajectory {
        &self.trajectory
    }

    /// The flow this call runs (the version it started with).
    pub fn flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    /// Takes the exit chosen by a handler, then runs immediate nodes.
    fn follow(&mut self, now: Time, exit: Option<String>) {
        let Some(exit) = exit else { return };
        if let Some(target) = self.leave(now, &exit) {
            self.run(now, target);
        }
    }

    /// Enters `idx` and keeps following immediate exits, bounded.
    fn run(&mut self, now: Time, mut idx: usize) {
        for _ in 0..MAX_IMMEDIATE_STEPS {
            let Some(exit) = self.enter(now, idx) else {
                return;
            };
            match self.leave(now, &exit) {
                Some(next) => idx = next,
                None => return,
            }
        }
        tracing::warn!(flow = %self.flow.name, "flow loops without waiting; hanging up");
        self.finish_hangup(now, Some("ivr.loop".into()));
    }

    /// Records leaving the current node through `exit` and resolves the
    /// target; hangs up with `ivr.dead_end` if there is none.
    fn leave(&mut self, now: Time, exit: &str) -> Option<usize> {
        let (idx, _) = self.current.take()?;
        let node = &self.flow.nodes[idx];
        let target = node.exit(exit).map(str::to_owned);
        let duration = self
            .entered_at
            .map(|t| (now - t).num_milliseconds().max(0) as u64);
        let detail = self.exit_detail.take();
        self.push_entry(now, idx, TrajectoryEvent::ExitNode, |e| {
            e.detail = detail;
            e.exit = Some(exit.to_owned());
            e.duration_ms = duration;
        });
        match target.and_then(|t| self.flow.node_index(&t)) {
            Some(next) => Some(next),
            None => {
                self.current = Some((idx, NodeState::Passing));
                self.finish_hangup(now, Some("ivr.dead_end".into()));
                None
            }
        }
    }

    fn abandon(&mut self, now: Time) {
        let node = self.current_node().unwrap_or_default().to_owned();
        if let Some((idx, _)) = self.current {
            self.push_entry(now, idx, TrajectoryEvent::Abandon, |_| {});
        }
        self.end(now, Outcome::Abandon { node });
    }

    fn finish_hangup(&mut self, now: Time, reason: Option<String>) {
        if let Some((idx, _)) = self.current {
            self.push_entry(now, idx, TrajectoryEvent::Hangup, |e| {
                e.detail = reason.clone()
            });
        }
        self.stop_collecting();
        self.actions.push_back(Action::Hangup {
            reason: reason.clone(),
        });
        self.end(now, Outcome::Hangup { reason });
    }

    fn end(&mut self, now: Time, outcome: Outcome) {
        self.current = None;
        self.finished = true;
        self.trajectory.outcome = Some(outcome);
        self.trajectory.ended_at = Some(now.to_utc());
    }

    fn push_entry(
        &mut self,
        now: Time,
        idx: usize,
        event: TrajectoryEvent,
        fill: impl FnOnce(&mut TrajectoryEntry),
    ) {
        let node = &self.flow.nodes[idx];
        let mut entry = TrajectoryEntry {
            seq: u32::try_from(self.trajectory.entries.len()).unwrap_or(u32::MAX),
            at: now.to_utc(),
            node_id: node.id.clone(),
            node_name: node.display_name().to_owned(),
            node_type: node.node_type(),
            event,
            key: None,
            exit: None,
            callurl: None,
            detail: None,
            duration_ms: None,
        };
        fill(&mut entry);
        self.trajectory.entries.push(entry);
    }

    fn start_collecting(&mut self) {
        if !self.collecting {
            self.collecting = true;
            self.actions.push_back(Action::StartCollecting);
        }
    }

    fn stop_collecting(&mut self) {
        if self.collecting {
            self.collecting = false;
            self.actions.push_back(Action::StopCollecting);
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn play(&mut self, prompts: Vec<PathBuf>, barge_in: bool) -> PlayId {
        let id = PlayId(self.next_id());
        self.actions.push_back(Action::Play {
            id,
            prompts,
            barge_in,
        });
        id
    }
}

/// `now + d`, saturating at `now` on overflow.
pub(crate) fn after(now: Time, d: Duration) -> Time {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}
