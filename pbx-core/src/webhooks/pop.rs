//! From outbox rows to webhook events: the screen-pop `call.ringing`
//! (SPEC §7), `call.missed` (SPEC §10) and the pass-through of every other
//! event, each in the envelope `{"type", "timestamp", "data"}`.
//!
//! [`Enricher::plan`] reads what it needs from the store (the call's
//! `call.created` / `queue.enter` rows, its IVR trajectory, the number's
//! previous call record) and leaves the customer match open
//! ([`Planned::Pop`]); the worker runs the lookups of a batch concurrently
//! and [`PopDraft::finish`] renders the body.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::lookup::{CustomerMatch, LookupRequest};
use super::regions::RegionTable;
use super::TicketFlows;
use crate::store::{CallTicket, Store, StoreError, StoredEvent, WebhookEvent};

/// ISO 8601 (UTC, milliseconds) of Unix ms.
pub fn iso8601(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The envelope of every webhook body.
pub fn envelope(kind: &str, at_ms: u64, data: Value) -> String {
    json!({ "type": kind, "timestamp": iso8601(at_ms), "data": data }).to_string()
}

/// Live calls remembered at most (beyond, the memory is dropped and
/// rebuilt from the outbox).
const MAX_CALLS: usize = 200_000;

/// What the enricher knows of a live call.
#[derive(Debug, Clone, Default)]
struct CallInfo {
    caller: String,
    callee: String,
    service_number: Option<String>,
    queue: Option<String>,
    connected: bool,
    /// The user a direct call rings (an agent once answered).
    ringing: Option<String>,
    /// The agents the call reached, in order (SPEC §8.2 carry-over).
    agents: Vec<String>,
}

impl CallInfo {
    /// Adds an agent to the chain (not twice in a row).
    fn reached(&mut self, agent: &str) {
        if !agent.is_empty() && self.agents.last().map(String::as_str) != Some(agent) {
            self.agents.push(agent.to_owned());
        }
    }
}

/// The user a `call.transferred` target names (`carol`, `ext:1002`,
/// `sip:1002@host`); None for queues, flows and external numbers.
fn transfer_user(to: &str) -> Option<&str> {
    if to.starts_with("queue:") || to.starts_with("flow:") || to.starts_with("tel:") {
        return None;
    }
    let t = user_of(to.strip_prefix("ext:").unwrap_or(to));
    (!t.is_empty()).then_some(t)
}

/// A pop waiting for its customer match.
#[derive(Debug, Clone)]
pub struct PopDraft {
    /// `webhook-id` of the pop.
    pub event_id: String,
    /// The outbox row.
    pub source_seq: i64,
    /// The call.
    pub call_id: String,
    /// Ring time (Unix ms).
    pub at_ms: u64,
    /// The lookup to make.
    pub lookup: LookupRequest,
    /// The pop without `customer_match`.
    pub data: Value,
}

impl PopDraft {
    /// Sets `last_ticket` (SPEC §7: only once the customer is located,
    /// i.e. a unique match): the customer's newest ticket.
    pub fn set_last_ticket(&mut self, t: Option<&CallTicket>) {
        if let Some(obj) = self.data.as_object_mut() {
            obj.insert(
                "last_ticket".into(),
                t.map_or(
                    Value::Null,
                    |t| json!({ "ticket_no": t.ticket_id, "flow": t.flow, "call_id": t.call_id }),
                ),
            );
        }
    }

    /// The pop with its customer match.
    pub fn finish(mut self, m: &CustomerMatch) -> WebhookEvent {
        if let Some(obj) = self.data.as_object_mut() {
            obj.insert(
                "customer_match".into(),
                serde_json::to_value(m).unwrap_or(Value::Null),
            );
        }
        WebhookEvent {
            wseq: 0,
            event_id: self.event_id,
            source_seq: self.source_seq,
            order_key: self.call_id,
            kind: "call.ringing".into(),
            at_ms: self.at_ms,
            body: envelope("call.ringing", self.at_ms, self.data),
        }
    }
}

/// One outbox row's result.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Planned {
    /// A finished webhook event.
    Ready(WebhookEvent),
    /// A pop needing its lookup.
    Pop(PopDraft),
}

