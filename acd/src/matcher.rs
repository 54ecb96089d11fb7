//! The index structures of the one matcher across all queues.
//!
//! Per queue:
//! - [`AvailIndex`]: available agents, one ordered set per skill level
//!   (1–10), each keyed by the queue's strategy ([`crate::strategy`]).
//! - [`WaitIndex`]: waiting callers (and callbacks), one ordered set per
//!   minimum level the caller currently accepts (0 = anyone … 10), keyed by
//!   effective entry time: entry time minus the queue's weight credit and the
//!   caller's priority credit. Smallest key = served first, across queues.
//!
//! The engine keeps one invariant after every input: no available agent is
//! eligible (level ≥ the caller's minimum) for any waiting caller. So a new
//! caller only needs the best agent of its own queue, and a newly available
//! agent only needs the best caller over its own queues — a handful of
//! ordered-set lookups, never a scan ("event-driven, no polling loop").

use std::collections::BTreeSet;

use crate::agent::MAX_LEVEL;
use crate::config::Strategy;
use crate::strategy::AvailKey;

const LEVELS: usize = MAX_LEVEL as usize;

/// Available agents of one queue.
#[derive(Debug, Default)]
pub(crate) struct AvailIndex {
    /// `by_level[l - 1]`: agents of level `l`.
    by_level: [BTreeSet<AvailKey>; LEVELS],
    len: usize,
    /// Random strategy only: the same agents in vectors, for a uniform
    /// pick in O(1) (an ordered set has no cheap "n-th element").
    pool: Option<RandomPool>,
}

#[derive(Debug, Default)]
struct RandomPool {
    lists: [Vec<AvailKey>; LEVELS],
    /// Agent → (set index, position in its list).
    at: std::collections::HashMap<u32, (usize, usize)>,
}

impl RandomPool {
    fn insert(&mut self, i: usize, key: AvailKey) {
        self.at.insert(key.agent, (i, self.lists[i].len()));
        self.lists[i].push(key);
    }

    fn remove(&mut self, key: &AvailKey) {
        if let Some((i, pos)) = self.at.remove(&key.agent) {
            self.lists[i].swap_remove(pos);
            if let Some(moved) = self.lists[i].get(pos) {
                self.at.insert(moved.agent, (i, pos));
            }
        }
    }

    /// The `n`-th agent over the sets in `range`.
    fn nth(
        &self,
        range: std::ops::RangeInclusive<usize>,
        mut n: usize,
    ) -> Option<(usize, AvailKey)> {
        for i in range {
            let l = &self.lists[i];
            if n < l.len() {
                return Some((i, l[n]));
            }
            n -= l.len();
        }
        None
    }
}

/// An agent picked from an [`AvailIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) key: AvailKey,
    pub(crate) level: u8,
}

impl AvailIndex {
    /// An empty index; `random` keeps the pool of the random strategy.
    pub(crate) fn new(random: bool) -> Self {
        Self {
            pool: random.then(RandomPool::default),
            ..Self::default()
        }
    }

    pub(crate) fn insert(&mut self, level: u8, key: AvailKey) {
        let i = usize::from(level.clamp(1, MAX_LEVEL)) - 1;
        if self.by_level[i].insert(key) {
            self.len += 1;
            if let Some(p) = &mut self.pool {
                p.insert(i, key);
            }
        }
    }

