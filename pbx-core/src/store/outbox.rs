//! The durable event outbox: one `event_outbox` row per engine event that
//! webhooks and other consumers deliver (`call.created`, `call.ringing`,
//! `call.answered`, `call.ended` with the call record, ...). The engine's
//! driver hands each step's events to the CDR writer as one batch, so an
//! event row is committed in the same SQLite transaction as the state it
//! describes (the `call.ended` row with the `cdr` row): after a kill -9
//! either both are on disk or neither is. `seq` (the row id) orders the
//! rows; `event_id` is the consumers' idempotency key.

use rusqlite::params;

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_outbox_call ON event_outbox (call_id, seq);
";

/// One event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Unique id (`evt_<call>_<n>`): the idempotency key of deliveries.
    pub event_id: String,
    /// pbx's call id.
    pub call_id: String,
    /// Event name (`call.ringing`, ...).
    pub kind: String,
    /// When it happened, Unix ms.
    pub at_ms: u64,
    /// The event as JSON.
    pub payload: serde_json::Value,
}

/// A stored event with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Position in the outbox (grows with every row).
    pub seq: i64,
    /// The event.
    pub event: OutboxEvent,
}

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, e: &OutboxEvent) -> rusqlite::Result<()> {
    // A replayed batch (a retried commit) keeps the first copy.
    tx.execute(
        "INSERT OR IGNORE INTO event_outbox (event_id, call_id, kind, at_ms, payload) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            e.event_id,
            e.call_id,
            e.kind,
            e.at_ms as i64,
            e.payload.to_string()
        ],
    )?;
    Ok(())
}

impl Store {
    /// Up to `limit` events after position `after` (0: from the start),
    /// oldest first; with `call`, only that call's.
    pub fn events_after(
        &self,
        after: i64,
        call: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, event_id, call_id, kind, at_ms, payload FROM event_outbox \
                 WHERE seq > ?1 AND (?2 IS NULL OR call_id = ?2) ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, call, limit as i64], |row| {
                let payload: String = row.get(5)?;
                Ok(StoredEvent {
                    seq: row.get(0)?,
                    event: OutboxEvent {
                        event_id: row.get(1)?,
                        call_id: row.get(2)?,
                        kind: row.get(3)?,
                        at_ms: row.get::<_, i64>(4)? as u64,
                        payload: serde_json::from_str(&payload)
                            .unwrap_or_else(|e| serde_json::json!({ "unreadable": e.to_string() })),
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
