//! The user directory the authenticator reads: HA1 values per user, for every
//! algorithm, computed for the server's realm. Passwords are never kept in memory
//! or in the store — only their HA1 hashes.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::digest;
use sip_stack::auth::digest::DigestAlgorithm;

/// The stored secrets of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// H(user:realm:password) with MD5.
    pub ha1_md5: String,
    /// H(user:realm:password) with SHA-256.
    pub ha1_sha256: String,
}

impl Credentials {
    /// Hashes a password for `realm`.
    pub fn from_password(user: &str, realm: &str, password: &str) -> Self {
        Self {
            ha1_md5: digest::ha1(DigestAlgorithm::Md5, user, realm, password),
            ha1_sha256: digest::ha1(DigestAlgorithm::Sha256, user, realm, password),
        }
    }
}

/// Users by name; cheap to clone and shared between threads.
#[derive(Debug, Clone, Default)]
pub struct Users {
    /// aHash (randomly keyed per map, so names cannot be chosen to collide):
    /// every digest REGISTER looks a user up.
    inner: Arc<RwLock<HashMap<String, Arc<Credentials>, ahash::RandomState>>>,
    /// Users an administrator disabled (SPEC §16): their REGISTER is refused.
    disabled: Arc<RwLock<std::collections::HashSet<String, ahash::RandomState>>>,
}

impl Users {
    /// Looks a user up.
    pub fn get(&self, name: &str) -> Option<Arc<Credentials>> {
        self.inner.read().get(name).cloned()
    }

    /// Whether the user exists.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.read().contains_key(name)
    }

    /// Replaces the whole directory (after a reload from the store).
    pub fn replace_all(&self, users: impl IntoIterator<Item = (String, Arc<Credentials>)>) {
        let users: HashMap<_, _, ahash::RandomState> = users.into_iter().collect();
        *self.inner.write() = users;
    }

    /// Adds or replaces one user.
    pub fn insert(&self, name: String, creds: Credentials) {
        self.inner.write().insert(name, Arc::new(creds));
    }

    /// Replaces the set of disabled users.
    pub fn set_disabled(&self, names: impl IntoIterator<Item = String>) {
        *self.disabled.write() = names.into_iter().collect();
    }

    /// Whether an administrator disabled the user.
    pub fn is_disabled(&self, name: &str) -> bool {
        self.disabled.read().contains(name)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
