//! The contact-center engine beside the call engine: one [`acd::Acd`] for
//! every queue and agent, driven by the engine's driver thread. Queue calls
//! ([`crate::b2bua::queue_app::QueueApp`]) ask through [`AcdRequest`]s; the
//! ACD's decisions come back as [`AcdEvent`]s for the call they concern;
//! agent operations (log in, break, ready) come from the admin API and feature
//! codes; every step leaves a numbered [`acd::QueueEvent`] for the store,
//! the outbox and reports.
//!
//! Sans-IO like the engine: time comes in as [`acd::Now`], nothing here reads
//! a clock or touches a socket.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acd::{Acd, AgentId, Announcement, OfferFailure, OfferId, ReasonCode};

use crate::b2bua::app::{AcdEvent, AcdRequest};
use crate::b2bua::CallId;

mod callbacks;
mod reload;
pub use callbacks::CallbackCall;
pub(crate) use reload::reload_json;

/// An operation on an agent (CLI, API, feature code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentOp {
    /// Start working: available for every queue of the agent's skills.
    Login,
    /// Stop working.
    Logout,
    /// Not ready, with a reason code.
    Break(String),
    /// Ready again (also ends wrap-up early).
    Ready,
}

impl AgentOp {
    /// Reads `login`, `logout`, `break[:REASON]`, `ready`.
    pub fn parse(op: &str) -> Option<Self> {
        match op {
            "login" => Some(Self::Login),
            "logout" => Some(Self::Logout),
            "ready" => Some(Self::Ready),
            "break" => Some(Self::Break("break".into())),
            other => other
                .strip_prefix("break:")
                .filter(|r| !r.is_empty())
                .map(|r| Self::Break(r.to_owned())),
        }
    }
}

/// One line of `pbx agents`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentLine {
    /// The agent's user.
    pub agent: String,
    /// State name (`available`, `on_call`, `break`, ...).
    pub state: String,
    /// Skills as `queue:level`.
    pub skills: Vec<String>,
}

/// One line of `pbx queues`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueLine {
    /// The queue.
    pub queue: String,
    /// Callers waiting.
    pub waiting: usize,
    /// Agents logged in.
    pub logged_in: u32,
    /// Agents logged in and not on a break.
    pub staffed: u32,
    /// Agents available now.
    pub available: usize,
    /// Rolling mean handle time, seconds.
    pub mean_handle_s: u64,
    /// Since the server started: callers that entered, were connected to
    /// an agent, abandoned, overflowed.
    pub entered_total: u64,
    /// See `entered_total`.
    pub connected_total: u64,
    /// See `entered_total`.
    pub abandoned_total: u64,
    /// See `entered_total`.
    pub overflowed_total: u64,
}

/// The ACD and what the driver needs around it; see the module docs.
pub struct AcdHost {
    acd: Acd,
    profiles: Vec<acd::AgentProfile>,
    /// Offers in flight and their calls (cancels name only the offer).
    offers: HashMap<OfferId, CallId>,
    /// Decisions for calls, not yet handed to the engine.
    out: std::collections::VecDeque<(CallId, AcdEvent)>,
    prompts: PathBuf,
    /// Agents on calls outside the queues (busy for every queue).
    busy: HashMap<CallId, Vec<AgentId>>,
    /// Per queue: entered, connected, abandoned, overflowed since start.
    counters: HashMap<String, [u64; 4]>,
    /// Callback calls to place (`callbacks.rs`).
    to_place: std::collections::VecDeque<CallbackCall>,
    /// Placed callback calls.
    placed: HashMap<CallId, callbacks::Placed>,
    /// Calls to hang up (withdrawn callback offers).
    to_hang_up: std::collections::VecDeque<CallId>,
}

/// Why the ACD could not start.
pub type Error = acd::Error;

