//! The contact center: agents and their live states (SPEC §17; the ACD
//! through the engine's handle, the state's start from the stored agent
//! state changes), agent state changes, queues now and their statistics
//! over a period (SPEC §13.3 formulas of the `acd` crate), missed calls
//! (SPEC §10) and repeat callers (SPEC §11).
//!
//! An agent token without `admin` sees the missed calls and repeat
//! callers of its own skill groups only (the ACD's view of its skills).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, J, Q};
use super::mask::mask_number;
use super::{now_ms, state};
use crate::api::ApiState;

async fn acd_status(s: &ApiState) -> ApiResult<serde_json::Value> {
    match &s.b2bua {
        Some(b) => Ok(b.engine.acd_status().await?),
        None => Ok(serde_json::json!({ "queues": [], "agents": [] })),
    }
}

/// The skill groups (queue names) of `agent` per the ACD.
fn groups_of(status: &serde_json::Value, agent: &str) -> Vec<String> {
    status["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["agent"] == agent)
        .flat_map(|a| a["skills"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| {
            s.as_str()
                .map(|s| s.split(':').next().unwrap_or(s).to_owned())
        })
        .collect()
}

pub(super) async fn agents(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let status = acd_status(&s).await?;
    let last = v1.db.run(|st| st.last_agent_states()).await?;
    let by_agent: HashMap<String, &acd::AgentStateRecord> =
        last.iter().map(|r| (r.agent.to_string(), r)).collect();
    let now = now_ms();
    let own = p.own_agent();
    let items: Vec<serde_json::Value> = status["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| own.is_none_or(|o| a["agent"] == o))
        .map(|a| {
            let name = a["agent"].as_str().unwrap_or_default();
            let rec = by_agent.get(name);
            let skills: Vec<String> = a["skills"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            serde_json::json!({
                "agent": name,
                "state": a["state"].as_str().unwrap_or("unknown"),
                "skills": skills,
                "since_ms": rec.map(|r| r.at_unix_ms),
                "state_duration_s": rec.map(|r| now.saturating_sub(r.at_unix_ms) / 1000),
                "reason": rec.and_then(|r| r.reason.as_ref().map(ToString::to_string)),
                "call_id": rec.and_then(|r| r.call.map(|c| c.to_string())),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateBody {
    state: String,
    reason: Option<String>,
}

pub(super) async fn agent_state(
    State(s): State<ApiState>,
    p: Principal,
    Path(agent): Path<String>,
    J(body): J<StateBody>,
) -> ApiResult<Response> {
    p.require(Scope::Agents)?;
    if let Some(own) = p.own_agent() {
        if own != agent {
            return Err(ApiError::forbidden(format!(
                "token `{}` may only change agent {own}'s state",
                p.name
            )));
        }
    }
    let op = match (body.state.as_str(), &body.reason) {
        // a reason is for breaks; other states ignore it
        ("login" | "logout" | "ready", _) => body.state.clone(),
        ("break", None) => "break".to_owned(),
        ("break", Some(r))
            if !r.is_empty()
                && r.len() <= 32
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            format!("break:{r}")
        }
        ("break", Some(r)) => {
            return Err(ApiError::unprocessable(format!(
                "reason `{r}`: 1 to 32 letters, digits, _ or -"
            )))
        }
        (other, _) => {
            return Err(ApiError::unprocessable(format!(
                "state `{other}`: use login, logout, break or ready"
            )))
        }
    };
    let Some(b) = &s.b2bua else {
        return Err(ApiError::unavailable("no call engine (proxy mode)"));
    };
    match b.engine.agent(&agent, &op).await? {
        Ok(()) => {
            Ok(Json(serde_json::json!({ "agent": agent, "state": body.state })).into_response())
        }
        Err(why) => Err(ApiError::conflict(why)),
    }
}

pub(super) async fn queues(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let status = acd_status(&s).await?;
    let items = status["queues"].clone();
    let items = if items.is_array() {
        items
    } else {
        serde_json::json!([])
    };
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
pub(super) struct PeriodParams {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

pub(super) async fn queue_stats(
    State(s): State<ApiState>,
    p: Principal,
    Path(queue): Path<String>,
    Q(period): Q<PeriodParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let Some(threshold) = v1
        .queues
        .iter()
        .find(|(q, _)| *q == queue)
        .map(|(_, t)| u64::from(*t))
    else {
        return Err(ApiError::not_found(format!("no queue {queue}")));
    };
    let (today_from, _) = v1.today(now_ms());
    let from = period
        .from_ms
        .unwrap_or(today_from)
        .min(i64::MAX as u64 / 2);
    let to = period
        .to_ms
        .unwrap_or(from + 86_400_000)
        .min(i64::MAX as u64 / 2);
    if from > to {
        return Err(ApiError::bad_request("from_ms is after to_ms"));
    }
    // calls that entered in the period are followed to their end
    let events = v1
        .db
        .run(move |st| st.queue_events(from, to.saturating_add(86_400_000)))
        .await?;
    let q = acd::QueueId::from(queue.as_str());
    let st = acd::stats::queue_stats(&events, &q, from, to, threshold);
    let ratio = |r: Option<acd::stats::Ratio>| r.map(|r| r.as_f64());
    Ok(Json(serde_json::json!({
        "queue": queue,
        "from_ms": from,
        "to_ms": to,
        "offered": st.offered,
        "answered": st.answered,
        "abandoned": st.abandoned,
        "overflowed": st.overflowed,
        "answer_rate": ratio(st.answer_rate()),
        "answered_within_15s_rate": ratio(st.answer_rate_within(15)),
        "answered_within_20s_rate": ratio(st.answer_rate_within(20)),
        "answered_within_30s_rate": ratio(st.answer_rate_within(30)),
        "service_level_threshold_s": threshold,
        "service_level": ratio(st.service_level()),
        "abandon_rate": ratio(st.abandon_rate()),
        "avg_answered_wait_s": st.avg_answered_wait_s(),
        "avg_abandoned_wait_s": st.avg_abandoned_wait_s(),
        "avg_talk_s": st.avg_talk_s(),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct MissedParams {
    queue: Option<String>,
    days: Option<u32>,
    #[serde(default)]
    include_resolved: bool,
}

pub(super) async fn missed(
    State(s): State<ApiState>,
    p: Principal,
    Q(q): Q<MissedParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let days = q.days.unwrap_or(7);
    if !(1..=31).contains(&days) {
        return Err(ApiError::bad_request("days: 1 to 31"));
    }
    let v1 = state(&s)?.clone();
    let groups = match p.own_agent() {
        Some(a) => Some(groups_of(&acd_status(&s).await?, a)),
        None => None,
    };
    let now = now_ms();
    let from = now.saturating_sub(u64::from(days) * 86_400_000);
    let events = v1.db.run(move |st| st.queue_events(from, now + 1)).await?;
    let list = acd::missed::missed_calls(&acd::missed::from_events(&events));
    let items: Vec<serde_json::Value> = list
        .iter()
        .filter(|m| q.include_resolved || m.is_open())
        .filter(|m| {
            q.queue
                .as_deref()
                .is_none_or(|g| m.skill_group.as_str() == g)
        })
        .filter(|m| {
            groups
                .as_ref()
                .is_none_or(|g| g.iter().any(|g| g == m.skill_group.as_str()))
        })
        .map(|m| {
            let (caller, service) = if p.masks() {
                (
                    mask_number(&m.caller),
                    m.service_number.as_deref().map(mask_number),
                )
            } else {
                (m.caller.clone(), m.service_number.clone())
            };
            serde_json::json!({
                "id": m.id,
                "call_id": m.call.to_string(),
                "caller": caller,
                "service_number": service,
                "skill_group": m.skill_group.to_string(),
                "missed_at_ms": m.missed_at_unix_ms,
                "callback_attempts": m.callback_attempts,
                "resolved_by_call_id": m.resolved_by_call.map(|c| c.to_string()),
                "resolved_by_agent": m.resolved_by_agent.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
pub(super) struct RepeatParams {
    days: Option<u32>,
    number: Option<String>,
    skill_group: Option<String>,
    min_count: Option<u32>,
    max_count: Option<u32>,
}

pub(super) async fn repeat_callers(
    State(s): State<ApiState>,
    p: Principal,
    Q(q): Q<RepeatParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let window = acd::repeat::Window::try_from(q.days.unwrap_or(1))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if q.number.as_deref().is_some_and(super::mask::is_masked) {
        return Err(ApiError::bad_request(
            "number: a masked number cannot be searched (exact match only)",
        ));
    }
    let v1 = state(&s)?.clone();
    let groups = match p.own_agent() {
        Some(a) => Some(groups_of(&acd_status(&s).await?, a)),
        None => None,
    };
    let now = now_ms();
    let events = v1
        .db
        .run(move |st| st.queue_events(now.saturating_sub(14 * 86_400_000), now + 1))
        .await?;
    let calls = acd::repeat::inbound_calls(&events);
    let query = acd::repeat::RepeatQuery {
        window,
        number: q.number.filter(|n| !n.is_empty()),
        skill_group: q.skill_group.as_deref().map(acd::QueueId::from),
        min: q.min_count,
        max: q.max_count,
    };
    let found = acd::repeat::repeat_callers(&calls, now, acd::repeat::Window::Days14, &query)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let items: Vec<serde_json::Value> = found
        .iter()
        .filter(|r| {
            groups.as_ref().is_none_or(|g| {
                r.skill_groups
                    .iter()
                    .any(|q| g.iter().any(|g| g == q.as_str()))
            })
        })
        .map(|r| {
            let number = if p.masks() {
                mask_number(&r.number)
            } else {
                r.number.clone()
            };
            serde_json::json!({
                "number": number,
                "count": r.count,
                "answered": r.answered,
                "unanswered": r.unanswered,
                "first_at_ms": r.first_at_unix_ms,
                "last_at_ms": r.last_at_unix_ms,
                "skill_groups": r.skill_groups.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}
