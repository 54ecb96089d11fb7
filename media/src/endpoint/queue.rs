//! A small FIFO of 20 ms frames between the network and the mixer: packets
//! arrive with jitter, the mixer takes one frame per tick, so the endpoint
//! thread queues what arrives and hands the mixer one frame on each of its
//! own ticks (10 ms out of phase with the mixer's). When full, the oldest
//! frame goes: latency stays bounded at [`DEPTH`] frames.

use super::session::FRAME;

/// Frames held at most (80 ms).
pub const DEPTH: usize = 4;

/// Fixed-size ring of frames (no allocation after creation).
#[derive(Debug, Clone)]
pub struct FrameQueue {
    frames: [[i16; FRAME]; DEPTH],
    head: usize,
    len: usize,
    /// Frames dropped because the queue was full.
    pub overflows: u64,
}

impl Default for FrameQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameQueue {
    /// Empty queue.
    pub fn new() -> Self {
        Self {
            frames: [[0; FRAME]; DEPTH],
            head: 0,
            len: 0,
            overflows: 0,
        }
    }

    /// Appends a frame (a short one is padded with silence, a long one cut).
    pub fn push(&mut self, pcm: &[i16]) {
        if self.len == DEPTH {
            self.head = (self.head + 1) % DEPTH;
            self.len -= 1;
            self.overflows += 1;
        }
        let slot = &mut self.frames[(self.head + self.len) % DEPTH];
        let n = pcm.len().min(FRAME);
        slot[..n].copy_from_slice(&pcm[..n]);
        slot[n..].fill(0);
        self.len += 1;
    }

    /// The oldest frame.
    pub fn pop(&mut self) -> Option<&[i16; FRAME]> {
        if self.len == 0 {
            return None;
        }
        let i = self.head;
        self.head = (self.head + 1) % DEPTH;
        self.len -= 1;
        Some(&self.frames[i])
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_pads_and_drops_the_oldest_when_full() {
        let mut q = FrameQueue::new();
        assert!(q.pop().is_none());
        q.push(&[7; 100]);
        let f = q.pop().unwrap();
        assert_eq!((f[99], f[100]), (7, 0));
        for k in 0..6 {
            q.push(&[k; FRAME]);
        }
        assert_eq!((q.len(), q.overflows), (DEPTH, 2));
        let got: Vec<i16> = std::iter::from_fn(|| q.pop().map(|f| f[0])).collect();
        assert_eq!(got, [2, 3, 4, 5]);
        q.push(&[1; FRAME]);
        q.clear();
        assert!(q.is_empty());
    }
}
