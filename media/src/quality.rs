//! Quality monitor (SPEC §21): per conference participant / call leg and
//! direction, one sample every 10 s kept for the last 10 minutes (60
//! samples), computed from
//! cumulative RTP counters (loss = lost/expected, RFC 3550 A.3; jitter
//! A.8; RTT from RTCP; MOS from the simplified E-model).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::stats::mos_g711;

/// Sampling interval (SPEC §21: 10 s).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept (SPEC §21: 10 min / 10 s).
pub const WINDOW_SAMPLES: usize = 60;

/// Cumulative counters the media path maintains for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StreamCounters {
    /// Packets received (or sent).
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Packets expected (A.3).
    pub expected: u64,
    /// Packets lost (A.3).
    pub lost: i64,
    /// Current jitter, ms.
    pub jitter_ms: f64,
    /// Current RTT, ms.
    pub rtt_ms: f64,
}

/// One point of the quality graph (SPEC §21 field names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualitySample {
    /// When taken.
    pub at: Instant,
    /// Packet rate over the interval.
    pub packets_per_s: f64,
    /// Bitrate over the interval.
    pub bitrate_kbps: f64,
    /// Loss over the interval, percent.
    pub loss_pct: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
    /// Round trip, ms.
    pub rtt_ms: f64,
    /// E-model MOS.
    pub mos: f64,
}

/// Rolling window of samples for one stream.
#[derive(Debug, Clone)]
pub struct QualityMonitor {
    samples: VecDeque<QualitySample>,
    last: Option<(Instant, StreamCounters)>,
}

impl Default for QualityMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl QualityMonitor {
    /// Empty monitor (preallocates the window).
    pub fn new() -> Self {
        Self {
            samples: VecDeque::with_capacity(WINDOW_SAMPLES),
            last: None,
        }
    }

    /// Feeds current counters; takes a sample when 10 s passed since the
    /// previous one. Returns the new sample, if any.
    pub fn observe(&mut self, now: Instant, c: StreamCounters) -> Option<QualitySample> {
        let Some((t, prev)) = self.last else {
            self.last = Some((now, c));
            return None;
        };
        let dt = now.duration_since(t);
        if dt < SAMPLE_INTERVAL {
            return None;
        }
        let secs = dt.as_secs_f64();
        let expected = c.expected.saturating_sub(prev.expected);
        let lost = (c.lost - prev.lost).max(0) as f64;
        let loss = if expected > 0 {
            (lost / expected as f64).min(1.0)
        } else {
            0.0
        };
        let delay = c.rtt_ms / 2.0 + 2.0 * c.jitter_ms + 20.0;
        let s = QualitySample {
            at: now,
            packets_per_s: c.packets.saturating_sub(prev.packets) as f64 / secs,
            bitrate_kbps: c.bytes.saturating_sub(prev.bytes) as f64 * 8.0 / secs / 1000.0,
            loss_pct: loss * 100.0,
            jitter_ms: c.jitter_ms,
            rtt_ms: c.rtt_ms,
            mos: mos_g711(delay, loss),
        };
        if self.samples.len() == WINDOW_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
        self.last = Some((now, c));
        Some(s)
    }

    /// Samples, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &QualitySample> {
        self.samples.iter()
    }
    /// Newest sample.
    pub fn latest(&self) -> Option<&QualitySample> {
        self.samples.back()
    }
    /// When the next sample is due (for `poll_timeout`).
    pub fn next_sample_at(&self) -> Option<Instant> {
        self.last.map(|(t, _)| t + SAMPLE_INTERVAL)
    }
    /// Summary for a call record (SPEC §21, proposed): average and worst
    /// MOS, max loss and max jitter over the kept window.
    pub fn summary(&self) -> Option<QualitySummary> {
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let mut s = QualitySummary {
            average_mos: 0.0,
            worst_mos: f64::MAX,
            max_loss_pct: 0.0,
            max_jitter_ms: 0.0,
        };
        for x in &self.samples {
            s.average_mos += x.mos / n as f64;
            s.worst_mos = s.worst_mos.min(x.mos);
            s.max_loss_pct = s.max_loss_pct.max(x.loss_pct);
            s.max_jitter_ms = s.max_jitter_ms.max(x.jitter_ms);
        }
        Some(s)
    }
}

/// Per-leg quality summary for the call record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualitySummary {
    /// Mean MOS.
    pub average_mos: f64,
    /// Lowest MOS.
    pub worst_mos: f64,
    /// Highest loss, percent.
    pub max_loss_pct: f64,
    /// Highest jitter, ms.
    pub max_jitter_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_minutes_keep_the_last_ten_at_10s() {
        let t0 = Instant::now();
        let mut m = QualityMonitor::new();
        let mut c = StreamCounters::default();
        for s in 0..=720u64 {
            c.packets += 50;
            c.expected += 50;
            c.bytes += 50 * 172;
            m.observe(t0 + Duration::from_secs(s), c);
        }
        let v: Vec<_> = m.samples().collect();
        assert_eq!(v.len(), 60);
        for w in v.windows(2) {
            let gap = w[1].at.duration_since(w[0].at).as_secs_f64();
            assert!((gap - 10.0).abs() <= 1.0);
        }
        let end = t0 + Duration::from_secs(720);
        assert_eq!(v.last().unwrap().at, end);
        assert!(end.duration_since(v[0].at) <= Duration::from_secs(600));
        assert!((v[0].packets_per_s - 50.0).abs() < 1e-9);
        assert!((v[0].bitrate_kbps - 68.8).abs() < 1e-9);
        assert_eq!(v[0].loss_pct, 0.0);
    }

    #[test]
    fn injected_loss_shows_within_two_samples() {
        let t0 = Instant::now();
        let mut m = QualityMonitor::new();
        let mut c = StreamCounters::default();
        let mut clean_mos = 0.0;
        for s in 0..=120u64 {
            c.expected += 50;
            if s > 60 {
                // 5 % loss from t = 61 s
                c.packets += 47;
                c.lost += 2;
                if s % 2 == 0 {
                    c.lost += 1;
                    c.packets -= 1;
                }
            } else {
                c.packets += 50;
            }
            if let Some(x) = m.observe(t0 + Duration::from_secs(s), c) {
                if s == 60 {
                    clean_mos = x.mos;
                }
            }
        }
        let v: Vec<_> = m.samples().collect();
        let after = v
            .iter()
            .find(|x| x.at >= t0 + Duration::from_secs(80))
            .unwrap();
        assert!((after.loss_pct - 5.0).abs() < 0.5, "{}", after.loss_pct);
        assert!(after.mos < clean_mos - 0.3, "{} vs {clean_mos}", after.mos);
        let sum = m.summary().unwrap();
        assert!(sum.worst_mos <= after.mos && sum.average_mos > sum.worst_mos);
        assert!((sum.max_loss_pct - 5.0).abs() < 1.0);
    }
}
