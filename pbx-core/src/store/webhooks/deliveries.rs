//! Deliveries: what each subscription still has to send (with attempts
//! and the next attempt's time), dead letters, replays, and the outcomes
//! of attempts, recorded in one transaction per round of the worker.

use rusqlite::{params, OptionalExtension};

use super::{event_row, StoredSubscription, SubscriptionId, WebhookEvent, EVENT_COLS};
use crate::store::{Store, StoreError};

/// A delivery that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The subscription.
    pub sub: SubscriptionId,
    /// The event.
    pub event: WebhookEvent,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt was (Unix ms).
    pub first_attempt_ms: Option<u64>,
}

/// A delivery given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The subscription.
    pub sub: SubscriptionId,
    /// The event.
    pub event: WebhookEvent,
    /// Attempts made.
    pub attempts: u32,
    /// Last HTTP status (None: no answer).
    pub last_status: Option<u16>,
    /// Last error text.
    pub last_error: Option<String>,
    /// When it was given up (Unix ms).
    pub died_ms: u64,
}

/// How one attempt ended, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Attempts made including this one.
    pub attempts: u32,
    /// When the first attempt was (Unix ms).
    pub first_attempt_ms: u64,
    /// HTTP status (None: timeout or connection failure).
    pub status: Option<u16>,
    /// Error text.
    pub error: Option<String>,
}

