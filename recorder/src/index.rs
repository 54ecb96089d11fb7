//! The recording index: a small SQLite database of every recording the uploader
//! has seen (state, object key, sha256, metadata), plus transcripts, their edits
//! and the learn flag (SPEC §15). The sidecars stay the source of truth while a
//! recording is in the spool; the index is for everything after.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::id::CallId;
use crate::meta::{Metadata, RecordingState};
use crate::transcript::{LearnState, Segment};
use crate::{Error, Result};

/// One indexed recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Its metadata (as last seen).
    pub meta: Metadata,
    /// State.
    pub state: RecordingState,
    /// Object key once uploaded.
    pub key: Option<String>,
}

/// A listing filter; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// Exactly this call.
    pub call_id: Option<CallId>,
    /// At most this many (newest first); default 1000.
    pub limit: Option<u32>,
}

/// The SQLite index.
#[derive(Debug)]
pub struct Index {
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS recordings (
    call_id     TEXT PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    state       TEXT NOT NULL,
    key         TEXT,
    sha256      TEXT,
    policy      TEXT NOT NULL,
    meta        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_started ON recordings(started_at);
CREATE TABLE IF NOT EXISTS segments (
    call_id  TEXT NOT NULL,
    channel  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    text     TEXT NOT NULL,
    edited   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, channel, seq)
);
CREATE TABLE IF NOT EXISTS learn (
    call_id      TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    requested_at INTEGER,
    learned_at   INTEGER
);
";

fn sidecar_err(e: serde_json::Error) -> Error {
    Error::Sidecar {
        path: "index".into(),
        source: e,
    }
}

impl Index {
    /// Opens (creating) the index at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        }
        Self::init(Connection::open(path)?)
    }

