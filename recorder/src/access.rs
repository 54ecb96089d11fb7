//! Access helpers for the HTTP layer and the CLI: listing, fetching with HTTP
//! Range (RFC 9110 §14), and links signed with an expiry (HMAC-SHA256).

use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use sha2::Sha256;

use crate::id::CallId;
use crate::index::{Index, IndexEntry, ListFilter};
use crate::meta::RecordingState;
use crate::spool::Spool;
use crate::store::Store;
use crate::{Error, Result};

/// A satisfiable byte range of a resource of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeReply {
    /// No `Range` header (or one to ignore): 200 with the whole body.
    Full,
    /// 206 with `Content-Range: bytes {start}-{end-1}/{len}`.
    Partial(Range<u64>),
    /// 416 with `Content-Range: bytes */{len}`.
    Unsatisfiable,
}

impl RangeReply {
    /// The `Content-Range` header value, if the reply has one.
    pub fn content_range(&self, len: u64) -> Option<String> {
        match self {
            Self::Full => None,
            Self::Partial(r) => Some(format!("bytes {}-{}/{len}", r.start, r.end - 1)),
            Self::Unsatisfiable => Some(format!("bytes */{len}")),
        }
    }
}

/// Interprets a `Range` header for a body of `len` bytes. Only a single
/// `bytes=` range is served; multiple ranges and other units are answered with
/// the full body (allowed by RFC 9110 §14.2), a syntactically broken header is
/// ignored the same way, and a range past the end is 416.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeReply {
    let Some(h) = header.map(str::trim) else {
        return RangeReply::Full;
    };
    let Some(spec) = h.strip_prefix("bytes=") else {
        return RangeReply::Full;
    };
    if spec.contains(',') {
        return RangeReply::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReply::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last N bytes.
        let Ok(n) = b.parse::<u64>() else {
            return RangeReply::Full;
        };
        if n == 0 || len == 0 {
            return RangeReply::Unsatisfiable;
        }
        return RangeReply::Partial(len.saturating_sub(n)..len);
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeReply::Full;
    };
    let end = if b.is_empty() {
        len
    } else {
        match b.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(len),
            _ => return RangeReply::Full,
        }
    };
    if start >= len {
        return RangeReply::Unsatisfiable;
    }
    RangeReply::Partial(start..end)
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], id: &CallId, expires: i64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(id.as_str().as_bytes());
    m.update(b"\n");
    m.update(expires.to_string().as_bytes());
    m
}

/// A download token for `id` valid until `expires` (unix seconds): hex HMAC-SHA256
/// over `"{call_id}\n{expires}"`. Put both into the link, e.g.
/// `/recordings/{id}?expires={expires}&sig={token}`.
pub fn sign(key: &[u8], id: &CallId, expires: DateTime<Utc>) -> String {
    hex::encode(mac(key, id, expires.timestamp()).finalize().into_bytes())
}

/// Why a signed link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Past its expiry.
    #[error("link expired")]
    Expired,
    /// Signature wrong (or not hex).
    #[error("bad link signature")]
    BadSignature,
}

/// Checks a token from [`sign`] in constant time.
pub fn verify_link(
    key: &[u8],
    id: &CallId,
    expires_unix: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkError> {
    let sig = hex::decode(token).map_err(|_| LinkError::BadSignature)?;
    mac(key, id, expires_unix)
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)?;
    if now.timestamp() > expires_unix {
        return Err(LinkError::Expired);
    }
    Ok(())
}

/// Recordings matching `f`: those still in the spool (from their sidecars)
/// merged with the index (spool wins, being newer), newest first.
pub fn list(index: &Index, spool: &Spool, f: &ListFilter) -> Result<Vec<IndexEntry>> {
    let mut out = index.list(f)?;
    for m in spool.list()? {
        let in_range = f.from.is_none_or(|t| m.started_at >= t)
            && f.to.is_none_or(|t| m.started_at < t)
            && f.call_id.as_ref().is_none_or(|id| *id == m.call_id);
        if !in_range {
            continue;
        }
        out.retain(|e| e.meta.call_id != m.call_id);
        out.push(IndexEntry {
            state: m.state,
            key: m.upload.key.clone(),
            meta: m,
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.meta.started_at));
    out.truncate(f.limit.unwrap_or(1000) as usize);
    Ok(out)
}

/// A recording body being served.
pub struct Body {
    /// Total length of the recording.
    pub len: u64,
    /// What the `Range` header asked for (and what `stream` yields).
    pub reply: RangeReply,
    /// The bytes of `reply` (empty for [`RangeReply::Unsatisfiable`]).
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("len", &self.len)
            .field("reply", &self.reply)
            .finish_non_exhaustive()
    }
}

