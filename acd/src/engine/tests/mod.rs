//! Engine tests in virtual time: a harness owns the engine and a clock,
//! collects actions and events, and steps the earliest deadline.

mod agents;
mod callbacks;
mod queues;
mod reload;
mod strategies;

use super::*;
use crate::agent::AgentProfile;
use crate::config::{AcdConfig, QueueConfig};
use crate::events::{EventKind, QueueEvent};
use crate::ids::{AgentId, CallId, Now, OfferId, QueueId};
use crate::state::AgentState;

/// 2025-11-24T16:00:00Z, a Monday.
pub(super) const T0_UNIX: u64 = 1_764_000_000_000;

pub(super) struct H {
    pub(super) acd: Acd,
    pub(super) now: Now,
    pub(super) actions: Vec<Action>,
    pub(super) events: Vec<QueueEvent>,
}

pub(super) fn q(name: &str) -> QueueConfig {
    QueueConfig {
        wrap_up_s: 0,
        retry_delay_s: 0,
        ..QueueConfig::named(name)
    }
}

pub(super) fn id(s: &str) -> AgentId {
    AgentId::from(s)
}

impl H {
    pub(super) fn new(queues: Vec<QueueConfig>) -> Self {
        Self::with(AcdConfig::default(), queues)
    }

    pub(super) fn with(cfg: AcdConfig, queues: Vec<QueueConfig>) -> Self {
        Self {
            acd: Acd::new(cfg, queues).expect("valid test config"),
            now: Now::new(1_000, T0_UNIX),
            actions: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn drain(&mut self) {
        while let Some(a) = self.acd.poll_action() {
            self.actions.push(a);
        }
        while let Some(e) = self.acd.poll_event() {
            self.events.push(e);
        }
    }

    /// Adds and logs in an agent.
    pub(super) fn agent(&mut self, name: &str, skills: &[&str]) {
        let p = AgentProfile::new(name, skills).expect("valid skills");
        self.acd.add_agent(self.now, p).expect("new agent");
        self.acd
            .handle_agent_login(self.now, &id(name))
            .expect("login");
        self.drain();
    }

    pub(super) fn enter(&mut self, call: u64, queue: &str) {
        self.enter_with(call, queue, &format!("+3120000{call:04}"), 0);
    }

    pub(super) fn enter_with(&mut self, call: u64, queue: &str, number: &str, priority: u8) {
        self.acd
            .handle_caller_enter(
                self.now,
                CallerInfo {
                    call: CallId(call),
                    queue: QueueId::from(queue),
                    number: number.to_owned(),
                    service_number: Some("4000".to_owned()),
                    priority,
                },
            )
            .expect("enter");
        self.drain();
    }

    /// Moves the clock forward by `ms`, running every deadline on the way.
    pub(super) fn advance(&mut self, ms: u64) {
        let end = self.now.mono.plus_ms(ms);
        while let Some(at) = self.acd.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.at(at.max(self.now.mono));
            self.acd.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.at(end);
    }

    /// Takes the actions collected so far.
    pub(super) fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The offers among the collected actions (taken): (offer, call, agent).
    pub(super) fn offers(&mut self) -> Vec<(OfferId, CallId, String)> {
        self.take()
            .into_iter()
            .filter_map(|a| match a {
                Action::Offer {
                    offer, call, agent, ..
                } => Some((offer, call, agent.to_string())),
                _ => None,
            })
            .collect()
    }

    /// The single offer among the collected actions.
    pub(super) fn one_offer(&mut self) -> (OfferId, CallId, String) {
        let mut o = self.offers();
        assert_eq!(o.len(), 1, "expected exactly one offer, got {o:?}");
        o.remove(0)
    }

    pub(super) fn answer(&mut self, offer: OfferId) {
        self.acd
            .handle_offer_answered(self.now, offer)
            .expect("answer");
        self.drain();
    }

    pub(super) fn hangup(&mut self, call: u64) {
        self.acd.handle_hangup(self.now, CallId(call));
        self.drain();
    }

    pub(super) fn state(&self, name: &str) -> AgentState {
        self.acd
            .agent_state(&id(name))
            .cloned()
            .expect("agent exists")
    }

    pub(super) fn kinds(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::AgentState(_)))
            .map(|e| e.kind.name())
            .collect()
    }

    /// Offers the caller to agents until one answers: returns the agent.
    pub(super) fn serve_next(&mut self) -> String {
        let (offer, _, agent) = self.one_offer();
        self.answer(offer);
        agent
    }
}

#[test]
fn events_are_sequence_numbered_without_gaps() {
    let mut h = H::new(vec![q("sales")]);
    h.agent("alice", &["sales:5"]);
    h.enter(1, "sales");
    let (offer, ..) = h.one_offer();
    h.answer(offer);
    h.hangup(1);
    let seqs: Vec<u64> = h.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(h.kinds(), ["enter", "offer", "connect", "complete"]);
    let json = serde_json::to_string(&h.events).expect("events serialize");
    let back: Vec<QueueEvent> = serde_json::from_str(&json).expect("and parse back");
    assert_eq!(back, h.events);
}
