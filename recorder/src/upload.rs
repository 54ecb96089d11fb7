//! The uploader: moves spooled recordings into the object store, durably.
//!
//! For each `spooled` sidecar whose backoff deadline has passed: check the local
//! file against its sha256, upload (multipart above the threshold) with the
//! metadata as S3 user metadata, put a JSON copy of the metadata beside it,
//! verify (HEAD size; with [`Verify::ReadBack`] the stored bytes' sha256), record
//! the result in the [`Index`], and only then delete the local copy. A failed
//! attempt writes `attempts`, `last_error` and `next_attempt_at` (exponential
//! backoff with jitter) into the sidecar, so a restarted process continues the
//! same schedule. Every step is idempotent: a crash anywhere repeats at most one
//! upload of the same bytes to the same key.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions, PutPayload, WriteMultipart,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::clock::WallClock;
use crate::config::{UploadConfig, Verify};
use crate::index::Index;
use crate::meta::{Metadata, RecordingState};
use crate::spool::Spool;
use crate::store::Store;
use crate::wav::sha256_file;
use crate::{Error, Result};

/// The delay before retry number `attempt` (1 = the first retry): the
/// exponential step `base × 2^(attempt-1)` capped at `max`, with "equal jitter"
/// (uniform in the upper half of the step), so many recordings failing together
/// do not retry in lockstep and the delay never collapses to zero.
pub fn backoff_delay(attempt: u32, base: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(30))
        .min(max);
    let half = exp / 2;
    half + Duration::from_nanos(rng.gen_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64))
}

/// Upload counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStats {
    /// Recordings uploaded and verified.
    pub uploaded: u64,
    /// Failed attempts (each followed by a backoff).
    pub failed_attempts: u64,
    /// Recordings given up (state `failed`).
    pub given_up: u64,
    /// Bytes uploaded (verified).
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    uploaded: AtomicU64,
    failed_attempts: AtomicU64,
    given_up: AtomicU64,
    bytes: AtomicU64,
}

/// Wakes the uploader early (a recording was just spooled). Cheap to clone and
/// callable from any thread, e.g. from [`crate::Recorder::on_spooled`].
#[derive(Debug, Clone)]
pub struct UploadWaker(Arc<Notify>);

impl UploadWaker {
    /// Wakes the uploader.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The uploader of one spool.
#[derive(Debug)]
pub struct Uploader {
    spool: Arc<Spool>,
    store: Store,
    index: Arc<Index>,
    cfg: UploadConfig,
    clock: Arc<dyn WallClock>,
    notify: Arc<Notify>,
    rng: Mutex<StdRng>,
    counters: Counters,
}

/// What one pass over the spool did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Recordings uploaded in this pass.
    pub uploaded: usize,
    /// Attempts that failed in this pass.
    pub failed: usize,
    /// Recordings still waiting (backoff not yet over, or just failed).
    pub waiting: usize,
    /// The earliest backoff deadline among them.
    pub next_due: Option<chrono::DateTime<chrono::Utc>>,
}

impl Uploader {
    /// An uploader for `spool` into `store`. Validates `cfg`.
    pub fn new(
        spool: Arc<Spool>,
        store: Store,
        index: Arc<Index>,
        cfg: UploadConfig,
        clock: Arc<dyn WallClock>,
    ) -> Result<Self> {
        cfg.validate()?;
        let rng = Mutex::new(StdRng::seed_from_u64(cfg.seed));
        Ok(Self {
            spool,
            store,
            index,
            cfg,
            clock,
            notify: Arc::new(Notify::new()),
            rng,
            counters: Counters::default(),
        })
    }

    /// A handle that wakes [`Self::run`] early.
    pub fn waker(&self) -> UploadWaker {
        UploadWaker(Arc::clone(&self.notify))
    }

