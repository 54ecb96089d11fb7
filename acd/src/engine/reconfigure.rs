//! Reloading queues and agents into a running engine (`pbx reload`), without
//! dropping anyone who waits:
//!
//! - a queue that stays gets its new configuration at once: strategy, ring
//!   timeout, retry delay, wrap-up and the rest apply from the next offer;
//!   timers armed before (a caller's max wait, an offer's ring timeout) run
//!   out as they were set;
//! - an added queue takes callers at once;
//! - a removed queue takes no new callers, but those already in it keep
//!   their place, its timers (max wait → overflow, announcements) keep
//!   running, and the agents who had its skill keep serving it until its
//!   last caller is gone (its callbacks too). A later reload that adds it
//!   back revives it with its waiting callers;
//! - an added agent is logged out; a changed agent keeps its state and gets
//!   its new skills at once; a removed agent is logged out and removed,
//!   unless it is on a queue call or being offered one: then it stays (and
//!   is reported) until a later reload.
//!
//! The whole reload is checked first (queues, overflow targets, every
//! profile's skills against the new queues): a bad one changes nothing.

use std::collections::HashSet;

use super::{Acd, Error, QueueRt, Result};
use crate::agent::{AgentProfile, ProfileError};
use crate::config::{validate_queues, QueueConfig};
use crate::ids::{AgentId, Now, QueueId};
use crate::matcher::AvailIndex;
use crate::state::AgentState;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Queues new in this configuration.
    pub queues_added: Vec<QueueId>,
    /// Queues whose configuration changed.
    pub queues_changed: Vec<QueueId>,
    /// Queues no longer configured, with the callers still in each (they
    /// keep their place; see the module docs).
    pub queues_removed: Vec<(QueueId, u32)>,
    /// Agents new in this configuration (logged out).
    pub agents_added: Vec<AgentId>,
    /// Agents whose profile changed.
    pub agents_changed: Vec<AgentId>,
    /// Agents removed.
    pub agents_removed: Vec<AgentId>,
    /// Agents no longer configured but kept: on a queue call or ringing.
    pub agents_kept: Vec<AgentId>,
}

impl Acd {
    /// Puts `queues` and `agents` in service; see the module docs.
    pub fn reconfigure(
        &mut self,
        now: Now,
        queues: Vec<QueueConfig>,
        agents: Vec<AgentProfile>,
    ) -> Result<ReloadSummary> {
        self.touch(now);
        validate_queues(&queues)?;
        let names: HashSet<&QueueId> = queues.iter().map(|q| &q.name).collect();
        let mut seen = HashSet::new();
        for p in &agents {
            p.validate()?;
            if !seen.insert(&p.name) {
                return Err(Error::DuplicateAgent(p.name.clone()));
            }
            if let Some(s) = p.skills.iter().find(|s| !names.contains(&s.queue)) {
                return Err(ProfileError::UnknownQueue {
                    agent: p.name.clone(),
                    queue: s.queue.clone(),
                }
                .into());
            }
        }
        let mut summary = ReloadSummary::default();

        // Everyone out of the queues' counters and available sets while
        // the queues change under them.
        // In configuration order: reports and matching stay deterministic.
        let mut live: Vec<u32> = self.agent_ix.values().copied().collect();
        live.sort_unstable();
        for &a in &live {
            if self.agent(a).state == AgentState::Available {
                self.unfile_agent(a);
            }
            self.count_agent(a, -1);
        }
        self.apply_queues(queues, &mut summary);
        for &a in &live {
            let name = self.agent(a).profile.name.clone();
            if let Some(p) = agents.iter().find(|p| p.name == name) {
                if self.agent(a).profile != *p {
                    self.agent_mut(a).profile = p.clone();
                    summary.agents_changed.push(name);
                }
            }
            self.apply_skills(a);
            self.count_agent(a, 1);
            if self.agent(a).state == AgentState::Available {
                self.file_agent(a);
            }
        }

        for a in live {
            let name = self.agent(a).profile.name.clone();
            if agents.iter().any(|p| p.name == name) {
                continue;
            }
            let ag = self.agent(a);
            if ag.offer.is_some() || ag.queue.is_some() {
                summary.agents_kept.push(name);
                continue;
            }
            match self.remove_agent(now, &name) {
                Ok(()) => summary.agents_removed.push(name),
                Err(_) => summary.agents_kept.push(name),
            }
        }
        for p in agents {
            if !self.agent_ix.contains_key(&p.name) {
                let name = p.name.clone();
                self.add_agent(now, p)?;
                summary.agents_added.push(name);
            }
        }
        let mut available: Vec<u32> = self
            .agent_ix
            .values()
            .copied()
            .filter(|&a| self.agent(a).state == AgentState::Available)
            .collect();
        available.sort_unstable();
        for a in available {
            self.match_agent(now, a);
        }
        Ok(summary)
    }

    /// Replaces the queues' configurations (nobody is filed as available).
    fn apply_queues(&mut self, queues: Vec<QueueConfig>, summary: &mut ReloadSummary) {
        let mut keep: HashSet<u32> = HashSet::new();
        for cfg in queues {
            let name = cfg.name.clone();
            let existing = self.queue_ix.get(&name).copied().or_else(|| {
                self.queues
                    .iter()
                    .position(|q| q.retired && q.cfg.name == name)
                    .map(|i| i as u32)
            });
            match existing {
                Some(q) => {
                    let qr = &mut self.queues[q as usize];
                    let revived = std::mem::take(&mut qr.retired);
                    if qr.cfg != cfg {
                        let random = cfg.strategy == crate::config::Strategy::Random;
                        qr.avail = AvailIndex::new(random);
                        qr.cfg = cfg;
                        summary.queues_changed.push(name.clone());
                    }
                    if revived {
                        summary.queues_added.push(name.clone());
                    }
                    self.queue_ix.insert(name, q);
                    keep.insert(q);
                }
                None => {
                    let q = u32::try_from(self.queues.len()).unwrap_or(u32::MAX);
                    self.queues.push(QueueRt::new(cfg));
                    self.queue_ix.insert(name.clone(), q);
                    summary.queues_added.push(name);
                    keep.insert(q);
                }
            }
        }
        let mut gone: Vec<(QueueId, u32)> = self
            .queue_ix
            .iter()
            .filter(|(_, q)| !keep.contains(q))
            .map(|(n, q)| (n.clone(), *q))
            .collect();
        gone.sort_unstable_by_key(|g| g.1);
        for (name, q) in gone {
            self.queue_ix.remove(&name);
            let qr = &mut self.queues[q as usize];
            qr.retired = true;
            summary.queues_removed.push((name, qr.entries));
        }
    }

    /// Whether queue `q` was removed by a reload but still has callers (its
    /// agents keep serving it).
    pub(super) fn draining(&self, q: u32) -> bool {
        let qr = &self.queues[q as usize];
        qr.retired && qr.entries > 0
    }
}
