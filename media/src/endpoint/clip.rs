//! Decoded prompt clips: 8 kHz mono 16-bit WAV files read with `hound`,
//! cached by path in an `Arc` so every caller hearing the same prompt (or
//! music on hold) shares one copy. Loading happens on the control side,
//! never on the media thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::EndpointError;

/// Samples per second of every clip.
pub const CLIP_RATE: u32 = 8000;

/// Cache of decoded clips by path.
#[derive(Debug, Default)]
pub struct ClipCache {
    clips: Mutex<HashMap<PathBuf, Arc<[i16]>>>,
}

impl ClipCache {
    /// Empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The decoded clip at `path` (read once, then shared).
    pub fn get(&self, path: &Path) -> Result<Arc<[i16]>, EndpointError> {
        if let Some(c) = self.lock().get(path) {
            return Ok(c.clone());
        }
        let clip = load(path)?;
        self.lock().insert(path.to_owned(), clip.clone());
        Ok(clip)
    }

    /// Number of cached clips.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<[i16]>>> {
        self.clips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads an 8 kHz mono 16-bit PCM WAV file.
pub fn load(path: &Path) -> Result<Arc<[i16]>, EndpointError> {
    let bad = |reason: String| EndpointError::Clip {
        path: path.to_owned(),
        reason,
    };
    let reader = hound::WavReader::open(path).map_err(|e| bad(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_rate != CLIP_RATE
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(bad(format!(
            "{} Hz, {} channel(s), {}-bit: need 8000 Hz mono 16-bit PCM",
            spec.sample_rate, spec.channels, spec.bits_per_sample
        )));
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<i16>, _>>()
        .map(Arc::from)
        .map_err(|e| bad(e.to_string()))
}

/// The recording beep: 250 ms of 1 kHz at about -12 dBFS.
pub fn beep() -> Arc<[i16]> {
    let n = CLIP_RATE as usize / 4;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(CLIP_RATE);
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
        })
        .collect::<Vec<_>>()
        .into()
}

/// The WAV format of recordings (the same as prompts).
pub fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: CLIP_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}
