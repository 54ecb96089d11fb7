//! The driver's side of recording: notes what each call is (its dial-plan
//! entry, users, trunk, queue), when it is bridged, connected to a queue
//! agent or asks for an on-demand recording (`recording.start_code`), and
//! after each step sends the starts and stops its policy (`policy.rs`)
//! calls for to the recorder thread. Never blocks.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crossbeam_channel::Sender;
use recorder::Parties;

use super::policy::{combine, resolve, Levels, Policy, PolicyConfig};
use super::service::Cmd;
use super::RecordingMode;
use crate::b2bua::{CallEventKind, CallId, Engine, EngineEvent, EngineEventKind};
use crate::dialplan::Route;
use crate::media_anchor::RecordStopped;

/// What may start a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The call was bridged.
    Bridged,
    /// A queue agent was connected.
    Queue,
    /// A party pressed the start code.
    Code,
}

/// What the hook knows of a live call.
#[derive(Default)]
struct Live {
    parties: Parties,
    /// The dial-plan entry's policy.
    entry: Option<Policy>,
    /// The users involved: caller, the dialed user, the agent.
    users: Vec<String>,
    /// The trunk or queue the dial plan sent it to.
    route_trunk: Option<String>,
    route_queue: Option<String>,
    /// A queue agent answered it.
    queue_connected: bool,
    /// Keys pressed toward the start code so far.
    start_typed: String,
    /// The conference room the dial plan sent it to.
    room: Option<String>,
}

/// The driver's side: notes calls, sends the requests after each step.
pub struct RecordingHook {
    pub(super) mode: RecordingMode,
    pub(super) policy: PolicyConfig,
    pub(super) dialplan: crate::routing::SharedDialplan,
    pub(super) tx: Sender<Cmd>,
    /// Live calls.
    calls: HashMap<CallId, Live>,
    /// Calls whose recording was requested.
    started: HashSet<CallId>,
    to_start: Vec<(CallId, Trigger)>,
    to_stop: Vec<CallId>,
    /// Conference calls answered in this step.
    to_join: Vec<CallId>,
    /// Recorded rooms and the calls in them (a room's session is recorded
    /// from its first recorded call until the last one ends).
    rooms: HashMap<String, HashSet<CallId>>,
    /// Recordings paused now.
    paused: HashSet<CallId>,
    /// The in-call key sequence that pauses / resumes (`recording.pause_code`).
    pub(super) pause_code: Option<String>,
    /// Per recorded call, the keys pressed toward the pause code so far.
    keys: HashMap<CallId, String>,
}

/// Why a pause or resume was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PauseError {
    /// The call is not being recorded.
    #[error("call {0} is not being recorded")]
    NotRecording(CallId),
    /// It is paused already (pause) or not paused (resume).
    #[error("the recording of call {0} is {1} already")]
    Already(CallId, &'static str),
}

/// Adds `digit` to `typed`; true when `typed` now is `code` (then cleared).
fn typed_code(typed: &mut String, code: &str, digit: char) -> bool {
    typed.push(digit);
    if !code.starts_with(typed.as_str()) {
        // Start again from this key if it begins the code.
        typed.clear();
        if code.starts_with(digit) {
            typed.push(digit);
        }
    }
    if typed == code {
        typed.clear();
        return true;
    }
    false
}

impl RecordingHook {
    pub(super) fn new(
        mode: RecordingMode,
        policy: PolicyConfig,
        dialplan: crate::routing::SharedDialplan,
        pause_code: Option<String>,
        tx: Sender<Cmd>,
    ) -> Self {
        Self {
            mode,
            policy,
            dialplan,
            tx,
            calls: HashMap::new(),
            started: HashSet::new(),
            to_start: Vec::new(),
            to_stop: Vec::new(),
            to_join: Vec::new(),
            rooms: HashMap::new(),
            paused: HashSet::new(),
            pause_code,
            keys: HashMap::new(),
        }
    }