impl AcdHost {
    /// The ACD for `queues` and `agents` (all logged out), its prompts in
    /// `prompts` (`queue_position.wav`, `n1.wav`…, see `fixtures/prompts`).
    pub fn new(
        now: acd::Now,
        config: acd::AcdConfig,
        queues: Vec<acd::QueueConfig>,
        agents: Vec<acd::AgentProfile>,
        prompts: &Path,
    ) -> Result<Self, Error> {
        let mut acd = Acd::new(config, queues)?;
        for a in &agents {
            acd.add_agent(now, a.clone())?;
        }
        Ok(Self {
            acd,
            profiles: agents,
            offers: HashMap::new(),
            out: Default::default(),
            prompts: prompts.to_owned(),
            busy: HashMap::new(),
            counters: HashMap::new(),
            to_place: Default::default(),
            placed: HashMap::new(),
            to_hang_up: Default::default(),
        })
    }

    /// A new call of the engine: an agent calling out or called directly
    /// (not through a queue, not a feature code) is busy for the queues
    /// until it ends.
    pub fn note_call_start(&mut self, now: acd::Now, call: CallId, caller: &str, callee: &str) {
        if crate::b2bua::feature_codes::op_of(callee).is_some()
            || callee.starts_with("queue:")
            || self.is_callback_call(call)
        {
            return;
        }
        for (user, kind) in [
            (caller, acd::CallKind::Outbound),
            (callee, acd::CallKind::Direct),
        ] {
            // The ACD's own index (a hash lookup per call, whatever the
            // number of agents).
            let agent = AgentId::from(user);
            if self.acd.agent_state(&agent).is_none() {
                continue;
            }
            match self
                .acd
                .handle_agent_busy(now, &agent, acd::CallId(call.0), kind)
            {
                Ok(()) => self.busy.entry(call).or_default().push(agent),
                Err(e) => tracing::debug!(%call, %agent, error = %e, "agent not marked busy"),
            }
        }
        self.drain_actions(now);
    }

    /// A call of the engine ended: its agents are free again.
    pub fn note_call_end(&mut self, now: acd::Now, call: CallId) {
        if self.callback_ended(now, call) {
            self.drain_actions(now);
            return;
        }
        for agent in self.busy.remove(&call).unwrap_or_default() {
            if let Err(e) = self.acd.handle_agent_idle(now, &agent) {
                tracing::debug!(%call, %agent, error = %e, "agent not marked idle");
            }
        }
        self.drain_actions(now);
    }

    /// Restores the agents' last stored states after a restart: nobody
    /// stays reserved or on a call that died with the process.
    pub fn recover(&mut self, now: acd::Now, last: &[acd::AgentStateRecord]) -> Result<(), Error> {
        let snapshots: Vec<acd::AgentSnapshot> = last
            .iter()
            .filter(|r| self.profiles.iter().any(|p| p.name == r.agent))
            .map(acd::AgentSnapshot::from)
            .collect();
        self.acd
            .recover(now, &snapshots, &std::collections::HashSet::new())?;
        self.drain_actions(now);
        Ok(())
    }

