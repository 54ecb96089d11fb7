//! Prompt checks: every prompt must be an 8 kHz mono WAV file (the G.711
//! rate the media core plays without resampling).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::Diagnostics;
use crate::model::{Flow, NodeKind, Prompt};

/// Header facts of a prompt file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptInfo {
    /// Samples per second.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Bits per sample.
    pub bits_per_sample: u16,
    /// Whether samples are integer PCM.
    pub pcm: bool,
    /// Playing time.
    pub duration: Duration,
}

/// Reads the WAV header of `path` (`hound`), without reading the samples.
pub fn prompt_info(path: &Path) -> Result<PromptInfo, String> {
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "file not found".to_owned()
        }
        other => other.to_string(),
    })?;
    let spec = reader.spec();
    let frames = u64::from(reader.duration());
    let duration = if spec.sample_rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_micros(frames * 1_000_000 / u64::from(spec.sample_rate))
    };
    Ok(PromptInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits_per_sample: spec.bits_per_sample,
        pcm: spec.sample_format == hound::SampleFormat::Int,
        duration,
    })
}

/// All prompts of a node.
pub(crate) fn node_prompts(kind: &NodeKind) -> Vec<&Prompt> {
    match kind {
        NodeKind::Play(p) => p.prompts.iter().collect(),
        NodeKind::Menu(m) => m
            .prompts
            .iter()
            .chain(&m.invalid_prompts)
            .chain(&m.timeout_prompts)
            .collect(),
        NodeKind::Collect(c) => c.prompts.iter().chain(&c.invalid_prompts).collect(),
        NodeKind::Record(r) => r.prompts.iter().collect(),
        _ => Vec::new(),
    }
}

pub(super) fn check_prompts(flow: &Flow, d: &mut Diagnostics<'_>) {
    let mut cache: HashMap<PathBuf, Result<PromptInfo, String>> = HashMap::new();
    for node in &flow.nodes {
        for prompt in node_prompts(&node.kind) {
            let info = cache
                .entry(prompt.path.clone())
                .or_insert_with(|| prompt_info(&prompt.path));
            let shown = prompt.path.display();
            match info {
                Err(e) => d.error(
                    prompt.span.clone(),
                    format!("prompt `{}` ({shown}): {e}", prompt.name),
                ),
                Ok(i) => {
                    if i.sample_rate != 8000 || i.channels != 1 {
                        d.error(
                            prompt.span.clone(),
                            format!(
                                "prompt `{}` is {} Hz with {} channel(s); prompts must be 8000 Hz mono",
                                prompt.name, i.sample_rate, i.channels
                            ),
                        );
                    } else if !i.pcm || i.bits_per_sample != 16 {
                        d.warning(
                            prompt.span.clone(),
                            format!(
                                "prompt `{}` is {}-bit {}; 16-bit PCM is expected",
                                prompt.name,
                                i.bits_per_sample,
                                if i.pcm { "PCM" } else { "float" }
                            ),
                        );
                    }
                }
            }
        }
    }
}
