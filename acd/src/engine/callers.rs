//! Caller inputs and caller timers: entering a queue, hanging up, DTMF,
//! hold, transfer; max wait / overflow, relaxing rules, announcements.

use super::{
    Acd, Action, Announcement, CallerInfo, Connected, Entry, EntryKind, Error, Phase, Result,
    MAX_OVERFLOW_HOPS,
};
use crate::config::OverflowTarget;
use crate::events::{EventKind, OverflowReason};
use crate::ids::{CallId, Now};
use crate::matcher::WaitKey;
use crate::state::{AgentState, StateCause};
use crate::timers::Timer;

/// What a caller carries from queue to queue.
#[derive(Debug, Clone)]
pub(super) struct Seed {
    pub(super) kind: EntryKind,
    pub(super) number: String,
    pub(super) service_number: Option<String>,
    pub(super) priority: u8,
    pub(super) hops: u8,
}

impl Acd {
    /// A caller enters a queue. It gets music on hold and an offer as soon
    /// as an eligible agent is free; a full queue, or an empty one with
    /// `join_empty = false`, overflows at once.
    pub fn handle_caller_enter(&mut self, now: Now, info: CallerInfo) -> Result<()> {
        self.touch(now);
        let q = *self
            .queue_ix
            .get(&info.queue)
            .ok_or_else(|| Error::UnknownQueue(info.queue.clone()))?;
        if self.call_entry.contains_key(&info.call) || self.connected.contains_key(&info.call) {
            return Err(Error::DuplicateCall(info.call));
        }
        let seed = Seed {
            kind: EntryKind::Call(info.call),
            number: info.number,
            service_number: info.service_number,
            priority: info.priority,
            hops: 0,
        };
        self.enter_queue(now, seed, q);
        Ok(())
    }

    /// The caller's call ended, whatever its step: while queued it is an
    /// abandon, while connected the call is complete (the agent goes to
    /// wrap-up). Unknown calls (already gone, turned into callbacks) are
    /// ignored.
    pub fn handle_hangup(&mut self, now: Now, call: CallId) {
        self.touch(now);
        if let Some(&id) = self.call_entry.get(&call) {
            let e = &self.entries[&id];
            let position = self.position(e);
            let wait_ms = now.mono.since(e.entered.mono);
            let q = e.queue;
            self.event(
                now,
                Some(call),
                Some(q),
                None,
                EventKind::Abandon { position, wait_ms },
            );
            self.drop_entry(now, id);
        } else if self.connected.contains_key(&call) {
            self.finish_call(now, call, None);
        }
    }

    /// A DTMF key from a queued caller: the queue's callback key turns the
    /// caller into a callback that keeps its place. Other keys are ignored.
    pub fn handle_dtmf(&mut self, now: Now, call: CallId, key: char) {
        self.touch(now);
        let Some(&id) = self.call_entry.get(&call) else {
            return;
        };
        let e = &self.entries[&id];
        let cfg = &self.queues[e.queue as usize].cfg.callback;
        if cfg.enabled && key == cfg.key && matches!(e.phase, Phase::Waiting | Phase::Paused) {
            self.make_callback(now, id);
        }
    }

    /// The agent put the connected caller on hold (`true`) or resumed.
    pub fn handle_hold(&mut self, now: Now, call: CallId, on: bool) -> Result<()> {
        self.touch(now);
        let c = self
            .connected
            .get_mut(&call)
            .ok_or(Error::UnknownCall(call))?;
        match (on, c.hold_since) {
            (true, None) => c.hold_since = Some(now.mono),
            (false, Some(t)) => {
                c.hold_ms += now.mono.since(t);
                c.hold_since = None;
            }
            _ => {}
        }
        Ok(())
    }

    /// The agent transferred the caller away (blind or attended): the call
    /// leaves the ACD and the agent goes to wrap-up. A transfer into a
    /// queue is a new [`Acd::handle_caller_enter`] by the driver.
    pub fn handle_transfer(&mut self, now: Now, call: CallId, target: &str) -> Result<()> {
        self.touch(now);
        if !self.connected.contains_key(&call) {
            return Err(Error::UnknownCall(call));
        }
        self.finish_call(now, call, Some(target));
        Ok(())
    }

