//! `pbx reload` of `[[queues]]` / `[[agents]]` on the driver thread: the
//! contact-center engine gets the new queues and agents
//! ([`crate::queues::AcdHost::reload`]), the router the new queue names
//! and their music (a removed queue refuses new callers with 480; those in
//! it keep their place). `[acd]` settings need a restart.

use std::sync::Arc;

use super::engine_driver::{acd_now, EngineDriver};
use crate::b2bua::AcdReload;

impl EngineDriver {
    /// Reloads the queues and agents of `config`; Ok describes the change.
    pub(super) fn reload_acd(
        &mut self,
        config: &AcdReload,
        now: &crate::sans_io::Now,
    ) -> Result<serde_json::Value, String> {
        let at = acd_now(now);
        let summary = match &mut self.acd {
            Some(acd) => acd
                .reload(at, config.queues.clone(), config.agents.clone())
                .map_err(|e| e.to_string())?,
            None if config.queues.is_empty() => acd::ReloadSummary::default(),
            None => {
                let host = crate::queues::AcdHost::new(
                    at,
                    config.acd.clone(),
                    config.queues.clone(),
                    config.agents.clone(),
                    &config.prompts_dir,
                )
                .map_err(|e| e.to_string())?;
                self.acd = Some(host);
                acd::ReloadSummary {
                    queues_added: config.queues.iter().map(|q| q.name.clone()).collect(),
                    agents_added: config.agents.iter().map(|a| a.name.clone()).collect(),
                    ..Default::default()
                }
            }
        };
        self.queue_names = config.queues.iter().map(|q| q.name.to_string()).collect();
        self.routing.queues = Arc::new(config.music.clone());
        // The decisions the reload made (offers to newly skilled agents)
        // reach the calls in the drain after this input.
        tracing::info!(
            queues = config.queues.len(),
            agents = config.agents.len(),
            ?summary,
            "queues and agents reloaded"
        );
        Ok(summary_json(&summary))
    }
}

fn names<T: std::fmt::Display>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// The `queues` part of `POST /reload`'s answer.
pub(super) fn summary_json(s: &acd::ReloadSummary) -> serde_json::Value {
    let removed: Vec<serde_json::Value> = s
        .queues_removed
        .iter()
        .map(|(q, waiting)| serde_json::json!({ "queue": q.to_string(), "waiting": waiting }))
        .collect();
    serde_json::json!({
        "status": "ok",
        "queues_added": names(&s.queues_added),
        "queues_changed": names(&s.queues_changed),
        "queues_removed": removed,
        "agents_added": names(&s.agents_added),
        "agents_changed": names(&s.agents_changed),
        "agents_removed": names(&s.agents_removed),
        "agents_kept": names(&s.agents_kept),
    })
}
