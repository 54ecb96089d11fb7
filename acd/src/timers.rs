//! The engine's named timers: one deadline per [`Timer`], all in one
//! ordered table so the next deadline is the table's first entry.

use std::collections::{BTreeSet, HashMap};

use crate::ids::{Mono, OfferId};

/// What a deadline is for. Entries and agents are the engine's internal
/// numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// An offer's ring timeout.
    Ring(OfferId),
    /// A caller / callback whose offer failed may be offered again.
    Retry(u64),
    /// A caller's max wait.
    MaxWait(u64),
    /// A caller's relaxing rule takes its next step.
    Relax(u64),
    /// Position / estimated-wait announcement.
    Announce(u64),
    /// Periodic announcement.
    Periodic(u64),
    /// An agent's wrap-up ends.
    WrapUp(u32),
    /// Local midnight: "today" counters restart.
    DayRollover,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    order: BTreeSet<(Mono, Timer)>,
    at: HashMap<Timer, Mono>,
}

impl Timers {
    /// Sets (or moves) `timer` to `at`.
    pub(crate) fn set(&mut self, timer: Timer, at: Mono) {
        if let Some(old) = self.at.insert(timer, at) {
            self.order.remove(&(old, timer));
        }
        self.order.insert((at, timer));
    }

    /// Cancels `timer` if set.
    pub(crate) fn cancel(&mut self, timer: Timer) {
        if let Some(old) = self.at.remove(&timer) {
            self.order.remove(&(old, timer));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Mono> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Mono) -> Option<(Mono, Timer)> {
        let first = *self.order.first()?;
        if first.0 > now {
            return None;
        }
        self.order.remove(&first);
        self.at.remove(&first.1);
        Some(first)
    }

    /// Number of armed timers.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_moves_replace() {
        let mut t = Timers::default();
        t.set(Timer::Retry(1), Mono(500));
        t.set(Timer::WrapUp(2), Mono(100));
        t.set(Timer::Retry(1), Mono(50));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(Mono(50)));
        assert_eq!(t.pop_due(Mono(40)), None);
        assert_eq!(t.pop_due(Mono(100)), Some((Mono(50), Timer::Retry(1))));
        t.cancel(Timer::WrapUp(2));
        assert_eq!(t.next(), None);
    }
}
