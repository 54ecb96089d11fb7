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
    if let Some(b2bua) = &s.b2bua {
        let status =
            tokio::time::timeout(std::time::Duration::from_secs(1), b2bua.engine.acd_status())
                .await;
        if let Ok(Ok(status)) = status {
            render_acd(&mut text, &status);
        }
    }
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

/// Per queue and per agent: gauges of now, counters since the start.
fn render_acd(text: &mut String, status: &serde_json::Value) {
    let queues = status["queues"].as_array().cloned().unwrap_or_default();
    if !queues.is_empty() {
        for (name, kind, help, key) in [
            (
                "queue_waiting",
                "gauge",
                "Callers waiting in the queue",
                "waiting",
            ),
            (
                "queue_agents_logged_in",
                "gauge",
                "Agents of the queue logged in",
                "logged_in",
            ),
            (
                "queue_agents_staffed",
                "gauge",
                "Agents of the queue logged in and not on a break",
                "staffed",
            ),
            (
                "queue_agents_available",
                "gauge",
                "Agents of the queue available now",
                "available",
            ),
            (
                "queue_mean_handle_seconds",
                "gauge",
                "Rolling mean handle time",
                "mean_handle_s",
            ),
            (
                "queue_entered_total",
                "counter",
                "Callers that entered the queue",
                "entered_total",
            ),
            (
                "queue_connected_total",
                "counter",
                "Callers connected to an agent",
                "connected_total",
            ),
            (
                "queue_abandoned_total",
                "counter",
                "Callers that hung up while waiting",
                "abandoned_total",
            ),
            (
                "queue_overflowed_total",
                "counter",
                "Callers sent elsewhere by the queue's limits",
                "overflowed_total",
            ),
        ] {
            let _ = writeln!(text, "# HELP pbx_{name} {help}\n# TYPE pbx_{name} {kind}");
            for q in &queues {
                let _ = writeln!(
                    text,
                    "pbx_{name}{{queue=\"{}\"}} {}",
                    q["queue"].as_str().unwrap_or(""),
                    q[key].as_u64().unwrap_or(0)
                );
            }
        }
    }
    let agents = status["agents"].as_array().cloned().unwrap_or_default();
    if !agents.is_empty() {
        let _ = writeln!(
            text,
            "# HELP pbx_agent_state The agent's state (1 for the current one)\n# TYPE pbx_agent_state gauge"
        );
        for a in &agents {
            let _ = writeln!(
                text,
                "pbx_agent_state{{agent=\"{}\",state=\"{}\"}} 1",
                a["agent"].as_str().unwrap_or(""),
                a["state"].as_str().unwrap_or("")
            );
        }
    }
}
