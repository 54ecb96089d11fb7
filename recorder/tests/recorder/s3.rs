//! Uploads to a real S3 server (SeaweedFS), the store going down and coming back,
//! crash recovery followed by upload; plus the same flow on the local store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use recorder::access::{self, RangeReply};
use recorder::{
    wav, Index, ListFilter, Metadata, Recorder, RecordingState, SampleRate, Side, Store,
    SystemClock, Timestamp, UploadConfig, Uploader,
};

use crate::common::*;
use crate::weed::{self, Weed};

/// Records `secs` of two tones at 16 kHz under `id` and waits until spooled.
fn record(rec: &Recorder, dir: &std::path::Path, id: &str, secs: u64) -> Metadata {
    let t0 = Instant::now();
    let tap = rec.start(start_req(id, SampleRate::Hz16000, t0)).unwrap();
    for i in 0..secs * 50 {
        let pos = i * 320;
        tap.push(
            Side::Caller,
            Timestamp::Sample(pos),
            &tone(440.0, 16000, pos, 320, 6000.0),
        );
        tap.push(
            Side::Agent,
            Timestamp::Sample(pos),
            &tone(1000.0, 16000, pos, 320, 6000.0),
        );
        if i % 200 == 199 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    tap.stop(t0 + Duration::from_secs(secs)).unwrap();
    let m = wait_closed(dir, id);
    assert_eq!(m.state, RecordingState::Spooled);
    assert_eq!(m.dropped_frames, 0);
    m
}

fn upload_cfg(store: recorder::StoreConfig) -> UploadConfig {
    UploadConfig {
        store,
        prefix: Some("acme/pbx1".into()),
        multipart_threshold: 5 << 20,
        part_size: 5 << 20,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        scan_interval: Duration::from_millis(200),
        ..UploadConfig::default()
    }
}

async fn download_sha(
    index: &Index,
    spool: &recorder::Spool,
    store: &Store,
    id: &str,
) -> (String, Vec<u8>) {
    let body = access::fetch(
        index,
        spool,
        store,
        &recorder::CallId::new(id).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(body.reply, RangeReply::Full);
    let bytes = access::collect(body).await.unwrap();
    use sha2::Digest;
    (hex::encode(sha2::Sha256::digest(&bytes)), bytes)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn s3_round_trip_multipart_metadata_and_range() {
    let Some(bin) = weed::binary() else { return };
    let weed = Weed::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let small = record(&rec, dir.path(), "s3-small", 2);
    // 16 kHz stereo is 64 KB/s: 100 s is ~6.4 MB, two 5 MiB parts.
    let big = record(&rec, dir.path(), "s3-big", 100);
    assert!(big.size.unwrap() > 5 << 20);
    let index = Arc::new(Index::open(&dir.path().join("index.sqlite")).unwrap());
    let cfg = upload_cfg(weed.store_config());
    let store = Store::from_config(&cfg).unwrap();
    let up = Uploader::new(
        rec.spool(),
        store.clone(),
        Arc::clone(&index),
        cfg,
        Arc::new(SystemClock),
    )
    .unwrap();
    rt().block_on(async {
        let pass = up.run_once().await.unwrap();
        assert_eq!((pass.uploaded, pass.failed), (2, 0), "{pass:?}");
        for m in [&small, &big] {
            let id = m.call_id.as_str();
            assert!(
                !dir.path().join(format!("{id}.wav")).exists(),
                "local copy deleted after verify"
            );
            let e = index.get(&m.call_id).unwrap().unwrap();
            assert_eq!(e.state, RecordingState::Uploaded);
            assert_eq!(
                e.key.as_deref(),
                Some(format!("acme/pbx1/2025/05/06/{id}.wav").as_str())
            );
            let (sha, bytes) = download_sha(&index, &rec.spool(), &store, id).await;
            assert_eq!(Some(sha), m.sha256, "{id}");
            assert_eq!(bytes.len() as u64, m.size.unwrap());
            // The object carries the metadata.
            let key = object_store::path::Path::from(e.key.unwrap());
            let got = store.object_store().get(&key).await.unwrap();
            let meta: Vec<(String, String)> = got
                .attributes
                .iter()
                .map(|(k, v)| (format!("{k:?}"), v.to_string()))
                .collect();
            assert!(
                meta.iter()
                    .any(|(k, v)| k.contains("sha256") && Some(v.as_str()) == m.sha256.as_deref()),
                "{meta:?}"
            );
            assert!(
                meta.iter()
                    .any(|(k, v)| k.contains("agent") && v == "alice"),
                "{meta:?}"
            );
            // And the JSON beside it.
            let json = store
                .object_store()
                .get(&object_store::path::Path::from(format!(
                    "acme/pbx1/2025/05/06/{id}.json"
                )))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let side: Metadata = serde_json::from_slice(&json).unwrap();
            assert_eq!(
                (side.state, side.sha256.as_ref()),
                (RecordingState::Uploaded, m.sha256.as_ref())
            );
        }
        // Range from the store: the WAV header, then a 416.
        let id = recorder::CallId::new("s3-big").unwrap();
        let b = access::fetch(&index, &rec.spool(), &store, &id, Some("bytes=0-11"))
            .await
            .unwrap();
        assert_eq!(b.reply, RangeReply::Partial(0..12));
        let head = access::collect(b).await.unwrap();
        assert_eq!((&head[..4], &head[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
        let b = access::fetch(&index, &rec.spool(), &store, &id, Some("bytes=-100"))
            .await
            .unwrap();
        assert_eq!(
            b.reply,
            RangeReply::Partial(big.size.unwrap() - 100..big.size.unwrap())
        );
        assert_eq!(access::collect(b).await.unwrap().len(), 100);
        let b = access::fetch(
            &index,
            &rec.spool(),
            &store,
            &id,
            Some(&format!("bytes={}-", big.size.unwrap())),
        )
        .await
        .unwrap();
        assert_eq!(b.reply, RangeReply::Unsatisfiable);
        let listed = access::list(&index, &rec.spool(), &ListFilter::default()).unwrap();
        assert_eq!(listed.len(), 2);
    });
}

#[test]
fn store_down_during_uploads_then_back_nothing_lost() {
    let Some(bin) = weed::binary() else { return };
    let mut weed = Weed::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let index = Arc::new(Index::open(&dir.path().join("index.sqlite")).unwrap());
    let cfg = upload_cfg(weed.store_config());
    let store = Store::from_config(&cfg).unwrap();
    let mut metas = vec![record(&rec, dir.path(), "down-0", 1)];
    let rt = rt();
    {
        let up = Uploader::new(
            rec.spool(),
            store.clone(),
            Arc::clone(&index),
            cfg.clone(),
            Arc::new(SystemClock),
        )
        .unwrap();
        assert_eq!(rt.block_on(up.run_once()).unwrap().uploaded, 1);
        weed.kill();
        for i in 1..6 {
            metas.push(record(&rec, dir.path(), &format!("down-{i}"), 1));
        }
        // Several passes against the dead store: every attempt fails and backs off.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            rt.block_on(up.run_once()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(up.stats().failed_attempts >= 5, "{:?}", up.stats());
        assert_eq!(up.stats().uploaded, 1);
    }
    // "Restart": a new uploader continues from the sidecars' attempt counters.
    for m in &metas[1..] {
        let s = Metadata::load(&dir.path().join(format!("{}.json", m.call_id))).unwrap();
        assert_eq!(s.state, RecordingState::Spooled);
        assert!(
            s.upload.attempts >= 1
                && s.upload.last_error.is_some()
                && s.upload.next_attempt_at.is_some(),
            "{:?}",
            s.upload
        );
        assert!(
            dir.path().join(format!("{}.wav", m.call_id)).exists(),
            "nothing deleted while the store is down"
        );
    }
    metas.push(record(&rec, dir.path(), "down-6", 1));
    weed.restart();
    let up = Uploader::new(
        rec.spool(),
        store.clone(),
        Arc::clone(&index),
        cfg,
        Arc::new(SystemClock),
    )
    .unwrap();
    rec.on_spooled({
        let w = up.waker();
        move |_| w.wake()
    });
    rt.block_on(async {
        let idx = Arc::clone(&index);
        let all_done = async move {
            loop {
                let n = idx
                    .list(&ListFilter::default())
                    .unwrap()
                    .iter()
                    .filter(|e| e.state == RecordingState::Uploaded)
                    .count();
                if n == 7 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), up.run(all_done))
            .await
            .expect("all recordings uploaded within 60 s after the store came back");
        for m in &metas {
            let (sha, _) = download_sha(&index, &rec.spool(), &store, m.call_id.as_str()).await;
            assert_eq!(Some(sha), m.sha256, "{}", m.call_id);
            assert!(!dir.path().join(format!("{}.wav", m.call_id)).exists());
        }
    });
}

#[test]
fn crashed_recording_is_recovered_and_uploaded() {
    let Some(bin) = weed::binary() else { return };
    let weed = Weed::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    {
        let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
        record(&rec, dir.path(), "crashed", 3);
    }
    // Back to the state kill -9 leaves: sidecar `recording`, zero header sizes, a torn frame.
    let side = dir.path().join("crashed.json");
    let mut m = Metadata::load(&side).unwrap();
    m.state = RecordingState::Recording;
    m.sha256 = None;
    m.store(&side).unwrap();
    let wavp = dir.path().join("crashed.wav");
    let mut b = std::fs::read(&wavp).unwrap();
    b[4..8].fill(0);
    b[40..44].fill(0);
    b.truncate(b.len() - 64_000 + 2);
    std::fs::write(&wavp, &b).unwrap();
    let (rec, report) = Recorder::open(spool_cfg(dir.path())).unwrap();
    assert_eq!(report.recovered.len(), 1);
    let fixed = Metadata::load(&side).unwrap();
    assert_eq!(fixed.duration_ms, 2000);
    let index = Arc::new(Index::open_in_memory().unwrap());
    let cfg = upload_cfg(weed.store_config());
    let store = Store::from_config(&cfg).unwrap();
    let up = Uploader::new(
        rec.spool(),
        store.clone(),
        Arc::clone(&index),
        cfg,
        Arc::new(SystemClock),
    )
    .unwrap();
    rt().block_on(async {
        assert_eq!(up.run_once().await.unwrap().uploaded, 1);
        let (sha, bytes) = download_sha(&index, &rec.spool(), &store, "crashed").await;
        assert_eq!(Some(sha), fixed.sha256);
        let r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!((r.spec().channels, r.duration()), (2, 32000));
    });
}

#[test]
fn local_store_upload_fetch_list_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let (rec, _) = Recorder::open(spool_cfg(&spool_dir)).unwrap();
    let a = record(&rec, &spool_dir, "loc-a", 1);
    let index = Arc::new(Index::open(&dir.path().join("index.sqlite")).unwrap());
    let cfg = UploadConfig {
        store: recorder::StoreConfig::Local {
            root: dir.path().join("recordings"),
        },
        ..upload_cfg(recorder::StoreConfig::default())
    };
    let store = Store::from_config(&cfg).unwrap();
    let up = Uploader::new(
        rec.spool(),
        store.clone(),
        Arc::clone(&index),
        cfg,
        Arc::new(SystemClock),
    )
    .unwrap();
    // A second recording stays in the spool: listing merges both.
    let b = record(&rec, &spool_dir, "loc-b", 1);
    let rt = rt();
    rt.block_on(async {
        let id_b = b.call_id.clone();
        let pass = up.run_once().await.unwrap();
        assert_eq!(pass.uploaded, 2);
        let file = dir.path().join("recordings/acme/pbx1/2025/05/06/loc-a.wav");
        assert_eq!(
            wav::sha256_file(&file).unwrap().0,
            a.sha256.clone().unwrap()
        );
        let all = access::list(
            &index,
            &rec.spool(),
            &ListFilter {
                call_id: Some(id_b.clone()),
                ..ListFilter::default()
            },
        )
        .unwrap();
        assert_eq!(all.len(), 1);
        let (sha, _) = download_sha(&index, &rec.spool(), &store, "loc-b").await;
        assert_eq!(Some(sha), b.sha256);
        // Range on a local-store object.
        let body = access::fetch(&index, &rec.spool(), &store, &id_b, Some("bytes=44-47"))
            .await
            .unwrap();
        assert_eq!(body.len, b.size.unwrap());
        let chunks: Vec<_> = body.stream.collect().await;
        assert_eq!(
            chunks.into_iter().map(|c| c.unwrap().len()).sum::<usize>(),
            4
        );
        // Retention: started 2025-05-06; 30 days later with a 7-day policy both go.
        let now = chrono::DateTime::parse_from_rfc3339("2025-06-05T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let kept = recorder::retention::purge(&index, &store, "default", 60, now)
            .await
            .unwrap();
        assert_eq!(kept.deleted, 0);
        let r = recorder::retention::purge(&index, &store, "default", 7, now)
            .await
            .unwrap();
        assert_eq!((r.deleted, r.failed.len()), (2, 0));
        assert!(!file.exists());
        assert!(index.get(&id_b).unwrap().is_none());
        assert!(matches!(
            access::fetch(&index, &rec.spool(), &store, &id_b, None).await,
            Err(recorder::Error::NotFound(_))
        ));
        assert_eq!(store.object_store().list(None).count().await, 0);
    });
}
