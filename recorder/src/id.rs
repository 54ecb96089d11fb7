//! Identifiers: the call id that names a recording, and the two channels.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The id of a call, and so of its one recording. It names the spool file, the
/// sidecar and the object key, so it is restricted to file-name-safe characters:
/// 1..=128 of `[A-Za-z0-9._@+~-]`, not starting with `.`. A SIP Call-ID with other
/// characters goes through [`CallId::sanitized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallId(String);

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '~' | '-')
}

impl CallId {
    /// Checks `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s = s.into();
        if s.is_empty() || s.len() > 128 || s.starts_with('.') || !s.chars().all(allowed) {
            return Err(Error::InvalidCallId(s));
        }
        Ok(Self(s))
    }

    /// Maps any string to a valid id: disallowed characters become `_` and, when
    /// anything was replaced or cut, the first 8 hex digits of the sha256 of the
    /// original are appended so distinct inputs stay distinct.
    pub fn sanitized(s: &str) -> Self {
        use sha2::{Digest, Sha256};
        let mut out: String = s
            .chars()
            .map(|c| if allowed(c) { c } else { '_' })
            .collect();
        if out.starts_with('.') {
            out.replace_range(0..1, "_");
        }
        let changed = out != s || out.is_empty() || out.len() > 110;
        if changed {
            out.truncate(110);
            let h = Sha256::digest(s.as_bytes());
            out.push('-');
            out.push_str(&hex::encode(&h[..4]));
        }
        Self(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CallId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::new(s)
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> Self {
        id.0
    }
}

/// Which channel of the stereo file a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The caller (customer): the left channel.
    Caller,
    /// The pbx-side party (agent, callee): the right channel.
    Agent,
}

impl Side {
    /// 0 for left, 1 for right.
    pub fn channel(self) -> usize {
        match self {
            Self::Caller => 0,
            Self::Agent => 1,
        }
    }
}

/// A supported sample rate of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum SampleRate {
    /// 8 kHz (G.711, narrowband).
    Hz8000,
    /// 16 kHz (G.722, wideband Opus decoded at 16 kHz).
    Hz16000,
}

impl SampleRate {
    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8000,
            Self::Hz16000 => 16000,
        }
    }
}

impl TryFrom<u32> for SampleRate {
    type Error = Error;
    fn try_from(hz: u32) -> Result<Self> {
        match hz {
            8000 => Ok(Self::Hz8000),
            16000 => Ok(Self::Hz16000),
            other => Err(Error::UnsupportedSampleRate(other)),
        }
    }
}

impl From<SampleRate> for u32 {
    fn from(r: SampleRate) -> Self {
        r.hz()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids() {
        assert!(CallId::new("a84b4c76e66710@pc33.example.com").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(129)] {
            assert!(
                matches!(CallId::new(bad), Err(Error::InvalidCallId(_))),
                "{bad:?}"
            );
        }
        let s = CallId::sanitized("abc/../def");
        assert!(CallId::new(s.as_str()).is_ok());
        assert_ne!(CallId::sanitized("a/b"), CallId::sanitized("a:b"));
        assert_eq!(CallId::sanitized("plain-id").as_str(), "plain-id");
        assert!(CallId::new(CallId::sanitized(&"é".repeat(300)).as_str()).is_ok());
        assert!(CallId::new(CallId::sanitized(".x").as_str()).is_ok());
    }

    #[test]
    fn rates() {
        assert_eq!(SampleRate::try_from(16000).unwrap().hz(), 16000);
        assert!(SampleRate::try_from(44100).is_err());
    }
}
