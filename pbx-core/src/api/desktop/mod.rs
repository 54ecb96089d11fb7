//! The agent desktop at `/desktop/`: a browser softphone (JsSIP over SIP
//! over WebSocket, WebRTC media), the agent's ACD state and a screen-pop
//! panel, served from assets embedded in the binary (`pbx-core/desktop/`;
//! the one third-party file, JsSIP, is built from pinned npm packages by
//! `scripts/desktop-assets.sh`).
//!
//! - `GET /desktop/`, `/desktop/desktop.js`, ...: the page ([`assets`]).
//! - `GET /desktop/config.json`: the SIP domain and the WS/WSS listeners,
//!   so the page knows where to register.
//! - `POST /desktop/login` `{user, password}`: the user's SIP credentials
//!   checked against the directory (failures count towards the SIP bans)
//!   give an API token acting as that user ([`login`]); the page uses it
//!   for `/api/v1/agents` and the `/api/v1/events` stream.
//!   `POST /desktop/logout` revokes it.
//!
//! None of these want the admin token: the assets are public and the token
//! comes from the login.

mod assets;
mod login;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sip_stack::Transport;

use super::{only, ApiState};

/// The desktop's routes (merged at the top level by [`super::router`]).
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route(
            "/desktop",
            only("GET", get(|| async { Redirect::permanent("/desktop/") })),
        )
        .route("/desktop/", only("GET", get(assets::index)))
        .route("/desktop/config.json", only("GET", get(config)))
        .route("/desktop/login", only("POST", post(login::login)))
        .route("/desktop/logout", only("POST", post(login::logout)))
        .route("/desktop/vendor/:file", only("GET", get(assets::vendor)))
        .route("/desktop/:file", only("GET", get(assets::file)))
}

/// Where the page registers: the served domain and every WS/WSS listener.
async fn config(State(s): State<ApiState>) -> Response {
    let listeners = |t: Transport, scheme: &str| -> Vec<serde_json::Value> {
        s.core
            .locals
            .listeners
            .iter()
            .filter(|(lt, _)| *lt == t)
            .map(|(_, a)| serde_json::json!({ "scheme": scheme, "host": a.ip().to_string(), "port": a.port() }))
            .collect()
    };
    let body = serde_json::json!({
        "domain": s.core.locals.domain,
        "ws": listeners(Transport::Ws, "ws"),
        "wss": listeners(Transport::Wss, "wss"),
    });
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}
