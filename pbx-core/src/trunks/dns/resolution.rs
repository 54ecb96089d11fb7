//! One host-named trunk's resolution state, sans-IO: when to look the name
//! up again and which addresses to use meanwhile. The driver
//! ([`super::lookup`]) asks [`Resolution::poll_timeout`], resolves, and
//! reports with [`Resolution::handle_answer`].
//!
//! - An answer is used until its TTL runs out (RFC 1035 §3.2.1), but not
//!   re-resolved sooner than `min_refresh` (a TTL of 0 or 5 s must not
//!   turn into a query storm) nor later than [`MAX_REFRESH`].
//! - A failed lookup keeps the last good addresses (a DNS outage must not
//!   take a working carrier away) and is retried with exponential backoff
//!   from [`FIRST_RETRY`] up to `min_refresh`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::DnsError;

/// First retry after a failed lookup; doubled per failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
/// Longest a resolved answer is kept without asking again.
pub const MAX_REFRESH: Duration = Duration::from_secs(3600);

/// A successful lookup: the targets in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Addresses, best first (SRV order, then the target's A/AAAA order).
    pub targets: Vec<SocketAddr>,
    /// The SRV (priority, weight) each target came with, in the same order
    /// (`(0, 0)` without SRV): calls draw their own order from them
    /// ([`Resolution::ranked`]).
    pub ranks: Vec<(u16, u16)>,
    /// The smallest TTL among the records used.
    pub ttl: Duration,
}

/// A resolved address with its SRV rank, for the per-call order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankedAddr {
    /// The address.
    pub addr: SocketAddr,
    /// SRV (priority, weight).
    pub rank: (u16, u16),
}

impl super::srv::Ranked for RankedAddr {
    fn rank(&self) -> (u16, u16) {
        self.rank
    }
}

/// What `pbx trunks` shows of a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsState {
    /// Not answered yet.
    Resolving,
    /// Addresses known, resolved at the instant.
    Resolved(Instant),
    /// The last lookup failed (the error); the last good addresses, if any,
    /// are still used.
    Failed(DnsError),
}

/// The resolution state of one trunk's host name.
#[derive(Debug, Clone)]
pub struct Resolution {
    targets: Vec<SocketAddr>,
    ranks: Vec<(u16, u16)>,
    resolved_at: Option<Instant>,
    error: Option<DnsError>,
    failures: u32,
    next: Instant,
    min_refresh: Duration,
}

impl Resolution {
    /// Nothing known yet; the first lookup is due at `now`.
    pub fn new(now: Instant, min_refresh: Duration) -> Self {
        Self {
            targets: Vec::new(),
            ranks: Vec::new(),
            resolved_at: None,
            error: None,
            failures: 0,
            next: now,
            min_refresh: min_refresh.max(Duration::from_secs(1)),
        }
    }

    /// When the next lookup is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// The outcome of the lookup started for the deadline. Returns true when
    /// the target list changed.
    pub fn handle_answer(&mut self, now: Instant, answer: Result<Answer, DnsError>) -> bool {
        match answer {
            Ok(a) if !a.targets.is_empty() => {
                let refresh = a
                    .ttl
                    .clamp(self.min_refresh, MAX_REFRESH.max(self.min_refresh));
                self.next = now + refresh;
                self.failures = 0;
                self.error = None;
                self.resolved_at = Some(now);
                let changed = a.targets != self.targets;
                self.targets = a.targets;
                self.ranks = a.ranks;
                changed
            }
            Ok(_) => self.fail(now, DnsError::NoAddresses),
            Err(e) => self.fail(now, e),
        }
    }

    fn fail(&mut self, now: Instant, e: DnsError) -> bool {
        let backoff = FIRST_RETRY
            .saturating_mul(1 << self.failures.min(16))
            .min(self.min_refresh);
        self.failures = self.failures.saturating_add(1);
        self.next = now + backoff;
        self.error = Some(e);
        false
    }

    /// The addresses to use, best first: the last good answer (empty until
    /// the name first resolved).
    pub fn targets(&self) -> &[SocketAddr] {
        &self.targets
    }

