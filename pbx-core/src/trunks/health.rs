//! OPTIONS health of a trunk (RFC 3261 §11 used as a keep-alive): a trunk
//! goes down after `down_after` failed probes in a row and up again after
//! `up_after` answered ones. Sans-IO: the caller reports outcomes.

use std::time::Duration;

/// Up or down, as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Not probed yet (routing uses it).
    Unknown,
    /// Answering probes.
    Up,
    /// Not answering: routing skips it.
    Down,
}

impl HealthState {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The health state machine of one trunk.
#[derive(Debug, Clone)]
pub struct Health {
    state: HealthState,
    /// Consecutive answered probes.
    ok_run: u32,
    /// Consecutive failed probes.
    fail_run: u32,
    up_after: u32,
    down_after: u32,
    last_rtt: Option<Duration>,
}

impl Health {
    /// A trunk not probed yet; thresholds are at least 1.
    pub fn new(up_after: u32, down_after: u32) -> Self {
        Self {
            state: HealthState::Unknown,
            ok_run: 0,
            fail_run: 0,
            up_after: up_after.max(1),
            down_after: down_after.max(1),
            last_rtt: None,
        }
    }

    /// The state.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// Whether routing may use the trunk (up or not probed yet).
    pub fn usable(&self) -> bool {
        self.state != HealthState::Down
    }

    /// Round-trip time of the last answered probe.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// A probe was answered after `rtt`. Returns true when the state changed.
    pub fn on_success(&mut self, rtt: Duration) -> bool {
        self.last_rtt = Some(rtt);
        self.fail_run = 0;
        self.ok_run = self.ok_run.saturating_add(1);
        let up = self.state == HealthState::Unknown || self.ok_run >= self.up_after;
        self.set(if up { HealthState::Up } else { self.state })
    }

    /// A probe timed out or was refused. Returns true when the state changed.
    pub fn on_failure(&mut self) -> bool {
        self.ok_run = 0;
        self.fail_run = self.fail_run.saturating_add(1);
        let down = self.fail_run >= self.down_after;
        self.set(if down { HealthState::Down } else { self.state })
    }

    fn set(&mut self, state: HealthState) -> bool {
        let changed = state != self.state;
        self.state = state;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(3);

    #[test]
    fn goes_down_after_the_threshold_and_up_again() {
        let mut h = Health::new(2, 3);
        assert_eq!(h.state(), HealthState::Unknown);
        assert!(h.usable());
        assert!(h.on_success(MS), "the first answer says up");
        assert_eq!(h.state(), HealthState::Up);
        assert!(!h.on_failure());
        assert!(!h.on_failure());
        assert!(h.usable(), "two losses are not enough");
        assert!(h.on_failure());
        assert_eq!(h.state(), HealthState::Down);
        assert!(!h.usable());
        assert!(!h.on_success(MS), "one answer is not enough to come back");
        assert_eq!(h.state(), HealthState::Down);
        assert!(h.on_success(MS * 2));
        assert_eq!(h.state(), HealthState::Up);
        assert_eq!(h.last_rtt(), Some(MS * 2));
    }

    #[test]
    fn a_success_resets_the_failure_run() {
        let mut h = Health::new(1, 2);
        h.on_success(MS);
        h.on_failure();
        h.on_success(MS);
        h.on_failure();
        assert_eq!(h.state(), HealthState::Up);
        h.on_failure();
        assert_eq!(h.state(), HealthState::Down);
    }

    #[test]
    fn an_unprobed_trunk_that_never_answers_goes_down() {
        let mut h = Health::new(1, 1);
        assert!(h.on_failure());
        assert_eq!(h.state(), HealthState::Down);
        assert_eq!(HealthState::Down.as_str(), "down");
    }
}
