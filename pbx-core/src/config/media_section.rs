//! `[media]`: the RTP relay (anchoring), pbx's own media endpoints, and
//! where recordings and prompts live.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Listen, Positioner};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMedia {
    anchor: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    port_min: Option<u16>,
    port_max: Option<Spanned<u16>>,
    threads: Option<usize>,
    inactivity_timeout_secs: Option<u64>,
    endpoint_port_min: Option<u16>,
    endpoint_port_max: Option<Spanned<u16>>,
    recordings_dir: Option<String>,
    prompts_dir: Option<String>,
}

/// `[media]`: relay anchoring (mode, address, port range, threads).
pub(super) fn build_media(
    raw: &RawMedia,
    listen: &[Listen],
    pos: &Positioner<'_>,
) -> Result<crate::media_anchor::AnchorConfig, ConfigError> {
    use crate::media_anchor::AnchorMode;
    let mode = match &raw.anchor {
        None => AnchorMode::Never,
        Some(m) => match m.get_ref().as_str() {
            "always" => AnchorMode::Always,
            "nat" => AnchorMode::Nat,
            "never" => AnchorMode::Never,
            other => {
                return Err(pos.at(
                    m,
                    format!("media.anchor `{other}`: use \"always\", \"nat\" or \"never\""),
                ))
            }
        },
    };
    let address = match &raw.address {
        None => listen[0].addr.ip(),
        Some(a) => a
            .get_ref()
            .parse()
            .map_err(|e| pos.at(a, format!("bad address: {e} (write an IP)")))?,
    };
    let port_min = raw.port_min.unwrap_or(30000);
    let port_max = raw.port_max.as_ref().map_or(39999, |p| *p.get_ref());
    if let Some(p) = &raw.port_max {
        if u32::from(*p.get_ref()) < u32::from(port_min) + 3 {
            return Err(pos.at(
                p,
                format!(
                    "media.port_max must leave at least two port pairs above port_min ({port_min})"
                ),
            ));
        }
    }
    Ok(crate::media_anchor::AnchorConfig {
        mode,
        address,
        port_min,
        port_max,
        threads: raw.threads.unwrap_or(1).max(1),
        inactivity_timeout: Duration::from_secs(raw.inactivity_timeout_secs.unwrap_or(60).max(1)),
    })
}

/// `[media]` `endpoint_port_min` / `endpoint_port_max` (defaults 40000 /
/// 44999, above the relay's default range).
pub(super) fn build_endpoints(
    raw: &RawMedia,
    address: std::net::IpAddr,
    pos: &Positioner<'_>,
) -> Result<media::endpoint::EndpointConfig, ConfigError> {
    let port_min = raw.endpoint_port_min.unwrap_or(40000);
    let port_max = raw
        .endpoint_port_max
        .as_ref()
        .map_or(44999, |p| *p.get_ref());
    if let Some(p) = &raw.endpoint_port_max {
        if u32::from(port_max) < u32::from(port_min) + 3 {
            return Err(pos.at(
                p,
                format!("media.endpoint_port_max must leave at least two port pairs above endpoint_port_min ({port_min})"),
            ));
        }
    }
    Ok(media::endpoint::EndpointConfig {
        bind: address,
        port_min,
        port_max,
    })
}

/// `media.recordings_dir` (default `<data_dir>/recordings`) and
/// `media.prompts_dir` (default `fixtures/prompts`).
pub(super) fn media_dirs(raw: &RawMedia, data_dir: &Path) -> (PathBuf, PathBuf) {
    let recordings_dir = raw
        .recordings_dir
        .as_ref()
        .map_or_else(|| data_dir.join("recordings"), PathBuf::from);
    let prompts_dir = PathBuf::from(raw.prompts_dir.as_deref().unwrap_or("fixtures/prompts"));
    (recordings_dir, prompts_dir)
}
