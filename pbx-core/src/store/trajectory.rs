//! IVR trajectories in SQLite: one `ivr_trajectory` row per flow a call went
//! through (`part` 0, then +1 per `flow:` transfer), keyed by the CDR's call
//! id. The key-press path has its own columns (`key_path` = `1>3>2`,
//! `key_steps` as JSON) for the screen-pop; the whole trajectory is JSON.
//! Rows are written by the CDR writer thread (same queue, same 100 ms
//! commits, so a call that ended a second before a kill -9 is on disk) and
//! purged by the housekeeping thread after the retention period (SPEC §5,
//! 15 days by default).
//!
//! A call handed to a second IVR (a transfer to another IVR number) numbers
//! its parts from 0 again: a part whose (call, part) is taken by a flow that
//! started at another time is appended after the call's last part instead
//! of replacing it.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::b2bua::ivr_app::TrajectoryRecord;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ivr_trajectory (
    call_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    flow TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    key_path TEXT NOT NULL,
    key_steps TEXT NOT NULL,
    outcome TEXT,
    trajectory TEXT NOT NULL,
    PRIMARY KEY (call_id, part)
);
CREATE INDEX IF NOT EXISTS ivr_trajectory_started ON ivr_trajectory (started_ms);
";

/// A stored trajectory part with its key path as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrajectory {
    /// The part.
    pub record: TrajectoryRecord,
    /// The `key_path` column (`1>3>2`).
    pub key_path: String,
}

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, r: &TrajectoryRecord) -> rusqlite::Result<()> {
    let t = &r.trajectory;
    let key_path = t.key_path();
    let json = |v: serde_json::Result<String>| {
        v.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    };
    let started_ms = t.started_at.timestamp_millis();
    let taken: Option<i64> = tx
        .query_row(
            "SELECT started_ms FROM ivr_trajectory WHERE call_id = ?1 AND part = ?2",
            params![r.call_id, r.part],
            |row| row.get(0),
        )
        .optional()?;
    let part: i64 = match taken {
        Some(other) if other != started_ms => tx.query_row(
            "SELECT MAX(part) + 1 FROM ivr_trajectory WHERE call_id = ?1",
            params![r.call_id],
            |row| row.get(0),
        )?,
        _ => i64::from(r.part),
    };
    tx.execute(
        "INSERT OR REPLACE INTO ivr_trajectory (call_id, part, flow, started_ms, ended_ms, \
         key_path, key_steps, outcome, trajectory) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            r.call_id,
            part,
            t.flow,
            started_ms,
            t.ended_at.map(|e| e.timestamp_millis()),
            key_path.summary,
            json(serde_json::to_string(&key_path.steps))?,
            t.outcome
                .as_ref()
                .map(|o| json(serde_json::to_string(o)))
                .transpose()?,
            json(serde_json::to_string(t))?,
        ],
    )?;
    if let Some(event) = ivr_completed(r, part, &key_path) {
        super::outbox::insert(tx, &event)?;
    }
    Ok(())
}

/// The `ivr.completed` outbox row of a finished trajectory part (SPEC §5:
/// the call left the flow), written in the part's transaction; the id is
/// per part, so a part written again (a retried commit, an amended
/// outcome) keeps its first event.
fn ivr_completed(
    r: &TrajectoryRecord,
    part: i64,
    key_path: &ivr::KeyPath,
) -> Option<super::OutboxEvent> {
    let t = &r.trajectory;
    let ended = t.ended_at?;
    let iso =
        |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Some(super::OutboxEvent {
        event_id: format!("ivr_{}_{part}", r.call_id),
        call_id: r.call_id.clone(),
        kind: "ivr.completed".into(),
        at_ms: ended.timestamp_millis().max(0) as u64,
        payload: serde_json::json!({
            "call_id": r.call_id,
            "flow": t.flow,
            "part": part,
            "started_at": iso(t.started_at),
            "ended_at": iso(ended),
            "outcome": t.outcome,
            "ivr_key_path": {
                "summary": key_path.summary,
                "steps": key_path.steps.iter().map(|s| serde_json::json!({
                    "node": s.node, "key": s.key.to_string(), "at": iso(s.at),
                })).collect::<Vec<_>>(),
            },
            "entries": t.entries,
        }),
    })
}

impl Store {
    /// Writes trajectory parts at once (tests, imports; `pbx serve` writes
    /// through the CDR queue).
    pub fn insert_trajectories(&mut self, records: &[TrajectoryRecord]) -> Result<(), StoreError> {
        let ops: Vec<super::cdr::CdrOp> = records
            .iter()
            .cloned()
            .map(super::cdr::CdrOp::Trajectory)
            .collect();
        self.write_cdr_ops(&ops)
    }

