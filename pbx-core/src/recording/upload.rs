//! The uploader task: runs `recorder::Uploader` passes over the spool, then
//! marks the call records of recordings that reached the store (or were
//! given up), and purges recordings past `recording.retention_days`. Unlike
//! `Uploader::run` it never abandons a pass: at shutdown the pass in flight
//! finishes (a recording half uploaded is repeated at the next start anyway,
//! but one that finishes is not).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use recorder::{CallId, Index, RecordingState, Spool, Store, SystemClock, Uploader};
use tokio::sync::Notify;

use super::RecordingConfig;
use crate::store::{CdrQueue, OutboxEvent, StepWrite};

/// How often retention runs (when configured).
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How long the pass after the stop request may take.
const LAST_PASS: Duration = Duration::from_secs(10);

/// Recordings whose record still waits for `uploaded` / `failed`.
type Pending = Arc<Mutex<HashSet<CallId>>>;

/// The uploader and what it reports to.
pub(super) struct UploadLoop {
    uploader: Uploader,
    index: Arc<Index>,
    store: Store,
    records: CdrQueue,
    pending: Pending,
    wake: Arc<Notify>,
    retention_days: Option<u32>,
    scan_interval: Duration,
}

/// Called by the recorder's closer thread when a recording is spooled.
#[derive(Clone)]
pub(super) struct UploadNotifier {
    pending: Pending,
    wake: Arc<Notify>,
}

impl UploadNotifier {
    /// `id` reached the spool in `state`: upload it now.
    pub(super) fn spooled(&self, id: &CallId, state: RecordingState) {
        if state == RecordingState::Spooled {
            self.pending.lock().insert(id.clone());
            self.wake.notify_one();
        }
    }
}

/// Stops the uploader task after its pass in flight.
pub(super) struct UploadStop {
    stopping: Arc<AtomicBool>,
    wake: Arc<Notify>,
    done: crossbeam_channel::Receiver<()>,
}

impl UploadStop {
    /// Asks the task to stop and waits (at most `limit`) until it did.
    pub(super) fn stop_and_wait(self, limit: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        if self.done.recv_timeout(limit).is_err() {
            tracing::warn!(
                ?limit,
                "uploads still running at shutdown; they continue at the next start"
            );
        }
    }
}

impl UploadLoop {
    pub(super) fn new(
        config: &RecordingConfig,
        spool: Arc<Spool>,
        store: Store,
        index: Arc<Index>,
        records: CdrQueue,
    ) -> recorder::Result<Self> {
        // What a crash or a stop left in the spool is uploaded first; its
        // records learn the outcome like any other.
        let pending: HashSet<CallId> = spool
            .list()?
            .into_iter()
            .filter(|m| m.state == RecordingState::Spooled)
            .map(|m| m.call_id)
            .collect();
        let uploader = Uploader::new(
            spool,
            store.clone(),
            index.clone(),
            config.upload.clone(),
            Arc::new(SystemClock),
        )?;
        Ok(Self {
            uploader,
            index,
            store,
            records,
            pending: Arc::new(Mutex::new(pending)),
            wake: Arc::new(Notify::new()),
            retention_days: config.retention_days,
            scan_interval: config.upload.scan_interval,
        })
    }

    pub(super) fn notifier(&self) -> UploadNotifier {
        UploadNotifier {
            pending: self.pending.clone(),
            wake: self.wake.clone(),
        }
    }

    /// Spawns the task (inside a tokio runtime).
    pub(super) fn spawn(self) -> UploadStop {
        let stopping = Arc::new(AtomicBool::new(false));
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let stop = UploadStop {
            stopping: stopping.clone(),
            wake: self.wake.clone(),
            done,
        };
        tokio::spawn(async move {
            self.run(&stopping).await;
            let _ = done_tx.send(());
        });
        stop
    }

    async fn run(self, stopping: &AtomicBool) {
        let mut last_purge: Option<tokio::time::Instant> = None;
        loop {
            let mut sleep = self.scan_interval;
            match self.uploader.run_once().await {
                Ok(pass) => {
                    if let Some(due) = pass.next_due {
                        let until = (due - chrono::Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO);
                        sleep = sleep.min(until.max(Duration::from_millis(10)));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "recording upload pass failed"),
            }
            self.mark_records();
            if let Some(days) = self.retention_days {
                if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                    last_purge = Some(tokio::time::Instant::now());
                    let policies = recorder::retention::RetentionPolicies(
                        [("default".to_owned(), days)].into_iter().collect(),
                    );
                    match recorder::retention::purge_all(
                        &self.index,
                        &self.store,
                        &policies,
                        chrono::Utc::now(),
                    )
                    .await
                    {
                        Ok(r) => tracing::debug!(report = ?r, "recording retention"),
                        Err(e) => tracing::warn!(error = %e, "recording retention failed"),
                    }
                }
            }
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.wake.notified() => {}
            }
            if stopping.load(Ordering::SeqCst) {
                // One last, bounded pass: what the shutdown just spooled
                // (what does not make it goes up at the next start).
                match tokio::time::timeout(LAST_PASS, self.uploader.run_once()).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "recording upload pass failed"),
                    Err(_) => tracing::info!("recordings left in the spool for the next start"),
                    Ok(Ok(_)) => {}
                }
                self.mark_records();
                return;
            }
        }
    }

    /// Call records of pending recordings the index now says are uploaded
    /// (with their key, and a `recording.ready` event in the outbox) or
    /// failed.
    fn mark_records(&self) {
        let ids: Vec<CallId> = self.pending.lock().iter().cloned().collect();
        for id in ids {
            match self.index.get(&id) {
                Ok(Some(e))
                    if matches!(e.state, RecordingState::Uploaded | RecordingState::Failed) =>
                {
                    if e.state == RecordingState::Uploaded {
                        self.records.step(vec![StepWrite::Event(ready_event(&e))]);
                    }
                    self.records
                        .recording_state(id.as_str(), e.state.as_str(), e.key);
                    self.pending.lock().remove(&id);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(call = %id, error = %e, "recording index not readable"),
            }
        }
    }
}

/// The `recording.ready` outbox event of an uploaded, verified recording
/// (one per call: its id is the idempotency key, a repeat is ignored).
fn ready_event(e: &recorder::IndexEntry) -> OutboxEvent {
    let m = &e.meta;
    let id = m.call_id.as_str();
    OutboxEvent {
        event_id: format!("evt_{id}_recording_ready"),
        call_id: id.to_owned(),
        kind: "recording.ready".to_owned(),
        at_ms: chrono::Utc::now().timestamp_millis().max(0) as u64,
        payload: serde_json::json!({
            "call_id": id,
            "key": e.key,
            "sha256": m.sha256,
            "size": m.size,
            "duration_ms": m.duration_ms,
            "started_at": m.started_at.to_rfc3339(),
            "caller": m.parties.caller,
            "callee": m.parties.callee,
            "queue": m.parties.queue,
            "agent": m.parties.agent,
        }),
    }
}
