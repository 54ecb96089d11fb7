//! In-band DTMF detection with the Goertzel algorithm (one second-order IIR
//! per tone), for peers that send DTMF as audio instead of RFC 4733.
//! Blocks of 205 samples at 8 kHz (≈25.6 ms) as in the classic design; a
//! digit is reported after two consecutive blocks agree and again only after
//! a gap.

use super::Digit;

/// Row (low-group) frequencies, Hz.
pub const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high-group) frequencies, Hz.
pub const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

const BLOCK: usize = 205;
const KEYS: [[Digit; 4]; 4] = [
    [Digit::D1, Digit::D2, Digit::D3, Digit::A],
    [Digit::D4, Digit::D5, Digit::D6, Digit::B],
    [Digit::D7, Digit::D8, Digit::D9, Digit::C],
    [Digit::Star, Digit::D0, Digit::Pound, Digit::D],
];

/// Power of `freq` in `samples` (sampled at `rate`), Goertzel algorithm.
/// Used by the detector and by tests that check spectra.
pub fn goertzel_power(samples: &[i16], freq: f32, rate: f32) -> f32 {
    let coeff = 2.0 * (2.0 * std::f32::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0f32, 0f32);
    for &x in samples {
        let s0 = f32::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Streaming in-band DTMF detector for 8 kHz linear audio.
#[derive(Debug, Clone)]
pub struct GoertzelDetector {
    block: [i16; BLOCK],
    fill: usize,
    last_block: Option<Digit>,
    reported: Option<Digit>,
}

impl Default for GoertzelDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl GoertzelDetector {
    /// New detector.
    pub fn new() -> Self {
        Self {
            block: [0; BLOCK],
            fill: 0,
            last_block: None,
            reported: None,
        }
    }

    /// Feeds samples; calls `on_digit` for each newly detected key.
    pub fn push(&mut self, mut samples: &[i16], mut on_digit: impl FnMut(Digit)) {
        while !samples.is_empty() {
            let n = (BLOCK - self.fill).min(samples.len());
            self.block[self.fill..self.fill + n].copy_from_slice(&samples[..n]);
            self.fill += n;
            samples = &samples[n..];
            if self.fill == BLOCK {
                self.fill = 0;
                let d = detect_block(&self.block);
                if d.is_some() && d == self.last_block && self.reported != d {
                    self.reported = d;
                    if let Some(d) = d {
                        on_digit(d);
                    }
                }
                if d.is_none() && self.last_block.is_none() {
                    self.reported = None;
                }
                self.last_block = d;
            }
        }
    }
}

fn strongest(freqs: &[f32; 4], block: &[i16]) -> (usize, f32, f32) {
    let mut p = [0f32; 4];
    for (i, f) in freqs.iter().enumerate() {
        p[i] = goertzel_power(block, *f, 8000.0);
    }
    let (best, &bp) = p
        .iter()
        .enumerate()
        .fold((0, &0f32), |acc, x| if x.1 > acc.1 { x } else { acc });
    let second = p
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best)
        .map(|(_, v)| *v)
        .fold(0f32, f32::max);
    (best, bp, second)
}

fn detect_block(block: &[i16; BLOCK]) -> Option<Digit> {
    let energy: f32 = block.iter().map(|&x| f32::from(x) * f32::from(x)).sum();
    // absolute threshold: about -30 dBm0 per tone
    if energy < (BLOCK as f32) * 300.0 * 300.0 {
        return None;
    }
    let (r, rp, r2) = strongest(&ROWS, block);
    let (c, cp, c2) = strongest(&COLS, block);
    // each tone must dominate its group by 6 dB; twist within 8 dB (Q.24)
    if rp < 4.0 * r2 || cp < 4.0 * c2 {
        return None;
    }
    let twist = rp / cp;
    if !(1.0 / 6.3..=6.3).contains(&twist) {
        return None;
    }
    // the two tones must carry most of the block energy (rejects speech/noise)
    // Goertzel power of a pure tone of amplitude A over N samples is (A*N/2)^2;
    // block energy of it is A^2*N/2, so power ≈ energy * N / 2.
    let tone_energy = (rp + cp) * 2.0 / BLOCK as f32;
    if tone_energy < 0.6 * energy {
        return None;
    }
    Some(KEYS[r][c])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(d: Digit, ms: usize, amp: f32, start: usize) -> Vec<i16> {
        let (lo, hi) = d.frequencies();
        (start..start + ms * 8)
            .map(|i| {
                let t = i as f32 / 8000.0;
                (amp * ((2.0 * std::f32::consts::PI * lo * t).sin()
                    + (2.0 * std::f32::consts::PI * hi * t).sin())) as i16
            })
            .collect()
    }

    fn detect(audio: &[i16]) -> Vec<Digit> {
        let mut det = GoertzelDetector::new();
        let mut out = Vec::new();
        // feed in 20 ms frames like a media path does
        for f in audio.chunks(160) {
            det.push(f, |d| out.push(d));
        }
        out
    }

    #[test]
    fn detects_every_digit_once() {
        for code in 0..16 {
            let d = Digit::from_event_code(code).unwrap();
            let mut audio = tone(d, 100, 6000.0, 0);
            audio.extend(std::iter::repeat_n(0, 800));
            assert_eq!(detect(&audio), vec![d], "{d:?}");
        }
    }

    #[test]
    fn sequence_with_gaps_and_repeats() {
        let mut audio = Vec::new();
        for d in [Digit::D1, Digit::D1, Digit::D9, Digit::Pound] {
            audio.extend(tone(d, 80, 5000.0, audio.len()));
            audio.extend(std::iter::repeat_n(0, 480));
        }
        assert_eq!(
            detect(&audio),
            vec![Digit::D1, Digit::D1, Digit::D9, Digit::Pound]
        );
    }

    #[test]
    fn rejects_single_tone_noise_and_short_blips() {
        let single: Vec<i16> = (0..4000)
            .map(|i| {
                (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin()) as i16
            })
            .collect();
        assert!(detect(&single).is_empty());
        let mut seed = 12345u32;
        let noise: Vec<i16> = (0..8000)
            .map(|_| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                ((seed >> 16) as i16) / 4
            })
            .collect();
        assert!(detect(&noise).is_empty());
        // 20 ms is too short for two blocks
        let mut blip = tone(Digit::D5, 20, 6000.0, 0);
        blip.extend(std::iter::repeat_n(0, 800));
        assert!(detect(&blip).is_empty());
    }

    #[test]
    fn goertzel_picks_frequency() {
        let s: Vec<i16> = (0..800)
            .map(|i| {
                (1000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin()) as i16
            })
            .collect();
        assert!(goertzel_power(&s, 440.0, 8000.0) > 100.0 * goertzel_power(&s, 880.0, 8000.0));
    }
}