/// The `customer.matched` event of a late lookup.
pub fn customer_matched(draft: &PopDraft, m: &CustomerMatch, now_ms: u64) -> WebhookEvent {
    let data = json!({
        "call_id": draft.call_id,
        "agent": draft.lookup.agent,
        "caller": draft.lookup.number,
        "pop_id": draft.event_id,
        "customer_match": m,
    });
    WebhookEvent {
        wseq: 0,
        event_id: format!("match_{}", draft.event_id),
        source_seq: draft.source_seq,
        order_key: draft.call_id.clone(),
        kind: "customer.matched".into(),
        at_ms: now_ms,
        body: envelope("customer.matched", now_ms, data),
    }
}

/// Turns outbox rows into webhook events.
pub struct Enricher {
    regions: RegionTable,
    flows: TicketFlows,
    calls: HashMap<String, CallInfo>,
    /// The outbox row being planned (a rebuilt call info stops before it).
    current_seq: i64,
}

impl Enricher {
    /// An enricher over a region table.
    pub fn new(regions: RegionTable) -> Self {
        Self {
            regions,
            flows: TicketFlows::default(),
            calls: HashMap::new(),
            current_seq: i64::MAX,
        }
    }

    /// The ticket flows the pops name (SPEC §8.2).
    pub fn with_flows(mut self, flows: TicketFlows) -> Self {
        self.flows = flows;
        self
    }

    /// What `ev` gives (nothing, one or two events).
    pub fn plan(&mut self, store: &Store, ev: &StoredEvent) -> Result<Vec<Planned>, StoreError> {
        let e = &ev.event;
        let p = &e.payload;
        let call = e.call_id.clone();
        let mut out = Vec::new();
        self.current_seq = ev.seq;
        let pass = |kind: &str, data: &Value| {
            let order_key = if e.call_id.is_empty() {
                match p.get("agent").and_then(Value::as_str) {
                    Some(a) => format!("agent:{a}"),
                    None => kind.to_owned(),
                }
            } else {
                e.call_id.clone()
            };
            // Every event of a call names it as `call_id` (queue events
            // carry the ACD's number as `call`).
            let mut data = data.clone();
            if let Some(obj) = data.as_object_mut().filter(|_| !e.call_id.is_empty()) {
                obj.entry("call_id")
                    .or_insert_with(|| Value::String(e.call_id.clone()));
            }
            Planned::Ready(WebhookEvent {
                wseq: 0,
                event_id: e.event_id.clone(),
                source_seq: ev.seq,
                order_key,
                kind: kind.to_owned(),
                at_ms: e.at_ms,
                body: envelope(kind, e.at_ms, data),
            })
        };
        if self.calls.len() > MAX_CALLS {
            // Calls whose end this worker never saw (a crash meanwhile):
            // forget them all; what a live call needs is read back.
            self.calls.clear();
        }
        match e.kind.as_str() {
            "call.created" => {
                let info = self.calls.entry(call).or_default();
                info.caller = str_of(p, "caller");
                info.callee = str_of(p, "callee");
                out.push(pass(&e.kind, p));
            }
            "queue.enter" => {
                let info = self.info(store, &call)?;
                if let Some(n) = p.pointer("/kind/number").and_then(Value::as_str) {
                    info.caller = n.to_owned();
                }
                info.service_number = p
                    .pointer("/kind/service_number")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                info.queue = p.get("queue").and_then(Value::as_str).map(str::to_owned);
                out.push(pass(&e.kind, p));
            }
            "queue.offer" => {
                out.push(pass(&e.kind, p));
                let agent = p.get("agent").and_then(Value::as_str).map(str::to_owned);
                let queue = p.get("queue").and_then(Value::as_str).map(str::to_owned);
                let offer = p.pointer("/kind/offer").map(Value::to_string);
                let id = format!("pop_{call}_{}", offer.unwrap_or_else(|| ev.seq.to_string()));
                out.push(Planned::Pop(
                    self.pop(store, ev, id, agent, queue, "inbound")?,
                ));
            }
            "call.ringing" => {
                // A direct call ringing a user (a queued call is answered
                // by the queue first; its pop comes from `queue.offer`).
                let info = self.info(store, &call)?.clone();
                let direction = if store.user_realm(&info.caller)?.is_some() {
                    "internal"
                } else {
                    "inbound"
                };
                let agent = Some(info.callee.clone()).filter(|c| !c.is_empty());
                if store.user_realm(&info.callee)?.is_some() {
                    self.info(store, &call)?.ringing = agent.clone();
                }
                let id = format!("pop_{call}_ring");
                out.push(Planned::Pop(
                    self.pop(store, ev, id, agent, None, direction)?,
                ));
            }
            "call.answered" => {
                let info = self.info(store, &call)?;
                if let Some(a) = info.ringing.take() {
                    info.reached(&a);
                }
                out.push(pass(&e.kind, p));
            }
            "queue.connect" => {
                let info = self.info(store, &call)?;
                info.connected = true;
                if let Some(a) = p.get("agent").and_then(Value::as_str) {
                    info.reached(a);
                }
                out.push(pass(&e.kind, p));
            }
            "call.transferred" => {
                // A blind transfer (REFER, IVR, queue overflow) to a user:
                // the target's pop, carrying the earlier legs' context
                // (SPEC §8.2). The target's ringing is no event of its own
                // (the call was answered), so the pop leaves with the
                // transfer.
                out.push(pass(&e.kind, p));
                let to = str_of(p, "to");
                let target = transfer_user(&to).map(str::to_owned);
                if let Some(agent) = target {
                    if store.user_realm(&agent)?.is_some() {
                        let caller = self.info(store, &call)?.caller.clone();
                        let direction = if store.user_realm(&caller)?.is_some() {
                            "internal"
                        } else {
                            "inbound"
                        };
                        let id = format!("pop_{call}_xfer{}", ev.seq);
                        let draft =
                            self.pop(store, ev, id, Some(agent.clone()), None, direction)?;
                        self.info(store, &call)?.reached(&agent);
                        out.push(Planned::Pop(draft));
                    }
                }
            }
            "queue.abandon" => {
                out.push(pass(&e.kind, p));
                out.push(self.missed(store, ev, "abandon")?);
            }
            "queue.overflow" if p.pointer("/kind/target").is_some_and(Value::is_null) => {
                out.push(pass(&e.kind, p));
                out.push(self.missed(store, ev, "overflow")?);
            }
            "call.ended" => {
                out.push(pass(&e.kind, p));
                let record = p.get("record");
                let inbound = record
                    .and_then(|r| r.get("direction"))
                    .and_then(Value::as_str)
                    == Some("inbound");
                let answered = record
                    .and_then(|r| r.get("answer_ms"))
                    .is_some_and(|a| !a.is_null());
                let queued = self.calls.get(&call).is_some_and(|c| c.queue.is_some());
                if inbound && !answered && !queued {
                    out.push(self.missed(store, ev, "no_answer")?);
                }
                self.calls.remove(&call);
            }
            kind => out.push(pass(kind, p)),
        }
        Ok(out)
    }

