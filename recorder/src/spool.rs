//! The spool directory: `<call_id>.wav` + `<call_id>.json` per recording, a lock
//! file, and crash recovery.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::id::{CallId, SampleRate};
use crate::meta::{Metadata, Parties, RecordingState};
use crate::wav::{repair, sha256_file};
use crate::{Error, Result};

/// An opened, locked spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    _lock: File,
}

/// What [`Spool::recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Recordings that were being written at the crash, now closed and spooled.
    pub recovered: Vec<CallId>,
    /// Sidecars of recordings whose WAV was never created, removed.
    pub removed_empty: Vec<CallId>,
    /// Files that could not be recovered, with the reason; their sidecars say `failed`.
    pub failed: Vec<(PathBuf, String)>,
}

impl Spool {
    /// Creates `dir` if needed and takes its lock (one recorder per spool).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create dir", &dir, e))?;
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io("create", &lock_path, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| Error::SpoolLocked(dir.clone()))?;
        Ok(Self { dir, _lock: lock })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The WAV of `id`.
    pub fn wav_path(&self, id: &CallId) -> PathBuf {
        self.dir.join(format!("{id}.wav"))
    }

    /// The sidecar of `id`.
    pub fn meta_path(&self, id: &CallId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Free bytes for unprivileged users on the spool's file system.
    pub fn free_bytes(&self) -> Result<u64> {
        let s = rustix::fs::statvfs(&self.dir)
            .map_err(|e| Error::io("statvfs", &self.dir, e.into()))?;
        Ok(s.f_bavail.saturating_mul(s.f_frsize))
    }

    /// Every readable sidecar, sorted by start time. Unreadable ones are skipped
    /// with a warning (recovery reports them).
    pub fn list(&self) -> Result<Vec<Metadata>> {
        let mut out = Vec::new();
        for path in self.files("json")? {
            match Metadata::load(&path) {
                Ok(m) => out.push(m),
                Err(e) => tracing::warn!(error = %e, "skipping unreadable sidecar"),
            }
        }
        out.sort_by_key(|m| m.started_at);
        Ok(out)
    }

    fn files(&self, ext: &str) -> Result<Vec<PathBuf>> {
        let rd = std::fs::read_dir(&self.dir).map_err(|e| Error::io("read dir", &self.dir, e))?;
        let mut v = Vec::new();
        for ent in rd {
            let p = ent.map_err(|e| Error::io("read dir", &self.dir, e))?.path();
            if p.extension().is_some_and(|e| e == ext)
                && p.file_stem()
                    .is_some_and(|s| !s.to_string_lossy().starts_with('.'))
            {
                v.push(p);
            }
        }
        v.sort();
        Ok(v)
    }

    /// Closes what a crash left open: every `recording` sidecar's WAV gets its
    /// header sizes rewritten from the file length, is hashed and becomes
    /// `spooled` (so it is then uploaded); a WAV without a sidecar gets one.
    /// Run before any recording starts ([`crate::Recorder::open`] does).
    pub fn recover(&self) -> Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        for tmp in self.files("tmp")? {
            let _ = std::fs::remove_file(tmp);
        }
        for path in self.files("json")? {
            let mut meta = match Metadata::load(&path) {
                Ok(m) => m,
                Err(e) => {
                    report.failed.push((path, e.to_string()));
                    continue;
                }
            };
            if meta.state != RecordingState::Recording {
                continue;
            }
            let wav = self.wav_path(&meta.call_id);
            if !wav.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
                report.removed_empty.push(meta.call_id);
                continue;
            }
            match close_recovered(&wav, &mut meta) {
                Ok(()) => report.recovered.push(meta.call_id.clone()),
                Err(e) => {
                    meta.state = RecordingState::Failed;
                    meta.write_error = Some(e.to_string());
                    report.failed.push((wav, e.to_string()));
                }
            }
            meta.store(&path)?;
        }
        for wav in self.files("wav")? {
            let Some(stem) = wav.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let Ok(id) = CallId::new(stem) else {
                report
                    .failed
                    .push((wav, "file name is not a call id".into()));
                continue;
            };
            let side = self.meta_path(&id);
            if side.exists() {
                continue;
            }
            let mtime: DateTime<Utc> = std::fs::metadata(&wav)
                .and_then(|m| m.modified())
                .map(Into::into)
                .unwrap_or_default();
            let mut meta = Metadata::new(id.clone(), Parties::default(), mtime, SampleRate::Hz8000);
            match close_recovered(&wav, &mut meta) {
                Ok(()) => report.recovered.push(id),
                Err(e) => {
                    meta.state = RecordingState::Failed;
                    meta.write_error = Some(e.to_string());
                    report.failed.push((wav, e.to_string()));
                }
            }
            meta.store(&side)?;
        }
        Ok(report)
    }
}

fn close_recovered(wav: &Path, meta: &mut Metadata) -> Result<()> {
    let r = repair(wav)?;
    meta.sample_rate = SampleRate::try_from(r.sample_rate)?;
    let frames = r.data_bytes / u64::from(r.block_align);
    meta.duration_ms = frames * 1000 / u64::from(r.sample_rate);
    for p in &mut meta.paused {
        p.end_ms = p.end_ms.min(meta.duration_ms);
    }
    let (sha, size) = sha256_file(wav)?;
    meta.sha256 = Some(sha);
    meta.size = Some(size);
    meta.recovered = true;
    meta.state = RecordingState::Spooled;
    Ok(())
}