    /// Pauses (true) or resumes the recording of `call` (the CLI, the API,
    /// the in-call pause code): the paused stretch is silence in the file
    /// and a span in the recording's metadata.
    pub fn set_paused(&mut self, call: CallId, paused: bool) -> Result<(), PauseError> {
        if !self.started.contains(&call) {
            return Err(PauseError::NotRecording(call));
        }
        let changed = if paused {
            self.paused.insert(call)
        } else {
            self.paused.remove(&call)
        };
        if !changed {
            return Err(PauseError::Already(
                call,
                if paused { "paused" } else { "running" },
            ));
        }
        let _ = self.tx.send(Cmd::Pause {
            call,
            paused,
            now: Instant::now(),
        });
        Ok(())
    }

    /// A key pressed in a call: the pause code toggles a recording's pause,
    /// the start code asks for an on-demand recording.
    fn note_key(&mut self, call: CallId, digit: char) {
        if self.started.contains(&call) {
            let Some(code) = self.pause_code.as_deref() else {
                return;
            };
            if typed_code(self.keys.entry(call).or_default(), code, digit) {
                let pause = !self.paused.contains(&call);
                if let Err(e) = self.set_paused(call, pause) {
                    tracing::debug!(%call, error = %e, "pause code ignored");
                }
            }
            return;
        }
        let (Some(code), Some(live)) =
            (self.policy.start_code.as_deref(), self.calls.get_mut(&call))
        else {
            return;
        };
        if typed_code(&mut live.start_typed, code, digit) {
            self.to_start.push((call, Trigger::Code));
        }
    }

    /// A new call: its dial-plan entry, dialed user, trunk or queue.
    fn note_created(&mut self, call: CallId, caller: &str, callee: &str, unix_ms: u64) {
        let mut live = Live {
            parties: Parties {
                caller: Some(caller.to_owned()),
                callee: Some(callee.to_owned()),
                ..Parties::default()
            },
            users: vec![caller.to_owned(), callee.to_owned()],
            ..Live::default()
        };
        let plan = self.dialplan.read().clone();
        if let Some(entry) = plan.entry_for(callee, unix_ms / 1000) {
            live.entry = entry.recording;
            match entry.apply(callee) {
                Some(Route::User(u)) => live.users.push(u),
                Some(Route::Trunk { trunk, .. }) => live.route_trunk = Some(trunk),
                Some(Route::Queue { queue, .. }) => live.route_queue = Some(queue),
                Some(Route::Conference { room, .. }) => live.room = Some(room),
                _ => {}
            }
        }
        self.calls.insert(call, live);
    }

    /// An engine event of this step.
    pub fn note_event(&mut self, ev: &EngineEvent) {
        let EngineEventKind::Call(call) = &ev.kind else {
            return;
        };
        match &call.kind {
            CallEventKind::Created { caller, callee } => {
                self.note_created(call.call, caller, callee, call.unix_ms);
            }
            CallEventKind::Bridged { .. } => self.to_start.push((call.call, Trigger::Bridged)),
            CallEventKind::Answered => self.to_join.push(call.call),
            CallEventKind::Dtmf { digit, .. } => self.note_key(call.call, *digit),
            CallEventKind::Ended { .. } => self.to_stop.push(call.call),
            _ => {}
        }
    }

    /// A queue event of this step: a connected agent names queue and agent
    /// (and makes the call recordable under `mode = "queues"`).
    pub fn note_queue_event(&mut self, ev: &acd::QueueEvent) {
        let (acd::EventKind::Connect { .. }, Some(call)) = (&ev.kind, ev.call) else {
            return;
        };
        let call = CallId(call.0);
        let live = self.calls.entry(call).or_default();
        live.parties.queue = ev.queue.as_ref().map(ToString::to_string);
        live.parties.agent = ev.agent.as_ref().map(ToString::to_string);
        live.users.extend(live.parties.agent.clone());
        live.queue_connected = true;
        self.to_start.push((call, Trigger::Queue));
    }