    /// The call's info, read back from its outbox rows before the one being
    /// planned when this process did not see them (a restart).
    fn info(&mut self, store: &Store, call: &str) -> Result<&mut CallInfo, StoreError> {
        if !self.calls.contains_key(call) {
            let mut info = CallInfo::default();
            let before = self.current_seq;
            for row in store
                .outbox_events_of(call, 64)?
                .into_iter()
                .filter(|r| r.seq < before)
            {
                let p = &row.event.payload;
                match row.event.kind.as_str() {
                    "call.created" => {
                        info.caller = str_of(p, "caller");
                        info.callee = str_of(p, "callee");
                    }
                    "queue.enter" => {
                        if let Some(n) = p.pointer("/kind/number").and_then(Value::as_str) {
                            info.caller = n.to_owned();
                        }
                        info.service_number = p
                            .pointer("/kind/service_number")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        info.queue = p.get("queue").and_then(Value::as_str).map(str::to_owned);
                    }
                    "call.ringing" if store.user_realm(&info.callee)?.is_some() => {
                        info.ringing = Some(info.callee.clone());
                    }
                    "call.answered" => {
                        if let Some(a) = info.ringing.take() {
                            info.reached(&a);
                        }
                    }
                    "queue.connect" => {
                        info.connected = true;
                        if let Some(a) = p.get("agent").and_then(Value::as_str) {
                            info.reached(a);
                        }
                    }
                    "call.transferred" => {
                        if let Some(a) = transfer_user(&str_of(p, "to")) {
                            if store.user_realm(a)?.is_some() {
                                info.reached(a);
                            }
                        }
                    }
                    _ => {}
                }
            }
            self.calls.insert(call.to_owned(), info);
        }
        Ok(self.calls.entry(call.to_owned()).or_default())
    }

