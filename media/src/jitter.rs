//! Adaptive jitter buffer for one RTP stream: reorders by sequence number,
//! reports gaps as [`Playout::Conceal`] (the hook where a codec's PLC runs),
//! adapts its target delay to the measured interarrival jitter (RFC 3550
//! A.8 estimator) and keeps late/duplicate/loss statistics.
//!
//! Storage is preallocated at construction; `push` and `pop` never allocate.
//! Time is injected (`now`); the consumer calls [`JitterBuffer::pop`] once
//! per frame interval.

use std::time::Instant;

/// Configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Slots (packets) kept; bounds the maximum delay.
    pub capacity: usize,
    /// Largest payload stored; bigger packets are rejected.
    pub max_payload: usize,
    /// Frame duration in ms (ptime).
    pub frame_ms: u32,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Lower bound of the target delay, frames.
    pub min_delay: u16,
    /// Upper bound of the target delay, frames.
    pub max_delay: u16,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            capacity: 64,
            max_payload: 1280,
            frame_ms: 20,
            clock_rate: 8000,
            min_delay: 1,
            max_delay: 25,
        }
    }
}

impl JitterConfig {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.capacity < 4 || self.capacity > 4096 {
            return Err("capacity must be 4..=4096");
        }
        if self.min_delay == 0
            || self.min_delay > self.max_delay
            || usize::from(self.max_delay) >= self.capacity
        {
            return Err("need 1 <= min_delay <= max_delay < capacity");
        }
        if self.frame_ms == 0 || self.clock_rate == 0 || self.max_payload == 0 {
            return Err("frame_ms, clock_rate and max_payload must be > 0");
        }
        Ok(())
    }
}

/// Result of [`JitterBuffer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Stored,
    /// Already stored.
    Duplicate,
    /// Its playout time has passed.
    Late,
    /// Payload larger than `max_payload`.
    TooLarge,
    /// Sequence jumped out of the window; the buffer restarted at this packet.
    Restarted,
}

/// Result of [`JitterBuffer::pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// Play this frame.
    Frame {
        /// Sequence number.
        seq: u16,
        /// RTP timestamp.
        timestamp: u32,
        /// Payload.
        payload: &'a [u8],
    },
    /// No frame for this interval: conceal (codec PLC or comfort noise).
    Conceal {
        /// True if the frame is known lost (later frames are buffered);
        /// false on underrun (nothing buffered).
        lost: bool,
    },
    /// Filling to the target delay; play silence.
    Buffering,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Packets stored.
    pub stored: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Frames concealed because the packet was missing.
    pub lost: u64,
    /// Intervals with nothing to play.
    pub underruns: u64,
    /// Frames dropped to shrink delay.
    pub dropped_for_latency: u64,
    /// Oversized packets rejected.
    pub too_large: u64,
    /// Restarts after sequence jumps.
    pub restarts: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    occupied: bool,
    seq: u16,
    timestamp: u32,
    len: usize,
}

/// The buffer.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: Vec<Slot>,
    storage: Vec<u8>,
    count: usize,
    next_seq: Option<u16>,
    started: bool,
    epoch: Option<Instant>,
    last_transit: Option<i64>,
    jitter_ts: f64,
    boost: u16,
    boost_decay: u32,
    excess_pops: u32,
    stats: JitterStats,
}

const BOOST_DECAY_FRAMES: u32 = 250;
const EXCESS_POPS_BEFORE_DROP: u32 = 8;

