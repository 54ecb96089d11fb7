//! The bounded transcription pool: `workers` threads take jobs from a queue of
//! `capacity`; a full queue is reported to the submitter (SPEC §15: "when many
//! recordings are queued, conversion is delayed by the queue").

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};

use super::{Recognizer, Segment};
use crate::id::CallId;
use crate::index::Index;
use crate::{Error, Result};

/// A finished recording to transcribe.
#[derive(Debug, Clone)]
pub struct Job {
    /// The call.
    pub call_id: CallId,
    /// The stereo WAV: a spool path (opened when the job runs) or its bytes.
    pub wav: JobSource,
}

/// Where a job's WAV is.
#[derive(Debug, Clone)]
pub enum JobSource {
    /// A file path.
    File(PathBuf),
    /// The file's bytes (e.g. fetched from the object store).
    Bytes(bytes::Bytes),
}

/// Counters of the pool.
#[derive(Debug, Default)]
struct Stats {
    done: AtomicU64,
    failed: AtomicU64,
}

/// The worker pool. Dropping it finishes queued jobs and joins the workers.
#[derive(Debug)]
pub struct TranscriptPool {
    tx: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// Channels with less energy than this (RMS) are treated as silent and skipped.
const SILENT_RMS: f64 = 30.0;

impl TranscriptPool {
    /// Starts `workers` threads (1..=16) over a queue of `capacity` jobs.
    pub fn new(
        workers: usize,
        capacity: usize,
        recognizer: Arc<dyn Recognizer>,
        index: Arc<Index>,
    ) -> Result<Self> {
        if !(1..=16).contains(&workers) || capacity == 0 {
            return Err(Error::Config {
                key: "transcript.workers",
                reason: "workers must be 1..=16 and capacity > 0".into(),
            });
        }
        let (tx, rx) = crossbeam_channel::bounded::<Job>(capacity);
        let stats = Arc::new(Stats::default());
        let mut handles = Vec::new();
        for i in 0..workers {
            let (rx, rec, index, stats) = (
                rx.clone(),
                Arc::clone(&recognizer),
                Arc::clone(&index),
                Arc::clone(&stats),
            );
            let h = std::thread::Builder::new()
                .name(format!("rec-asr-{i}"))
                .spawn(move || {
                    for job in rx {
                        match transcribe(&*rec, &job) {
                            Ok(segs) => match index.put_transcript(&job.call_id, &segs) {
                                Ok(()) => {
                                    stats.done.fetch_add(1, Relaxed);
                                    tracing::info!(call_id = %job.call_id, segments = segs.len(), "transcript stored");
                                }
                                Err(e) => {
                                    stats.failed.fetch_add(1, Relaxed);
                                    tracing::error!(call_id = %job.call_id, error = %e, "storing transcript failed");
                                }
                            },
                            Err(e) => {
                                stats.failed.fetch_add(1, Relaxed);
                                tracing::error!(call_id = %job.call_id, error = %e, "transcription failed");
                            }
                        }
                    }
                })
                .map_err(|e| Error::io("spawn", "rec-asr", e))?;
            handles.push(h);
        }
        Ok(Self {
            tx: Some(tx),
            workers: handles,
            stats,
        })
    }

    /// Queues a job; `Err(job)` when the queue is full (retry later).
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        let Some(tx) = &self.tx else { return Err(job) };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => Err(j),
        }
    }

    /// (finished, failed) jobs so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.stats.done.load(Relaxed),
            self.stats.failed.load(Relaxed),
        )
    }
}

impl Drop for TranscriptPool {
    fn drop(&mut self) {
        self.tx.take();
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Splits the stereo WAV and recognizes each non-silent channel.
pub fn transcribe(rec: &dyn Recognizer, job: &Job) -> Result<Vec<Segment>> {
    let bad = |e: hound::Error| Error::Wav {
        path: format!("job {}", job.call_id).into(),
        source: e,
    };
    let (spec, samples): (hound::WavSpec, Vec<i16>) = match &job.wav {
        JobSource::File(p) => {
            let r = hound::WavReader::open(p).map_err(|source| Error::Wav {
                path: p.clone(),
                source,
            })?;
            let spec = r.spec();
            (
                spec,
                r.into_samples::<i16>()
                    .collect::<std::result::Result<_, _>>()
                    .map_err(bad)?,
            )
        }
        JobSource::Bytes(b) => {
            let r = hound::WavReader::new(std::io::Cursor::new(b.as_ref())).map_err(bad)?;
            let spec = r.spec();
            (
                spec,
                r.into_samples::<i16>()
                    .collect::<std::result::Result<_, _>>()
                    .map_err(bad)?,
            )
        }
    };
    let ch = usize::from(spec.channels.max(1));
    let mut out = Vec::new();
    for c in 0..ch.min(2) {
        let mono: Vec<i16> = samples.iter().skip(c).step_by(ch).copied().collect();
        let rms = (mono.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
            / mono.len().max(1) as f64)
            .sqrt();
        if rms < SILENT_RMS {
            continue;
        }
        for (i, mut s) in rec
            .recognize(&mono, spec.sample_rate)?
            .into_iter()
            .enumerate()
        {
            s.channel = c as u8;
            s.seq = i as u32;
            out.push(s);
        }
    }
    out.sort_by_key(|s| (s.start_ms, s.channel));
    Ok(out)
}
