//! `/api/v1`: the CRM's HTTP API (SPEC §10–§12, §16–§18), described by
//! the OpenAPI 3.1 document at `GET /api/v1/openapi.json` (`openapi.json`
//! beside this file; a test checks that every route below is in it and
//! that it names no route that is not, and schemathesis checks the
//! answers against it).
//!
//! Every route but the document wants a bearer token ([`auth`]); the
//! scopes it needs are in the document (`x-scope`). Errors are JSON
//! `{code, message}` ([`error`]), unknown paths and wrong methods
//! included. Lists are paginated: call records by cursor (`cursor`,
//! `limit`, `next_cursor`), users by `page`/`limit` (default 10). Without
//! the `numbers` scope every phone number is masked ([`mask`]).

pub(crate) mod auth;
mod call_control;
mod call_tickets;
mod calls;
mod contact;
mod db;
pub(crate) mod error;
pub(crate) mod mask;
mod records;
mod records_io;
mod stream;
mod subscriptions;
mod tokens;
mod users;

pub use auth::parse_scopes;
pub use mask::mask_number;
pub use records_io::{export_row, local_time, EXPORT_COLUMNS};

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;

use super::ApiState;
use error::ApiError;

/// What `/api/v1` needs from the server: the store file and the tenant's
/// time zone ("today" of the call records).
#[derive(Debug, Clone)]
pub struct ApiData {
    /// The SQLite store (`<data_dir>/pbx.sqlite`).
    pub db: PathBuf,
    /// `calls.utc_offset_minutes`, in seconds.
    pub utc_offset_secs: i32,
    /// The configured queues and their service-level thresholds (s).
    pub queues: Vec<(String, u32)>,
}

/// The API's own state inside [`ApiState`].
pub(crate) struct V1 {
    pub(crate) db: db::Db,
    pub(crate) utc_offset_secs: i32,
    pub(crate) queues: Vec<(String, u32)>,
}

impl V1 {
    pub(crate) fn new(data: &ApiData) -> Self {
        Self {
            db: db::Db::new(data.db.clone()),
            utc_offset_secs: data.utc_offset_secs,
            queues: data.queues.clone(),
        }
    }

    /// Today 00:00 to tomorrow 00:00 in the tenant's time zone, Unix ms.
    pub(crate) fn today(&self, now_ms: u64) -> (u64, u64) {
        let off = i64::from(self.utc_offset_secs) * 1000;
        let day = (now_ms as i64 + off).div_euclid(86_400_000);
        let from = day * 86_400_000 - off;
        (from.max(0) as u64, (from + 86_400_000).max(0) as u64)
    }
}

/// Wall-clock now, Unix ms (the API is a driver, not a core).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The document, as served.
const OPENAPI: &str = include_str!("openapi.json");

/// Routes as (method, OpenAPI path), collected while the router is built.
struct Routes {
    router: Router<ApiState>,
    list: Vec<(&'static str, String)>,
}

impl Routes {
    /// Adds `path` (axum syntax, `:id`) answering `methods` (`"GET, POST"`)
    /// with `route`, other methods with a JSON 405.
    fn at(
        mut self,
        path: &'static str,
        methods: &'static str,
        route: MethodRouter<ApiState>,
    ) -> Self {
        let doc_path: String = path
            .split('/')
            .map(|seg| match seg.strip_prefix(':') {
                Some(name) => format!("{{{name}}}"),
                None => seg.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        for m in methods.split(", ") {
            self.list.push((m, doc_path.clone()));
        }
        let route = route.fallback(move |method: Method, uri: Uri| async move {
            let mut resp = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "method {method} not allowed on {}; use {methods}",
                    uri.path()
                ),
            )
            .into_response();
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(methods));
            resp
        });
        self.router = self.router.route(path, route);
        self
    }
}

