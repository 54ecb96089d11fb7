//! Sound card audio through cpal (feature `audio`, needs ALSA headers on
//! Linux: `apt-get install libasound2-dev`). The capture callback turns
//! the device's stream into 8 kHz mono samples for the RTP sender; the
//! playback callback drains what the jitter buffer produced. Both sides
//! meet in small shared queues ([`Pcm`]), bounded to half a second so a
//! stalled side cannot grow memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig};

use super::wav::RATE;

/// 8 kHz mono samples shared between a cpal callback and the media task.
pub(crate) type Pcm = Arc<Mutex<VecDeque<i16>>>;

const MAX_QUEUED: usize = RATE as usize / 2;

/// Open capture and playback streams; dropping it stops both.
pub(crate) struct SoundCard {
    _input: cpal::Stream,
    _output: cpal::Stream,
    /// What the microphone captured, 8 kHz mono.
    pub(crate) mic: Pcm,
    /// What to play, 8 kHz mono.
    pub(crate) speaker: Pcm,
}

/// Names of the input and output devices, for `pbx phone devices`.
pub(crate) fn list() -> anyhow::Result<Vec<String>> {
    let host = cpal::default_host();
    let mut out = Vec::new();
    for (kind, devices) in [
        ("input", host.input_devices()?),
        ("output", host.output_devices()?),
    ] {
        for d in devices {
            out.push(format!("{kind}: {}", name(&d)));
        }
    }
    Ok(out)
}

/// `id (description)`: the id (e.g. ALSA's `null`, `default`) is what
/// `--input-device`/`--output-device` match first.
fn name(d: &cpal::Device) -> String {
    let id = d.id().map_or_else(|_| "?".into(), |id| id.to_string());
    match d.description() {
        Ok(desc) => format!("{id} ({})", desc.name()),
        Err(_) => id,
    }
}

fn find(devices: impl Iterator<Item = cpal::Device>, wanted: &str) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = devices.collect();
    let id_is = |d: &cpal::Device| {
        d.id().is_ok_and(|id| {
            id.to_string() == wanted || id.to_string().ends_with(&format!(":{wanted}"))
        })
    };
    let pos = devices
        .iter()
        .position(id_is)
        .or_else(|| devices.iter().position(|d| name(d).contains(wanted)))?;
    devices.into_iter().nth(pos)
}

/// Opens the named devices (or the defaults).
pub(crate) fn open(input: Option<&str>, output: Option<&str>) -> anyhow::Result<SoundCard> {
    let host = cpal::default_host();
    let input_dev = match input {
        Some(n) => {
            find(host.input_devices()?, n).with_context(|| format!("no input device {n:?}"))?
        }
        None => host
            .default_input_device()
            .context("no default input device")?,
    };
    let output_dev = match output {
        Some(n) => {
            find(host.output_devices()?, n).with_context(|| format!("no output device {n:?}"))?
        }
        None => host
            .default_output_device()
            .context("no default output device")?,
    };
    let mic: Pcm = Arc::default();
    let speaker: Pcm = Arc::default();
    let in_cfg = input_dev.default_input_config()?;
    let out_cfg = output_dev.default_output_config()?;
    let input = match in_cfg.sample_format() {
        SampleFormat::F32 => capture::<f32>(&input_dev, in_cfg.config(), Arc::clone(&mic))?,
        SampleFormat::I16 => capture::<i16>(&input_dev, in_cfg.config(), Arc::clone(&mic))?,
        other => bail!("input sample format {other} is not supported"),
    };
    let output = match out_cfg.sample_format() {
        SampleFormat::F32 => playback::<f32>(&output_dev, out_cfg.config(), Arc::clone(&speaker))?,
        SampleFormat::I16 => playback::<i16>(&output_dev, out_cfg.config(), Arc::clone(&speaker))?,
        other => bail!("output sample format {other} is not supported"),
    };
    input.play()?;
    output.play()?;
    Ok(SoundCard {
        _input: input,
        _output: output,
        mic,
        speaker,
    })
}

/// Capture: first channel, decimated to 8 kHz by a phase accumulator.
fn capture<T>(device: &cpal::Device, config: StreamConfig, mic: Pcm) -> anyhow::Result<cpal::Stream>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let rate = config.sample_rate.max(1);
    let mut phase = 0u32;
    let stream = device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            let Ok(mut q) = mic.lock() else { return };
            for frame in data.chunks(channels) {
                phase += RATE;
                if phase >= rate {
                    phase -= rate;
                    let s = f32::from_sample(frame[0]).clamp(-1.0, 1.0);
                    q.push_back((s * 32767.0) as i16);
                }
            }
            let excess = q.len().saturating_sub(MAX_QUEUED);
            q.drain(..excess);
        },
        |e| tracing::warn!(error = %e, "audio input error"),
        None,
    )?;
    Ok(stream)
}

/// Playback: each 8 kHz sample held for as many device frames as needed.
fn playback<T>(
    device: &cpal::Device,
    config: StreamConfig,
    speaker: Pcm,
) -> anyhow::Result<cpal::Stream>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    let rate = config.sample_rate.max(1);
    let mut phase = 0u32;
    let mut current = 0i16;
    let stream = device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _| {
            let Ok(mut q) = speaker.lock() else { return };
            for frame in data.chunks_mut(channels) {
                phase += RATE;
                if phase >= rate {
                    phase -= rate;
                    current = q.pop_front().unwrap_or(0);
                }
                let v = T::from_sample(f32::from(current) / 32768.0);
                frame.iter_mut().for_each(|s| *s = v);
            }
            let excess = q.len().saturating_sub(MAX_QUEUED);
            q.drain(..excess);
        },
        |e| tracing::warn!(error = %e, "audio output error"),
        None,
    )?;
    Ok(stream)
}
