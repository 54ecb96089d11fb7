//! Quick callbacks of missed calls (SPEC §10): one `missed_callbacks` row
//! per callback call from the missed-call list once it ended, connected or
//! not. With the queue events they are the inputs of the list
//! (`acd::missed::missed_calls`): a connected callback resolves the entry
//! (and every open entry of the number), one that did not connect counts
//! an attempt. The row commits with the call's record and its
//! `missed.resolved` outbox event, in the same step.

use rusqlite::params;

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS missed_callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    missed_id INTEGER NOT NULL,
    call_id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    connected INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS missed_callbacks_at ON missed_callbacks (at_ms);
";

/// One ended quick callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCallback {
    /// When the callback call ended (Unix ms).
    pub at_ms: u64,
    /// The missed-call entry called back (`acd::missed::MissedCall::id`).
    pub missed_id: u64,
    /// The callback call (pbx's call id, `c…`).
    pub call_id: String,
    /// The agent who called back.
    pub agent: String,
    /// Whether the customer answered.
    pub connected: bool,
}

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, m: &MissedCallback) -> rusqlite::Result<()> {
    // A replayed step keeps the first copy.
    tx.execute(
        "INSERT OR IGNORE INTO missed_callbacks (at_ms, missed_id, call_id, agent, connected) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            m.at_ms as i64,
            m.missed_id as i64,
            m.call_id,
            m.agent,
            m.connected
        ],
    )?;
    Ok(())
}

impl Store {
    /// Quick callbacks that ended from `from_ms` (inclusive) to `to_ms`
    /// (exclusive), oldest first.
    pub fn missed_callbacks(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MissedCallback>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at_ms, missed_id, call_id, agent, connected FROM missed_callbacks \
                 WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from_ms as i64, to_ms as i64], |r| {
                Ok(MissedCallback {
                    at_ms: r.get::<_, i64>(0)? as u64,
                    missed_id: r.get::<_, i64>(1)? as u64,
                    call_id: r.get(2)?,
                    agent: r.get(3)?,
                    connected: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The missed-call list over `from_ms..to_ms` (SPEC §10): queue events
    /// and quick callbacks in time order through `acd::missed`.
    pub fn missed_calls(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<acd::missed::MissedCall>, StoreError> {
        let events = self.queue_events(from_ms, to_ms)?;
        let callbacks = self.missed_callbacks(from_ms, to_ms)?;
        let calls: Vec<Option<acd::CallId>> = callbacks
            .iter()
            .map(|c| crate::b2bua::CallId::parse(&c.call_id).map(|id| acd::CallId(id.0)))
            .collect();
        let agents: Vec<acd::AgentId> = callbacks
            .iter()
            .map(|c| acd::AgentId::from(c.agent.as_str()))
            .collect();
        let mut inputs: Vec<(u64, acd::missed::MissedInput<'_>)> = events
            .iter()
            .map(|e| (e.at_unix_ms, acd::missed::MissedInput::Queue(e)))
            .collect();
        for (i, c) in callbacks.iter().enumerate() {
            let Some(call) = calls[i] else { continue };
            inputs.push((
                c.at_ms,
                acd::missed::MissedInput::Callback {
                    missed_id: c.missed_id,
                    call,
                    agent: agents[i].clone(),
                    connected: c.connected,
                },
            ));
        }
        // Stable: a callback and a queue event of the same millisecond keep
        // queue events first (the entry exists before it is called back).
        inputs.sort_by_key(|(at, input)| {
            (
                *at,
                matches!(input, acd::missed::MissedInput::Callback { .. }),
            )
        });
        let inputs: Vec<_> = inputs.into_iter().map(|(_, i)| i).collect();
        Ok(acd::missed::missed_calls(&inputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_callback_reads_back_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("pbx.db")).unwrap();
        let row = MissedCallback {
            at_ms: 1_700_000_000_000,
            missed_id: 7,
            call_id: "c00000000000000aa".into(),
            agent: "2002".into(),
            connected: true,
        };
        let tx = store.conn.transaction().unwrap();
        insert(&tx, &row).unwrap();
        insert(&tx, &row).unwrap();
        tx.commit().unwrap();
        let back = store
            .missed_callbacks(1_699_999_999_999, 1_700_000_000_001)
            .unwrap();
        assert_eq!(back, vec![row]);
        assert!(store
            .missed_callbacks(0, 1_700_000_000_000)
            .unwrap()
            .is_empty());
    }
}
