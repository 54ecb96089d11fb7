//! The summary tables in the pbx SQLite store, over a connection of their
//! own (WAL mode: the CDR writer of `pbx serve` keeps writing meanwhile).
//! The raw tables (`cdr`, `cdr_legs`, `queue_events`, `ivr_trajectory`)
//! belong to `pbx-core`'s store and are only read here; the summary tables
//! (`rpt_*`, `rpt_meta`) and `cdr_tags` (call tags, created if absent) are
//! this crate's.
//!
//! Aggregation ([`ReportDb::rebuild`]) replaces the summary rows of a range
//! of slots with what [`aggregate`](crate::aggregate::aggregate) makes of
//! the raw rows, in one transaction. [`ReportDb::run_incremental`] (every
//! 15 minutes) rebuilds from the watermark less the one-call-resolution
//! window up to now; [`ReportDb::run_nightly`] rebuilds the previous local
//! day once. A query ([`ReportDb::cube`]) adds the summary rows of whole
//! slots below the watermark and aggregates the rest — the last minutes of
//! today — from the raw rows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, params_from_iter, types::Value, Connection, OptionalExtension};

use crate::aggregate::{aggregate, RawBatch, RawCall, RawLeg, RawSurvey};
use crate::settings::{ReportSettings, DAY_MS, SLOT_MS};
use crate::summary::{self, def, Cube, Kind, Op};
use crate::{Error, Result};

/// Raw rows read before a range (agent lookups for surveys).
const MARGIN_MS: i64 = 2 * 3600 * 1000;

/// How a query groups slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One row for the whole range.
    Total,
    /// Per 30-minute slot (key: slot start, Unix ms).
    Slot,
    /// Per hour (key: hour start).
    Hour,
    /// Per local day (key: the day's start, Unix ms).
    Day,
    /// Per half-hour of the local day (key: 0 = 00:00–00:30 … 47).
    HalfHourOfDay,
}

impl Period {
    /// The key of the slot starting at `slot`.
    pub fn key(self, slot: i64, offset_ms: i64) -> i64 {
        match self {
            Self::Total => 0,
            Self::Slot => slot,
            Self::Hour => (slot + offset_ms).div_euclid(3_600_000) * 3_600_000 - offset_ms,
            Self::Day => (slot + offset_ms).div_euclid(DAY_MS) * DAY_MS - offset_ms,
            Self::HalfHourOfDay => (slot + offset_ms).rem_euclid(DAY_MS) / SLOT_MS,
        }
    }

    fn sql(self, offset_ms: i64) -> String {
        match self {
            Self::Total => "0".into(),
            Self::Slot => "slot".into(),
            Self::Hour => format!("((slot + {offset_ms}) / 3600000) * 3600000 - {offset_ms}"),
            Self::Day => format!("((slot + {offset_ms}) / {DAY_MS}) * {DAY_MS} - {offset_ms}"),
            Self::HalfHourOfDay => format!("((slot + {offset_ms}) % {DAY_MS}) / {SLOT_MS}"),
        }
    }
}

/// Restricts a query to rows whose dimension `dim` equals a value.
#[derive(Debug, Clone, Default)]
pub struct DimFilter {
    /// `(dimension, value)` pairs, all required.
    pub equal: Vec<(&'static str, String)>,
}

/// What one rebuild did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Range start (slot-aligned).
    pub from_ms: i64,
    /// Range end (slot-aligned, exclusive).
    pub to_ms: i64,
    /// Call records read.
    pub calls: usize,
    /// Queue events read.
    pub events: usize,
    /// Summary rows written.
    pub rows: usize,
}

/// Aggregates `batch` for `[from_ms, to_ms)` and groups the rows of
/// `kind` by `period`, keeping those that pass `filter`.
pub fn raw_cube(
    batch: &RawBatch,
    kind: Kind,
    from_ms: i64,
    to_ms: i64,
    period: Period,
    filter: &DimFilter,
    s: &ReportSettings,
) -> Cube {
    let Some(c) = aggregate(batch, from_ms, to_ms, s).remove(&kind) else {
        return Cube::new(kind);
    };
    let off = s.offset_ms();
    let mut c = c.by_period(|slot| Some(period.key(slot, off)));
    let d = def(kind);
    c.rows.retain(|(_, dims), _| {
        filter.equal.iter().all(|(name, v)| {
            d.dims
                .iter()
                .position(|x| x == name)
                .is_none_or(|i| &dims[i] == v)
        })
    });
    c
}

