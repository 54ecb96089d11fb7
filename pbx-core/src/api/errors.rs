//! The API's error answers: every 4xx/5xx carries a JSON body with an
//! `error` (and, for an unknown path, the list of endpoints).

use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::b2bua::CommandError;

/// `body` as JSON (one line) with `status`.
pub(super) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

/// A refused engine command: 404 for no such call, else 503.
pub(super) fn command_error(e: &CommandError) -> Response {
    let status = match e {
        CommandError::NoSuchCall(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    json_response(status, &serde_json::json!({ "error": e.to_string() }))
}

/// The fallback: 404 naming the endpoints there are.
pub(super) async fn not_found(uri: Uri) -> Response {
    let body = serde_json::json!({
        "error": format!("no such endpoint {}", uri.path()),
        "endpoints": [
            "GET /metrics", "GET /calls", "POST /calls/ID/hangup", "POST /calls/originate", "GET /trunks", "POST /reload",
            "GET /acd", "POST /agents/NAME/OP", "GET /recordings/CALL_ID", "POST /recordings/CALL_ID/pause|resume|link", "GET /links/recordings/CALL_ID?expires&sig",
            "GET /conferences", "GET /conferences/ROOM", "GET /conferences/ROOM/ID/quality",
            "POST /conferences/ROOM/OP", "POST /conferences/ROOM/ID/OP",
        ],
    });
    json_response(StatusCode::NOT_FOUND, &body)
}
