//! Plain configuration: each part has `Default` and `validate()`; `cli` fills
//! them from the TOML file and reports errors with the key path.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// The whole recorder: spool + writer, upload, transcripts.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Spool and writer.
    pub spool: SpoolConfig,
    /// Object store and uploader.
    pub upload: UploadConfig,
}

impl Config {
    /// Checks every part.
    pub fn validate(&self) -> Result<()> {
        self.spool.validate()?;
        self.upload.validate()
    }
}

fn bad(key: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        key,
        reason: reason.into(),
    }
}

/// The spool directory and the writer thread.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Where recordings are written before upload. Default `data/spool/recordings`.
    pub dir: PathBuf,
    /// Frames the writer queue holds (all recordings together). When full, frames
    /// are dropped and counted. Default 16384 (≈ 5 s of 100 G.711 calls).
    pub queue_frames: usize,
    /// Instant-stamped frames within this of a side's running end are snapped to
    /// it (network jitter); beyond it a gap of silence is written. Default 60 ms.
    pub jitter_tolerance: Duration,
    /// How far one side may run ahead of a silent other side before the silent
    /// side is filled with silence. Default 500 ms.
    pub max_lag: Duration,
    /// Longest recording; frames past it are dropped and the recording is marked
    /// truncated. Default 4 h; at most 9 h (WAV's 4 GiB limit at 16 kHz stereo).
    pub max_duration: Duration,
    /// New recordings are refused while the spool's file system has less free. Default 64 MiB.
    pub min_free_bytes: u64,
    /// How often (in audio time) the WAV header is checkpointed. Default 1 s.
    pub checkpoint_every: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/spool/recordings"),
            queue_frames: 16384,
            jitter_tolerance: Duration::from_millis(60),
            max_lag: Duration::from_millis(500),
            max_duration: Duration::from_secs(4 * 3600),
            min_free_bytes: 64 << 20,
            checkpoint_every: Duration::from_secs(1),
        }
    }
}

impl SpoolConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if self.dir.as_os_str().is_empty() {
            return Err(bad("spool.dir", "empty"));
        }
        if !(16..=1 << 22).contains(&self.queue_frames) {
            return Err(bad(
                "spool.queue_frames",
                format!("{} not in 16..=4194304", self.queue_frames),
            ));
        }
        if self.jitter_tolerance > Duration::from_secs(2) {
            return Err(bad("spool.jitter_tolerance", "more than 2 s"));
        }
        if self.max_lag < Duration::from_millis(20) || self.max_lag > Duration::from_secs(10) {
            return Err(bad("spool.max_lag", "not in 20 ms..=10 s"));
        }
        if self.max_duration.is_zero() || self.max_duration > Duration::from_secs(9 * 3600) {
            return Err(bad("spool.max_duration", "not in (0, 9 h]"));
        }
        if self.checkpoint_every < Duration::from_millis(100) {
            return Err(bad("spool.checkpoint_every", "less than 100 ms"));
        }
        Ok(())
    }
}

/// Where recordings go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// A directory (the embedded default, `<data_dir>/recordings`).
    Local {
        /// Root directory; created if missing.
        root: PathBuf,
    },
    /// An S3-compatible service.
    S3(S3Config),
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::Local {
            root: PathBuf::from("data/recordings"),
        }
    }
}

/// An S3-compatible bucket. Unset credentials fall back to the standard AWS
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:8333`; `None` = AWS itself (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Region; `None` = from the environment, else `us-east-1`.
    pub region: Option<String>,
    /// Bucket name.
    pub bucket: String,
    /// Virtual-hosted-style requests (`bucket.host`) instead of path style.
    /// Default false: path style, what MinIO/SeaweedFS/Ceph expect.
    pub virtual_hosted: bool,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token.
    pub session_token: Option<String>,
    /// Permit `http://` endpoints. Loopback endpoints are always permitted.
    pub allow_http: bool,
}

/// How an upload is checked before the local copy is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// HEAD size only.
    Size,
    /// HEAD size and a full read back hashed with sha256 (default).
    #[default]
    ReadBack,
}

