//! Call records as the CRM sees them (SPEC §3 CallRecord, §12 filters):
//! the `cdr` row joined with what the queues, the IVR and the agents added.
//!
//! Skill group, agent and outcome are not columns of `cdr`: they come from
//! `queue_events` (an `enter` names the queue, a `connect` the agent, an
//! `abandon` the caller giving up) by indexed `EXISTS` / `IN` subqueries at
//! query time — no second copy to keep in step with the writer, and the
//! indexes below keep them cheap over a million records. Pages walk the
//! `start_ms` index newest first and stop when full, so a dense filter
//! (a skill group, an outcome) costs a few probes per row shown; the
//! worst case is a filter nothing matches, which probes every row of the
//! time range (~180 ms for a week of a million-record month). The fields of one
//! page are then derived per record from its queue events, IVR parts, tags
//! and annotations (a handful of indexed lookups per row).
//!
//! Pages are keyset-paginated on `(start_ms DESC, call_id)`: a
//! [`RecordCursor`] names the last row of the previous page, so a page
//! costs the same at row 10 and at row 900,000.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Indexes for the §12 filters (and the per-record lookups of a page).
pub(super) const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS cdr_caller ON cdr (caller, start_ms);
CREATE INDEX IF NOT EXISTS cdr_callee ON cdr (callee, start_ms);
CREATE INDEX IF NOT EXISTS cdr_caller_e164 ON cdr (caller_e164, start_ms);
CREATE INDEX IF NOT EXISTS cdr_callee_e164 ON cdr (callee_e164, start_ms);
CREATE INDEX IF NOT EXISTS cdr_did ON cdr (did, start_ms);
CREATE INDEX IF NOT EXISTS queue_events_call ON queue_events (call_id, kind);
CREATE INDEX IF NOT EXISTS queue_events_queue_kind ON queue_events (queue, kind, call_id);
CREATE INDEX IF NOT EXISTS queue_events_agent_kind ON queue_events (agent, kind, call_id);
";

/// A record's outcome (SPEC §3), derived from its disposition and queue
/// events: a queued call is `answered` only when an agent took it,
/// `abandoned_in_queue` when the caller hung up waiting, else `missed`
/// (overflowed, timed out); a direct call's outcome is its disposition
/// (`CANCELLED`, the caller giving up while it rang, counts as `no_answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Talked to someone (an agent, for a queued call).
    Answered,
    /// The caller hung up while queued.
    AbandonedInQueue,
    /// Queued, never reached an agent, did not hang up waiting.
    Missed,
    /// Rang out or was given up while ringing.
    NoAnswer,
    /// The callee was busy.
    Busy,
    /// Routing, media or signalling failure.
    Failed,
}

impl Outcome {
    /// Every outcome, for help texts and the OpenAPI enum.
    pub const ALL: [Self; 6] = [
        Self::Answered,
        Self::AbandonedInQueue,
        Self::Missed,
        Self::NoAnswer,
        Self::Busy,
        Self::Failed,
    ];

    /// The API spelling (`abandoned_in_queue`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::AbandonedInQueue => "abandoned_in_queue",
            Self::Missed => "missed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The outcome of a record with `disposition` whose queue events had an
    /// enter, a connect and an abandon (or not). Kept equal to
    /// [`Self::sql`] (a test checks both on the same records).
    pub fn derive(disposition: &str, enter: bool, connect: bool, abandon: bool) -> Self {
        if connect {
            return Self::Answered;
        }
        if abandon {
            return Self::AbandonedInQueue;
        }
        if enter {
            return Self::Missed;
        }
        match disposition {
            "ANSWERED" => Self::Answered,
            "BUSY" => Self::Busy,
            "FAILED" => Self::Failed,
            _ => Self::NoAnswer,
        }
    }