    /// Counters for metrics.
    pub fn stats(&self) -> UploadStats {
        let c = &self.counters;
        UploadStats {
            uploaded: c.uploaded.load(Relaxed),
            failed_attempts: c.failed_attempts.load(Relaxed),
            given_up: c.given_up.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs passes until `shutdown` resolves: after each pass it sleeps until the
    /// earliest backoff deadline, the scan interval, or a wake-up. An upload in
    /// flight at shutdown is abandoned; its sidecar still says `spooled`, so the
    /// next start repeats it.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pass = tokio::select! {
                p = self.run_once() => p,
                () = &mut shutdown => return,
            };
            let mut sleep = self.cfg.scan_interval;
            match pass {
                Ok(p) => {
                    if let Some(due) = p.next_due {
                        let until = (due - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
                        sleep = sleep.min(until.max(Duration::from_millis(10)));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "upload pass failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.notify.notified() => {}
                () = &mut shutdown => return,
            }
        }
    }

    /// One pass: every due `spooled` recording is attempted (up to
    /// `concurrency` at once); `uploaded` leftovers of a crash are cleaned up.
    pub async fn run_once(&self) -> Result<Pass> {
        let now = self.clock.now();
        let mut due = Vec::new();
        let mut pass = Pass::default();
        for meta in self.spool.list()? {
            match meta.state {
                RecordingState::Spooled => {
                    if let Some(at) = meta.upload.next_attempt_at.filter(|at| *at > now) {
                        pass.waiting += 1;
                        pass.next_due = Some(pass.next_due.map_or(at, |d| d.min(at)));
                        if self.index.get(&meta.call_id)?.is_none() {
                            self.index.upsert(&meta)?;
                        }
                    } else {
                        due.push(meta);
                    }
                }
                RecordingState::Uploaded => self.finish_local(&meta)?,
                RecordingState::Recording | RecordingState::Failed => {}
            }
        }
        let results: Vec<(Metadata, Result<()>)> = futures::stream::iter(due)
            .map(|meta| async move {
                let r = match tokio::time::timeout(self.cfg.attempt_timeout, self.attempt(&meta))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(Error::Verify {
                        key: meta.call_id.to_string(),
                        reason: format!("attempt timed out after {:?}", self.cfg.attempt_timeout),
                    }),
                };
                (meta, r)
            })
            .buffer_unordered(self.cfg.concurrency)
            .collect()
            .await;
        for (mut meta, r) in results {
            match r {
                Ok(()) => pass.uploaded += 1,
                Err(e) => {
                    pass.failed += 1;
                    if let Some(at) = self.record_failure(&mut meta, &e)? {
                        pass.waiting += 1;
                        pass.next_due = Some(pass.next_due.map_or(at, |d| d.min(at)));
                    }
                }
            }
        }
        Ok(pass)
    }

    /// Bookkeeping after a failed attempt; returns the next deadline unless given up.
    fn record_failure(
        &self,
        meta: &mut Metadata,
        e: &Error,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.counters.failed_attempts.fetch_add(1, Relaxed);
        meta.upload.attempts += 1;
        meta.upload.last_error = Some(e.to_string());
        let give_up = matches!(e, Error::LocalCorrupt { .. })
            || (self.cfg.max_attempts > 0 && meta.upload.attempts >= self.cfg.max_attempts);
        let next = if give_up {
            meta.state = RecordingState::Failed;
            meta.upload.next_attempt_at = None;
            self.counters.given_up.fetch_add(1, Relaxed);
            tracing::error!(call_id = %meta.call_id, attempts = meta.upload.attempts, error = %e, "upload given up");
            None
        } else {
            let delay = backoff_delay(
                meta.upload.attempts,
                self.cfg.backoff_base,
                self.cfg.backoff_max,
                &mut *self.rng.lock().expect("not poisoned"),
            );
            let at = self.clock.now()
                + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            meta.upload.next_attempt_at = Some(at);
            tracing::warn!(call_id = %meta.call_id, attempts = meta.upload.attempts, retry_in_ms = delay.as_millis() as u64, error = %e, "upload failed; will retry");
            Some(at)
        };
        meta.store(&self.spool.meta_path(&meta.call_id))?;
        self.index.upsert(meta)?;
        Ok(next)
    }

    async fn attempt(&self, meta: &Metadata) -> Result<()> {
        let wav = self.spool.wav_path(&meta.call_id);
        let expected = meta
            .sha256
            .clone()
            .ok_or_else(|| Error::LocalCorrupt { path: wav.clone() })?;
        let local = {
            let wav = wav.clone();
            tokio::task::spawn_blocking(move || sha256_file(&wav))
                .await
                .map_err(|e| Error::io("hash", "spawn_blocking", std::io::Error::other(e)))??
        };
        if local.0 != expected {
            return Err(Error::LocalCorrupt { path: wav });
        }
        let size = local.1;
        let key = self.store.wav_key(meta.started_at, &meta.call_id);
        let mut uploaded = meta.clone();
        uploaded.upload.key = Some(key.to_string());
        let attrs = self.attributes(&uploaded);
        let store = self.store.object_store();
        if size > self.cfg.multipart_threshold {
            self.put_multipart(store, &key, &wav, attrs).await?;
        } else {
            let bytes = tokio::fs::read(&wav)
                .await
                .map_err(|e| Error::io("read", &wav, e))?;
            store
                .put_opts(
                    &key,
                    PutPayload::from(bytes),
                    PutOptions {
                        attributes: attrs,
                        ..PutOptions::default()
                    },
                )
                .await?;
        }
        self.verify(store, &key, size, &expected).await?;
        uploaded.state = RecordingState::Uploaded;
        uploaded.upload.uploaded_at = Some(self.clock.now());
        uploaded.upload.last_error = None;
        uploaded.upload.next_attempt_at = None;
        let json = serde_json::to_vec_pretty(&uploaded).map_err(|source| Error::Sidecar {
            path: wav.with_extension("json"),
            source,
        })?;
        store
            .put(
                &self.store.meta_key(meta.started_at, &meta.call_id),
                PutPayload::from(json),
            )
            .await?;
        // Durable order: sidecar says uploaded → index → local files go.
        uploaded.store(&self.spool.meta_path(&meta.call_id))?;
        self.counters.uploaded.fetch_add(1, Relaxed);
        self.counters.bytes.fetch_add(size, Relaxed);
        tracing::info!(call_id = %meta.call_id, key = %key, size, attempts = meta.upload.attempts + 1, "recording uploaded and verified");
        self.finish_local(&uploaded)
    }

    /// Indexes an uploaded recording and removes its local files.
    fn finish_local(&self, meta: &Metadata) -> Result<()> {
        self.index.upsert(meta)?;
        for p in [
            self.spool.wav_path(&meta.call_id),
            self.spool.meta_path(&meta.call_id),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", p, e)),
            }
        }
        crate::wav::sync_dir(self.spool.dir())
    }

