//! Call-detail records in SQLite: one `cdr` row per call and one
//! `cdr_legs` row per leg (with the relay's quality figures, added when the
//! relay closes the call's ports). [`CdrWriter`] is the [`CdrSink`] of
//! `pbx serve`: it queues records to a thread that commits every 100 ms, so
//! a call that ended more than a second before a crash (kill -9) is on disk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{params, params_from_iter, types::Value};

use super::{Store, StoreError};
use crate::b2bua::cdr::{CallRecord, CdrSink, LegQuality, LegRecord};
use crate::b2bua::ivr_app::{TrajectoryRecord, TrajectorySink};
use media::quality::QualitySummary;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cdr (
    call_id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    direction TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    ring_ms INTEGER,
    answer_ms INTEGER,
    end_ms INTEGER NOT NULL,
    duration_s INTEGER NOT NULL,
    billsec INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    hangup_cause TEXT NOT NULL,
    hangup_side TEXT NOT NULL,
    hold_s INTEGER NOT NULL,
    did TEXT,
    trunk TEXT,
    caller_e164 TEXT,
    callee_e164 TEXT,
    recording_state TEXT,
    recording_key TEXT
);
CREATE INDEX IF NOT EXISTS cdr_start ON cdr (start_ms);
CREATE TABLE IF NOT EXISTS cdr_legs (
    call_id TEXT NOT NULL,
    leg INTEGER NOT NULL,
    sip_call_id TEXT NOT NULL,
    party TEXT NOT NULL,
    status INTEGER NOT NULL,
    codec TEXT,
    packets INTEGER,
    lost INTEGER,
    jitter_ms REAL,
    mos REAL,
    mos_avg REAL,
    mos_worst REAL,
    loss_max_pct REAL,
    jitter_max_ms REAL,
    PRIMARY KEY (call_id, leg)
);
";

/// Columns added after the first release of the tables: databases written
/// by an older pbx get them on open (`ALTER TABLE … ADD COLUMN`).
const ADDED_COLUMNS: [(&str, &str, &str); 10] = [
    ("cdr", "did", "TEXT"),
    ("cdr", "trunk", "TEXT"),
    ("cdr", "caller_e164", "TEXT"),
    ("cdr", "callee_e164", "TEXT"),
    ("cdr", "recording_state", "TEXT"),
    ("cdr", "recording_key", "TEXT"),
    ("cdr_legs", "mos_avg", "REAL"),
    ("cdr_legs", "mos_worst", "REAL"),
    ("cdr_legs", "loss_max_pct", "REAL"),
    ("cdr_legs", "jitter_max_ms", "REAL"),
];

/// Brings existing `cdr` / `cdr_legs` tables up to [`SCHEMA`].
pub(super) fn migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for table in ["cdr", "cdr_legs"] {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let have: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<_>>()?;
        for (_, name, kind) in ADDED_COLUMNS.iter().filter(|c| c.0 == table) {
            if !have.iter().any(|h| h == name) {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {kind}"))?;
            }
        }
    }
    Ok(())
}

/// A stored record with the legs' quality (None until the relay reported).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCdr {
    /// The record.
    pub record: CallRecord,
    /// Quality per leg, in the order of `record.legs`.
    pub quality: Vec<Option<LegQuality>>,
    /// The call's recording, when it was recorded.
    pub recording: Option<RecordingRef>,
}

/// A call record's recording: its state and object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRef {
    /// `recording`, `spooled`, `uploaded` or `failed` (`recorder::RecordingState`).
    pub state: String,
    /// The object key (`{yyyy}/{mm}/{dd}/{call_id}.wav`, with the prefix).
    pub key: Option<String>,
}

/// `pbx cdr` filters (all optional; times are Unix ms on `start_ms`).
#[derive(Debug, Clone, Default)]
pub struct CdrFilter {
    /// Calls that started at or after.
    pub from_ms: Option<u64>,
    /// Calls that started before.
    pub to_ms: Option<u64>,
    /// Caller equals.
    pub caller: Option<String>,
    /// Callee equals.
    pub callee: Option<String>,
    /// Disposition equals (`ANSWERED`, ...).
    pub disposition: Option<String>,
    /// Direction equals (`internal`, `inbound`, `outbound`).
    pub direction: Option<String>,
    /// Trunk equals.
    pub trunk: Option<String>,
    /// At most this many rows (newest first); 0: no limit.
    pub limit: usize,
}

