//! Report formulas (SPEC §13.2, §13.3, §6) as pure functions over queue
//! events. A queue's call counts in a period by the time it entered the
//! queue; a call entering twice counts twice. Division by zero gives
//! `None`, printed "—" (never 0). Percentages are exact ratios, shown with
//! 2 decimals rounded half-up.

use std::collections::HashMap;
use std::fmt;

use crate::events::{EventKind, QueueEvent};
use crate::ids::{AgentId, CallId, QueueId};
use crate::state::{AgentState, CallKind};

/// The answer-rate thresholds of the seed, in seconds.
pub const THRESHOLDS_S: [u64; 3] = [15, 20, 30];

/// An exact ratio `num / den` (den > 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Numerator.
    pub num: u64,
    /// Denominator (never 0).
    pub den: u64,
}

impl Ratio {
    /// `num / den`, or None when `den` is 0.
    pub fn new(num: u64, den: u64) -> Option<Self> {
        (den > 0).then_some(Self { num, den })
    }

    /// The percentage in hundredths, rounded half-up (70.00 % → 7000).
    pub fn percent_hundredths(&self) -> u64 {
        let scaled = u128::from(self.num) * 10_000;
        let den = u128::from(self.den);
        u64::try_from((2 * scaled + den) / (2 * den)).unwrap_or(u64::MAX)
    }

    /// As a float (for charts; reports print [`Ratio`] itself).
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.percent_hundredths();
        write!(f, "{}.{:02} %", h / 100, h % 100)
    }
}

/// Prints an optional ratio: "70.00 %" or "—".
pub fn show_ratio(r: Option<Ratio>) -> String {
    r.map_or_else(|| "—".to_owned(), |r| r.to_string())
}

/// Prints optional seconds with 2 decimals, or "—".
pub fn show_seconds(s: Option<f64>) -> String {
    s.map_or_else(|| "—".to_owned(), |s| format!("{s:.2} s"))
}

/// One queue's figures over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Calls that entered the queue.
    pub offered: u64,
    /// Calls connected to an agent (callbacks included, waited until the
    /// customer answered).
    pub answered: u64,
    /// Callers who hung up while queued.
    pub abandoned: u64,
    /// Callers who left without an agent (timeout, full, empty).
    pub overflowed: u64,
    /// Answered with wait ≤ 15 / 20 / 30 s.
    pub answered_within: [u64; 3],
    /// Service-level threshold T (s).
    pub threshold_s: u64,
    /// Answered with wait ≤ T.
    pub answered_within_threshold: u64,
    /// Σ wait of answered calls (ms).
    pub answered_wait_ms: u64,
    /// Σ wait of abandoned calls (ms).
    pub abandoned_wait_ms: u64,
    /// Σ talk of answered calls whose end is in the events (ms).
    pub talk_ms: u64,
}

impl QueueStats {
    /// `answered / offered`.
    pub fn answer_rate(&self) -> Option<Ratio> {
        Ratio::new(self.answered, self.offered)
    }

    /// `|{answered : wait ≤ N s}| / offered` for N in [`THRESHOLDS_S`].
    pub fn answer_rate_within(&self, n_s: u64) -> Option<Ratio> {
        let i = THRESHOLDS_S.iter().position(|&t| t == n_s)?;
        Ratio::new(self.answered_within[i], self.offered)
    }

    /// `abandoned / offered`.
    pub fn abandon_rate(&self) -> Option<Ratio> {
        Ratio::new(self.abandoned, self.offered)
    }

    /// `|{answered : wait ≤ T}| / offered`.
    pub fn service_level(&self) -> Option<Ratio> {
        Ratio::new(self.answered_within_threshold, self.offered)
    }

    /// `Σ wait(answered) / answered` in seconds.
    pub fn avg_answered_wait_s(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_wait_ms as f64 / 1000.0 / self.answered as f64)
    }

    /// `Σ wait(abandoned) / abandoned` in seconds.
    pub fn avg_abandoned_wait_s(&self) -> Option<f64> {
        (self.abandoned > 0).then(|| self.abandoned_wait_ms as f64 / 1000.0 / self.abandoned as f64)
    }

    /// `Σ talk / answered` in seconds.
    pub fn avg_talk_s(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.talk_ms as f64 / 1000.0 / self.answered as f64)
    }
}

