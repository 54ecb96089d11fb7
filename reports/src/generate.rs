//! A seeded generator of contact-center traffic straight into a store:
//! call records (`cdr`, `cdr_legs` with quality), the queue events the ACD
//! would log for them (enter, offer, connect, complete, abandon, overflow,
//! agent states), survey trajectories and call tags. For the month
//! benchmark (1,000,000 calls) and the store tests.
//!
//! The raw tables are created with the same statements as `pbx-core`'s
//! store (`store/cdr.rs`, `store/queue_events.rs`, `store/trajectory.rs`;
//! `IF NOT EXISTS`, so a real store keeps its own). Generated survey parts
//! carry an empty trajectory document: the reports read only their flow,
//! start and key path.

use std::path::Path;

use acd::{
    AgentId, AgentState, AgentStateRecord, CallId, CallKind, EventKind, OfferId, QueueEvent,
    QueueId, StateCause,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{params, Connection};

use crate::settings::{AgentOrg, ReportSettings, DAY_MS};
use crate::{Error, Result};

/// The raw tables, as `pbx-core` creates them.
pub const RAW_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cdr (
    call_id TEXT PRIMARY KEY, caller TEXT NOT NULL, callee TEXT NOT NULL, direction TEXT NOT NULL,
    start_ms INTEGER NOT NULL, ring_ms INTEGER, answer_ms INTEGER, end_ms INTEGER NOT NULL,
    duration_s INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,
    hangup_cause TEXT NOT NULL, hangup_side TEXT NOT NULL, hold_s INTEGER NOT NULL, did TEXT, trunk TEXT,
    caller_e164 TEXT, callee_e164 TEXT, recording_state TEXT, recording_key TEXT
);
CREATE INDEX IF NOT EXISTS cdr_start ON cdr (start_ms);
CREATE TABLE IF NOT EXISTS cdr_legs (
    call_id TEXT NOT NULL, leg INTEGER NOT NULL, sip_call_id TEXT NOT NULL, party TEXT NOT NULL,
    status INTEGER NOT NULL, codec TEXT, packets INTEGER, lost INTEGER, jitter_ms REAL, mos REAL,
    mos_avg REAL, mos_worst REAL, loss_max_pct REAL, jitter_max_ms REAL, PRIMARY KEY (call_id, leg)
);
CREATE TABLE IF NOT EXISTS queue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, queue TEXT,
    agent TEXT, call_id TEXT, event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_events_at ON queue_events (at_ms);
CREATE INDEX IF NOT EXISTS queue_events_agent ON queue_events (agent, id);
CREATE TABLE IF NOT EXISTS ivr_trajectory (
    call_id TEXT NOT NULL, part INTEGER NOT NULL, flow TEXT NOT NULL, started_ms INTEGER NOT NULL,
    ended_ms INTEGER, key_path TEXT NOT NULL, key_steps TEXT NOT NULL, outcome TEXT,
    trajectory TEXT NOT NULL, PRIMARY KEY (call_id, part)
);
CREATE INDEX IF NOT EXISTS ivr_trajectory_started ON ivr_trajectory (started_ms);
";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// First day (Unix ms of its UTC midnight).
    pub start_ms: i64,
    /// Days.
    pub days: i64,
    /// Calls per day (inbound and outbound).
    pub calls_per_day: u64,
    /// Agents (`a01`…).
    pub agents: usize,
    /// RNG seed.
    pub seed: u64,
}

/// The queues generated calls enter.
pub const QUEUES: [&str; 5] = ["sales", "support", "billing", "tech", "vip"];
/// Service numbers.
pub const SERVICES: [&str; 4] = [
    "+31201110000",
    "+31201110001",
    "+31201110002",
    "+31201110003",
];
/// Trunks.
pub const TRUNKS: [&str; 3] = ["carrier-a", "carrier-b", "carrier-c"];
/// Caller number prefixes (see `fixtures/regions.csv`).
pub const PREFIXES: [&str; 10] = [
    "+3120", "+3110", "+3130", "+3170", "+3140", "+3150", "+4930", "+4989", "+3314", "+3222",
];
const TAGS: [&str; 14] = [
    "billing",
    "complaint",
    "new-order",
    "refund",
    "address-change",
    "password",
    "outage",
    "upgrade",
    "cancel",
    "vip",
    "spam",
    "callback",
    "warranty",
    "delivery",
];