/// The uploader.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Target store.
    pub store: StoreConfig,
    /// Key prefix such as `acme/pbx1` (for `{account}/{pbx}/`); no leading or trailing `/`.
    pub prefix: Option<String>,
    /// Files above this go through multipart upload. Default 16 MiB.
    pub multipart_threshold: u64,
    /// Multipart part size (S3 minimum 5 MiB). Default 8 MiB.
    pub part_size: usize,
    /// First retry delay. Default 1 s.
    pub backoff_base: Duration,
    /// Longest retry delay. Default 5 min.
    pub backoff_max: Duration,
    /// Give up (state `failed`) after this many attempts; 0 = never (default).
    pub max_attempts: u32,
    /// Verification mode.
    pub verify: Verify,
    /// Uploads at once. Default 2.
    pub concurrency: usize,
    /// How often the spool is rescanned without a close notification. Default 5 s.
    pub scan_interval: Duration,
    /// One attempt's time limit (request timeouts are the store client's). Default 10 min.
    pub attempt_timeout: Duration,
    /// Seed of the backoff jitter.
    pub seed: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            store: StoreConfig::default(),
            prefix: None,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_attempts: 0,
            verify: Verify::ReadBack,
            concurrency: 2,
            scan_interval: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(600),
            seed: 0x5eed,
        }
    }
}

impl UploadConfig {
    /// Checks ranges and the store's fields.
    pub fn validate(&self) -> Result<()> {
        match &self.store {
            StoreConfig::Local { root } if root.as_os_str().is_empty() => {
                return Err(bad("upload.store.root", "empty"))
            }
            StoreConfig::Local { .. } => {}
            StoreConfig::S3(s3) => {
                let b = &s3.bucket;
                if b.len() < 3
                    || b.len() > 63
                    || !b.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    })
                {
                    return Err(bad(
                        "upload.s3.bucket",
                        format!("{b:?} is not a valid bucket name"),
                    ));
                }
                if let Some(ep) = &s3.endpoint {
                    let http = ep.starts_with("http://");
                    if !http && !ep.starts_with("https://") {
                        return Err(bad(
                            "upload.s3.endpoint",
                            format!("{ep:?} is not an http(s) URL"),
                        ));
                    }
                    if http && !s3.allow_http && !crate::store::is_loopback_url(ep) {
                        return Err(bad(
                            "upload.s3.endpoint",
                            "http:// to a non-loopback host needs allow_http",
                        ));
                    }
                }
                if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                    return Err(bad(
                        "upload.s3.secret_access_key",
                        "access key id and secret must be set together",
                    ));
                }
            }
        }
        if let Some(p) = &self.prefix {
            if p.is_empty()
                || p.starts_with('/')
                || p.ends_with('/')
                || p.contains("//")
                || p.split('/').any(|s| s == "." || s == "..")
            {
                return Err(bad(
                    "upload.prefix",
                    format!("{p:?}: non-empty path segments without leading/trailing '/'"),
                ));
            }
        }
        if self.part_size < 5 << 20 {
            return Err(bad("upload.part_size", "below the S3 minimum of 5 MiB"));
        }
        if self.multipart_threshold < self.part_size as u64 {
            return Err(bad("upload.multipart_threshold", "smaller than part_size"));
        }
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return Err(bad(
                "upload.backoff_max",
                "backoff_base must be > 0 and ≤ backoff_max",
            ));
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err(bad("upload.concurrency", "not in 1..=64"));
        }
        if self.scan_interval.is_zero() || self.attempt_timeout.is_zero() {
            return Err(bad(
                "upload.scan_interval",
                "scan_interval and attempt_timeout must be > 0",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn rejects_with_key_path() {
        let key = |c: &Config| match c.validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        let mut c = Config::default();
        c.spool.queue_frames = 1;
        assert_eq!(key(&c), "spool.queue_frames");
        let mut c = Config::default();
        c.upload.store = StoreConfig::S3(S3Config {
            bucket: "Bad_Bucket".into(),
            ..S3Config::default()
        });
        assert_eq!(key(&c), "upload.s3.bucket");
        c.upload.store = StoreConfig::S3(S3Config {
            bucket: "rec".into(),
            endpoint: Some("http://s3.example.com".into()),
            ..S3Config::default()
        });
        assert_eq!(key(&c), "upload.s3.endpoint");
        c.upload.store = StoreConfig::S3(S3Config {
            bucket: "rec".into(),
            endpoint: Some("http://127.0.0.1:8333".into()),
            ..S3Config::default()
        });
        c.validate().unwrap();
        c.upload.prefix = Some("/acme".into());
        assert_eq!(key(&c), "upload.prefix");
        c.upload.prefix = Some("acme/pbx1".into());
        c.upload.part_size = 1024;
        assert_eq!(key(&c), "upload.part_size");
    }
}
