//! `GET /recordings/ID`: a call's recording as `audio/wav`, streamed from
//! the spool or the object store, honouring a single-range `Range` header
//! (206 / 416, RFC 9110 §14) so that players can seek. Unknown calls get a
//! JSON 404.

use axum::body::Body;
use axum::extract::{Path, State};
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
        let body = serde_json::json!({
            "error": "calls are not recorded here: set [recording] mode = \"always\" or \"queues\"",
        });
        return json_response(StatusCode::NOT_FOUND, &body);
    };
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let body = match access.fetch(&id, range).await {
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
