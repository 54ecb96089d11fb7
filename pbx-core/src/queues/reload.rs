//! `pbx reload` of `[[queues]]` / `[[agents]]` for the running ACD; the
//! rules (removed queues drain, added ones work at once, changes apply to
//! the next offer, engaged agents are kept) are [`acd::Acd::reconfigure`]'s.

use super::AcdHost;

impl AcdHost {
    /// Puts `queues` and `agents` in service; a bad set changes nothing.
    pub fn reload(
        &mut self,
        now: acd::Now,
        queues: Vec<acd::QueueConfig>,
        agents: Vec<acd::AgentProfile>,
    ) -> Result<acd::ReloadSummary, super::Error> {
        let summary = self.acd.reconfigure(now, queues, agents.clone())?;
        // Agents kept until their queue call ends stay listed.
        let kept: Vec<acd::AgentProfile> = self
            .profiles
            .iter()
            .filter(|p| summary.agents_kept.contains(&p.name))
            .cloned()
            .collect();
        self.profiles = agents;
        self.profiles.extend(kept);
        self.drain_actions(now);
        Ok(summary)
    }
}

/// `POST /reload`'s `queues` part: the configuration's queues and agents sent to the
/// engine's driver; (ok, JSON).
pub(crate) async fn reload_json(
    engine: &crate::b2bua::EngineHandle,
    settings: crate::b2bua::AcdReload,
) -> (bool, serde_json::Value) {
    match engine.reload_acd(settings).await {
        Ok(Ok(body)) => (true, body),
        Ok(Err(error)) => {
            tracing::warn!(%error, "queues and agents not reloaded");
            (
                false,
                serde_json::json!({ "status": "error", "error": error }),
            )
        }
        Err(e) => (
            false,
            serde_json::json!({ "status": "error", "error": format!("engine not reachable: {e}") }),
        ),
    }
}
