//! The call engine's driver: one thread owns the [`Engine`] and feeds it —
//! SIP messages, commands and HTTP job results from its [`EngineHandle`]
//! queue, timers at [`Engine::poll_timeout`], pbx's media endpoints' events
//! and the relay's key presses and final stats on a short tick. After every
//! input it drains the engine: datagrams to the transports, HTTP jobs to the
//! job runner, and the numbered events to
//! - the CDR writer, as one batch per step, so records, media quality and
//!   the durable outbox rows (`store/outbox.rs`) of that step commit in one
//!   transaction;
//! - the in-process [`EventBus`] of live views (lossy by design).
//!
//! [`EngineHandle`]: crate::b2bua::EngineHandle

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use sip_stack::transport::Transports;

use crate::b2bua::engine::{HttpJob, Services};
use crate::b2bua::media::{EndpointService, MediaEndpoints};
use crate::b2bua::{CallEventKind, Engine, EngineEvent, EngineEventKind, EngineInput, EventBus};
use crate::media_anchor::MediaAnchor;
use crate::metrics::Metrics;
use crate::routing::RoutingContext;
use crate::sans_io::Clock;
use crate::sans_io::Outbox;
use crate::store::{CdrQueue, OutboxEvent, StepWrite};

/// How often media events, relay key presses are looked at when no input
/// or timer wakes the driver sooner.
const MEDIA_TICK: Duration = Duration::from_millis(5);
/// How often the relay's closed sessions (final stats) are collected.
const RELAY_STATS_TICK: Duration = Duration::from_millis(50);
/// Inputs handled before the driver drains and looks at its timers.
const BATCH: usize = 64;

/// What the driver owns besides the engine.
pub(super) struct EngineDriver {
    pub(super) engine: Engine,
    pub(super) inputs: Receiver<EngineInput>,
    pub(super) routing: RoutingContext,
    pub(super) anchor: Option<Arc<MediaAnchor>>,
    pub(super) endpoints: Option<Arc<EndpointService>>,
    pub(super) transports: Transports,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    /// HTTP jobs for the runner task (`server/ivr.rs`).
    pub(super) jobs: tokio::sync::mpsc::UnboundedSender<HttpJob>,
    pub(super) records: CdrQueue,
    pub(super) bus: EventBus,
    /// The contact-center engine (None: no `[[queues]]`).
    pub(super) acd: Option<crate::queues::AcdHost>,
    /// Queue names, in configuration order (live views).
    pub(super) queue_names: Vec<String>,
    /// Call recording (None: `recording.mode = "off"`).
    pub(super) recording: Option<crate::recording::RecordingHook>,
    /// Quick callbacks of missed calls in progress.
    pub(super) quick: super::quick_callbacks::QuickCallbacks,
}

impl EngineDriver {
    /// Starts the driver thread; it ends after [`EngineInput::Stop`] (or
    /// when every handle is gone), having delivered the last events.
    pub(super) fn spawn(self) -> JoinHandle<()> {
        std::thread::Builder::new()
            .name("pbx-engine".into())
            .spawn(move || self.run())
            .expect("spawning the engine thread")
    }