    /// A queue call's request.
    pub fn handle_request(&mut self, now: acd::Now, call: CallId, request: AcdRequest) {
        let id = acd::CallId(call.0);
        match request {
            AcdRequest::Enter {
                queue,
                number,
                priority,
            } => {
                let info = acd::CallerInfo {
                    call: id,
                    queue: acd::QueueId::from(queue.as_str()),
                    number,
                    service_number: None,
                    priority: priority.clamp(0, i32::from(u8::MAX)) as u8,
                };
                if let Err(e) = self.acd.handle_caller_enter(now, info) {
                    tracing::info!(%call, %queue, error = %e, "caller not queued");
                    self.out.push_back((call, AcdEvent::Refused));
                }
            }
            AcdRequest::Hangup | AcdRequest::Completed => self.acd.handle_hangup(now, id),
            AcdRequest::Dtmf(key) => self.acd.handle_dtmf(now, id, key),
            AcdRequest::OfferAnswered(offer) => {
                let offer = OfferId(offer);
                self.offers.remove(&offer);
                if let Err(e) = self.acd.handle_offer_answered(now, offer) {
                    tracing::debug!(%call, error = %e, "late answer: the agent's leg is hung up");
                    self.out.push_back((call, AcdEvent::CancelOffer(offer.0)));
                }
            }
            AcdRequest::Agent { agent, op } => {
                let op = match op.as_str() {
                    "toggle" => match self.acd.agent_state(&AgentId::from(agent.as_str())) {
                        Some(acd::AgentState::LoggedOut) => Some(AgentOp::Login),
                        Some(_) => Some(AgentOp::Logout),
                        None => None,
                    },
                    other => AgentOp::parse(other),
                };
                let ok = match op {
                    Some(op) => match self.handle_agent(now, &agent, &op) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::info!(%agent, ?op, error = %e, "feature code refused");
                            false
                        }
                    },
                    None => false,
                };
                self.out.push_back((call, AcdEvent::AgentDone(ok)));
            }
            AcdRequest::OfferFailed { offer, status } => {
                let offer = OfferId(offer);
                self.offers.remove(&offer);
                let why = match status {
                    486 | 600 => OfferFailure::Busy,
                    603 => OfferFailure::Rejected,
                    408 | 480 | 487 => OfferFailure::NoAnswer,
                    _ => OfferFailure::Unreachable,
                };
                if let Err(e) = self.acd.handle_offer_failed(now, offer, why) {
                    tracing::debug!(%call, error = %e, "failure of a withdrawn offer");
                }
            }
        }
        self.drain_actions(now);
    }

    /// An agent operation.
    pub fn handle_agent(&mut self, now: acd::Now, agent: &str, op: &AgentOp) -> Result<(), Error> {
        let id = AgentId::from(agent);
        let r = match op {
            AgentOp::Login => self.acd.handle_agent_login(now, &id),
            AgentOp::Logout => self.acd.handle_agent_logout(now, &id),
            AgentOp::Break(reason) => {
                self.acd
                    .handle_agent_break(now, &id, ReasonCode::from(reason.as_str()))
            }
            AgentOp::Ready => self.acd.handle_agent_ready(now, &id),
        };
        self.drain_actions(now);
        r
    }

    /// Runs the ACD's timers due at `now`.
    pub fn handle_timeout(&mut self, now: acd::Now) {
        if self.acd.poll_timeout().is_some_and(|t| t <= now.mono) {
            self.acd.handle_timeout(now);
            self.drain_actions(now);
        }
    }

    /// The ACD's next deadline (monotonic ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.acd.poll_timeout().map(|m| m.0)
    }

    /// The next decision for a call.
    pub fn poll_call_event(&mut self) -> Option<(CallId, AcdEvent)> {
        self.out.pop_front()
    }

    /// The next queue event (for the store, the outbox, live views).
    pub fn poll_event(&mut self) -> Option<acd::QueueEvent> {
        let ev = self.acd.poll_event()?;
        let slot = match ev.kind {
            acd::EventKind::Enter { .. } => Some(0),
            acd::EventKind::Connect { .. } => Some(1),
            acd::EventKind::Abandon { .. } => Some(2),
            acd::EventKind::Overflow { .. } => Some(3),
            _ => None,
        };
        if let (Some(i), Some(q)) = (slot, &ev.queue) {
            self.counters.entry(q.to_string()).or_default()[i] += 1;
        }
        Some(ev)
    }

    /// Agents and their states, in configuration order.
    pub fn agents(&self) -> Vec<AgentLine> {
        self.profiles
            .iter()
            .map(|p| AgentLine {
                agent: p.name.to_string(),
                state: self
                    .acd
                    .agent_state(&p.name)
                    .map_or("unknown", acd::AgentState::name)
                    .to_owned(),
                skills: p
                    .skills
                    .iter()
                    .map(|s| format!("{}:{}", s.queue, s.level))
                    .collect(),
            })
            .collect()
    }

    /// Every queue now.
    pub fn queues(&self, names: &[String]) -> Vec<QueueLine> {
        names
            .iter()
            .filter_map(|n| self.acd.queue_status(&acd::QueueId::from(n.as_str())))
            .map(|s| {
                let c = self
                    .counters
                    .get(s.queue.as_str())
                    .copied()
                    .unwrap_or_default();
                QueueLine {
                    queue: s.queue.to_string(),
                    waiting: s.waiting,
                    logged_in: s.logged_in,
                    staffed: s.staffed,
                    available: s.available,
                    mean_handle_s: s.mean_handle_ms / 1000,
                    entered_total: c[0],
                    connected_total: c[1],
                    abandoned_total: c[2],
                    overflowed_total: c[3],
                }
            })
            .collect()
    }

    /// The ACD's actions, as decisions for calls.
    fn drain_actions(&mut self, now: acd::Now) {
        while let Some(action) = self.acd.poll_action() {
            let decided = match action {
                // QueueApp plays music from the moment it answers.
                acd::Action::Hold { .. } => None,
                acd::Action::Announce {
                    call, announcement, ..
                } => {
                    let prompts = self.prompts_for(&announcement);
                    (!prompts.is_empty()).then_some((call, AcdEvent::Announce(prompts)))
                }
                acd::Action::Offer {
                    offer,
                    call,
                    agent,
                    ring_timeout_ms,
                    ..
                } => {
                    self.offers.insert(offer, CallId(call.0));
                    Some((
                        call,
                        AcdEvent::Offer {
                            offer: offer.0,
                            agent: agent.to_string(),
                            ring_timeout: Duration::from_millis(ring_timeout_ms),
                        },
                    ))
                }
                acd::Action::CancelOffer { offer, .. } => {
                    if self.callback_offer_withdrawn(offer) {
                        None
                    } else {
                        self.offers
                            .remove(&offer)
                            .map(|c| (acd::CallId(c.0), AcdEvent::CancelOffer(offer.0)))
                    }
                }
                acd::Action::Connect { offer, call, .. } => {
                    Some((call, AcdEvent::Connect(offer.0)))
                }
                acd::Action::Overflow { call, target, .. } => {
                    let number = target.and_then(|t| match t {
                        acd::OverflowTarget::Extension(n) => Some(n),
                        acd::OverflowTarget::Ivr(f) | acd::OverflowTarget::Voicemail(f) => {
                            Some(format!("flow:{f}"))
                        }
                        // Kept by the ACD; never an overflow of the call.
                        acd::OverflowTarget::Queue(_) | acd::OverflowTarget::CallbackOffer => None,
                    });
                    Some((call, AcdEvent::Overflow(number)))
                }
                acd::Action::CallbackAccepted { call, .. } => {
                    Some((call, AcdEvent::CallbackAccepted))
                }
                acd::Action::CallbackCallAgent {
                    offer,
                    callback,
                    agent,
                    number,
                    ring_timeout_ms,
                    ..
                } => {
                    self.to_place.push_back(CallbackCall {
                        offer,
                        callback,
                        agent: agent.to_string(),
                        number,
                        ring: Duration::from_millis(ring_timeout_ms),
                    });
                    None
                }
                acd::Action::CallbackCallCustomer { callback, .. } => {
                    // The placed call dials the customer by itself once the
                    // agent answers; without one there is nobody to connect.
                    if !self.callback_in_progress(callback) {
                        if let Err(e) = self.acd.handle_callback_failed(now, callback) {
                            tracing::debug!(error = %e, "callback failure not taken");
                        }
                    }
                    None
                }
                _ => None,
            };
            if let Some((call, ev)) = decided {
                self.out.push_back((CallId(call.0), ev));
            }
        }
    }

    /// The prompt files of an announcement that exist (numbers spoken from
    /// `n0.wav` … `n20.wav`, bigger ones as their digits).
    fn prompts_for(&self, a: &Announcement) -> Vec<PathBuf> {
        let mut names: Vec<String> = Vec::new();
        let number = |n: u64, names: &mut Vec<String>| {
            if n <= 20 {
                names.push(format!("n{n}"));
            } else {
                names.extend(n.to_string().chars().map(|d| format!("n{d}")));
            }
        };
        match a {
            Announcement::Position(n) => {
                names.push("queue_position".into());
                number(u64::from(*n), &mut names);
            }
            Announcement::EstimatedWait { seconds } => {
                names.push("queue_wait".into());
                number(seconds.div_ceil(60).max(1), &mut names);
                names.push("queue_minutes".into());
            }
            Announcement::Periodic { prompt } => names.push(prompt.clone()),
            Announcement::CallbackOffer { .. } => names.push("queue_callback".into()),
            _ => {}
        }
        let files: Vec<PathBuf> = names
            .iter()
            .map(|n| self.prompts.join(format!("{n}.wav")))
            .collect();
        if files.iter().all(|f| f.is_file()) {
            files
        } else {
            tracing::debug!(?names, "announcement prompts missing; not played");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