impl JitterBuffer {
    /// Creates the buffer; the config must pass [`JitterConfig::validate`]
    /// (invalid values are clamped to usable ones).
    pub fn new(mut cfg: JitterConfig) -> Self {
        if cfg.validate().is_err() {
            cfg = JitterConfig {
                capacity: cfg.capacity.clamp(4, 4096),
                ..JitterConfig::default()
            };
        }
        Self {
            slots: vec![Slot::default(); cfg.capacity],
            storage: vec![0; cfg.capacity * cfg.max_payload],
            cfg,
            count: 0,
            next_seq: None,
            started: false,
            epoch: None,
            last_transit: None,
            jitter_ts: 0.0,
            boost: 0,
            boost_decay: 0,
            excess_pops: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }
    /// Packets currently buffered.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Jitter estimate in ms (RFC 3550 A.8).
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ts * 1000.0 / f64::from(self.cfg.clock_rate)
    }
    /// Current target delay in frames.
    pub fn target_delay(&self) -> u16 {
        let frames = (3.0 * self.jitter_ms() / f64::from(self.cfg.frame_ms)).ceil() as u16 + 1;
        (frames.max(self.cfg.min_delay) + self.boost).min(self.cfg.max_delay)
    }

    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = (now.duration_since(epoch).as_micros() as u64
            * u64::from(self.cfg.clock_rate)
            / 1_000_000) as u32;
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() as f64;
            self.jitter_ts += (d - self.jitter_ts) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    fn reset(&mut self, seq: u16) {
        self.slots.iter_mut().for_each(|s| s.occupied = false);
        self.count = 0;
        self.next_seq = Some(seq);
        self.started = false;
    }

    /// Stores one packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, payload: &[u8]) -> PushOutcome {
        if payload.len() > self.cfg.max_payload {
            self.stats.too_large += 1;
            return PushOutcome::TooLarge;
        }
        let cap = self.cfg.capacity;
        let mut outcome = PushOutcome::Stored;
        let next = *self.next_seq.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next) as i16;
        if ahead < 0 {
            if self.started || (-i32::from(ahead)) as usize + self.count >= cap {
                self.stats.late += 1;
                return PushOutcome::Late;
            }
            // reordered before playout started: move the cursor back
            self.next_seq = Some(seq);
        } else if ahead as usize >= cap {
            self.stats.restarts += 1;
            self.reset(seq);
            outcome = PushOutcome::Restarted;
        }
        let idx = usize::from(seq) % cap;
        let slot = &mut self.slots[idx];
        if slot.occupied && slot.seq == seq {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if !slot.occupied {
            self.count += 1;
        }
        *slot = Slot {
            occupied: true,
            seq,
            timestamp,
            len: payload.len(),
        };
        let off = idx * self.cfg.max_payload;
        self.storage[off..off + payload.len()].copy_from_slice(payload);
        self.stats.stored += 1;
        self.update_jitter(now, timestamp);
        outcome
    }

    fn take(&mut self, seq: u16) -> Option<(usize, Slot)> {
        let idx = usize::from(seq) % self.cfg.capacity;
        let s = self.slots[idx];
        if s.occupied && s.seq == seq {
            self.slots[idx].occupied = false;
            self.count -= 1;
            Some((idx, s))
        } else {
            None
        }
    }

    /// Next frame for playout; call once per frame interval.
    pub fn pop(&mut self) -> Playout<'_> {
        let Some(next) = self.next_seq else {
            return Playout::Buffering;
        };
        if self.boost > 0 {
            self.boost_decay += 1;
            if self.boost_decay >= BOOST_DECAY_FRAMES {
                self.boost_decay = 0;
                self.boost -= 1;
            }
        }
        let target = usize::from(self.target_delay());
        if !self.started {
            if self.count < target {
                return Playout::Buffering;
            }
            self.started = true;
        }
        // shrink delay: drop one frame when well above target for a while
        let mut next = next;
        if self.count > target + 2 {
            self.excess_pops += 1;
        } else {
            self.excess_pops = 0;
        }
        if self.excess_pops >= EXCESS_POPS_BEFORE_DROP && self.take(next).is_some() {
            self.excess_pops = 0;
            self.stats.dropped_for_latency += 1;
            next = next.wrapping_add(1);
            self.next_seq = Some(next);
        }
        if let Some((idx, s)) = self.take(next) {
            self.next_seq = Some(next.wrapping_add(1));
            let off = idx * self.cfg.max_payload;
            return Playout::Frame {
                seq: s.seq,
                timestamp: s.timestamp,
                payload: &self.storage[off..off + s.len],
            };
        }
        if self.count > 0 {
            self.stats.lost += 1;
            self.next_seq = Some(next.wrapping_add(1));
            Playout::Conceal { lost: true }
        } else {
            self.stats.underruns += 1;
            self.boost = (self.boost + 1).min(self.cfg.max_delay);
            self.boost_decay = 0;
            Playout::Conceal { lost: false }
        }
    }
}

#[cfg(test)]
mod tests;
