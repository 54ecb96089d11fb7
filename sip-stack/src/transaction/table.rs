//! Transactions by id and by matching key, with one copy of each key.
//!
//! Values live in a generational [`Arena`] next to their owned key; the
//! key index is a `HashTable` of bare ids whose hashing and equality look the
//! key up in the arena. Lookups take a borrowed key view (`Equivalent`), so
//! matching a message neither allocates nor clones a key.

use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, Equivalent, HashTable};

use super::arena::Arena;

#[derive(Debug)]
pub(crate) struct Table<K, T> {
    arena: Arena<(K, T)>,
    index: HashTable<u64>,
    hasher: DefaultHashBuilder,
}

impl<K, T> Default for Table<K, T> {
    fn default() -> Self {
        Self {
            arena: Arena::default(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

impl<K: Hash, T> Table<K, T> {
    pub(crate) const fn len(&self) -> usize {
        self.arena.len()
    }

    /// The id of the live entry whose key equals `key`.
    pub(crate) fn find<Q: Hash + Equivalent<K>>(&self, key: &Q) -> Option<u64> {
        let hash = self.hasher.hash_one(key);
        let arena = &self.arena;
        self.index
            .find(hash, |&id| {
                arena.get(id).is_some_and(|(k, _)| key.equivalent(k))
            })
            .copied()
    }

    /// Stores `make(id)` under `key` and returns its id. An entry already
    /// holding an equal key stays alive but is no longer found by key (a TU
    /// reusing a branch gets the newer transaction matched).
    pub(crate) fn insert_with(&mut self, key: K, make: impl FnOnce(u64) -> T) -> u64
    where
        K: Equivalent<K>,
    {
        let hash = self.hasher.hash_one(&key);
        let arena = &self.arena;
        if let Ok(old) = self.index.find_entry(hash, |&id| {
            arena.get(id).is_some_and(|(k, _)| key.equivalent(k))
        }) {
            tracing::warn!(
                old = *old.get(),
                "transaction key reused; the older transaction stops matching"
            );
            old.remove();
        }
        let id = self.arena.insert_with(|id| (key, make(id)));
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.index.insert_unique(hash, id, |&id| {
            // Every indexed id is live: entries leave the index before the arena.
            arena.get(id).map_or(0, |(k, _)| hasher.hash_one(k))
        });
        id
    }

    /// An id no entry will ever have.
    pub(crate) fn burn_id(&mut self) -> u64 {
        self.arena.burn_id()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        self.arena.get(id).map(|(_, t)| t)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        self.arena.get_mut(id).map(|(_, t)| t)
    }

    /// Removes the entry and its index slot (if it still had one).
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let (key, _) = self.arena.get(id)?;
        let hash = self.hasher.hash_one(key);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        self.arena.remove(id).map(|(_, t)| t)
    }
}