/// Opens `id`'s recording from the spool (while it is there) or the store,
/// honouring a `Range` header. [`Error::NotFound`] when neither has it.
pub async fn fetch(
    index: &Index,
    spool: &Spool,
    store: &Store,
    id: &CallId,
    range: Option<&str>,
) -> Result<Body> {
    let local = spool.wav_path(id);
    if let Ok(md) = tokio::fs::metadata(&local).await {
        let recording = crate::Metadata::load(&spool.meta_path(id))
            .is_ok_and(|m| m.state == RecordingState::Recording);
        if !recording {
            return fetch_local(local, md.len(), range).await;
        }
    }
    let entry = index
        .get(id)?
        .ok_or_else(|| Error::NotFound(id.to_string()))?;
    let key = entry
        .key
        .filter(|_| entry.state == RecordingState::Uploaded)
        .ok_or_else(|| Error::NotFound(id.to_string()))?;
    let path = object_store::path::Path::from(key);
    let os: &dyn ObjectStore = store.object_store().as_ref();
    let head = os.head(&path).await?;
    let reply = parse_range(range, head.size);
    let stream = match &reply {
        RangeReply::Unsatisfiable => futures::stream::empty().boxed(),
        RangeReply::Full => os
            .get_opts(&path, GetOptions::default())
            .await?
            .into_stream()
            .map(|r| r.map_err(Error::from))
            .boxed(),
        RangeReply::Partial(r) => os
            .get_opts(
                &path,
                GetOptions {
                    range: Some(GetRange::Bounded(r.clone())),
                    ..GetOptions::default()
                },
            )
            .await?
            .into_stream()
            .map(|r| r.map_err(Error::from))
            .boxed(),
    };
    Ok(Body {
        len: head.size,
        reply,
        stream,
    })
}

async fn fetch_local(path: std::path::PathBuf, len: u64, range: Option<&str>) -> Result<Body> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let reply = parse_range(range, len);
    let r = match &reply {
        RangeReply::Unsatisfiable => {
            return Ok(Body {
                len,
                reply,
                stream: futures::stream::empty().boxed(),
            })
        }
        RangeReply::Full => 0..len,
        RangeReply::Partial(r) => r.clone(),
    };
    let mut f = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::io("open", &path, e))?;
    f.seek(std::io::SeekFrom::Start(r.start))
        .await
        .map_err(|e| Error::io("seek", &path, e))?;
    let left = r.end - r.start;
    let stream = futures::stream::unfold((f, left, path), |(mut f, left, path)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; left.min(256 * 1024) as usize];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (f, left - n as u64, path)))
            }
            Err(e) => Some((Err(Error::io("read", &path, e)), (f, 0, path))),
        }
    })
    .boxed();
    Ok(Body { len, reply, stream })
}

/// Collects a body into memory (CLI `get`, tests).
pub async fn collect(mut body: Body) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = body.stream.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeReply::*;
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Partial(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Partial(0..100));
        assert_eq!(parse_range(Some("bytes=50-5000"), 100), Partial(50..100));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=9-3"), 100), Full);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), Full);
        assert_eq!(parse_range(Some("bytes=x-y"), 100), Full);
        assert_eq!(
            parse_range(Some("bytes=18446744073709551615-18446744073709551615"), 100),
            Unsatisfiable
        );
        assert_eq!(
            Partial(0..10).content_range(100).as_deref(),
            Some("bytes 0-9/100")
        );
        assert_eq!(
            Unsatisfiable.content_range(100).as_deref(),
            Some("bytes */100")
        );
    }

    #[test]
    fn signed_links() {
        let id = CallId::new("c1").unwrap();
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let exp = t + chrono::Duration::minutes(10);
        let tok = sign(b"secret", &id, exp);
        assert_eq!(
            verify_link(b"secret", &id, exp.timestamp(), &tok, t),
            Ok(())
        );
        assert_eq!(
            verify_link(
                b"secret",
                &id,
                exp.timestamp(),
                &tok,
                exp + chrono::Duration::seconds(1)
            ),
            Err(LinkError::Expired)
        );
        assert_eq!(
            verify_link(b"other", &id, exp.timestamp(), &tok, t),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify_link(
                b"secret",
                &CallId::new("c2").unwrap(),
                exp.timestamp(),
                &tok,
                t
            ),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify_link(b"secret", &id, exp.timestamp() + 1, &tok, t),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify_link(b"secret", &id, exp.timestamp(), "zz", t),
            Err(LinkError::BadSignature)
        );
    }
}
