//! Agent inputs: profiles, login / logout / break / ready, non-queue calls,
//! and restart recovery. Every state change goes through
//! [`Acd::set_state`], which checks the move, keeps the per-queue indexes
//! and counters in step and emits the record.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Acd, AgentRt, CancelReason, Connected, Error, Membership, Phase, Result};
use crate::agent::{AgentProfile, ProfileError};
use crate::events::{EventKind, OverflowReason};
use crate::ids::{AgentId, CallId, Mono, Now, QueueId, ReasonCode};
use crate::state::{
    check_transition, AgentState, AgentStateRecord, CallKind, StateCause, StateError,
};
use crate::strategy::{avail_key, uses_daily_counters, KeyInputs};
use crate::timers::Timer;

/// An agent's state as persisted for [`Acd::recover`]: the last
/// [`AgentStateRecord`] of each agent has everything needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// The agent.
    pub agent: AgentId,
    /// Its state.
    pub state: AgentState,
    /// Since when (Unix ms).
    pub since_unix_ms: u64,
    /// The call it is on or being offered.
    pub call: Option<CallId>,
    /// The queue of that call.
    pub queue: Option<QueueId>,
}

impl From<&AgentStateRecord> for AgentSnapshot {
    fn from(r: &AgentStateRecord) -> Self {
        Self {
            agent: r.agent.clone(),
            state: r.to.clone(),
            since_unix_ms: r.at_unix_ms,
            call: r.call,
            queue: r.queue.clone(),
        }
    }
}

impl Acd {
    /// Adds an agent (logged out).
    pub fn add_agent(&mut self, now: Now, profile: AgentProfile) -> Result<()> {
        self.touch(now);
        profile.validate()?;
        if self.agent_ix.contains_key(&profile.name) {
            return Err(Error::DuplicateAgent(profile.name));
        }
        self.check_skills(&profile)?;
        let a = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
        self.agent_ix.insert(profile.name.clone(), a);
        self.agents.push(Some(AgentRt {
            profile,
            state: AgentState::LoggedOut,
            since: now,
            members: Vec::new(),
            idle_since: now.mono,
            no_answer: 0,
            offer: None,
            call: None,
            queue: None,
            resume: None,
            wrapup_until: None,
            handle_start: None,
        }));
        self.apply_skills(a);
        Ok(())
    }

    /// Replaces an agent's profile (skills, wrap-up); takes effect at once.
    pub fn update_agent(&mut self, now: Now, profile: AgentProfile) -> Result<()> {
        self.touch(now);
        profile.validate()?;
        let a = self.lookup_agent(&profile.name)?;
        self.check_skills(&profile)?;
        let available = self.agent(a).state == AgentState::Available;
        if available {
            self.unfile_agent(a);
        }
        self.count_agent(a, -1);
        self.agent_mut(a).profile = profile;
        self.apply_skills(a);
        self.count_agent(a, 1);
        if available {
            self.file_agent(a);
            self.match_agent(now, a);
        }
        Ok(())
    }

