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
    /// The webhook worker's counters.
    pub webhooks: WebhookMetrics,
}

/// A latency histogram (seconds) with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [Counter; 12],
    count: Counter,
    sum_us: Counter,
}

impl Histogram {
    /// Upper bounds of the buckets, seconds (the last one is +Inf).
    pub const BOUNDS: [f64; 11] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    /// Records one observation.
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        let i = Self::BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(Self::BOUNDS.len());
        self.buckets[i].inc();
        self.count.inc();
        self.sum_us.add(d.as_micros() as u64);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.get()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP pbx_{name} {help}\n# TYPE pbx_{name} histogram");
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.get();
            match Self::BOUNDS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "pbx_{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "pbx_{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = writeln!(
            out,
            "pbx_{name}_sum {}\npbx_{name}_count {}",
            self.sum_us.get() as f64 / 1e6,
            self.count.get()
        );
    }
}

/// Counters of the webhook worker (`webhooks` module).
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    /// Deliveries answered 2xx.
    pub delivered: Counter,
    /// Attempts that failed (any non-2xx, timeout, connection failure).
    pub failed: Counter,
    /// Deliveries given up (dead letters).
    pub dead: Counter,
    /// Subscriptions disabled by a 410.
    pub disabled: Counter,
    /// Screen-pops built.
    pub pops: Counter,
    /// Customer lookups that missed the pop's budget.
    pub lookups_late: Counter,
    /// One attempt's request-to-answer time.
    pub attempt_latency: Histogram,
    /// From ringing (the event's time) to the pop's 2xx.
    pub ring_to_delivered: Histogram,
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
        let w = &self.webhooks;
        counter(
            "webhook_deliveries_total",
            "Webhook deliveries answered 2xx",
            w.delivered.get(),
        );
        counter(
            "webhook_failed_attempts_total",
            "Webhook attempts that failed (non-2xx, timeout, no connection)",
            w.failed.get(),
        );
        counter(
            "webhook_dead_letters_total",
            "Webhook deliveries given up (dead letters)",
            w.dead.get(),
        );
        counter(
            "webhook_subscriptions_disabled_total",
            "Webhook subscriptions disabled by 410 Gone",
            w.disabled.get(),
        );
        counter("webhook_pops_total", "Screen-pops built", w.pops.get());
        counter(
            "webhook_lookups_late_total",
            "Customer lookups that missed the pop's budget",
            w.lookups_late.get(),
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
        self.webhooks.attempt_latency.render(
            &mut out,
            "webhook_attempt_seconds",
            "Webhook attempt time, request to answer",
        );
        self.webhooks.ring_to_delivered.render(
            &mut out,
            "webhook_ring_to_delivered_seconds",
            "From ringing to the screen-pop's 2xx",
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

    #[test]
    fn renders_webhook_counters_and_histograms() {
        let m = Metrics::default();
        m.webhooks.delivered.add(3);
        m.webhooks.dead.inc();
        m.webhooks
            .ring_to_delivered
            .observe(std::time::Duration::from_millis(30));
        m.webhooks
            .ring_to_delivered
            .observe(std::time::Duration::from_millis(700));
        let text = m.render(&Gauges::default());
        assert!(text.contains("pbx_webhook_deliveries_total 3\n"), "{text}");
        assert!(text.contains("pbx_webhook_dead_letters_total 1\n"));
        assert!(text.contains("# TYPE pbx_webhook_ring_to_delivered_seconds histogram\n"));
        assert!(text.contains("pbx_webhook_ring_to_delivered_seconds_bucket{le=\"0.025\"} 0\n"));
        assert!(text.contains("pbx_webhook_ring_to_delivered_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("pbx_webhook_ring_to_delivered_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("pbx_webhook_ring_to_delivered_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(
            text.contains("pbx_webhook_ring_to_delivered_seconds_sum 0.73\n"),
            "{text}"
        );
        assert!(text.contains("pbx_webhook_ring_to_delivered_seconds_count 2\n"));
    }
}
