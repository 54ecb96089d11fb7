//! Synthetic call records for load benchmarks and API tests: a
//! deterministic (seeded) mix of inbound queue calls, outbound agent calls
//! and internal calls, each with the legs, queue events, recording state
//! and tags the real engine would have stored, written through the same
//! store functions `pbx serve` uses.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Store, StoreError};
use crate::b2bua::cdr::{CallRecord, LegRecord};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    /// How many records.
    pub records: u64,
    /// The first call's start, Unix ms.
    pub first_start_ms: u64,
    /// Spacing between call starts, ms.
    pub spacing_ms: u64,
    /// Agents `1001`, `1002`, ... (at least 1).
    pub agents: u32,
    /// Queues `sales`, `support`, `billing`, `vip`, `tech` (1 to 5).
    pub queues: u32,
    /// Distinct customer numbers (repeat callers when small).
    pub customers: u32,
    /// RNG seed.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            records: 1000,
            first_start_ms: 1_700_000_000_000,
            spacing_ms: 60_000,
            agents: 50,
            queues: 5,
            customers: 50_000,
            seed: 1,
        }
    }
}

const QUEUES: [&str; 5] = ["sales", "support", "billing", "vip", "tech"];
/// The service numbers inbound calls arrive on.
pub const SERVICE_NUMBERS: [&str; 3] = ["4001000001", "4001000002", "4001000003"];

/// Writes `spec.records` records (in transactions of 5,000) and calls
/// `progress` with the count written so far after each.
pub fn generate(
    store: &mut Store,
    spec: &SyntheticSpec,
    mut progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let agents = spec.agents.max(1);
    let queues = spec.queues.clamp(1, 5) as usize;
    let mut seq = 0u64;
    let mut done = 0u64;
    while done < spec.records {
        let n = (spec.records - done).min(5000);
        let mut records = Vec::with_capacity(n as usize);
        let mut events = Vec::new();
        let mut recorded = Vec::new();
        for i in done..done + n {
            let start = spec.first_start_ms + i * spec.spacing_ms;
            let call = acd::CallId(i + 1);
            let agent = format!("{}", 1001 + rng.gen_range(0..agents));
            let customer = format!("138{:08}", rng.gen_range(0..spec.customers.max(1)));
            let kind = rng.gen_range(0..10);
            let ring = rng.gen_range(1_000..20_000u64);
            let talk = rng.gen_range(5_000..600_000u64);
            let mut ev = |at: u64, queue: Option<&str>, agent: Option<&str>, kind| {
                seq += 1;
                acd::QueueEvent {
                    seq,
                    at_unix_ms: at,
                    call: Some(call),
                    queue: queue.map(acd::QueueId::from),
                    agent: agent.map(acd::AgentId::from),
                    kind,
                }
            };
            let (direction, caller, callee, did, disposition, answered) = if kind < 6 {
                // inbound through a queue
                let q = QUEUES[rng.gen_range(0..queues)];
                let did = SERVICE_NUMBERS[rng.gen_range(0..SERVICE_NUMBERS.len())];
                events.push(ev(
                    start + 500,
                    Some(q),
                    None,
                    acd::EventKind::Enter {
                        number: customer.clone(),
                        service_number: Some(did.to_owned()),
                        priority: 0,
                        position: 1,
                    },
                ));
                let fate = rng.gen_range(0..10);
                let offer = acd::OfferId(i + 1);
                let answered = fate < 8;
                if answered {
                    events.push(ev(
                        start + 500 + ring,
                        Some(q),
                        Some(&agent),
                        acd::EventKind::Connect {
                            offer,
                            wait_ms: ring,
                            ring_ms: ring.min(5_000),
                        },
                    ));
                    events.push(ev(
                        start + 500 + ring + talk,
                        Some(q),
                        Some(&agent),
                        acd::EventKind::Complete {
                            talk_ms: talk,
                            hold_ms: 0,
                        },
                    ));
                } else if fate == 8 {
                    events.push(ev(
                        start + 500 + ring,
                        Some(q),
                        None,
                        acd::EventKind::Abandon {
                            position: 1,
                            wait_ms: ring,
                        },
                    ));
                } else {
                    events.push(ev(
                        start + 500 + ring,
                        Some(q),
                        None,
                        acd::EventKind::Overflow {
                            reason: acd::OverflowReason::MaxWait,
                            target: None,
                            wait_ms: ring,
                        },
                    ));
                }
                (
                    "inbound",
                    customer,
                    did.to_owned(),
                    Some(did.to_owned()),
                    "ANSWERED",
                    answered,
                )
            } else if kind < 9 {
                let disposition =
                    ["ANSWERED", "ANSWERED", "NO ANSWER", "BUSY", "FAILED"][rng.gen_range(0..5)];
                (
                    "outbound",
                    agent.clone(),
                    customer,
                    None,
                    disposition,
                    disposition == "ANSWERED",
                )
            } else {
                let other = format!("{}", 1001 + rng.gen_range(0..agents));
                let disposition = ["ANSWERED", "NO ANSWER", "CANCELLED"][rng.gen_range(0..3)];
                (
                    "internal",
                    agent.clone(),
                    other,
                    None,
                    disposition,
                    disposition == "ANSWERED",
                )
            };
            let answer_ms = answered.then_some(start + ring);
            let end_ms = start + ring + if answered { talk } else { 0 };
            if answered && rng.gen_range(0..10) < 3 {
                recorded.push(call.to_string());
            }
            records.push(CallRecord {
                call_id: call.to_string(),
                caller: caller.clone(),
                callee: callee.clone(),
                direction: direction.into(),
                did: did.clone(),
                trunk: (direction != "internal").then(|| "carrier".into()),
                caller_e164: (direction == "inbound").then(|| format!("+86{caller}")),
                callee_e164: did.map(|d| format!("+86{d}")),
                start_ms: start,
                ring_ms: Some(start + 100),
                answer_ms,
                end_ms,
                duration_s: (end_ms - start).div_ceil(1000),
                billsec: answer_ms.map_or(0, |a| (end_ms - a).div_ceil(1000)),
                disposition: disposition.into(),
                hangup_cause: "call.normal".into(),
                hangup_side: "caller".into(),
                hold_s: 0,
                legs: vec![
                    LegRecord {
                        leg: 0,
                        sip_call_id: format!("{call}-a@synthetic"),
                        party: format!("sip:{caller}@127.0.0.1"),
                        status: 200,
                        codec: Some("PCMU/8000".into()),
                    },
                    LegRecord {
                        leg: 1,
                        sip_call_id: format!("{call}-b@synthetic"),
                        party: format!("sip:{callee}@127.0.0.1"),
                        status: if answered { 200 } else { 487 },
                        codec: answered.then(|| "PCMU/8000".into()),
                    },
                ],
            });
        }
        store.insert_cdrs(&records)?;
        store.insert_queue_events(&events)?;
        store.mark_recorded(&recorded)?;
        done += n;
        progress(done);
    }
    Ok(())
}

impl Store {
    /// Marks calls as recorded and uploaded (synthetic data only; the
    /// recorder reports real states through the CDR queue).
    fn mark_recorded(&mut self, call_ids: &[String]) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for id in call_ids {
            tx.execute(
                "UPDATE cdr SET recording_state = 'uploaded', recording_key = ?2 WHERE call_id = ?1",
                rusqlite::params![id, format!("synthetic/{id}.wav")],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }
}
