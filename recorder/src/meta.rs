//! The sidecar: a JSON file beside each spooled WAV holding the recording's
//! metadata and its upload state. It is replaced atomically (write to a temp
//! file, fsync, rename, fsync the directory), so a crash leaves the old or the
//! new version, never a torn one.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{CallId, SampleRate};
use crate::wav::sync_dir;
use crate::{Error, Result};

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written.
    Recording,
    /// Closed (or recovered), hashed and waiting in the spool for upload.
    Spooled,
    /// In the object store, verified; the local copy is gone.
    Uploaded,
    /// Given up: the local file is unreadable or changed, or the configured
    /// attempt limit was reached. Kept in the spool for an operator.
    Failed,
}

impl RecordingState {
    /// The stable lower-case name (`"spooled"`), as stored in the index and call records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Spooled => "spooled",
            Self::Uploaded => "uploaded",
            Self::Failed => "failed",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "recording" => Self::Recording,
            "spooled" => Self::Spooled,
            "uploaded" => Self::Uploaded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A paused interval, in milliseconds from the recording's start. The file
/// holds silence there so the timeline stays aligned with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedSpan {
    /// Pause started.
    pub start_ms: u64,
    /// Pause ended (resume, or the recording's end).
    pub end_ms: u64,
}

/// Who and what a recording belongs to. All optional except the call id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parties {
    /// Caller (left channel), as dialed/received digits or a URI user.
    pub caller: Option<String>,
    /// Callee / dialed number.
    pub callee: Option<String>,
    /// The queue (skill group) that handed the call over.
    pub queue: Option<String>,
    /// The agent (right channel).
    pub agent: Option<String>,
    /// Retention policy name (see [`crate::retention`]); `None` = "default".
    pub policy: Option<String>,
}

/// Upload bookkeeping, persisted so retries continue after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadProgress {
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time (backoff).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// The object key, once known.
    pub key: Option<String>,
    /// When the verified upload finished.
    pub uploaded_at: Option<DateTime<Utc>>,
}

/// The sidecar's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The call.
    pub call_id: CallId,
    /// Parties, queue, agent, policy.
    #[serde(flatten)]
    pub parties: Parties,
    /// Wall-clock start (UTC).
    pub started_at: DateTime<Utc>,
    /// Audio length in milliseconds (set at close or recovery).
    pub duration_ms: u64,
    /// Sample rate of both channels.
    pub sample_rate: SampleRate,
    /// Always 2: caller left, agent right.
    pub channels: u16,
    /// Paused intervals.
    pub paused: Vec<PausedSpan>,
    /// Lifecycle state.
    pub state: RecordingState,
    /// sha256 of the closed file (hex).
    pub sha256: Option<String>,
    /// Size of the closed file in bytes.
    pub size: Option<u64>,
    /// Frames dropped because the writer queue was full.
    pub dropped_frames: u64,
    /// Frames (or parts) dropped because they arrived after their place was written.
    pub late_frames: u64,
    /// True when the file was closed by [`crate::Spool::recover`] after a crash.
    pub recovered: bool,
    /// Set when writing stopped on an I/O error (the file holds what was written before it).
    pub write_error: Option<String>,
    /// True when the recording hit the configured maximum duration.
    pub truncated: bool,
    /// Upload bookkeeping.
    pub upload: UploadProgress,
}

impl Metadata {
    /// A fresh sidecar for a recording that starts now.
    pub fn new(
        call_id: CallId,
        parties: Parties,
        started_at: DateTime<Utc>,
        sample_rate: SampleRate,
    ) -> Self {
        Self {
            call_id,
            parties,
            started_at,
            duration_ms: 0,
            sample_rate,
            channels: 2,
            paused: Vec::new(),
            state: RecordingState::Recording,
            sha256: None,
            size: None,
            dropped_frames: 0,
            late_frames: 0,
            recovered: false,
            write_error: None,
            truncated: false,
            upload: UploadProgress::default(),
        }
    }

    /// Reads a sidecar.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Sidecar {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Replaces the sidecar at `path` atomically and durably.
    pub fn store(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::Sidecar {
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(&json)
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Total paused milliseconds.
    pub fn paused_ms(&self) -> u64 {
        self.paused
            .iter()
            .map(|p| p.end_ms.saturating_sub(p.start_ms))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_atomic_replace() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c1.json");
        let mut m = Metadata::new(
            CallId::new("c1").unwrap(),
            Parties {
                caller: Some("+4930123".into()),
                agent: Some("alice".into()),
                ..Parties::default()
            },
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            SampleRate::Hz8000,
        );
        m.paused.push(PausedSpan {
            start_ms: 1000,
            end_ms: 2500,
        });
        m.store(&p).unwrap();
        m.state = RecordingState::Spooled;
        m.store(&p).unwrap();
        let back = Metadata::load(&p).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.paused_ms(), 1500);
        assert!(!dir.path().join("c1.json.tmp").exists());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"state\": \"spooled\"") && text.contains("\"sample_rate\": 8000"),
            "{text}"
        );
        for s in [
            RecordingState::Recording,
            RecordingState::Spooled,
            RecordingState::Uploaded,
            RecordingState::Failed,
        ] {
            assert_eq!(RecordingState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn bad_sidecar_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, b"{\"call_id\": \"../etc\"}").unwrap();
        assert!(matches!(Metadata::load(&p), Err(Error::Sidecar { .. })));
    }
}