    pub(crate) fn remove(&mut self, level: u8, key: &AvailKey) {
        if self.by_level[usize::from(level.clamp(1, MAX_LEVEL)) - 1].remove(key) {
            self.len -= 1;
            if let Some(p) = &mut self.pool {
                p.remove(key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn first_in(set: &BTreeSet<AvailKey>, exclude: Option<u32>) -> Option<AvailKey> {
        set.iter().find(|k| Some(k.agent) != exclude).copied()
    }

    /// Levels a caller with `min_level` accepts, as set indexes.
    fn eligible(min_level: u8) -> std::ops::RangeInclusive<usize> {
        usize::from(min_level.max(1)) - 1..=LEVELS - 1
    }

    /// The agent the strategy picks for a caller accepting `min_level` and
    /// up; `rr_last` is the round-robin memory (member index offered last),
    /// `random` a fresh random number (random strategy).
    pub(crate) fn best(
        &self,
        strategy: Strategy,
        min_level: u8,
        rr_last: Option<u32>,
        exclude: Option<u32>,
        random: u64,
    ) -> Option<Pick> {
        if self.len == 0 || min_level > MAX_LEVEL {
            return None;
        }
        let range = Self::eligible(min_level);
        let level_of = |i: usize| u8::try_from(i + 1).unwrap_or(MAX_LEVEL);
        if let (Strategy::Random, Some(pool)) = (strategy, &self.pool) {
            let total: usize = range.clone().map(|i| pool.lists[i].len()).sum();
            if total == 0 {
                return None;
            }
            let n = (random % total as u64) as usize;
            let (i, key) = pool.nth(range.clone(), n)?;
            if Some(key.agent) != exclude {
                return Some(Pick {
                    key,
                    level: level_of(i),
                });
            }
            if total == 1 {
                return None;
            }
            let (i, key) = pool.nth(range, (n + 1) % total)?;
            return Some(Pick {
                key,
                level: level_of(i),
            });
        }
        match strategy {
            Strategy::Skills => range.rev().find_map(|i| {
                Self::first_in(&self.by_level[i], exclude).map(|key| Pick {
                    key,
                    level: level_of(i),
                })
            }),
            Strategy::RoundRobin => {
                let after = rr_last.map(|m| AvailKey {
                    primary: u64::from(m) + 1,
                    secondary: 0,
                    agent: 0,
                });
                let mut best_after: Option<Pick> = None;
                let mut best_first: Option<Pick> = None;
                for i in range {
                    let set = &self.by_level[i];
                    if let Some(from) = &after {
                        if let Some(key) = set.range(from..).find(|k| Some(k.agent) != exclude) {
                            if best_after.is_none_or(|b| *key < b.key) {
                                best_after = Some(Pick {
                                    key: *key,
                                    level: level_of(i),
                                });
                            }
                        }
                    }
                    if let Some(key) = Self::first_in(set, exclude) {
                        if best_first.is_none_or(|b| key < b.key) {
                            best_first = Some(Pick {
                                key,
                                level: level_of(i),
                            });
                        }
                    }
                }
                best_after.or(best_first)
            }
            _ => {
                let mut best: Option<Pick> = None;
                for i in range {
                    if let Some(key) = Self::first_in(&self.by_level[i], exclude) {
                        if best.is_none_or(|b| key < b.key) {
                            best = Some(Pick {
                                key,
                                level: level_of(i),
                            });
                        }
                    }
                }
                best
            }
        }
    }

    /// Every agent a caller accepting `min_level` may be offered to (ring-all).
    pub(crate) fn all_eligible(
        &self,
        min_level: u8,
        exclude: Option<u32>,
    ) -> impl Iterator<Item = AvailKey> + '_ {
        let range = Self::eligible(min_level.min(MAX_LEVEL));
        range
            .flat_map(move |i| self.by_level[i].iter().copied())
            .filter(move |k| Some(k.agent) != exclude)
    }
}

/// A waiting caller's place: effective entry time (ms, may be negative
/// after credits) then entry number (first come first served on ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub(crate) vkey: i64,
    pub(crate) entry: u64,
}

/// Waiting callers of one queue.
#[derive(Debug, Default)]
pub(crate) struct WaitIndex {
    /// `by_min_level[m]`: callers accepting level `m` and up.
    by_min_level: [BTreeSet<WaitKey>; LEVELS + 1],
    len: usize,
}

impl WaitIndex {
    pub(crate) fn insert(&mut self, min_level: u8, key: WaitKey) {
        if self.by_min_level[usize::from(min_level.min(MAX_LEVEL))].insert(key) {
            self.len += 1;
        }
    }

    pub(crate) fn remove(&mut self, min_level: u8, key: &WaitKey) {
        if self.by_min_level[usize::from(min_level.min(MAX_LEVEL))].remove(key) {
            self.len -= 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first caller an agent of `level` may take.
    pub(crate) fn best_for_level(&self, level: u8) -> Option<WaitKey> {
        if self.len == 0 {
            return None;
        }
        self.by_min_level[..=usize::from(level.min(MAX_LEVEL))]
            .iter()
            .filter_map(|s| s.first().copied())
            .min()
    }

    /// 1-based position of `key` among all waiting callers of the queue.
    pub(crate) fn position(&self, key: &WaitKey) -> u32 {
        let ahead: usize = self
            .by_min_level
            .iter()
            .map(|s| s.range(..key).count())
            .sum();
        u32::try_from(ahead).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// Every waiting caller, unordered across levels.
    pub(crate) fn iter(&self) -> impl Iterator<Item = WaitKey> + '_ {
        self.by_min_level.iter().flat_map(|s| s.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(primary: u64, agent: u32) -> AvailKey {
        AvailKey {
            primary,
            secondary: 0,
            agent,
        }
    }

    #[test]
    fn skills_take_highest_level_then_smallest_key() {
        let mut a = AvailIndex::default();
        a.insert(3, key(10, 1));
        a.insert(8, key(50, 2));
        a.insert(8, key(40, 3));
        let p = a.best(Strategy::Skills, 0, None, None, 0).expect("pick");
        assert_eq!((p.key.agent, p.level), (3, 8));
        assert_eq!(a.best(Strategy::Skills, 9, None, None, 0), None);
        let p = a
            .best(Strategy::LongestIdle, 0, None, None, 0)
            .expect("pick");
        assert_eq!(p.key.agent, 1, "longest idle ignores level once eligible");
        let p = a
            .best(Strategy::LongestIdle, 5, None, Some(3), 0)
            .expect("pick");
        assert_eq!(p.key.agent, 2, "excluded agent skipped");
    }

    #[test]
    fn round_robin_continues_after_memory_and_wraps() {
        let mut a = AvailIndex::default();
        for (m, agent) in [(0, 10), (1, 11), (2, 12)] {
            a.insert(5, key(m, agent));
        }
        let pick = |rr| {
            a.best(Strategy::RoundRobin, 0, rr, None, 0)
                .map(|p| p.key.agent)
        };
        assert_eq!(pick(None), Some(10));
        assert_eq!(pick(Some(0)), Some(11));
        assert_eq!(pick(Some(2)), Some(10), "wraps to the top");
    }

    #[test]
    fn wait_index_serves_smallest_key_the_agent_may_take() {
        let mut w = WaitIndex::default();
        w.insert(7, WaitKey { vkey: 0, entry: 1 });
        w.insert(0, WaitKey { vkey: 5, entry: 2 });
        assert_eq!(w.best_for_level(3).map(|k| k.entry), Some(2));
        assert_eq!(w.best_for_level(7).map(|k| k.entry), Some(1));
        assert_eq!(w.position(&WaitKey { vkey: 5, entry: 2 }), 2);
        assert_eq!(w.len(), 2);
    }
}
