//! Queue events in SQLite: one `queue_events` row per [`acd::QueueEvent`]
//! (enter, offer, ring-no-answer, connect, abandon, overflow, complete,
//! callbacks, agent state changes), the single source of queue reports
//! (`acd::stats`), missed calls and agent-state history (SPEC §17). Rows
//! come with the engine's step batches, so they commit with the call
//! records and outbox rows of the same moment. After a restart the last
//! state of every agent is read back ([`Store::last_agent_states`]).

use rusqlite::params;

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    queue TEXT,
    agent TEXT,
    call_id TEXT,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_events_at ON queue_events (at_ms);
CREATE INDEX IF NOT EXISTS queue_events_agent ON queue_events (agent, id);
CREATE INDEX IF NOT EXISTS queue_events_kind ON queue_events (kind, id);
";

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, e: &acd::QueueEvent) -> rusqlite::Result<()> {
    let json = serde_json::to_string(e)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    tx.execute(
        "INSERT INTO queue_events (at_ms, kind, queue, agent, call_id, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            e.at_unix_ms as i64,
            e.kind.name(),
            e.queue.as_ref().map(ToString::to_string),
            e.agent.as_ref().map(ToString::to_string),
            e.call.map(|c| c.to_string()),
            json
        ],
    )?;
    Ok(())
}

impl Store {
    /// Queue events from `from_ms` (inclusive) to `to_ms` (exclusive), in
    /// the order they happened.
    pub fn queue_events(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<acd::QueueEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event FROM queue_events WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from_ms as i64, to_ms as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(|e| self.err(e))?;
            match serde_json::from_str(&json) {
                Ok(ev) => out.push(ev),
                Err(e) => tracing::warn!(error = %e, "unreadable queue event skipped"),
            }
        }
        Ok(out)
    }

    /// Every agent's last state change.
    pub fn last_agent_states(&self) -> Result<Vec<acd::AgentStateRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event FROM queue_events WHERE id IN \
                 (SELECT MAX(id) FROM queue_events WHERE kind = 'agent_state' GROUP BY agent)",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(|e| self.err(e))?;
            if let Ok(acd::QueueEvent {
                kind: acd::EventKind::AgentState(record),
                ..
            }) = serde_json::from_str::<acd::QueueEvent>(&json)
            {
                out.push(record);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The callback requests still waiting (requested, neither connected
    /// nor given up), read back from the queue events after a restart: they
    /// go back to their queues at the places their entry times give them.
    pub fn pending_callbacks(&self) -> Result<Vec<acd::CallbackRequest>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event FROM queue_events WHERE kind IN \
                 ('callback_requested', 'callback_failed', 'callback_connected') ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut pending: Vec<acd::CallbackRequest> = Vec::new();
        for json in rows {
            let json = json.map_err(|e| self.err(e))?;
            let Ok(ev) = serde_json::from_str::<acd::QueueEvent>(&json) else {
                continue;
            };
            match ev.kind {
                acd::EventKind::CallbackRequested {
                    callback,
                    number,
                    wait_ms,
                    ..
                } => {
                    let (Some(call), Some(queue)) = (ev.call, ev.queue) else {
                        continue;
                    };
                    pending.retain(|r| r.id != callback);
                    pending.push(acd::CallbackRequest {
                        id: callback,
                        call,
                        queue,
                        number,
                        service_number: None,
                        priority: 0,
                        entered_unix_ms: ev.at_unix_ms.saturating_sub(wait_ms),
                        attempts: 0,
                    });
                }
                acd::EventKind::CallbackFailed {
                    callback, gave_up, ..
                } => {
                    if gave_up {
                        pending.retain(|r| r.id != callback);
                    } else if let Some(r) = pending.iter_mut().find(|r| r.id == callback) {
                        r.attempts += 1;
                    }
                }
                acd::EventKind::CallbackConnected { callback, .. } => {
                    pending.retain(|r| r.id != callback);
                }
                _ => {}
            }
        }
        // The service number and priority the customer entered with.
        for r in &mut pending {
            let enter: Option<String> = self
                .conn
                .query_row(
                    "SELECT event FROM queue_events WHERE kind = 'enter' AND call_id = ?1 \
                     ORDER BY id DESC LIMIT 1",
                    params![r.call.to_string()],
                    |row| row.get(0),
                )
                .ok();
            if let Some(acd::EventKind::Enter {
                service_number,
                priority,
                ..
            }) = enter
                .and_then(|j| serde_json::from_str::<acd::QueueEvent>(&j).ok())
                .map(|e| e.kind)
            {
                r.service_number = service_number;
                r.priority = priority;
            }
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use acd::{CallId, CallbackId, EventKind, QueueEvent, QueueId};

    use super::*;

    fn ev(seq: u64, at: u64, call: u64, queue: &str, kind: EventKind) -> QueueEvent {
        QueueEvent {
            seq,
            at_unix_ms: at,
            call: Some(CallId(call)),
            queue: Some(QueueId::from(queue)),
            agent: None,
            kind,
        }
    }

    fn requested(callback: u64, wait_ms: u64) -> EventKind {
        EventKind::CallbackRequested {
            callback: CallbackId(callback),
            number: format!("+3120{callback}"),
            position: 1,
            wait_ms,
        }
    }

    #[test]
    fn pending_callbacks_are_those_neither_connected_nor_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let events = [
            ev(
                1,
                1_000,
                7,
                "sales",
                EventKind::Enter {
                    number: "+31207".into(),
                    service_number: Some("4000".into()),
                    priority: 4,
                    position: 1,
                },
            ),
            ev(2, 31_000, 7, "sales", requested(1, 30_000)),
            ev(3, 32_000, 8, "sales", requested(2, 5_000)),
            ev(4, 33_000, 9, "billing", requested(3, 1_000)),
            ev(
                5,
                40_000,
                7,
                "sales",
                EventKind::CallbackFailed {
                    callback: CallbackId(1),
                    attempt: 1,
                    gave_up: false,
                },
            ),
            ev(
                6,
                41_000,
                8,
                "sales",
                EventKind::CallbackFailed {
                    callback: CallbackId(2),
                    attempt: 1,
                    gave_up: true,
                },
            ),
            ev(
                7,
                42_000,
                9,
                "billing",
                EventKind::CallbackConnected {
                    callback: CallbackId(3),
                    callback_call: CallId(99),
                    wait_ms: 9_000,
                    attempt: 1,
                },
            ),
        ];
        let tx = store.conn.unchecked_transaction().unwrap();
        for e in &events {
            insert(&tx, e).unwrap();
        }
        tx.commit().unwrap();
        let pending = store.pending_callbacks().unwrap();
        assert_eq!(
            pending,
            [acd::CallbackRequest {
                id: CallbackId(1),
                call: CallId(7),
                queue: QueueId::from("sales"),
                number: "+31201".into(),
                service_number: Some("4000".into()),
                priority: 4,
                entered_unix_ms: 1_000,
                attempts: 1,
            }]
        );
    }
}