    /// The SQL condition on a `cdr` row for this outcome.
    fn sql(self) -> &'static str {
        match self {
            Self::Answered => "(EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind = 'connect') \
                 OR (cdr.disposition = 'ANSWERED' AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind IN ('enter', 'abandon'))))",
            Self::AbandonedInQueue => "(EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind = 'abandon') \
                 AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind = 'connect'))",
            Self::Missed => "(EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind = 'enter') \
                 AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind IN ('connect', 'abandon')))",
            Self::NoAnswer => "(cdr.disposition IN ('NO ANSWER', 'CANCELLED') AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind IN ('enter', 'connect', 'abandon')))",
            Self::Busy => "(cdr.disposition = 'BUSY' AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind IN ('enter', 'connect', 'abandon')))",
            Self::Failed => "(cdr.disposition = 'FAILED' AND NOT EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = cdr.call_id AND q.kind IN ('enter', 'connect', 'abandon')))",
        }
    }
}

/// The filters of SPEC §12 (all optional, all combined with AND). Saved
/// quick queries store exactly this (as JSON), so re-applying one runs the
/// same query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordFilter {
    /// Ring time (call start) at or after, Unix ms.
    pub from_ms: Option<u64>,
    /// Ring time before, Unix ms.
    pub to_ms: Option<u64>,
    /// `inbound`, `outbound` or `internal`.
    pub direction: Option<String>,
    /// Caller equals (as received, or its E.164 form).
    pub caller: Option<String>,
    /// Callee equals (as dialed, or its E.164 form).
    pub callee: Option<String>,
    /// Service number (the DID an inbound call arrived on) equals.
    pub service_number: Option<String>,
    /// Entered this skill group (queue).
    pub skill_group: Option<String>,
    /// Handled by this agent: connected to it by a queue, or placed or
    /// received on its own extension.
    pub agent: Option<String>,
    /// Outcome equals.
    pub outcome: Option<Outcome>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// Recorded (any recording state) or not.
    pub has_recording: Option<bool>,
    /// Duration (s, ring to hang-up) at least.
    pub min_duration_s: Option<u64>,
    /// Duration (s) at most.
    pub max_duration_s: Option<u64>,
}

/// Where a page starts: after the row with this start and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCursor {
    /// `start_ms` of the last row shown.
    pub start_ms: u64,
    /// Its call id.
    pub call_id: String,
}

impl RecordCursor {
    /// The opaque text form (`<start_ms>.<call_id>`) handed to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.start_ms, self.call_id)
    }

    /// Parses [`Self::encode`]; None for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let (ms, id) = s.split_once('.')?;
        let start_ms = ms.parse().ok()?;
        (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(
            || Self {
                start_ms,
                call_id: id.to_owned(),
            },
        )
    }
}

/// One record of a list (SPEC §3 CallRecord; fields the store cannot know
/// are None, see the API's schema).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordSummary {
    /// pbx's call id (`c…`).
    pub call_id: String,
    /// `inbound`, `outbound` or `internal`.
    pub direction: String,
    /// The calling number.
    pub caller: String,
    /// The called number.
    pub callee: String,
    /// The caller in E.164, when known.
    pub caller_e164: Option<String>,
    /// The callee in E.164, when known.
    pub callee_e164: Option<String>,
    /// The number dialed by the customer (inbound DID).
    pub service_number: Option<String>,
    /// The trunk that carried the call.
    pub trunk_id: Option<String>,
    /// Call start (ring time), Unix ms.
    pub ring_at_ms: u64,
    /// When it entered the first queue, Unix ms.
    pub queue_enter_at_ms: Option<u64>,
    /// Answer, Unix ms.
    pub answer_at_ms: Option<u64>,
    /// End, Unix ms.
    pub end_at_ms: u64,
    /// Ring to hang-up, s.
    pub duration_s: u64,
    /// Waiting in queues until an agent answered or the caller left, s.
    pub queue_wait_s: Option<u64>,
    /// Talk time (answer to hang-up), s.
    pub talk_s: u64,
    /// Time on hold, s.
    pub hold_s: u64,
    /// The agent's after-call work (wrap-up) for this call, s.
    pub after_call_s: Option<u64>,
    /// talk + hold (already inside talk) + after-call work, s.
    pub handle_s: u64,
    /// The CDR disposition (`ANSWERED`, `NO ANSWER`, ...), also the last
    /// dial status of an outbound call.
    pub disposition: String,
    /// The hang-up cause code (`call.normal`, ...).
    pub hangup_cause: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The first skill group entered.
    pub entry_skill_group: Option<String>,
    /// Every skill group entered, in order.
    pub skill_groups: Vec<String>,
    /// The agent that handled it (queue connect, else None).
    pub agent_id: Option<String>,
    /// Transfers the agent made, targets in order.
    pub transfer_chain: Vec<String>,
    /// The IVR key path (`1>3>2`), parts joined by `|`.
    pub ivr_key_path: Option<String>,
    /// The recording's state, if the call was recorded.
    pub recording_state: Option<String>,
    /// The recording's object key.
    pub recording_key: Option<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// QA score (0–100).
    pub qa_score: Option<u32>,
    /// Customer id (supplementary entry).
    pub customer_id: Option<String>,
    /// Ticket ids (supplementary entry).
    pub ticket_ids: Vec<String>,
    /// Number of notes.
    pub notes_count: u32,
}

