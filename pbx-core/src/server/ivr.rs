//! IVR wiring of `pbx serve`: the flows of `[ivr] flows_dir` (reloaded when
//! a file changes, checked every second, on SIGHUP and on the admin
//! `POST /reload` of `pbx reload`; an invalid file
//! keeps its previous version in service and calls in progress keep the
//! version they started with), the HTTP requests of http nodes run on tokio,
//! and the trajectory retention purge.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::api::reload::log_report;
use crate::b2bua::engine::HttpJob;
use crate::b2bua::ivr_app::SharedFlows;
use crate::b2bua::EngineHandle;
use crate::http_client::HttpClient;
use crate::store::Store;

/// How often expired trajectories are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Loads every flow of `dir` into `flows`, logging what was refused.
pub(super) fn load_flows(flows: &SharedFlows, dir: &Path) {
    match flows.write().reload_dir(dir) {
        Ok(reports) => {
            for r in reports {
                log_report(&r);
            }
        }
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "IVR flows not loaded"),
    }
    let names: Vec<String> = flows.read().names().map(str::to_owned).collect();
    tracing::info!(dir = %dir.display(), ?names, "IVR flows loaded");
}

/// Modification times of the flow files, to reload only what changed.
struct Watcher {
    dir: PathBuf,
    flows: SharedFlows,
    seen: HashMap<PathBuf, SystemTime>,
}

impl Watcher {
    fn scan(&self) -> HashMap<PathBuf, SystemTime> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return HashMap::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter_map(|p| {
                let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((p, m))
            })
            .collect()
    }

    /// Reloads changed and new files (removed files keep their flow).
    fn poll(&mut self) {
        let now = self.scan();
        for (path, mtime) in &now {
            if self.seen.get(path) != Some(mtime) {
                let report = self.flows.write().reload_file(path);
                if report.applied {
                    tracing::info!(file = %path.display(), flow = ?report.flow, "IVR flow reloaded");
                } else {
                    log_report(&report);
                }
            }
        }
        self.seen = now;
    }
}

/// The flow watcher and trajectory purge thread.
pub(super) fn spawn_housekeeping(
    flows: SharedFlows,
    dir: PathBuf,
    store: Store,
    retention: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("pbx-ivr".into())
        .spawn(move || {
            let mut watcher = Watcher {
                dir,
                flows,
                seen: HashMap::new(),
            };
            watcher.seen = watcher.scan();
            let mut last_purge: Option<Instant> = None;
            while !stop.load(Ordering::Relaxed) {
                watcher.poll();
                if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                    last_purge = Some(Instant::now());
                    purge(&store, retention);
                }
                for _ in 0..20 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
        .expect("spawning the IVR thread")
}

fn purge(store: &Store, retention: Duration) {
    let cutoff = SystemTime::now()
        .checked_sub(retention)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    match store.purge_trajectories(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "expired IVR trajectories purged"),
        Err(e) => tracing::error!(error = %e, "purging IVR trajectories failed"),
    }
}

/// Reloads every flow on SIGHUP.
pub(super) fn spawn_sighup(
    flows: SharedFlows,
    dir: PathBuf,
) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP reload of IVR flows");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading IVR flows");
            load_flows(&flows, &dir);
        }
    }))
}

/// Runs the engine's HTTP jobs on tokio and hands the outcomes back to the
/// engine through its handle. Ends when the engine's driver is gone.
pub(super) fn spawn_http_jobs(
    engine: EngineHandle,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<HttpJob>,
    ca_file: Option<PathBuf>,
) -> tokio::task::JoinHandle<()> {
    // The CA file was checked when the config was loaded.
    let client = match HttpClient::with_ca_files(ca_file.as_slice()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "IVR http nodes trust the Mozilla roots only");
            HttpClient::new()
        }
    };
    tokio::spawn(async move {
        while let Some(job) = jobs.recv().await {
            let (engine, client) = (engine.clone(), client.clone());
            tokio::spawn(async move {
                let outcome = client
                    .post_json(&job.url, job.body_json.clone(), job.timeout)
                    .await;
                tracing::debug!(call = %job.call, url = %job.url, ?outcome, "IVR http request done");
                // Off the runtime's workers: the hand-back may wait for room.
                let _ = tokio::task::spawn_blocking(move || engine.http_result(job, outcome)).await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str, mtime_secs: u64) {
        std::fs::write(path, text).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_secs))
            .unwrap();
    }

    fn reason(flows: &SharedFlows) -> Option<String> {
        let flow = flows.read().get("f")?;
        match &flow.nodes[0].kind {
            ivr::NodeKind::Hangup(h) => h.reason.clone(),
            _ => None,
        }
    }

    #[test]
    fn changed_files_are_reloaded_and_invalid_ones_keep_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        let v = |r: &str| {
            format!("[flow]\nname = \"f\"\n[nodes.a]\ntype = \"hangup\"\nreason = \"{r}\"\n")
        };
        write(&path, &v("v1"), 1_000);
        let flows: SharedFlows = Arc::default();
        load_flows(&flows, dir.path());
        let mut w = Watcher {
            dir: dir.path().to_owned(),
            flows: flows.clone(),
            seen: HashMap::new(),
        };
        w.seen = w.scan();
        let running = flows.read().get("f").unwrap();
        assert_eq!(reason(&flows).as_deref(), Some("v1"));

        w.poll();
        assert!(
            Arc::ptr_eq(&running, &flows.read().get("f").unwrap()),
            "unchanged: not reloaded"
        );

        write(
            &path,
            "[flow]\nname = \"f\"\n[nodes.a]\ntype = \"nope\"\n",
            2_000,
        );
        w.poll();
        assert_eq!(
            reason(&flows).as_deref(),
            Some("v1"),
            "an invalid file keeps v1"
        );

        write(&path, &v("v2"), 3_000);
        w.poll();
        assert_eq!(reason(&flows).as_deref(), Some("v2"));
        // The call that started on v1 keeps it.
        assert!(
            matches!(&running.nodes[0].kind, ivr::NodeKind::Hangup(h) if h.reason.as_deref() == Some("v1"))
        );

        write(
            &dir.path().join("g.toml"),
            &v("g").replace("\"f\"", "\"g\""),
            4_000,
        );
        w.poll();
        assert!(flows.read().get("g").is_some(), "new files are picked up");
    }
}