/// One write.
#[derive(Debug, Clone)]
pub(super) enum CdrOp {
    Insert(Box<CallRecord>),
    Quality(String, [LegQuality; 2]),
    /// An IVR trajectory part (`store/trajectory.rs`).
    Trajectory(TrajectoryRecord),
    /// Everything one engine step produced: written in one transaction.
    Step(Vec<StepWrite>),
    /// A recorded call's recording state and key (after its record).
    Recording {
        call_id: String,
        state: RecordingRef,
    },
}

/// One write of an engine step ([`CdrQueue::step`]).
#[derive(Debug, Clone)]
pub enum StepWrite {
    /// A finished call's record.
    Record(Box<CallRecord>),
    /// Media quality of a call's legs.
    Quality(String, [LegQuality; 2]),
    /// An event for the outbox (`store/outbox.rs`).
    Event(super::OutboxEvent),
    /// A queue event (`store/queue_events.rs`).
    Queue(Box<acd::QueueEvent>),
    /// An ended quick callback of a missed call (`store/missed_callbacks.rs`).
    MissedCallback(super::MissedCallback),
}

impl Store {
    pub(super) fn write_cdr_ops(&mut self, ops: &[CdrOp]) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for op in ops {
            match op {
                CdrOp::Insert(r) => insert(&tx, r),
                CdrOp::Quality(call_id, q) => quality(&tx, call_id, q),
                CdrOp::Trajectory(t) => super::trajectory::insert(&tx, t),
                CdrOp::Recording { call_id, state } => tx
                    .execute(
                        "UPDATE cdr SET recording_state = ?2, recording_key = ?3 WHERE call_id = ?1",
                        params![call_id, state.state, state.key],
                    )
                    .map(|_| ()),
                CdrOp::Step(writes) => writes.iter().try_for_each(|w| match w {
                    StepWrite::Record(r) => insert(&tx, r),
                    StepWrite::Quality(call_id, q) => quality(&tx, call_id, q),
                    StepWrite::Event(e) => super::outbox::insert(&tx, e),
                    StepWrite::Queue(e) => super::queue_events::insert(&tx, e),
                    StepWrite::MissedCallback(m) => super::missed_callbacks::insert(&tx, m),
                }),
            }
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Writes records at once (tests, imports).
    pub fn insert_cdrs(&mut self, records: &[CallRecord]) -> Result<(), StoreError> {
        let ops: Vec<CdrOp> = records
            .iter()
            .map(|r| CdrOp::Insert(Box::new(r.clone())))
            .collect();
        self.write_cdr_ops(&ops)
    }

    /// Writes outbox events at once (tests, imports).
    pub fn insert_events(&mut self, events: &[super::OutboxEvent]) -> Result<(), StoreError> {
        let writes = events.iter().cloned().map(StepWrite::Event).collect();
        self.write_cdr_ops(&[CdrOp::Step(writes)])
    }

    /// Records matching `filter`, newest first.
    pub fn query_cdrs(&self, filter: &CdrFilter) -> Result<Vec<StoredCdr>, StoreError> {
        let mut sql = String::from(
            "SELECT call_id, caller, callee, direction, start_ms, ring_ms, answer_ms, end_ms, \
             duration_s, billsec, disposition, hangup_cause, hangup_side, hold_s, did, trunk, \
             caller_e164, callee_e164, recording_state, recording_key FROM cdr WHERE 1=1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut add = |cond: &str, v: Value| {
            sql.push_str(cond);
            args.push(v);
        };
        if let Some(v) = filter.from_ms {
            add(" AND start_ms >= ?", Value::Integer(v as i64));
        }
        if let Some(v) = filter.to_ms {
            add(" AND start_ms < ?", Value::Integer(v as i64));
        }
        // a number matches as received or in its E.164 form
        if let Some(v) = &filter.caller {
            add(" AND (caller = ?", Value::Text(v.clone()));
            add(" OR caller_e164 = ?)", Value::Text(v.clone()));
        }
        if let Some(v) = &filter.callee {
            add(" AND (callee = ?", Value::Text(v.clone()));
            add(" OR callee_e164 = ?)", Value::Text(v.clone()));
        }
        if let Some(v) = &filter.disposition {
            add(" AND disposition = ?", Value::Text(v.clone()));
        }
        if let Some(v) = &filter.direction {
            add(" AND direction = ?", Value::Text(v.clone()));
        }
        if let Some(v) = &filter.trunk {
            add(" AND trunk = ?", Value::Text(v.clone()));
        }
        sql.push_str(" ORDER BY start_ms DESC, call_id");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                let recording = r
                    .get::<_, Option<String>>(18)?
                    .map(|state| -> rusqlite::Result<RecordingRef> {
                        Ok(RecordingRef {
                            state,
                            key: r.get(19)?,
                        })
                    })
                    .transpose()?;
                let record = CallRecord {
                    call_id: r.get(0)?,
                    caller: r.get(1)?,
                    callee: r.get(2)?,
                    direction: r.get(3)?,
                    start_ms: r.get::<_, i64>(4)? as u64,
                    ring_ms: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                    answer_ms: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    end_ms: r.get::<_, i64>(7)? as u64,
                    duration_s: r.get::<_, i64>(8)? as u64,
                    billsec: r.get::<_, i64>(9)? as u64,
                    disposition: r.get(10)?,
                    hangup_cause: r.get(11)?,
                    hangup_side: r.get(12)?,
                    hold_s: r.get::<_, i64>(13)? as u64,
                    did: r.get(14)?,
                    trunk: r.get(15)?,
                    caller_e164: r.get(16)?,
                    callee_e164: r.get(17)?,
                    legs: Vec::new(),
                };
                Ok((record, recording))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (record, recording) = r.map_err(|e| self.err(e))?;
            let mut stored = self.with_legs(record)?;
            stored.recording = recording;
            out.push(stored);
        }
        Ok(out)
    }

