//! Identifiers and time values. Names (agents, queues, break reasons) are
//! cheap-to-clone shared strings; calls, offers and callbacks are numbers.
//! Time is always passed in: [`Now`] pairs a monotonic millisecond reading
//! (timers, durations) with wall-clock Unix milliseconds (event stamps).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Arc<str>);

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(Arc::from(s))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(Arc::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_id!(
    /// An agent: the user name of a user with an agent profile.
    AgentId
);
name_id!(
    /// A queue (skill group) by name.
    QueueId
);
name_id!(
    /// A break (not-ready) reason code, e.g. `lunch`.
    ReasonCode
);

macro_rules! num_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{:016x}"), self.0)
            }
        }
    };
}

num_id!(
    /// A call, as the engine numbers it (printed like pbx-core's `c…`).
    CallId,
    "c"
);
num_id!(
    /// One offer of a caller (or callback) to one agent.
    OfferId,
    "o"
);
num_id!(
    /// A callback request (a virtual caller keeping its place).
    CallbackId,
    "cb"
);

/// A monotonic reading in milliseconds (any fixed origin, e.g. engine start).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Mono(pub u64);

impl Mono {
    /// `self` plus `ms` milliseconds.
    pub fn plus_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (0 when `earlier` is later).
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The driver's clock at an input: monotonic for timers and durations,
/// wall-clock for the timestamps of events and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Now {
    /// Monotonic milliseconds.
    pub mono: Mono,
    /// Unix milliseconds (UTC).
    pub unix_ms: u64,
}

impl Now {
    /// A reading from both clocks.
    pub fn new(mono_ms: u64, unix_ms: u64) -> Self {
        Self {
            mono: Mono(mono_ms),
            unix_ms,
        }
    }

    /// `self` moved to monotonic `mono`; wall time moves by the same amount.
    pub fn at(self, mono: Mono) -> Self {
        let unix_ms = if mono >= self.mono {
            self.unix_ms.saturating_add(mono.since(self.mono))
        } else {
            self.unix_ms.saturating_sub(self.mono.since(mono))
        };
        Self { mono, unix_ms }
    }

    /// `self` plus `ms` on both clocks.
    pub fn plus_ms(self, ms: u64) -> Self {
        self.at(self.mono.plus_ms(ms))
    }
}
