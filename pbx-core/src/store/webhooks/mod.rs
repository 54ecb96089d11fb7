//! Webhook state in SQLite: subscriptions (from the config file or added
//! through the API), the derived webhook event log (`webhook_events`: the
//! enriched payloads, stored once so that a retry or replay sends identical
//! bytes), each subscription's cursor over it, the pending deliveries with
//! their attempt state, and dead letters.
//!
//! The delivery worker (`webhooks` module) owns the writes; the CLI reads
//! (and `replay` re-enqueues) beside a running server. Everything a
//! delivery needs to resume after a kill -9 — the enricher's cursor over
//! `event_outbox`, each subscription's cursor, attempts and next attempt
//! times — is in these tables: nothing is lost, and only deliveries whose
//! 2xx answer was not yet recorded are sent again (at-least-once; the
//! `webhook-id` is the receivers' idempotency key).

use rusqlite::params;

mod deliveries;

pub use deliveries::{AttemptRecord, DeadLetter, DueDelivery, LastCall, WebhookUpdate};

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    secrets TEXT NOT NULL,
    events TEXT NOT NULL,
    masked INTEGER NOT NULL,
    source TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active',
    state_reason TEXT,
    cursor INTEGER NOT NULL,
    paused_until_ms INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    last_delivered_ms INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_events (
    wseq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    source_seq INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_at ON webhook_events (at_ms);
CREATE TABLE IF NOT EXISTS webhook_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enrich_cursor INTEGER NOT NULL
);
INSERT OR IGNORE INTO webhook_state (id, enrich_cursor) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    sub_id INTEGER NOT NULL,
    wseq INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_ms INTEGER,
    next_at_ms INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    PRIMARY KEY (sub_id, wseq)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON webhook_deliveries (sub_id, order_key, wseq);
CREATE TABLE IF NOT EXISTS webhook_dead_letters (
    sub_id INTEGER NOT NULL,
    wseq INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    died_ms INTEGER NOT NULL,
    PRIMARY KEY (sub_id, wseq)
);
CREATE INDEX IF NOT EXISTS cdr_caller_start ON cdr (caller, start_ms);
";

/// A subscription's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub i64);

impl std::fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a subscription came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionSource {
    /// A `[[webhooks]]` entry (replaced whenever the server starts).
    Config,
    /// Added at run time (the HTTP API).
    Api,
}

impl SubscriptionSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Api => "api",
        }
    }
}

/// A subscription to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// Unique name (config entries: their `name`, else their URL).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// `whsec_…` secrets (several while rotating), validated by the caller.
    pub secrets: Vec<String>,
    /// Event filters (`call.*`, `queue.offer`, `*`).
    pub events: Vec<String>,
    /// Whether phone numbers are masked (SPEC §18).
    pub masked: bool,
    /// Where it came from.
    pub source: SubscriptionSource,
}

/// A stored subscription with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// Row id.
    pub id: SubscriptionId,
    /// The subscription.
    pub sub: NewSubscription,
    /// `active` or `disabled`.
    pub state: String,
    /// Why it is disabled (`410 Gone`).
    pub state_reason: Option<String>,
    /// Last webhook event (`wseq`) queued for it.
    pub cursor: i64,
    /// No attempt before this time (Unix ms; 429 / Retry-After).
    pub paused_until_ms: u64,
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// When the last one was.
    pub last_delivered_ms: Option<u64>,
    /// Deliveries waiting (or being retried).
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

/// One derived webhook event: the exact body sent to every subscription
/// (masked subscriptions get its phone numbers masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Position in the webhook event log (0 before it is stored).
    pub wseq: i64,
    /// `webhook-id`: the idempotency key.
    pub event_id: String,
    /// The `event_outbox` row it came from.
    pub source_seq: i64,
    /// Events with the same key are delivered in order (the call id).
    pub order_key: String,
    /// Event type (`call.ringing`, ...).
    pub kind: String,
    /// When it happened, Unix ms.
    pub at_ms: u64,
    /// The JSON body.
    pub body: String,
}

fn event_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<WebhookEvent> {
    Ok(WebhookEvent {
        wseq: r.get(at)?,
        event_id: r.get(at + 1)?,
        source_seq: r.get(at + 2)?,
        order_key: r.get(at + 3)?,
        kind: r.get(at + 4)?,
        at_ms: r.get::<_, i64>(at + 5)? as u64,
        body: r.get(at + 6)?,
    })
}

