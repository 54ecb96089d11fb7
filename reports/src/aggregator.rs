//! The aggregation thread of `pbx serve`: every 15 minutes (SPEC §13
//! [proposed]) the incremental run, and once per local day the rebuild of
//! the previous day. The first run comes right after start. A failed run
//! is logged and tried again at the next tick (the store may be busy); the
//! thread ends within a second of `stop`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::db::ReportDb;
use crate::settings::ReportSettings;

/// Time between incremental runs.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Unix ms now (the thread's clock; the runs themselves take `now` as an argument).
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One tick: the incremental run, then the nightly one if it is due.
pub fn tick(db: &mut ReportDb, now_ms: i64, s: &ReportSettings) -> crate::Result<()> {
    let r = db.run_incremental(now_ms, s)?;
    tracing::debug!(
        from = r.from_ms,
        to = r.to_ms,
        calls = r.calls,
        rows = r.rows,
        "reports: incremental aggregation"
    );
    if let Some(n) = db.run_nightly(now_ms, s)? {
        tracing::info!(
            from = n.from_ms,
            to = n.to_ms,
            calls = n.calls,
            rows = n.rows,
            "reports: nightly rebuild of the previous day"
        );
    }
    Ok(())
}

/// Starts the thread over the store at `db`.
pub fn spawn(
    db: PathBuf,
    settings: ReportSettings,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("pbx-reports".into()).spawn(move || {
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= next {
                next = Instant::now() + interval;
                let run = ReportDb::open(&db).and_then(|mut d| tick(&mut d, unix_ms(), &settings));
                if let Err(e) = run {
                    tracing::error!(error = %e, "reports: aggregation failed; trying again at the next run");
                }
            }
            std::thread::sleep(Duration::from_millis(200).min(interval));
        }
    })
}
