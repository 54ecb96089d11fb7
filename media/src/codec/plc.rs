//! Packet-loss concealment for codecs without their own (G.711): repeat the
//! last good frame with a fade (after ITU-T G.711 Appendix I's idea of
//! attenuating repeated history, without its pitch search) and go silent
//! after 60 ms of consecutive loss.

/// Concealment state for one stream.
#[derive(Debug, Clone)]
pub struct Plc {
    last: Vec<i16>,
    lost: u32,
}

/// Consecutive concealed frames before output is silence.
const MAX_CONCEALED: u32 = 3;

impl Plc {
    /// For frames of `frame_len` samples.
    pub fn new(frame_len: usize) -> Self {
        Self {
            last: vec![0; frame_len],
            lost: 0,
        }
    }
    /// Records a good frame.
    pub fn good(&mut self, frame: &[i16]) {
        let n = frame.len().min(self.last.len());
        self.last[..n].copy_from_slice(&frame[..n]);
        self.lost = 0;
    }
    /// Fills `out` for a lost frame; returns samples written.
    pub fn conceal(&mut self, out: &mut [i16]) -> usize {
        self.lost += 1;
        let n = out.len().min(self.last.len());
        let steps = MAX_CONCEALED as usize * n;
        let start = (self.lost as usize - 1) * n;
        for (i, (o, s)) in out[..n].iter_mut().zip(&self.last).enumerate() {
            let g = steps.saturating_sub(start + i) as i64;
            *o = (i64::from(*s) * g / steps as i64) as i16;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fades_to_silence() {
        let mut p = Plc::new(4);
        p.good(&[1000, -1000, 1000, -1000]);
        let mut out = [0i16; 4];
        p.conceal(&mut out);
        assert_eq!(out[0], 1000);
        assert!(out[3].abs() < 1000);
        p.conceal(&mut out);
        let second = out[0].abs();
        assert!(second < 1000 && second > 0);
        p.conceal(&mut out);
        p.conceal(&mut out);
        assert_eq!(out, [0; 4]);
        p.good(&[5; 4]);
        p.conceal(&mut out);
        assert_eq!(out[0], 5);
    }
}
