//! `[calls]`: the call engine, ring timeout, session timers, music on hold,
//! and the dial plan's UTC offset.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Positioner, RawConfig};

/// Which component handles calls between local users (`calls.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallEngine {
    /// The stateful proxy: pbx stays out of the dialogs (fastest).
    #[default]
    Proxy,
    /// The B2BUA: pbx answers every call and places its own legs.
    B2bua,
}

/// `[calls]`: the call engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsConfig {
    /// Proxy or B2BUA.
    pub engine: CallEngine,
    /// How long the callee may ring before the call ends with NO ANSWER.
    pub ring_timeout: Duration,
    /// Session timers (RFC 4028) on every leg: the interval pbx asks for
    /// and grants (`None`: only when a party asks). A call whose party stops
    /// refreshing is hung up after one interval.
    pub session_expires: Option<Duration>,
    /// Music on hold (`calls.music_on_hold`, B2BUA engine): the WAV (8 kHz
    /// mono) a held party hears while the other holds. `None` (the key set
    /// to `""`, or the default file missing): holds pass through. Default:
    /// `moh.wav` in `media.prompts_dir`.
    pub music_on_hold: Option<PathBuf>,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            engine: CallEngine::Proxy,
            ring_timeout: Duration::from_secs(60),
            session_expires: Some(Duration::from_secs(1800)),
            music_on_hold: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalls {
    engine: Option<Spanned<String>>,
    ring_timeout_secs: Option<u64>,
    session_expires_secs: Option<Spanned<u64>>,
    utc_offset_minutes: Option<Spanned<i32>>,
    music_on_hold: Option<Spanned<String>>,
}

/// `[calls]` and the dial plan (`[[dialplan]]`, with
/// `calls.utc_offset_minutes`); music on hold comes later, once the prompts
/// directory is known.
pub(super) fn build_calls(
    raw: &RawConfig,
    pos: &Positioner<'_>,
) -> Result<(CallsConfig, crate::dialplan::Dialplan), ConfigError> {
    let engine = match &raw.calls.engine {
        None => CallEngine::Proxy,
        Some(e) => match e.get_ref().as_str() {
            "proxy" => CallEngine::Proxy,
            "b2bua" => CallEngine::B2bua,
            other => {
                return Err(pos.at(
                    e,
                    format!("calls.engine `{other}`: use \"proxy\" or \"b2bua\""),
                ))
            }
        },
    };
    let utc_offset_secs = match &raw.calls.utc_offset_minutes {
        None => 0,
        Some(m) if m.get_ref().abs() <= 14 * 60 => m.get_ref() * 60,
        Some(m) => return Err(pos.at(m, "calls.utc_offset_minutes must be within ±840")),
    };
    let entries =
        crate::dialplan::raw::build(&raw.dialplan).map_err(|e| pos.error(e.offset, e.message))?;
    let session_expires = match &raw.calls.session_expires_secs {
        None => Some(Duration::from_secs(1800)),
        Some(s) if *s.get_ref() == 0 => None,
        Some(s) if *s.get_ref() < 90 => {
            return Err(pos.at(
                s,
                "calls.session_expires_secs must be 0 (off) or at least 90 (RFC 4028 Min-SE)",
            ))
        }
        Some(s) => Some(Duration::from_secs(*s.get_ref())),
    };
    Ok((
        CallsConfig {
            engine,
            ring_timeout: Duration::from_secs(raw.calls.ring_timeout_secs.unwrap_or(60).max(1)),
            session_expires,
            music_on_hold: None,
        },
        crate::dialplan::Dialplan {
            entries,
            utc_offset_secs,
        },
    ))
}

/// `calls.music_on_hold`: unset means `moh.wav` in the prompts directory
/// when that file exists; `""` turns it off; a path must name a file.
pub(super) fn music_on_hold(
    raw: &RawCalls,
    prompts_dir: &Path,
    pos: &Positioner<'_>,
) -> Result<Option<PathBuf>, ConfigError> {
    Ok(match &raw.music_on_hold {
        None => Some(prompts_dir.join("moh.wav")).filter(|p| p.is_file()),
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => {
            let path = PathBuf::from(s.get_ref());
            if !path.is_file() {
                return Err(pos.at(
                    s,
                    format!("calls.music_on_hold: no WAV file at `{}`", path.display()),
                ));
            }
            Some(path)
        }
    })
}
