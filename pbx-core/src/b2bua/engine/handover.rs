//! A call handed from one application to another: a blind transfer (REFER)
//! or an IVR transfer node whose number is an IVR flow, a conference room or
//! a trunk route. The call keeps its id, caller leg, relay session and
//! record; the old application gets [`LegEvent::HandedOver`] to release its
//! legs, then the new one gets [`LegEvent::Incoming`] as if the caller had
//! just called it. One record covers the whole call (its `Transferred`
//! event says where it went).

use std::time::Instant;

use super::{Engine, Services};
use crate::b2bua::app::{Application, LegEvent, LegState};
use crate::b2bua::{CallId, LegId};

impl Engine {
    /// `Action::DialNumber` routed to an application: hand the call over
    /// once the current application has released it. A caller not answered
    /// yet (nothing to hand over), or a second handover before the first
    /// settled, fails the dial with 501 as before.
    pub(super) fn hand_over(&mut self, id: CallId, app: Box<dyn Application>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let caller_answered = entry
            .leg(LegId::CALLER)
            .is_some_and(|l| l.state == LegState::Answered);
        if !caller_answered || entry.successor.is_some() {
            tracing::info!(call = %id, app = app.name(), "transfer to an application refused");
            let leg = LegId(entry.next_leg);
            entry.next_leg += 1;
            self.pending.push_back((id, LegEvent::Failed(leg, 501)));
            return;
        }
        entry.successor = Some(app);
        self.pending.push_back((id, LegEvent::HandedOver));
    }

    /// After the old application handled `HandedOver`: end what it left,
    /// install the successor and start it on the caller's leg.
    pub(super) fn take_over(&mut self, now: Instant, id: CallId, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(app) = entry.successor.take() else {
            return;
        };
        let caller_live = entry
            .leg(LegId::CALLER)
            .is_some_and(|l| l.state != LegState::Ended);
        if !caller_live || entry.call.state() == crate::b2bua::call::CallState::Ended {
            return;
        }
        for leg in entry
            .legs
            .iter_mut()
            .filter(|l| l.id != LegId::CALLER && l.state != LegState::Ended)
        {
            if leg.state != LegState::Answered && leg.status == 0 {
                leg.status = 487;
            }
            leg.state = LegState::Ended;
            if let Err(e) = self.ua.hangup(now, leg.session) {
                tracing::debug!(call = %id, leg = %leg.id, error = %e, "leg not ended");
            }
        }
        if let Some(caller) = entry.leg_mut(LegId::CALLER) {
            if let (Some(ep), Some(eps)) = (caller.endpoint.take(), svc.endpoints) {
                eps.close(ep);
            }
        }
        tracing::info!(call = %id, from = entry.app.name(), to = app.name(), "call handed over");
        entry.app = app;
        let offer = entry.caller_offer.clone();
        self.pending.push_back((id, LegEvent::Incoming { offer }));
    }
}