    fn with_legs(&self, mut record: CallRecord) -> Result<StoredCdr, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT leg, sip_call_id, party, status, codec, packets, lost, jitter_ms, mos, \
                 mos_avg, mos_worst, loss_max_pct, jitter_max_ms \
                 FROM cdr_legs WHERE call_id = ? ORDER BY leg",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![record.call_id], |r| {
                let leg = LegRecord {
                    leg: r.get::<_, i64>(0)? as u32,
                    sip_call_id: r.get(1)?,
                    party: r.get(2)?,
                    status: r.get::<_, i64>(3)? as u16,
                    codec: r.get(4)?,
                };
                let q = match r.get::<_, Option<i64>>(5)? {
                    Some(packets) => Some(LegQuality {
                        packets: packets as u64,
                        lost: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                        jitter_ms: r.get::<_, Option<f64>>(7)?.unwrap_or(0.0),
                        mos: r.get::<_, Option<f64>>(8)?.unwrap_or(0.0),
                        window: match r.get::<_, Option<f64>>(9)? {
                            Some(average_mos) => Some(QualitySummary {
                                average_mos,
                                worst_mos: r.get::<_, Option<f64>>(10)?.unwrap_or(average_mos),
                                max_loss_pct: r.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
                                max_jitter_ms: r.get::<_, Option<f64>>(12)?.unwrap_or(0.0),
                            }),
                            None => None,
                        },
                    }),
                    None => None,
                };
                Ok((leg, q))
            })
            .map_err(|e| self.err(e))?;
        let mut quality = Vec::new();
        for row in rows {
            let (leg, q) = row.map_err(|e| self.err(e))?;
            record.legs.push(leg);
            quality.push(q);
        }
        Ok(StoredCdr {
            record,
            quality,
            recording: None,
        })
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, r: &CallRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO cdr (call_id, caller, callee, direction, start_ms, ring_ms, \
         answer_ms, end_ms, duration_s, billsec, disposition, hangup_cause, hangup_side, hold_s, \
         did, trunk, caller_e164, callee_e164) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            r.call_id,
            r.caller,
            r.callee,
            r.direction,
            r.start_ms as i64,
            r.ring_ms.map(|v| v as i64),
            r.answer_ms.map(|v| v as i64),
            r.end_ms as i64,
            r.duration_s as i64,
            r.billsec as i64,
            r.disposition,
            r.hangup_cause,
            r.hangup_side,
            r.hold_s as i64,
            r.did,
            r.trunk,
            r.caller_e164,
            r.callee_e164,
        ],
    )?;
    for l in &r.legs {
        tx.execute(
            "INSERT OR REPLACE INTO cdr_legs (call_id, leg, sip_call_id, party, status, codec) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.call_id, l.leg, l.sip_call_id, l.party, l.status, l.codec],
        )?;
    }
    Ok(())
}

