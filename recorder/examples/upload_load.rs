//! Upload throughput to S3 (issue 14's bench): records N stereo 16 kHz
//! recordings of SECS seconds each into a fresh spool (64 KB/s each), then
//! lets the uploader send them all — upload, HEAD and sha256 verification,
//! local delete — with `concurrency` uploads at once, and prints MB/s and
//! recordings/s. `benches/recording_upload.sh` starts SeaweedFS and runs it:
//!
//!   cargo run --release -p recorder --example upload_load -- ENDPOINT N SECS [CONCURRENCY]
//!
//! ENDPOINT is an S3 endpoint (path style) with access key `pbxtestkey`,
//! secret `pbxtestsecret` and bucket `recordings`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use recorder::{
    CallId, Index, Parties, Recorder, RecordingState, S3Config, SampleRate, Side, SpoolConfig,
    StartRequest, Store, StoreConfig, SystemClock, Timestamp, UploadConfig, Uploader,
};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: Option<T>) -> T {
    match args.get(i).map(|a| a.parse::<T>()) {
        Some(Ok(v)) => v,
        None if default.is_some() => default.unwrap(),
        _ => {
            eprintln!("usage: upload_load ENDPOINT N SECS [CONCURRENCY]");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint: String = arg(&args, 0, None);
    let n: usize = arg(&args, 1, None);
    let secs: u64 = arg(&args, 2, None);
    let concurrency: usize = arg(&args, 3, Some(8));
    assert!(
        (1..=2000).contains(&n) && (1..=600).contains(&secs),
        "N 1-2000, SECS 1-600"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: dir.path().join("spool"),
        queue_frames: 1 << 17,
        ..SpoolConfig::default()
    })
    .expect("spool");
    // Record: a sweep of tones, pushed as fast as the writer takes them.
    let t0 = Instant::now();
    let frame: Vec<i16> = (0..320)
        .map(|i| ((i as f64 * 0.3).sin() * 6000.0) as i16)
        .collect();
    for k in 0..n {
        let tap = rec
            .start(StartRequest {
                call_id: CallId::new(format!("c{k:016x}")).expect("id"),
                parties: Parties {
                    caller: Some("+4930111".into()),
                    callee: Some("200".into()),
                    queue: Some("sales".into()),
                    agent: Some("alice".into()),
                    policy: None,
                },
                sample_rate: SampleRate::Hz16000,
                started_at: chrono::Utc::now(),
                now: t0,
            })
            .expect("start");
        for i in 0..secs * 50 {
            let pos = Timestamp::Sample(i * 320);
            tap.push(Side::Caller, pos, &frame);
            tap.push(Side::Agent, pos, &frame);
            if i % 500 == 499 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        tap.stop(t0 + Duration::from_secs(secs)).expect("stop");
    }
    let spool = rec.spool();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let list = spool.list().expect("list");
        if list.len() == n && list.iter().all(|m| m.state == RecordingState::Spooled) {
            break;
        }
        assert!(Instant::now() < deadline, "recordings never all spooled");
        std::thread::sleep(Duration::from_millis(50));
    }
    let bytes: u64 = spool
        .list()
        .expect("list")
        .iter()
        .map(|m| m.size.unwrap_or(0))
        .sum();
    let dropped: u64 = spool
        .list()
        .expect("list")
        .iter()
        .map(|m| m.dropped_frames)
        .sum();
    eprintln!(
        "spooled {n} recordings of {secs} s, {:.1} MB, {dropped} frames dropped, in {:.1} s",
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );

    // Upload.
    let cfg = UploadConfig {
        store: StoreConfig::S3(S3Config {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            bucket: "recordings".into(),
            access_key_id: Some("pbxtestkey".into()),
            secret_access_key: Some("pbxtestsecret".into()),
            ..S3Config::default()
        }),
        prefix: Some("bench".into()),
        concurrency,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..UploadConfig::default()
    };
    let index = Arc::new(Index::open(&dir.path().join("index.sqlite")).expect("index"));
    let store = Store::from_config(&cfg).expect("store");
    let up = Uploader::new(spool, store, index, cfg, Arc::new(SystemClock)).expect("uploader");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t1 = Instant::now();
    let (mut uploaded, mut failed) = (0, 0);
    rt.block_on(async {
        while uploaded < n {
            let pass = up.run_once().await.expect("pass");
            uploaded += pass.uploaded;
            failed += pass.failed;
            assert!(
                t1.elapsed() < Duration::from_secs(600),
                "uploads took over 10 min"
            );
            if pass.uploaded == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let took = t1.elapsed().as_secs_f64();
    println!(
        "uploaded {uploaded} recordings ({:.1} MB) in {took:.2} s with {concurrency} at once: \
         {:.1} MB/s, {:.1} recordings/s, {failed} failed attempts (sha256 verified each)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / took,
        uploaded as f64 / took
    );
}
