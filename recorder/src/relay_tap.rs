//! The adapter between the media relay's recording tap
//! ([`media::relay::record`]) and a [`RecordingTap`]: a relay session set to
//! record with `Command::Record { id, sink }` pushes each leg's decoded PCM
//! here, on the relay thread; this maps the relay's legs to the recording's
//! channels and its tap timeline to the recording's sample positions, and
//! queues the frame without blocking or allocating.
//!
//! Lifecycle (what pbx-core does):
//!
//! ```text
//! let tap = recorder.start(req)?;                       // the recording (spool file)
//! let rec = Arc::new(RelayRecording::new(tap, relay::Side::A)); // leg A is the caller
//! relay.send(Command::Record { id, sink: rec.clone() });
//! ...                                                    // hold, re-INVITE: unchanged
//! relay.send(Command::StopRecord(id));                  // or the session closes
//! rec.finish(Instant::now())?;                          // finalize on the control side
//! // RelayEvent::RecordStopped { sink, stats, .. } returns the relay's clone
//! ```
//!
//! One recording may be fed by several relay sessions one after the other
//! (a transfer re-anchors the call on a new session): set the same
//! `RelayRecording` on the new session; each session's timeline is placed
//! at the instant it started.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use media::relay::{RecordSink, TapFrame, TapPush};

use crate::frame::Timestamp;
use crate::id::Side;
use crate::recorder::{Push, RecordingTap};
use crate::Result;

/// A [`RecordingTap`] as a relay [`RecordSink`].
#[derive(Debug)]
pub struct RelayRecording {
    tap: RecordingTap,
    caller: media::relay::Side,
    rate_mismatch: AtomicU64,
}

impl RelayRecording {
    /// Records the relay leg `caller` on the left channel (the caller) and
    /// the other leg on the right (the agent / pbx-side party). The
    /// recording's rate must be the tap's ([`media::relay::record::TAP_RATE`],
    /// 8 kHz); frames at another rate are refused and counted
    /// ([`Self::rate_mismatches`]).
    pub fn new(tap: RecordingTap, caller: media::relay::Side) -> Self {
        Self {
            tap,
            caller,
            rate_mismatch: AtomicU64::new(0),
        }
    }

    /// The recording.
    pub fn tap(&self) -> &RecordingTap {
        &self.tap
    }

    /// Ends the recording at `now` (see [`RecordingTap::finish`]); the relay's
    /// later pushes get [`TapPush::Closed`]. Call it on the control side, not
    /// on the relay thread: it may wait for room in the recorder's queue.
    pub fn finish(&self, now: Instant) -> Result<()> {
        self.tap.finish(now)
    }

    /// Frames refused because their rate was not the recording's.
    pub fn rate_mismatches(&self) -> u64 {
        self.rate_mismatch.load(Relaxed)
    }

    /// The recording's sample position of a frame's first sample.
    fn position(&self, f: &TapFrame<'_>) -> u64 {
        let since = f.origin.saturating_duration_since(self.tap.started());
        let origin = (since.as_nanos() * u128::from(f.sample_rate) / 1_000_000_000) as u64;
        origin + f.position
    }
}

impl RecordSink for RelayRecording {
    fn push(&self, f: &TapFrame<'_>) -> TapPush {
        if f.sample_rate != self.tap.sample_rate() {
            self.rate_mismatch.fetch_add(1, Relaxed);
            return TapPush::Dropped;
        }
        let side = if f.side == self.caller {
            Side::Caller
        } else {
            Side::Agent
        };
        match self
            .tap
            .push(side, Timestamp::Sample(self.position(f)), f.pcm)
        {
            Push::Queued => TapPush::Accepted,
            Push::Dropped(_) => TapPush::Dropped,
            Push::Closed => TapPush::Closed,
        }
    }
}
