//! Transcripts (SPEC §15): a bounded worker pool runs a [`Recognizer`] over each
//! channel of a finished recording and stores timestamped [`Segment`]s in the
//! [`crate::Index`]; edits and the learn flag live there too.

use serde::{Deserialize, Serialize};

mod pocketsphinx;
mod pool;

pub use pocketsphinx::Pocketsphinx;
pub use pool::{transcribe, Job, JobSource, TranscriptPool};

use crate::Result;

/// One recognized stretch of speech.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// 0 = caller (left), 1 = agent (right).
    pub channel: u8,
    /// Order within the channel.
    pub seq: u32,
    /// Start in the recording, milliseconds.
    pub start_ms: u64,
    /// End in the recording, milliseconds.
    pub end_ms: u64,
    /// The words.
    pub text: String,
    /// Changed by a user since recognition.
    pub edited: bool,
}

/// The learn flag of a transcript: the "learn" button sets `pending`, the
/// nightly batch (02:00–05:00 tenant time, a hook of the caller) sets `learned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnState {
    /// Never requested.
    None,
    /// Waiting for the nightly batch.
    Pending,
    /// Processed by the batch.
    Learned,
}

impl LearnState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Learned => "learned",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "pending" => Self::Pending,
            "learned" => Self::Learned,
            _ => return None,
        })
    }
}

/// A speech recognizer for one mono channel.
pub trait Recognizer: Send + Sync + std::fmt::Debug {
    /// Recognizes mono 16-bit PCM at `rate` Hz; segment times are relative to
    /// the first sample. `channel` and `seq` of the result may be left 0; the
    /// pool fills them in.
    fn recognize(&self, pcm: &[i16], rate: u32) -> Result<Vec<Segment>>;
}