/// The agents of a plan with leaders and departments: `a01` leads the
/// first half, `a02` the second; departments `sales` / `service`.
pub fn agents(n: usize) -> Vec<AgentOrg> {
    (1..=n)
        .map(|i| AgentOrg {
            agent: format!("a{i:02}"),
            leader: match i {
                1 | 2 => None,
                i if i <= n / 2 => Some("a01".into()),
                _ => Some("a02".into()),
            },
            department: Some(if i <= n / 2 { "sales" } else { "service" }.into()),
        })
        .collect()
}

/// Report settings matching a generated store.
pub fn settings(plan: &Plan) -> ReportSettings {
    let regions = PREFIXES
        .iter()
        .map(|p| format!("{p},region{p}"))
        .collect::<Vec<_>>()
        .join("\n");
    ReportSettings {
        agents: agents(plan.agents),
        regions: crate::settings::Regions::parse("generated", &format!("prefix,region\n{regions}"))
            .expect("generated prefixes are valid"),
        ..ReportSettings::default()
    }
}

struct Writer<'c> {
    cdr: rusqlite::Statement<'c>,
    leg: rusqlite::Statement<'c>,
    ev: rusqlite::Statement<'c>,
    survey: rusqlite::Statement<'c>,
    tag: rusqlite::Statement<'c>,
    seq: u64,
}

impl Writer<'_> {
    fn event(
        &mut self,
        at: i64,
        call: Option<u64>,
        queue: Option<&str>,
        agent: Option<&str>,
        kind: EventKind,
    ) -> rusqlite::Result<()> {
        self.seq += 1;
        let e = QueueEvent {
            seq: self.seq,
            at_unix_ms: at as u64,
            call: call.map(CallId),
            queue: queue.map(QueueId::from),
            agent: agent.map(AgentId::from),
            kind,
        };
        let json = serde_json::to_string(&e)
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
        self.ev.execute(params![
            at,
            e.kind.name(),
            queue,
            agent,
            call.map(|c| CallId(c).to_string()),
            json
        ])?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        at: i64,
        agent: &str,
        from: AgentState,
        to: AgentState,
        cause: StateCause,
        call: u64,
        queue: &str,
        dur: i64,
    ) -> rusqlite::Result<()> {
        let r = AgentStateRecord {
            agent: AgentId::from(agent),
            at_unix_ms: at as u64,
            from,
            to,
            cause,
            reason: None,
            call: Some(CallId(call)),
            queue: Some(QueueId::from(queue)),
            from_duration_ms: dur.max(0) as u64,
        };
        self.event(
            at,
            Some(call),
            Some(queue),
            Some(agent),
            EventKind::AgentState(r),
        )
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    /// Call records.
    pub calls: u64,
    /// Queue events.
    pub events: u64,
}