    fn pop(
        &mut self,
        store: &Store,
        ev: &StoredEvent,
        event_id: String,
        agent: Option<String>,
        queue: Option<String>,
        direction: &str,
    ) -> Result<PopDraft, StoreError> {
        let e = &ev.event;
        let call = e.call_id.clone();
        let info = self.info(store, &call)?.clone();
        let caller = info.caller.clone();
        let service_number = info.service_number.clone().unwrap_or(info.callee.clone());
        let queue = queue.or(info.queue.clone());
        let ticket_flow = self.flows.inbound(queue.as_deref()).map(str::to_owned);
        let skill_group = queue.map(|q| json!({ "id": q, "name": q }));
        let tickets = store.call_tickets(&call)?;
        // The agent the call comes from: the last one it reached (not the
        // one this pop rings, on a rebuilt chain).
        let from_agent = info
            .agents
            .iter()
            .rev()
            .find(|a| Some(a.as_str()) != agent.as_deref())
            .cloned();
        let carried_context = json!({
            "ticket_ids": tickets.iter().map(|t| t.ticket_id.as_str()).collect::<Vec<_>>(),
            "from_agent": from_agent,
            "customer_id": store.call_customer(&call)?,
            "agents": info.agents,
            "tickets": tickets
                .iter()
                .map(|t| json!({ "ticket_no": t.ticket_id, "flow": t.flow, "agent": t.agent, "at": iso8601(t.at_ms) }))
                .collect::<Vec<_>>(),
        });
        let (mut summary, mut steps) = (Vec::new(), Vec::new());
        for part in store.trajectories_of(&call)? {
            let path = part.record.trajectory.key_path();
            if !path.summary.is_empty() {
                summary.push(path.summary);
            }
            for s in path.steps {
                steps.push(json!({ "node": s.node, "key": s.key.to_string(), "at": s.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) }));
            }
        }
        let last_call = store.last_call_of(&caller, e.at_ms)?.map(|c| {
            json!({
                "call_id": c.call_id,
                "at": iso8601(c.at_ms),
                "direction": c.direction,
                "agent": user_of(&c.agent),
                "outcome": c.outcome,
            })
        });
        let data = json!({
            "call_id": call,
            "direction": direction,
            "caller": caller,
            "service_number": service_number,
            "ring_at": iso8601(e.at_ms),
            "caller_region": self.regions.region_of(&caller),
            "agent": agent,
            "skill_group": skill_group,
            "ivr_key_path": { "summary": summary.join(">"), "steps": steps },
            "last_call": last_call,
            "last_ticket": null,
            "ticket_flow": ticket_flow,
            "carried_context": carried_context,
        });
        Ok(PopDraft {
            event_id,
            source_seq: ev.seq,
            call_id: call.clone(),
            at_ms: e.at_ms,
            lookup: LookupRequest {
                number: caller,
                call_id: call,
                agent,
                direction: direction.to_owned(),
            },
            data,
        })
    }

    fn missed(
        &mut self,
        store: &Store,
        ev: &StoredEvent,
        reason: &str,
    ) -> Result<Planned, StoreError> {
        let e = &ev.event;
        let info = self.info(store, &e.call_id)?.clone();
        let data = json!({
            "call_id": e.call_id,
            "caller": info.caller,
            "service_number": info.service_number.unwrap_or(info.callee),
            "skill_group": info.queue.map(|q| json!({ "id": q, "name": q })),
            "reason": reason,
            "at": iso8601(e.at_ms),
            "wait_ms": e.payload.pointer("/kind/wait_ms"),
        });
        Ok(Planned::Ready(WebhookEvent {
            wseq: 0,
            event_id: format!("missed_{}", e.call_id),
            source_seq: ev.seq,
            order_key: e.call_id.clone(),
            kind: "call.missed".into(),
            at_ms: e.at_ms,
            body: envelope("call.missed", e.at_ms, data),
        }))
    }
}

/// The user part of a SIP URI (`sip:1002@host` → `1002`); other text as is.
fn user_of(party: &str) -> &str {
    let rest = party
        .strip_prefix("sip:")
        .or_else(|| party.strip_prefix("sips:"))
        .unwrap_or(party);
    rest.split(['@', ';']).next().unwrap_or(rest)
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
