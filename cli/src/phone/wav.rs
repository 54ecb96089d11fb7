//! WAV in and out (16-bit PCM through `hound`): `--play` files become the
//! microphone, `--record` files get what the phone hears. Everything is
//! converted to 8 kHz mono, the G.711 rate.

use std::path::Path;

use anyhow::Context;

/// The telephone sample rate.
pub(crate) const RATE: u32 = 8000;

/// Reads a WAV file as 8 kHz mono samples (channels averaged, other rates
/// resampled by nearest sample, good enough for prompts and test tones).
pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<i16>> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("opening {}", path.display()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<i32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let shift = i32::from(spec.bits_per_sample).saturating_sub(16);
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| if shift >= 0 { v >> shift } else { v << -shift }))
                .collect::<Result<_, _>>()?
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i32))
            .collect::<Result<_, _>>()?,
    };
    let mono: Vec<i16> = samples
        .chunks(channels)
        .map(|c| (c.iter().sum::<i32>() / c.len() as i32).clamp(-32768, 32767) as i16)
        .collect();
    if spec.sample_rate == RATE || mono.is_empty() {
        return Ok(mono);
    }
    let n = (mono.len() as u64 * u64::from(RATE) / u64::from(spec.sample_rate)) as usize;
    Ok((0..n)
        .map(|i| mono[(i as u64 * u64::from(spec.sample_rate) / u64::from(RATE)) as usize])
        .collect())
}

/// Writes 8 kHz mono 16-bit samples.
pub(crate) fn write(path: &Path, samples: &[i16]) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for s in samples {
        w.write_sample(*s)?;
    }
    w.finalize()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_resample() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.wav");
        let samples: Vec<i16> = (0..800).map(|i| (i * 40 - 16000) as i16).collect();
        write(&p, &samples).expect("write");
        assert_eq!(read(&p).expect("read"), samples);
        // 16 kHz stereo → 8 kHz mono: every other frame, channels averaged.
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let q = dir.path().join("b.wav");
        let mut w = hound::WavWriter::create(&q, spec).expect("create");
        for i in 0..100i16 {
            w.write_sample(i * 2).expect("l");
            w.write_sample(i * 4).expect("r");
        }
        w.finalize().expect("finalize");
        let got = read(&q).expect("read");
        assert_eq!(got.len(), 50);
        assert_eq!(got[1], 6);
    }
}
