//! Matching and offers: the one matcher across all queues (see
//! [`crate::matcher`] for the invariant it keeps) and the life of an offer
//! — answered, failed, timed out, withdrawn.

use rand::Rng;

use super::{Acd, Action, CancelReason, Connected, EntryKind, Error, Offer, Phase, Result};
use crate::config::Strategy;
use crate::events::{EventKind, OfferFailure, OverflowReason};
use crate::ids::{Now, OfferId};
use crate::matcher::WaitKey;
use crate::state::{AgentState, CallKind, StateCause};
use crate::timers::Timer;

impl Acd {
    /// The agent answered offer `offer` (for a callback: the agent's leg).
    /// Unknown offers were withdrawn before ([`Action::CancelOffer`]): the
    /// driver hangs the agent's leg up.
    pub fn handle_offer_answered(&mut self, now: Now, offer: OfferId) -> Result<()> {
        self.touch(now);
        let o = self
            .offers
            .remove(&offer)
            .ok_or(Error::UnknownOffer(offer))?;
        self.timers.cancel(Timer::Ring(offer));
        let (id, a, q) = (o.entry, o.agent, o.queue);
        {
            let ag = self.agent_mut(a);
            ag.offer = None;
            ag.no_answer = 0;
        }
        let e = self
            .entries
            .get_mut(&id)
            .expect("an offer's entry lives while the offer does");
        let others: Vec<OfferId> = match &mut e.phase {
            Phase::Offering(list) => list.drain(..).filter(|&x| x != offer).collect(),
            _ => Vec::new(),
        };
        let wait_ms = now.mono.since(e.entered.mono);
        let ring_ms = now.mono.since(o.at.mono);
        for other in others {
            self.cancel_offer(now, other, CancelReason::AnsweredElsewhere, false);
        }
        let e = &self.entries[&id];
        let (call, is_callback) = (e.call(), e.is_callback());
        self.agent_mut(a).call = Some(call);
        self.agent_mut(a).queue = Some(q);
        self.set_state(
            now,
            a,
            AgentState::OnCall(CallKind::Queue),
            StateCause::Answered,
            Some(q),
        )?;
        if let Some(m) = self.agent_mut(a).members.iter_mut().find(|m| m.queue == q) {
            m.calls_today += 1;
        }
        if is_callback {
            self.agent_mut(a).call = None;
            self.callback_agent_answered(now, id, a);
            return Ok(());
        }
        self.agent_mut(a).handle_start = Some((q, now.mono));
        self.event(
            now,
            Some(call),
            Some(q),
            Some(a),
            EventKind::Connect {
                offer,
                wait_ms,
                ring_ms,
            },
        );
        self.actions.push_back(Action::Connect {
            offer,
            call,
            agent: self.agent_name(a),
            queue: self.queue_id(q),
        });
        if let Some(e) = self.entries.get_mut(&id) {
            e.phase = Phase::Paused; // out of every index; dropped below
        }
        self.drop_entry(now, id);
        self.connected.insert(
            call,
            Connected {
                queue: q,
                agent: a,
                at: now,
                hold_since: None,
                hold_ms: 0,
            },
        );
        Ok(())
    }

    /// The agent did not take offer `offer`. Counted towards its no-answer
    /// limit; the caller is offered to the next agent.
    pub fn handle_offer_failed(
        &mut self,
        now: Now,
        offer: OfferId,
        reason: OfferFailure,
    ) -> Result<()> {
        self.touch(now);
        if !self.offers.contains_key(&offer) {
            return Err(Error::UnknownOffer(offer));
        }
        self.offer_failed(now, offer, reason);
        Ok(())
    }

    pub(super) fn ring_timeout(&mut self, now: Now, offer: OfferId) {
        let Some(o) = self.offers.get(&offer) else {
            return;
        };
        let agent = self.agent_name(o.agent);
        self.actions.push_back(Action::CancelOffer {
            offer,
            agent,
            reason: CancelReason::RingTimeout,
        });
        self.offer_failed(now, offer, OfferFailure::NoAnswer);
    }