/// Writes the plan's traffic into the store at `path` (created if needed).
pub fn generate(path: &Path, plan: &Plan) -> Result<Generated> {
    let wrap = |e| Error::sqlite(path, e);
    let mut conn = Connection::open(path).map_err(wrap)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(wrap)?;
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(wrap)?;
    conn.execute_batch(RAW_SCHEMA).map_err(wrap)?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS cdr_tags (call_id TEXT NOT NULL, tag TEXT NOT NULL, at_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (call_id, tag));")
        .map_err(wrap)?;
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let names: Vec<String> = agents(plan.agents).into_iter().map(|a| a.agent).collect();
    let mut out = Generated::default();
    let mut next_call: u64 = 1 + plan.seed.wrapping_mul(1 << 40);
    for day in 0..plan.days {
        let tx = conn.transaction().map_err(wrap)?;
        {
            let mut w = Writer {
                cdr: tx
                    .prepare(
                        "INSERT INTO cdr (call_id, caller, callee, direction, start_ms, ring_ms, answer_ms, end_ms, duration_s, \
                         billsec, disposition, hangup_cause, hangup_side, hold_s, did, trunk, caller_e164, callee_e164) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, 'call.normal', 'caller', 0, ?11, ?12, ?13, ?14)",
                    )
                    .map_err(wrap)?,
                leg: tx
                    .prepare(
                        "INSERT INTO cdr_legs (call_id, leg, sip_call_id, party, status, codec, packets, lost, jitter_ms, mos, \
                         mos_avg, mos_worst, loss_max_pct, jitter_max_ms) VALUES (?1, ?2, ?1, 'sip:x', 200, 'PCMU/8000', 1000, 0, \
                         ?5, ?3, ?3, ?4, ?6, ?5)",
                    )
                    .map_err(wrap)?,
                ev: tx
                    .prepare("INSERT INTO queue_events (at_ms, kind, queue, agent, call_id, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(wrap)?,
                survey: tx
                    .prepare(
                        "INSERT INTO ivr_trajectory (call_id, part, flow, started_ms, ended_ms, key_path, key_steps, outcome, trajectory) \
                         VALUES (?1, 1, 'survey', ?2, ?2 + 8000, ?3, '[]', NULL, '{}')",
                    )
                    .map_err(wrap)?,
                tag: tx.prepare("INSERT OR IGNORE INTO cdr_tags (call_id, tag) VALUES (?1, ?2)").map_err(wrap)?,
                seq: out.events,
            };
            // Traffic between 07:00 and 21:00, written in time order as the
            // engine appends it (so the store's pages are laid out as in service).
            let mut starts: Vec<i64> = (0..plan.calls_per_day)
                .map(|_| {
                    plan.start_ms + day * DAY_MS + rng.gen_range(7 * 3_600_000..21 * 3_600_000)
                })
                .collect();
            starts.sort_unstable();
            for start in starts {
                let id = next_call;
                next_call += 1;
                one_call(&mut w, &mut rng, &names, id, start).map_err(wrap)?;
                out.calls += 1;
            }
            out.events = w.seq;
        }
        tx.commit().map_err(wrap)?;
    }
    Ok(out)
}

fn one_call(
    w: &mut Writer<'_>,
    rng: &mut StdRng,
    agents: &[String],
    id: u64,
    start: i64,
) -> rusqlite::Result<()> {
    let call_id = CallId(id).to_string();
    let trunk = TRUNKS[rng.gen_range(0..TRUNKS.len())];
    let number = format!(
        "{}{:07}",
        PREFIXES[rng.gen_range(0..PREFIXES.len())],
        rng.gen_range(0..10_000_000)
    );
    let agent = agents[rng.gen_range(0..agents.len())].as_str();
    let inbound = rng.gen_bool(0.75);
    let (talk_s, answered, direction, caller, callee, did) = if inbound {
        let service = SERVICES[rng.gen_range(0..SERVICES.len())];
        let queue = QUEUES[rng.gen_range(0..QUEUES.len())];
        let enter = start + 4_000;
        w.event(
            enter,
            Some(id),
            Some(queue),
            None,
            EventKind::Enter {
                number: number.clone(),
                service_number: Some(service.into()),
                priority: 0,
                position: 1,
            },
        )?;
        let wait = (rng.gen_range(0.0f64..1.0).powi(2) * 90_000.0) as i64;
        let roll = rng.gen_range(0..100);
        let talk_s = if roll < 82 {
            let ring = rng.gen_range(1_000..25_000);
            let offer_at = enter + wait - ring;
            w.event(
                offer_at,
                Some(id),
                Some(queue),
                Some(agent),
                EventKind::Offer {
                    offer: OfferId(id),
                    ring_timeout_ms: 30_000,
                },
            )?;
            w.state(
                offer_at,
                agent,
                AgentState::Available,
                AgentState::Reserved,
                StateCause::Offer,
                id,
                queue,
                60_000,
            )?;
            let connect = enter + wait;
            w.event(
                connect,
                Some(id),
                Some(queue),
                Some(agent),
                EventKind::Connect {
                    offer: OfferId(id),
                    wait_ms: wait as u64,
                    ring_ms: ring as u64,
                },
            )?;
            w.state(
                connect,
                agent,
                AgentState::Reserved,
                AgentState::OnCall(CallKind::Queue),
                StateCause::Answered,
                id,
                queue,
                ring,
            )?;
            let talk = rng.gen_range(20_000..600_000);
            let end = connect + talk;
            w.event(
                end,
                Some(id),
                Some(queue),
                Some(agent),
                EventKind::Complete {
                    talk_ms: talk as u64,
                    hold_ms: 0,
                },
            )?;
            w.state(
                end,
                agent,
                AgentState::OnCall(CallKind::Queue),
                AgentState::WrapUp,
                StateCause::CallEnded,
                id,
                queue,
                talk,
            )?;
            let wrap = rng.gen_range(5_000..60_000);
            w.state(
                end + wrap,
                agent,
                AgentState::WrapUp,
                AgentState::Available,
                StateCause::WrapUpExpired,
                id,
                queue,
                wrap,
            )?;
            if rng.gen_bool(0.2) {
                w.survey.execute(params![
                    call_id,
                    end + 500,
                    rng.gen_range(1..=5).to_string()
                ])?;
            }
            Some(talk / 1000)
        } else if roll < 94 {
            w.event(
                enter + wait,
                Some(id),
                Some(queue),
                None,
                EventKind::Abandon {
                    position: 1,
                    wait_ms: wait as u64,
                },
            )?;
            None
        } else {
            w.event(
                enter + 90_000,
                Some(id),
                Some(queue),
                None,
                EventKind::Overflow {
                    reason: acd::OverflowReason::MaxWait,
                    target: None,
                    wait_ms: 90_000,
                },
            )?;
            None
        };
        (
            talk_s.unwrap_or(0),
            true,
            "inbound",
            number.clone(),
            service.to_owned(),
            Some(service),
        )
    } else {
        let answered = rng.gen_bool(0.65);
        let talk = if answered { rng.gen_range(10..900) } else { 0 };
        (
            talk,
            answered,
            "outbound",
            agent.to_owned(),
            number.clone(),
            None,
        )
    };
    let billsec = talk_s;
    let end = start + 4_000 + 90_000 + billsec * 1000;
    let (caller_e164, callee_e164) = if inbound {
        (Some(number.as_str()), did)
    } else {
        (None, Some(number.as_str()))
    };
    w.cdr.execute(params![
        call_id,
        caller,
        callee,
        direction,
        start,
        answered.then_some(start + 1_000),
        end,
        (end - start) / 1000,
        billsec,
        if answered { "ANSWERED" } else { "NO ANSWER" },
        did,
        trunk,
        caller_e164,
        callee_e164
    ])?;
    if billsec > 0 && rng.gen_bool(0.5) {
        for leg in 0..2 {
            let loss: f64 = rng.gen_range(0.0..4.0);
            let mos = 4.4 - loss * 0.3;
            w.leg.execute(params![
                call_id,
                leg,
                mos,
                mos - rng.gen_range(0.0..0.6),
                rng.gen_range(1.0..40.0),
                loss
            ])?;
        }
    }
    if rng.gen_bool(0.3) {
        let i = (rng.gen_range(0.0f64..1.0).powi(2) * TAGS.len() as f64) as usize;
        w.tag
            .execute(params![call_id, TAGS[i.min(TAGS.len() - 1)]])?;
    }
    Ok(())
}