const EVENT_COLS: &str = "e.wseq, e.event_id, e.source_seq, e.order_key, e.kind, e.at_ms, e.body";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

impl Store {
    /// Adds a subscription (its cursor starts at the end of the webhook
    /// event log: it gets events from now on; `replay` sends older ones).
    pub fn add_subscription(
        &self,
        sub: &NewSubscription,
        now_ms: u64,
    ) -> Result<SubscriptionId, StoreError> {
        self.conn
            .execute(
                "INSERT INTO webhook_subscriptions (name, url, secrets, events, masked, source, \
                 cursor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                 (SELECT COALESCE(MAX(wseq), 0) FROM webhook_events), ?7)",
                params![
                    sub.name,
                    sub.url,
                    json_list(&sub.secrets),
                    json_list(&sub.events),
                    sub.masked,
                    sub.source.as_str(),
                    now_ms as i64
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(SubscriptionId(self.conn.last_insert_rowid()))
    }

    /// Makes the config file's subscriptions the stored `config` ones: new
    /// names are added, known names updated (URL, secrets, filters,
    /// masking; state and cursor kept), names gone are removed with their
    /// pending deliveries. Returns their ids in `subs` order.
    pub fn sync_config_subscriptions(
        &mut self,
        subs: &[NewSubscription],
        now_ms: u64,
    ) -> Result<Vec<SubscriptionId>, StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut ids = Vec::new();
        for s in subs {
            tx.execute(
                "INSERT INTO webhook_subscriptions (name, url, secrets, events, masked, source, \
                 cursor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'config', \
                 (SELECT COALESCE(MAX(wseq), 0) FROM webhook_events), ?6) \
                 ON CONFLICT(name) DO UPDATE SET url = excluded.url, secrets = excluded.secrets, \
                 events = excluded.events, masked = excluded.masked, source = 'config'",
                params![
                    s.name,
                    s.url,
                    json_list(&s.secrets),
                    json_list(&s.events),
                    s.masked,
                    now_ms as i64
                ],
            )
            .map_err(wrap)?;
            let id: i64 = tx
                .query_row(
                    "SELECT id FROM webhook_subscriptions WHERE name = ?1",
                    [&s.name],
                    |r| r.get(0),
                )
                .map_err(wrap)?;
            ids.push(SubscriptionId(id));
        }
        let keep = serde_json::to_string(&ids.iter().map(|i| i.0).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        for table in ["webhook_deliveries", "webhook_dead_letters"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE sub_id IN (SELECT id FROM webhook_subscriptions \
                     WHERE source = 'config' AND id NOT IN (SELECT value FROM json_each(?1)))"
                ),
                [&keep],
            )
            .map_err(wrap)?;
        }
        tx.execute(
            "DELETE FROM webhook_subscriptions WHERE source = 'config' \
             AND id NOT IN (SELECT value FROM json_each(?1))",
            [&keep],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(ids)
    }

    /// Removes a subscription with its pending deliveries and dead
    /// letters; returns whether it existed.
    pub fn remove_subscription(&mut self, id: SubscriptionId) -> Result<bool, StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        tx.execute("DELETE FROM webhook_deliveries WHERE sub_id = ?1", [id.0])
            .map_err(wrap)?;
        tx.execute("DELETE FROM webhook_dead_letters WHERE sub_id = ?1", [id.0])
            .map_err(wrap)?;
        let n = tx
            .execute("DELETE FROM webhook_subscriptions WHERE id = ?1", [id.0])
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(n > 0)
    }

