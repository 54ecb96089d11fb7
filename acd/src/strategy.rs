//! Strategies as sort keys. Every queue keeps its available agents in
//! ordered sets (one per skill level, see [`crate::matcher`]); a strategy is
//! the key an agent is filed under when it becomes available, so choosing
//! is reading the first key — no scan over agents.
//!
//! | strategy | key (smallest first) |
//! |---|---|
//! | longest-idle, ring-all | idle since |
//! | round-robin | member index, read from after the last one offered |
//! | linear | member index |
//! | fewest-calls | calls answered today, then idle since |
//! | least-talk-time | talk ms today, then idle since |
//! | random | member index; the pick is uniform over a vector pool (seeded) |
//! | skills | idle since, in the highest non-empty level set |

use crate::config::Strategy;
use crate::ids::Mono;

/// An available agent's place in a queue's level set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AvailKey {
    pub(crate) primary: u64,
    pub(crate) secondary: u64,
    /// The agent (engine index); breaks ties deterministically.
    pub(crate) agent: u32,
}

/// What a key is computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyInputs {
    pub(crate) idle_since: Mono,
    pub(crate) member_index: u32,
    pub(crate) calls_today: u32,
    pub(crate) talk_today_ms: u64,
}

pub(crate) fn avail_key(strategy: Strategy, k: &KeyInputs, agent: u32) -> AvailKey {
    let (primary, secondary) = match strategy {
        Strategy::RingAll | Strategy::LongestIdle | Strategy::Skills => (k.idle_since.0, 0),
        Strategy::RoundRobin | Strategy::Linear | Strategy::Random => {
            (u64::from(k.member_index), 0)
        }
        Strategy::FewestCalls => (u64::from(k.calls_today), k.idle_since.0),
        Strategy::LeastTalkTime => (k.talk_today_ms, k.idle_since.0),
    };
    AvailKey {
        primary,
        secondary,
        agent,
    }
}

/// Whether the key depends on today's counters (re-filed at midnight).
pub(crate) fn uses_daily_counters(strategy: Strategy) -> bool {
    matches!(strategy, Strategy::FewestCalls | Strategy::LeastTalkTime)
}
