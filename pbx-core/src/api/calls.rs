//! `GET /calls` (`pbx calls`), `POST /calls/ID/hangup` (`pbx calls
//! hangup ID`) and `POST /calls/originate?agent=A&number=N` (`pbx calls
//! originate A N`: click-to-call), all through the engine's handle.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::errors::{command_error, json_response};
use super::ApiState;
use crate::b2bua::{CallId, Command, CommandError, Originate};

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

/// The parameters of `POST /calls/originate`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct OriginateParams {
    agent: String,
    number: String,
    /// Seconds the agent's phone may ring (default 30).
    ring_s: Option<u64>,
    /// The missed-call entry this call calls back (quick callback).
    missed: Option<u64>,
}

/// `POST /calls/originate?agent=A&number=N[&ring_s=S][&missed=ID]`: pbx
/// rings the agent's phone, then dials the number for it (with `missed`, a
/// quick callback of that missed-call entry, SPEC §10). 201 `{"call_id": ...}` once
/// the agent's phone is rung; 409 when the agent has no phone registered or
/// the number routes nowhere, 503 without the B2BUA or the relay.
pub(super) async fn originate(
    State(s): State<ApiState>,
    Query(p): Query<OriginateParams>,
) -> Response {
    let Some(b2bua) = &s.b2bua else {
        return command_error(&CommandError::NotRunning);
    };
    let valid = |v: &str| {
        !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+*#-_.".contains(c))
    };
    if !valid(&p.agent) || !valid(&p.number) {
        let body = serde_json::json!({
            "error": "agent and number must be 1-64 characters of digits, letters and + * # - _ ."
        });
        return json_response(StatusCode::BAD_REQUEST, &body);
    }
    let ring = std::time::Duration::from_secs(p.ring_s.unwrap_or(30).clamp(1, 300));
    let request = Originate {
        agent: p.agent,
        number: p.number,
        ring,
    };
    match b2bua.engine.originate(request, p.missed).await {
        Ok(id) => json_response(
            StatusCode::CREATED,
            &serde_json::json!({ "call_id": id.to_string() }),
        ),
        Err(e @ (CommandError::Unreachable(_) | CommandError::NoRoute(..))) => json_response(
            StatusCode::CONFLICT,
            &serde_json::json!({ "error": e.to_string() }),
        ),
        Err(e) => command_error(&e),
    }
}