/// A queue's stats for calls that entered it in `[from_unix_ms, to_unix_ms)`,
/// with service-level threshold `threshold_s`.
pub fn queue_stats(
    events: &[QueueEvent],
    queue: &QueueId,
    from_unix_ms: u64,
    to_unix_ms: u64,
    threshold_s: u64,
) -> QueueStats {
    let mut s = QueueStats {
        threshold_s,
        ..QueueStats::default()
    };
    // The current visit of each call to this queue: whether it counts.
    let mut visit: HashMap<CallId, bool> = HashMap::new();
    // Callback calls → the original call.
    let mut via_callback: HashMap<CallId, CallId> = HashMap::new();
    for e in events {
        if e.queue.as_ref() != Some(queue) {
            continue;
        }
        let Some(call) = e.call else { continue };
        match &e.kind {
            EventKind::Enter { .. } => {
                let counts = (from_unix_ms..to_unix_ms).contains(&e.at_unix_ms);
                visit.insert(call, counts);
                if counts {
                    s.offered += 1;
                }
            }
            EventKind::Connect { wait_ms, .. } | EventKind::CallbackConnected { wait_ms, .. } => {
                if let EventKind::CallbackConnected { callback_call, .. } = &e.kind {
                    via_callback.insert(*callback_call, call);
                }
                if visit.get(&call) == Some(&true) {
                    s.answered += 1;
                    s.answered_wait_ms += wait_ms;
                    for (i, t) in THRESHOLDS_S.iter().enumerate() {
                        if *wait_ms <= t * 1000 {
                            s.answered_within[i] += 1;
                        }
                    }
                    if *wait_ms <= threshold_s * 1000 {
                        s.answered_within_threshold += 1;
                    }
                }
            }
            EventKind::Abandon { wait_ms, .. } if visit.get(&call) == Some(&true) => {
                s.abandoned += 1;
                s.abandoned_wait_ms += wait_ms;
            }
            EventKind::Overflow { .. } if visit.get(&call) == Some(&true) => {
                s.overflowed += 1;
            }
            EventKind::Complete { talk_ms, .. } | EventKind::Transfer { talk_ms, .. } => {
                let original = via_callback.get(&call).copied().unwrap_or(call);
                if visit.get(&original) == Some(&true) {
                    s.talk_ms += talk_ms;
                }
            }
            _ => {}
        }
    }
    s
}

/// One agent's pickup figures (SPEC §13.3 `pickup_rate_N`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPickup {
    /// Offers presented (the agent was rung).
    pub presented: u64,
    /// Answered within 15 / 20 / 30 s of ringing.
    pub within: [u64; 3],
    /// Answered at all.
    pub answered: u64,
}

impl AgentPickup {
    /// `|{answered within N s of ringing}| / presented`.
    pub fn pickup_rate(&self, n_s: u64) -> Option<Ratio> {
        let i = THRESHOLDS_S.iter().position(|&t| t == n_s)?;
        Ratio::new(self.within[i], self.presented)
    }
}

/// Pickup figures of `agent` from its state records in `[from, to)`: each
/// move to reserved is a presentation, each reserved → on-call an answer
/// after the time spent reserved.
pub fn agent_pickup(
    events: &[QueueEvent],
    agent: &AgentId,
    from_unix_ms: u64,
    to_unix_ms: u64,
) -> AgentPickup {
    let mut p = AgentPickup::default();
    for e in events {
        let EventKind::AgentState(r) = &e.kind else {
            continue;
        };
        if &r.agent != agent || !(from_unix_ms..to_unix_ms).contains(&r.at_unix_ms) {
            continue;
        }
        match (&r.from, &r.to) {
            (_, AgentState::Reserved) => p.presented += 1,
            (AgentState::Reserved, AgentState::OnCall(CallKind::Queue)) => {
                p.answered += 1;
                for (i, t) in THRESHOLDS_S.iter().enumerate() {
                    if r.from_duration_ms <= t * 1000 {
                        p.within[i] += 1;
                    }
                }
            }
            _ => {}
        }
    }
    p
}

/// Average handle time (SPEC §13.2): `total_handle / (inbound + outbound answered)`.
pub fn average_handle_time_s(
    total_handle_s: u64,
    inbound_answered: u64,
    outbound_answered: u64,
) -> Option<f64> {
    let n = inbound_answered + outbound_answered;
    (n > 0).then(|| total_handle_s as f64 / n as f64)
}

#[cfg(test)]
mod tests;
