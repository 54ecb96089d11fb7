//! Symmetric RTP latching (the "comedia" behaviour of RFC 4961 peers behind
//! NAT): the relay sends to where the endpoint's packets come from. To stop
//! media hijacking, a source is only (re-)learned inside a window after the
//! leg is opened or re-anchored (first N packets / T time), only from the
//! address family that was signalled, and — in strict mode — only from the
//! signalled IP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Latching policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchConfig {
    /// Packets accepted for (re-)latching after the window opens.
    pub window_packets: u32,
    /// Time the window stays open.
    pub window: Duration,
    /// Only latch to the IP signalled in SDP (no NAT traversal).
    pub strict_ip: bool,
}

impl Default for LatchConfig {
    fn default() -> Self {
        Self {
            window_packets: 10,
            window: Duration::from_secs(3),
            strict_ip: false,
        }
    }
}

/// Decision for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchDecision {
    /// From the latched address.
    Accept,
    /// New source learned (first or re-latch within the window).
    Latched,
    /// Not allowed: hijack attempt or wrong family.
    Reject,
}

/// Latch state of one socket (RTP or RTCP) of a leg.
#[derive(Debug, Clone)]
pub struct Latch {
    cfg: LatchConfig,
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    opened_at: Instant,
    seen_in_window: u32,
    /// Packets rejected.
    pub rejected: u64,
}

impl Latch {
    /// Opens the window at `now` for a peer signalled at `signalled`.
    pub fn new(cfg: LatchConfig, now: Instant, signalled: Option<SocketAddr>) -> Self {
        Self {
            cfg,
            signalled,
            latched: None,
            opened_at: now,
            seen_in_window: 0,
            rejected: 0,
        }
    }
    /// Re-anchoring (re-INVITE with a new address): reopen the window. The
    /// old source stays latched until a new one is learned, unless the peer
    /// signals no address at all (`c=IN IP4 0.0.0.0`, RFC 3264 §8.4): then
    /// nothing is sent to it until it sends again.
    pub fn reopen(&mut self, now: Instant, signalled: Option<SocketAddr>) {
        if signalled.is_none() {
            self.latched = None;
        }
        self.signalled = signalled;
        self.opened_at = now;
        self.seen_in_window = 0;
    }
    /// Where to send to the endpoint: the latched source, else the signalled address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }
    /// Latched source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// The latched source once the window has closed at `now`: from then
    /// on [`Latch::check`] accepts only that source, so a driver may
    /// `connect()` the socket to it and let the kernel do the filtering.
    pub fn settled(&self, now: Instant) -> Option<SocketAddr> {
        match self.latched {
            Some(a) if !self.window_open(now) => Some(a),
            _ => None,
        }
    }

    fn window_open(&self, now: Instant) -> bool {
        self.seen_in_window < self.cfg.window_packets
            && now.duration_since(self.opened_at) < self.cfg.window
    }

    /// Checks a packet from `from` arriving at `now`.
    pub fn check(&mut self, now: Instant, from: SocketAddr) -> LatchDecision {
        if self.latched == Some(from) {
            if self.window_open(now) {
                self.seen_in_window += 1;
            }
            return LatchDecision::Accept;
        }
        let allowed = match self.signalled {
            Some(s) if s.is_ipv4() != from.is_ipv4() => false,
            Some(s) if self.cfg.strict_ip => s.ip() == from.ip(),
            _ => true,
        };
        // Outside the window only the exact signalled address may still latch
        // (a late-starting endpoint), never an arbitrary source.
        let ok = allowed
            && (self.window_open(now) || (self.latched.is_none() && self.signalled == Some(from)));
        if ok {
            self.latched = Some(from);
            self.seen_in_window += 1;
            LatchDecision::Latched
        } else {
            self.rejected += 1;
            LatchDecision::Reject
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latches_nat_source_then_rejects_hijack() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchConfig::default(), t0, Some(a("10.0.0.5:4000")));
        assert_eq!(l.destination(), Some(a("10.0.0.5:4000")));
        assert_eq!(l.check(t0, a("203.0.113.9:61000")), LatchDecision::Latched);
        assert_eq!(l.destination(), Some(a("203.0.113.9:61000")));
        for _ in 0..20 {
            assert_eq!(l.check(t0, a("203.0.113.9:61000")), LatchDecision::Accept);
        }
        // window used up by packets: attacker rejected
        assert_eq!(l.check(t0, a("198.51.100.66:5000")), LatchDecision::Reject);
        assert_eq!(l.rejected, 1);
        assert_eq!(l.destination(), Some(a("203.0.113.9:61000")));
    }

