//! Concurrent calls per trunk (`max_calls`): a call holds a [`CallSlot`]
//! while it uses a trunk; dropping the slot frees it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Live call counters, one per trunk.
#[derive(Debug)]
pub struct Slots {
    used: Vec<AtomicU32>,
}

impl Slots {
    /// Counters for `n` trunks, all zero.
    pub fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            used: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    /// Calls on trunk `i` now.
    pub fn used(&self, i: usize) -> u32 {
        self.used.get(i).map_or(0, |u| u.load(Ordering::Relaxed))
    }

    /// Takes a slot of trunk `i` unless `max` calls hold one already.
    pub fn try_acquire(self: &Arc<Self>, i: usize, max: Option<u32>) -> Option<CallSlot> {
        let counter = self.used.get(i)?;
        let limit = max.unwrap_or(u32::MAX);
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        Some(CallSlot {
            slots: self.clone(),
            trunk: i,
        })
    }
}

/// One call's hold on a trunk.
#[derive(Debug)]
pub struct CallSlot {
    slots: Arc<Slots>,
    trunk: usize,
}

impl CallSlot {
    /// The trunk's index.
    pub fn trunk(&self) -> usize {
        self.trunk
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        if let Some(c) = self.slots.used.get(self.trunk) {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_trunk_refuses_until_a_slot_is_dropped() {
        let s = Slots::new(2);
        let a = s.try_acquire(0, Some(2)).expect("first");
        let _b = s.try_acquire(0, Some(2)).expect("second");
        assert!(s.try_acquire(0, Some(2)).is_none());
        assert_eq!(s.used(0), 2);
        drop(a);
        assert_eq!(s.used(0), 1);
        assert!(s.try_acquire(0, Some(2)).is_some());
        assert!(s.try_acquire(1, None).is_some());
        assert!(s.try_acquire(7, None).is_none(), "no such trunk");
    }
}
