//! Per-source failed-authentication counting with temporary bans — the job of
//! Kamailio's pike module plus fail2ban.
//!
//! A source that fails authentication `threshold` times within `window` is banned
//! for `ban_time`: its packets are dropped before parsing. Trusted peers are never
//! banned. Times are injected (`now` in milliseconds of a monotonic clock).

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: u64,
    failures: u32,
    banned_until: u64,
}

/// The table of recent failures and active bans.
pub struct BanList {
    threshold: u32,
    window_ms: u64,
    ban_ms: u64,
    entries: Mutex<HashMap<IpAddr, Entry, ahash::RandomState>>,
}

impl BanList {
    /// A ban list; `threshold` 0 disables banning.
    pub fn new(threshold: u32, window_ms: u64, ban_ms: u64) -> Self {
        Self {
            threshold,
            window_ms,
            ban_ms,
            entries: Mutex::new(HashMap::default()),
        }
    }

    /// Whether packets from `ip` are to be dropped now.
    pub fn is_banned(&self, ip: IpAddr, now_ms: u64) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let entries = self.entries.lock();
        entries.get(&ip).is_some_and(|e| e.banned_until > now_ms)
    }

    /// Records a failed authentication; returns true when this failure starts a ban.
    pub fn record_failure(&self, ip: IpAddr, now_ms: u64) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut entries = self.entries.lock();
        let e = entries.entry(ip).or_insert(Entry {
            window_start: now_ms,
            failures: 0,
            banned_until: 0,
        });
        if now_ms.saturating_sub(e.window_start) > self.window_ms {
            e.window_start = now_ms;
            e.failures = 0;
        }
        e.failures += 1;
        if e.failures >= self.threshold && e.banned_until <= now_ms {
            e.banned_until = now_ms + self.ban_ms;
            e.failures = 0;
            e.window_start = now_ms;
            return true;
        }
        false
    }

    /// Drops entries whose window and ban are over; returns the number of active bans.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let mut entries = self.entries.lock();
        entries.retain(|_, e| {
            e.banned_until > now_ms || now_ms.saturating_sub(e.window_start) <= self.window_ms
        });
        entries.values().filter(|e| e.banned_until > now_ms).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_after_threshold_within_window_and_expires() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let b = BanList::new(3, 1000, 5000);
        assert!(!b.record_failure(ip, 0));
        assert!(!b.record_failure(ip, 100));
        assert!(b.record_failure(ip, 200));
        assert!(b.is_banned(ip, 201));
        assert!(b.is_banned(ip, 5199));
        assert!(!b.is_banned(ip, 5200));
        assert_eq!(b.sweep(5300), 0);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        let b = BanList::new(2, 1000, 5000);
        assert!(!b.record_failure(ip, 0));
        assert!(!b.record_failure(ip, 2000));
        assert!(!b.is_banned(ip, 2001));
        assert!(b.record_failure(ip, 2500));
    }

    #[test]
    fn threshold_zero_disables() {
        let ip: IpAddr = "192.0.2.3".parse().unwrap();
        let b = BanList::new(0, 1000, 5000);
        for t in 0..10 {
            assert!(!b.record_failure(ip, t));
        }
        assert!(!b.is_banned(ip, 10));
    }
}
