//! `GET /calls` (`pbx calls`) and `POST /calls/ID/hangup` (`pbx calls
//! hangup ID`), both through the engine's handle.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::errors::{command_error, json_response};
use super::ApiState;
use crate::b2bua::{CallId, Command, CommandError};

/// Live B2BUA calls, one per line: id, caller, callee, state, age (s),
/// application, legs (tab-separated; read by `pbx calls`). Empty in proxy
/// mode.
pub(super) async fn list(State(s): State<ApiState>) -> Response {
    let mut text = String::new();
    if let Some(b2bua) = &s.b2bua {
        let calls = match b2bua.engine.live_calls().await {
            Ok(calls) => calls,
            Err(e) => return command_error(&e),
        };
        for c in calls {
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                c.id, c.caller, c.callee, c.state, c.age_s, c.app, c.legs
            );
        }
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// `POST /calls/ID/hangup`: pbx ends the call (its record says
/// `admin.hangup`). 200 `{"ended": 1}`, 404 for no such live call, 400 for
/// an id that is no call id, 503 without the B2BUA.
pub(super) async fn hangup(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let Some(b2bua) = &s.b2bua else {
        return command_error(&CommandError::NotRunning);
    };
    let Some(call) = CallId::parse(&id) else {
        let body = serde_json::json!({ "error": format!("`{id}` is no call id (c followed by 16 hex digits)") });
        return json_response(StatusCode::BAD_REQUEST, &body);
    };
    match b2bua.engine.command(Command::Hangup(call)).await {
        Ok(n) => json_response(StatusCode::OK, &serde_json::json!({ "ended": n })),
        Err(e) => command_error(&e),
    }
}
