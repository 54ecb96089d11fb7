//! Counters shared by every receiver and sender.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Transport counters, updated with relaxed atomics (cheap on the hot path).
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Complete messages handed to the handler.
    pub received: AtomicU64,
    /// Messages written to a socket (UDP datagrams sent, stream messages written).
    pub sent: AtomicU64,
    /// Messages or datagrams dropped: unframeable or oversized stream data,
    /// failed UDP sends, data queued for a connection that never opened.
    pub dropped: AtomicU64,
    /// TCP/TLS connections currently open (a gauge).
    pub connections_open: AtomicU64,
    /// Inbound connections accepted.
    pub connections_accepted: AtomicU64,
    /// Outbound connections established.
    pub connections_connected: AtomicU64,
    /// Connections closed, for any reason (including failed outbound attempts).
    pub connections_closed: AtomicU64,
    /// Inbound connections refused because `max_connections` was reached.
    pub connections_refused: AtomicU64,
}

/// A plain copy of [`TransportStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // same fields as TransportStats
pub struct StatsSnapshot {
    pub received: u64,
    pub sent: u64,
    pub dropped: u64,
    pub connections_open: u64,
    pub connections_accepted: u64,
    pub connections_connected: u64,
    pub connections_closed: u64,
    pub connections_refused: u64,
}

impl TransportStats {
    /// Reads every counter (not one atomic snapshot; each field is exact on its own).
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            received: self.received.load(Relaxed),
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_accepted: self.connections_accepted.load(Relaxed),
            connections_connected: self.connections_connected.load(Relaxed),
            connections_closed: self.connections_closed.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
        }
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
