//! Time alignment of the two sides into one interleaved stereo stream (pure, no I/O).
//!
//! Each side is a run of samples starting at the common origin `written`
//! (everything before it is already in the file). A frame is placed at its
//! timestamp: gaps become silence, overlaps are trimmed. A side that sends
//! nothing (hold, one-way audio) does not stall the other: once one side is more
//! than `max_lag` samples ahead, the lagging side is filled with silence up to
//! `ahead - max_lag`, and its frames that arrive later than that are dropped as
//! late. The alignment error of an instant-stamped frame is bounded by the
//! jitter tolerance.

use std::collections::VecDeque;

/// Where a frame lands: its first kept sample's position and how many leading
/// samples were cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) start: u64,
    pub(crate) skip: usize,
}

/// Places a frame of `len` samples stamped at `raw` on a side whose own audio
/// ends at `own_end` and whose samples (own audio plus silence the other side's
/// progress forced in) end at `end` (≥ `own_end`).
///
/// Within `tol` of `own_end` the frame is snapped to it (jitter); beyond it a gap
/// of silence is left; a frame more than `tol` early loses the samples that
/// would put it more than `tol` off. Once silence was forced in (`end >
/// own_end`) there is nothing to snap to: the frame goes to `raw` exactly.
/// Whatever then falls before `end` is cut.
/// `None` when nothing of it can be kept.
pub(crate) fn place(own_end: u64, end: u64, raw: u64, len: usize, tol: u64) -> Option<Placement> {
    let (mut start, mut skip) = if end > own_end || raw > own_end + tol {
        (raw, 0u64)
    } else if raw + tol < own_end {
        (own_end, own_end - tol - raw)
    } else {
        (own_end, 0)
    };
    if start < end {
        skip += end - start;
        start = end;
    }
    (skip < len as u64).then_some(Placement {
        start,
        skip: skip as usize,
    })
}

/// The two sides' pending samples from `written` on.
#[derive(Debug, Default)]
pub(crate) struct Interleaver {
    written: u64,
    sides: [VecDeque<i16>; 2],
    max_lag: u64,
    out: Vec<i16>,
}

/// Silence is materialized at most this many samples at a time, so a long gap
/// costs no more memory than `max_lag`.
const PAD_CHUNK: u64 = 8000;

impl Interleaver {
    pub(crate) fn new(max_lag: u64) -> Self {
        Self {
            max_lag: max_lag.max(1),
            ..Self::default()
        }
    }

    /// Samples (per channel) already handed out.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Where `side`'s pending samples end.
    pub(crate) fn end(&self, side: usize) -> u64 {
        self.written + self.sides[side].len() as u64
    }