    pub(super) fn enter_queue(&mut self, now: Now, seed: Seed, q: u32) {
        let qr = &self.queues[q as usize];
        let limits = &qr.cfg.limits;
        let refused = if !limits.join_empty && qr.logged_in == 0 {
            Some(OverflowReason::JoinEmpty)
        } else if limits.max_length.is_some_and(|m| qr.entries >= m) {
            Some(OverflowReason::Full)
        } else {
            None
        };
        if let Some(reason) = refused {
            self.overflow_seed(now, seed, q, reason, 0);
            return;
        }
        let id = self.fresh_id();
        let cfg = &self.queues[q as usize].cfg;
        let credit_ms = (i64::from(cfg.weight_s)
            + i64::from(seed.priority) * i64::from(cfg.priority_credit_s))
            * 1000;
        let key = WaitKey {
            vkey: i64::try_from(now.mono.0).unwrap_or(i64::MAX) - credit_ms,
            entry: id,
        };
        let (min_level, next_relax) = cfg.min_level_at(0);
        let (max_wait, announce, periodic, music) = (
            cfg.limits.max_wait_s,
            (cfg.announce.position || cfg.announce.estimated_wait)
                .then_some(cfg.announce.frequency_s),
            (cfg.announce.periodic_s > 0).then_some(cfg.announce.periodic_s),
            cfg.music_on_hold.clone(),
        );
        let call = match seed.kind {
            EntryKind::Call(c) | EntryKind::Callback { call: c, .. } => c,
        };
        let entry = Entry {
            kind: seed.kind,
            queue: q,
            number: seed.number,
            service_number: seed.service_number,
            priority: seed.priority,
            entered: now,
            key,
            min_level,
            phase: Phase::Waiting,
            hops: seed.hops,
            expired: false,
            last_failed: None,
        };
        let (number, service_number, priority) = (
            entry.number.clone(),
            entry.service_number.clone(),
            entry.priority,
        );
        self.entries.insert(id, entry);
        self.call_entry.insert(call, id);
        let qr = &mut self.queues[q as usize];
        qr.entries += 1;
        qr.wait.insert(min_level, key);
        let position = qr.wait.position(&key);
        self.event(
            now,
            Some(call),
            Some(q),
            None,
            EventKind::Enter {
                number,
                service_number,
                priority,
                position,
            },
        );
        self.actions.push_back(Action::Hold {
            call,
            queue: self.queue_id(q),
            music,
        });
        if let Some(s) = max_wait {
            self.timers
                .set(Timer::MaxWait(id), now.mono.plus_ms(u64::from(s) * 1000));
        }
        if let Some(at) = next_relax {
            self.timers.set(Timer::Relax(id), now.mono.plus_ms(at));
        }
        if let Some(p) = periodic {
            self.timers
                .set(Timer::Periodic(id), now.mono.plus_ms(u64::from(p) * 1000));
        }
        self.match_entry(now, id, None);
        if let Some(freq) = announce {
            if self
                .entries
                .get(&id)
                .is_some_and(|e| e.phase == Phase::Waiting)
            {
                self.announce(now, id);
                if freq > 0 {
                    self.timers.set(
                        Timer::Announce(id),
                        now.mono.plus_ms(u64::from(freq) * 1000),
                    );
                }
            }
        }
    }

    /// Position and estimated wait, as configured.
    fn announce(&mut self, now: Now, id: u64) {
        let _ = now;
        let e = &self.entries[&id];
        let EntryKind::Call(call) = e.kind else {
            return;
        };
        let cfg = &self.queues[e.queue as usize].cfg.announce;
        let (pos_on, ewt_on) = (cfg.position, cfg.estimated_wait);
        let position = self.position(e);
        let queue = self.queue_id(e.queue);
        if pos_on {
            self.actions.push_back(Action::Announce {
                call,
                queue: queue.clone(),
                announcement: Announcement::Position(position),
            });
        }
        if ewt_on {
            if let Some(ms) = self.estimate_for(e.queue, position) {
                self.actions.push_back(Action::Announce {
                    call,
                    queue,
                    announcement: Announcement::EstimatedWait {
                        seconds: ms.div_ceil(1000),
                    },
                });
            }
        }
    }