/// The report side of the store.
pub struct ReportDb {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA_META: &str = "
CREATE TABLE IF NOT EXISTS rpt_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    watermark_ms INTEGER NOT NULL,
    nightly_day INTEGER NOT NULL
);
INSERT OR IGNORE INTO rpt_meta (id, watermark_ms, nightly_day) VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS cdr_tags (
    call_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    at_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, tag)
);
CREATE INDEX IF NOT EXISTS cdr_tags_tag ON cdr_tags (tag, call_id);
";

/// The summary tables are clustered by slot (`WITHOUT ROWID`): a range of
/// slots is one sequential read.
fn schema() -> String {
    let mut sql = String::from(SCHEMA_META);
    for t in &summary::TABLES {
        let dims: Vec<String> = t
            .dims
            .iter()
            .map(|d| format!("{d} TEXT NOT NULL"))
            .collect();
        let metrics: Vec<String> = t
            .metrics
            .iter()
            .map(|(m, _)| format!("{m} INTEGER NOT NULL"))
            .collect();
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} (slot INTEGER NOT NULL, {}, {}, PRIMARY KEY (slot, {})) WITHOUT ROWID;\n",
            t.sql,
            dims.join(", "),
            metrics.join(", "),
            t.dims.join(", ")
        ));
    }
    sql
}

