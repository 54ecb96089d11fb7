//! Which calls are recorded: `recording.mode` plus the policies of the
//! dial-plan entry (`recording = "…"` on a `[[dialplan]]` entry), the trunk
//! (`[recording.trunks]`), the users (`[recording.users]`) and the queue
//! (`[recording.queues]`) of a call.
//!
//! Precedence ([`resolve`]): `never` at any level wins (an opt-out is never
//! overridden); otherwise the most specific level that says something
//! decides, in the order mode < dial-plan entry < trunk < user < queue.
//! Of a call's users (caller, callee, agent) `never` beats `always`, which
//! beats `on_demand` ([`combine`]). `on_demand` records from the moment a
//! party presses `recording.start_code`.

use std::collections::HashMap;

/// A recording policy (defined beside the dial plan, whose entries carry one).
pub use crate::dialplan::RecordingPolicy as Policy;

/// The named policies of `[recording]` (the dial-plan entries carry their own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// `[recording.users]`: user name → policy.
    pub users: HashMap<String, Policy>,
    /// `[recording.trunks]`: trunk name → policy.
    pub trunks: HashMap<String, Policy>,
    /// `[recording.queues]`: queue name → policy.
    pub queues: HashMap<String, Policy>,
    /// Keys that start an on-demand recording (`recording.start_code`).
    pub start_code: Option<String>,
}

impl PolicyConfig {
    /// Whether any named policy or dial-plan entry may record a call.
    pub fn records_any(&self, dialplan: &crate::dialplan::Dialplan) -> bool {
        let records = |p: &Policy| *p != Policy::Never;
        self.users.values().any(records)
            || self.trunks.values().any(records)
            || self.queues.values().any(records)
            || dialplan
                .entries
                .iter()
                .filter_map(|e| e.recording.as_ref())
                .any(records)
    }
}

/// The policies that apply to one call, one per level (None: the level
/// says nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Levels {
    /// `recording.mode` (`always` → Always, `on_demand` → OnDemand,
    /// `queues` → Always once a queue agent answered).
    pub mode: Option<Policy>,
    /// The dial-plan entry the call matched.
    pub entry: Option<Policy>,
    /// The trunk carrying it.
    pub trunk: Option<Policy>,
    /// Its users, combined ([`combine`]).
    pub user: Option<Policy>,
    /// Its queue.
    pub queue: Option<Policy>,
}

/// The call's policy: `never` anywhere wins, else the most specific level
/// that is set; None: not recorded.
pub fn resolve(l: &Levels) -> Option<Policy> {
    let levels = [l.mode, l.entry, l.trunk, l.user, l.queue];
    if levels.contains(&Some(Policy::Never)) {
        return Some(Policy::Never);
    }
    levels.into_iter().rev().flatten().next()
}

/// The policy of several parties at one level: never > always > on_demand.
pub fn combine(policies: impl IntoIterator<Item = Policy>) -> Option<Policy> {
    let rank = |p: &Policy| match p {
        Policy::Never => 2,
        Policy::Always => 1,
        Policy::OnDemand => 0,
    };
    policies.into_iter().max_by_key(rank)
}

#[cfg(test)]
mod tests {
    use super::Policy::{Always, Never, OnDemand};
    use super::*;

    #[test]
    fn never_wins_at_any_level() {
        let l = Levels {
            mode: Some(Always),
            entry: Some(Never),
            queue: Some(Always),
            ..Levels::default()
        };
        assert_eq!(resolve(&l), Some(Never));
        let l = Levels {
            user: Some(Never),
            queue: Some(Always),
            ..Levels::default()
        };
        assert_eq!(resolve(&l), Some(Never));
    }

    #[test]
    fn the_most_specific_level_decides_otherwise() {
        let l = Levels {
            mode: Some(Always),
            user: Some(OnDemand),
            ..Levels::default()
        };
        assert_eq!(resolve(&l), Some(OnDemand));
        let l = Levels {
            mode: Some(OnDemand),
            entry: Some(OnDemand),
            trunk: Some(Always),
            ..Levels::default()
        };
        assert_eq!(resolve(&l), Some(Always));
        let l = Levels {
            user: Some(OnDemand),
            queue: Some(Always),
            ..Levels::default()
        };
        assert_eq!(resolve(&l), Some(Always));
        assert_eq!(resolve(&Levels::default()), None);
    }

    #[test]
    fn users_combine_never_over_always_over_on_demand() {
        assert_eq!(combine([OnDemand, Always]), Some(Always));
        assert_eq!(combine([Always, Never, OnDemand]), Some(Never));
        assert_eq!(combine([OnDemand]), Some(OnDemand));
        assert_eq!(combine([]), None);
    }

    #[test]
    fn words_parse_and_print() {
        for p in [Always, Never, OnDemand] {
            assert_eq!(Policy::parse(p.as_str()), Some(p));
        }
        assert_eq!(Policy::parse("on-demand"), Some(OnDemand));
        assert_eq!(Policy::parse("sometimes"), None);
    }
}
