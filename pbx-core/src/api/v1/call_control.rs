//! Hold, unhold and blind transfer of a live call for its agent (`POST
//! /calls/{id}/hold`, `/unhold`, `/transfer`; calls scope, an agent's
//! token only on the agent's own calls). The engine does what the agent's
//! phone would (`b2bua/engine/call_control.rs`): 409 when the call cannot
//! now (not answered, already held, no music on hold configured, pbx
//! placed it...). A transfer is accepted (202) once the target is being
//! dialed; `call.transferred` and the target's pop follow as webhooks, and
//! a target that fails leaves the agent on the call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::calls::own_live_call;
use super::error::{ApiError, ApiResult, J};
use super::mask::is_masked;
use crate::api::ApiState;
use crate::b2bua::Command;

pub(super) async fn hold(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let (call, engine) = own_live_call(&s, &p, &id).await?;
    engine.command(Command::Hold(call)).await?;
    Ok(Json(serde_json::json!({ "call_id": call.to_string(), "held": true })).into_response())
}

pub(super) async fn unhold(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let (call, engine) = own_live_call(&s, &p, &id).await?;
    engine.command(Command::Unhold(call)).await?;
    Ok(Json(serde_json::json!({ "call_id": call.to_string(), "held": false })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferBody {
    /// A number or extension (dialed as the agent's phone would).
    to: String,
}

pub(super) async fn transfer(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<TransferBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let to = body.to.as_str();
    if is_masked(to) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "masked_number",
            "a masked number cannot be dialed (SPEC §18); use a token with the `numbers` scope",
        ));
    }
    let ok = !to.is_empty()
        && to.len() <= 64
        && to
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_' | b'.'));
    if !ok {
        return Err(ApiError::unprocessable(format!(
            "to `{to}`: a number or extension (1 to 64 letters, digits, +, -, _ or .)"
        )));
    }
    let (call, engine) = own_live_call(&s, &p, &id).await?;
    engine
        .command(Command::Transfer(call, to.to_owned()))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "call_id": call.to_string(), "to": to, "state": "transferring" })),
    )
        .into_response())
}