/// One leg of a record, with the relay's quality when it reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegView {
    /// 0 for the caller's leg, then the legs pbx placed.
    pub leg: u32,
    /// The leg's SIP Call-ID.
    pub sip_call_id: String,
    /// The party (SIP URI).
    pub party: String,
    /// Final SIP status.
    pub status: u16,
    /// Codec.
    pub codec: Option<String>,
    /// MOS estimate.
    pub mos: Option<f64>,
    /// Packets lost.
    pub lost: Option<i64>,
    /// Jitter, ms.
    pub jitter_ms: Option<f64>,
}

/// One page of records.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    /// The records, newest first.
    pub records: Vec<RecordSummary>,
    /// Where the next page starts; None on the last page.
    pub next: Option<RecordCursor>,
}

/// The SQL `WHERE` of a filter (over `cdr`) and its arguments.
fn where_clause(f: &RecordFilter) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1=1");
    let mut args: Vec<Value> = Vec::new();
    let text = |v: &String| Value::Text(v.clone());
    if let Some(v) = f.from_ms {
        sql.push_str(" AND cdr.start_ms >= ?");
        args.push(Value::Integer(v as i64));
    }
    if let Some(v) = f.to_ms {
        sql.push_str(" AND cdr.start_ms < ?");
        args.push(Value::Integer(v as i64));
    }
    if let Some(v) = &f.direction {
        sql.push_str(" AND cdr.direction = ?");
        args.push(text(v));
    }
    if let Some(v) = &f.caller {
        sql.push_str(" AND (cdr.caller = ? OR cdr.caller_e164 = ?)");
        args.extend([text(v), text(v)]);
    }
    if let Some(v) = &f.callee {
        sql.push_str(" AND (cdr.callee = ? OR cdr.callee_e164 = ?)");
        args.extend([text(v), text(v)]);
    }
    if let Some(v) = &f.service_number {
        sql.push_str(" AND cdr.did = ?");
        args.push(text(v));
    }
    if let Some(v) = &f.skill_group {
        // a probe per row along the time index: a skill group is dense
        // (one of a few), so a page fills after a few rows; an IN list
        // would first read every enter of the group
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM queue_events g WHERE g.call_id = cdr.call_id \
             AND g.kind = 'enter' AND g.queue = ?)",
        );
        args.push(text(v));
    }
    if let Some(v) = &f.agent {
        // `+`: walk the time index newest first (the page stops early)
        // instead of collecting every call of the agent and sorting them;
        // the agent's connects are a short IN list
        sql.push_str(
            " AND (+cdr.caller = ? OR +cdr.callee = ? OR +cdr.call_id IN \
             (SELECT call_id FROM queue_events WHERE agent = ? AND kind = 'connect'))",
        );
        args.extend([text(v), text(v), text(v)]);
    }
    if let Some(o) = f.outcome {
        sql.push_str(" AND ");
        sql.push_str(o.sql());
    }
    if let Some(v) = &f.tag {
        sql.push_str(" AND cdr.call_id IN (SELECT call_id FROM cdr_tags WHERE tag = ?)");
        args.push(text(v));
    }
    match f.has_recording {
        Some(true) => sql.push_str(" AND cdr.recording_state IS NOT NULL"),
        Some(false) => sql.push_str(" AND cdr.recording_state IS NULL"),
        None => {}
    }
    if let Some(v) = f.min_duration_s {
        sql.push_str(" AND cdr.duration_s >= ?");
        args.push(Value::Integer(v as i64));
    }
    if let Some(v) = f.max_duration_s {
        sql.push_str(" AND cdr.duration_s <= ?");
        args.push(Value::Integer(v as i64));
    }
    (sql, args)
}

