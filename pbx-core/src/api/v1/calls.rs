//! Live calls: `GET /calls` (through the engine's handle), `POST
//! /calls/{id}/hangup`, click-to-call `POST /calls` and quick callback
//! `POST /missed/{id}/callback` (SPEC §10).
//!
//! Click-to-call and callback check the request fully (scope, the agent,
//! a masked number is refused with 422 `masked_number`, SPEC §18), then
//! the engine's originate rings the agent's phone and, once it answers,
//! dials the number for it: 201 with the new call's id; 409 when the agent
//! has no phone registered or the number routes nowhere now. A connected
//! quick callback resolves its missed call (`missed.resolved`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, J};
use super::mask::{is_masked, mask_number};
use super::{now_ms, state};
use crate::api::ApiState;
use crate::b2bua::{CallId, Command, CommandError, Originate};

pub(super) async fn live(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let calls = match &s.b2bua {
        Some(b) => b.engine.live_calls().await?,
        None => Vec::new(),
    };
    let own = p.own_agent();
    let items: Vec<serde_json::Value> = calls
        .into_iter()
        .filter(|c| own.is_none_or(|a| c.caller == a || c.callee == a))
        .map(|c| {
            let (caller, callee) = if p.masks() {
                (mask_number(&c.caller), mask_number(&c.callee))
            } else {
                (c.caller, c.callee)
            };
            serde_json::json!({
                "call_id": c.id.to_string(),
                "caller": caller,
                "callee": callee,
                "state": c.state,
                "age_s": c.age_s,
                "app": c.app,
                "legs": c.legs,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// The live call `id` (of the token's agent, for an agent's token) and the
/// engine: 404 for an id that is no live call (or not the agent's), 503 in
/// proxy mode.
pub(super) async fn own_live_call<'a>(
    s: &'a ApiState,
    p: &Principal,
    id: &str,
) -> ApiResult<(CallId, &'a crate::b2bua::EngineHandle)> {
    let Some(call) = CallId::parse(id) else {
        return Err(ApiError::not_found(format!(
            "no live call {id} (ids are c followed by 16 hex digits)"
        )));
    };
    let Some(b) = &s.b2bua else {
        return Err(ApiError::unavailable("no call engine (proxy mode)"));
    };
    let calls = b.engine.live_calls().await?;
    let own = p.own_agent();
    match calls.iter().find(|c| c.id == call) {
        None => Err(ApiError::not_found(format!("no live call {id}"))),
        Some(c) if own.is_some_and(|a| !takes_part(c, a)) => Err(ApiError::not_found(format!(
            "no live call {id} of agent {}",
            own.unwrap_or_default()
        ))),
        Some(_) => Ok((call, &b.engine)),
    }
}

/// Whether `agent` is the caller, the dialed party or on a leg of `c` (a
/// transfer target).
fn takes_part(c: &crate::b2bua::engine::LiveCall, agent: &str) -> bool {
    c.caller == agent
        || c.callee == agent
        || c.parties.iter().any(|p| {
            let rest = p
                .strip_prefix("sip:")
                .or_else(|| p.strip_prefix("sips:"))
                .unwrap_or(p);
            rest.split(['@', ';']).next() == Some(agent)
        })
}

pub(super) async fn hangup(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let (call, engine) = own_live_call(&s, &p, &id).await?;
    let ended = engine.command(Command::Hangup(call)).await?;
    Ok(Json(serde_json::json!({ "ended": ended })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DialBody {
    /// The customer's number.
    number: String,
    /// The agent whose phone rings first (default: the token's agent).
    agent: Option<String>,
}

/// How long the agent's phone rings before the call is given up.
const AGENT_RING: std::time::Duration = std::time::Duration::from_secs(30);

/// Places the call (agent first, then `number`); 201 `{"call_id"}`.
async fn place(
    s: &ApiState,
    agent: String,
    number: String,
    missed: Option<u64>,
) -> ApiResult<Response> {
    let Some(b) = &s.b2bua else {
        return Err(ApiError::unavailable("no call engine (proxy mode)"));
    };
    let request = Originate {
        agent,
        number,
        ring: AGENT_RING,
    };
    match b.engine.originate(request, missed).await {
        Ok(id) => Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({ "call_id": id.to_string() })),
        )
            .into_response()),
        Err(e @ (CommandError::Unreachable(_) | CommandError::NoRoute(..))) => {
            Err(ApiError::conflict(e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The agent a dial request rings: the given one (admin, or the token's
/// own), else the token's.
fn dialing_agent(p: &Principal, given: Option<String>) -> ApiResult<String> {
    match (given, p.own_agent()) {
        (Some(a), Some(own)) if a != own => Err(ApiError::forbidden(format!(
            "token `{}` may only dial as agent {own}",
            p.name
        ))),
        (Some(a), _) => Ok(a),
        (None, _) => p.agent.clone().ok_or_else(|| {
            ApiError::unprocessable("agent: required for a token that acts as no agent")
        }),
    }
}

pub(super) async fn click_to_call(
    State(s): State<ApiState>,
    p: Principal,
    J(body): J<DialBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let number = body.number.as_str();
    if is_masked(number) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "masked_number",
            "a masked number cannot be dialed (SPEC §18); dial the record or missed call by id, or use a token with the `numbers` scope",
        ));
    }
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable(format!(
            "number `{number}`: digits with an optional leading +"
        )));
    }
    let agent = dialing_agent(&p, body.agent)?;
    place(&s, agent, number.to_owned(), None).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CallbackBody {
    agent: Option<String>,
}

pub(super) async fn callback(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    body: Option<J<CallbackBody>>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let body = body.map(|J(b)| b).unwrap_or_default();
    let Ok(missed_id) = id.parse::<u64>() else {
        return Err(ApiError::not_found(format!("no missed call {id}")));
    };
    let v1 = state(&s)?.clone();
    let now = now_ms();
    let missed = v1
        .db
        .run(move |st| st.missed_calls(now.saturating_sub(31 * 86_400_000), now + 1))
        .await?;
    let Some(entry) = missed.iter().find(|m| m.id == missed_id) else {
        return Err(ApiError::not_found(format!("no missed call {id}")));
    };
    if !entry.is_open() {
        return Err(ApiError::conflict(format!(
            "missed call {id} was resolved by call {}",
            entry
                .resolved_by_call
                .map(|c| c.to_string())
                .unwrap_or_default()
        )));
    }
    let agent = dialing_agent(&p, body.agent)?;
    let number = entry.caller.clone();
    place(&s, agent, number, Some(missed_id)).await
}
