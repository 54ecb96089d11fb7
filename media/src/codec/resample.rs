//! Rational-ratio polyphase FIR resampler (8/16/48 kHz and any ratio of
//! small integers). Coefficients: Blackman-windowed sinc, cutoff at 90 % of
//! the lower Nyquist frequency. Streaming: history carries across frames, so
//! 20 ms frames in give exact 20 ms frames out. No allocation after `new`.

/// Errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// A rate is zero or the reduced ratio is too large (> 48 either way).
    #[error("unsupported resampling ratio {from} Hz -> {to} Hz")]
    Unsupported {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
    },
    /// Input frame larger than configured.
    #[error("input of {got} samples exceeds the configured maximum {max}")]
    FrameTooLarge {
        /// Samples given.
        got: usize,
        /// Maximum.
        max: usize,
    },
}

const TAPS_PER_ZERO: usize = 16;

/// Streaming resampler for mono i16 audio.
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    taps: usize,
    coeffs: Vec<f32>,
    buf: Vec<f32>,
    pos: usize,
    max_in: usize,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Resampler {
    /// Resampler from `from` Hz to `to` Hz accepting up to `max_in` samples per call.
    pub fn new(from: u32, to: u32, max_in: usize) -> Result<Self, ResampleError> {
        if from == 0 || to == 0 {
            return Err(ResampleError::Unsupported { from, to });
        }
        let g = gcd(from, to);
        let (up, down) = ((to / g) as usize, (from / g) as usize);
        if up > 48 || down > 48 {
            return Err(ResampleError::Unsupported { from, to });
        }
        let taps = if up == down {
            1
        } else {
            TAPS_PER_ZERO * down.max(up).div_ceil(up)
        };
        let n = up * taps;
        let mut coeffs = vec![0f32; n];
        if up == down {
            coeffs[0] = 1.0;
        } else {
            // cutoff in cycles per upsampled sample
            let fc = 0.45 * (1.0 / up.max(down) as f64);
            let c = (n as f64 - 1.0) / 2.0;
            let mut h = vec![0f64; n];
            for (i, v) in h.iter_mut().enumerate() {
                let x = i as f64 - c;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let w = 0.42
                    - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n as f64 - 1.0)).cos()
                    + 0.08 * (4.0 * std::f64::consts::PI * i as f64 / (n as f64 - 1.0)).cos();
                *v = sinc * w * up as f64;
            }
            // phase-major layout: coeffs[phase * taps + k] = h[phase + k * up]
            for phase in 0..up {
                for k in 0..taps {
                    coeffs[phase * taps + k] = h[phase + k * up] as f32;
                }
            }
        }
        Ok(Self {
            up,
            down,
            taps,
            coeffs,
            buf: vec![0.0; taps - 1 + max_in],
            pos: 0,
            max_in,
        })
    }

    /// Output samples produced for `n` input samples (exact when the ratio divides).
    pub fn output_len(&self, n: usize) -> usize {
        (n * self.up).div_ceil(self.down)
    }

    /// Resamples `input` into `out`; returns samples written. `out` must hold
    /// [`Resampler::output_len`] samples (extra output is dropped).
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> Result<usize, ResampleError> {
        if input.len() > self.max_in {
            return Err(ResampleError::FrameTooLarge {
                got: input.len(),
                max: self.max_in,
            });
        }
        let h = self.taps - 1;
        for (b, &x) in self.buf[h..h + input.len()].iter_mut().zip(input) {
            *b = f32::from(x);
        }
        let end = input.len() * self.up;
        let mut n = 0;
        while self.pos < end {
            let idx = self.pos / self.up;
            let phase = self.pos % self.up;
            let c = &self.coeffs[phase * self.taps..(phase + 1) * self.taps];
            let newest = idx + h;
            let mut acc = 0f32;
            for (k, ck) in c.iter().enumerate() {
                acc += ck * self.buf[newest - k];
            }
            if let Some(o) = out.get_mut(n) {
                *o = acc.round().clamp(-32768.0, 32767.0) as i16;
                n += 1;
            }
            self.pos += self.down;
        }
        self.pos -= end;
        self.buf.copy_within(input.len()..input.len() + h, 0);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f64, rate: f64, n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin()) as i16)
            .collect()
    }

    /// SNR of `x` against the best-fitting sinusoid at `f` (delay-independent).
    fn tone_snr(x: &[i16], f: f64, rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * f / rate;
        let (mut ss, mut sc) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            ss += f64::from(v) * (w * i as f64).sin();
            sc += f64::from(v) * (w * i as f64).cos();
        }
        let (a, b) = (2.0 * ss / x.len() as f64, 2.0 * sc / x.len() as f64);
        let (mut sig, mut noise) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let fit = a * (w * i as f64).sin() + b * (w * i as f64).cos();
            sig += fit * fit;
            noise += (f64::from(v) - fit).powi(2);
        }
        10.0 * (sig / noise).log10()
    }

    fn run(r: &mut Resampler, input: &[i16], frame: usize) -> Vec<i16> {
        let mut out = Vec::new();
        let mut buf = vec![0i16; r.output_len(frame) + 1];
        for f in input.chunks(frame) {
            let n = r.process(f, &mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn frame_sizes_are_exact() {
        for (from, to) in [
            (8000, 48000),
            (48000, 8000),
            (8000, 16000),
            (16000, 8000),
            (16000, 48000),
            (48000, 16000),
            (8000, 8000),
        ] {
            let mut r = Resampler::new(from, to, 960).unwrap();
            let frame = from as usize / 50;
            let mut out = vec![0i16; 2000];
            for _ in 0..5 {
                assert_eq!(
                    r.process(&vec![0; frame][..], &mut out).unwrap(),
                    to as usize / 50,
                    "{from}->{to}"
                );
            }
        }
    }

    #[test]
    fn round_trip_keeps_a_tone() {
        for mid in [16000, 48000] {
            let x = sine(1000.0, 8000.0, 8000, 10000.0);
            let mut up = Resampler::new(8000, mid, 960).unwrap();
            let mut down = Resampler::new(mid, 8000, 960).unwrap();
            let hi = run(&mut up, &x, 160);
            assert!(tone_snr(&hi[1000..], 1000.0, f64::from(mid)) > 40.0);
            let back = run(&mut down, &hi, mid as usize / 50);
            let snr = tone_snr(&back[400..], 1000.0, 8000.0);
            assert!(snr > 40.0, "8k->{mid}->8k: {snr} dB");
        }
    }

    #[test]
    fn downsampling_rejects_aliases() {
        // 6 kHz at 48 kHz would alias to 2 kHz at 8 kHz
        let x = sine(6000.0, 48000.0, 48000, 10000.0);
        let mut r = Resampler::new(48000, 8000, 960).unwrap();
        let y = run(&mut r, &x, 960);
        let rms = (y[400..].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>()
            / (y.len() - 400) as f64)
            .sqrt();
        assert!(rms < 10000.0 / 2f64.sqrt() / 100.0, "alias rms {rms}");
    }

    #[test]
    fn errors() {
        assert!(Resampler::new(0, 8000, 10).is_err());
        assert!(Resampler::new(44100, 8000, 10).is_err());
        let mut r = Resampler::new(8000, 16000, 10).unwrap();
        assert!(matches!(
            r.process(&[0; 11], &mut [0; 40]),
            Err(ResampleError::FrameTooLarge { .. })
        ));
    }
}