    /// The policy levels of `call` now.
    fn levels(&self, call: CallId, engine: &Engine) -> Levels {
        let Some(live) = self.calls.get(&call) else {
            return Levels::default();
        };
        let mode = match self.mode {
            RecordingMode::Off => None,
            RecordingMode::Always => Some(Policy::Always),
            RecordingMode::Queues => live.queue_connected.then_some(Policy::Always),
            RecordingMode::OnDemand => Some(Policy::OnDemand),
        };
        let trunk = engine
            .call_trunk(call)
            .or(live.route_trunk.as_deref())
            .and_then(|t| self.policy.trunks.get(t).copied());
        let user = combine(
            live.users
                .iter()
                .filter_map(|u| self.policy.users.get(u).copied()),
        );
        let queue = live
            .parties
            .queue
            .as_deref()
            .or(live.route_queue.as_deref())
            .and_then(|q| self.policy.queues.get(q).copied());
        Levels {
            mode,
            entry: live.entry,
            trunk,
            user,
            queue,
        }
    }

    /// After the step's records are queued: starts the recordings the
    /// calls' policies call for (on their relay sessions), then stops those
    /// of the calls that ended.
    pub fn flush(&mut self, engine: &Engine, now: Instant) {
        for (call, trigger) in std::mem::take(&mut self.to_start) {
            let policy = resolve(&self.levels(call, engine));
            let started = self.started.contains(&call);
            if policy == Some(Policy::Never) {
                if started {
                    // A later level (the queue that answered) says never.
                    tracing::info!(%call, "recording policy is never: recording stopped");
                    self.started.remove(&call);
                    let _ = self.tx.send(Cmd::Stop { call, now });
                }
                continue;
            }
            let go = started
                || policy == Some(Policy::Always)
                || (policy == Some(Policy::OnDemand) && trigger == Trigger::Code);
            if !go {
                continue;
            }
            let Some(relay) = engine.relay_session(call) else {
                tracing::debug!(%call, "bridged call without relayed media: not recorded");
                continue;
            };
            if trigger == Trigger::Code {
                tracing::info!(%call, "on-demand recording started by the start code");
            }
            self.started.insert(call);
            let parties = self
                .calls
                .get(&call)
                .map(|l| l.parties.clone())
                .unwrap_or_default();
            let _ = self.tx.send(Cmd::Start {
                call,
                relay,
                parties,
            });
        }
        self.flush_rooms(engine, now);
        for call in std::mem::take(&mut self.to_stop) {
            self.calls.remove(&call);
            self.paused.remove(&call);
            self.keys.remove(&call);
            if self.started.remove(&call) {
                let _ = self.tx.send(Cmd::Stop { call, now });
            }
        }
    }

    /// Conference rooms (SPEC §22): a room is recorded as one mix while a
    /// call whose policy is `always` is in it; its session's recording ends
    /// when the last such call ends.
    fn flush_rooms(&mut self, engine: &Engine, now: Instant) {
        for call in std::mem::take(&mut self.to_join) {
            let Some(room) = self.calls.get(&call).and_then(|l| l.room.clone()) else {
                continue;
            };
            if resolve(&self.levels(call, engine)) != Some(Policy::Always) {
                continue;
            }
            let members = self.rooms.entry(room.clone()).or_default();
            if members.is_empty() {
                let _ = self.tx.send(Cmd::StartRoom { room });
            }
            members.insert(call);
        }
        for call in &self.to_stop {
            let Some(room) = self.calls.get(call).and_then(|l| l.room.as_ref()) else {
                continue;
            };
            let Some(members) = self.rooms.get_mut(room) else {
                continue;
            };
            if members.remove(call) && members.is_empty() {
                let room = room.clone();
                self.rooms.remove(&room);
                let _ = self.tx.send(Cmd::StopRoom { room, now });
            }
        }
    }

    /// A recording tap the relay removed: its sink goes to the recorder
    /// thread (never dropped on the driver's thread).
    pub fn record_stopped(&self, stopped: RecordStopped) {
        let _ = self.tx.send(Cmd::Stopped(stopped));
    }
}

#[cfg(test)]
mod tests {
    use super::typed_code;

    #[test]
    fn codes_are_matched_across_stray_keys() {
        let mut t = String::new();
        assert!(!typed_code(&mut t, "*2", '5'));
        assert!(!typed_code(&mut t, "*2", '*'));
        assert!(!typed_code(&mut t, "*2", '*'));
        assert!(typed_code(&mut t, "*2", '2'));
        assert!(t.is_empty());
        assert!(!typed_code(&mut t, "*2", '2'));
    }
}
