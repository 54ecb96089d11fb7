//! The injected wall clock (sidecar times, backoff deadlines, link expiry, retention).

use chrono::{DateTime, Utc};

/// Wall-clock time in UTC.
pub trait WallClock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