    #[test]
    fn settles_when_the_window_closes_and_unsettles_on_reopen() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchConfig::default(), t0, Some(a("10.0.0.5:4000")));
        assert_eq!(l.settled(t0), None, "nothing latched yet");
        assert_eq!(l.check(t0, a("10.0.0.5:4000")), LatchDecision::Latched);
        assert_eq!(l.settled(t0), None, "window still open");
        // window closed by time
        assert_eq!(
            l.settled(t0 + Duration::from_secs(3)),
            Some(a("10.0.0.5:4000"))
        );
        // window closed by packets
        for _ in 0..9 {
            l.check(t0, a("10.0.0.5:4000"));
        }
        assert_eq!(l.settled(t0), Some(a("10.0.0.5:4000")));
        l.reopen(t0, Some(a("10.0.0.6:4000")));
        assert_eq!(l.settled(t0), None, "re-anchoring reopens the window");
        l.reopen(t0, None);
        assert_eq!(
            l.settled(t0 + Duration::from_secs(9)),
            None,
            "hold unlatches"
        );
    }

    #[test]
    fn no_address_unlatches_until_the_peer_sends_again() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchConfig::default(), t0, Some(a("10.0.0.5:4000")));
        assert_eq!(l.check(t0, a("10.0.0.5:4000")), LatchDecision::Latched);
        // a new address keeps the old source until the new one is learned
        l.reopen(t0, Some(a("10.0.0.6:4000")));
        assert_eq!(l.destination(), Some(a("10.0.0.5:4000")));
        // c=0.0.0.0: nothing is sent any more
        l.reopen(t0, None);
        assert_eq!(l.destination(), None);
        assert_eq!(l.check(t0, a("10.0.0.5:4000")), LatchDecision::Latched);
        assert_eq!(l.destination(), Some(a("10.0.0.5:4000")));
    }

    #[test]
    fn window_expires_by_time_and_reopens_on_reanchor() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchConfig::default(), t0, Some(a("10.0.0.5:4000")));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            l.check(later, a("198.51.100.66:5000")),
            LatchDecision::Reject
        );
        // the signalled address itself may still latch late
        assert_eq!(l.check(later, a("10.0.0.5:4000")), LatchDecision::Latched);
        l.reopen(later, Some(a("10.0.0.7:4100")));
        assert_eq!(l.check(later, a("10.0.0.7:4100")), LatchDecision::Latched);
    }

    #[test]
    fn family_and_strict_ip() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchConfig::default(), t0, Some(a("10.0.0.5:4000")));
        assert_eq!(l.check(t0, a("[2001:db8::1]:4000")), LatchDecision::Reject);
        let strict = LatchConfig {
            strict_ip: true,
            ..LatchConfig::default()
        };
        let mut s = Latch::new(strict, t0, Some(a("10.0.0.5:4000")));
        assert_eq!(s.check(t0, a("10.0.0.6:4000")), LatchDecision::Reject);
        assert_eq!(s.check(t0, a("10.0.0.5:4002")), LatchDecision::Latched);
        // unsignalled (e.g. answer not yet seen): anything in window
        let mut u = Latch::new(LatchConfig::default(), t0, None);
        assert_eq!(u.check(t0, a("[2001:db8::1]:4000")), LatchDecision::Latched);
    }
}