impl Store {
    /// Records the outcomes of finished attempts in one transaction.
    pub fn apply_webhook_updates(&mut self, updates: &[WebhookUpdate]) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for u in updates {
            match u {
                WebhookUpdate::Delivered { sub, wseq, now_ms } => {
                    let n = tx
                        .execute(
                            "DELETE FROM webhook_deliveries WHERE sub_id = ?1 AND wseq = ?2",
                            params![sub.0, wseq],
                        )
                        .map_err(wrap)?;
                    if n > 0 {
                        tx.execute(
                            "UPDATE webhook_subscriptions SET delivered = delivered + 1, \
                             last_delivered_ms = ?2 WHERE id = ?1",
                            params![sub.0, *now_ms as i64],
                        )
                        .map_err(wrap)?;
                    }
                }
                WebhookUpdate::Retry {
                    sub,
                    wseq,
                    attempt,
                    next_at_ms,
                } => {
                    tx.execute(
                        "UPDATE webhook_deliveries SET attempts = ?3, first_attempt_ms = ?4, \
                         next_at_ms = ?5, last_status = ?6, last_error = ?7 \
                         WHERE sub_id = ?1 AND wseq = ?2",
                        params![
                            sub.0,
                            wseq,
                            attempt.attempts,
                            attempt.first_attempt_ms as i64,
                            *next_at_ms as i64,
                            attempt.status,
                            attempt.error
                        ],
                    )
                    .map_err(wrap)?;
                }
                WebhookUpdate::Dead {
                    sub,
                    wseq,
                    attempt,
                    now_ms,
                } => {
                    tx.execute(
                        "DELETE FROM webhook_deliveries WHERE sub_id = ?1 AND wseq = ?2",
                        params![sub.0, wseq],
                    )
                    .map_err(wrap)?;
                    tx.execute(
                        "INSERT OR REPLACE INTO webhook_dead_letters (sub_id, wseq, attempts, \
                         last_status, last_error, died_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            sub.0,
                            wseq,
                            attempt.attempts,
                            attempt.status,
                            attempt.error,
                            *now_ms as i64
                        ],
                    )
                    .map_err(wrap)?;
                }
                WebhookUpdate::Pause { sub, until_ms } => {
                    tx.execute(
                        "UPDATE webhook_subscriptions SET paused_until_ms = ?2 WHERE id = ?1",
                        params![sub.0, *until_ms as i64],
                    )
                    .map_err(wrap)?;
                }
                WebhookUpdate::Disable { sub, reason } => {
                    tx.execute(
                        "UPDATE webhook_subscriptions SET state = 'disabled', state_reason = ?2 \
                         WHERE id = ?1",
                        params![sub.0, reason],
                    )
                    .map_err(wrap)?;
                }
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Queues `events` (`(wseq, order_key)`, already filtered) for `sub`
    /// and moves its cursor to `cursor`, in one transaction.
    pub fn enqueue_deliveries(
        &mut self,
        sub: SubscriptionId,
        events: &[(i64, String)],
        cursor: i64,
        now_ms: u64,
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
                    "INSERT OR IGNORE INTO webhook_deliveries (sub_id, wseq, order_key, next_at_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(wrap)?;
            for (wseq, key) in events {
                ins.execute(params![sub.0, wseq, key, now_ms as i64])
                    .map_err(wrap)?;
            }
        }
        tx.execute(
            "UPDATE webhook_subscriptions SET cursor = MAX(cursor, ?2) WHERE id = ?1",
            params![sub.0, cursor],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    /// Deliveries of `sub` due at `now_ms`, oldest first: only the oldest
    /// pending delivery of each order key (a call's later events wait for
    /// its earlier ones; other calls go on).
    pub fn due_deliveries(
        &self,
        sub: SubscriptionId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT d.attempts, d.first_attempt_ms, {EVENT_COLS} FROM webhook_deliveries d \
                 JOIN webhook_events e ON e.wseq = d.wseq \
                 WHERE d.sub_id = ?1 AND d.next_at_ms <= ?2 AND d.wseq = (SELECT MIN(x.wseq) \
                 FROM webhook_deliveries x WHERE x.sub_id = d.sub_id AND x.order_key = d.order_key) \
                 ORDER BY d.wseq LIMIT ?3"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![sub.0, now_ms as i64, limit as i64], |r| {
                Ok(DueDelivery {
                    sub,
                    attempts: r.get::<_, i64>(0)? as u32,
                    first_attempt_ms: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                    event: event_row(r, 2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// A 2xx: the delivery is done.
    pub fn mark_delivered(
        &self,
        sub: SubscriptionId,
        wseq: i64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM webhook_deliveries WHERE sub_id = ?1 AND wseq = ?2",
                params![sub.0, wseq],
            )
            .map_err(|e| self.err(e))?;
        if n > 0 {
            self.conn
                .execute(
                    "UPDATE webhook_subscriptions SET delivered = delivered + 1, \
                     last_delivered_ms = ?2 WHERE id = ?1",
                    params![sub.0, now_ms as i64],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// A failed attempt, to be retried at `next_at_ms`.
    pub fn schedule_retry(
        &self,
        sub: SubscriptionId,
        wseq: i64,
        attempt: &AttemptRecord,
        next_at_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE webhook_deliveries SET attempts = ?3, first_attempt_ms = ?4, \
                 next_at_ms = ?5, last_status = ?6, last_error = ?7 WHERE sub_id = ?1 AND wseq = ?2",
                params![
                    sub.0,
                    wseq,
                    attempt.attempts,
                    attempt.first_attempt_ms as i64,
                    next_at_ms as i64,
                    attempt.status,
                    attempt.error
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Gives a delivery up: it moves to the dead letters (and no longer
    /// holds back its call's later events).
    pub fn dead_letter(
        &mut self,
        sub: SubscriptionId,
        wseq: i64,
        attempt: &AttemptRecord,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE sub_id = ?1 AND wseq = ?2",
            params![sub.0, wseq],
        )
        .map_err(wrap)?;
        tx.execute(
            "INSERT OR REPLACE INTO webhook_dead_letters (sub_id, wseq, attempts, last_status, \
             last_error, died_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                sub.0,
                wseq,
                attempt.attempts,
                attempt.status,
                attempt.error,
                now_ms as i64
            ],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    /// Dead letters (of one subscription), newest first.
    pub fn dead_letters(&self, sub: Option<SubscriptionId>) -> Result<Vec<DeadLetter>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT d.sub_id, d.attempts, d.last_status, d.last_error, d.died_ms, {EVENT_COLS} \
                 FROM webhook_dead_letters d JOIN webhook_events e ON e.wseq = d.wseq \
                 WHERE ?1 IS NULL OR d.sub_id = ?1 ORDER BY d.died_ms DESC, d.wseq DESC"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([sub.map(|s| s.0)], |r| {
                Ok(DeadLetter {
                    sub: SubscriptionId(r.get(0)?),
                    attempts: r.get::<_, i64>(1)? as u32,
                    last_status: r.get(2)?,
                    last_error: r.get(3)?,
                    died_ms: r.get::<_, i64>(4)? as u64,
                    event: event_row(r, 5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Queues again every webhook event since `since_ms` (already sent,
    /// dead or never queued) for `sub` (or every subscription) whose
    /// filter `wants` it, as a fresh delivery due now; dead letters of
    /// those events are cleared. Returns how many deliveries were queued.
    pub fn replay_since(
        &mut self,
        since_ms: u64,
        sub: Option<SubscriptionId>,
        wants: impl Fn(&StoredSubscription, &str) -> bool,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let subs: Vec<StoredSubscription> = self
            .list_subscriptions()?
            .into_iter()
            .filter(|s| sub.is_none_or(|id| s.id == id))
            .collect();
        let events: Vec<(i64, String, String)> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT wseq, order_key, kind FROM webhook_events WHERE at_ms >= ?1 ORDER BY wseq",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([since_ms as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut queued = 0;
        for s in &subs {
            for (wseq, key, kind) in &events {
                if !wants(s, kind) {
                    continue;
                }
                tx.execute(
                    "DELETE FROM webhook_dead_letters WHERE sub_id = ?1 AND wseq = ?2",
                    params![s.id.0, wseq],
                )
                .map_err(wrap)?;
                queued += tx
                    .execute(
                        "INSERT OR REPLACE INTO webhook_deliveries (sub_id, wseq, order_key, \
                         next_at_ms) VALUES (?1, ?2, ?3, ?4)",
                        params![s.id.0, wseq, key, now_ms as i64],
                    )
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(queued)
    }

    /// The previous call record of `number` (as caller, as received or
    /// E.164) started before `before_ms`: `(call_id, start_ms, direction,
    /// agent party, disposition)`.
    pub fn last_call_of(
        &self,
        number: &str,
        before_ms: u64,
    ) -> Result<Option<LastCall>, StoreError> {
        self.conn
            .query_row(
                "SELECT c.call_id, c.start_ms, c.direction, c.callee, c.disposition, \
                 (SELECT party FROM cdr_legs l WHERE l.call_id = c.call_id AND l.leg = 1) \
                 FROM cdr c WHERE c.caller = ?1 AND c.start_ms < ?2 \
                 ORDER BY c.start_ms DESC LIMIT 1",
                params![number, before_ms as i64],
                |r| {
                    Ok(LastCall {
                        call_id: r.get(0)?,
                        at_ms: r.get::<_, i64>(1)? as u64,
                        direction: r.get(2)?,
                        agent: r.get::<_, Option<String>>(5)?.unwrap_or(r.get(3)?),
                        outcome: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// One change of delivery state ([`Store::apply_webhook_updates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookUpdate {
    /// Answered 2xx: the delivery is done.
    Delivered {
        /// The subscription.
        sub: SubscriptionId,
        /// The event.
        wseq: i64,
        /// When (Unix ms).
        now_ms: u64,
    },
    /// Failed; next attempt at `next_at_ms`.
    Retry {
        /// The subscription.
        sub: SubscriptionId,
        /// The event.
        wseq: i64,
        /// The attempt.
        attempt: AttemptRecord,
        /// When to try again (Unix ms).
        next_at_ms: u64,
    },
    /// Given up: to the dead letters.
    Dead {
        /// The subscription.
        sub: SubscriptionId,
        /// The event.
        wseq: i64,
        /// The last attempt.
        attempt: AttemptRecord,
        /// When (Unix ms).
        now_ms: u64,
    },
    /// No attempts for the subscription before `until_ms`.
    Pause {
        /// The subscription.
        sub: SubscriptionId,
        /// Until (Unix ms).
        until_ms: u64,
    },
    /// The subscription is disabled.
    Disable {
        /// The subscription.
        sub: SubscriptionId,
        /// Why (`410 Gone`).
        reason: String,
    },
}

/// The previous call of a number (the pop's `last_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCall {
    /// Its call id.
    pub call_id: String,
    /// When it started (Unix ms).
    pub at_ms: u64,
    /// `internal`, `inbound` or `outbound`.
    pub direction: String,
    /// Who took it (the answering leg's party, else the dialed number).
    pub agent: String,
    /// Its disposition (`ANSWERED`, `NO ANSWER`, ...).
    pub outcome: String,
}