    pub(super) fn announce_due(&mut self, now: Now, id: u64, periodic: bool) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        if e.is_callback() || !matches!(e.phase, Phase::Waiting | Phase::Paused) {
            // Ringing an agent: try again at the next interval.
            if !e.is_callback() {
                self.rearm_announce(now, id, periodic);
            }
            return;
        }
        if periodic {
            let EntryKind::Call(call) = e.kind else {
                return;
            };
            let queue = self.queue_id(e.queue);
            if let Some(prompt) = self.queues[e.queue as usize]
                .cfg
                .announce
                .periodic_prompt
                .clone()
            {
                self.actions.push_back(Action::Announce {
                    call,
                    queue,
                    announcement: Announcement::Periodic { prompt },
                });
            }
        } else {
            self.announce(now, id);
        }
        self.rearm_announce(now, id, periodic);
    }

    fn rearm_announce(&mut self, now: Now, id: u64, periodic: bool) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        let a = &self.queues[e.queue as usize].cfg.announce;
        let (timer, s) = if periodic {
            (Timer::Periodic(id), a.periodic_s)
        } else {
            (Timer::Announce(id), a.frequency_s)
        };
        if s > 0 {
            self.timers
                .set(timer, now.mono.plus_ms(u64::from(s) * 1000));
        }
    }

    pub(super) fn relax_due(&mut self, now: Now, id: u64) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        let q = e.queue;
        let (level, next) = self.queues[q as usize]
            .cfg
            .min_level_at(now.mono.since(e.entered.mono));
        let (old, key, waiting, entered) =
            (e.min_level, e.key, e.phase == Phase::Waiting, e.entered);
        if let Some(at) = next {
            self.timers.set(Timer::Relax(id), entered.mono.plus_ms(at));
        }
        if level == old {
            return;
        }
        if let Some(e) = self.entries.get_mut(&id) {
            e.min_level = level;
        }
        if waiting {
            let w = &mut self.queues[q as usize].wait;
            w.remove(old, &key);
            w.insert(level, key);
            self.match_entry(now, id, None);
        }
    }

    pub(super) fn max_wait(&mut self, now: Now, id: u64) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if e.is_callback() {
            return;
        }
        match e.phase {
            Phase::Offering(_) => e.expired = true,
            _ => self.overflow_entry(now, id, OverflowReason::MaxWait),
        }
    }

    /// The entry leaves its queue without an agent, to the queue's target.
    pub(super) fn overflow_entry(&mut self, now: Now, id: u64, reason: OverflowReason) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        let q = e.queue;
        let cfg = &self.queues[q as usize].cfg;
        if reason == OverflowReason::MaxWait
            && cfg.limits.overflow == Some(OverflowTarget::CallbackOffer)
        {
            // The caller keeps waiting; the offer stands from now on.
            let (call, key) = (e.call(), cfg.callback.key);
            self.actions.push_back(Action::Announce {
                call,
                queue: self.queue_id(q),
                announcement: Announcement::CallbackOffer { key },
            });
            if let Some(e) = self.entries.get_mut(&id) {
                e.expired = false;
            }
            return;
        }
        let wait_ms = now.mono.since(e.entered.mono);
        let seed = Seed {
            kind: e.kind.clone(),
            number: e.number.clone(),
            service_number: e.service_number.clone(),
            priority: e.priority,
            hops: e.hops,
        };
        self.drop_entry(now, id);
        self.overflow_seed(now, seed, q, reason, wait_ms);
    }

    /// A caller not (or no longer) in queue `q` goes to `q`'s overflow target.
    fn overflow_seed(
        &mut self,
        now: Now,
        seed: Seed,
        q: u32,
        reason: OverflowReason,
        wait_ms: u64,
    ) {
        let call = match seed.kind {
            EntryKind::Call(c) | EntryKind::Callback { call: c, .. } => c,
        };
        let mut target = self.queues[q as usize].cfg.limits.overflow.clone();
        if target == Some(OverflowTarget::CallbackOffer) {
            // Refused at the door: there is no place to keep.
            target = None;
        }
        if let Some(OverflowTarget::Queue(t)) = &target {
            if seed.hops >= MAX_OVERFLOW_HOPS {
                target = None;
            } else if let Some(&tq) = self.queue_ix.get(t) {
                self.event(
                    now,
                    Some(call),
                    Some(q),
                    None,
                    EventKind::Overflow {
                        reason,
                        target: target.clone(),
                        wait_ms,
                    },
                );
                let seed = Seed {
                    hops: seed.hops + 1,
                    ..seed
                };
                self.enter_queue(now, seed, tq);
                return;
            }
        }
        self.event(
            now,
            Some(call),
            Some(q),
            None,
            EventKind::Overflow {
                reason,
                target: target.clone(),
                wait_ms,
            },
        );
        self.actions.push_back(Action::Overflow {
            call,
            queue: self.queue_id(q),
            reason,
            target,
        });
    }

    /// Removes an entry from everything: index, offers (withdrawn), timers.
    pub(super) fn drop_entry(&mut self, now: Now, id: u64) {
        let Some(e) = self.entries.remove(&id) else {
            return;
        };
        let qr = &mut self.queues[e.queue as usize];
        qr.entries = qr.entries.saturating_sub(1);
        match &e.phase {
            Phase::Waiting => qr.wait.remove(e.min_level, &e.key),
            Phase::Offering(offers) => {
                for &o in offers {
                    self.cancel_offer(now, o, super::CancelReason::CallerGone, true);
                }
            }
            Phase::CallingCustomer { agent } => {
                let _ = self.become_available(now, *agent, StateCause::CallbackFailed);
            }
            Phase::Paused => {}
        }
        if let EntryKind::Call(c) = e.kind {
            self.call_entry.remove(&c);
        }
        for t in [
            Timer::Retry(id),
            Timer::MaxWait(id),
            Timer::Relax(id),
            Timer::Announce(id),
            Timer::Periodic(id),
        ] {
            self.timers.cancel(t);
        }
    }

    /// A connected call ends (hangup, or transfer to `target`).
    pub(super) fn finish_call(&mut self, now: Now, call: CallId, target: Option<&str>) {
        let Some(c) = self.connected.remove(&call) else {
            return;
        };
        let Connected {
            queue: q,
            agent: a,
            at,
            hold_since,
            hold_ms,
        } = c;
        let talk_ms = now.mono.since(at.mono);
        let hold_ms = hold_ms + hold_since.map_or(0, |t| now.mono.since(t));
        let kind = match target {
            Some(t) => EventKind::Transfer {
                target: t.to_owned(),
                talk_ms,
            },
            None => EventKind::Complete { talk_ms, hold_ms },
        };
        self.event(now, Some(call), Some(q), Some(a), kind);
        let still_on_it = self
            .agents
            .get(a as usize)
            .and_then(|x| x.as_ref())
            .is_some_and(|ag| {
                ag.state == AgentState::OnCall(crate::state::CallKind::Queue)
                    && ag.call == Some(call)
            });
        if !still_on_it {
            return;
        }
        if let Some(m) = self.agent_mut(a).members.iter_mut().find(|m| m.queue == q) {
            m.talk_today_ms += talk_ms;
        }
        let wrap_s = self
            .agent(a)
            .profile
            .wrap_up_s
            .unwrap_or(self.queues[q as usize].cfg.wrap_up_s);
        if wrap_s == 0 {
            let _ = self.become_available(now, a, StateCause::CallEnded);
            return;
        }
        let until = now.mono.plus_ms(u64::from(wrap_s) * 1000);
        self.agent_mut(a).wrapup_until = Some(until);
        if self
            .set_state(now, a, AgentState::WrapUp, StateCause::CallEnded, Some(q))
            .is_ok()
        {
            self.agent_mut(a).wrapup_until = Some(until);
            self.timers.set(Timer::WrapUp(a), until);
        }
    }
}