    fn attributes(&self, meta: &Metadata) -> Attributes {
        let mut a = Attributes::new();
        if !self.store.supports_attributes() {
            return a;
        }
        a.insert(Attribute::ContentType, AttributeValue::from("audio/wav"));
        let p = &meta.parties;
        let fields: [(&'static str, Option<String>); 8] = [
            ("call-id", Some(meta.call_id.to_string())),
            ("caller", p.caller.clone()),
            ("callee", p.callee.clone()),
            ("queue", p.queue.clone()),
            ("agent", p.agent.clone()),
            ("duration-ms", Some(meta.duration_ms.to_string())),
            ("sha256", meta.sha256.clone()),
            ("started-at", Some(meta.started_at.to_rfc3339())),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                a.insert(
                    Attribute::Metadata(k.into()),
                    AttributeValue::from(header_safe(&v)),
                );
            }
        }
        a
    }

    async fn put_multipart(
        &self,
        store: &Arc<dyn ObjectStore>,
        key: &ObjectPath,
        wav: &Path,
        attrs: Attributes,
    ) -> Result<()> {
        let upload = store
            .put_multipart_opts(
                key,
                PutMultipartOptions {
                    attributes: attrs,
                    ..PutMultipartOptions::default()
                },
            )
            .await?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, self.cfg.part_size);
        let r: Result<()> = async {
            let mut f = tokio::fs::File::open(wav)
                .await
                .map_err(|e| Error::io("open", wav, e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f
                    .read(&mut buf)
                    .await
                    .map_err(|e| Error::io("read", wav, e))?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(2).await?;
                w.write(&buf[..n]);
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => {
                w.finish().await?;
                Ok(())
            }
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }

    async fn verify(
        &self,
        store: &Arc<dyn ObjectStore>,
        key: &ObjectPath,
        size: u64,
        sha: &str,
    ) -> Result<()> {
        let head = store.head(key).await?;
        if head.size != size {
            return Err(Error::Verify {
                key: key.to_string(),
                reason: format!("stored size {} != local {size}", head.size),
            });
        }
        if self.cfg.verify == Verify::ReadBack {
            let mut stream = store.get(key).await?.into_stream();
            let mut h = Sha256::new();
            while let Some(chunk) = stream.next().await {
                h.update(&chunk?);
            }
            let got = hex::encode(h.finalize());
            if got != sha {
                return Err(Error::Verify {
                    key: key.to_string(),
                    reason: format!("stored sha256 {got} != local {sha}"),
                });
            }
        }
        Ok(())
    }
}

/// S3 user metadata travels in HTTP headers: keep printable ASCII, percent-encode the rest.
fn header_safe(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let mut rng = StdRng::seed_from_u64(1);
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 1..40 {
            let step = base.saturating_mul(1 << (attempt - 1).min(30)).min(max);
            for _ in 0..20 {
                let d = backoff_delay(attempt, base, max, &mut rng);
                assert!(
                    d >= step / 2 && d <= step,
                    "attempt {attempt}: {d:?} vs step {step:?}"
                );
            }
        }
        let a: Vec<_> = (0..5)
            .map(|_| backoff_delay(3, base, max, &mut rng))
            .collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]), "jittered");
    }

    #[test]
    fn header_values() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("Zoë 100%"), "Zo%C3%AB 100%25");
    }
}
