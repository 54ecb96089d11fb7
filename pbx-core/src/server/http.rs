//! The local HTTP endpoint: Prometheus `/metrics`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sip_stack::transport::Transports;

use super::Clock;
use crate::metrics::Gauges;
use crate::sip::SipCore;

#[derive(Clone)]
struct AppState {
    core: Arc<SipCore>,
    transports: Transports,
    clock: Arc<Clock>,
}

pub(super) async fn serve_metrics(
    addr: SocketAddr,
    core: Arc<SipCore>,
    transports: Transports,
    start: Instant,
) -> std::io::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = AppState {
        core,
        transports,
        clock: Arc::new(Clock { start }),
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/calls", get(calls))
        .route("/trunks", get(trunks))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
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
async fn calls(State(s): State<AppState>) -> impl IntoResponse {
    let now = s.clock.now();
    let mut text = String::new();
    if let Some(host) = &s.core.b2bua {
        for c in host.engine.lock().live_calls(now.instant) {
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                c.id, c.caller, c.callee, c.state, c.age_s, c.app, c.legs
            );
        }
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}

/// Trunks, one per line: name, registration, expires in (s), health, last
/// probe RTT (ms), live calls, max calls (tab-separated, `-` for none; read
/// by `pbx trunks`).
async fn trunks(State(s): State<AppState>) -> impl IntoResponse {
    let now = s.clock.now();
    let mut text = String::new();
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    if let Some(host) = &s.core.b2bua {
        for t in host.trunks.lines(now.instant) {
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                t.status.name,
                t.status.registration,
                opt(t.status.expires_in),
                t.status.health,
                opt(t.status.rtt_ms),
                t.calls,
                opt(t.max_calls.map(u64::from)),
            );
        }
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}
