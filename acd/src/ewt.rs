//! Estimated wait time.
//!
//! pbx: `EWT = (position − idle eligible agents) × mean handle time ÷
//! staffed agents`, where the mean handle time is a rolling mean over the
//! queue's last `ewt.window` calls, measured from answer until the agent is
//! ready again (talk + hold + wrap-up), and staffed agents are the queue's
//! members logged in and not on a break. With every agent busy, agents free
//! up at a rate of `staffed ÷ handle time`, so the caller at position `p`
//! waits for `p` releases.
//!
//! Asterisk app_queue, for comparison ([`AsteriskHoldtime`]): the queue
//! keeps `holdtime = (3 × holdtime + wait) ÷ 4` over the waits of answered
//! callers (integer seconds, starting at 0) and announces
//! `|holdtime + 30 − waited| ÷ 60` minutes — the same figure for every
//! position, lagging whenever load changes.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Rolling mean of the last handle times of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleTimes {
    window: VecDeque<u64>,
    sum: u64,
    cap: usize,
    default_ms: u64,
}

impl HandleTimes {
    /// Keeps `cap` samples (at least 1); `default_ms` until the first.
    pub fn new(cap: usize, default_ms: u64) -> Self {
        Self {
            window: VecDeque::with_capacity(cap.max(1)),
            sum: 0,
            cap: cap.max(1),
            default_ms,
        }
    }

    /// Adds one handle time (ms).
    pub fn push(&mut self, ms: u64) {
        if self.window.len() == self.cap {
            if let Some(old) = self.window.pop_front() {
                self.sum -= old;
            }
        }
        self.window.push_back(ms);
        self.sum += ms;
    }

    /// The mean (ms), or the default before any sample.
    pub fn mean_ms(&self) -> u64 {
        match self.window.len() as u64 {
            0 => self.default_ms,
            n => self.sum / n,
        }
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// No sample yet.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }
}

/// pbx's estimate (ms) for the caller at 1-based `position`; None without
/// staffed agents (the wait is unknown, not zero).
pub fn estimate_wait_ms(
    position: u32,
    staffed: u32,
    idle: u32,
    mean_handle_ms: u64,
) -> Option<u64> {
    if staffed == 0 {
        return None;
    }
    let releases = u64::from(position.saturating_sub(idle));
    Some(releases * mean_handle_ms / u64::from(staffed))
}

/// Asterisk app_queue's hold-time estimator (`recalc_holdtime`, `say_position`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsteriskHoldtime {
    /// The exponential average of answered callers' waits (s).
    pub holdtime_s: i64,
}

impl AsteriskHoldtime {
    /// A caller was answered after `wait_s` seconds in the queue.
    pub fn record(&mut self, wait_s: i64) {
        self.holdtime_s = ((self.holdtime_s << 2) - self.holdtime_s + wait_s) >> 2;
    }

    /// The estimate (s) for a caller who has waited `waited_s`, before
    /// Asterisk rounds it to minutes: `|holdtime − waited|`.
    pub fn estimate_s(&self, waited_s: i64) -> i64 {
        (self.holdtime_s - waited_s).abs()
    }

    /// The announced minutes: `|holdtime + 30 − waited| ÷ 60`.
    pub fn announced_minutes(&self, waited_s: i64) -> i64 {
        ((self.holdtime_s + 30) - waited_s).abs() / 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_mean_drops_oldest() {
        let mut h = HandleTimes::new(2, 9_000);
        assert_eq!(h.mean_ms(), 9_000);
        h.push(100);
        h.push(300);
        h.push(500);
        assert_eq!((h.len(), h.mean_ms()), (2, 400));
    }

    #[test]
    fn estimate_is_releases_times_handle_over_staff() {
        assert_eq!(estimate_wait_ms(3, 2, 0, 120_000), Some(180_000));
        assert_eq!(estimate_wait_ms(1, 4, 1, 120_000), Some(0));
        assert_eq!(estimate_wait_ms(1, 0, 0, 120_000), None);
    }

    #[test]
    fn asterisk_average_is_three_quarters_old() {
        let mut a = AsteriskHoldtime::default();
        a.record(100);
        assert_eq!(a.holdtime_s, 25);
        a.record(100);
        assert_eq!(a.holdtime_s, (75 + 100) >> 2);
        assert_eq!(a.announced_minutes(0), (43 + 30) / 60);
    }
}
