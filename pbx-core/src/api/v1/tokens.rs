//! API tokens over the API (`admin` scope): list, create (the secret is
//! in the answer once), revoke. `pbx tokens` does the same on the store.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{parse_scopes, Principal, Scope};
use super::error::{ApiError, ApiResult, J};
use super::{now_ms, state};
use crate::api::ApiState;
use crate::store::TokenRow;

fn token_json(t: &TokenRow) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "scopes": t.scopes,
        "agent": t.agent,
        "created_ms": t.created_ms,
        "revoked_ms": t.revoked_ms,
    })
}

pub(super) async fn list(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let v1 = state(&s)?.clone();
    let rows = v1.db.run(|st| st.list_tokens()).await?;
    let items: Vec<serde_json::Value> = rows.iter().map(token_json).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    name: String,
    scopes: Vec<String>,
    agent: Option<String>,
}

/// A token name: 1–64 of letters, digits, `-`, `_`, `.`.
pub(crate) fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(super) async fn create(
    State(s): State<ApiState>,
    p: Principal,
    J(body): J<CreateBody>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    if !valid_name(&body.name) {
        return Err(ApiError::unprocessable(
            "name: 1 to 64 letters, digits, -, _ or .",
        ));
    }
    if let Some(bad) = body.scopes.iter().find(|s| Scope::parse(s).is_none()) {
        return Err(ApiError::unprocessable(format!(
            "scope `{bad}`: use read, calls, agents, admin, numbers"
        )));
    }
    let scopes = parse_scopes(&body.scopes.join(",")).map_err(ApiError::unprocessable)?;
    if body.agent.as_deref().is_some_and(|a| !valid_name(a)) {
        return Err(ApiError::unprocessable("agent: a user name"));
    }
    let v1 = state(&s)?.clone();
    let name = body.name.clone();
    let taken = v1
        .db
        .run(move |st| Ok(st.list_tokens()?.iter().any(|t| t.name == name)))
        .await?;
    if taken {
        return Err(ApiError::conflict(format!(
            "a token named {} exists",
            body.name
        )));
    }
    let (row, secret) = v1
        .db
        .run(move |st| st.create_token(&body.name, &scopes, body.agent.as_deref(), now_ms()))
        .await?;
    let mut v = token_json(&row);
    v["token"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn revoke(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let v1 = state(&s)?.clone();
    let key = id.clone();
    if v1.db.run(move |st| st.revoke_token(&key, now_ms())).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no live token {id}")))
    }
}
