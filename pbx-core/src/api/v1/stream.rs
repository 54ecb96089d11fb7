//! `GET /events`: the event outbox as Server-Sent Events for agent
//! desktops and wallboards. Each event's SSE `id` is its outbox `seq`, so
//! a client that reconnects with `Last-Event-ID` (or `?after=SEQ`) gets
//! exactly the events after the last one it saw, the ones written while it
//! was away included. The stream polls the outbox every 250 ms and sends
//! a keep-alive comment every 15 s.
//!
//! Scoped to the token: `read` scope; an agent token without `admin` gets
//! only events that name its agent (`agent`, `agent_id`) or its extension
//! (`caller`, `callee`); numbers are masked without `numbers`. `kinds`
//! (comma-separated prefixes, e.g. `call.,agent.`) narrows the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, Q};
use super::mask::mask_json;
use super::state;
use crate::api::ApiState;
use crate::store::StoredEvent;

#[derive(Deserialize)]
pub(super) struct StreamParams {
    after: Option<i64>,
    kinds: Option<String>,
}

/// Whether `v` names `agent` under an agent or party key, at any depth.
fn mentions(v: &serde_json::Value, agent: &str) -> bool {
    match v {
        serde_json::Value::Object(map) => map.iter().any(|(k, val)| match val {
            serde_json::Value::String(s) => {
                matches!(k.as_str(), "agent" | "agent_id" | "caller" | "callee") && s == agent
            }
            other => mentions(other, agent),
        }),
        serde_json::Value::Array(items) => items.iter().any(|i| mentions(i, agent)),
        _ => false,
    }
}

/// The events of a batch this caller may see, as SSE events.
fn visible(p: &Principal, kinds: &[String], batch: Vec<StoredEvent>) -> Vec<Event> {
    batch
        .into_iter()
        .filter(|e| kinds.is_empty() || kinds.iter().any(|k| e.event.kind.starts_with(k.as_str())))
        .filter(|e| p.own_agent().is_none_or(|a| mentions(&e.event.payload, a)))
        .map(|e| {
            let mut data = serde_json::json!({
                "seq": e.seq,
                "event_id": e.event.event_id,
                "call_id": e.event.call_id,
                "kind": e.event.kind,
                "at_ms": e.event.at_ms,
                "payload": e.event.payload,
            });
            if p.masks() {
                mask_json(&mut data);
            }
            Event::default()
                .id(e.seq.to_string())
                .event(e.event.kind.clone())
                .data(data.to_string())
        })
        .collect()
}

pub(super) async fn events(
    State(s): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
    Q(q): Q<StreamParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID: an event's seq"))?,
        ),
    };
    let start = match (resume, q.after) {
        (Some(n), _) => n,
        (None, Some(n)) if n >= 0 => n,
        (None, Some(_)) => return Err(ApiError::bad_request("after: 0 or more")),
        // a new subscriber starts at the end
        (None, None) => v1.db.run(|st| st.last_event_seq()).await?,
    };
    let kinds: Vec<String> = q
        .kinds
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let stream = futures::stream::unfold(
        (start, std::collections::VecDeque::<Event>::new()),
        move |(mut last, mut pending)| {
            let (v1, p, kinds) = (v1.clone(), p.clone(), kinds.clone());
            async move {
                loop {
                    if let Some(e) = pending.pop_front() {
                        return Some((Ok::<_, Infallible>(e), (last, pending)));
                    }
                    let after = last;
                    let batch = match v1.db.run(move |st| st.events_after(after, None, 200)).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(error = %e.message, "event stream: outbox read failed");
                            Vec::new()
                        }
                    };
                    if let Some(e) = batch.last() {
                        last = e.seq;
                    }
                    let empty = batch.is_empty();
                    pending.extend(visible(&p, &kinds, batch));
                    if empty {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
