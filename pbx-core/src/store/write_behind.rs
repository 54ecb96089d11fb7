//! Write-behind of binding changes: the registrar answers from memory and hands
//! changes to a thread that commits them in batches every `interval` (default
//! 100 ms), so that every binding acknowledged more than a second before a crash
//! is on disk, without a disk write on the REGISTER path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::Store;
use crate::registrar::BindingChange;

/// The sender half plus the writer thread.
pub struct WriteBehind {
    tx: Sender<BindingChange>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WriteBehind {
    /// Starts the writer thread on `store`.
    pub fn start(store: Store, interval: Duration) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pbx-store".into())
            .spawn(move || run(store, rx, interval, flag))
            .expect("spawning the store thread");
        Self {
            tx,
            stop,
            thread: Some(thread),
        }
    }

    /// A cheap handle for the registrar.
    pub fn sender(&self) -> Sender<BindingChange> {
        self.tx.clone()
    }

    /// Writes everything queued so far and stops the thread (other senders may
    /// still exist; what they send afterwards is not written).
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut store: Store, rx: Receiver<BindingChange>, interval: Duration, stop: Arc<AtomicBool>) {
    // Sleep, then drain: the registrar's `send` never has to wake this thread (a
    // futex syscall per REGISTER otherwise).
    let mut batch: Vec<BindingChange> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            std::thread::sleep(interval);
        }
        batch.extend(rx.try_iter());
        if !batch.is_empty() {
            let compacted = compact(std::mem::take(&mut batch));
            if let Err(e) = store.apply(&compacted) {
                tracing::error!(error = %e, changes = compacted.len(), "writing bindings failed; retrying next round");
                batch = compacted;
            }
        }
        if stopping {
            return;
        }
    }
}

/// Keeps only the last change per binding (a refresh storm writes each binding once).
fn compact(batch: Vec<BindingChange>) -> Vec<BindingChange> {
    fn key(c: &BindingChange) -> Option<(&str, &str)> {
        match c {
            BindingChange::Upsert(b) => Some((&b.aor, &b.key)),
            BindingChange::Remove { aor, key } => Some((aor, key)),
            BindingChange::ExpireBefore(_) => None,
        }
    }
    let keep: Vec<bool> = {
        let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
        for (i, c) in batch.iter().enumerate() {
            if let Some(k) = key(c) {
                last.insert(k, i);
            }
        }
        batch
            .iter()
            .enumerate()
            .map(|(i, c)| key(c).is_none_or(|k| last.get(&k) == Some(&i)))
            .collect()
    };
    batch
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
}