/// Relay side A is the caller's leg, side B the leg that answered.
fn quality(
    tx: &rusqlite::Transaction<'_>,
    call_id: &str,
    q: &[LegQuality; 2],
) -> rusqlite::Result<()> {
    let sql_a = "UPDATE cdr_legs SET packets = ?3, lost = ?4, jitter_ms = ?5, mos = ?6, \
                 mos_avg = ?7, mos_worst = ?8, loss_max_pct = ?9, jitter_max_ms = ?10 \
                 WHERE call_id = ?1 AND leg = ?2";
    let answered: Option<i64> = tx
        .query_row(
            "SELECT MIN(leg) FROM cdr_legs WHERE call_id = ?1 AND leg > 0 AND status = 200",
            params![call_id],
            |r| r.get(0),
        )
        .unwrap_or(None);
    for (leg, q) in [(Some(0), &q[0]), (answered, &q[1])] {
        if let Some(leg) = leg {
            let w = q.window;
            tx.execute(
                sql_a,
                params![
                    call_id,
                    leg,
                    q.packets as i64,
                    q.lost,
                    q.jitter_ms,
                    q.mos,
                    w.map(|w| w.average_mos),
                    w.map(|w| w.worst_mos),
                    w.map(|w| w.max_loss_pct),
                    w.map(|w| w.max_jitter_ms),
                ],
            )?;
        }
    }
    Ok(())
}

/// The SQLite [`CdrSink`]: a queue and a writer thread.
pub struct CdrWriter {
    tx: Sender<CdrOp>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The sending half, shared with the engine.
#[derive(Clone)]
pub struct CdrQueue {
    tx: Sender<CdrOp>,
}

impl CdrSink for CdrQueue {
    fn write(&self, record: CallRecord) {
        let _ = self.tx.send(CdrOp::Insert(Box::new(record)));
    }

    fn quality(&self, call_id: &str, legs: [LegQuality; 2]) {
        let _ = self.tx.send(CdrOp::Quality(call_id.to_owned(), legs));
    }
}

impl CdrQueue {
    /// Queues the recording state and key of a recorded call; applied to
    /// its record when that is stored (queue it after the record's step).
    pub fn recording_state(&self, call_id: &str, state: &str, key: Option<String>) {
        let _ = self.tx.send(CdrOp::Recording {
            call_id: call_id.to_owned(),
            state: RecordingRef {
                state: state.to_owned(),
                key,
            },
        });
    }

    /// Queues what one engine step produced, to be committed together.
    pub fn step(&self, writes: Vec<StepWrite>) {
        if !writes.is_empty() {
            let _ = self.tx.send(CdrOp::Step(writes));
        }
    }
}

impl TrajectorySink for CdrQueue {
    fn write_trajectory(&self, record: TrajectoryRecord) {
        let _ = self.tx.send(CdrOp::Trajectory(record));
    }
}

impl CdrWriter {
    /// Starts the writer thread on `store`, committing every `interval`.
    pub fn start(store: Store, interval: Duration) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pbx-cdr".into())
            .spawn(move || run(store, rx, interval, flag))
            .expect("spawning the CDR thread");
        Self {
            tx,
            stop,
            thread: Some(thread),
        }
    }

    /// The sink for the engine.
    pub fn queue(&self) -> CdrQueue {
        CdrQueue {
            tx: self.tx.clone(),
        }
    }

