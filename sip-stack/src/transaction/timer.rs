//! The named RFC 3261 §17 timers (plus RFC 6026 Timers L and M), the small
//! per-transaction table of armed deadlines, and the layer-wide deadline heap.
//!
//! The heap is lazily invalidated: disarming a timer only clears the
//! transaction's slot; the stale heap entry is dropped when it reaches the top
//! and no longer matches the slot (or its transaction is gone).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::TxId;

/// A transaction timer, named as in RFC 3261 §17 (Table 4) and RFC 6026 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmission (§17.1.1.2), unreliable transports only.
    A,
    /// INVITE transaction timeout (§17.1.1.2), 64*T1.
    B,
    /// Wait time for response retransmissions after a non-2xx final (§17.1.1.2).
    D,
    /// Non-INVITE request retransmission (§17.1.2.2), unreliable transports only.
    E,
    /// Non-INVITE transaction timeout (§17.1.2.2), 64*T1.
    F,
    /// Wait time for response retransmissions, non-INVITE client (§17.1.2.2), T4.
    K,
    /// INVITE final response retransmission (§17.2.1), unreliable transports only.
    G,
    /// Wait time for ACK receipt (§17.2.1), 64*T1.
    H,
    /// Wait time for ACK retransmissions (§17.2.1), T4.
    I,
    /// Wait time for non-INVITE request retransmissions (§17.2.2), 64*T1.
    J,
    /// Wait time for accepted INVITE request retransmissions (RFC 6026 §8.7), 64*T1.
    L,
    /// Wait time for 2xx retransmissions on an INVITE client (RFC 6026 §8.4), 64*T1.
    M,
}

impl Timer {
    /// Every transaction has at most one timer per role armed at a time:
    /// retransmit (A/E/G), timeout (B/F/H) and linger (D/I/J/K/L/M).
    const fn slot(self) -> usize {
        match self {
            Self::A | Self::E | Self::G => 0,
            Self::B | Self::F | Self::H => 1,
            Self::D | Self::K | Self::I | Self::J | Self::L | Self::M => 2,
        }
    }
}

/// The deadlines armed by one transaction.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    slots: [Option<(Timer, Instant)>; 3],
}

impl Timers {
    /// Whether `timer` is armed and due at exactly `at` (a heap entry is live).
    pub(crate) fn is_armed_at(&self, timer: Timer, at: Instant) -> bool {
        self.slots[timer.slot()] == Some((timer, at))
    }

    /// Disarms `timer` if it is armed; the heap entry goes stale.
    pub(crate) fn clear(&mut self, timer: Timer) {
        let slot = &mut self.slots[timer.slot()];
        if matches!(slot, Some((t, _)) if *t == timer) {
            *slot = None;
        }
    }

    fn set(&mut self, timer: Timer, at: Instant) {
        self.slots[timer.slot()] = Some((timer, at));
    }
}

/// One heap entry: which timer of which transaction is due when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) tx: TxId,
    pub(crate) timer: Timer,
}

/// Min-heap of deadlines over all transactions.
///
/// Entries are packed into 24 bytes (nanoseconds since the first deadline's
/// base instant, raw transaction id, kind + timer) so that the heap, which
/// also holds stale entries until they surface, stays small and cheap to
/// compare.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<Packed>>,
    base: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Packed {
    at_ns: u64,
    id: u64,
    /// Bit 7: server transaction; low bits: the timer.
    meta: u8,
}

const TIMERS: [Timer; 12] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::K,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::L,
    Timer::M,
];
const SERVER: u8 = 0x80;

impl TimerHeap {
    /// Arms `timer` of transaction `tx` (recorded in its table `timers`) at `at`.
    pub(crate) fn arm(&mut self, timers: &mut Timers, tx: TxId, timer: Timer, at: Instant) {
        let base = *self.base.get_or_insert(at);
        // A deadline before the base (a clock that went backwards) fires as
        // early as possible; the slot keeps the exact instant for liveness.
        let at_ns =
            u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX);
        timers.set(timer, base + std::time::Duration::from_nanos(at_ns));
        let index = TIMERS.iter().position(|t| *t == timer).unwrap_or(0) as u8;
        let (id, meta) = match tx {
            TxId::Client(c) => (c.0, index),
            TxId::Server(s) => (s.0, index | SERVER),
        };
        self.heap.push(Reverse(Packed { at_ns, id, meta }));
    }

    fn unpack(&self, p: Packed) -> Deadline {
        let base = self
            .base
            .expect("an entry exists only after a first arm set the base");
        let timer = TIMERS[usize::from(p.meta & !SERVER) % TIMERS.len()];
        let tx = if p.meta & SERVER != 0 {
            TxId::Server(super::ServerTxId(p.id))
        } else {
            TxId::Client(super::ClientTxId(p.id))
        };
        Deadline {
            at: base + std::time::Duration::from_nanos(p.at_ns),
            tx,
            timer,
        }
    }

    pub(crate) fn peek(&self) -> Option<Deadline> {
        self.heap.peek().map(|r| self.unpack(r.0))
    }

    pub(crate) fn pop(&mut self) -> Option<Deadline> {
        self.heap.pop().map(|r| self.unpack(r.0))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
