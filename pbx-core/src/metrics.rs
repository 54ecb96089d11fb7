//! Prometheus metrics: lock-free counters bumped on the message path and rendered
//! in the text exposition format on `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every counter the SIP core exposes.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests received, after parsing.
    pub requests: Counter,
    /// Responses received.
    pub responses_in: Counter,
    /// Responses sent by class: index 0 = 1xx … 5 = 6xx.
    pub responses_out: [Counter; 6],
    /// Datagrams or stream messages that did not parse (dropped).
    pub parse_errors: Counter,
    /// Requests answered 400 because a header was malformed.
    pub bad_requests: Counter,
    /// REGISTER requests that changed or queried bindings successfully.
    pub registrations: Counter,
    /// Failed authentications (wrong password, unknown user, replay).
    pub auth_failures: Counter,
    /// Challenges sent (401/407).
    pub auth_challenges: Counter,
    /// Bans started.
    pub bans: Counter,
    /// Packets dropped because their source is banned.
    pub banned_drops: Counter,
    /// Client transactions started by the proxy (one per branch).
    pub forwarded_requests: Counter,
    /// Responses forwarded upstream.
    pub forwarded_responses: Counter,
    /// Transmissions the transport refused (queue full, no route).
    pub send_errors: Counter,
    /// SIP messages dropped because the call engine's queue was full.
    pub engine_drops: Counter,
    /// Engine events delivered to the call-record writer and outbox.
    pub engine_events: Counter,
}

/// Values sampled at render time (gauges).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Bindings in the location table.
    pub bindings: u64,
    /// Live transactions over all shards.
    pub transactions: u64,
    /// Active bans.
    pub active_bans: u64,
    /// Users known to the authenticator.
    pub users: u64,
    /// Inputs waiting for the call engine's driver.
    pub engine_queue: u64,
}

impl Metrics {
    /// Counts a response sent, by its status code.
    #[inline]
    pub fn response_sent(&self, code: u16) {
        let class = usize::from((code / 100).clamp(1, 6)) - 1;
        self.responses_out[class].inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP pbx_{name} {help}\n# TYPE pbx_{name} counter\npbx_{name} {v}"
            );
        };
        counter(
            "sip_requests_received_total",
            "SIP requests received",
            self.requests.get(),
        );
        counter(
            "sip_responses_received_total",
            "SIP responses received",
            self.responses_in.get(),
        );
        counter(
            "sip_parse_errors_total",
            "Messages dropped because they did not parse",
            self.parse_errors.get(),
        );
        counter(
            "sip_bad_requests_total",
            "Requests answered 400 for a malformed header",
            self.bad_requests.get(),
        );
        counter(
            "registrations_total",
            "Successful REGISTER transactions",
            self.registrations.get(),
        );
        counter(
            "auth_failures_total",
            "Failed digest authentications",
            self.auth_failures.get(),
        );
        counter(
            "auth_challenges_total",
            "401/407 challenges sent",
            self.auth_challenges.get(),
        );
        counter(
            "bans_total",
            "Sources banned after repeated authentication failures",
            self.bans.get(),
        );
        counter(
            "banned_packets_dropped_total",
            "Packets dropped from banned sources",
            self.banned_drops.get(),
        );
        counter(
            "proxy_forwarded_requests_total",
            "Requests forwarded (one per branch)",
            self.forwarded_requests.get(),
        );
        counter(
            "proxy_forwarded_responses_total",
            "Responses forwarded upstream",
            self.forwarded_responses.get(),
        );
        counter(
            "transport_send_errors_total",
            "Messages the transport could not send",
            self.send_errors.get(),
        );
        counter(
            "engine_queue_drops_total",
            "SIP messages dropped because the call engine's input queue was full",
            self.engine_drops.get(),
        );
        counter(
            "engine_events_total",
            "Call events, records and quality reports the call engine emitted",
            self.engine_events.get(),
        );
        let _ = writeln!(out, "# HELP pbx_sip_responses_sent_total SIP responses sent by class\n# TYPE pbx_sip_responses_sent_total counter");
        for (i, c) in self.responses_out.iter().enumerate() {
            let _ = writeln!(
                out,
                "pbx_sip_responses_sent_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.get()
            );
        }
        let mut gauge = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP pbx_{name} {help}\n# TYPE pbx_{name} gauge\npbx_{name} {v}"
            );
        };
        gauge("registrations", "Active registration bindings", g.bindings);
        gauge("transactions", "Live SIP transactions", g.transactions);
        gauge("bans_active", "Sources currently banned", g.active_bans);
        gauge("users", "Users able to authenticate", g.users);
        gauge(
            "engine_queue",
            "Inputs waiting for the call engine's driver",
            g.engine_queue,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_classes() {
        let m = Metrics::default();
        m.requests.add(3);
        m.response_sent(200);
        m.response_sent(404);
        m.response_sent(180);
        let text = m.render(&Gauges {
            bindings: 2,
            ..Gauges::default()
        });
        assert!(text.contains("pbx_sip_requests_received_total 3\n"));
        assert!(text.contains("pbx_sip_responses_sent_total{class=\"2xx\"} 1\n"));
        assert!(text.contains("pbx_sip_responses_sent_total{class=\"4xx\"} 1\n"));
        assert!(text.contains("pbx_registrations 2\n"));
    }
}
