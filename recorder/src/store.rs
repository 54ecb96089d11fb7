//! The object store behind the uploader: built from [`StoreConfig`], plus the key
//! layout `{prefix}/{yyyy}/{mm}/{dd}/{call_id}.wav` (SPEC §14; the prefix is
//! `{account}/{pbx}` where a deployment has those).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::config::{S3Config, StoreConfig, UploadConfig};
use crate::id::CallId;
use crate::{Error, Result};

/// Which kind of store is behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A local directory.
    Local,
    /// S3-compatible.
    S3,
}

/// A configured object store and its key layout.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    kind: StoreKind,
    prefix: Option<String>,
}

/// True when `url`'s host is 127.0.0.0/8, `::1` or `localhost`.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `{prefix/}{yyyy}/{mm}/{dd}/{call_id}.{ext}` for a recording that started at `started_at` (UTC).
pub fn object_key(
    prefix: Option<&str>,
    started_at: DateTime<Utc>,
    call_id: &CallId,
    ext: &str,
) -> String {
    let date = format!(
        "{:04}/{:02}/{:02}/{call_id}.{ext}",
        started_at.year(),
        started_at.month(),
        started_at.day()
    );
    match prefix {
        Some(p) => format!("{p}/{date}"),
        None => date,
    }
}

impl Store {
    /// Builds the store (validates `cfg` first). A local root is created if missing.
    pub fn from_config(cfg: &UploadConfig) -> Result<Self> {
        cfg.validate()?;
        let (inner, kind): (Arc<dyn ObjectStore>, _) = match &cfg.store {
            StoreConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|e| Error::io("create dir", root, e))?;
                (
                    Arc::new(LocalFileSystem::new_with_prefix(root)?),
                    StoreKind::Local,
                )
            }
            StoreConfig::S3(s3) => (Arc::new(build_s3(s3)?), StoreKind::S3),
        };
        Ok(Self {
            inner,
            kind,
            prefix: cfg.prefix.clone(),
        })
    }

    /// Wraps an existing store (tests, or a store the caller built itself).
    pub fn from_object_store(
        inner: Arc<dyn ObjectStore>,
        kind: StoreKind,
        prefix: Option<String>,
    ) -> Self {
        Self {
            inner,
            kind,
            prefix,
        }
    }

    /// The object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// Local or S3.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The WAV's key.
    pub fn wav_key(&self, started_at: DateTime<Utc>, call_id: &CallId) -> ObjectPath {
        ObjectPath::from(object_key(
            self.prefix.as_deref(),
            started_at,
            call_id,
            "wav",
        ))
    }

    /// The metadata JSON's key, beside the WAV.
    pub fn meta_key(&self, started_at: DateTime<Utc>, call_id: &CallId) -> ObjectPath {
        ObjectPath::from(object_key(
            self.prefix.as_deref(),
            started_at,
            call_id,
            "json",
        ))
    }

    /// Whether objects carry user metadata (S3 `x-amz-meta-*`); the local
    /// file system keeps it only in the JSON beside the WAV.
    pub fn supports_attributes(&self) -> bool {
        self.kind == StoreKind::S3
    }
}

fn build_s3(s3: &S3Config) -> Result<object_store::aws::AmazonS3> {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_virtual_hosted_style_request(s3.virtual_hosted);
    let loopback = s3.endpoint.as_deref().is_some_and(is_loopback_url);
    if let Some(ep) = &s3.endpoint {
        b = b.with_endpoint(ep);
    }
    if let Some(r) = &s3.region {
        b = b.with_region(r);
    }
    if let (Some(k), Some(s)) = (&s3.access_key_id, &s3.secret_access_key) {
        b = b.with_access_key_id(k).with_secret_access_key(s);
    }
    if let Some(t) = &s3.session_token {
        b = b.with_token(t);
    }
    // Our own retries are durable and unbounded; the client's only smooth over
    // blips, so an attempt against a store that is down fails within seconds.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(15),
    };
    let opts = ClientOptions::new()
        .with_allow_http(s3.allow_http || loopback)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    Ok(b.with_retry(retry).with_client_options(opts).build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for u in [
            "http://127.0.0.1:8333",
            "http://localhost/x",
            "http://[::1]:9000",
            "http://u:p@127.0.0.2:1/",
        ] {
            assert!(is_loopback_url(u), "{u}");
        }
        for u in [
            "http://s3.example.com",
            "http://10.0.0.1:80",
            "https://128.0.0.1",
        ] {
            assert!(!is_loopback_url(u), "{u}");
        }
    }

    #[test]
    fn key_layout() {
        let t = DateTime::parse_from_rfc3339("2024-03-07T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = CallId::new("c-1@x").unwrap();
        assert_eq!(object_key(None, t, &id, "wav"), "2024/03/07/c-1@x.wav");
        assert_eq!(
            object_key(Some("acme/pbx1"), t, &id, "json"),
            "acme/pbx1/2024/03/07/c-1@x.json"
        );
    }
}