    /// The trajectory parts of a call, in order (empty if none or purged).
    pub fn trajectories_of(&self, call_id: &str) -> Result<Vec<StoredTrajectory>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT part, key_path, trajectory FROM ivr_trajectory WHERE call_id = ? \
                 ORDER BY part",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![call_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (part, key_path, json) = row.map_err(|e| self.err(e))?;
            let trajectory: ivr::Trajectory = serde_json::from_str(&json).map_err(|e| {
                self.err(rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                ))
            })?;
            out.push(StoredTrajectory {
                record: TrajectoryRecord {
                    call_id: call_id.to_owned(),
                    part: u32::try_from(part).unwrap_or(u32::MAX),
                    trajectory,
                },
                key_path,
            });
        }
        Ok(out)
    }

    /// Deletes trajectories of calls that started at or before `cutoff_ms`
    /// (Unix ms); returns how many parts went.
    pub fn purge_trajectories(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "DELETE FROM ivr_trajectory WHERE started_ms <= ?1",
                params![i64::try_from(cutoff_ms).unwrap_or(i64::MAX)],
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::b2bua::ivr_app::TrajectorySink;
    use crate::store::CdrWriter;

    /// A real trajectory: the flow runs a menu, key 2, then hangs up.
    fn trajectory(call_id: &str, start: &str) -> ivr::Trajectory {
        let prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/prompts");
        let flow = ivr::parse_flow(
            "t.toml",
            format!(
                "[flow]\nname = \"t\"\nprompts = \"{prompts}\"\n[nodes.m]\ntype = \"menu\"\n\
                 prompts = [\"main_menu\"]\nexits = {{ \"2\" = \"bye\", default = \"bye\" }}\n\
                 [nodes.bye]\ntype = \"hangup\"\nreason = \"done\"\n"
            ),
        )
        .expect("valid flow");
        let ctx = ivr::CallContext {
            call_id: call_id.into(),
            ..Default::default()
        };
        let mut i = ivr::Interpreter::new(Arc::new(flow), ctx, ivr::Calendar::default());
        let t0 = chrono::DateTime::parse_from_rfc3339(start).unwrap();
        i.start(t0);
        i.handle_event(
            t0 + chrono::TimeDelta::seconds(2),
            ivr::Event::Digit(ivr::Digit::from_char('2').unwrap()),
        );
        assert!(i.is_finished());
        i.trajectory().clone()
    }

    #[test]
    fn round_trip_through_the_writer_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.sqlite");
        let writer = CdrWriter::start(Store::open(&path).unwrap(), Duration::from_millis(10));
        let q = writer.queue();
        let old = trajectory("c1", "2026-11-01T10:00:00+01:00");
        let new = trajectory("c2", "2026-11-20T10:00:00+01:00");
        for (id, t) in [("c1", &old), ("c2", &new)] {
            q.write_trajectory(TrajectoryRecord {
                call_id: id.into(),
                part: 0,
                trajectory: t.clone(),
            });
        }
        writer.shutdown();

        let store = Store::open(&path).unwrap();
        let back = store.trajectories_of("c2").unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].record.trajectory, new);
        assert_eq!(back[0].key_path, "2");
        assert_eq!(back[0].record.trajectory.visited(), ["m", "bye"]);
        assert!(store.trajectories_of("nope").unwrap().is_empty());

        // c1 started Nov 1 09:00 UTC: kept at Nov 16 08:00, gone at Nov 16 10:00.
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-16T08:00:00Z").unwrap();
        let cutoff = now - chrono::TimeDelta::days(15);
        let removed = store
            .purge_trajectories(cutoff.timestamp_millis() as u64)
            .unwrap();
        assert_eq!(
            removed, 0,
            "Nov 1 09:00 UTC is after the Nov 1 08:00 cut-off"
        );
        let later = chrono::DateTime::parse_from_rfc3339("2026-11-16T10:00:00Z").unwrap()
            - chrono::TimeDelta::days(15);
        assert_eq!(
            store
                .purge_trajectories(later.timestamp_millis() as u64)
                .unwrap(),
            1
        );
        assert!(store.trajectories_of("c1").unwrap().is_empty());
        assert_eq!(store.trajectories_of("c2").unwrap().len(), 1);
    }

    /// A second IVR of the same call (part 0 again, another start) is
    /// appended; the same part written twice is replaced.
    #[test]
    fn a_second_ivr_of_a_call_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.sqlite");
        let first = trajectory("c9", "2026-11-20T10:00:00Z");
        let second = trajectory("c9", "2026-11-20T10:01:00Z");
        let mut store = Store::open(&path).unwrap();
        let record = |t: &ivr::Trajectory| TrajectoryRecord {
            call_id: "c9".into(),
            part: 0,
            trajectory: t.clone(),
        };
        store
            .insert_trajectories(&[record(&first), record(&first), record(&second)])
            .unwrap();
        let back = store.trajectories_of("c9").unwrap();
        let parts: Vec<(u32, &ivr::Trajectory)> = back
            .iter()
            .map(|s| (s.record.part, &s.record.trajectory))
            .collect();
        assert_eq!(parts, [(0, &first), (1, &second)]);
        // Each part left the flow once: one `ivr.completed` per part, in
        // the part's transaction (the repeated write keeps its event).
        let events = store.events_after(0, Some("c9"), 10).unwrap();
        let done: Vec<(&str, &str, i64)> = events
            .iter()
            .map(|e| {
                (
                    e.event.kind.as_str(),
                    e.event.payload["ivr_key_path"]["summary"].as_str().unwrap(),
                    e.event.payload["part"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(done, [("ivr.completed", "2", 0), ("ivr.completed", "2", 1)]);
        let p = &events[0].event.payload;
        assert_eq!(p["flow"], "t");
        assert_eq!(p["ivr_key_path"]["steps"][0]["node"], "m");
        assert_eq!(p["entries"].as_array().unwrap().len(), first.entries.len());
        assert!(p["outcome"].is_object() || p["outcome"].is_string(), "{p}");
    }
}
