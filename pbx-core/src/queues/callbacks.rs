//! Callbacks placed for real: the ACD asks for its agent to be called first
//! (`acd::Action::CallbackCallAgent`); the driver places the call with the
//! engine's originate (the agent's phone rings, then the customer's number
//! is dialed for it) and reports back. The call's own events then tell the
//! ACD how it goes: `call.dialing` (the agent answered: the offer is taken),
//! `call.answered` (the customer answered: the callback connected), and
//! the call's end (the agent did not answer, the customer did not, or the
//! connected call is over and the agent goes to wrap-up).

use std::time::Duration;

use acd::{CallbackId, OfferFailure, OfferId};

use super::AcdHost;
use crate::b2bua::CallId;

/// A callback call the ACD wants placed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCall {
    /// The ACD's offer to the agent (answered or failed with the agent leg).
    pub offer: OfferId,
    /// The callback request.
    pub callback: CallbackId,
    /// The agent whose phone rings first.
    pub agent: String,
    /// The customer's number, dialed once the agent answers.
    pub number: String,
    /// How long the agent's phone may ring.
    pub ring: Duration,
}

/// How far a placed callback call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The agent's phone rings.
    Agent,
    /// The agent answered; the customer is being dialed.
    Customer,
    /// The customer answered.
    Connected,
}

/// A placed callback call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    offer: OfferId,
    callback: CallbackId,
    stage: Stage,
}

impl AcdHost {
    /// Puts the callback requests stored before a restart back in their
    /// queues (at the places their entry times give them); requests of
    /// queues no longer configured are logged and dropped.
    pub fn restore_callbacks(&mut self, now: acd::Now, requests: Vec<acd::CallbackRequest>) {
        let n = requests.len();
        for r in self.acd.restore_callbacks(now, requests) {
            tracing::warn!(callback = r.id.0, queue = %r.queue, number = %r.number, "callback request of a queue no longer configured dropped");
        }
        if n > 0 {
            tracing::info!(callbacks = n, "callback requests restored");
        }
        self.drain_actions(now);
    }

    /// The next callback call to place (the driver originates it and
    /// reports with [`AcdHost::callback_placed`]).
    pub fn poll_callback_call(&mut self) -> Option<CallbackCall> {
        self.to_place.pop_front()
    }

    /// The next call to hang up (a callback whose agent offer the ACD
    /// withdrew).
    pub fn poll_hangup(&mut self) -> Option<CallId> {
        self.to_hang_up.pop_front()
    }

    /// The outcome of placing `cb`: the call's id, or why it could not be
    /// placed (the agent's offer then fails, and the ACD moves on).
    pub fn callback_placed(
        &mut self,
        now: acd::Now,
        cb: CallbackCall,
        result: Result<CallId, String>,
    ) {
        match result {
            Ok(call) => {
                tracing::info!(%call, agent = %cb.agent, number = %cb.number, "callback placed");
                self.placed.insert(
                    call,
                    Placed {
                        offer: cb.offer,
                        callback: cb.callback,
                        stage: Stage::Agent,
                    },
                );
            }
            Err(why) => {
                tracing::info!(agent = %cb.agent, number = %cb.number, %why, "callback not placed");
                if let Err(e) =
                    self.acd
                        .handle_offer_failed(now, cb.offer, OfferFailure::Unreachable)
                {
                    tracing::debug!(error = %e, "callback offer failure not taken");
                }
            }
        }
        self.drain_actions(now);
    }

    /// A placed call's `call.dialing`: its agent answered.
    pub fn note_dialing(&mut self, now: acd::Now, call: CallId) {
        let Some(p) = self.placed.get_mut(&call) else {
            return;
        };
        if p.stage != Stage::Agent {
            return;
        }
        p.stage = Stage::Customer;
        let offer = p.offer;
        if let Err(e) = self.acd.handle_offer_answered(now, offer) {
            tracing::debug!(%call, error = %e, "callback: the agent's answer came late");
            self.to_hang_up.push_back(call);
        }
        self.drain_actions(now);
    }

    /// A placed call's `call.answered`: the customer answered.
    pub fn note_answered(&mut self, now: acd::Now, call: CallId) {
        let Some(p) = self.placed.get_mut(&call) else {
            return;
        };
        if p.stage != Stage::Customer {
            return;
        }
        p.stage = Stage::Connected;
        let callback = p.callback;
        if let Err(e) = self
            .acd
            .handle_callback_answered(now, callback, acd::CallId(call.0))
        {
            tracing::debug!(%call, error = %e, "callback answer not taken");
        }
        self.drain_actions(now);
    }

    /// The end of a placed call; false when `call` is no callback call.
    pub(super) fn callback_ended(&mut self, now: acd::Now, call: CallId) -> bool {
        let Some(p) = self.placed.remove(&call) else {
            return false;
        };
        let result = match p.stage {
            Stage::Agent => self
                .acd
                .handle_offer_failed(now, p.offer, OfferFailure::NoAnswer),
            Stage::Customer => self.acd.handle_callback_failed(now, p.callback),
            Stage::Connected => {
                self.acd.handle_hangup(now, acd::CallId(call.0));
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!(%call, error = %e, "callback end not taken");
        }
        true
    }

    /// Whether `call` is a placed callback call.
    pub(super) fn is_callback_call(&self, call: CallId) -> bool {
        self.placed.contains_key(&call)
    }

    /// The ACD withdrew `offer`: a callback call still ringing its agent
    /// is hung up. True when the offer was a callback's.
    pub(super) fn callback_offer_withdrawn(&mut self, offer: OfferId) -> bool {
        let Some((&call, p)) = self.placed.iter().find(|(_, p)| p.offer == offer) else {
            return false;
        };
        if p.stage == Stage::Agent {
            self.to_hang_up.push_back(call);
        }
        true
    }

    /// Whether callback `callback` has a call placed already (the ACD's
    /// `CallbackCallCustomer` is then what that call does by itself).
    pub(super) fn callback_in_progress(&self, callback: CallbackId) -> bool {
        self.placed.values().any(|p| p.callback == callback)
    }
}
