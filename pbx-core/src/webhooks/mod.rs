//! CRM webhooks (SPEC §7, §8.1, §10; issue 15): subscriptions, Standard
//! Webhooks signatures, the screen-pop payload and a durable delivery worker.
//!
//! The engine's driver writes one `event_outbox` row per engine event in the
//! same transaction as the state it describes (`store/outbox.rs`). The
//! [`WebhookWorker`] — a thread of its own, never the engine's — reads that
//! outbox in three durable stages, each with its cursor in SQLite
//! (`store/webhooks.rs`):
//!
//! 1. **Enrich** ([`pop`]): outbox rows become webhook events, stored once
//!    with their exact body: `queue.offer` (an agent is offered a queued
//!    caller) and `call.ringing` (a direct call rings a user) become the
//!    screen-pop `call.ringing` of SPEC §7 (caller region from the prefix
//!    table, IVR key path, last call, customer match from the CRM lookup
//!    hook of SPEC §8.1 within its budget, else `unknown` and a later
//!    `customer.matched`); `queue.abandon`, a queue overflow that hung up
//!    and an unanswered inbound call give `call.missed`; everything else
//!    passes through in the same envelope.
//! 2. **Fan out**: each subscription's cursor over the webhook events queues
//!    the ones its filter wants as deliveries.
//! 3. **Deliver** ([`retry`]): due deliveries are POSTed with bounded
//!    concurrency, in order per call (a failing call holds back only its own
//!    later events), retried with exponential backoff and jitter for about a
//!    day, 410 disables the subscription, 429/5xx throttle it (Retry-After
//!    honoured), other 4xx are retried a few times and then dead-lettered.
//!
//! Bodies are `{"type", "timestamp", "data"}` (the Standard Webhooks
//! payload shape); masked subscriptions get every phone number masked
//! (SPEC §18, [`mask`]).

pub mod lookup;
pub mod mask;
pub mod pop;
pub mod regions;
pub mod retry;
pub mod signature;
mod worker;

use std::path::PathBuf;
use std::time::Duration;

pub use worker::WebhookWorker;

/// Errors of webhook configuration and start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A `whsec_` secret is malformed.
    #[error("bad webhook secret: {0}")]
    BadSecret(&'static str),
    /// A line of the region table is malformed.
    #[error("{file}:{line}: {why}")]
    Regions {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The region table could not be read.
    #[error("cannot read the region table {}: {source}", path.display())]
    RegionsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The worker thread or its runtime could not start.
    #[error("cannot start the webhook worker: {0}")]
    Start(std::io::Error),
}

/// An event filter: `*` (everything), `call.*` (a prefix up to a dot) or an
/// exact event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(String);

impl EventFilter {
    /// Parses a filter; `None` when it is empty or has a `*` other than a
    /// final `.*` / a lone `*`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let star_ok = t == "*" || (t.ends_with(".*") && !t[..t.len() - 2].contains('*'));
        if t.is_empty() || (t.contains('*') && !star_ok) {
            return None;
        }
        Some(Self(t.to_owned()))
    }

    /// The filter as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an event of type `kind` passes.
    pub fn matches(&self, kind: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => self.0 == kind,
        }
    }
}

/// Whether any of `filters` (as stored) lets `kind` through.
pub fn filters_match(filters: &[String], kind: &str) -> bool {
    filters
        .iter()
        .filter_map(|f| EventFilter::parse(f))
        .any(|f| f.matches(kind))
}

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Unique name (default: the URL).
    pub name: String,
    /// `http://` or `https://` endpoint.
    pub url: String,
    /// `whsec_…` secrets, the newest first (several while rotating).
    pub secrets: Vec<String>,
    /// Event filters (default `*`).
    pub events: Vec<EventFilter>,
    /// Mask phone numbers (SPEC §18; default true).
    pub masked: bool,
}