const SUMMARY_COLUMNS: &str = "cdr.call_id, cdr.direction, cdr.caller, cdr.callee, \
    cdr.caller_e164, cdr.callee_e164, cdr.did, cdr.trunk, cdr.start_ms, cdr.answer_ms, cdr.end_ms, \
    cdr.duration_s, cdr.billsec, cdr.hold_s, cdr.disposition, cdr.hangup_cause, \
    cdr.recording_state, cdr.recording_key";

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordSummary> {
    let int = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    Ok(RecordSummary {
        call_id: r.get(0)?,
        direction: r.get(1)?,
        caller: r.get(2)?,
        callee: r.get(3)?,
        caller_e164: r.get(4)?,
        callee_e164: r.get(5)?,
        service_number: r.get(6)?,
        trunk_id: r.get(7)?,
        ring_at_ms: int(8)?,
        answer_at_ms: r.get::<_, Option<i64>>(9)?.map(|v| v.max(0) as u64),
        end_at_ms: int(10)?,
        duration_s: int(11)?,
        talk_s: int(12)?,
        hold_s: int(13)?,
        disposition: r.get(14)?,
        hangup_cause: r.get(15)?,
        recording_state: r.get(16)?,
        recording_key: r.get(17)?,
        queue_enter_at_ms: None,
        queue_wait_s: None,
        after_call_s: None,
        handle_s: 0,
        outcome: Outcome::NoAnswer,
        entry_skill_group: None,
        skill_groups: Vec::new(),
        agent_id: None,
        transfer_chain: Vec::new(),
        ivr_key_path: None,
        tags: Vec::new(),
        qa_score: None,
        customer_id: None,
        ticket_ids: Vec::new(),
        notes_count: 0,
    })
}

