//! `GET /metrics`: the SIP core's counters and gauges, the engine's queue
//! and the transports' counters in the Prometheus text format.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::ApiState;
use crate::metrics::Gauges;

/// The Prometheus exposition (text format 0.0.4).
pub(super) async fn render(State(s): State<ApiState>) -> impl IntoResponse {
    let now = s.clock.now();
    let g = Gauges {
        bindings: s.core.registrar.location().len() as u64,
        transactions: s.core.transactions() as u64,
        active_bans: s.core.bans.sweep(now.mono_ms) as u64,
        users: s.core.auth.users().len() as u64,
        engine_queue: s.b2bua.as_ref().map_or(0, |b| b.engine.queued() as u64),
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
