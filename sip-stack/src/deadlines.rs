//! A map whose values have deadlines, with the earliest deadline and the due
//! entries found in O(log n) instead of a scan over every value.
//!
//! Sans-IO cores (the user agent's sessions, the call engine's calls) ask
//! "when is my next timer?" after every input; with thousands of live calls
//! a scan per question dominated the profile. Here every mutable access marks
//! the key as touched; touched keys are re-read (their [`Deadline`]) lazily,
//! and an ordered set `(deadline, key)` answers the questions. A value whose
//! deadline changes without a mutable access through the map cannot exist:
//! [`DeadlineMap::get`] hands out shared references only.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A value with an optional next deadline.
pub trait Deadline {
    /// When the value wants its timer to fire (`None`: no timer).
    fn deadline(&self) -> Option<Instant>;
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    /// The deadline in `timers` for this key.
    scheduled: Option<Instant>,
}

/// See the module docs. Method names follow `BTreeMap`'s.
#[derive(Debug)]
pub struct DeadlineMap<K: Ord + Copy, V> {
    map: BTreeMap<K, Slot<V>>,
    timers: BTreeSet<(Instant, K)>,
    touched: Vec<K>,
}

impl<K: Ord + Copy, V: Deadline> Default for DeadlineMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Copy, V: Deadline> DeadlineMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self {
            map: BTreeMap::new(),
            timers: BTreeSet::new(),
            touched: Vec::new(),
        }
    }

    /// Inserts (or replaces) a value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.touched.push(key);
        match self.map.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(&mut slot.value, value)),
            None => {
                self.map.insert(
                    key,
                    Slot {
                        value,
                        scheduled: None,
                    },
                );
                None
            }
        }
    }

    /// Removes a value and its timer.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.map.remove(key)?;
        if let Some(t) = slot.scheduled {
            self.timers.remove(&(t, *key));
        }
        Some(slot.value)
    }

    /// A shared reference.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|s| &s.value)
    }

    /// A mutable reference; the key's deadline is re-read later.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let slot = self.map.get_mut(key)?;
        self.touched.push(*key);
        Some(&mut slot.value)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.map.keys()
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.map.values().map(|s| &s.value)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.map.iter().map(|(k, s)| (k, &s.value))
    }

    /// The first entry matching `pred`, mutably (a scan: for rare lookups).
    pub fn find_mut(&mut self, mut pred: impl FnMut(&V) -> bool) -> Option<(K, &mut V)> {
        let (k, slot) = self.map.iter_mut().find(|(_, s)| pred(&s.value))?;
        self.touched.push(*k);
        Some((*k, &mut slot.value))
    }

    /// Re-reads the deadlines of the touched keys.
    pub fn refresh(&mut self) {
        for key in self.touched.drain(..) {
            let Some(slot) = self.map.get_mut(&key) else {
                continue;
            };
            let now = slot.value.deadline();
            if now == slot.scheduled {
                continue;
            }
            if let Some(old) = slot.scheduled {
                self.timers.remove(&(old, key));
            }
            if let Some(new) = now {
                self.timers.insert((new, key));
            }
            slot.scheduled = now;
        }
    }

    /// The earliest deadline (exact even before [`Self::refresh`]).
    pub fn next_deadline(&self) -> Option<Instant> {
        let pending = self
            .touched
            .iter()
            .filter_map(|k| self.map.get(k))
            .filter_map(|s| s.value.deadline());
        // Entries of touched keys may be stale: their current deadlines
        // are in `pending`.
        let settled = self
            .timers
            .iter()
            .find(|(_, k)| !self.touched.contains(k))
            .map(|(t, _)| *t);
        settled.into_iter().chain(pending).min()
    }

    /// The keys whose deadline is at or before `now`, earliest first. They
    /// count as touched: their deadlines are re-read at the next refresh.
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        self.refresh();
        let due: Vec<K> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, k)| *k)
            .collect();
        self.touched.extend(due.iter().copied());
        due
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    struct T(Option<Instant>);

    impl Deadline for T {
        fn deadline(&self) -> Option<Instant> {
            self.0
        }
    }

    #[test]
    fn tracks_changes_through_get_mut() {
        let t0 = Instant::now();
        let at = |s| Some(t0 + Duration::from_secs(s));
        let mut m: DeadlineMap<u32, T> = DeadlineMap::new();
        m.insert(1, T(at(10)));
        m.insert(2, T(at(5)));
        m.insert(3, T(None));
        assert_eq!(m.next_deadline(), at(5));
        m.refresh();
        assert_eq!(m.next_deadline(), at(5));
        m.get_mut(&2).unwrap().0 = at(20);
        assert_eq!(m.next_deadline(), at(10));
        m.get_mut(&3).unwrap().0 = at(1);
        assert_eq!(m.due(t0 + Duration::from_secs(10)), vec![3, 1]);
        m.remove(&1);
        m.get_mut(&3).unwrap().0 = None;
        assert_eq!(m.next_deadline(), at(20));
        assert!(m.due(t0 + Duration::from_secs(19)).is_empty());
        m.remove(&2);
        m.refresh();
        assert_eq!(m.next_deadline(), None);
        assert!(m.timers.is_empty());
    }
}
