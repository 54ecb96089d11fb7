//! The customer lookup hook (SPEC §8.1): a POST of `{number, call_id,
//! agent, direction}` to the CRM's `lookup_url`, answered with
//! `{"customer_ids": [...]}` — the customers matching the number inside the
//! ringing agent's permission scope. 0, 1 and ≥ 2 ids are `unknown`,
//! `unique` and `multiple`. The pop waits at most the budget (300 ms by
//! default); a later answer is handed back for a `customer.matched` event.
//! Answers are cached per (number, agent) for `cache_ttl`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use super::LookupConfig;
use crate::http_client::{HttpClient, HttpOutcome};

/// `customer_match` of the pop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerMatch {
    /// `unknown`, `unique` or `multiple`.
    pub status: MatchStatus,
    /// The matching customers (in the agent's scope).
    pub customer_ids: Vec<String>,
}

/// The three results of SPEC §8.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// No customer (or no answer in time).
    Unknown,
    /// One customer.
    Unique,
    /// Several: the agent picks.
    Multiple,
}

impl CustomerMatch {
    /// No match.
    pub fn unknown() -> Self {
        Self {
            status: MatchStatus::Unknown,
            customer_ids: Vec::new(),
        }
    }

    /// The match of these ids.
    pub fn of(customer_ids: Vec<String>) -> Self {
        let status = match customer_ids.len() {
            0 => MatchStatus::Unknown,
            1 => MatchStatus::Unique,
            _ => MatchStatus::Multiple,
        };
        Self {
            status,
            customer_ids,
        }
    }

    /// Reads the CRM's answer body; None when it is not the expected JSON.
    pub fn parse_answer(body: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let ids = v.get("customer_ids")?.as_array()?;
        let ids = ids
            .iter()
            .map(|id| match id {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::of(ids))
    }
}

/// What a lookup gave within its budget.
#[derive(Debug)]
pub enum LookupAnswer {
    /// The answer (or `unknown` when the CRM failed).
    Now(CustomerMatch),
    /// Not within the budget: `unknown` now, the answer (if any) later.
    Late(tokio::task::JoinHandle<Option<CustomerMatch>>),
}

/// One lookup to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupRequest {
    /// The caller's number.
    pub number: String,
    /// The call.
    pub call_id: String,
    /// The ringing agent (scope of the match).
    pub agent: Option<String>,
    /// `inbound` (or `internal`).
    pub direction: String,
}

type CacheKey = (String, Option<String>);

/// The hook with its cache; cheap to clone.
#[derive(Clone)]
pub struct CustomerLookup {
    config: LookupConfig,
    client: HttpClient,
    cache: Arc<Mutex<HashMap<CacheKey, (Instant, CustomerMatch)>>>,
}

impl CustomerLookup {
    /// A hook on `client`.
    pub fn new(config: LookupConfig, client: HttpClient) -> Self {
        Self {
            config,
            client,
            cache: Arc::default(),
        }
    }

    /// Looks `req` up: from the cache, else from the CRM within the budget.
    pub async fn lookup(&self, req: LookupRequest) -> LookupAnswer {
        let key = (req.number.clone(), req.agent.clone());
        if let Some((at, m)) = self.cache.lock().get(&key) {
            if at.elapsed() < self.config.cache_ttl {
                return LookupAnswer::Now(m.clone());
            }
        }
        let this = self.clone();
        let mut task = tokio::spawn(async move {
            let body = serde_json::to_string(&req).unwrap_or_default();
            let answer = this
                .client
                .post_json(&this.config.url, body, this.config.late_timeout)
                .await;
            let found = match answer {
                HttpOutcome::Response { status, body } if (200..300).contains(&status) => {
                    let m = CustomerMatch::parse_answer(&body);
                    if m.is_none() {
                        tracing::warn!(
                            status,
                            "customer lookup: answer is not {{\"customer_ids\": [...]}}"
                        );
                    }
                    m
                }
                other => {
                    tracing::warn!(outcome = ?other, "customer lookup failed");
                    None
                }
            };
            if let Some(m) = &found {
                let mut cache = this.cache.lock();
                if cache.len() > 100_000 {
                    cache.clear();
                }
                cache.insert(key, (Instant::now(), m.clone()));
            }
            found
        });
        match tokio::time::timeout(self.config.budget, &mut task).await {
            Ok(Ok(found)) => LookupAnswer::Now(found.unwrap_or_else(CustomerMatch::unknown)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "customer lookup task failed");
                LookupAnswer::Now(CustomerMatch::unknown())
            }
            Err(_) => LookupAnswer::Late(task),
        }
    }
}