    /// Removes a logged-out, available or on-break agent.
    pub fn remove_agent(&mut self, now: Now, agent: &AgentId) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        if self.agent(a).state.is_logged_in() {
            self.logout(now, a)?;
        }
        for m in std::mem::take(&mut self.agent_mut(a).members) {
            self.queues[m.queue as usize].members.retain(|&x| x != a);
        }
        self.timers.cancel(Timer::WrapUp(a));
        self.agent_ix.remove(agent);
        self.agents[a as usize] = None;
        Ok(())
    }

    /// The agent logs in and is available.
    pub fn handle_agent_login(&mut self, now: Now, agent: &AgentId) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        self.agent_mut(a).idle_since = now.mono;
        self.set_state(now, a, AgentState::Available, StateCause::Login, None)?;
        self.match_agent(now, a);
        Ok(())
    }

    /// The agent logs out; an offer ringing it is withdrawn. Refused on a call.
    pub fn handle_agent_logout(&mut self, now: Now, agent: &AgentId) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        self.logout(now, a)
    }

    fn logout(&mut self, now: Now, a: u32) -> Result<()> {
        self.check(a, &AgentState::LoggedOut, StateCause::Logout)?;
        self.withdraw_offer(now, a);
        self.timers.cancel(Timer::WrapUp(a));
        self.set_state(now, a, AgentState::LoggedOut, StateCause::Logout, None)?;
        self.leave_if_empty(now, a);
        Ok(())
    }

    /// The agent goes on break with a reason (from available, ringing,
    /// wrap-up, no-answer or another break).
    pub fn handle_agent_break(
        &mut self,
        now: Now,
        agent: &AgentId,
        reason: ReasonCode,
    ) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        let to = AgentState::Break(reason);
        self.check(a, &to, StateCause::Break)?;
        self.withdraw_offer(now, a);
        self.timers.cancel(Timer::WrapUp(a));
        self.set_state(now, a, to, StateCause::Break, None)?;
        Ok(())
    }

    /// The agent is ready: ends a break, a no-answer pause or wrap-up early.
    pub fn handle_agent_ready(&mut self, now: Now, agent: &AgentId) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        self.check(a, &AgentState::Available, StateCause::Ready)?;
        self.timers.cancel(Timer::WrapUp(a));
        self.agent_mut(a).no_answer = 0;
        self.become_available(now, a, StateCause::Ready)
    }

    /// The agent started a non-queue call (direct or outbound): busy for
    /// every queue. A logged-out agent or one on a call already is unchanged.
    pub fn handle_agent_busy(
        &mut self,
        now: Now,
        agent: &AgentId,
        call: CallId,
        kind: CallKind,
    ) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        let kind = if kind == CallKind::Queue {
            CallKind::Direct
        } else {
            kind
        };
        if matches!(
            self.agent(a).state,
            AgentState::LoggedOut | AgentState::OnCall(_)
        ) {
            return Ok(());
        }
        let to = AgentState::OnCall(kind);
        self.withdraw_offer(now, a);
        let from = self.agent(a).state.clone();
        let resume = if from == AgentState::Reserved {
            AgentState::Available
        } else {
            from
        };
        self.agent_mut(a).call = Some(call);
        self.set_state(now, a, to, StateCause::Busy, None)?;
        self.agent_mut(a).resume = Some(resume);
        Ok(())
    }

    /// The agent's non-queue call ended: back to where it was (wrap-up only
    /// if its time is not over).
    pub fn handle_agent_idle(&mut self, now: Now, agent: &AgentId) -> Result<()> {
        self.touch(now);
        let a = self.lookup_agent(agent)?;
        if !matches!(
            self.agent(a).state,
            AgentState::OnCall(CallKind::Direct | CallKind::Outbound)
        ) {
            return Ok(());
        }
        let ag = self.agent_mut(a);
        ag.call = None;
        let mut to = ag.resume.take().unwrap_or(AgentState::Available);
        if to == AgentState::WrapUp && ag.wrapup_until.is_none_or(|t| t <= now.mono) {
            to = AgentState::Available;
        }
        if to == AgentState::Available {
            return self.become_available(now, a, StateCause::Idle);
        }
        self.set_state(now, a, to, StateCause::Idle, None)?;
        Ok(())
    }

    /// Reconciles persisted agent states after a restart. Agents must be
    /// added first. `live` holds the calls still up: an agent keeps
    /// on-call only with its call alive (queue calls are re-attached so
    /// their end is reported normally); reserved, wrap-up and dead calls
    /// become available with cause `restart`. Nobody stays reserved: the
    /// engine lost its offers with the process.
    pub fn recover(
        &mut self,
        now: Now,
        snapshots: &[AgentSnapshot],
        live: &HashSet<CallId>,
    ) -> Result<()> {
        self.touch(now);
        for s in snapshots {
            let a = self.lookup_agent(&s.agent)?;
            if self.agent(a).state.is_logged_in() {
                continue;
            }
            let since = now.at(Mono(
                now.mono
                    .0
                    .saturating_sub(now.unix_ms.saturating_sub(s.since_unix_ms)),
            ));
            let alive = s.call.is_some_and(|c| live.contains(&c));
            let queue = s.queue.as_ref().and_then(|q| self.queue_ix.get(q).copied());
            let keep = match &s.state {
                AgentState::LoggedOut => continue,
                AgentState::Available | AgentState::Break(_) | AgentState::NoAnswer => true,
                AgentState::OnCall(CallKind::Queue) => {
                    alive
                        && queue.is_some()
                        && s.call.is_some_and(|c| !self.connected.contains_key(&c))
                }
                AgentState::OnCall(_) => alive,
                AgentState::Reserved | AgentState::WrapUp => false,
            };
            // Restore the persisted state as it was (not a change), then
            // move whatever cannot stand to available.
            self.force_state(a, s.state.clone(), since);
            if keep {
                if let (AgentState::OnCall(kind), Some(call)) = (&s.state, s.call) {
                    let ag = self.agent_mut(a);
                    ag.call = Some(call);
                    if *kind == CallKind::Queue {
                        let q = queue.expect("checked above");
                        ag.queue = Some(q);
                        ag.handle_start = Some((q, since.mono));
                        self.connected.insert(
                            call,
                            Connected {
                                queue: q,
                                agent: a,
                                at: since,
                                hold_since: None,
                                hold_ms: 0,
                            },
                        );
                    } else {
                        ag.resume = Some(AgentState::Available);
                    }
                }
                if s.state == AgentState::Available {
                    self.file_agent(a);
                }
            } else {
                let ag = self.agent_mut(a);
                ag.call = s.call;
                ag.idle_since = now.mono;
                self.set_state(now, a, AgentState::Available, StateCause::Restart, None)?;
                self.agent_mut(a).call = None;
            }
        }
        for a in 0..self.agents.len() as u32 {
            if self.agents[a as usize]
                .as_ref()
                .is_some_and(|x| x.state == AgentState::Available)
            {
                self.match_agent(now, a);
            }
        }
        Ok(())
    }

    /// Every agent's current state, for persistence and the monitor.
    pub fn agent_snapshots(&self) -> Vec<AgentSnapshot> {
        self.agents
            .iter()
            .flatten()
            .map(|a| AgentSnapshot {
                agent: a.profile.name.clone(),
                state: a.state.clone(),
                since_unix_ms: a.since.unix_ms,
                call: a.call,
                queue: a.queue.map(|q| self.queue_id(q)),
            })
            .collect()
    }

    fn check_skills(&self, profile: &AgentProfile) -> Result<()> {
        for s in &profile.skills {
            if !self.queue_ix.contains_key(&s.queue) {
                return Err(ProfileError::UnknownQueue {
                    agent: profile.name.clone(),
                    queue: s.queue.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Rebuilds the agent's memberships from its profile, keeping member
    /// order and today's counters of queues it stays in.
    pub(super) fn apply_skills(&mut self, a: u32) {
        let skills = self.agent(a).profile.skills.clone();
        let old = std::mem::take(&mut self.agent_mut(a).members);
        let mut members = Vec::with_capacity(skills.len());
        for s in &skills {
            // A skill of a queue a reload removed (an agent kept until its
            // call ends) serves nothing new.
            let Some(&q) = self.queue_ix.get(&s.queue) else {
                continue;
            };
            let m = match old.iter().find(|m| m.queue == q) {
                Some(m) => Membership {
                    level: s.level,
                    key: None,
                    ..m.clone()
                },
                None => {
                    let qr = &mut self.queues[q as usize];
                    let index = qr.next_index;
                    qr.next_index += 1;
                    qr.members.push(a);
                    Membership {
                        queue: q,
                        level: s.level,
                        index,
                        calls_today: 0,
                        talk_today_ms: 0,
                        key: None,
                    }
                }
            };
            members.push(m);
        }
        // A removed queue's callers are still served by its agents.
        for m in &old {
            if self.draining(m.queue) && !members.iter().any(|n| n.queue == m.queue) {
                members.push(Membership {
                    key: None,
                    ..m.clone()
                });
            }
        }
        for m in &old {
            if !members.iter().any(|n| n.queue == m.queue) {
                self.queues[m.queue as usize].members.retain(|&x| x != a);
            }
        }
        self.agent_mut(a).members = members;
    }

    /// Adds (`dir` = 1) or removes (-1) the agent from its queues' counters.
    pub(super) fn count_agent(&mut self, a: u32, dir: i32) {
        let (logged, staffed) = {
            let s = &self.agent(a).state;
            (s.is_logged_in(), s.is_staffed())
        };
        let queues: Vec<u32> = self.agent(a).members.iter().map(|m| m.queue).collect();
        for q in queues {
            let qr = &mut self.queues[q as usize];
            if logged {
                qr.logged_in = qr.logged_in.saturating_add_signed(dir);
            }
            if staffed {
                qr.staffed = qr.staffed.saturating_add_signed(dir);
            }
        }
    }

    /// Files an available agent in each of its queues' sets.
    pub(super) fn file_agent(&mut self, a: u32) {
        let n = self.agent(a).members.len();
        for i in 0..n {
            let (q, level, inputs) = {
                let ag = self.agent(a);
                let m = &ag.members[i];
                (
                    m.queue,
                    m.level,
                    KeyInputs {
                        idle_since: ag.idle_since,
                        member_index: m.index,
                        calls_today: m.calls_today,
                        talk_today_ms: m.talk_today_ms,
                    },
                )
            };
            let strategy = self.queues[q as usize].cfg.strategy;
            let key = avail_key(strategy, &inputs, a);
            self.queues[q as usize].avail.insert(level, key);
            self.agent_mut(a).members[i].key = Some(key);
        }
    }

    /// Takes an agent out of every available set.
    pub(super) fn unfile_agent(&mut self, a: u32) {
        let n = self.agent(a).members.len();
        for i in 0..n {
            let (q, level, key) = {
                let m = &mut self.agent_mut(a).members[i];
                (m.queue, m.level, m.key.take())
            };
            if let Some(key) = key {
                self.queues[q as usize].avail.remove(level, &key);
            }
        }
    }

    /// Re-files an available agent whose keys use today's counters.
    pub(super) fn refile_daily(&mut self, a: u32) {
        let daily = self
            .agent(a)
            .members
            .iter()
            .any(|m| uses_daily_counters(self.queues[m.queue as usize].cfg.strategy));
        if daily && self.agent(a).state == AgentState::Available {
            self.unfile_agent(a);
            self.file_agent(a);
        }
    }

    fn check(&self, a: u32, to: &AgentState, cause: StateCause) -> Result<(), StateError> {
        let ag = self.agent(a);
        if check_transition(&ag.state, to, cause) {
            Ok(())
        } else {
            Err(StateError {
                agent: ag.profile.name.clone(),
                from: ag.state.clone(),
                to: to.clone(),
                cause,
            })
        }
    }

    /// The one place states change.
    pub(super) fn set_state(
        &mut self,
        now: Now,
        a: u32,
        to: AgentState,
        cause: StateCause,
        queue: Option<u32>,
    ) -> Result<(), StateError> {
        self.check(a, &to, cause)?;
        let from = self.agent(a).state.clone();
        if from == AgentState::Available {
            self.unfile_agent(a);
        }
        self.count_agent(a, -1);
        let since = self.agent(a).since;
        let reason = match &to {
            AgentState::Break(r) => Some(r.clone()),
            _ => None,
        };
        {
            let ag = self.agent_mut(a);
            ag.state = to.clone();
            ag.since = now;
            if !matches!(
                to,
                AgentState::WrapUp | AgentState::OnCall(CallKind::Direct | CallKind::Outbound)
            ) {
                ag.wrapup_until = None;
            }
        }
        self.count_agent(a, 1);
        if to == AgentState::Available {
            self.file_agent(a);
        }
        let ag = self.agent(a);
        let record = AgentStateRecord {
            agent: ag.profile.name.clone(),
            at_unix_ms: now.unix_ms,
            from,
            to,
            cause,
            reason,
            call: ag.call,
            queue: queue.or(ag.queue).map(|q| self.queue_id(q)),
            from_duration_ms: now.mono.since(since.mono),
        };
        let call = record.call;
        self.event(
            now,
            call,
            queue.or(ag.queue),
            Some(a),
            EventKind::AgentState(record),
        );
        Ok(())
    }

    /// Sets a state without a record (restoring persisted states).
    fn force_state(&mut self, a: u32, to: AgentState, since: Now) {
        if self.agent(a).state == AgentState::Available {
            self.unfile_agent(a);
        }
        self.count_agent(a, -1);
        let ag = self.agent_mut(a);
        ag.state = to;
        ag.since = since;
        self.count_agent(a, 1);
    }

    /// To available after a queue call or a pause; records the handle time
    /// and looks for a caller.
    pub(super) fn become_available(&mut self, now: Now, a: u32, cause: StateCause) -> Result<()> {
        if let Some((q, start)) = self.agent_mut(a).handle_start.take() {
            self.queues[q as usize].handle.push(now.mono.since(start));
        }
        let ag = self.agent_mut(a);
        ag.queue = None;
        ag.call = None;
        ag.idle_since = now.mono;
        self.set_state(now, a, AgentState::Available, cause, None)?;
        self.match_agent(now, a);
        Ok(())
    }

    pub(super) fn wrap_up_due(&mut self, now: Now, a: u32) {
        if self
            .agents
            .get(a as usize)
            .and_then(|x| x.as_ref())
            .is_some_and(|x| x.state == AgentState::WrapUp)
        {
            // Cannot fail: wrap-up → available is in the table.
            let _ = self.become_available(now, a, StateCause::WrapUpExpired);
        }
    }

    /// Withdraws the offer ringing the agent, if any (agent becomes unavailable).
    fn withdraw_offer(&mut self, now: Now, a: u32) {
        if let Some(offer) = self.agent(a).offer {
            self.cancel_offer(now, offer, CancelReason::AgentUnavailable, false);
        }
    }

    /// `leave_when_empty`: the agent's queues with nobody logged in lose
    /// their waiting callers (callbacks stay).
    fn leave_if_empty(&mut self, now: Now, a: u32) {
        let queues: Vec<u32> = self.agent(a).members.iter().map(|m| m.queue).collect();
        for q in queues {
            let qr = &self.queues[q as usize];
            if qr.logged_in > 0 || !qr.cfg.limits.leave_when_empty {
                continue;
            }
            let mut leaving: Vec<(u64, i64)> = self
                .entries
                .iter()
                .filter(|(_, e)| {
                    e.queue == q
                        && !e.is_callback()
                        && matches!(e.phase, Phase::Waiting | Phase::Paused)
                })
                .map(|(&id, e)| (id, e.key.vkey))
                .collect();
            leaving.sort_by_key(|&(id, v)| (v, id));
            for (id, _) in leaving {
                self.overflow_entry(now, id, OverflowReason::LeaveEmpty);
            }
        }
    }
}
