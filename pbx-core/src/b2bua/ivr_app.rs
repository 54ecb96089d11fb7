//! IVR flows on live calls: the [`IvrApp`] application runs one call
//! through an [`ivr::Interpreter`].
//!
//! On the caller's INVITE the call is answered by pbx's media endpoint
//! ([`Action::AnswerMedia`]) and the flow starts. Interpreter actions become
//! engine actions (play, stop, POST, record, transfer, hang up) and leg
//! events come back as interpreter events (prompt finished, DTMF, http
//! result, recording done, hangup). Timers are the interpreter's own: its
//! deadline (a local wall-clock [`ivr::Time`]) is turned into an `Instant`
//! through the last [`AppView::now`] reading.
//!
//! Transfers: an extension or an external number releases the media
//! endpoint and dials the number like a new call (dial plan, registrar);
//! when it answers the caller is bridged to it and the call continues as a
//! plain [`Bridge`] (hold, REFER, hangups). When it fails the caller is hung
//! up (transfer nodes have no exits). `flow:NAME` switches flows on the same
//! call; `queue:NAME` hands the caller to that queue (`QueueApp`).
//!
//! Every flow a call went through leaves one trajectory part, handed to the
//! [`TrajectorySink`] as soon as it is final.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use ivr::{Calendar, CallContext, Flow, Interpreter, Outcome, Trajectory, TransferTarget};

use super::app::{Action, AppView, Application, HttpOutcome, LegEvent, LegState};
use super::bridge::Bridge;
use super::call::{CallInput, HangupCause, Side};
use super::{LegId, Timestamp};

/// The loaded flows, shared between the router (new calls, flow switches)
/// and the reload watcher.
pub type SharedFlows = Arc<parking_lot::RwLock<ivr::FlowRegistry>>;

/// One flow's trajectory within a call, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryRecord {
    /// The call's id as the CDR shows it (`c…`).
    pub call_id: String,
    /// 0 for the first flow of the call, +1 per `flow:` transfer.
    pub part: u32,
    /// The trajectory (outcome set).
    pub trajectory: Trajectory,
}

/// Where finished trajectories go. Must not block (the SQLite sink queues).
pub trait TrajectorySink: Send + Sync {
    /// A finished trajectory part.
    fn write_trajectory(&self, record: TrajectoryRecord);
}

/// Trajectories kept in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryTrajectorySink {
    /// Written records, in order.
    pub records: parking_lot::Mutex<Vec<TrajectoryRecord>>,
}

impl TrajectorySink for MemoryTrajectorySink {
    fn write_trajectory(&self, record: TrajectoryRecord) {
        self.records.lock().push(record);
    }
}

/// What every IVR call needs from the server.
#[derive(Clone)]
pub struct IvrServices {
    /// The flows.
    pub flows: SharedFlows,
    /// Where trajectories go.
    pub sink: Arc<dyn TrajectorySink>,
    /// Local time of flow conditions, seconds east of UTC.
    pub utc_offset_secs: i32,
}

/// Engine ids of plays and http requests: the flow part in the high 32 bits
/// (a flow switch makes late events of the old flow stale), the
/// interpreter's id in the low bits.
const PART_SHIFT: u32 = 32;

/// Most `flow:` transfers in one call: flows that hand the call back and
/// forth without waiting would otherwise never end.
pub const MAX_FLOW_SWITCHES: u32 = 16;

enum Phase {
    /// The flow runs.
    Flow,
    /// The flow transferred; the new leg has not answered yet.
    Transferring(TransferTarget),
    /// The caller is bridged to the transfer target.
    Bridged(Bridge),
    /// Nothing left to do.
    Done,
}

/// The IVR application; see the module docs.
pub struct IvrApp {
    svc: IvrServices,
    interp: Interpreter,
    part: u32,
    /// The current part was handed to the sink.
    stored: bool,
    phase: Phase,
    /// The engine clock at the last event (deadline conversion).
    last: Option<Timestamp>,
}

impl IvrApp {
    /// Runs `flow` (the version current now: reloads do not touch this call).
    pub fn new(svc: IvrServices, flow: Arc<Flow>) -> Self {
        let interp = Interpreter::new(flow, CallContext::default(), Calendar::default());
        Self {
            svc,
            interp,
            part: 0,
            stored: false,
            phase: Phase::Flow,
            last: None,
        }
    }

    /// The flow this call runs now.
    pub fn flow(&self) -> &Arc<Flow> {
        self.interp.flow()
    }

