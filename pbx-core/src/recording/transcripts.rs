//! Transcripts of finished recordings (SPEC §15): a spooled recording's WAV
//! is read at once (before the uploader may delete the local copy) and
//! queued to the recorder crate's bounded [`TranscriptPool`]; its workers
//! run pocketsphinx per channel and store the segments in the recordings
//! index. A full queue skips the recording with a warning and a counter
//! ("when many recordings are queued, conversion is delayed": here, beyond
//! the queue, refused rather than growing without bound).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use recorder::transcript::{Job, JobSource, Pocketsphinx, TranscriptPool};
use recorder::{CallId, Index};

/// Recordings longer than this (bytes of WAV) are not transcribed.
const MAX_WAV_BYTES: u64 = 256 * 1024 * 1024;
/// Recordings waiting for a worker.
const QUEUE: usize = 64;

/// Why transcription could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriberError {
    /// The recognizer binary is missing.
    #[error(
        "recording.transcribe needs pocketsphinx: install the Debian packages pocketsphinx and \
         pocketsphinx-en-us (or set recording.transcribe = false)"
    )]
    Missing,
    /// The pool did not start.
    #[error("recording.transcribe: {0}")]
    Pool(#[from] recorder::Error),
}

/// The transcription side of the recording service.
pub(super) struct Transcriber {
    pool: TranscriptPool,
    skipped: AtomicU64,
}

impl Transcriber {
    /// Starts `workers` recognizer threads storing into `index`.
    pub(super) fn start(workers: usize, index: Arc<Index>) -> Result<Self, TranscriberError> {
        let recognizer = Pocketsphinx::default();
        if !recognizer.available() {
            return Err(TranscriberError::Missing);
        }
        let pool = TranscriptPool::new(workers, QUEUE, Arc::new(recognizer), index)?;
        tracing::info!(workers, "transcripts on (pocketsphinx)");
        Ok(Self {
            pool,
            skipped: AtomicU64::new(0),
        })
    }

    /// A recording reached the spool at `wav`: queue it.
    pub(super) fn spooled(&self, call: &CallId, wav: &Path) {
        let bytes = match std::fs::metadata(wav) {
            Ok(m) if m.len() > MAX_WAV_BYTES => {
                tracing::info!(call_id = %call, bytes = m.len(), "recording too long to transcribe");
                return;
            }
            Ok(_) => std::fs::read(wav),
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(call_id = %call, error = %e, "recording not read for its transcript");
                return;
            }
        };
        let job = Job {
            call_id: call.clone(),
            wav: JobSource::Bytes(bytes.into()),
        };
        if self.pool.submit(job).is_err() {
            let n = self.skipped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(call_id = %call, skipped = n, "transcription queue full: recording not transcribed");
        }
    }
}