fn routes() -> Routes {
    use axum::routing::{delete, post, put};
    let r = Routes {
        router: Router::new(),
        list: Vec::new(),
    };
    r.at("/records", "GET", get(records::list))
        .at("/records/export", "GET", get(records_io::export))
        .at("/records/:id", "GET", get(records::detail))
        .at("/records/:id/recording", "GET", get(records_io::recording))
        .at("/records/:id/notes", "POST", post(records::add_note))
        .at("/records/:id/tags", "POST", post(records::tags))
        .at("/records/:id/qa", "PUT", put(records::qa))
        .at("/records/:id/supplement", "PUT", put(records::supplement))
        .at(
            "/saved-queries",
            "GET, POST",
            get(records::saved_list).post(records::saved_create),
        )
        .at(
            "/saved-queries/:id",
            "DELETE",
            delete(records::saved_delete),
        )
        .at("/saved-queries/:id/records", "GET", get(records::saved_run))
        .at(
            "/calls",
            "GET, POST",
            get(calls::live).post(calls::click_to_call),
        )
        .at("/calls/:id/hangup", "POST", post(calls::hangup))
        .at("/calls/:id/hold", "POST", post(call_control::hold))
        .at("/calls/:id/unhold", "POST", post(call_control::unhold))
        .at("/calls/:id/transfer", "POST", post(call_control::transfer))
        .at(
            "/calls/:id/tickets",
            "GET, POST",
            get(call_tickets::list).post(call_tickets::attach),
        )
        .at("/agents", "GET", get(contact::agents))
        .at("/agents/:id/state", "POST", post(contact::agent_state))
        .at("/queues", "GET", get(contact::queues))
        .at("/queues/:id/stats", "GET", get(contact::queue_stats))
        .at("/missed", "GET", get(contact::missed))
        .at("/missed/:id/callback", "POST", post(calls::callback))
        .at("/repeat-callers", "GET", get(contact::repeat_callers))
        .at("/users", "GET", get(users::list))
        .at("/users/export", "GET", get(users::export))
        .at("/users/batch", "POST", post(users::batch))
        .at(
            "/users/:id",
            "GET, PATCH",
            get(users::get_one).patch(users::update),
        )
        .at("/users/:id/disable", "POST", post(users::disable))
        .at("/users/:id/enable", "POST", post(users::enable))
        .at(
            "/users/:id/reset-password",
            "POST",
            post(users::reset_password),
        )
        .at(
            "/tokens",
            "GET, POST",
            get(tokens::list).post(tokens::create),
        )
        .at("/tokens/:id", "DELETE", delete(tokens::revoke))
        .at("/events", "GET", get(stream::events))
        .at(
            "/webhooks",
            "GET, POST",
            get(subscriptions::list).post(subscriptions::create),
        )
        .at(
            "/webhooks/:id",
            "GET, PATCH, DELETE",
            get(subscriptions::get_one)
                .patch(subscriptions::update)
                .delete(subscriptions::remove),
        )
        .at(
            "/webhooks/:id/rotate-secret",
            "POST",
            post(subscriptions::rotate_secret),
        )
}

/// The `/api/v1` router (nested by [`crate::api`]).
pub(crate) fn router(state: ApiState) -> Router<ApiState> {
    let Routes { router, .. } = routes();
    let protected = router.route_layer(axum::middleware::from_fn_with_state(
        state,
        auth::authenticate,
    ));
    Router::new()
        .route(
            "/openapi.json",
            get(openapi).fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "use GET on /api/v1/openapi.json",
                )
            }),
        )
        .merge(protected)
        .fallback(|uri: Uri| async move {
            ApiError::not_found(format!(
                "no such endpoint {}; see GET /api/v1/openapi.json",
                uri.path()
            ))
        })
}

async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Every (method, path) the router serves, OpenAPI-style, for the test
/// that keeps the document true.
#[cfg(test)]
pub(crate) fn route_list() -> Vec<(&'static str, String)> {
    let mut l = routes().list;
    l.push(("GET", "/openapi.json".into()));
    l
}

/// The v1 state of `s`, or 503.
pub(crate) fn state(s: &ApiState) -> Result<&Arc<V1>, ApiError> {
    s.v1.as_ref()
        .ok_or_else(|| ApiError::unavailable("the API has no store"))
}

#[cfg(test)]
mod tests;