    fn local(&self, ts: Timestamp) -> ivr::Time {
        let off = FixedOffset::east_opt(self.svc.utc_offset_secs)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC is a valid offset"));
        DateTime::from_timestamp_millis(i64::try_from(ts.unix_ms).unwrap_or(i64::MAX))
            .unwrap_or(DateTime::UNIX_EPOCH)
            .with_timezone(&off)
    }

    fn context(view: &AppView<'_>, flow: &Flow) -> CallContext {
        let mut ctx = CallContext {
            call_id: view.call.id().to_string(),
            caller: view.call.caller().to_owned(),
            callee: view.call.callee().to_owned(),
            ..CallContext::default()
        };
        ctx.vars.insert("flow".into(), flow.name.clone());
        ctx
    }

    /// Starts flow `flow` as the next part of the call.
    fn start_flow(&mut self, view: &AppView<'_>, flow: Arc<Flow>, out: &mut Vec<Action>) {
        let ctx = Self::context(view, &flow);
        self.interp = Interpreter::new(flow, ctx, Calendar::default());
        self.stored = false;
        self.phase = Phase::Flow;
        self.interp.start(self.local(view.now));
        self.drain(view, out);
    }

    fn engine_id(&self, id: u64) -> u64 {
        (u64::from(self.part) << PART_SHIFT) | (id & 0xffff_ffff)
    }

    /// The interpreter id of an engine id of the current part.
    fn interp_id(&self, id: u64) -> Option<u64> {
        (id >> PART_SHIFT == u64::from(self.part)).then_some(id & 0xffff_ffff)
    }

    /// Performs the interpreter's actions.
    fn drain(&mut self, view: &AppView<'_>, out: &mut Vec<Action>) {
        let leg = LegId::CALLER;
        while let Some(action) = self.interp.poll_action() {
            match action {
                ivr::Action::Play { id, prompts, .. } => out.push(Action::Play {
                    leg,
                    id: self.engine_id(id.0),
                    prompts,
                    repeat: false,
                }),
                ivr::Action::StopPlayback { id } => out.push(Action::StopPlay {
                    leg,
                    id: self.engine_id(id.0),
                }),
                // DTMF always arrives; the interpreter keeps type-ahead itself.
                ivr::Action::StartCollecting | ivr::Action::StopCollecting => {}
                ivr::Action::HttpRequest {
                    id,
                    url,
                    body_json,
                    timeout,
                } => out.push(Action::Http {
                    id: self.engine_id(id.0),
                    url,
                    body_json,
                    timeout,
                }),
                ivr::Action::StartRecording { beep, max_duration } => {
                    out.push(Action::StartRecording {
                        leg,
                        beep,
                        max: max_duration,
                    })
                }
                ivr::Action::StopRecording => out.push(Action::StopRecording { leg }),
                ivr::Action::Transfer { target } => {
                    // The flow is over: whatever follows runs a new part or the transfer.
                    return self.transfer(view, target, out);
                }
                ivr::Action::Hangup { .. } => {
                    self.store(None);
                    self.phase = Phase::Done;
                    out.push(Action::Hangup(leg));
                    out.push(Action::Call(CallInput::Hangup(
                        HangupCause::Normal,
                        Side::Pbx,
                    )));
                }
                other => {
                    tracing::debug!(call = %view.call.id(), action = ?other, "IVR action ignored")
                }
            }
        }
        if self.interp.is_finished() && matches!(self.phase, Phase::Flow) {
            // Abandoned (the caller hung up): the engine ends the call.
            self.store(None);
            self.phase = Phase::Done;
        }
    }

    fn transfer(&mut self, view: &AppView<'_>, target: TransferTarget, out: &mut Vec<Action>) {
        let number = match &target {
            TransferTarget::Extension(n) | TransferTarget::External(n) => n.clone(),
            TransferTarget::Flow(name) => {
                let next = self.svc.flows.read().get(name);
                return match next {
                    Some(_) if self.part >= MAX_FLOW_SWITCHES => {
                        self.refuse(&target, "too many flow transfers in this call", out)
                    }
                    Some(flow) => {
                        self.store(None);
                        self.part += 1;
                        tracing::info!(call = %view.call.id(), flow = %name, "IVR switches flows");
                        self.start_flow(view, flow, out);
                    }
                    None => self.refuse(&target, "flow not loaded", out),
                };
            }
            TransferTarget::Queue(q) => {
                match queue_priority(self.interp.variables().get(PRIORITY_VAR)) {
                    Ok(Some(p)) => format!("queue:{q};priority={p}"),
                    Ok(None) => format!("queue:{q}"),
                    Err(bad) => {
                        tracing::warn!(call = %view.call.id(), queue = %q, value = %bad, "IVR variable `priority` is no number 0-255; the caller queues with priority 0");
                        format!("queue:{q}")
                    }
                }
            }
            _ => return self.refuse(&target, "SIP URI targets are not supported", out),
        };
        self.phase = Phase::Transferring(target.clone());
        out.push(Action::ReleaseMedia { leg: LegId::CALLER });
        out.push(Action::Call(CallInput::Transferred(target.to_string())));
        out.push(Action::DialNumber { number });
    }