    /// An in-memory index (tests, or a deployment without persistence).
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(c: Connection) -> Result<Self> {
        c.execute_batch(SCHEMA)?;
        Ok(Self { db: Mutex::new(c) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db
            .lock()
            .expect("not poisoned: no panics while holding the index")
    }

    /// Inserts or replaces the entry of `meta.call_id`.
    pub fn upsert(&self, meta: &Metadata) -> Result<()> {
        let json = serde_json::to_string(meta).map_err(sidecar_err)?;
        self.db().execute(
            "INSERT INTO recordings (call_id, started_at, duration_ms, state, key, sha256, policy, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(call_id) DO UPDATE SET started_at=?2, duration_ms=?3, state=?4, key=?5, sha256=?6, policy=?7, meta=?8",
            params![
                meta.call_id.as_str(),
                meta.started_at.timestamp_millis(),
                meta.duration_ms as i64,
                meta.state.as_str(),
                meta.upload.key,
                meta.sha256,
                meta.parties.policy.as_deref().unwrap_or("default"),
                json
            ],
        )?;
        Ok(())
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Option<String>, String)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    }

    fn entry((state, key, meta): (String, Option<String>, String)) -> Result<IndexEntry> {
        let meta: Metadata = serde_json::from_str(&meta).map_err(sidecar_err)?;
        let state = RecordingState::parse(&state).unwrap_or(meta.state);
        Ok(IndexEntry { meta, state, key })
    }

    /// The entry of `id`.
    pub fn get(&self, id: &CallId) -> Result<Option<IndexEntry>> {
        let row = self
            .db()
            .query_row(
                "SELECT state, key, meta FROM recordings WHERE call_id = ?1",
                [id.as_str()],
                Self::row,
            )
            .optional()?;
        row.map(Self::entry).transpose()
    }

    /// Entries matching `f`, newest first.
    pub fn list(&self, f: &ListFilter) -> Result<Vec<IndexEntry>> {
        let from = f.from.map_or(i64::MIN, |t| t.timestamp_millis());
        let to = f.to.map_or(i64::MAX, |t| t.timestamp_millis());
        let limit = i64::from(f.limit.unwrap_or(1000));
        let db = self.db();
        let mut st = db.prepare(
            "SELECT state, key, meta FROM recordings
             WHERE started_at >= ?1 AND started_at < ?2 AND (?3 IS NULL OR call_id = ?3)
             ORDER BY started_at DESC LIMIT ?4",
        )?;
        let rows = st.query_map(
            params![from, to, f.call_id.as_ref().map(CallId::as_str), limit],
            Self::row,
        )?;
        rows.map(|r| Self::entry(r?)).collect()
    }

    /// Uploaded entries of retention policy `policy` that started before `cutoff`.
    pub fn uploaded_before(&self, policy: &str, cutoff: DateTime<Utc>) -> Result<Vec<IndexEntry>> {
        let db = self.db();
        let mut st = db.prepare("SELECT state, key, meta FROM recordings WHERE policy = ?1 AND started_at < ?2 AND state = 'uploaded' ORDER BY started_at")?;
        let rows = st.query_map(params![policy, cutoff.timestamp_millis()], Self::row)?;
        rows.map(|r| Self::entry(r?)).collect()
    }

    /// Removes a recording and its transcript.
    pub fn delete(&self, id: &CallId) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for table in ["recordings", "segments", "learn"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE call_id = ?1"),
                [id.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the transcript of `id` (edited segments are kept as edited).
    pub fn put_transcript(&self, id: &CallId, segments: &[Segment]) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "DELETE FROM segments WHERE call_id = ?1 AND edited = 0",
            [id.as_str()],
        )?;
        {
            let mut st = tx.prepare("INSERT OR IGNORE INTO segments (call_id, channel, seq, start_ms, end_ms, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            for s in segments {
                st.execute(params![
                    id.as_str(),
                    s.channel,
                    s.seq,
                    s.start_ms as i64,
                    s.end_ms as i64,
                    s.text
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The transcript of `id` in time order.
    pub fn transcript(&self, id: &CallId) -> Result<Vec<Segment>> {
        let db = self.db();
        let mut st = db.prepare("SELECT channel, seq, start_ms, end_ms, text, edited FROM segments WHERE call_id = ?1 ORDER BY start_ms, channel, seq")?;
        let rows = st.query_map([id.as_str()], |r| {
            Ok(Segment {
                channel: r.get(0)?,
                seq: r.get(1)?,
                start_ms: r.get::<_, i64>(2)? as u64,
                end_ms: r.get::<_, i64>(3)? as u64,
                text: r.get(4)?,
                edited: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Saves an edit of one segment (SPEC §15: edits save automatically).
    pub fn edit_segment(&self, id: &CallId, channel: u8, seq: u32, text: &str) -> Result<()> {
        let n = self.db().execute("UPDATE segments SET text = ?4, edited = 1 WHERE call_id = ?1 AND channel = ?2 AND seq = ?3", params![id.as_str(), channel, seq, text])?;
        if n == 0 {
            return Err(Error::NotFound(format!("{id} segment {channel}/{seq}")));
        }
        Ok(())
    }

    /// Sets the learn state of `id`'s transcript ("learn" button → pending;
    /// the nightly batch → learned).
    pub fn set_learn(&self, id: &CallId, state: LearnState, now: DateTime<Utc>) -> Result<()> {
        let ms = now.timestamp_millis();
        self.db().execute(
            "INSERT INTO learn (call_id, state, requested_at, learned_at) VALUES (?1, ?2, CASE WHEN ?2 = 'pending' THEN ?3 END, CASE WHEN ?2 = 'learned' THEN ?3 END)
             ON CONFLICT(call_id) DO UPDATE SET state = ?2,
                requested_at = CASE WHEN ?2 = 'pending' THEN ?3 ELSE requested_at END,
                learned_at = CASE WHEN ?2 = 'learned' THEN ?3 ELSE learned_at END",
            params![id.as_str(), state.as_str(), ms],
        )?;
        Ok(())
    }

    /// The learn state of `id` (`none` when never set).
    pub fn learn_state(&self, id: &CallId) -> Result<LearnState> {
        let s: Option<String> = self
            .db()
            .query_row(
                "SELECT state FROM learn WHERE call_id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(s.as_deref()
            .and_then(LearnState::parse)
            .unwrap_or(LearnState::None))
    }

    /// Calls whose transcript waits for the nightly learn batch, oldest request first.
    pub fn pending_learn(&self) -> Result<Vec<CallId>> {
        let db = self.db();
        let mut st =
            db.prepare("SELECT call_id FROM learn WHERE state = 'pending' ORDER BY requested_at")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| CallId::new(r?)).collect()
    }
}
