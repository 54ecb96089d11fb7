//! Call recordings: stereo WAV files written from decoded PCM, spooled crash-safe
//! on local disk, uploaded durably to an object store (S3-compatible or a local
//! directory), listed, served with Range support, signed, purged, transcribed.
//! It knows nothing about SIP (SPEC §14, §15, §22).
//!
//! # Pieces and their contract
//!
//! - [`Recorder`] owns a spool directory. [`Recorder::start`] returns a
//!   [`RecordingTap`]; the media path calls [`RecordingTap::push`] with each
//!   side's decoded PCM and a [`Timestamp`]. `push` copies into a fixed-size
//!   [`Frame`] and `try_send`s it into a bounded queue: it never blocks and never
//!   allocates; when the queue is full the frame is dropped and counted
//!   ([`Recorder::metrics`], [`RecordingTap::counters`]). One writer thread
//!   aligns both sides (caller left, agent right, silence for gaps) and writes
//!   through hound; a closer thread finalizes, fsyncs, hashes and marks the
//!   sidecar `spooled`.
//! - After `kill -9`, [`Recorder::open`] runs [`Spool::recover`]: the WAV headers
//!   are rewritten from the file length and the recordings are spooled.
//! - [`Uploader`] (tokio) moves spooled recordings to the store with retries
//!   whose state lives in the sidecar, verifies size and sha256, records the
//!   result in the [`Index`], and only then deletes the local copy.
//! - [`RelayRecording`] adapts a [`RecordingTap`] to the media relay's
//!   recording tap (`media::relay::RecordSink`): a relay session set to
//!   record (`Command::Record`) feeds it both legs' decoded G.711.
//! - [`access`] (Range, signed links, fetch), [`retention`] and [`transcript`]
//!   serve the HTTP layer and the CLI.
//!
//! ```no_run
//! # fn main() -> recorder::Result<()> {
//! use std::time::Instant;
//! use recorder::{CallId, Parties, Recorder, SampleRate, Side, SpoolConfig, StartRequest, Timestamp};
//!
//! let (rec, _recovered) = Recorder::open(SpoolConfig::default())?;
//! let t0 = Instant::now();
//! let tap = rec.start(StartRequest {
//!     call_id: CallId::new("call-1")?,
//!     parties: Parties::default(),
//!     sample_rate: SampleRate::Hz8000,
//!     started_at: chrono::Utc::now(),
//!     now: t0,
//! })?;
//! let pcm = [0i16; 160];
//! tap.push(Side::Caller, Timestamp::Sample(0), &pcm);
//! tap.push(Side::Agent, Timestamp::Sample(0), &pcm);
//! tap.stop(Instant::now())?;
//! rec.shutdown();
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod access;
mod align;
mod clock;
pub mod config;
mod error;
mod frame;
mod id;
mod index;
mod meta;
mod metrics;
mod recorder;
mod relay_tap;
pub mod retention;
mod room_tap;
mod spool;
pub mod store;
pub mod transcript;
mod upload;
pub mod wav;

pub use clock::{SystemClock, WallClock};
pub use config::{Config, S3Config, SpoolConfig, StoreConfig, UploadConfig, Verify};
pub use error::{Error, Result};
pub use frame::{Frame, Timestamp, MAX_FRAME_SAMPLES};
pub use id::{CallId, SampleRate, Side};
pub use index::{Index, IndexEntry, ListFilter};
pub use meta::{Metadata, Parties, PausedSpan, RecordingState, UploadProgress};
pub use metrics::{MetricsSnapshot, RecordingCounters};
pub use recorder::{Push, Recorder, RecordingTap, StartRequest};
pub use relay_tap::RelayRecording;
pub use room_tap::RoomRecording;
pub use spool::{RecoveryReport, Spool};
pub use store::{Store, StoreKind};
pub use upload::{backoff_delay, Pass, UploadStats, UploadWaker, Uploader};