    fn run(mut self) {
        let mut out: Outbox = Vec::new();
        let mut last_stats = Instant::now();
        loop {
            let now = self.clock.now();
            let wait = self
                .engine
                .poll_timeout()
                .map_or(MEDIA_TICK, |t| t.saturating_duration_since(now.instant))
                .min(MEDIA_TICK);
            let wait = match self.acd.as_ref().and_then(|a| a.poll_timeout()) {
                Some(at) => wait.min(Duration::from_millis(at.saturating_sub(now.mono_ms))),
                None => wait,
            };
            let mut stop = false;
            match self.inputs.recv_timeout(wait) {
                Ok(input) => {
                    stop |= self.handle(input, &mut out);
                    for _ in 0..BATCH {
                        if stop {
                            break;
                        }
                        let Ok(input) = self.inputs.try_recv() else {
                            break;
                        };
                        stop |= self.handle(input, &mut out);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            self.media(&mut out);
            if last_stats.elapsed() >= RELAY_STATS_TICK {
                last_stats = Instant::now();
                self.relay_stats();
            }
            let now = self.clock.now();
            if let Some(acd) = &mut self.acd {
                acd.handle_timeout(acd_now(&now));
            }
            if self.engine.poll_timeout().is_some_and(|t| t <= now.instant) {
                let router = self.routing.router(now.unix_secs, None, false);
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine.handle_timeout(now.instant, svc, &mut out);
            }
            self.drain(&mut out);
            if stop {
                tracing::debug!(live = self.engine.len(), "engine driver stopped");
                return;
            }
        }
    }

    /// One input; true for [`EngineInput::Stop`].
    fn handle(&mut self, input: EngineInput, out: &mut Outbox) -> bool {
        let now = self.clock.now();
        match input {
            EngineInput::Sip {
                msg,
                peer,
                source_trunk,
                may_call_out,
            } => {
                let router = self
                    .routing
                    .router(now.unix_secs, source_trunk, may_call_out);
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine.handle_message(now.instant, msg, peer, svc, out);
            }
            EngineInput::HttpResult { job, outcome } => {
                let router = self.routing.router(now.unix_secs, None, false);
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine
                    .handle_http_result(now.instant, job.call, job.id, outcome, svc, out);
            }
            EngineInput::Command { command, reply } => {
                let router = self.routing.router(now.unix_secs, None, false);
                let svc = services(&router, &self.anchor, &self.endpoints);
                let result = self.engine.handle_command(now.instant, command, svc, out);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            EngineInput::Originate {
                request,
                missed,
                reply,
            } => {
                // The number may leave through a trunk, as a user's call may.
                let router = self.routing.router(now.unix_secs, None, true);
                let svc = services(&router, &self.anchor, &self.endpoints);
                let agent = request.agent.clone();
                let result = self.engine.originate(now.instant, request, svc, out);
                if let (Ok(call), Some(missed)) = (&result, missed) {
                    self.quick.placed(*call, missed, agent);
                }
                let _ = reply.send(result);
            }
            EngineInput::RecordingPause {
                call,
                paused,
                reply,
            } => {
                let result = match &mut self.recording {
                    Some(rec) => rec.set_paused(call, paused).map_err(|e| e.to_string()),
                    None => Err("recording is off (recording.mode = \"off\")".to_owned()),
                };
                let _ = reply.send(result);
            }
            EngineInput::LiveCalls(reply) => {
                let _ = reply.send(self.engine.live_calls(now.instant));
            }
            EngineInput::Agent { agent, op, reply } => {
                let result = match (&mut self.acd, crate::queues::AgentOp::parse(&op)) {
                    (None, _) => Err("no queues are configured ([[queues]])".to_owned()),
                    (_, None) => Err(format!(
                        "unknown agent operation `{op}`: use login, logout, break[:REASON] or ready"
                    )),
                    (Some(acd), Some(op)) => acd
                        .handle_agent(acd_now(&now), &agent, &op)
                        .map_err(|e| e.to_string()),
                };
                let _ = reply.send(result);
            }
            EngineInput::AcdStatus(reply) => {
                let status = match &self.acd {
                    Some(acd) => serde_json::json!({
                        "queues": acd.queues(&self.queue_names),
                        "agents": acd.agents(),
                    }),
                    None => serde_json::json!({ "queues": [], "agents": [] }),
                };
                let _ = reply.send(status);
            }
            EngineInput::ReloadAcd { settings, reply } => {
                let _ = reply.send(self.reload_acd(&settings, &now));
            }
            EngineInput::Stop => return true,
        }
        // Send as we go: a batch of inputs must not hold back the first answers.
        self.send(out);
        false
    }

    /// pbx's media endpoints' events and the key presses the relay saw.
    fn media(&mut self, out: &mut Outbox) {
        let now = self.clock.now();
        let router = self.routing.router(now.unix_secs, None, false);
        if let Some(eps) = &self.endpoints {
            while let Some(ev) = eps.poll_event() {
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine.handle_media_event(now.instant, ev, svc, out);
            }
        }
        if let Some(anchor) = &self.anchor {
            for dtmf in anchor.poll_dtmf() {
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine.handle_relay_dtmf(now.instant, dtmf, svc, out);
            }
            for ended in anchor.poll_webrtc_ended() {
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine
                    .handle_webrtc_ended(now.instant, &ended, svc, out);
            }
        }
    }

    /// Final stats of the relay sessions that closed.
    fn relay_stats(&mut self) {
        if let Some(anchor) = &self.anchor {
            for (id, stats) in anchor.poll_closed() {
                let q = [(&stats.0).into(), (&stats.1).into()];
                self.engine.handle_relay_closed(id, q);
            }
            for stopped in anchor.poll_record_stopped() {
                if let Some(rec) = &self.recording {
                    rec.record_stopped(stopped);
                }
            }
        }
    }

    /// Queue calls' requests to the ACD and its decisions back to the
    /// calls, until neither side has more to say.
    fn exchange_with_acd(&mut self, out: &mut Outbox) {
        let Some(acd) = &mut self.acd else {
            // Without queues no call asks (routing refuses queue targets).
            while self.engine.poll_acd_request().is_some() {}
            return;
        };
        for _ in 0..64 {
            let now = self.clock.now();
            let mut idle = true;
            while let Some((call, request)) = self.engine.poll_acd_request() {
                idle = false;
                acd.handle_request(acd_now(&now), call, request);
            }
            while let Some((call, event)) = acd.poll_call_event() {
                idle = false;
                let router = self.routing.router(now.unix_secs, None, false);
                let svc = services(&router, &self.anchor, &self.endpoints);
                self.engine
                    .handle_acd_event(now.instant, call, event, svc, out);
            }
            while let Some(cb) = acd.poll_callback_call() {
                idle = false;
                // The customer's number may leave through a trunk.
                let router = self.routing.router(now.unix_secs, None, true);
                let svc = services(&router, &self.anchor, &self.endpoints);
                let request = crate::b2bua::Originate {
                    agent: cb.agent.clone(),
                    number: cb.number.clone(),
                    ring: cb.ring,
                };
                let result = self
                    .engine
                    .originate(now.instant, request, svc, out)
                    .map_err(|e| e.to_string());
                acd.callback_placed(acd_now(&now), cb, result);
            }
            while let Some(call) = acd.poll_hangup() {
                idle = false;
                let router = self.routing.router(now.unix_secs, None, false);
                let svc = services(&router, &self.anchor, &self.endpoints);
                let command = crate::b2bua::Command::Hangup(call);
                if let Err(e) = self.engine.handle_command(now.instant, command, svc, out) {
                    tracing::debug!(%call, error = %e, "callback call not hung up");
                }
            }
            if idle {
                return;
            }
        }
        tracing::warn!(
            "engine and ACD kept talking for 64 rounds; the rest waits for the next step"
        );
    }

    /// Everything the engine produced: datagrams, jobs, events.
    fn drain(&mut self, out: &mut Outbox) {
        self.exchange_with_acd(out);
        self.send(out);
        while let Some(job) = self.engine.poll_job() {
            if self.jobs.send(job).is_err() {
                tracing::warn!("no HTTP job runner: job dropped");
            }
        }
        let mut writes = Vec::new();
        while let Some(ev) = self.engine.poll_event() {
            self.metrics.engine_events.inc();
            if let (Some(acd), EngineEventKind::Call(call)) = (&mut self.acd, &ev.kind) {
                let now = acd_now(&self.clock.now());
                match &call.kind {
                    CallEventKind::Created { caller, callee } => {
                        acd.note_call_start(now, call.call, caller, callee)
                    }
                    CallEventKind::Dialing { .. } => acd.note_dialing(now, call.call),
                    CallEventKind::Answered => acd.note_answered(now, call.call),
                    CallEventKind::Ended { .. } => acd.note_call_end(now, call.call),
                    _ => {}
                }
            }
            if let Some(rec) = &mut self.recording {
                rec.note_event(&ev);
            }
            if let EngineEventKind::Record(record) = &ev.kind {
                self.quick.on_record(record, &mut writes);
            }
            deliver(ev, &mut writes, &self.bus);
        }
        if let Some(acd) = &mut self.acd {
            while let Some(ev) = acd.poll_event() {
                if let Some(rec) = &mut self.recording {
                    rec.note_queue_event(&ev);
                }
                deliver_queue_event(ev, &mut writes);
            }
        }
        self.records.step(writes);
        // After the records: a recording's state is written onto its call's record.
        if let Some(rec) = &mut self.recording {
            rec.flush(&self.engine, self.clock.now().instant);
        }
    }

    fn send(&self, out: &mut Outbox) {
        for (peer, data) in out.drain(..) {
            if let Err(e) = self.transports.send(&peer, data) {
                self.metrics.send_errors.inc();
                tracing::debug!(%peer, error = %e, "send failed");
            }
        }
    }
}

/// The ACD's clock reading: the driver's monotonic and wall clocks.
pub(super) fn acd_now(now: &crate::sans_io::Now) -> acd::Now {
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(now.unix_secs * 1000, |d| d.as_millis() as u64);
    acd::Now::new(now.mono_ms, unix_ms)
}

/// A queue event to its table and to the outbox (`queue.enter`, ...,
/// `agent.state` for agent state changes).
fn deliver_queue_event(ev: acd::QueueEvent, writes: &mut Vec<StepWrite>) {
    let kind = match &ev.kind {
        acd::EventKind::AgentState(_) => "agent.state".to_owned(),
        k => format!("queue.{}", k.name()),
    };
    let payload = serde_json::to_value(&ev)
        .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }));
    writes.push(StepWrite::Event(OutboxEvent {
        event_id: format!("qev_{}_{}", ev.at_unix_ms, ev.seq),
        call_id: ev.call.map(|c| c.to_string()).unwrap_or_default(),
        kind,
        at_ms: ev.at_unix_ms,
        payload,
    }));
    writes.push(StepWrite::Queue(Box::new(ev)));
}

fn services<'a>(
    router: &'a dyn crate::b2bua::engine::Router,
    anchor: &'a Option<Arc<MediaAnchor>>,
    endpoints: &'a Option<Arc<EndpointService>>,
) -> Services<'a> {
    Services {
        router,
        anchor: anchor
            .as_deref()
            .map(|a| a as &dyn crate::media_anchor::MediaRelay),
        endpoints: endpoints.as_deref().map(|e| e as &dyn MediaEndpoints),
    }
}

