//! The local HTTP endpoint: Prometheus `/metrics`, the live `/calls` and
//! `/trunks` of `pbx calls` / `pbx trunks`, the admin `POST /reload` of
//! `pbx reload` (JSON) and the conference admin API of `pbx conference`
//! ([`super::conferences`]). Unknown paths and wrong methods get a 4xx with
//! a JSON body.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use crate::b2bua::{Command, CommandError};
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use sip_stack::transport::Transports;

use super::{conferences, Clock};
use crate::b2bua::ivr_app::SharedFlows;
use crate::metrics::Gauges;
use crate::sip::SipCore;

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) core: Arc<SipCore>,
    transports: Transports,
    clock: Arc<Clock>,
    admin: Admin,
}

/// What the admin routes need besides the SIP core.
#[derive(Clone)]
pub(super) struct Admin {
    /// Every route but `GET /metrics` wants it ([`crate::admin_token`]).
    pub(super) token: Arc<str>,
    /// The IVR flows and their directory, when `[ivr] flows_dir` is served.
    pub(super) flows: Option<(SharedFlows, PathBuf)>,
    /// The configuration file the server started from (None: embedded
    /// defaults), whose dial plan `POST /reload` reads again.
    pub(super) config_file: Option<PathBuf>,
}

pub(super) async fn serve_metrics(
    addr: SocketAddr,
    core: Arc<SipCore>,
    transports: Transports,
    start: Instant,
    admin: Admin,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = AppState {
        core,
        transports,
        clock: Arc::new(Clock { start }),
        admin,
    };
    let admin_routes = Router::new()
        .route("/calls", only("GET", get(calls)))
        .route("/calls/:id/hangup", only("POST", post(hangup)))
        .route("/trunks", only("GET", get(trunks)))
        .route("/reload", only("POST", post(reload)))
        .route("/conferences", only("GET", get(conferences::list)))
        .route("/conferences/:room", only("GET", get(conferences::roster)))
        .route(
            "/conferences/:room/:id/quality",
            only("GET", get(conferences::quality)),
        )
        .route(
            "/conferences/:room/:op",
            only("POST", post(conferences::room_op)),
        )
        .route(
            "/conferences/:room/:id/:op",
            only("POST", post(conferences::participant_op)),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    let app = Router::new()
        .route("/metrics", only("GET", get(metrics)))
        .merge(admin_routes)
        .fallback(not_found)
        .with_state(state);
    let task = tokio::spawn(async move {
        let mut shutdown = shutdown;
        // Requests in progress finish; then the listener closes.
        let stopping = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .await
        {
            tracing::error!(error = %e, "metrics server failed");
        }
    });
    Ok((task, bound))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let now = s.clock.now();
    let g = Gauges {
        bindings: s.core.registrar.location().len() as u64,
        transactions: s.core.transactions() as u64,
        active_bans: s.core.bans.sweep(now.mono_ms) as u64,
        users: s.core.auth.users().len() as u64,
        engine_queue: s.core.b2bua.as_ref().map_or(0, |h| h.engine.queued() as u64),
    };
    let mut text = s.core.metrics.render(&g);
    let t = s.transports.stats().snapshot();
    for (name, help, v) in [
        (
            "transport_received_total",
            "Messages received by the transports",
            t.received,
        ),
        (
            "transport_sent_total",
            "Messages sent by the transports",
            t.sent,
        ),
        (
            "transport_dropped_total",
            "Datagrams or stream bytes dropped as unframeable or oversized",
            t.dropped,
        ),
        (
            "transport_connections_accepted_total",
            "TCP/TLS connections accepted",
            t.connections_accepted,
        ),
        (
            "transport_connections_connected_total",
            "Outbound TCP/TLS connections made",
            t.connections_connected,
        ),
        (
            "transport_connections_closed_total",
            "TCP/TLS connections closed",
            t.connections_closed,
        ),
        (
            "transport_connections_refused_total",
            "TCP/TLS connections refused at the limit",
            t.connections_refused,
        ),
    ] {
        let _ = writeln!(
            text,
            "# HELP pbx_{name} {help}\n# TYPE pbx_{name} counter\npbx_{name} {v}"
        );
    }
    let _ = writeln!(
        text,
        "# HELP pbx_transport_connections_open Open TCP/TLS connections\n# TYPE pbx_transport_connections_open gauge\npbx_transport_connections_open {}",
        t.connections_open
    );
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Live B2BUA calls, one per line: id, caller, callee, state, age (s),
/// application, legs (tab-separated; read by `pbx calls`).
async fn calls(State(s): State<AppState>) -> Response {
    let mut text = String::new();
    if let Some(host) = &s.core.b2bua {
        let calls = match host.engine.live_calls().await {
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

/// `POST /calls/ID/hangup` (`pbx calls hangup ID`): pbx ends the call (its
/// record says `admin.hangup`). 200 `{"ended": 1}`, 404 for no such live
/// call, 400 for an id that is no call id, 503 without the B2BUA.
async fn hangup(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(host) = &s.core.b2bua else {
        return command_error(&CommandError::NotRunning);
    };
    let Some(call) = crate::b2bua::CallId::parse(&id) else {
        let body = serde_json::json!({ "error": format!("`{id}` is no call id (c followed by 16 hex digits)") });
        return json_response(StatusCode::BAD_REQUEST, &body);
    };
    match host.engine.command(Command::Hangup(call)).await {
        Ok(n) => json_response(StatusCode::OK, &serde_json::json!({ "ended": n })),
        Err(e) => command_error(&e),
    }
}

/// A refused engine command as a JSON error.
fn command_error(e: &CommandError) -> Response {
    let status = match e {
        CommandError::NoSuchCall(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    json_response(status, &serde_json::json!({ "error": e.to_string() }))
}

/// Trunks, one per line: name, registration, expires in (s), health, last
/// probe RTT (ms), live calls, max calls, the addresses calls go to
/// (comma-separated, best first), seconds since the host name was resolved,
/// DNS state (`static`, `resolving`, `resolved`, `dns failed: <reason>`)
/// (tab-separated, `-` for none; read by `pbx trunks`).
async fn trunks(State(s): State<AppState>) -> impl IntoResponse {
    let now = s.clock.now();
    let mut text = String::new();
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    if let Some(host) = &s.core.b2bua {
        for t in host.trunks.lines(now.instant) {
            let targets = if t.targets.is_empty() {
                "-".to_owned()
            } else {
                let v: Vec<String> = t.targets.iter().map(ToString::to_string).collect();
                v.join(",")
            };
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                t.status.name,
                t.status.registration,
                opt(t.status.expires_in),
                t.status.health,
                opt(t.status.rtt_ms),
                t.calls,
                opt(t.max_calls.map(u64::from)),
                targets,
                opt(t.resolved_ago),
                t.dns,
            );
        }
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}

/// Lets a request through to an admin route only with the admin token
/// (`Authorization: Bearer …`); else 401 with a JSON body saying where the
/// token is.
async fn require_token(
    State(s): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if crate::admin_token::authorizes(&s.admin.token, header) {
        return next.run(request).await;
    }
    let body = serde_json::json!({
        "error": format!(
            "missing or wrong admin token: send `Authorization: Bearer TOKEN`, TOKEN being the \
             server's `<data_dir>/{}` (the `pbx` commands read it there)",
            crate::admin_token::FILE
        ),
    });
    let mut resp = json_response(StatusCode::UNAUTHORIZED, &body);
    resp.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    resp
}

/// `route` answering other methods with 405, an `Allow` header and a JSON body.
fn only(allow: &'static str, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(move |method: Method, uri: Uri| async move {
        let body = serde_json::json!({
            "error": format!("method {method} not allowed on {}; use {allow}", uri.path()),
        });
        let mut resp = json_response(StatusCode::METHOD_NOT_ALLOWED, &body);
        resp.headers_mut()
            .insert(ALLOW, axum::http::HeaderValue::from_static(allow));
        resp
    })
}

async fn not_found(uri: Uri) -> Response {
    let body = serde_json::json!({
        "error": format!("no such endpoint {}", uri.path()),
        "endpoints": [
            "GET /metrics", "GET /calls", "POST /calls/ID/hangup", "GET /trunks", "POST /reload",
            "GET /conferences", "GET /conferences/ROOM", "GET /conferences/ROOM/ID/quality",
            "POST /conferences/ROOM/OP", "POST /conferences/ROOM/ID/OP",
        ],
    });
    json_response(StatusCode::NOT_FOUND, &body)
}

pub(super) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

/// `POST /reload` (read by `pbx reload`): reloads what can change without a
/// restart — the IVR flows of `[ivr] flows_dir` (an invalid file keeps its
/// previous version in service; calls in progress keep theirs) and the
/// dial plan of the configuration file (an invalid file keeps the dial
/// plan in service; calls in progress keep their routes). Users need no
/// reload: the server picks up `pbx users` changes from the store. Answers
/// 200 with `{"ok": bool, "ivr": {dir, files: [{file, flow, status,
/// diagnostics: [{severity, file, line, column, message}]}], flows},
/// "dialplan": {file, status, entries | error}}` (`ivr` is null when no
/// flows are served, `dialplan` when the server runs on the embedded
/// defaults or without the B2BUA).
async fn reload(State(s): State<AppState>) -> Response {
    let joined = tokio::task::spawn_blocking(move || {
        let ivr = s
            .admin
            .flows
            .as_ref()
            .map(|(flows, dir)| super::ivr::reload_json(flows, dir));
        let dialplan = s
            .admin
            .config_file
            .as_deref()
            .filter(|_| s.core.b2bua.is_some())
            .map(|file| reload_dialplan(&s.core, file));
        let ok = ivr.as_ref().is_none_or(|r| r.0) && dialplan.as_ref().is_none_or(|r| r.0);
        let mut body = serde_json::json!({
            "ok": ok,
            "ivr": ivr.map(|r| r.1),
            "dialplan": dialplan.map(|r| r.1),
        });
        if body["ivr"].is_null() {
            body["note"] =
                "no IVR flows served ([ivr] flows_dir unset, or calls.engine is not \"b2bua\")"
                    .into();
        }
        body
    })
    .await;
    match joined {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({ "ok": false, "error": format!("reload failed: {e}") }),
        ),
    }
}

/// Reads the dial plan of `file` again and puts it in service if the
/// whole file is valid (IVR flow names are checked at call time, as the
/// flows reload on their own).
fn reload_dialplan(core: &SipCore, file: &std::path::Path) -> (bool, serde_json::Value) {
    let shown = file.display().to_string();
    match crate::config::Config::from_file_for_admin(file) {
        Ok(config) => {
            let entries = config.dialplan.entries.len();
            if let Some(b2bua) = &core.b2bua {
                *b2bua.dialplan.write() = Arc::new(config.dialplan);
            }
            tracing::info!(file = %shown, entries, "dial plan reloaded");
            let body = serde_json::json!({ "file": shown, "status": "ok", "entries": entries });
            (true, body)
        }
        Err(e) => {
            tracing::warn!(file = %shown, error = %e, "dial plan not reloaded");
            let body =
                serde_json::json!({ "file": shown, "status": "error", "error": e.to_string() });
            (false, body)
        }
    }
}
