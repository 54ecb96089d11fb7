//! `pbx phone --profile FILE.toml`: the account, server, transport, codecs
//! and sound devices in a file instead of flags. Flags (and their
//! `PBX_PHONE_*` variables) win over the file; the file wins over the
//! built-in defaults.
//!
//! ```toml
//! [account]
//! user = "1001"
//! password = "secret"
//! domain = "example.com"      # AOR domain, default: the server's host
//!
//! [server]
//! address = "pbx.example.com:5061"
//! transport = "tls"           # udp (default), tcp or tls
//! tls_ca = "ca.pem"           # relative to the profile's directory
//! keepalive = "30s"           # CRLF pings on TCP/TLS (RFC 5626)
//! expires = 300               # registration lifetime, seconds
//! bind = "0.0.0.0:0"          # local SIP address
//!
//! [media]
//! codecs = ["pcma", "pcmu"]   # preference order
//!
//! [audio]
//! enabled = true              # console on the sound card (feature `audio`)
//! input_device = "USB"        # part of the device name
//! output_device = "USB"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// A parsed profile; every value is optional.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    /// `[account]`.
    #[serde(default)]
    pub(crate) account: AccountSection,
    /// `[server]`.
    #[serde(default)]
    pub(crate) server: ServerSection,
    /// `[media]`.
    #[serde(default)]
    pub(crate) media: MediaSection,
    /// `[audio]`.
    #[serde(default)]
    pub(crate) audio: AudioSection,
}

/// `[account]`: who we are.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountSection {
    /// SIP user.
    pub(crate) user: Option<String>,
    /// Digest password.
    pub(crate) password: Option<String>,
    /// AOR domain.
    pub(crate) domain: Option<String>,
}

/// `[server]`: where and how we connect.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// `HOST:PORT` of the pbx.
    pub(crate) address: Option<String>,
    /// `udp`, `tcp` or `tls`.
    pub(crate) transport: Option<String>,
    /// CA certificate(s) for TLS (PEM).
    pub(crate) tls_ca: Option<PathBuf>,
    /// Keep-alive interval (`30s`).
    pub(crate) keepalive: Option<String>,
    /// Registration lifetime in seconds.
    pub(crate) expires: Option<u32>,
    /// Local SIP address.
    pub(crate) bind: Option<SocketAddr>,
}

/// `[media]`: codecs.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaSection {
    /// Codec names in preference order (`pcmu`, `pcma`).
    pub(crate) codecs: Option<Vec<String>>,
}

/// `[audio]`: the sound card of the console.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AudioSection {
    /// Use the sound card.
    pub(crate) enabled: Option<bool>,
    /// Input device (part of its name).
    pub(crate) input_device: Option<String>,
    /// Output device (part of its name).
    pub(crate) output_device: Option<String>,
}

impl Profile {
    /// Reads and parses `path`; relative file names in it are taken
    /// relative to the profile's directory.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading profile {}", path.display()))?;
        let mut profile =
            Self::parse(&text).with_context(|| format!("profile {}", path.display()))?;
        if let (Some(ca), Some(dir)) = (&profile.server.tls_ca, path.parent()) {
            profile.server.tls_ca = Some(dir.join(ca));
        }
        Ok(profile)
    }

    /// Parses profile text; errors name the key and line (TOML's message).
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_profile() {
        let p = Profile::parse(
            "[account]\nuser = \"1001\"\npassword = \"pw\"\n\
             [server]\naddress = \"10.0.0.1:5061\"\ntransport = \"tls\"\ntls_ca = \"ca.pem\"\n\
             keepalive = \"15s\"\nexpires = 120\nbind = \"0.0.0.0:0\"\n\
             [media]\ncodecs = [\"pcma\"]\n[audio]\nenabled = true\ninput_device = \"USB\"\n",
        )
        .expect("valid profile");
        assert_eq!(p.account.user.as_deref(), Some("1001"));
        assert_eq!(p.server.transport.as_deref(), Some("tls"));
        assert_eq!(p.server.expires, Some(120));
        assert_eq!(p.media.codecs, Some(vec!["pcma".to_owned()]));
        assert_eq!(p.audio.enabled, Some(true));
        assert_eq!(p.audio.output_device, None);
    }

    #[test]
    fn empty_profile_is_all_defaults() {
        assert_eq!(Profile::parse("").expect("empty"), Profile::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_with_a_location() {
        let e = Profile::parse("[server]\nadress = \"x\"\n").expect_err("typo");
        assert!(format!("{e:#}").contains("adress"), "{e:#}");
        let e = Profile::parse("[server]\nexpires = \"soon\"\n").expect_err("type");
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
    }

    #[test]
    fn relative_ca_is_next_to_the_profile() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("phone.toml");
        std::fs::write(&path, "[server]\ntls_ca = \"ca.pem\"\n").expect("write");
        let p = Profile::load(&path).expect("load");
        assert_eq!(p.server.tls_ca, Some(dir.path().join("ca.pem")));
    }
}
