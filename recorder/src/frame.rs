//! The fixed-size frame that crosses from the media path to the writer thread.
//! It is `Copy` and carries its samples inline, so queueing one allocates nothing.

use std::time::Instant;

use crate::id::Side;

/// Samples one frame holds: 20 ms at 16 kHz. Longer buffers are split by
/// [`crate::RecordingTap::push`].
pub const MAX_FRAME_SAMPLES: usize = 320;

/// When a frame's first sample was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// A capture instant; it is placed at `(at - recording start) × rate`,
    /// snapped to the side's running end when within the jitter tolerance.
    Instant(Instant),
    /// An exact sample position counted from the recording's start at the
    /// recording's rate (a tap that follows RTP timestamps). Placed exactly.
    Sample(u64),
}

/// Decoded PCM of one side, as queued.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub(crate) side: Side,
    pub(crate) at: Timestamp,
    pub(crate) len: u16,
    pub(crate) samples: [i16; MAX_FRAME_SAMPLES],
}

impl Frame {
    /// A frame from at most [`MAX_FRAME_SAMPLES`] samples (the rest is ignored).
    pub fn new(side: Side, at: Timestamp, pcm: &[i16]) -> Self {
        let len = pcm.len().min(MAX_FRAME_SAMPLES);
        let mut samples = [0i16; MAX_FRAME_SAMPLES];
        samples[..len].copy_from_slice(&pcm[..len]);
        Self {
            side,
            at,
            len: len as u16,
            samples,
        }
    }

    /// The samples.
    pub fn pcm(&self) -> &[i16] {
        &self.samples[..usize::from(self.len)]
    }

    /// The side.
    pub fn side(&self) -> Side {
        self.side
    }
}