    /// Every subscription with its counts, by id.
    pub fn list_subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.id, s.name, s.url, s.secrets, s.events, s.masked, s.source, s.state, \
                 s.state_reason, s.cursor, s.paused_until_ms, s.delivered, s.last_delivered_ms, \
                 (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.sub_id = s.id), \
                 (SELECT COUNT(*) FROM webhook_dead_letters x WHERE x.sub_id = s.id) \
                 FROM webhook_subscriptions s ORDER BY s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| subscription_row(r, true))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every subscription without the counts (the worker's view, read
    /// every round).
    pub fn subscriptions_brief(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, url, secrets, events, masked, source, state, state_reason, \
                 cursor, paused_until_ms, delivered, last_delivered_ms \
                 FROM webhook_subscriptions ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| subscription_row(r, false))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The first `limit` outbox rows of one call, oldest first (by the
    /// `event_outbox_call` index).
    pub fn outbox_events_of(
        &self,
        call: &str,
        limit: usize,
    ) -> Result<Vec<super::StoredEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, event_id, call_id, kind, at_ms, payload FROM event_outbox \
                 WHERE call_id = ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![call, limit as i64], |row| {
                let payload: String = row.get(5)?;
                Ok(super::StoredEvent {
                    seq: row.get(0)?,
                    event: super::OutboxEvent {
                        event_id: row.get(1)?,
                        call_id: row.get(2)?,
                        kind: row.get(3)?,
                        at_ms: row.get::<_, i64>(4)? as u64,
                        payload: serde_json::from_str(&payload).unwrap_or_default(),
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The last `event_outbox` position (0 when empty).
    pub fn outbox_last_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM event_outbox", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Sets a subscription `active` or `disabled` (with a reason).
    pub fn set_subscription_state(
        &self,
        id: SubscriptionId,
        state: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE webhook_subscriptions SET state = ?2, state_reason = ?3 WHERE id = ?1",
                params![id.0, state, reason],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Changes what is given of an API subscription (None keeps a field);
    /// returns whether it exists.
    pub fn update_subscription(
        &self,
        id: SubscriptionId,
        url: Option<&str>,
        events: Option<&[String]>,
        masked: Option<bool>,
        secrets: Option<&[String]>,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE webhook_subscriptions SET url = COALESCE(?2, url), \
                 events = COALESCE(?3, events), masked = COALESCE(?4, masked), \
                 secrets = COALESCE(?5, secrets) WHERE id = ?1",
                params![
                    id.0,
                    url,
                    events.map(json_list),
                    masked,
                    secrets.map(json_list)
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Pauses a subscription until `until_ms` (429, Retry-After).
    pub fn pause_subscription(&self, id: SubscriptionId, until_ms: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE webhook_subscriptions SET paused_until_ms = ?2 WHERE id = ?1",
                params![id.0, until_ms as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The enricher's position in `event_outbox`.
    pub fn webhook_enrich_cursor(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT enrich_cursor FROM webhook_state WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Appends derived events (an event id seen before keeps its first
    /// copy) and moves the enricher's cursor to `cursor`, in one
    /// transaction.
    pub fn append_webhook_events(
        &mut self,
        events: &[WebhookEvent],
        cursor: i64,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO webhook_events (event_id, source_seq, order_key, kind, \
                     at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(wrap)?;
            for e in events {
                ins.execute(params![
                    e.event_id,
                    e.source_seq,
                    e.order_key,
                    e.kind,
                    e.at_ms as i64,
                    e.body
                ])
                .map_err(wrap)?;
            }
        }
        tx.execute(
            "UPDATE webhook_state SET enrich_cursor = MAX(enrich_cursor, ?1) WHERE id = 1",
            [cursor],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    /// Up to `limit` webhook events after `after`, oldest first.
    pub fn webhook_events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WebhookEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM webhook_events e WHERE e.wseq > ?1 ORDER BY e.wseq LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| event_row(r, 0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The webhook events of one order key (a call), oldest first.
    pub fn webhook_events_of(&self, order_key: &str) -> Result<Vec<WebhookEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM webhook_events e WHERE e.order_key = ?1 ORDER BY e.wseq"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([order_key], |r| event_row(r, 0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

/// A `webhook_subscriptions` row in the column order of the listings (id …
/// last_delivered_ms), with the pending and dead-letter counts after it
/// when `counts`.
fn subscription_row(r: &rusqlite::Row<'_>, counts: bool) -> rusqlite::Result<StoredSubscription> {
    let source: String = r.get(6)?;
    let count = |i: usize| -> rusqlite::Result<u64> {
        if counts {
            Ok(r.get::<_, i64>(i)? as u64)
        } else {
            Ok(0)
        }
    };
    Ok(StoredSubscription {
        id: SubscriptionId(r.get(0)?),
        sub: NewSubscription {
            name: r.get(1)?,
            url: r.get(2)?,
            secrets: parse_list(&r.get::<_, String>(3)?),
            events: parse_list(&r.get::<_, String>(4)?),
            masked: r.get(5)?,
            source: if source == "api" {
                SubscriptionSource::Api
            } else {
                SubscriptionSource::Config
            },
        },
        state: r.get(7)?,
        state_reason: r.get(8)?,
        cursor: r.get(9)?,
        paused_until_ms: r.get::<_, i64>(10)? as u64,
        delivered: r.get::<_, i64>(11)? as u64,
        last_delivered_ms: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
        pending: count(13)?,
        dead: count(14)?,
    })
}
