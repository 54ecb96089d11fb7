//! The location service: AOR → bindings, a sharded concurrent table read by the
//! proxy and written by the registrar (RFC 3261 §10.2 "location service").

use std::collections::HashMap;

use parking_lot::RwLock;

use super::Binding;

const SHARDS: usize = 64;

type Shard = RwLock<HashMap<String, Vec<Binding>, ahash::RandomState>>;

/// AOR → bindings.
pub struct Location {
    shards: Vec<Shard>,
    hasher: ahash::RandomState,
}

impl Default for Location {
    fn default() -> Self {
        Self::new()
    }
}

impl Location {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }

    fn shard(&self, aor: &str) -> &Shard {
        &self.shards[(self.hasher.hash_one(aor) as usize) % SHARDS]
    }

    /// The live bindings of an AOR at `now_secs`, highest q first.
    pub fn lookup(&self, aor: &str, now_secs: u64) -> Vec<Binding> {
        let shard = self.shard(aor).read();
        let mut out: Vec<Binding> = shard
            .get(aor)
            .map(|v| {
                v.iter()
                    .filter(|b| b.expires_at > now_secs)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|b| std::cmp::Reverse(b.q));
        out
    }

    /// Runs `f` on the AOR's binding list under its shard's write lock (the registrar's
    /// read-modify-write of one REGISTER is atomic per AOR).
    pub fn update<R>(&self, aor: &str, f: impl FnOnce(&mut Vec<Binding>) -> R) -> R {
        let mut shard = self.shard(aor).write();
        match shard.get_mut(aor) {
            Some(list) => {
                let r = f(list);
                if list.is_empty() {
                    shard.remove(aor);
                }
                r
            }
            None => {
                let mut list = Vec::new();
                let r = f(&mut list);
                if !list.is_empty() {
                    shard.insert(aor.to_owned(), list);
                }
                r
            }
        }
    }

    /// Inserts bindings loaded from the store at start-up.
    pub fn load(&self, bindings: Vec<Binding>) {
        for b in bindings {
            let aor = b.aor.clone();
            self.update(&aor, |list| {
                list.retain(|x| x.key != b.key);
                list.push(b);
            });
        }
    }

    /// Removes lapsed bindings; returns them.
    pub fn sweep(&self, now_secs: u64) -> Vec<Binding> {
        let mut gone = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.write();
            shard.retain(|_, list| {
                list.retain(|b| {
                    let keep = b.expires_at > now_secs;
                    if !keep {
                        gone.push(b.clone());
                    }
                    keep
                });
                !list.is_empty()
            });
        }
        gone
    }

    /// Every binding (for `pbx registrations` and metrics), sorted by AOR.
    pub fn snapshot(&self) -> Vec<Binding> {
        let mut all: Vec<Binding> = self
            .shards
            .iter()
            .flat_map(|s| s.read().values().flatten().cloned().collect::<Vec<_>>())
            .collect();
        all.sort_by(|a, b| a.aor.cmp(&b.aor).then(a.key.cmp(&b.key)));
        all
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Whether no binding exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
