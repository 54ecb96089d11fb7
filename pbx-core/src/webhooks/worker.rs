//! The delivery worker: a thread with its own single-threaded tokio
//! runtime (never the engine's thread) running enrich → fan out → deliver
//! rounds every `poll_interval`, with every cursor and attempt in SQLite.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::lookup::{CustomerLookup, CustomerMatch, LookupAnswer, MatchStatus};
use super::pop::{customer_matched, Enricher, Planned};
use super::regions::RegionTable;
use super::retry::{decide, parse_retry_after, AttemptOutcome, Decision};
use super::signature::{signature_header, Secret};
use super::{filters_match, mask, WebhookError, WebhooksConfig, DEFAULT_REGIONS};
use crate::http_client::{HttpClient, HttpOutcome};
use crate::metrics::Metrics;
use crate::store::{
    AttemptRecord, DueDelivery, NewSubscription, Store, StoreError, StoredSubscription,
    SubscriptionId, SubscriptionSource, WebhookEvent, WebhookUpdate,
};

/// Outbox rows enriched per round.
const ENRICH_BATCH: usize = 500;
/// Webhook events queued per subscription per round.
const FAN_OUT_BATCH: usize = 1000;
/// How often a worker without subscriptions looks for new ones.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How long shutdown waits for attempts in flight.
const DRAIN: Duration = Duration::from_secs(2);

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The running worker; [`WebhookWorker::shutdown`] stops it.
pub struct WebhookWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookWorker {
    /// Opens its own connection to the database `db`, makes the config
    /// file's subscriptions the stored `config` ones, loads the region
    /// table and starts the thread.
    pub fn start(
        db: &Path,
        config: WebhooksConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, WebhookError> {
        let mut store = Store::open(db)?;
        let regions = match &config.regions_file {
            Some(p) => RegionTable::load(p)?,
            None => RegionTable::parse(DEFAULT_REGIONS, "fixtures/regions.csv")?,
        };
        let subs: Vec<NewSubscription> = config
            .subscriptions
            .iter()
            .map(|s| NewSubscription {
                name: s.name.clone(),
                url: s.url.clone(),
                secrets: s.secrets.clone(),
                events: s.events.iter().map(|f| f.as_str().to_owned()).collect(),
                masked: s.masked,
                source: SubscriptionSource::Config,
            })
            .collect();
        store.sync_config_subscriptions(&subs, unix_ms())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(WebhookError::Start)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pbx-webhooks".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let client = match HttpClient::with_ca_files(&config.ca_files) {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::error!(error = %e, "webhooks: CA files refused; using the Mozilla roots only");
                            HttpClient::new()
                        }
                    };
                    let worker = Worker::new(store, config, regions, client, metrics);
                    worker.run(flag).await;
                })
            })
            .map_err(WebhookError::Start)?;
        tracing::info!(subscriptions = subs.len(), "webhook worker started");
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops after the current round: attempts in flight get up to 2 s
    /// to finish and be recorded; whatever is still pending is sent after
    /// the next start.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One finished attempt.
struct Done {
    sub: SubscriptionId,
    event: WebhookEvent,
    attempts: u32,
    first_ms: u64,
    outcome: AttemptOutcome,
    took: Duration,
}

struct Worker {
    store: Store,
    config: WebhooksConfig,
    enricher: Enricher,
    lookup: Option<CustomerLookup>,
    client: HttpClient,
    metrics: Arc<Metrics>,
    inflight: HashMap<SubscriptionId, HashSet<String>>,
    inflight_total: usize,
    throttled: HashSet<SubscriptionId>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    late_tx: mpsc::UnboundedSender<WebhookEvent>,
    late_rx: mpsc::UnboundedReceiver<WebhookEvent>,
    rng: rand::rngs::StdRng,
}