    /// A transfer that cannot be made: the trajectory says why, the caller
    /// is hung up.
    fn refuse(&mut self, target: &TransferTarget, why: &str, out: &mut Vec<Action>) {
        let detail = format!("transfer to {target} refused: {why}");
        tracing::info!(%detail, "IVR transfer refused");
        self.store(Some((detail, Some("ivr.transfer_refused"))));
        self.phase = Phase::Done;
        out.push(Action::Hangup(LegId::CALLER));
        out.push(Action::Call(CallInput::Hangup(
            HangupCause::Normal,
            Side::Pbx,
        )));
    }

    /// Hands the current part to the sink once; `amend` adds a last entry
    /// (detail) and, with a reason, replaces the outcome with a hangup for
    /// that reason.
    fn store(&mut self, amend: Option<(String, Option<&str>)>) {
        if self.stored {
            return;
        }
        self.stored = true;
        let mut t = self.interp.trajectory().clone();
        if let Some((detail, reason)) = amend {
            let at = self.last.map(|ts| self.local(ts).to_utc());
            amend_trajectory(&mut t, at, detail, reason);
        }
        self.svc.sink.write_trajectory(TrajectoryRecord {
            call_id: t.call_id.clone(),
            part: self.part,
            trajectory: t,
        });
    }

    fn on_flow_event(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        let now = self.local(view.now);
        let ev = match event {
            LegEvent::Incoming { .. } => {
                out.push(Action::AnswerMedia { leg: LegId::CALLER });
                out.push(Action::Call(CallInput::Answered));
                let flow = Arc::clone(self.interp.flow());
                let ctx = Self::context(view, &flow);
                self.interp = Interpreter::new(flow, ctx, Calendar::default());
                self.interp.start(now);
                return self.drain(view, out);
            }
            LegEvent::Timer => {
                self.interp.handle_timeout(now);
                return self.drain(view, out);
            }
            // Keys typed into the flow (account numbers, PINs) stay out of
            // the event bus, like they stay out of the trajectory.
            LegEvent::Dtmf(leg, c) => match ivr::Digit::from_char(*c) {
                Some(d) if *leg == LegId::CALLER => ivr::Event::Digit(d),
                _ => return,
            },
            LegEvent::PlayDone(_, id) => match self.interp_id(*id) {
                Some(id) => ivr::Event::PromptFinished {
                    id: ivr::PlayId(id),
                },
                None => return,
            },
            LegEvent::HttpResult(id, outcome) => match self.interp_id(*id) {
                Some(id) => ivr::Event::HttpResult {
                    id: ivr::RequestId(id),
                    outcome: http_outcome(outcome),
                },
                None => return,
            },
            LegEvent::RecordDone { path, duration, .. } => ivr::Event::RecordFinished {
                reference: path.display().to_string(),
                duration: *duration,
            },
            LegEvent::Ended(leg) if *leg == LegId::CALLER => {
                self.interp.handle_event(now, ivr::Event::Hangup);
                self.drain(view, out);
                self.store(None);
                self.phase = Phase::Done;
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Normal,
                    Side::Caller,
                )));
                return;
            }
            LegEvent::Reoffer(leg, _) => {
                return out.push(Action::RejectReoffer {
                    leg: *leg,
                    status: 491,
                })
            }
            LegEvent::TransferRequested(leg, _) => {
                return out.push(Action::NotifyTransfer {
                    leg: *leg,
                    status: 501,
                })
            }
            _ => return,
        };
        self.interp.handle_event(now, ev);
        self.drain(view, out);
    }

    fn on_transfer_event(
        &mut self,
        view: &AppView<'_>,
        target: &TransferTarget,
        event: &LegEvent,
        out: &mut Vec<Action>,
    ) {
        match event {
            LegEvent::Answered(leg, sdp) => {
                self.store(None);
                // Normally the media endpoint answered the caller; if it
                // could not, the caller gets the target's answer now.
                let caller_answered = view
                    .legs
                    .iter()
                    .any(|l| l.id == LegId::CALLER && l.state == LegState::Answered);
                if !caller_answered {
                    out.push(Action::Answer {
                        leg: LegId::CALLER,
                        sdp: sdp.clone(),
                    });
                }
                for other in view.live_outbound().filter(|l| l != leg) {
                    out.push(Action::Hangup(other));
                }
                out.push(Action::Call(CallInput::Bridged(LegId::CALLER, *leg)));
                self.phase = Phase::Bridged(Bridge::bridged(*leg));
            }
            LegEvent::Failed(leg, status) if view.live_outbound().all(|l| l == *leg) => {
                self.store(Some((
                    format!("transfer to {target} failed ({status})"),
                    Some("ivr.transfer_failed"),
                )));
                self.phase = Phase::Done;
                out.push(Action::Hangup(LegId::CALLER));
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::of_status(*status),
                    Side::Callee,
                )));
            }
            LegEvent::HandedOver => {
                // The target is another application (a room, a flow behind
                // a number): the transfer happened.
                self.store(None);
                self.phase = Phase::Done;
            }
            LegEvent::Ended(leg) if *leg == LegId::CALLER => {
                self.store(Some((
                    format!("caller hung up during the transfer to {target}"),
                    None,
                )));
                for l in view.live_outbound() {
                    out.push(Action::Hangup(l));
                }
                self.phase = Phase::Done;
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Cancelled,
                    Side::Caller,
                )));
            }
            LegEvent::Reoffer(leg, _) => out.push(Action::RejectReoffer {
                leg: *leg,
                status: 491,
            }),
            LegEvent::TransferRequested(leg, _) => out.push(Action::NotifyTransfer {
                leg: *leg,
                status: 501,
            }),
            _ => {}
        }
    }
}