    /// Writes what is queued and stops the thread.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut store: Store, rx: Receiver<CdrOp>, interval: Duration, stop: Arc<AtomicBool>) {
    let mut batch: Vec<CdrOp> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            std::thread::sleep(interval);
        }
        batch.extend(rx.try_iter());
        if !batch.is_empty() {
            match store.write_cdr_ops(&batch) {
                Ok(()) => batch.clear(),
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "writing call records failed; retrying next round")
                }
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, start_ms: u64, disposition: &str) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            caller: "1001".into(),
            callee: "1002".into(),
            direction: "internal".into(),
            did: None,
            trunk: None,
            caller_e164: None,
            callee_e164: None,
            start_ms,
            ring_ms: Some(start_ms + 100),
            answer_ms: (disposition == "ANSWERED").then_some(start_ms + 2000),
            end_ms: start_ms + 5000,
            duration_s: 5,
            billsec: if disposition == "ANSWERED" { 3 } else { 0 },
            disposition: disposition.into(),
            hangup_cause: "call.normal".into(),
            hangup_side: "caller".into(),
            hold_s: 0,
            legs: vec![
                LegRecord {
                    leg: 0,
                    sip_call_id: "a@x".into(),
                    party: "sip:1001@x".into(),
                    status: 200,
                    codec: Some("PCMU/8000".into()),
                },
                LegRecord {
                    leg: 1,
                    sip_call_id: "b@x".into(),
                    party: "sip:1002@y".into(),
                    status: 200,
                    codec: None,
                },
            ],
        }
    }

    #[test]
    fn an_old_database_gets_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.sqlite");
        {
            // The table as pbx wrote it before trunks: no did / trunk.
            let conn = rusqlite::Connection::open(&path).unwrap();
            let old = SCHEMA
                .replace(
                    ",\n    did TEXT,\n    trunk TEXT,\n    caller_e164 TEXT,\n    callee_e164 TEXT,\n    recording_state TEXT,\n    recording_key TEXT\n",
                    "\n",
                )
                .replace(
                    "    mos_avg REAL,\n    mos_worst REAL,\n    loss_max_pct REAL,\n    jitter_max_ms REAL,\n",
                    "",
                );
            assert!(
                !old.contains("did TEXT")
                    && !old.contains("mos_avg")
                    && !old.contains("recording_state")
            );
            conn.execute_batch(&old).unwrap();
            conn.execute_batch(
                "INSERT INTO cdr VALUES ('old', '1001', '1002', 'internal', 5, NULL, NULL, 9, 1, 0, 'BUSY', 'call.busy', 'callee', 0)",
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let mut r = record("new", 10, "ANSWERED");
        r.direction = "outbound".into();
        r.trunk = Some("carrier".into());
        r.did = Some("+31201234567".into());
        r.caller = "0612345678".into();
        r.caller_e164 = Some("+31612345678".into());
        r.callee_e164 = Some("+31201234567".into());
        store.insert_cdrs(std::slice::from_ref(&r)).unwrap();
        let all = store.query_cdrs(&CdrFilter::default()).unwrap();
        assert_eq!(all[0].record, r);
        let by_trunk = store
            .query_cdrs(&CdrFilter {
                trunk: Some("carrier".into()),
                direction: Some("outbound".into()),
                ..CdrFilter::default()
            })
            .unwrap();
        assert_eq!(by_trunk.len(), 1);
        // a number matches as received or in E.164
        for caller in ["0612345678", "+31612345678"] {
            let by_caller = store
                .query_cdrs(&CdrFilter {
                    caller: Some(caller.into()),
                    ..CdrFilter::default()
                })
                .unwrap();
            assert_eq!(by_caller.len(), 1, "{caller}");
        }
        assert_eq!(all[1].record.call_id, "old");
        assert_eq!(
            (all[1].record.did.as_deref(), all[1].record.trunk.as_deref()),
            (None, None)
        );
        let legs: Vec<String> = store
            .conn
            .prepare("PRAGMA table_info(cdr_legs)")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(legs.iter().any(|c| c == "mos_worst"), "{legs:?}");
        drop(store);
        // Opening again does not add them twice.
        Store::open(&path).unwrap();
    }

    #[test]
    fn writer_round_trip_with_quality_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.sqlite");
        let writer = CdrWriter::start(Store::open(&path).unwrap(), Duration::from_millis(10));
        let q = writer.queue();
        q.write(record("c1", 1_000, "ANSWERED"));
        q.write(record("c2", 2_000, "BUSY"));
        let lq = LegQuality {
            packets: 500,
            lost: 3,
            jitter_ms: 1.5,
            mos: 4.3,
            window: Some(QualitySummary {
                average_mos: 4.2,
                worst_mos: 3.9,
                max_loss_pct: 1.5,
                max_jitter_ms: 4.0,
            }),
        };
        q.quality("c1", [lq, LegQuality::default()]);
        q.recording_state("c1", "recording", Some("2024/01/01/c1.wav".into()));
        q.recording_state("c1", "uploaded", Some("2024/01/01/c1.wav".into()));
        writer.shutdown();
        let store = Store::open(&path).unwrap();
        let all = store.query_cdrs(&CdrFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].record.call_id, "c2", "newest first");
        let c1 = &all[1];
        assert_eq!(c1.record, record("c1", 1_000, "ANSWERED"));
        assert_eq!(c1.quality[0], Some(lq));
        assert_eq!(c1.quality[1], Some(LegQuality::default()));
        assert_eq!(
            c1.recording,
            Some(RecordingRef {
                state: "uploaded".into(),
                key: Some("2024/01/01/c1.wav".into())
            })
        );
        assert_eq!(all[0].recording, None, "c2 was not recorded");
        let busy = store
            .query_cdrs(&CdrFilter {
                disposition: Some("BUSY".into()),
                ..CdrFilter::default()
            })
            .unwrap();
        assert_eq!(busy.len(), 1);
        let window = store
            .query_cdrs(&CdrFilter {
                from_ms: Some(1_500),
                to_ms: Some(3_000),
                caller: Some("1001".into()),
                ..CdrFilter::default()
            })
            .unwrap();
        assert_eq!(window.len(), 1);
        assert_eq!(window[0].record.call_id, "c2");
    }
}