impl Store {
    /// A page of records matching `filter` after `after` (None: the
    /// first page), at most `limit` (1–1000) rows, newest first.
    pub fn query_records(
        &self,
        filter: &RecordFilter,
        after: Option<&RecordCursor>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let limit = limit.clamp(1, 1000);
        let (mut sql, mut args) = where_clause(filter);
        if let Some(c) = after {
            sql.push_str(" AND (cdr.start_ms < ? OR (cdr.start_ms = ? AND cdr.call_id > ?))");
            args.extend([
                Value::Integer(c.start_ms as i64),
                Value::Integer(c.start_ms as i64),
                Value::Text(c.call_id.clone()),
            ]);
        }
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM cdr{sql} ORDER BY cdr.start_ms DESC, cdr.call_id LIMIT {}",
            limit + 1
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut records = stmt
            .query_map(params_from_iter(args), summary_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|r| RecordCursor {
                start_ms: r.ring_at_ms,
                call_id: r.call_id.clone(),
            })
        } else {
            None
        };
        for r in &mut records {
            self.derive(r)?;
        }
        Ok(RecordPage { records, next })
    }

    /// One record by call id, with its derived fields.
    pub fn record(&self, call_id: &str) -> Result<Option<RecordSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM cdr WHERE cdr.call_id = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map([call_id], summary_row)
            .map_err(|e| self.err(e))?;
        let Some(row) = rows.next() else {
            return Ok(None);
        };
        let mut r = row.map_err(|e| self.err(e))?;
        self.derive(&mut r)?;
        Ok(Some(r))
    }

    /// The queue events of one call, in order.
    pub fn queue_events_of(&self, call_id: &str) -> Result<Vec<acd::QueueEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event FROM queue_events WHERE call_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([call_id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(|e| self.err(e))?;
            if let Ok(ev) = serde_json::from_str(&json) {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Writes queue events at once (tests, imports, the records bench;
    /// `pbx serve` writes them with its engine steps).
    pub fn insert_queue_events(&mut self, events: &[acd::QueueEvent]) -> Result<(), StoreError> {
        let writes = events
            .iter()
            .cloned()
            .map(|e| super::StepWrite::Queue(Box::new(e)))
            .collect();
        self.write_cdr_ops(&[super::cdr::CdrOp::Step(writes)])
    }

    /// Fills the fields a record's `cdr` row does not hold.
    fn derive(&self, r: &mut RecordSummary) -> Result<(), StoreError> {
        let (mut enter, mut connect, mut abandon) = (false, false, false);
        for e in self.queue_events_of(&r.call_id)? {
            use acd::EventKind as K;
            match &e.kind {
                K::Enter { .. } => {
                    enter = true;
                    if r.queue_enter_at_ms.is_none() {
                        r.queue_enter_at_ms = Some(e.at_unix_ms);
                    }
                    if let Some(q) = &e.queue {
                        let q = q.to_string();
                        if r.entry_skill_group.is_none() {
                            r.entry_skill_group = Some(q.clone());
                        }
                        if !r.skill_groups.contains(&q) {
                            r.skill_groups.push(q);
                        }
                    }
                }
                K::Connect { wait_ms, .. } => {
                    connect = true;
                    r.queue_wait_s = Some(wait_ms / 1000);
                    r.agent_id = e.agent.as_ref().map(ToString::to_string);
                }
                K::Abandon { wait_ms, .. } | K::Overflow { wait_ms, .. } => {
                    abandon |= matches!(e.kind, K::Abandon { .. });
                    r.queue_wait_s = Some(wait_ms / 1000);
                }
                K::Transfer { target, .. } => r.transfer_chain.push(target.clone()),
                K::AgentState(s) if s.from == acd::AgentState::WrapUp => {
                    r.after_call_s = Some(s.from_duration_ms / 1000);
                }
                _ => {}
            }
        }
        r.outcome = Outcome::derive(&r.disposition, enter, connect, abandon);
        r.handle_s = r.talk_s + r.after_call_s.unwrap_or(0);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT group_concat(key_path, '|') FROM \
                 (SELECT key_path FROM ivr_trajectory WHERE call_id = ?1 ORDER BY part)",
            )
            .map_err(|e| self.err(e))?;
        r.ivr_key_path = stmt
            .query_row([&r.call_id], |row| row.get::<_, Option<String>>(0))
            .map_err(|e| self.err(e))?;
        let a = self.annotations(&r.call_id)?;
        r.tags = a.tags;
        r.qa_score = a.qa_score;
        r.customer_id = a.customer_id;
        r.ticket_ids = a.ticket_ids;
        r.notes_count = a.notes.len() as u32;
        Ok(())
    }

    /// How many records match (an exact `COUNT(*)`; the records export
    /// sizes its progress bar with it).
    pub fn count_records(&self, filter: &RecordFilter) -> Result<u64, StoreError> {
        let (sql, args) = where_clause(filter);
        self.conn
            .query_row(
                &format!("SELECT COUNT(*) FROM cdr{sql}"),
                params_from_iter(args),
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The legs of a record, in order.
    pub fn legs_of(&self, call_id: &str) -> Result<Vec<LegView>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT leg, sip_call_id, party, status, codec, mos, lost, jitter_ms \
                 FROM cdr_legs WHERE call_id = ?1 ORDER BY leg",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([call_id], |r| {
                Ok(LegView {
                    leg: r.get::<_, i64>(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                    sip_call_id: r.get(1)?,
                    party: r.get(2)?,
                    status: r.get::<_, i64>(3)?.clamp(0, 999) as u16,
                    codec: r.get(4)?,
                    mos: r.get(5)?,
                    lost: r.get(6)?,
                    jitter_ms: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The outbox's last position (0 when empty).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM event_outbox", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Whether a record exists.
    pub fn record_exists(&self, call_id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM cdr WHERE call_id = ?1)",
                params![call_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
