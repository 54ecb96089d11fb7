//! Attended transfer into an application (RFC 5589 §7 with one call owned
//! by an IVR flow or a conference room instead of a bridge).
//!
//! A talks to B in a bridged call, holds B and calls an IVR or conference
//! number (the application answers A with pbx's media), then transfers B
//! into it: a REFER with `Replaces` on either of A's dialogs naming the
//! other. B's leg is handed to the application in place of A's caller leg,
//! as `LegEvent::HandedOver` does for blind transfers — but here the
//! application keeps running (the flow where A left it, the room A joined):
//! B's leg takes the caller's [`LegId::CALLER`] in the application's call,
//! so the application sees the same leg, now B. A's leg there is renamed,
//! ended and kept for the record; A gets NOTIFY 200 and both of A's dialogs
//! end; the bridged call ends with cause `Transferred`.
//!
//! Media: B's last SDP, `sendrecv`, goes through the application call's
//! relay (B now stands on the side A used) to the pbx endpoint, whose answer
//! is offered to B in a re-INVITE (which also takes B off hold); B's answer
//! completes the relay as for any re-INVITE answer.
//!
//! Refused: with 491 while B's phone has not answered a music-on-hold
//! offer (B cannot be re-INVITEd yet; the phone may try again); with 501
//! when both calls are owned by applications (no party to move), when A is
//! not the application's caller (an agent leg of a queue, an IVR transfer
//! leg), when the application's call has other legs or no pbx media on A's
//! leg (an IVR transfer ringing or bridged, a trunk route), or while a
//! handover or a join is in progress in either call.
//!
//! The call keeps its record (caller A, the `Transferred` event naming B)
//! and its presented identity: legs the application places later (an IVR
//! transfer node) still show A's From, as for a blind transfer.

use std::time::Instant;

use sip_stack::message::StatusCode;
use sip_stack::ua::Body;

use super::xfer::side;
use super::{CallEntry, Engine, Services};
use crate::b2bua::app::LegState;
use crate::b2bua::call::{CallInput, HangupCause};
use crate::b2bua::sdp::with_direction;
use crate::b2bua::{CallId, LegId};

/// Who is who when a bridged party is transferred into an application.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppPlan {
    /// The call the application owns; A is its caller.
    app_call: CallId,
    /// The bridged call between A and B.
    bridged: CallId,
    /// A's leg in the bridged call.
    transferor: LegId,
    /// B's leg in the bridged call: the party handed to the application.
    party: LegId,
}

fn is_bridge(c: &CallEntry) -> bool {
    c.app.name() == "bridge"
}

impl Engine {
    /// The plan for a REFER on `leg` of call `id` whose `Replaces` names
    /// `replaced` of call `consult`, one of the two calls owned by an
    /// application; else the status for the NOTIFY (see the module docs).
    pub(super) fn plan_app_join(
        &self,
        (id, leg): (CallId, LegId),
        (consult, replaced): (CallId, LegId),
    ) -> Result<AppPlan, u16> {
        let (Some(c1), Some(c2)) = (self.calls.get(&id), self.calls.get(&consult)) else {
            return Err(481);
        };
        let (app_call, a_app, bridged, transferor) = match (is_bridge(c1), is_bridge(c2)) {
            (true, false) => (consult, replaced, id, leg),
            (false, true) => (id, leg, consult, replaced),
            // Two bridges join in xfer.rs; two applications have no party.
            _ => return Err(501),
        };
        let (Some(app), Some(bridge)) = (self.calls.get(&app_call), self.calls.get(&bridged))
        else {
            return Err(481);
        };
        let own_media = app
            .leg(a_app)
            .is_some_and(|l| l.state == LegState::Answered && l.endpoint.is_some());
        let other_legs = app
            .legs
            .iter()
            .any(|l| l.id != LegId::CALLER && l.state != LegState::Ended);
        if a_app != LegId::CALLER || !own_media || other_legs {
            return Err(501);
        }
        if app.successor.is_some() || app.join.is_some() || bridge.join.is_some() {
            return Err(501);
        }
        if bridge
            .leg(transferor)
            .is_none_or(|l| l.state != LegState::Answered)
        {
            return Err(481);
        }
        let party = super::xfer::sole_other(bridge, transferor)?;
        // B's phone has not answered the music offer yet: B cannot be
        // re-INVITEd before it does (RFC 3261 §14.1).
        if bridge.moh.as_ref().is_some_and(|m| !m.is_answered()) {
            return Err(491);
        }
        let music = bridge.moh.as_ref().map(|m| m.ep);
        let Some(p) = bridge.leg(party) else {
            return Err(481);
        };
        if p.endpoint.is_some() && p.endpoint != music {
            return Err(501);
        }
        if p.remote_sdp.is_none() {
            return Err(488);
        }
        Ok(AppPlan {
            app_call,
            bridged,
            transferor,
            party,
        })
    }

