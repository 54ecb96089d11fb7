//! Retention purge (SPEC §14, §25: per account, configurable): delete uploaded
//! recordings of a policy older than its number of days — the WAV and the
//! metadata JSON in the store, then the index entry and the transcript.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use object_store::ObjectStoreExt;

use crate::index::Index;
use crate::store::Store;
use crate::{Error, Result};

/// Days to keep, per policy name (a recording without a policy is `"default"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicies(pub HashMap<String, u32>);

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Recordings deleted.
    pub deleted: usize,
    /// Recordings whose deletion failed (kept in the index for the next run), with the error.
    pub failed: Vec<(String, String)>,
}

/// Deletes every uploaded recording of `policy` that started more than `days`
/// before `now`. A missing object counts as deleted (a repeated purge is a no-op).
pub async fn purge(
    index: &Index,
    store: &Store,
    policy: &str,
    days: u32,
    now: DateTime<Utc>,
) -> Result<PurgeReport> {
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut report = PurgeReport::default();
    for e in index.uploaded_before(policy, cutoff)? {
        let m = &e.meta;
        let mut res: Result<()> = Ok(());
        for key in [
            store.wav_key(m.started_at, &m.call_id),
            store.meta_key(m.started_at, &m.call_id),
        ] {
            match store.object_store().delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => res = Err(Error::Store(err)),
            }
        }
        match res.and_then(|()| index.delete(&m.call_id)) {
            Ok(()) => report.deleted += 1,
            Err(err) => report.failed.push((m.call_id.to_string(), err.to_string())),
        }
    }
    if report.deleted > 0 {
        tracing::info!(policy, days, deleted = report.deleted, "retention purge");
    }
    Ok(report)
}

/// Runs [`purge`] for every policy.
pub async fn purge_all(
    index: &Index,
    store: &Store,
    policies: &RetentionPolicies,
    now: DateTime<Utc>,
) -> Result<PurgeReport> {
    let mut total = PurgeReport::default();
    for (name, days) in &policies.0 {
        let r = purge(index, store, name, *days, now).await?;
        total.deleted += r.deleted;
        total.failed.extend(r.failed);
    }
    Ok(total)
}
