//! Audio helpers shared by the interop tests: sine WAVs, a WAV reader and a
//! Goertzel tone detector (no external tools).

use std::io::Read;
use std::path::Path;

/// A 16-bit mono 8 kHz sine WAV, made without external tools.
pub(crate) fn write_tone(path: &Path, freq: f64, secs: f64) {
    let n = (8000.0 * secs) as usize;
    let mut data = Vec::with_capacity(44 + 2 * n);
    let push32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    data.extend_from_slice(b"RIFF");
    push32(&mut data, 36 + 2 * n as u32);
    data.extend_from_slice(b"WAVEfmt ");
    push32(&mut data, 16);
    data.extend_from_slice(&[1, 0, 1, 0]);
    push32(&mut data, 8000);
    push32(&mut data, 16000);
    data.extend_from_slice(&[2, 0, 16, 0]);
    data.extend_from_slice(b"data");
    push32(&mut data, 2 * n as u32);
    for i in 0..n {
        let s = (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16;
        data.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, data).unwrap();
}

/// Share of the signal's energy at `freq` (Goertzel), 1.0 for a pure tone.
pub(crate) fn tone_share(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &x in samples {
        let x = f64::from(x);
        energy += x * x;
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if energy == 0.0 {
        return 0.0;
    }
    power / (energy * samples.len() as f64 / 2.0)
}

/// Sample rate and samples of a 16-bit PCM WAV with a 44-byte header.
pub(crate) fn read_wav(path: &Path) -> (f64, Vec<i16>) {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let rate = f64::from(u32::from_le_bytes(bytes[24..28].try_into().unwrap()));
    let samples = bytes[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (rate, samples)
}