/// One engine event to its consumers: call events to the live bus and the
/// outbox; a record to the records table, attached to its `call.ended`
/// outbox row (which precedes it in the same step); quality to the record.
pub(super) fn deliver(ev: EngineEvent, writes: &mut Vec<StepWrite>, bus: &EventBus) {
    match ev.kind {
        EngineEventKind::Call(call) => {
            let id = call.call.to_string();
            writes.push(StepWrite::Event(OutboxEvent {
                event_id: format!("evt_{id}_{}", ev.seq),
                call_id: id,
                kind: call.name().to_owned(),
                at_ms: call.unix_ms,
                payload: call.to_json(),
            }));
            bus.publish(call);
        }
        EngineEventKind::Record(record) => {
            let ended = writes.iter_mut().rev().find_map(|w| match w {
                StepWrite::Event(e) if e.kind == "call.ended" && e.call_id == record.call_id => {
                    Some(e)
                }
                _ => None,
            });
            match (ended, serde_json::to_value(&*record)) {
                (Some(e), Ok(json)) => {
                    if let Some(obj) = e.payload.as_object_mut() {
                        obj.insert("record".into(), json);
                    }
                }
                (None, _) => {
                    tracing::debug!(call = %record.call_id, "record without its call.ended event in the step")
                }
                (_, Err(e)) => tracing::warn!(error = %e, "call record not serializable"),
            }
            writes.push(StepWrite::Record(record));
        }
        EngineEventKind::Quality { call_id, legs } => {
            writes.push(StepWrite::Quality(call_id, legs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b2bua::call::{Disposition, HangupCause, Side};
    use crate::b2bua::cdr::CallRecord;
    use crate::b2bua::{CallEvent, CallEventKind, CallId};
    use crate::store::{CdrFilter, CdrWriter, Store};

    fn call_event(seq: u64, kind: CallEventKind) -> EngineEvent {
        EngineEvent {
            seq,
            kind: EngineEventKind::Call(CallEvent {
                call: CallId(0xab),
                unix_ms: 1_000 + seq,
                kind,
            }),
        }
    }

    fn record() -> CallRecord {
        CallRecord {
            call_id: CallId(0xab).to_string(),
            caller: "1001".into(),
            callee: "1002".into(),
            direction: "internal".into(),
            did: None,
            trunk: None,
            caller_e164: None,
            callee_e164: None,
            start_ms: 1_000,
            ring_ms: Some(1_001),
            answer_ms: Some(1_002),
            end_ms: 9_000,
            duration_s: 8,
            billsec: 8,
            disposition: "ANSWERED".into(),
            hangup_cause: "call.normal".into(),
            hangup_side: "caller".into(),
            hold_s: 0,
            legs: Vec::new(),
        }
    }

    #[test]
    fn one_step_commits_its_events_and_the_record_together_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.sqlite");
        let writer = CdrWriter::start(Store::open(&path).unwrap(), Duration::from_millis(10));
        let bus = EventBus::default();
        let mut live = bus.subscribe();
        let mut writes = Vec::new();
        for ev in [
            call_event(
                1,
                CallEventKind::Created {
                    caller: "1001".into(),
                    callee: "1002".into(),
                },
            ),
            call_event(2, CallEventKind::Answered),
            call_event(
                3,
                CallEventKind::Ended {
                    cause: HangupCause::Normal,
                    side: Side::Caller,
                    disposition: Disposition::Answered,
                },
            ),
            EngineEvent {
                seq: 4,
                kind: EngineEventKind::Record(Box::new(record())),
            },
        ] {
            deliver(ev, &mut writes, &bus);
        }
        writer.queue().step(writes);
        writer.shutdown();

        let store = Store::open(&path).unwrap();
        let events = store.events_after(0, None, 10).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.event.kind.as_str()).collect();
        assert_eq!(kinds, ["call.created", "call.answered", "call.ended"]);
        assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
        let ended = &events[2].event;
        assert_eq!(ended.event_id, "evt_c00000000000000ab_3");
        assert_eq!(ended.payload["cause"], "call.normal");
        assert_eq!(ended.payload["record"]["billsec"], 8, "{}", ended.payload);
        assert_eq!(events[0].event.payload["caller"], "1001");
        let cdrs = store.query_cdrs(&CdrFilter::default()).unwrap();
        assert_eq!(cdrs.len(), 1);
        assert_eq!(cdrs[0].record, record());
        // Later positions only, and one call's events only.
        assert_eq!(
            store.events_after(events[1].seq, None, 10).unwrap().len(),
            1
        );
        assert!(store
            .events_after(0, Some("c0000000000000001"), 10)
            .unwrap()
            .is_empty());
        // The live bus saw the three call events.
        assert_eq!(std::iter::from_fn(|| live.try_recv().ok()).count(), 3);
    }

    #[test]
    fn a_step_written_twice_keeps_one_copy_of_each_event() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("pbx.sqlite")).unwrap();
        let mut writes = Vec::new();
        deliver(
            call_event(1, CallEventKind::Ringing),
            &mut writes,
            &EventBus::default(),
        );
        let e = match &writes[0] {
            StepWrite::Event(e) => e.clone(),
            other => panic!("{other:?}"),
        };
        store.insert_events(&[e.clone(), e]).unwrap();
        assert_eq!(store.events_after(0, None, 10).unwrap().len(), 1);
    }
}
