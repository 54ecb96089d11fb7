//! `GET /recordings/ID`: a call's recording as `audio/wav`, streamed from
//! the spool or the object store, honouring a single-range `Range` header
//! (206 / 416, RFC 9110 §14) so that players can seek. Unknown calls get a
//! JSON 404. `POST /recordings/ID/link?expires_secs=N` signs a link that
//! `GET /links/recordings/ID?expires=…&sig=…` serves the same way without
//! the admin token (403 JSON when the signature is wrong or expired).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use recorder::access::RangeReply;

use super::errors::json_response;
use super::ApiState;
use crate::recording::AccessError;

/// The WAV of call `id` (whole, or the requested range).
pub(super) async fn download(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(access) = &s.admin.recordings else {
        return not_recorded();
    };
    serve_wav(access, &id, &headers).await
}

fn not_recorded() -> Response {
    let body = serde_json::json!({
        "error": "calls are not recorded here: set [recording] mode (or a recording policy)",
    });
    json_response(StatusCode::NOT_FOUND, &body)
}

fn forbidden(why: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::FORBIDDEN,
        &serde_json::json!({ "error": why.to_string() }),
    )
}

/// `GET /links/recordings/ID?expires=UNIX&sig=HEX` (no admin token): the
/// recording while the link's signature holds and it has not expired.
pub(super) async fn signed(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(access) = &s.admin.recordings else {
        return not_recorded();
    };
    let Some(key) = access.link_key() else {
        return not_recorded();
    };
    let (Some(expires), Some(sig)) = (
        q.get("expires").and_then(|e| e.parse::<i64>().ok()),
        q.get("sig"),
    ) else {
        return forbidden("a recording link needs `expires` (Unix seconds) and `sig`");
    };
    let Ok(call) = recorder::CallId::new(&id) else {
        return forbidden(recorder::access::LinkError::BadSignature);
    };
    if let Err(e) = key.verify(&call, expires, sig, chrono::Utc::now()) {
        tracing::info!(call = %id, error = %e, "recording link refused");
        return forbidden(format!("{e}: ask for a new link (pbx recordings link)"));
    }
    serve_wav(access, &id, &headers).await
}

/// `POST /recordings/ID/link?expires_secs=N` (default 3600, at most a week):
/// `{"url": "/links/recordings/ID?expires=…&sig=…", "expires": UNIX}`.
async fn make_link(s: &ApiState, id: &str, q: &HashMap<String, String>) -> Response {
    let Some(key) = s.admin.recordings.as_ref().and_then(|a| a.link_key()) else {
        return not_recorded();
    };
    let secs = match q.get("expires_secs").map(|v| v.parse::<u64>()) {
        None => 3600,
        Some(Ok(n)) if (1..=crate::recording::MAX_LINK_SECS).contains(&n) => n,
        Some(_) => {
            let body = serde_json::json!({
                "error": format!("expires_secs: 1 to {} seconds", crate::recording::MAX_LINK_SECS),
            });
            return json_response(StatusCode::BAD_REQUEST, &body);
        }
    };
    let Ok(call) = recorder::CallId::new(id) else {
        let body = serde_json::json!({ "error": format!("`{id}` is no call id") });
        return json_response(StatusCode::BAD_REQUEST, &body);
    };
    let expires = chrono::Utc::now() + chrono::Duration::seconds(secs as i64);
    let body = serde_json::json!({
        "url": key.link(&call, expires),
        "expires": expires.timestamp(),
    });
    json_response(StatusCode::OK, &body)
}

async fn serve_wav(
    access: &crate::recording::RecordingAccess,
    id: &str,
    headers: &HeaderMap,
) -> Response {
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let body = match access.fetch(id, range).await {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                AccessError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return json_response(status, &serde_json::json!({ "error": e.to_string() }));
        }
    };
    let (status, len) = match &body.reply {
        RangeReply::Full => (StatusCode::OK, body.len),
        RangeReply::Partial(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        RangeReply::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, 0),
    };
    let mut resp = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "audio/wav")
        .header(ACCEPT_RANGES, "bytes")
        .header(CONTENT_LENGTH, len);
    if let Some(cr) = body.reply.content_range(body.len) {
        resp = resp.header(CONTENT_RANGE, cr);
    }
    resp.body(Body::from_stream(body.stream))
        .unwrap_or_else(|e| {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({ "error": e.to_string() }),
            )
        })
}

/// `POST /recordings/ID/pause` and `/recordings/ID/resume` (`pbx recordings
/// pause|resume ID`): the live call's recording stops taking audio (silence
/// in the file, a span in its metadata) or takes it again. 200 `{"paused":
/// bool}`; 409 when the call is not being recorded or is in that state
/// already; 404 for an unknown operation, 400 for no call id.
pub(super) async fn pause(
    State(s): State<ApiState>,
    Path((id, op)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let paused = match op.as_str() {
        "pause" => true,
        "resume" => false,
        "link" => return make_link(&s, &id, &q).await,
        other => {
            let body = serde_json::json!({
                "error": format!("no recording operation `{other}`: use pause, resume or link"),
            });
            return json_response(StatusCode::NOT_FOUND, &body);
        }
    };
    let Some(call) = crate::b2bua::CallId::parse(&id) else {
        let body = serde_json::json!({ "error": format!("`{id}` is no call id (c followed by 16 hex digits)") });
        return json_response(StatusCode::BAD_REQUEST, &body);
    };
    let Some(b2bua) = &s.b2bua else {
        return super::errors::command_error(&crate::b2bua::CommandError::NotRunning);
    };
    match b2bua.engine.recording_pause(call, paused).await {
        Ok(Ok(())) => json_response(StatusCode::OK, &serde_json::json!({ "paused": paused })),
        Ok(Err(why)) => json_response(StatusCode::CONFLICT, &serde_json::json!({ "error": why })),
        Err(e) => super::errors::command_error(&e),
    }
}
