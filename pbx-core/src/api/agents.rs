//! The contact center's live view and agent operations, through the
//! engine's handle (the ACD runs on the engine's driver thread):
//! `GET /acd` (queues and agents now; `pbx queues`, `pbx agents`) and
//! `POST /agents/NAME/OP` with OP `login`, `logout`, `break[:REASON]`,
//! `ready` (`pbx agents login NAME`, ...): 200 `{"ok": true}`, 409 with the
//! reason when the state machine refuses the move (an unknown agent, a
//! break during a call), 400 for an unknown operation, 503 without the
//! B2BUA.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::errors::{command_error, json_response};
use super::ApiState;
use crate::b2bua::CommandError;

pub(super) async fn status(State(s): State<ApiState>) -> Response {
    let Some(b2bua) = &s.b2bua else {
        return command_error(&CommandError::NotRunning);
    };
    match b2bua.engine.acd_status().await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => command_error(&e),
    }
}

pub(super) async fn operate(
    State(s): State<ApiState>,
    Path((agent, op)): Path<(String, String)>,
) -> Response {
    let Some(b2bua) = &s.b2bua else {
        return command_error(&CommandError::NotRunning);
    };
    if crate::queues::AgentOp::parse(&op).is_none() {
        let body = serde_json::json!({
            "error": format!("unknown agent operation `{op}`: use login, logout, break[:REASON] or ready"),
        });
        return json_response(StatusCode::BAD_REQUEST, &body);
    }
    match b2bua.engine.agent(&agent, &op).await {
        Ok(Ok(())) => json_response(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Ok(Err(why)) => json_response(StatusCode::CONFLICT, &serde_json::json!({ "error": why })),
        Err(e) => command_error(&e),
    }
}