/// How deliveries are attempted (`[webhook_delivery]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// One attempt's limit (connect, send, answer): default 10 s.
    pub timeout: Duration,
    /// Attempts in flight over all subscriptions: default 32.
    pub concurrency: usize,
    /// Attempts in flight per subscription: default 8.
    pub per_subscription: usize,
    /// First retry delay: default 1 s, doubled per attempt.
    pub retry_base: Duration,
    /// Longest delay between two attempts: default 1 h.
    pub retry_max_delay: Duration,
    /// Give up (dead letter) this long after the first attempt: default 24 h.
    pub retry_for: Duration,
    /// Attempts for a 4xx other than 408/410/429 before the dead letter:
    /// default 5.
    pub client_error_attempts: u32,
    /// How often the outbox is looked at: default 10 ms.
    pub poll_interval: Duration,
    /// How often the record writer commits the engine's events (the
    /// outbox) while `[[webhooks]]` are configured: default 20 ms (100 ms
    /// without webhooks). A pop leaves at most this plus `poll_interval`
    /// after the ringing.
    pub outbox_commit: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            concurrency: 32,
            per_subscription: 8,
            retry_base: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(3600),
            retry_for: Duration::from_secs(24 * 3600),
            client_error_attempts: 5,
            poll_interval: Duration::from_millis(10),
            outbox_commit: Duration::from_millis(20),
        }
    }
}

/// The CRM's customer lookup hook (`[crm] lookup_url`, SPEC §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupConfig {
    /// Where to POST `{number, call_id, agent, direction}`.
    pub url: String,
    /// How long the pop waits for the answer: default 300 ms.
    pub budget: Duration,
    /// How long a late answer is still awaited (then `customer.matched`):
    /// default 10 s.
    pub late_timeout: Duration,
    /// How long an answer is reused for the same number and agent: default 60 s.
    pub cache_ttl: Duration,
}

/// Everything the webhook worker runs on.
#[derive(Debug, Clone, Default)]
pub struct WebhooksConfig {
    /// The `[[webhooks]]` subscriptions.
    pub subscriptions: Vec<SubscriptionConfig>,
    /// Delivery settings.
    pub delivery: DeliveryConfig,
    /// The customer lookup hook (None: every pop says `unknown`).
    pub lookup: Option<LookupConfig>,
    /// The caller-region table (`[crm] regions_file`; None: the shipped
    /// `fixtures/regions.csv`).
    pub regions_file: Option<PathBuf>,
    /// CA files trusted for `https://` endpoints besides the Mozilla roots.
    pub ca_files: Vec<PathBuf>,
    /// The ticket flows the pop names as `ticket_flow` (SPEC §8.2).
    pub ticket_flows: TicketFlows,
}

/// The ticket flows (ticket types) of the CRM (`[crm] ticket_flows`,
/// `[crm.queue_ticket_flows]`, `[crm.outbound_ticket_flows]`): an inbound
/// pop's `ticket_flow` is its skill group's flow, else the first flow; an
/// outbound one the agent's outbound flow, else the first (SPEC §8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFlows {
    /// Every flow, the default first (empty: `ticket_flow` is null).
    pub flows: Vec<String>,
    /// Skill group (queue) → its inbound pop's flow.
    pub by_queue: std::collections::BTreeMap<String, String>,
    /// Agent → their outbound flow.
    pub outbound_by_agent: std::collections::BTreeMap<String, String>,
}

impl TicketFlows {
    /// The flow of an inbound pop from `queue` (none: a direct call).
    pub fn inbound(&self, queue: Option<&str>) -> Option<&str> {
        queue
            .and_then(|q| self.by_queue.get(q))
            .or(self.flows.first())
            .map(String::as_str)
    }

    /// The flow of `agent`'s outbound call.
    pub fn outbound(&self, agent: Option<&str>) -> Option<&str> {
        agent
            .and_then(|a| self.outbound_by_agent.get(a))
            .or(self.flows.first())
            .map(String::as_str)
    }
}

impl WebhooksConfig {
    /// Whether the worker has anything to do (subscriptions in the file;
    /// API-added ones are found in the store when it runs).
    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty()
    }
}

/// The shipped region table (`fixtures/regions.csv`).
pub const DEFAULT_REGIONS: &str = include_str!("../../../fixtures/regions.csv");

#[cfg(test)]
mod tests;