    /// The addresses with their SRV ranks (for a per-call order); `None`
    /// when the ranks cannot change the order (one address, or no SRV
    /// weights and a single priority).
    pub fn ranked(&self) -> Option<Vec<RankedAddr>> {
        if self.ranks.len() != self.targets.len() || self.targets.len() < 2 {
            return None;
        }
        let first = self.ranks[0].0;
        if self.ranks.iter().all(|r| r.0 == first && r.1 == 0) {
            return None;
        }
        Some(
            self.targets
                .iter()
                .zip(&self.ranks)
                .map(|(addr, rank)| RankedAddr {
                    addr: *addr,
                    rank: *rank,
                })
                .collect(),
        )
    }

    /// When the addresses in use were resolved.
    pub fn resolved_at(&self) -> Option<Instant> {
        self.resolved_at
    }

    /// The state for `pbx trunks`.
    pub fn state(&self) -> DnsState {
        match (&self.error, self.resolved_at) {
            (Some(e), _) => DnsState::Failed(e.clone()),
            (None, Some(at)) => DnsState::Resolved(at),
            (None, None) => DnsState::Resolving,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn answer(targets: &[&str], ttl_secs: u64) -> Result<Answer, DnsError> {
        Ok(Answer {
            targets: targets.iter().map(|t| addr(t)).collect(),
            ranks: vec![(0, 0); targets.len()],
            ttl: Duration::from_secs(ttl_secs),
        })
    }

    const MIN: Duration = Duration::from_secs(30);

    #[test]
    fn refreshes_at_the_ttl_bounded_below_and_above() {
        let t0 = Instant::now();
        let mut r = Resolution::new(t0, MIN);
        assert_eq!(r.poll_timeout(), t0, "first lookup at once");
        assert_eq!(r.state(), DnsState::Resolving);
        assert!(r.targets().is_empty());
        assert!(r.handle_answer(t0, answer(&["192.0.2.1:5060"], 300)));
        assert_eq!(r.poll_timeout(), t0 + Duration::from_secs(300));
        assert_eq!(r.state(), DnsState::Resolved(t0));
        // A tiny TTL is stretched to the floor.
        let t1 = t0 + Duration::from_secs(300);
        assert!(!r.handle_answer(t1, answer(&["192.0.2.1:5060"], 0)));
        assert_eq!(r.poll_timeout(), t1 + MIN);
        // A huge one is cut to an hour.
        assert!(!r.handle_answer(t1, answer(&["192.0.2.1:5060"], 86_400)));
        assert_eq!(r.poll_timeout(), t1 + MAX_REFRESH);
    }

    #[test]
    fn a_failure_keeps_the_last_good_answer_and_backs_off() {
        let t0 = Instant::now();
        let mut r = Resolution::new(t0, MIN);
        r.handle_answer(t0, answer(&["192.0.2.1:5060", "192.0.2.2:5060"], 60));
        let mut now = r.poll_timeout();
        let mut waits = Vec::new();
        for _ in 0..6 {
            let e = DnsError::Lookup {
                name: "sip.example".into(),
                reason: "timed out".into(),
            };
            assert!(!r.handle_answer(now, Err(e)));
            waits.push(r.poll_timeout() - now);
            now = r.poll_timeout();
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 8, 16, 30, 30], "doubling up to the floor");
        assert_eq!(r.targets().len(), 2, "still the last good addresses");
        assert!(matches!(
            r.state(),
            DnsState::Failed(DnsError::Lookup { .. })
        ));
        assert_eq!(r.resolved_at(), Some(t0));
        // Success again resets the backoff and the state.
        assert!(r.handle_answer(now, answer(&["192.0.2.3:5060"], 60)));
        assert_eq!(r.state(), DnsState::Resolved(now));
        assert_eq!(r.targets(), [addr("192.0.2.3:5060")]);
        let e = DnsError::NoRecords {
            name: "sip.example".into(),
        };
        r.handle_answer(now, Err(e));
        assert_eq!(r.poll_timeout() - now, FIRST_RETRY);
    }

    #[test]
    fn an_empty_answer_is_a_failure() {
        let t0 = Instant::now();
        let mut r = Resolution::new(t0, MIN);
        assert!(!r.handle_answer(t0, answer(&[], 60)));
        assert_eq!(r.state(), DnsState::Failed(DnsError::NoAddresses));
        assert!(r.targets().is_empty());
        assert_eq!(r.poll_timeout(), t0 + FIRST_RETRY);
    }
}
