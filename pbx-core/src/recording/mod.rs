//! Call recording, wired: which B2BUA calls are recorded
//! ([`RecordingMode`]), the recorder thread that starts and stops their
//! recordings on the media relay's taps, the uploader task that moves them
//! to object storage, the recording state on the call records, and
//! [`RecordingAccess`] for the HTTP API and the CLI. The audio side (spool,
//! WAV, upload, Range) is the `recorder` crate's.
//!
//! Flow (`service.rs`): the engine's driver notes bridged calls (and queue
//! connects) with a [`RecordingHook`] and, after each step's records are
//! queued, hands start/stop requests to the recorder thread over an
//! unbounded channel — the driver never waits for a disk. That thread calls
//! `Recorder::start` (sidecar + WAV, fsynced), sets a
//! [`recorder::RelayRecording`] on the call's relay session, and at call end
//! removes it and finishes the recording. The call record's
//! `recording_state` goes `recording` → `spooled` (closed and fsynced) →
//! `uploaded` (verified in the store) or `failed`; `recording_key` is the
//! object key. With `recording.transcribe`, every spooled recording is also
//! handed to a bounded pool of pocketsphinx workers (`transcripts.rs`) whose
//! segments land in the recordings index (`pbx recordings transcript ID`).
//!
//! Which calls (`policy.rs`, applied by `hook.rs`): `recording.mode` plus
//! the policies of dial-plan entries, trunks, users and queues (`always`,
//! `never`, `on_demand` started by `recording.start_code`). Conference
//! rooms are recorded as one mix per room session (the mixer's room sink,
//! `recorder::RoomRecording`). Signed, expiring download links
//! (`links.rs`) and the `recording.ready` outbox event (`upload.rs`).

mod access;
mod hook;
mod links;
mod policy;
mod service;
mod transcripts;
mod upload;

use std::path::PathBuf;

pub use access::{AccessError, RecordingAccess};
pub use hook::{PauseError, RecordingHook};
pub use links::{LinkKey, MAX_LINK_SECS};
pub use policy::{combine, resolve, Levels, Policy, PolicyConfig};
pub use service::{Recordings, StartError};
pub use transcripts::TranscriberError;

/// Which calls are recorded by default (`recording.mode`); the dial-plan
/// entries, users, trunks and queues may say otherwise (`policy.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordingMode {
    /// None (the default).
    #[default]
    Off,
    /// Every bridged B2BUA call with anchored media.
    Always,
    /// Calls answered by a queue agent.
    Queues,
    /// Every bridged call once a party presses `recording.start_code`.
    OnDemand,
}

impl RecordingMode {
    /// Reads `off`, `always` or `queues`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => Self::Off,
            "always" => Self::Always,
            "queues" => Self::Queues,
            "on_demand" | "on-demand" => Self::OnDemand,
            _ => return None,
        })
    }

    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Always => "always",
            Self::Queues => "queues",
            Self::OnDemand => "on_demand",
        }
    }
}

/// `[recording]`: policy, spool, store and retention, in the recorder's
/// own settings.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// Which calls.
    pub mode: RecordingMode,
    /// The spool (`recording.spool_dir`, default `<data_dir>/spool/recordings`).
    pub spool: recorder::SpoolConfig,
    /// The object store and the uploader (`[recording.s3]`, else the local
    /// store `recording.local_dir`, default `<data_dir>/recordings`).
    pub upload: recorder::UploadConfig,
    /// The recordings index (`<data_dir>/recordings.sqlite`).
    pub index: PathBuf,
    /// The secret of signed download links (`<data_dir>/recording-link.key`).
    pub link_key: PathBuf,
    /// Uploaded recordings older than this many days are deleted (None: kept).
    pub retention_days: Option<u32>,
    /// Finished recordings are transcribed by this many pocketsphinx
    /// workers (`recording.transcribe`; None: not transcribed).
    pub transcribe_workers: Option<usize>,
    /// Keys pressed in a recorded call that pause / resume its recording
    /// (`recording.pause_code`, e.g. `*1`; None: no in-call code).
    pub pause_code: Option<String>,
    /// Per-user, -trunk and -queue policies and the start code
    /// (the dial-plan entries carry their own, `policy.rs`).
    pub policy: PolicyConfig,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            mode: RecordingMode::Off,
            spool: recorder::SpoolConfig::default(),
            upload: recorder::UploadConfig::default(),
            index: PathBuf::from("data/recordings.sqlite"),
            link_key: PathBuf::from("data/recording-link.key"),
            retention_days: None,
            transcribe_workers: None,
            pause_code: None,
            policy: PolicyConfig::default(),
        }
    }
}
