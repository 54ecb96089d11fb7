//! The crate's error type: one enum, typed variants, no string catch-all.

use std::path::PathBuf;

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the recorder can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call id that cannot name a file or an object key.
    #[error(
        "invalid call id {0:?}: 1..=128 characters of [A-Za-z0-9._@+~-], not starting with '.'"
    )]
    InvalidCallId(String),
    /// A sample rate other than 8000 or 16000 Hz.
    #[error("unsupported sample rate {0} Hz (8000 or 16000)")]
    UnsupportedSampleRate(u32),
    /// A recording for this call id is already running or spooled.
    #[error("a recording for call {0} already exists")]
    AlreadyRecording(String),
    /// The spool refuses new recordings: free space below the configured minimum or
    /// a write error happened since the last successful check.
    #[error("spool {path} refuses new recordings: {free_bytes} bytes free, {min_free_bytes} required{}", last_error.as_ref().map(|e| format!(" (last write error: {e})")).unwrap_or_default())]
    SpoolFull {
        /// The spool directory.
        path: PathBuf,
        /// Free bytes on its file system at the check.
        free_bytes: u64,
        /// The configured minimum.
        min_free_bytes: u64,
        /// The write error that closed the spool, if that was the cause.
        last_error: Option<String>,
    },
    /// Another process holds the spool directory's lock.
    #[error("spool {0} is locked by another recorder")]
    SpoolLocked(PathBuf),
    /// The writer thread has stopped (the recorder was shut down).
    #[error("the recorder's writer thread has stopped")]
    WriterStopped,
    /// File-system I/O on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "write", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A WAV file that cannot be parsed or repaired.
    #[error("{path}: not a repairable WAV file: {reason}")]
    BadWav {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// hound failed writing or reading a WAV.
    #[error("wav {path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// hound's error.
        #[source]
        source: hound::Error,
    },
    /// A sidecar metadata file that does not parse.
    #[error("sidecar {path}: {source}")]
    Sidecar {
        /// The sidecar file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A configuration value out of range; `key` is the field's path.
    #[error("config {key}: {reason}")]
    Config {
        /// Dotted path of the offending field, e.g. `upload.s3.bucket`.
        key: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// An uploaded object did not match the local file.
    #[error("verification of {key} failed: {reason}")]
    Verify {
        /// The object key.
        key: String,
        /// Size or hash mismatch, described.
        reason: String,
    },
    /// The local file no longer matches the hash recorded at close.
    #[error("local recording {path} does not match its sidecar sha256")]
    LocalCorrupt {
        /// The WAV file.
        path: PathBuf,
    },
    /// No recording with this call id is known.
    #[error("no recording for call {0}")]
    NotFound(String),
    /// The recording index (SQLite) failed.
    #[error("index: {0}")]
    Index(#[from] rusqlite::Error),
    /// A transcription engine failed.
    #[error("recognizer {engine}: {reason}")]
    Recognizer {
        /// Which engine ("pocketsphinx", "http").
        engine: &'static str,
        /// What went wrong (exit status, stderr tail, HTTP status).
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True when the cause is a full disk or a file-size limit (ENOSPC, EDQUOT, EFBIG).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            Self::Io { source, .. } => Some(source),
            Self::Wav {
                source: hound::Error::IoError(e),
                ..
            } => Some(e),
            _ => None,
        };
        io.and_then(std::io::Error::raw_os_error).is_some_and(|c| {
            c == rustix::io::Errno::NOSPC.raw_os_error()
                || c == rustix::io::Errno::DQUOT.raw_os_error()
                || c == rustix::io::Errno::FBIG.raw_os_error()
        }) || matches!(self, Self::SpoolFull { .. })
    }
}
