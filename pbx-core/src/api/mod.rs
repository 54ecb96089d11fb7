//! The local HTTP API: Prometheus `/metrics` (`api/metrics.rs`), the live
//! `/calls` and `/trunks` of `pbx calls` / `pbx trunks` (`calls.rs`,
//! `trunks.rs`), the admin `POST /reload` of `pbx reload` (`reload.rs`) and
//! the conference admin API of `pbx conference` (`conferences.rs`), and the
//! CRM's `/api/v1` (`v1/`: tokens with scopes, call records, agents,
//! queues, users, events; OpenAPI at `/api/v1/openapi.json`). Unknown
//! paths and wrong methods get a 4xx with a JSON body (`errors.rs`).
//!
//! The routes work over an [`ApiState`]: the call engine only through its
//! [`EngineHandle`] (commands and queries in, answers back), the SIP core
//! only for its counters, the trunks' status, the dial plan in service and
//! the media endpoints. Nothing here names the server wiring; the server
//! builds the state and runs [`serve`].

mod agents;
mod calls;
mod conferences;
mod desktop;
mod errors;
mod metrics;
mod recordings;
pub(crate) mod reload;
pub mod reports;
mod trunks;
pub mod v1;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::ALLOW;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use sip_stack::transport::Transports;

use crate::b2bua::ivr_app::SharedFlows;
use crate::b2bua::media::EndpointService;
use crate::b2bua::EngineHandle;
use crate::routing::SharedDialplan;
use crate::sans_io::Clock;
use crate::sip::SipCore;
use crate::trunks::Trunks;

use errors::json_response;

/// What the admin routes need besides the engine and the SIP core.
#[derive(Clone)]
pub struct Admin {
    /// Every route but `GET /metrics` wants it ([`crate::admin_token`]).
    pub token: Arc<str>,
    /// The IVR flows and their directory, when `[ivr] flows_dir` is served.
    pub flows: Option<(SharedFlows, PathBuf)>,
    /// The configuration file the server started from (None: embedded
    /// defaults), whose dial plan `POST /reload` reads again.
    pub config_file: Option<PathBuf>,
    /// Call recordings (`GET /recordings/ID`), when `[recording]` is on.
    pub recordings: Option<Arc<crate::recording::RecordingAccess>>,
    /// The store and tenant settings of `/api/v1` (None: no `/api/v1`).
    pub api: Option<v1::ApiData>,
    /// The report store and settings (`/api/v1/reports/…`); None: 503.
    pub reports: Option<Arc<reports::ReportsAccess>>,
}

/// The call engine's parts the API drives (B2BUA mode).
#[derive(Clone)]
struct EngineParts {
    /// Commands and queries to the engine's driver.
    engine: EngineHandle,
    /// The dial plan in service (`POST /reload` swaps it).
    dialplan: SharedDialplan,
    /// The trunks' registration, health and DNS state.
    trunks: Arc<Trunks>,
    /// Conference rooms; None when the media runtime did not start.
    endpoints: Option<Arc<EndpointService>>,
}

/// What every route works over.
#[derive(Clone)]
pub struct ApiState {
    /// Counters and gauges of the SIP core (`/metrics` only).
    core: Arc<SipCore>,
    /// The engine's parts; None in proxy mode.
    b2bua: Option<EngineParts>,
    /// Transport counters (`/metrics`).
    transports: Transports,
    /// The server's clock (ban windows, trunk timers).
    clock: Clock,
    admin: Admin,
    /// `/api/v1`'s store connections and settings.
    v1: Option<Arc<v1::V1>>,
}

impl ApiState {
    /// The state of a server: its SIP core (and the engine installed in
    /// it), transports and clock, and the admin settings.
    pub fn new(core: Arc<SipCore>, transports: Transports, clock: Clock, admin: Admin) -> Self {
        let b2bua = core.b2bua.as_ref().map(|h| EngineParts {
            engine: h.engine.clone(),
            dialplan: h.dialplan.clone(),
            trunks: h.trunks.clone(),
            endpoints: h.endpoints.clone(),
        });
        let v1 = admin.api.as_ref().map(|d| Arc::new(v1::V1::new(d)));
        Self {
            core,
            b2bua,
            transports,
            clock,
            admin,
            v1,
        }
    }
}

/// Binds `addr` and serves the API until `shutdown` turns true (requests
/// in progress finish first). Returns the server task and the bound address.
pub async fn serve(
    addr: SocketAddr,
    state: ApiState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        let mut shutdown = shutdown;
        let stopping = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .await
        {
            tracing::error!(error = %e, "metrics server failed");
        }
    });
    Ok((task, bound))
}

/// Every route; all but `/metrics` behind the admin token.
fn router(state: ApiState) -> Router {
    let admin_routes = Router::new()
        .route("/calls", only("GET", get(calls::list)))
        .route("/calls/originate", only("POST", post(calls::originate)))
        .route("/calls/:id/hangup", only("POST", post(calls::hangup)))
        .route("/trunks", only("GET", get(trunks::list)))
        .route("/acd", only("GET", get(agents::status)))
        .route("/agents/:agent/:op", only("POST", post(agents::operate)))
        .route("/reload", only("POST", post(reload::reload)))
        .route("/recordings/:id", only("GET", get(recordings::download)))
        .route("/recordings/:id/:op", only("POST", post(recordings::pause)))
        .route("/api/v1/reports", only("GET", get(reports::list)))
        .route("/api/v1/reports/:name", only("GET", get(reports::report)))
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
    Router::new()
        .route("/metrics", only("GET", get(metrics::render)))
        .route(
            "/links/recordings/:id",
            only("GET", get(recordings::signed)),
        )
        .merge(admin_routes)
        .merge(desktop::router())
        .nest("/api/v1", v1::router(state.clone()))
        .fallback(errors::not_found)
        .with_state(state)
}

/// Lets a request through to an admin route only with the admin token
/// (`Authorization: Bearer …`); else 401 with a JSON body saying where the
/// token is.
async fn require_token(
    State(s): State<ApiState>,
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
fn only(allow: &'static str, route: MethodRouter<ApiState>) -> MethodRouter<ApiState> {
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
