//! Callbacks in the engine: turning a waiting caller into a virtual one,
//! the agent-first / customer-second dialing, retries, and the durable
//! form ([`CallbackRequest`]).

use super::{Acd, Action, Connected, Entry, EntryKind, Error, Phase, Result};
use crate::callback::CallbackRequest;
use crate::events::EventKind;
use crate::ids::{CallId, CallbackId, Mono, Now};
use crate::matcher::WaitKey;
use crate::state::StateCause;
use crate::timers::Timer;

impl Acd {
    /// The customer answered callback `callback`; `call` is the driver's
    /// call carrying agent and customer (its end is reported with
    /// [`Acd::handle_hangup`] like any connected call).
    pub fn handle_callback_answered(
        &mut self,
        now: Now,
        callback: CallbackId,
        call: CallId,
    ) -> Result<()> {
        self.touch(now);
        let id = callback.0;
        let Some(e) = self.entries.get(&id) else {
            return Err(Error::UnknownCallback(callback));
        };
        let (
            Phase::CallingCustomer { agent: a },
            EntryKind::Callback {
                call: original,
                attempts,
                ..
            },
        ) = (&e.phase, &e.kind)
        else {
            return Err(Error::UnknownCallback(callback));
        };
        if self.connected.contains_key(&call) || self.call_entry.contains_key(&call) {
            return Err(Error::DuplicateCall(call));
        }
        let (a, original, attempt, q) = (*a, *original, attempts + 1, e.queue);
        let wait_ms = now.unix_ms.saturating_sub(e.entered.unix_ms);
        self.event(
            now,
            Some(original),
            Some(q),
            Some(a),
            EventKind::CallbackConnected {
                callback,
                callback_call: call,
                wait_ms,
                attempt,
            },
        );
        if let Some(e) = self.entries.get_mut(&id) {
            e.phase = Phase::Paused;
        }
        self.drop_entry(now, id);
        let ag = self.agent_mut(a);
        ag.call = Some(call);
        ag.queue = Some(q);
        ag.handle_start = Some((q, now.mono));
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

    /// The customer attempt of `callback` failed (no answer, busy, ...).
    /// The agent is released (the driver hangs up its leg); the request
    /// retries after the queue's interval, keeping its place, or is dropped
    /// after the last attempt.
    pub fn handle_callback_failed(&mut self, now: Now, callback: CallbackId) -> Result<()> {
        self.touch(now);
        let id = callback.0;
        let Some(e) = self.entries.get_mut(&id) else {
            return Err(Error::UnknownCallback(callback));
        };
        let (Phase::CallingCustomer { agent: a }, EntryKind::Callback { call, attempts, .. }) =
            (&e.phase, &mut e.kind)
        else {
            return Err(Error::UnknownCallback(callback));
        };
        let a = *a;
        *attempts += 1;
        let (attempt, call, q) = (*attempts, *call, e.queue);
        e.phase = Phase::Paused;
        let cfg = &self.queues[q as usize].cfg.callback;
        let gave_up = attempt >= cfg.max_attempts;
        let retry_ms = u64::from(cfg.retry_interval_s) * 1000;
        self.event(
            now,
            Some(call),
            Some(q),
            Some(a),
            EventKind::CallbackFailed {
                callback,
                attempt,
                gave_up,
            },
        );
        self.become_available(now, a, StateCause::CallbackFailed)?;
        if gave_up {
            self.drop_entry(now, id);
        } else {
            self.timers
                .set(Timer::Retry(id), now.mono.plus_ms(retry_ms));
        }
        Ok(())
    }

    /// Pending callbacks, to persist (after every callback event).
    pub fn callbacks(&self) -> Vec<CallbackRequest> {
        let mut out: Vec<CallbackRequest> = self
            .entries
            .iter()
            .filter_map(|(&id, e)| match e.kind {
                EntryKind::Callback {
                    id: cb,
                    call,
                    attempts,
                } => Some((id, e, cb, call, attempts)),
                EntryKind::Call(_) => None,
            })
            .map(|(_, e, cb, call, attempts)| CallbackRequest {
                id: cb,
                call,
                queue: self.queue_id(e.queue),
                number: e.number.clone(),
                service_number: e.service_number.clone(),
                priority: e.priority,
                entered_unix_ms: e.entered.unix_ms,
                attempts,
            })
            .collect();
        out.sort_by_key(|r| (r.entered_unix_ms, r.id));
        out
    }

    /// Puts persisted callbacks back in their queues, at the places their
    /// entry times give them (a request that was dialing starts over, its
    /// attempts kept). Requests for unknown queues are returned.
    pub fn restore_callbacks(
        &mut self,
        now: Now,
        requests: Vec<CallbackRequest>,
    ) -> Vec<CallbackRequest> {
        self.touch(now);
        let mut rejected = Vec::new();
        for r in requests {
            let Some(&q) = self.queue_ix.get(&r.queue) else {
                rejected.push(r);
                continue;
            };
            if self.entries.contains_key(&r.id.0) {
                continue;
            }
            self.next_id = self.next_id.max(r.id.0 + 1);
            let entered_mono = Mono(
                now.mono
                    .0
                    .saturating_sub(now.unix_ms.saturating_sub(r.entered_unix_ms)),
            );
            let entered = Now {
                mono: entered_mono,
                unix_ms: r.entered_unix_ms,
            };
            let cfg = &self.queues[q as usize].cfg;
            let credit_ms = (i64::from(cfg.weight_s)
                + i64::from(r.priority) * i64::from(cfg.priority_credit_s))
                * 1000;
            // Entry times before the monotonic origin keep their order
            // through the wall-clock difference.
            let vkey = i64::try_from(now.mono.0).unwrap_or(i64::MAX)
                - i64::try_from(now.unix_ms.saturating_sub(r.entered_unix_ms)).unwrap_or(0)
                - credit_ms;
            let key = WaitKey {
                vkey,
                entry: r.id.0,
            };
            let (min_level, next) = cfg.min_level_at(now.mono.since(entered.mono));
            self.entries.insert(
                r.id.0,
                Entry {
                    kind: EntryKind::Callback {
                        id: r.id,
                        call: r.call,
                        attempts: r.attempts,
                    },
                    queue: q,
                    number: r.number,
                    service_number: r.service_number,
                    priority: r.priority,
                    entered,
                    key,
                    min_level,
                    phase: Phase::Waiting,
                    hops: 0,
                    expired: false,
                    last_failed: None,
                },
            );
            let qr = &mut self.queues[q as usize];
            qr.entries += 1;
            qr.wait.insert(min_level, key);
            if let Some(at) = next {
                self.timers
                    .set(Timer::Relax(r.id.0), entered.mono.plus_ms(at));
            }
            self.match_entry(now, r.id.0, None);
        }
        rejected
    }

    /// A waiting caller pressed the callback key.
    pub(super) fn make_callback(&mut self, now: Now, id: u64) {
        let position = self.position(&self.entries[&id]);
        let e = self
            .entries
            .get_mut(&id)
            .expect("caller checked by handle_dtmf");
        let EntryKind::Call(call) = e.kind else {
            return;
        };
        let callback = CallbackId(id);
        e.kind = EntryKind::Callback {
            id: callback,
            call,
            attempts: 0,
        };
        let (q, number, wait_ms) = (e.queue, e.number.clone(), now.mono.since(e.entered.mono));
        self.call_entry.remove(&call);
        for t in [Timer::MaxWait(id), Timer::Announce(id), Timer::Periodic(id)] {
            self.timers.cancel(t);
        }
        self.event(
            now,
            Some(call),
            Some(q),
            None,
            EventKind::CallbackRequested {
                callback,
                number,
                position,
                wait_ms,
            },
        );
        self.actions.push_back(Action::CallbackAccepted {
            call,
            callback,
            queue: self.queue_id(q),
        });
    }

    /// The agent answered its callback leg: dial the customer.
    pub(super) fn callback_agent_answered(&mut self, now: Now, id: u64, a: u32) {
        let _ = now;
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        e.phase = Phase::CallingCustomer { agent: a };
        let EntryKind::Callback { id: callback, .. } = e.kind else {
            return;
        };
        let number = e.number.clone();
        let ring_timeout_ms = u64::from(
            self.queues[e.queue as usize]
                .cfg
                .callback
                .customer_ring_timeout_s,
        ) * 1000;
        self.actions.push_back(Action::CallbackCallCustomer {
            callback,
            agent: self.agent_name(a),
            number,
            ring_timeout_ms,
        });
    }
}