    /// Carries out `plan` for the REFER that came on `refer_leg` of call
    /// `refer_call`: B replaces A as the application's caller.
    pub(super) fn join_app(
        &mut self,
        now: Instant,
        (refer_call, refer_leg): (CallId, LegId),
        plan: AppPlan,
        svc: Services<'_>,
    ) {
        // B may be hearing music on hold.
        self.stop_music(plan.bridged, svc);
        let Some(refer_session) = self
            .calls
            .get(&refer_call)
            .and_then(|c| c.leg(refer_leg))
            .map(|l| l.session)
        else {
            return;
        };
        // The bridged call: B leaves (a copy stays for the record), A ends.
        let Some(c1) = self.calls.get_mut(&plan.bridged) else {
            return;
        };
        let Some(mut moved) = c1.leg(plan.party).cloned() else {
            return;
        };
        if let Some(l) = c1.leg_mut(plan.party) {
            l.state = LegState::Ended;
        }
        let Some(a) = c1.leg_mut(plan.transferor) else {
            return;
        };
        a.state = LegState::Ended;
        let (a_bridged, a_side) = (a.session, a.caller_side);
        let cause = CallInput::Hangup(HangupCause::Transferred, side(a_side));
        if let Err(e) = c1.call.handle_input(now, cause) {
            tracing::debug!(error = %e, "bridged call not ended");
        }
        // The application's call: A's leg steps aside under a new id, B
        // takes the caller's id, side and media endpoint.
        let Some(c2) = self.calls.get_mut(&plan.app_call) else {
            return;
        };
        let renamed = LegId(c2.next_leg);
        c2.next_leg += 1;
        let Some(a) = c2.leg_mut(LegId::CALLER) else {
            return;
        };
        a.id = renamed;
        a.state = LegState::Ended;
        let a_app = a.session;
        moved.id = LegId::CALLER;
        moved.caller_side = true;
        moved.endpoint = a.endpoint.take();
        let (b_session, to) = (moved.session, moved.party.clone());
        let b_sdp = moved.remote_sdp.clone();
        c2.legs.push(moved);
        if let Err(e) = c2.call.handle_input(now, CallInput::Transferred(to)) {
            tracing::debug!(error = %e, "transfer not recorded");
        }
        self.sessions.insert(a_app, (plan.app_call, renamed));
        self.sessions
            .insert(b_session, (plan.app_call, LegId::CALLER));
        tracing::info!(call = %plan.app_call, bridged = %plan.bridged, "attended transfer: party handed to the application");

        // RFC 5589 §7: the transfer succeeded; the transferor's dialogs end.
        for r in [
            self.ua.notify_transfer(now, refer_session, StatusCode::OK),
            self.ua.hangup(now, a_bridged),
            self.ua.hangup(now, a_app),
        ] {
            if let Err(e) = r {
                tracing::debug!(call = %plan.app_call, error = %e, "transferor not released");
            }
        }
        if let Some(sdp) = b_sdp {
            let offer = Body {
                content_type: sdp.content_type.clone(),
                data: with_direction(&sdp.data, "sendrecv").into(),
            };
            let seen = self.offer_endpoint_to(now, plan.app_call, LegId::CALLER, offer, svc);
            // What a later transfer of the application (an IVR transfer
            // node, a handover) offers to its new party: B's media now.
            if let (Some(c2), Some(seen)) = (self.calls.get_mut(&plan.app_call), seen) {
                c2.caller_offer = Some(seen);
            }
        }
        self.after_call(now, plan.bridged, svc);
        self.after_call(now, plan.app_call, svc);
    }
}