/// Appends a last entry to `t` saying `detail` (at `at`, default: the last
/// entry's time); with `reason`, the outcome becomes a hangup for that
/// reason (a transfer that did not happen).
fn amend_trajectory(
    t: &mut Trajectory,
    at: Option<DateTime<chrono::Utc>>,
    detail: String,
    reason: Option<&str>,
) {
    if let Some(last) = t.entries.last().cloned() {
        let at = at.unwrap_or(last.at).max(last.at);
        t.entries.push(ivr::TrajectoryEntry {
            seq: last.seq.saturating_add(1),
            at,
            event: if reason.is_some() {
                ivr::TrajectoryEvent::Hangup
            } else {
                ivr::TrajectoryEvent::Abandon
            },
            key: None,
            exit: None,
            callurl: None,
            detail: Some(detail),
            duration_ms: None,
            ..last
        });
    }
    if let Some(reason) = reason {
        t.outcome = Some(Outcome::Hangup {
            reason: Some(reason.to_owned()),
        });
    }
}

/// A call the engine ended without telling the application (shutdown,
/// signalling failure) still leaves its trajectory.
impl Drop for IvrApp {
    fn drop(&mut self) {
        if !self.stored && !self.interp.trajectory().entries.is_empty() {
            self.store(Some((
                "the call ended inside the flow".into(),
                Some("ivr.call_ended"),
            )));
        }
    }
}

fn http_outcome(o: &HttpOutcome) -> ivr::HttpOutcome {
    match o {
        HttpOutcome::Response { status, body } => ivr::HttpOutcome::Response {
            status: *status,
            body: body.clone(),
        },
        HttpOutcome::Failed(reason) => ivr::HttpOutcome::Failed {
            reason: reason.clone(),
        },
        HttpOutcome::TimedOut => ivr::HttpOutcome::TimedOut,
    }
}

impl Application for IvrApp {
    fn name(&self) -> &'static str {
        "ivr"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        self.last = Some(view.now);
        match &mut self.phase {
            Phase::Flow => self.on_flow_event(view, event, out),
            Phase::Transferring(target) => {
                let target = target.clone();
                self.on_transfer_event(view, &target, event, out);
            }
            Phase::Bridged(bridge) => bridge.handle(view, event, out),
            Phase::Done => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !matches!(self.phase, Phase::Flow) {
            return None;
        }
        let deadline = self.interp.poll_timeout()?;
        let last = self.last?;
        let ms = deadline.timestamp_millis() - i64::try_from(last.unix_ms).unwrap_or(i64::MAX);
        Some(last.instant + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }
}

/// The flow variable whose value is the caller's priority in a `queue:`
/// transfer (0 normal, up to 255; higher is served sooner).
pub const PRIORITY_VAR: &str = "priority";

/// Reads the `priority` variable: None when unset or empty, the text when it
/// is no number 0–255.
fn queue_priority(value: Option<&String>) -> Result<Option<u8>, String> {
    match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<u8>().map(Some).map_err(|_| v.to_owned()),
    }
}

#[cfg(test)]
#[path = "ivr_app_tests.rs"]
mod tests;