impl Worker {
    fn new(
        store: Store,
        config: WebhooksConfig,
        regions: RegionTable,
        client: HttpClient,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (late_tx, late_rx) = mpsc::unbounded_channel();
        let lookup = config
            .lookup
            .clone()
            .map(|l| CustomerLookup::new(l, client.clone()));
        Self {
            store,
            enricher: Enricher::new(regions).with_flows(config.ticket_flows.clone()),
            lookup,
            client,
            metrics,
            inflight: HashMap::new(),
            inflight_total: 0,
            throttled: HashSet::new(),
            done_tx,
            done_rx,
            late_tx,
            late_rx,
            rng: rand::rngs::StdRng::from_entropy(),
            config,
        }
    }

    async fn run(mut self, stop: Arc<AtomicBool>) {
        let mut updates = Vec::new();
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            let idle = match self.round(!stopping).await {
                Ok(listening) => !listening && self.inflight_total == 0,
                Err(e) => {
                    tracing::error!(error = %e, "webhook round failed; retrying next round");
                    false
                }
            };
            if stopping {
                break;
            }
            // Without subscriptions, look for new ones (the API) now and then.
            let pause = if idle {
                IDLE_POLL
            } else {
                self.config.delivery.poll_interval
            };
            tokio::select! {
                Some(d) = self.done_rx.recv() => self.finish(d, &mut updates),
                _ = tokio::time::sleep(pause) => {}
            }
            while let Ok(d) = self.done_rx.try_recv() {
                self.finish(d, &mut updates);
            }
            self.apply(&mut updates);
        }
        let deadline = tokio::time::Instant::now() + DRAIN;
        while self.inflight_total > 0 {
            match tokio::time::timeout_at(deadline, self.done_rx.recv()).await {
                Ok(Some(d)) => self.finish(d, &mut updates),
                _ => break,
            }
        }
        self.apply(&mut updates);
        if self.inflight_total > 0 {
            tracing::warn!(
                attempts = self.inflight_total,
                "webhook attempts still in flight at shutdown; they are sent again after restart"
            );
        }
    }

    /// Writes the finished attempts' outcomes in one transaction (a
    /// failure leaves them pending: sent again, at least once).
    fn apply(&mut self, updates: &mut Vec<WebhookUpdate>) {
        if updates.is_empty() {
            return;
        }
        if let Err(e) = self.store.apply_webhook_updates(updates) {
            tracing::error!(error = %e, updates = updates.len(), "recording webhook attempts failed; they are sent again");
        }
        updates.clear();
    }

    /// One round; returns whether any subscription exists.
    async fn round(&mut self, dispatch: bool) -> Result<bool, StoreError> {
        let subs = self.store.subscriptions_brief()?;
        if subs.is_empty() {
            // Nobody listens: skip what happened meanwhile (a subscription
            // added later starts from then; `replay` cannot send it).
            let last = self.store.outbox_last_seq()?;
            if last > self.store.webhook_enrich_cursor()? {
                self.store.append_webhook_events(&[], last)?;
            }
            return Ok(false);
        }
        self.enrich().await?;
        let mut late = Vec::new();
        while let Ok(e) = self.late_rx.try_recv() {
            late.push(e);
        }
        if !late.is_empty() {
            let cursor = self.store.webhook_enrich_cursor()?;
            self.store.append_webhook_events(&late, cursor)?;
        }
        let now = unix_ms();
        for s in subs.iter().filter(|s| s.state == "active") {
            self.fan_out(s, now)?;
        }
        if dispatch {
            for s in subs.iter().filter(|s| s.state == "active") {
                if s.paused_until_ms <= now {
                    self.dispatch(s, now)?;
                }
            }
        }
        Ok(true)
    }

    /// Outbox rows after the cursor become webhook events (pops wait for
    /// their lookups, run concurrently, at most the budget).
    async fn enrich(&mut self) -> Result<(), StoreError> {
        let cursor = self.store.webhook_enrich_cursor()?;
        let rows = self.store.events_after(cursor, None, ENRICH_BATCH)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(());
        };
        let mut planned = Vec::new();
        for row in &rows {
            planned.extend(self.enricher.plan(&self.store, row)?);
        }
        let lookups = planned.iter().map(|p| {
            let lookup = self.lookup.clone();
            let req = match p {
                Planned::Pop(d) => Some(d.lookup.clone()),
                Planned::Ready(_) => None,
            };
            async move {
                match (lookup, req) {
                    (Some(l), Some(r)) => Some(l.lookup(r).await),
                    _ => None,
                }
            }
        });
        let answers = futures::future::join_all(lookups).await;
        let mut events = Vec::with_capacity(planned.len());
        for (p, answer) in planned.into_iter().zip(answers) {
            match p {
                Planned::Ready(e) => events.push(e),
                Planned::Pop(mut draft) => {
                    self.metrics.webhooks.pops.inc();
                    let m = match answer {
                        Some(LookupAnswer::Now(m)) => m,
                        Some(LookupAnswer::Late(task)) => {
                            self.metrics.webhooks.lookups_late.inc();
                            let (tx, d) = (self.late_tx.clone(), draft.clone());
                            tokio::spawn(async move {
                                if let Ok(Some(m)) = task.await {
                                    let _ = tx.send(customer_matched(&d, &m, unix_ms()));
                                }
                            });
                            CustomerMatch::unknown()
                        }
                        None => CustomerMatch::unknown(),
                    };
                    if let ([customer], MatchStatus::Unique) = (&m.customer_ids[..], m.status) {
                        draft.set_last_ticket(
                            self.store.last_ticket_of_customer(customer)?.as_ref(),
                        );
                    }
                    events.push(draft.finish(&m));
                }
            }
        }
        self.store.append_webhook_events(&events, last)
    }

    fn fan_out(&mut self, s: &StoredSubscription, now: u64) -> Result<(), StoreError> {
        let events = self.store.webhook_events_after(s.cursor, FAN_OUT_BATCH)?;
        let Some(last) = events.last().map(|e| e.wseq) else {
            return Ok(());
        };
        let wanted: Vec<(i64, String)> = events
            .into_iter()
            .filter(|e| filters_match(&s.sub.events, &e.kind))
            .map(|e| (e.wseq, e.order_key))
            .collect();
        self.store.enqueue_deliveries(s.id, &wanted, last, now)
    }

    fn dispatch(&mut self, s: &StoredSubscription, now: u64) -> Result<(), StoreError> {
        let d = &self.config.delivery;
        let limit = if self.throttled.contains(&s.id) {
            1
        } else {
            d.per_subscription.max(1)
        };
        let busy = self.inflight.get(&s.id).map_or(0, HashSet::len);
        let free = limit
            .saturating_sub(busy)
            .min(d.concurrency.max(1).saturating_sub(self.inflight_total));
        if free == 0 {
            return Ok(());
        }
        let secrets: Vec<Secret> = s
            .sub
            .secrets
            .iter()
            .filter_map(|t| Secret::parse(t).ok())
            .collect();
        let due = self.store.due_deliveries(s.id, now, free + busy)?;
        let mut started = 0;
        for due in due {
            if started == free {
                break;
            }
            let keys = self.inflight.entry(s.id).or_default();
            if !keys.insert(due.event.order_key.clone()) {
                continue;
            }
            started += 1;
            self.inflight_total += 1;
            self.spawn_attempt(s, &secrets, due);
        }
        Ok(())
    }

    fn spawn_attempt(&self, s: &StoredSubscription, secrets: &[Secret], due: DueDelivery) {
        let body = if s.sub.masked {
            match serde_json::from_str::<serde_json::Value>(&due.event.body) {
                Ok(mut v) => {
                    mask::mask_json(&mut v);
                    v.to_string()
                }
                Err(_) => due.event.body.clone(),
            }
        } else {
            due.event.body.clone()
        };
        let ts = (unix_ms() / 1000) as i64;
        let signature = signature_header(secrets, &due.event.event_id, ts, body.as_bytes());
        let (client, url, timeout, tx) = (
            self.client.clone(),
            s.sub.url.clone(),
            self.config.delivery.timeout,
            self.done_tx.clone(),
        );
        let sub = s.id;
        tokio::spawn(async move {
            let started = Instant::now();
            let first_ms = due.first_attempt_ms.unwrap_or_else(unix_ms);
            let ts = ts.to_string();
            let headers = [
                ("webhook-id", due.event.event_id.as_str()),
                ("webhook-timestamp", ts.as_str()),
                ("webhook-signature", signature.as_str()),
            ];
            let reply = client
                .post_with_headers(&url, &headers, body.into(), timeout)
                .await;
            let outcome = match reply {
                Ok(r) => AttemptOutcome::Answered {
                    status: r.status,
                    retry_after: r
                        .retry_after
                        .as_deref()
                        .and_then(|v| parse_retry_after(v, unix_ms())),
                },
                Err(HttpOutcome::TimedOut) => AttemptOutcome::TimedOut,
                Err(HttpOutcome::Failed(why)) => AttemptOutcome::Failed(why),
                Err(other) => AttemptOutcome::Failed(format!("{other:?}")),
            };
            let _ = tx.send(Done {
                sub,
                event: due.event,
                attempts: due.attempts + 1,
                first_ms,
                outcome,
                took: started.elapsed(),
            });
        });
    }

    fn finish(&mut self, d: Done, updates: &mut Vec<WebhookUpdate>) {
        if let Some(keys) = self.inflight.get_mut(&d.sub) {
            keys.remove(&d.event.order_key);
        }
        self.inflight_total = self.inflight_total.saturating_sub(1);
        let m = &self.metrics.webhooks;
        if matches!(d.outcome, AttemptOutcome::Answered { .. }) {
            m.attempt_latency.observe(d.took);
        }
        let now = unix_ms();
        let jitter: f64 = self.rng.gen();
        let decision = decide(
            &self.config.delivery,
            &d.outcome,
            d.attempts,
            d.first_ms,
            now,
            jitter,
        );
        let (status, error) = match &d.outcome {
            AttemptOutcome::Answered { status, .. } => (Some(*status), None),
            AttemptOutcome::TimedOut => (None, Some("timed out".to_owned())),
            AttemptOutcome::Failed(why) => (None, Some(why.clone())),
        };
        let attempt = AttemptRecord {
            attempts: d.attempts,
            first_attempt_ms: d.first_ms,
            status,
            error,
        };
        let (sub, wseq) = (d.sub, d.event.wseq);
        match decision {
            Decision::Delivered => {
                updates.push(WebhookUpdate::Delivered {
                    sub,
                    wseq,
                    now_ms: now,
                });
                m.delivered.inc();
                if d.event.kind == "call.ringing" && d.attempts == 1 {
                    m.ring_to_delivered
                        .observe(Duration::from_millis(now.saturating_sub(d.event.at_ms)));
                }
                self.throttled.remove(&sub);
            }
            Decision::Retry {
                at_ms,
                pause_subscription,
                throttle,
            } => {
                m.failed.inc();
                updates.push(WebhookUpdate::Retry {
                    sub,
                    wseq,
                    attempt,
                    next_at_ms: at_ms,
                });
                if pause_subscription {
                    updates.push(WebhookUpdate::Pause {
                        sub,
                        until_ms: at_ms,
                    });
                }
                if throttle {
                    self.throttled.insert(sub);
                }
                tracing::debug!(%sub, event = %d.event.event_id, ?status, attempts = d.attempts, "webhook attempt failed; retrying");
            }
            Decision::Dead => {
                m.failed.inc();
                m.dead.inc();
                updates.push(WebhookUpdate::Dead {
                    sub,
                    wseq,
                    attempt,
                    now_ms: now,
                });
                tracing::warn!(%sub, event = %d.event.event_id, ?status, attempts = d.attempts, "webhook delivery given up (dead letter)");
            }
            Decision::Disable => {
                m.failed.inc();
                m.disabled.inc();
                // Kept queued (due now) for when the subscription is enabled again.
                updates.push(WebhookUpdate::Retry {
                    sub,
                    wseq,
                    attempt,
                    next_at_ms: now,
                });
                updates.push(WebhookUpdate::Disable {
                    sub,
                    reason: "410 Gone".into(),
                });
                tracing::warn!(%sub, "webhook endpoint answered 410 Gone: subscription disabled");
            }
        }
    }
}
