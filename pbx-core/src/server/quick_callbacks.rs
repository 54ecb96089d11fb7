//! Quick callbacks from the missed-call list (SPEC §10), as the driver sees
//! them: a call placed for a missed entry (`POST /calls/originate?…&missed=ID`,
//! `pbx missed callback ID --agent A`) is remembered until its record
//! arrives; then one `missed_callbacks` row says whether it connected, and a
//! connected one also leaves a `missed.resolved` outbox event for the CRM
//! (which updates the customer's dial count), both in the record's step.

use std::collections::HashMap;

use crate::b2bua::cdr::CallRecord;
use crate::b2bua::CallId;
use crate::store::{MissedCallback, OutboxEvent, StepWrite};

/// Quick callbacks in progress, by call.
#[derive(Debug, Default)]
pub(super) struct QuickCallbacks {
    calls: HashMap<CallId, (u64, String)>,
}

impl QuickCallbacks {
    /// `call` calls back missed entry `missed_id` for `agent`.
    pub(super) fn placed(&mut self, call: CallId, missed_id: u64, agent: String) {
        self.calls.insert(call, (missed_id, agent));
    }

    /// A finished call's record: when it was a quick callback, its row (and
    /// `missed.resolved` when the customer answered) join the step.
    pub(super) fn on_record(&mut self, record: &CallRecord, writes: &mut Vec<StepWrite>) {
        // Every call's record passes here; nearly none is a quick callback.
        if self.calls.is_empty() {
            return;
        }
        let Some(call) = CallId::parse(&record.call_id) else {
            return;
        };
        let Some((missed_id, agent)) = self.calls.remove(&call) else {
            return;
        };
        let connected = record.answer_ms.is_some();
        if connected {
            writes.push(StepWrite::Event(OutboxEvent {
                event_id: format!("mcb_{}_{missed_id}", record.call_id),
                call_id: record.call_id.clone(),
                kind: "missed.resolved".into(),
                at_ms: record.end_ms,
                payload: serde_json::json!({
                    "type": "missed.resolved",
                    "missed_id": missed_id,
                    "callback_call_id": record.call_id,
                    "agent_id": agent,
                    "number": record.callee,
                    "customer_id": null,
                }),
            }));
        }
        writes.push(StepWrite::MissedCallback(MissedCallback {
            at_ms: record.end_ms,
            missed_id,
            call_id: record.call_id.clone(),
            agent,
            connected,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(answered: bool) -> CallRecord {
        CallRecord {
            call_id: "c00000000000000ab".into(),
            caller: "2002".into(),
            callee: "2001".into(),
            direction: "internal".into(),
            start_ms: 1_000,
            ring_ms: Some(1_500),
            answer_ms: answered.then_some(2_000),
            end_ms: 9_000,
            duration_s: 8,
            billsec: if answered { 7 } else { 0 },
            disposition: if answered { "ANSWERED" } else { "NO ANSWER" }.into(),
            hangup_cause: "call.normal".into(),
            hangup_side: "caller".into(),
            did: None,
            trunk: None,
            caller_e164: None,
            callee_e164: None,
            hold_s: 0,
            legs: Vec::new(),
        }
    }

    #[test]
    fn a_connected_callback_resolves_and_a_failed_one_counts() {
        let mut q = QuickCallbacks::default();
        let call = CallId::parse("c00000000000000ab").unwrap();
        let mut writes = Vec::new();
        q.on_record(&record(true), &mut writes);
        assert!(writes.is_empty(), "not a quick callback: nothing written");

        q.placed(call, 42, "2002".into());
        q.on_record(&record(true), &mut writes);
        assert!(
            matches!(&writes[0], StepWrite::Event(e) if e.kind == "missed.resolved"
            && e.payload["missed_id"] == 42 && e.payload["agent_id"] == "2002")
        );
        assert!(
            matches!(&writes[1], StepWrite::MissedCallback(m) if m.connected && m.missed_id == 42)
        );

        writes.clear();
        q.placed(call, 43, "2002".into());
        q.on_record(&record(false), &mut writes);
        assert_eq!(writes.len(), 1);
        assert!(matches!(&writes[0], StepWrite::MissedCallback(m) if !m.connected));
    }
}
