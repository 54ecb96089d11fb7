//! What the registrar does when a REGISTER would take an AOR past
//! `registrar.max_contacts`: replace the oldest bindings (the default, as
//! mature registrars do for NAT rebinding and restarted apps) or refuse with
//! `403 Too many contacts`.

use std::fmt;
use std::str::FromStr;

use super::Binding;

/// `registrar.max_contacts_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MaxContactsPolicy {
    /// `"replace-oldest"`: drop the bindings closest to expiry that the
    /// REGISTER does not itself refresh (with one lifetime for all, the
    /// least recently refreshed) until the new ones fit.
    #[default]
    ReplaceOldest,
    /// `"refuse"`: answer `403 Too many contacts` and change nothing.
    Refuse,
}

impl MaxContactsPolicy {
    /// The config spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReplaceOldest => "replace-oldest",
            Self::Refuse => "refuse",
        }
    }
}

impl fmt::Display for MaxContactsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `max_contacts_policy` that is neither `replace-oldest` nor `refuse`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown max_contacts_policy `{0}` (use \"replace-oldest\" or \"refuse\")")]
pub struct UnknownPolicy(pub String);

impl FromStr for MaxContactsPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "replace-oldest" => Ok(Self::ReplaceOldest),
            "refuse" => Ok(Self::Refuse),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// The indices of the `need` bindings to replace: not `protected`, soonest
/// expiry first (ties: the one earlier in the list, i.e. stored first); `None`
/// when fewer than `need` are unprotected.
pub(super) fn oldest(
    bindings: &[Binding],
    need: usize,
    protected: impl Fn(&Binding) -> bool,
) -> Option<Vec<usize>> {
    let mut candidates: Vec<(u64, usize)> = bindings
        .iter()
        .enumerate()
        .filter(|(_, b)| !protected(b))
        .map(|(i, b)| (b.expires_at, i))
        .collect();
    if candidates.len() < need {
        return None;
    }
    candidates.sort_unstable();
    Some(candidates[..need].iter().map(|&(_, i)| i).collect())
}
