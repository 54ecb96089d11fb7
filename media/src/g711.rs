//! G.711 µ-law and A-law (ITU-T G.711), table driven. The tables are built
//! at compile time from the reference segment algorithm (Sun's g711.c), so
//! encoding is one shift and one table load per sample.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;

const fn ulaw_encode_14(pcm: i32) -> u8 {
    // pcm is a 14-bit sample
    let (mut v, mask) = if pcm < 0 { (-pcm, 0x7f) } else { (pcm, 0xff) };
    if v > ULAW_CLIP {
        v = ULAW_CLIP;
    }
    v += ULAW_BIAS >> 2;
    let mut seg = 0;
    let ends = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    while seg < 8 && v > ends[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let u = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0xf);
    (u as u8) ^ mask
}

const fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let mut t = (((u & 0x0f) as i32) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const fn alaw_encode_13(pcm: i32) -> u8 {
    let (v, mask) = if pcm >= 0 {
        (pcm, 0xd5)
    } else {
        (-pcm - 1, 0x55)
    };
    let ends = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
    let mut seg = 0;
    while seg < 8 && v > ends[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let mut a = (seg as i32) << 4;
    if seg < 2 {
        a |= (v >> 1) & 0xf;
    } else {
        a |= (v >> seg) & 0xf;
    }
    (a as u8) ^ mask
}

const fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

const fn build_ulaw_enc() -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        t[i] = ulaw_encode_14(i as i32 - 8192);
        i += 1;
    }
    t
}
const fn build_alaw_enc() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = alaw_encode_13(i as i32 - 4096);
        i += 1;
    }
    t
}
const fn build_dec(ulaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if ulaw {
            ulaw_decode(i as u8)
        } else {
            alaw_decode(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_ENC: [u8; 16384] = build_ulaw_enc();
static ALAW_ENC: [u8; 8192] = build_alaw_enc();
static ULAW_DEC: [i16; 256] = build_dec(true);
static ALAW_DEC: [i16; 256] = build_dec(false);

/// Encodes one linear sample to µ-law.
#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    ULAW_ENC[((i32::from(s) >> 2) + 8192) as usize]
}
/// Decodes one µ-law sample.
#[inline]
pub fn ulaw_decode_sample(u: u8) -> i16 {
    ULAW_DEC[usize::from(u)]
}
/// Encodes one linear sample to A-law.
#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENC[((i32::from(s) >> 3) + 4096) as usize]
}
/// Decodes one A-law sample.
#[inline]
pub fn alaw_decode_sample(a: u8) -> i16 {
    ALAW_DEC[usize::from(a)]
}

/// The two G.711 laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, payload type 0).
    Ulaw,
    /// A-law (PCMA, payload type 8).
    Alaw,
}

impl Law {
    /// Encodes `pcm` into `out[..pcm.len()]`; returns the count written
    /// (min of both lengths).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        match self {
            Self::Ulaw => pcm[..n]
                .iter()
                .zip(&mut out[..n])
                .for_each(|(s, o)| *o = ulaw_encode(*s)),
            Self::Alaw => pcm[..n]
                .iter()
                .zip(&mut out[..n])
                .for_each(|(s, o)| *o = alaw_encode(*s)),
        }
        n
    }
    /// Decodes `g711` into `out`; returns the count written.
    pub fn decode(self, g711: &[u8], out: &mut [i16]) -> usize {
        let n = g711.len().min(out.len());
        let table = match self {
            Self::Ulaw => &ULAW_DEC,
            Self::Alaw => &ALAW_DEC,
        };
        g711[..n]
            .iter()
            .zip(&mut out[..n])
            .for_each(|(c, o)| *o = table[usize::from(*c)]);
        n
    }
    /// Encoded value of digital silence.
    pub fn silence(self) -> u8 {
        match self {
            Self::Ulaw => 0xff,
            Self::Alaw => 0xd5,
        }
    }
}

/// Signal-to-noise ratio in dB of `decoded` against `reference`.
pub fn snr_db(reference: &[i16], decoded: &[i16]) -> f64 {
    let (mut sig, mut noise) = (0f64, 0f64);
    for (r, d) in reference.iter().zip(decoded) {
        let r = f64::from(*r);
        sig += r * r;
        noise += (r - f64::from(*d)).powi(2);
    }
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (sig / noise).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn every_code_round_trips() {
        for c in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode_sample(c)), c, "alaw {c:#x}");
            let u = ulaw_encode(ulaw_decode_sample(c));
            // 0x7f (negative zero) decodes to 0 which encodes as 0xff
            if c != 0x7f {
                assert_eq!(u, c, "ulaw {c:#x}");
            }
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(ulaw_decode_sample(0x00), -32124);
        assert_eq!(ulaw_decode_sample(0x80), 32124);
        assert_eq!(alaw_decode_sample(0x55), -8);
        assert_eq!(alaw_decode_sample(0xd5), 8);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn snr_of_sine_round_trip() {
        for law in [Law::Ulaw, Law::Alaw] {
            for (amp, min_snr) in [(16000.0, 35.0), (1000.0, 30.0)] {
                let pcm = sine(1004.0, amp, 8000);
                let mut enc = vec![0u8; pcm.len()];
                let mut dec = vec![0i16; pcm.len()];
                law.encode(&pcm, &mut enc);
                law.decode(&enc, &mut dec);
                let snr = snr_db(&pcm, &dec);
                assert!(snr > min_snr, "{law:?} amp {amp}: snr {snr}");
                assert!(
                    snr < 45.0,
                    "{law:?}: 8-bit companding cannot exceed ~40 dB, got {snr}"
                );
            }
        }
    }
}
