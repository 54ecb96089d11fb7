//! Generational arena holding the transactions: ids index a `Vec` directly
//! (no hashing on the timer path), and a slot's generation changes when it is
//! freed, so an id is never reused for another transaction and stale timer
//! entries can never reach a newer occupant.

/// Slot storage with `u64` ids: generation in the high half, index in the low.
#[derive(Debug)]
pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

const fn split(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

const fn join(index: u32, generation: u32) -> u64 {
    ((generation as u64) << 32) | index as u64
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Arena<T> {
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// A free slot's index, creating one if needed.
    fn vacant(&mut self) -> u32 {
        if let Some(index) = self.free.pop() {
            return index;
        }
        let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 live transactions");
        self.slots.push(Slot {
            generation: 0,
            value: None,
        });
        index
    }

    /// Inserts the value `make(id)` builds and returns its id.
    pub(crate) fn insert_with(&mut self, make: impl FnOnce(u64) -> T) -> u64 {
        let index = self.vacant();
        let slot = &mut self.slots[index as usize];
        let id = join(index, slot.generation);
        slot.value = Some(make(id));
        self.len += 1;
        id
    }

    /// An id that no value will ever have (for things that are not stored).
    pub(crate) fn burn_id(&mut self) -> u64 {
        let index = self.vacant();
        let slot = &mut self.slots[index as usize];
        let id = join(index, slot.generation);
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        id
    }

    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        let (index, generation) = split(id);
        self.slots
            .get(index)
            .filter(|s| s.generation == generation)?
            .value
            .as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let (index, generation) = split(id);
        self.slots
            .get_mut(index)
            .filter(|s| s.generation == generation)?
            .value
            .as_mut()
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let (index, generation) = split(id);
        let slot = self
            .slots
            .get_mut(index)
            .filter(|s| s.generation == generation)?;
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index as u32);
        self.len -= 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Arena;

    #[test]
    fn ids_are_not_reused_and_stale_ids_miss() {
        let mut arena = Arena::default();
        let a = arena.insert_with(|id| id);
        assert_eq!(arena.get(a), Some(&a));
        assert_eq!(arena.remove(a), Some(a));
        assert_eq!(arena.get(a), None);
        let burnt = arena.burn_id();
        let b = arena.insert_with(|id| id);
        assert!(a != b && burnt != b && burnt != a);
        assert_eq!(arena.get(a), None, "same slot, newer generation");
        assert_eq!(arena.len(), 1);
        assert_eq!(arena.remove(a), None);
        assert_eq!(arena.get_mut(b).copied(), Some(b));
    }
}
