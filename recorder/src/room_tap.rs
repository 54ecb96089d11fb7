//! The adapter between a conference room's mix ([`media::mixer::RoomRecordSink`],
//! SPEC §22) and a [`RecordingTap`]: the mixer thread hands every tick's
//! mix of all contributors here; it goes to both channels of the WAV (one
//! mixed recording per room session), queued without blocking or
//! allocating.
//!
//! ```text
//! let tap = recorder.start(req)?;                  // call id e.g. `room-800-<start>`
//! let rec = Arc::new(RoomRecording::new(tap));
//! endpoints.record_room("800", Some(rec.clone()));
//! ...
//! endpoints.record_room("800", None);              // the room session ended
//! rec.finish(Instant::now())?;                     // on the control side
//! ```

use std::time::Instant;

use media::mixer::RoomRecordSink;

use crate::frame::Timestamp;
use crate::id::Side;
use crate::recorder::RecordingTap;
use crate::Result;

/// A [`RecordingTap`] as a room mix sink.
#[derive(Debug)]
pub struct RoomRecording {
    tap: RecordingTap,
}

impl RoomRecording {
    /// The room's mix goes to both channels of `tap` (whose rate must be
    /// the mixer's, 8 kHz).
    pub fn new(tap: RecordingTap) -> Self {
        Self { tap }
    }

    /// The recording.
    pub fn tap(&self) -> &RecordingTap {
        &self.tap
    }

    /// Ends the recording at `now`; later mixes are refused. Call it on the
    /// control side, after the mixer was told to stop.
    pub fn finish(&self, now: Instant) -> Result<()> {
        self.tap.finish(now)
    }
}

impl RoomRecordSink for RoomRecording {
    fn mix(&self, position: u64, pcm: &[i16]) {
        let at = Timestamp::Sample(position);
        self.tap.push(Side::Caller, at, pcm);
        self.tap.push(Side::Agent, at, pcm);
    }
}
