//! The named RFC 3261 §17 timers (plus RFC 6026 Timers L and M), the small
//! per-transaction table of armed deadlines, and the layer-wide deadline heap.
//!
//! The heap is lazily invalidated: disarming a timer only clears the
//! transaction's slot; the stale heap entry is dropped when it reaches the top
//! and no longer matches the slot (or its transaction is gone).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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

/// The deadlines of all transactions, ordered.
///
/// Every timer delay comes from a small set (T1·2^k, T2, T4, 64·T1, Timer D),
/// and for one delay, deadlines come out in the order they were armed. So
/// the "heap" is one FIFO queue per distinct delay: arming and popping are
/// O(1) and the earliest deadline is the minimum over a handful of queue
/// heads (a clock that goes backwards falls back to a sorted insert).
/// Entries are packed into 24 bytes (nanoseconds since a base instant, raw
/// transaction id, kind + timer); stale ones stay until they surface.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    queues: Vec<(Duration, VecDeque<Packed>)>,
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
    pub(crate) fn arm(
        &mut self,
        timers: &mut Timers,
        tx: TxId,
        timer: Timer,
        now: Instant,
        delay: Duration,
    ) {
        let at = now + delay;
        // An hour of slack before the first arm keeps deadlines exact when a
        // driver's clock steps back; anything earlier fires at the base.
        let base = *self
            .base
            .get_or_insert_with(|| now.checked_sub(Duration::from_secs(3600)).unwrap_or(now));
        let at_ns =
            u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX);
        timers.set(timer, base + Duration::from_nanos(at_ns));
        let index = TIMERS.iter().position(|t| *t == timer).unwrap_or(0) as u8;
        let (id, meta) = match tx {
            TxId::Client(c) => (c.0, index),
            TxId::Server(s) => (s.0, index | SERVER),
        };
        let packed = Packed { at_ns, id, meta };
        let queue = match self.queues.iter().position(|(d, _)| *d == delay) {
            Some(i) => &mut self.queues[i].1,
            None => {
                self.queues.push((delay, VecDeque::new()));
                &mut self.queues.last_mut().expect("just pushed").1
            }
        };
        if queue.back().is_none_or(|last| *last <= packed) {
            queue.push_back(packed);
        } else {
            let at = queue.partition_point(|p| *p <= packed);
            queue.insert(at, packed);
        }
    }

    /// The queue whose head is the earliest deadline.
    fn earliest(&self) -> Option<usize> {
        let mut best: Option<(usize, Packed)> = None;
        for (i, (_, q)) in self.queues.iter().enumerate() {
            if let Some(&head) = q.front() {
                if best.is_none_or(|(_, b)| head < b) {
                    best = Some((i, head));
                }
            }
        }
        best.map(|(i, _)| i)
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
            at: base + Duration::from_nanos(p.at_ns),
            tx,
            timer,
        }
    }

    pub(crate) fn peek(&self) -> Option<Deadline> {
        let i = self.earliest()?;
        self.queues[i].1.front().map(|&p| self.unpack(p))
    }

    pub(crate) fn pop(&mut self) -> Option<Deadline> {
        let i = self.earliest()?;
        let p = self.queues[i].1.pop_front()?;
        Some(self.unpack(p))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queues.iter().map(|(_, q)| q.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{ClientTxId, ServerTxId};

    #[test]
    fn deadlines_come_out_in_time_order_across_delays_and_clock_steps() {
        let mut heap = TimerHeap::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = Timers::default();
        let mut arm = |heap: &mut TimerHeap, id: u64, now: Instant, delay: Duration| {
            let tx = if matches!(id, 2 | 4) {
                TxId::Client(ClientTxId(id))
            } else {
                TxId::Server(ServerTxId(id))
            };
            heap.arm(&mut timers, tx, Timer::J, now, delay);
        };
        arm(&mut heap, 1, t0, ms(500));
        arm(&mut heap, 2, t0, ms(32_000));
        arm(&mut heap, 3, t0 + ms(100), ms(500));
        arm(&mut heap, 4, t0 + ms(50), ms(5_000));
        // The clock went backwards: sorted insert into the 500 ms queue.
        arm(&mut heap, 5, t0 - ms(400), ms(500));
        let order: Vec<(u64, TxId)> = std::iter::from_fn(|| heap.pop())
            .map(|d| {
                (
                    (d.at.saturating_duration_since(t0)).as_millis() as u64,
                    d.tx,
                )
            })
            .collect();
        let ids: Vec<TxId> = order.iter().map(|(_, tx)| *tx).collect();
        assert_eq!(
            ids,
            [
                TxId::Server(ServerTxId(5)),
                TxId::Server(ServerTxId(1)),
                TxId::Server(ServerTxId(3)),
                TxId::Client(ClientTxId(4)),
                TxId::Client(ClientTxId(2)),
            ]
        );
        assert_eq!(
            order.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            [100, 500, 600, 5_050, 32_000]
        );
        assert!(heap.peek().is_none());
    }
}
