//! Listing and downloading recordings, for the HTTP API (the server, which
//! owns the spool) and the CLI (beside a running server: the spool is
//! locked, so its sidecars are read as files and its WAVs opened directly).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use recorder::access::{parse_range, Body, RangeReply};
use recorder::{CallId, Index, IndexEntry, ListFilter, Metadata, RecordingState, Spool, Store};

use super::RecordingConfig;

/// Why a recording could not be listed or served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// No recording of that call (or not finished yet).
    #[error("no recording of call {0}")]
    NotFound(String),
    /// The recorder's spool, index or store failed.
    #[error(transparent)]
    Recorder(#[from] recorder::Error),
    /// The store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A spool file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the spool is: owned by this process (the server), or only a
/// directory (a CLI beside the server).
enum SpoolSide {
    Owned(Arc<Spool>),
    Dir(PathBuf),
}

/// Listing and downloads over the index, the spool and the store.
pub struct RecordingAccess {
    index: Arc<Index>,
    spool: SpoolSide,
    store: Store,
    /// The secret of signed links (the server's; None for the CLI).
    link: Option<super::LinkKey>,
}

impl RecordingAccess {
    /// The server's access (it owns the spool).
    pub fn serving(
        index: Arc<Index>,
        spool: Arc<Spool>,
        store: Store,
        link: super::LinkKey,
    ) -> Self {
        Self {
            index,
            spool: SpoolSide::Owned(spool),
            store,
            link: Some(link),
        }
    }

    /// The signed-link secret (the server's access only).
    pub fn link_key(&self) -> Option<&super::LinkKey> {
        self.link.as_ref()
    }

    /// Access for an admin command: the index and store of `config`, the
    /// spool read as a directory (a running server holds its lock).
    pub fn for_admin(config: &RecordingConfig) -> Result<Self, AccessError> {
        Ok(Self {
            index: Arc::new(Index::open(&config.index)?),
            spool: SpoolSide::Dir(config.spool.dir.clone()),
            store: Store::from_config(&config.upload)?,
            link: None,
        })
    }

    /// A listing filter from Unix milliseconds and a call id (the CLI's
    /// `--from`, `--to`, `--call`).
    pub fn filter(
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        call: Option<&str>,
    ) -> Result<ListFilter, AccessError> {
        let at = |ms: u64| chrono::DateTime::from_timestamp_millis(ms as i64);
        Ok(ListFilter {
            from: from_ms.and_then(at),
            to: to_ms.and_then(at),
            call_id: call
                .map(|c| CallId::new(c).map_err(|_| AccessError::NotFound(c.to_owned())))
                .transpose()?,
            limit: None,
        })
    }

    /// The transcript of `id` (SPEC §15), in time order; empty while it is
    /// being made or when transcription is off.
    pub fn transcript(&self, id: &str) -> Result<Vec<recorder::transcript::Segment>, AccessError> {
        let call = CallId::new(id).map_err(|_| AccessError::NotFound(id.to_owned()))?;
        Ok(self.index.transcript(&call)?)
    }

    /// Writes `id`'s whole WAV to `path`; returns its size.
    pub async fn download(&self, id: &str, path: &std::path::Path) -> Result<u64, AccessError> {
        use tokio::io::AsyncWriteExt;
        let mut body = self.fetch(id, None).await?;
        let io = |source| AccessError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = tokio::fs::File::create(path).await.map_err(io)?;
        let mut n = 0u64;
        while let Some(chunk) = body.stream.next().await {
            let chunk = chunk?;
            n += chunk.len() as u64;
            f.write_all(&chunk).await.map_err(io)?;
        }
        f.flush().await.map_err(io)?;
        f.sync_all().await.map_err(io)?;
        Ok(n)
    }

    /// Recordings matching `f`, newest first: the spool's (newer) merged
    /// with the index's.
    pub fn list(&self, f: &ListFilter) -> Result<Vec<IndexEntry>, AccessError> {
        match &self.spool {
            SpoolSide::Owned(spool) => Ok(recorder::access::list(&self.index, spool, f)?),
            SpoolSide::Dir(dir) => {
                let mut out = self.index.list(f)?;
                for m in sidecars(dir) {
                    let in_range = f.from.is_none_or(|t| m.started_at >= t)
                        && f.to.is_none_or(|t| m.started_at < t)
                        && f.call_id.as_ref().is_none_or(|id| *id == m.call_id);
                    if in_range {
                        out.retain(|e| e.meta.call_id != m.call_id);
                        out.push(IndexEntry {
                            state: m.state,
                            key: m.upload.key.clone(),
                            meta: m,
                        });
                    }
                }
                out.sort_by_key(|e| std::cmp::Reverse(e.meta.started_at));
                out.truncate(f.limit.unwrap_or(1000) as usize);
                Ok(out)
            }
        }
    }

    /// `id`'s WAV honouring a `Range` header: from the spool while it is
    /// there (closed), else from the store.
    pub async fn fetch(&self, id: &str, range: Option<&str>) -> Result<Body, AccessError> {
        let id = CallId::new(id).map_err(|_| AccessError::NotFound(id.to_owned()))?;
        match &self.spool {
            SpoolSide::Owned(spool) => {
                recorder::access::fetch(&self.index, spool, &self.store, &id, range)
                    .await
                    .map_err(|e| match e {
                        recorder::Error::NotFound(_) => AccessError::NotFound(id.to_string()),
                        e => AccessError::Recorder(e),
                    })
            }
            SpoolSide::Dir(dir) => {
                let closed = Metadata::load(&dir.join(format!("{id}.json")))
                    .is_ok_and(|m| m.state != RecordingState::Recording);
                let wav = dir.join(format!("{id}.wav"));
                if closed {
                    if let Ok(bytes) = tokio::fs::read(&wav).await {
                        return Ok(local_body(Bytes::from(bytes), range));
                    }
                }
                self.fetch_stored(&id, range).await
            }
        }
    }

    async fn fetch_stored(&self, id: &CallId, range: Option<&str>) -> Result<Body, AccessError> {
        let entry = self
            .index
            .get(id)?
            .ok_or_else(|| AccessError::NotFound(id.to_string()))?;
        let key = entry
            .key
            .filter(|_| entry.state == RecordingState::Uploaded)
            .ok_or_else(|| AccessError::NotFound(id.to_string()))?;
        let path = object_store::path::Path::from(key);
        let os: &dyn ObjectStore = self.store.object_store().as_ref();
        let head = os.head(&path).await?;
        let reply = parse_range(range, head.size);
        let range = match &reply {
            RangeReply::Unsatisfiable => {
                return Ok(Body {
                    len: head.size,
                    reply,
                    stream: futures::stream::empty().boxed(),
                })
            }
            RangeReply::Full => None,
            RangeReply::Partial(r) => Some(GetRange::Bounded(r.clone())),
        };
        let stream = os
            .get_opts(
                &path,
                GetOptions {
                    range,
                    ..GetOptions::default()
                },
            )
            .await?
            .into_stream()
            .map(|r| r.map_err(recorder::Error::from))
            .boxed();
        Ok(Body {
            len: head.size,
            reply,
            stream,
        })
    }
}

/// The readable sidecars of a spool directory.
fn sidecars(dir: &std::path::Path) -> Vec<Metadata> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Metadata::load(&p).ok())
        .collect()
}

fn local_body(bytes: Bytes, range: Option<&str>) -> Body {
    let len = bytes.len() as u64;
    let reply = parse_range(range, len);
    let part = match &reply {
        RangeReply::Full => bytes,
        RangeReply::Partial(r) => bytes.slice(r.start as usize..r.end as usize),
        RangeReply::Unsatisfiable => Bytes::new(),
    };
    Body {
        len,
        reply,
        stream: futures::stream::once(async move { Ok(part) }).boxed(),
    }
}