impl ReportDb {
    /// Opens the store at `path` (it must exist) and creates the summary tables.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::NoStore(path.to_owned()));
        }
        let wrap = |e| Error::sqlite(path, e);
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        // Reads of a month walk many pages of a large file: a bigger page
        // cache and memory-mapped reads keep them off the read() path.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(wrap)?;
        conn.pragma_update(None, "mmap_size", 268_435_456)
            .map_err(wrap)?;
        conn.execute_batch(&schema()).map_err(wrap)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.path, e)
    }

    /// The connection (tests, the generator).
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Slots below this are summarized (0: none yet).
    pub fn watermark(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT watermark_ms FROM rpt_meta WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Reads what [`aggregate`] needs for `[from_ms, to_ms)`.
    pub fn load_raw(&self, from_ms: i64, to_ms: i64, s: &ReportSettings) -> Result<RawBatch> {
        let mut batch = RawBatch::default();
        let tail = to_ms + s.ocr_window_ms.max(0) + MARGIN_MS;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT call_id, direction, start_ms, caller, callee, caller_e164, callee_e164, did, trunk, \
                 disposition, billsec FROM cdr WHERE start_ms >= ?1 AND start_ms < ?2 \
                 AND direction IN ('inbound', 'outbound') ORDER BY start_ms",
            )
            .map_err(|e| self.missing(e))?;
        let rows = stmt
            .query_map(params![from_ms - MARGIN_MS, to_ms], |r| {
                Ok(RawCall {
                    call_id: r.get(0)?,
                    direction: r.get(1)?,
                    start_ms: r.get(2)?,
                    caller: r.get(3)?,
                    callee: r.get(4)?,
                    caller_e164: r.get(5)?,
                    callee_e164: r.get(6)?,
                    did: r.get(7)?,
                    trunk: r.get(8)?,
                    disposition: r.get(9)?,
                    billsec: r.get(10)?,
                    legs: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?;
        for r in rows {
            batch.calls.push(r.map_err(|e| self.err(e))?);
        }
        self.load_legs(&mut batch, from_ms, to_ms)?;
        // Every event of the range; before it what says who served a call
        // (surveys of calls answered earlier); after it only what one-call
        // resolution reads.
        let before = "SELECT event FROM queue_events WHERE at_ms >= ?1 AND at_ms < ?2 AND kind IN \
                      ('enter', 'connect', 'callback_connected', 'transfer') ORDER BY id";
        let all = "SELECT event FROM queue_events WHERE at_ms >= ?1 AND at_ms < ?2 AND kind NOT IN \
                   ('offer', 'ring_no_answer', 'callback_requested', 'callback_placed', 'callback_failed') ORDER BY id";
        let after = "SELECT event FROM queue_events WHERE at_ms >= ?1 AND at_ms < ?2 AND kind IN \
                     ('enter', 'connect', 'callback_connected') ORDER BY id";
        for (sql, a, b) in [
            (before, from_ms - MARGIN_MS, from_ms),
            (all, from_ms, to_ms),
            (after, to_ms, tail),
        ] {
            let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.missing(e))?;
            let rows = stmt
                .query_map(params![a, b], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            for json in rows {
                let json = json.map_err(|e| self.err(e))?;
                match serde_json::from_str(&json) {
                    Ok(ev) => batch.events.push(ev),
                    Err(e) => tracing::warn!(error = %e, "unreadable queue event skipped"),
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT call_id, started_ms, key_path FROM ivr_trajectory \
                 WHERE flow = ?3 AND started_ms >= ?1 AND started_ms < ?2",
            )
            .map_err(|e| self.missing(e))?;
        let rows = stmt
            .query_map(params![from_ms, to_ms, s.survey_flow], |r| {
                Ok(RawSurvey {
                    call_id: r.get(0)?,
                    started_ms: r.get(1)?,
                    key_path: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        for r in rows {
            batch.surveys.push(r.map_err(|e| self.err(e))?);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.call_id, t.tag FROM cdr_tags t JOIN cdr c ON c.call_id = t.call_id \
                 WHERE c.start_ms >= ?1 AND c.start_ms < ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        for r in rows {
            batch.tags.push(r.map_err(|e| self.err(e))?);
        }
        Ok(batch)
    }

    fn load_legs(&self, batch: &mut RawBatch, from_ms: i64, to_ms: i64) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.call_id, l.mos_avg, COALESCE(l.mos_worst, l.mos_avg), COALESCE(l.loss_max_pct, 0), \
                 COALESCE(l.jitter_max_ms, 0) FROM cdr c JOIN cdr_legs l ON l.call_id = c.call_id \
                 WHERE c.start_ms >= ?1 AND c.start_ms < ?2 AND l.mos_avg IS NOT NULL ORDER BY c.start_ms, l.leg",
            )
            .map_err(|e| self.missing(e))?;
        let rows = stmt
            .query_map(params![from_ms, to_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    RawLeg {
                        mos_avg: r.get(1)?,
                        mos_worst: r.get(2)?,
                        loss_max_pct: r.get(3)?,
                        jitter_max_ms: r.get(4)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        let index: std::collections::HashMap<String, usize> = batch
            .calls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.call_id.clone(), i))
            .collect();
        for r in rows {
            let (id, leg) = r.map_err(|e| self.err(e))?;
            if let Some(&i) = index.get(&id) {
                batch.calls[i].legs.push(leg);
            }
        }
        Ok(())
    }

    /// A raw table missing means the store was never used by `pbx serve`.
    fn missing(&self, e: rusqlite::Error) -> Error {
        if e.to_string().contains("no such table") {
            Error::NoRawTables {
                path: self.path.clone(),
                why: e.to_string(),
            }
        } else {
            self.err(e)
        }
    }

    /// Replaces the summary rows of the slots in `[from_ms, to_ms)` (widened
    /// to whole slots) with a fresh aggregation: a day at a time (memory
    /// stays bounded for a month), one transaction per day.
    pub fn rebuild(&mut self, from_ms: i64, to_ms: i64, s: &ReportSettings) -> Result<Rebuilt> {
        let from = summary::slot_of(from_ms);
        let to = summary::slot_of(to_ms + SLOT_MS - 1);
        let mut total = Rebuilt {
            from_ms: from,
            to_ms: to,
            ..Rebuilt::default()
        };
        let mut a = from;
        while a < to {
            let b = (a + DAY_MS).min(to);
            let r = self.rebuild_chunk(a, b, s)?;
            total.calls += r.calls;
            total.events += r.events;
            total.rows += r.rows;
            a = b;
        }
        Ok(total)
    }

    fn rebuild_chunk(&mut self, from: i64, to: i64, s: &ReportSettings) -> Result<Rebuilt> {
        let batch = self.load_raw(from, to, s)?;
        let cubes = aggregate(&batch, from, to, s);
        let path = self.path.clone();
        let wrap = |e| Error::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut rows = 0;
        for t in &summary::TABLES {
            tx.execute(
                &format!("DELETE FROM {} WHERE slot >= ?1 AND slot < ?2", t.sql),
                params![from, to],
            )
            .map_err(wrap)?;
            let Some(cube) = cubes.get(&t.kind) else {
                continue;
            };
            let cols: Vec<&str> = t
                .dims
                .iter()
                .copied()
                .chain(t.metrics.iter().map(|m| m.0))
                .collect();
            let marks = vec!["?"; cols.len() + 1].join(", ");
            let sql = format!(
                "INSERT INTO {} (slot, {}) VALUES ({marks})",
                t.sql,
                cols.join(", ")
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(wrap)?;
            for ((slot, dims), values) in &cube.rows {
                let mut args: Vec<Value> = vec![Value::Integer(*slot)];
                args.extend(dims.iter().map(|d| Value::Text(d.clone())));
                args.extend(values.iter().map(|v| Value::Integer(*v)));
                stmt.execute(params_from_iter(args)).map_err(wrap)?;
                rows += 1;
            }
        }
        tx.execute(
            "UPDATE rpt_meta SET watermark_ms = MAX(watermark_ms, ?1) WHERE id = 1",
            params![to],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(Rebuilt {
            from_ms: from,
            to_ms: to,
            calls: batch.calls.len(),
            events: batch.events.len(),
            rows,
        })
    }

    /// The 15-minute run: rebuilds from the watermark (less the
    /// one-call-resolution window, whose answers a later call may change)
    /// up to the slot `now_ms` is in. The first run starts a day back.
    pub fn run_incremental(&mut self, now_ms: i64, s: &ReportSettings) -> Result<Rebuilt> {
        let wm = self.watermark()?;
        let lookback = s.ocr_window_ms.max(MARGIN_MS);
        let start = if wm == 0 {
            now_ms - DAY_MS
        } else {
            wm.min(now_ms) - lookback
        };
        let end = summary::slot_of(now_ms);
        if start >= end {
            return Ok(Rebuilt::default());
        }
        self.rebuild(start, end, s)
    }

    /// The nightly run: once per local day, rebuilds the whole previous day
    /// (calls longer than the incremental look-back, late writes). Returns
    /// None when it already ran today.
    pub fn run_nightly(&mut self, now_ms: i64, s: &ReportSettings) -> Result<Option<Rebuilt>> {
        let today = s.local_day(now_ms);
        let done: i64 = self
            .conn
            .query_row("SELECT nightly_day FROM rpt_meta WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        if done >= today {
            return Ok(None);
        }
        let day_start = today * DAY_MS - s.offset_ms();
        let r = self.rebuild(day_start - DAY_MS, day_start, s)?;
        self.conn
            .execute(
                "UPDATE rpt_meta SET nightly_day = ?1 WHERE id = 1",
                params![today],
            )
            .map_err(|e| self.err(e))?;
        Ok(Some(r))
    }

    /// The rows of `kind` for `[from_ms, to_ms)` grouped by `period`:
    /// summary rows of the whole slots below the watermark, the rest
    /// aggregated from the raw tables.
    pub fn cube(
        &self,
        kind: Kind,
        from_ms: i64,
        to_ms: i64,
        period: Period,
        filter: &DimFilter,
        s: &ReportSettings,
    ) -> Result<Cube> {
        let wm = self.watermark()?;
        let a = summary::slot_of(from_ms + SLOT_MS - 1);
        let b = summary::slot_of(to_ms.min(wm));
        let mut out = Cube::new(kind);
        let mut raw_ranges = Vec::new();
        if a < b {
            out = self.summarized(kind, a, b, period, filter, s)?;
            raw_ranges.push((from_ms, a));
            raw_ranges.push((b, to_ms));
        } else {
            raw_ranges.push((from_ms, to_ms));
        }
        for (x, y) in raw_ranges.into_iter().filter(|(x, y)| x < y) {
            let batch = self.load_raw(x, y, s)?;
            out.merge(raw_cube(&batch, kind, x, y, period, filter, s));
        }
        Ok(out)
    }

    fn summarized(
        &self,
        kind: Kind,
        a: i64,
        b: i64,
        period: Period,
        filter: &DimFilter,
        s: &ReportSettings,
    ) -> Result<Cube> {
        let d = def(kind);
        let key = period.sql(s.offset_ms());
        let metrics: Vec<String> = d
            .metrics
            .iter()
            .map(|(m, op)| match op {
                Op::Sum => format!("SUM({m})"),
                Op::Min => format!("MIN({m})"),
                Op::Max => format!("MAX({m})"),
            })
            .collect();
        let mut sql = format!(
            "SELECT {key} AS period, {}, {} FROM {} WHERE slot >= ?1 AND slot < ?2",
            d.dims.join(", "),
            metrics.join(", "),
            d.sql
        );
        let mut args = vec![Value::Integer(a), Value::Integer(b)];
        for (name, v) in &filter.equal {
            if d.dims.contains(name) {
                sql.push_str(&format!(" AND {name} = ?"));
                args.push(Value::Text(v.clone()));
            }
        }
        sql.push_str(&format!(" GROUP BY period, {}", d.dims.join(", ")));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let n = d.dims.len();
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                let p: i64 = r.get(0)?;
                let dims = (0..n)
                    .map(|i| r.get::<_, String>(1 + i))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let vals = (0..d.metrics.len())
                    .map(|i| r.get::<_, i64>(1 + n + i))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(((p, dims), vals))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Cube::new(kind);
        for r in rows {
            let (k, v) = r.map_err(|e| self.err(e))?;
            out.add(k, &v);
        }
        Ok(out)
    }

    /// Tags a call (`cdr_tags`; the call-tag report counts them).
    pub fn tag_call(&self, call_id: &str, tag: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO cdr_tags (call_id, tag) VALUES (?1, ?2)",
                params![call_id, tag],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether the summary tables hold anything below the watermark.
    pub fn last_nightly_day(&self) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT nightly_day FROM rpt_meta WHERE id = 1 AND nightly_day > 0",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
