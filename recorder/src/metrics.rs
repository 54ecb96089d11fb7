//! Counters for metrics export. All are totals since the recorder started.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters shared by the taps, the writer and the closer (read through [`crate::Recorder::metrics`]).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) frames_queued: AtomicU64,
    pub(crate) frames_dropped: AtomicU64,
    pub(crate) frames_late: AtomicU64,
    pub(crate) frames_written: AtomicU64,
    pub(crate) started: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) active: AtomicU64,
}

/// A copy of [`Metrics`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Frames accepted into the writer queue.
    pub frames_queued: u64,
    /// Frames dropped because the queue was full (never blocks the producer).
    pub frames_dropped: u64,
    /// Frames (or parts) dropped because they came after their place was written.
    pub frames_late: u64,
    /// Frames the writer thread has taken off the queue and processed.
    pub frames_written: u64,
    /// Recordings started.
    pub started: u64,
    /// Recordings refused (spool full, write error since the last check).
    pub refused: u64,
    /// Write errors (each stops one recording and closes the spool).
    pub write_errors: u64,
    /// Recordings closed into the spool.
    pub spooled: u64,
    /// Recordings closed by crash recovery.
    pub recovered: u64,
    /// Recordings being written now.
    pub active: u64,
}

impl Metrics {
    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            frames_queued: self.frames_queued.load(Relaxed),
            frames_dropped: self.frames_dropped.load(Relaxed),
            frames_late: self.frames_late.load(Relaxed),
            frames_written: self.frames_written.load(Relaxed),
            started: self.started.load(Relaxed),
            refused: self.refused.load(Relaxed),
            write_errors: self.write_errors.load(Relaxed),
            spooled: self.spooled.load(Relaxed),
            recovered: self.recovered.load(Relaxed),
            active: self.active.load(Relaxed),
        }
    }
}

/// Per-recording counters, shared between its tap and the writer.
#[derive(Debug, Default)]
pub struct RecordingCounters {
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl RecordingCounters {
    /// Frames queued for this recording.
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed)
    }
    /// Frames of this recording dropped on a full queue.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}