    /// Adds `pcm` for `side` at `start` (≥ the side's end, as [`place`] returns),
    /// handing every stereo block that became complete to `sink` as interleaved
    /// samples (left, right, left, …).
    pub(crate) fn push<E>(
        &mut self,
        side: usize,
        start: u64,
        pcm: &[i16],
        sink: &mut impl FnMut(&[i16]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut end = self.end(side);
        debug_assert!(start >= end, "placement before the side's end");
        while end < start {
            let n = (start - end).min(PAD_CHUNK);
            let buf = &mut self.sides[side];
            buf.extend(std::iter::repeat_n(0i16, n as usize));
            end += n;
            self.drain(false, sink)?;
            end = end.max(self.end(side));
        }
        self.sides[side].extend(pcm.iter().copied());
        self.drain(false, sink)
    }

    /// Hands out what is complete; with `all`, pads the shorter side and hands
    /// out everything (the recording's end).
    pub(crate) fn drain<E>(
        &mut self,
        all: bool,
        sink: &mut impl FnMut(&[i16]) -> Result<(), E>,
    ) -> Result<(), E> {
        let (e0, e1) = (self.end(0), self.end(1));
        let hi = e0.max(e1);
        let mut ready = e0.min(e1);
        if all {
            ready = hi;
        } else if hi - ready > self.max_lag {
            ready = hi - self.max_lag;
        }
        if ready <= self.written {
            return Ok(());
        }
        let n = (ready - self.written) as usize;
        self.out.clear();
        self.out.reserve(n * 2);
        for i in 0..n {
            let l = self.sides[0].get(i).copied().unwrap_or(0);
            let r = self.sides[1].get(i).copied().unwrap_or(0);
            self.out.push(l);
            self.out.push(r);
        }
        for s in &mut self.sides {
            let k = n.min(s.len());
            s.drain(..k);
        }
        self.written = ready;
        sink(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_rules() {
        // Within tolerance: snapped to the end.
        assert_eq!(
            place(160, 0, 200, 160, 480),
            Some(Placement {
                start: 160,
                skip: 0
            })
        );
        assert_eq!(
            place(160, 0, 100, 160, 480),
            Some(Placement {
                start: 160,
                skip: 0
            })
        );
        // Beyond: a gap.
        assert_eq!(
            place(160, 0, 1000, 160, 480),
            Some(Placement {
                start: 1000,
                skip: 0
            })
        );
        // Exact (tol 0) overlap trimmed.
        assert_eq!(
            place(320, 0, 160, 320, 0),
            Some(Placement {
                start: 320,
                skip: 160
            })
        );
        // Entirely old.
        assert_eq!(place(320, 0, 0, 160, 0), None);
        // Before silence the other side forced in: cut, not snapped.
        assert_eq!(
            place(0, 500, 400, 160, 0),
            Some(Placement {
                start: 500,
                skip: 100
            })
        );
        assert_eq!(place(0, 500, 100, 160, 0), None);
        assert_eq!(
            place(300, 780, 740, 160, 480),
            Some(Placement {
                start: 780,
                skip: 40
            })
        );
    }

    fn collect(il: &mut Interleaver, side: usize, at: u64, v: i16, n: usize, out: &mut Vec<i16>) {
        let p = place(il.end(side), il.end(side), at, n, 0).unwrap();
        let pcm = vec![v; n - p.skip];
        il.push(side, p.start, &pcm, &mut |b: &[i16]| {
            out.extend_from_slice(b);
            Ok::<_, ()>(())
        })
        .unwrap();
    }

    #[test]
    fn interleaves_and_fills_gaps() {
        let mut il = Interleaver::new(1000);
        let mut out = Vec::new();
        collect(&mut il, 0, 0, 1, 100, &mut out);
        assert!(out.is_empty(), "waits for the right side");
        collect(&mut il, 1, 0, 2, 100, &mut out);
        assert_eq!(out.len(), 200);
        assert_eq!(&out[..4], &[1, 2, 1, 2]);
        // Right side has a gap 100..150.
        collect(&mut il, 0, 100, 3, 100, &mut out);
        collect(&mut il, 1, 150, 4, 50, &mut out);
        assert_eq!(out.len(), 400);
        assert_eq!(&out[200..202], &[3, 0]);
        assert_eq!(&out[300..302], &[3, 4]);
    }

    #[test]
    fn silent_side_does_not_stall() {
        let mut il = Interleaver::new(100);
        let mut out = Vec::new();
        collect(&mut il, 0, 0, 7, 300, &mut out);
        assert_eq!(out.len(), 2 * 200, "all but max_lag handed out");
        assert!(out.chunks(2).all(|c| c == [7, 0]));
        // A right frame older than the frontier is cut.
        let p = place(0, il.end(1), 150, 100, 0).unwrap();
        assert_eq!(
            p,
            Placement {
                start: 200,
                skip: 50
            }
        );
        il.drain(true, &mut |b: &[i16]| {
            out.extend_from_slice(b);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(out.len(), 600);
    }

    #[test]
    fn long_gap_is_chunked() {
        let mut il = Interleaver::new(800);
        let mut total = 0usize;
        let mut max_pending = 0usize;
        let mut sink = |b: &[i16]| {
            total += b.len();
            Ok::<_, ()>(())
        };
        il.push(0, 0, &[1; 10], &mut sink).unwrap();
        il.push(0, 1_000_000, &[1; 10], &mut sink).unwrap();
        max_pending = max_pending.max(il.sides[0].len());
        assert!(max_pending <= 800 + 10 + PAD_CHUNK as usize);
        il.drain(true, &mut sink).unwrap();
        assert_eq!(total, 2 * 1_000_010);
    }
}