    fn offer_failed(&mut self, now: Now, offer: OfferId, reason: OfferFailure) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        self.timers.cancel(Timer::Ring(offer));
        let (id, a) = (o.entry, o.agent);
        let call = self.entries.get(&id).map(|e| e.call());
        self.event(
            now,
            call,
            Some(o.queue),
            Some(a),
            EventKind::RingNoAnswer {
                offer,
                reason,
                rang_ms: now.mono.since(o.at.mono),
            },
        );
        let limit = self.cfg.max_no_answer;
        let ag = self.agent_mut(a);
        ag.offer = None;
        ag.no_answer += 1;
        let (to, cause) = if ag.no_answer >= limit {
            (AgentState::NoAnswer, StateCause::MaxNoAnswer)
        } else {
            (AgentState::Available, StateCause::OfferFailed)
        };
        let _ = self.set_state(now, a, to, cause, Some(o.queue));
        self.offer_done(now, id, offer, Some(a));
        self.match_agent(now, a);
    }

    /// Withdraws an offer without counting it against the agent. With
    /// `entry_gone` the caller's entry is being dropped by the caller.
    pub(super) fn cancel_offer(
        &mut self,
        now: Now,
        offer: OfferId,
        reason: CancelReason,
        entry_gone: bool,
    ) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        self.timers.cancel(Timer::Ring(offer));
        let a = o.agent;
        self.agent_mut(a).offer = None;
        self.actions.push_back(Action::CancelOffer {
            offer,
            agent: self.agent_name(a),
            reason,
        });
        let _ = self.set_state(
            now,
            a,
            AgentState::Available,
            StateCause::OfferCancelled,
            Some(o.queue),
        );
        if !entry_gone && reason != CancelReason::AnsweredElsewhere {
            self.offer_done(now, o.entry, offer, Some(a));
        }
        // The agent's state may change again right after (break, logout):
        // those callers match it only if it is still available.
        if reason != CancelReason::AgentUnavailable {
            self.match_agent(now, a);
        }
    }

    /// Offer `offer` of entry `id` is over without an answer: with none
    /// left ringing the entry waits again (after the retry delay).
    fn offer_done(&mut self, now: Now, id: u64, offer: OfferId, failed_agent: Option<u32>) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if let Phase::Offering(list) = &mut e.phase {
            list.retain(|&x| x != offer);
            if !list.is_empty() {
                return;
            }
        } else {
            return;
        }
        if e.expired {
            self.overflow_entry(now, id, OverflowReason::MaxWait);
            return;
        }
        let retry = u64::from(self.queues[e.queue as usize].cfg.retry_delay_s) * 1000;
        if retry > 0 {
            e.phase = Phase::Paused;
            e.last_failed = failed_agent;
            self.timers.set(Timer::Retry(id), now.mono.plus_ms(retry));
        } else {
            self.requeue(now, id, failed_agent);
        }
    }

    /// A paused entry goes back to its place and is matched.
    pub(super) fn retry_due(&mut self, now: Now, id: u64) {
        let Some(e) = self
            .entries
            .get_mut(&id)
            .filter(|e| e.phase == Phase::Paused)
        else {
            return;
        };
        let skip = e.last_failed.take();
        self.requeue(now, id, skip);
    }

    fn requeue(&mut self, now: Now, id: u64, exclude: Option<u32>) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        e.phase = Phase::Waiting;
        let (q, level, key) = (e.queue, e.min_level, e.key);
        self.queues[q as usize].wait.insert(level, key);
        self.match_entry(now, id, exclude);
    }

    /// Matches a waiting entry with the best eligible available agent(s)
    /// of its queue.
    pub(super) fn match_entry(&mut self, now: Now, id: u64, exclude: Option<u32>) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        if e.phase != Phase::Waiting {
            return;
        }
        let q = e.queue;
        let qr = &self.queues[q as usize];
        let strategy = qr.cfg.strategy;
        if strategy == Strategy::RingAll && !e.is_callback() {
            let agents: Vec<u32> = qr
                .avail
                .all_eligible(e.min_level, exclude)
                .map(|k| k.agent)
                .collect();
            if !agents.is_empty() {
                self.make_offers(now, id, &agents);
            }
            return;
        }
        let random = if strategy == Strategy::Random {
            self.rng.gen()
        } else {
            0
        };
        let qr = &self.queues[q as usize];
        let e = &self.entries[&id];
        if let Some(pick) = qr
            .avail
            .best(strategy, e.min_level, qr.rr_last, exclude, random)
        {
            self.make_offers(now, id, &[pick.key.agent]);
        }
    }

    /// Matches a newly available agent with the best caller over its queues.
    pub(super) fn match_agent(&mut self, now: Now, a: u32) {
        let Some(ag) = self.agents.get(a as usize).and_then(|x| x.as_ref()) else {
            return;
        };
        if ag.state != AgentState::Available {
            return;
        }
        let mut best: Option<WaitKey> = None;
        for m in &ag.members {
            if let Some(k) = self.queues[m.queue as usize].wait.best_for_level(m.level) {
                if best.is_none_or(|b| k < b) {
                    best = Some(k);
                }
            }
        }
        if let Some(k) = best {
            self.make_offers(now, k.entry, &[a]);
        }
    }

    fn make_offers(&mut self, now: Now, id: u64, agents: &[u32]) {
        let e = self.entries.get_mut(&id).expect("matched entries exist");
        let (q, level, key) = (e.queue, e.min_level, e.key);
        if e.phase == Phase::Waiting {
            self.queues[q as usize].wait.remove(level, &key);
        }
        e.phase = Phase::Offering(Vec::with_capacity(agents.len()));
        let ring_ms = u64::from(self.queues[q as usize].cfg.ring_timeout_s) * 1000;
        for &a in agents {
            let offer = OfferId(self.fresh_id());
            self.offers.insert(
                offer,
                Offer {
                    entry: id,
                    agent: a,
                    queue: q,
                    at: now,
                },
            );
            if let Some(Phase::Offering(list)) = self.entries.get_mut(&id).map(|e| &mut e.phase) {
                list.push(offer);
            }
            let index = self
                .agent(a)
                .members
                .iter()
                .find(|m| m.queue == q)
                .map(|m| m.index);
            self.queues[q as usize].rr_last = index;
            self.agent_mut(a).offer = Some(offer);
            let _ = self.set_state(now, a, AgentState::Reserved, StateCause::Offer, Some(q));
            self.timers
                .set(Timer::Ring(offer), now.mono.plus_ms(ring_ms));
            let e = &self.entries[&id];
            let (agent, queue) = (self.agent_name(a), self.queue_id(q));
            match e.kind {
                EntryKind::Call(call) => {
                    self.event(
                        now,
                        Some(call),
                        Some(q),
                        Some(a),
                        EventKind::Offer {
                            offer,
                            ring_timeout_ms: ring_ms,
                        },
                    );
                    self.actions.push_back(Action::Offer {
                        offer,
                        call,
                        agent,
                        queue,
                        ring_timeout_ms: ring_ms,
                    });
                }
                EntryKind::Callback {
                    id: callback,
                    call,
                    attempts,
                } => {
                    let number = e.number.clone();
                    self.event(
                        now,
                        Some(call),
                        Some(q),
                        Some(a),
                        EventKind::CallbackPlaced {
                            callback,
                            offer,
                            attempt: attempts + 1,
                        },
                    );
                    self.actions.push_back(Action::CallbackCallAgent {
                        offer,
                        callback,
                        agent,
                        queue,
                        number,
                        ring_timeout_ms: ring_ms,
                    });
                }
            }
        }
    }
}
