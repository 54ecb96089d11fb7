//! Attended transfer across calls (REFER whose Refer-To carries
//! `?Replaces=`, RFC 3891 §3 and RFC 5589 §7).
//!
//! A talks to B in call 1, holds B and consults C in call 2, then REFERs
//! call 1's dialog to call 2's dialog with pbx. pbx finds call 2 by that
//! dialog (the UA's `Replaces` matching), moves C's leg into call 1 in place
//! of A's leg (C takes over A's side of call 1's relay), ends call 2 with
//! cause `Transferred`, answers A with NOTIFY 200 (sipfrag) and hangs up
//! both of A's dialogs. Media: C is re-INVITEd with B's last SDP turned
//! `sendrecv` (offered from the relay side A used); C's answer, rewritten
//! for B, is offered to B in a re-INVITE that takes B off hold. Call 2's
//! relay session is released with the call.

use std::time::Instant;

use sip_stack::message::StatusCode;
use sip_stack::ua::{Body, SessionId};

use super::{CallEntry, Engine, Services};
use crate::b2bua::app::{LegEvent, LegState};
use crate::b2bua::call::{CallInput, HangupCause, Side};
use crate::b2bua::sdp::with_direction;
use crate::b2bua::{CallId, LegId};

/// The re-INVITEs of a join in progress (in the call that took the leg).
#[derive(Debug, Clone, Copy)]
pub(super) struct Join {
    /// The leg taken over from the other call (C).
    target: LegId,
    /// The party that stays (B), re-INVITEd once the target answered.
    transferee: LegId,
    /// Still waiting for the target's answer (else for the transferee's).
    awaiting_target: bool,
}

/// Who is who in an attended transfer asked on call 1.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// The consultation call (call 2).
    consult: CallId,
    /// The transferor's leg in call 2 (named by `Replaces`).
    replaced: LegId,
    /// The transferee in call 1 (B).
    transferee: LegId,
    /// The target in call 2 (C).
    target: LegId,
}

/// How the calls of an attended transfer come together.
#[derive(Debug, Clone, Copy)]
pub(super) enum Joining {
    /// Two bridged calls: the target's leg moves into the REFER's call.
    Legs(Plan),
    /// One call owned by an application: the bridged party moves into it.
    App(super::xfer_app::AppPlan),
}

/// The side of the call a leg stands on.
pub(super) fn side(caller_side: bool) -> Side {
    if caller_side {
        Side::Caller
    } else {
        Side::Callee
    }
}

/// The one live leg of `entry` besides `leg`, answered; else 501.
pub(super) fn sole_other(entry: &CallEntry, leg: LegId) -> Result<LegId, u16> {
    let mut others = entry
        .legs
        .iter()
        .filter(|l| l.id != leg && l.state != LegState::Ended);
    match (others.next(), others.next()) {
        (Some(l), None) if l.state == LegState::Answered => Ok(l.id),
        _ => Err(501),
    }
}

impl Engine {
    /// A REFER with `Replaces` on `leg` of call `id` (already answered 202
    /// by the UA): join the calls, or NOTIFY the failure (481 no such
    /// dialog, 501 calls that cannot be joined, 488 no SDP to offer, 491 a
    /// music-on-hold offer still unanswered). One of
    /// the calls may be owned by an IVR flow or a conference room
    /// (`xfer_app.rs`).
    pub(super) fn attended_transfer(
        &mut self,
        now: Instant,
        id: CallId,
        leg: LegId,
        replaced: Result<SessionId, StatusCode>,
        svc: Services<'_>,
    ) {
        match self.plan_join(id, leg, replaced) {
            Ok(Joining::Legs(plan)) => self.join(now, id, leg, plan, svc),
            Ok(Joining::App(plan)) => self.join_app(now, (id, leg), plan, svc),
            Err(status) => {
                tracing::info!(call = %id, leg = %leg, status, "attended transfer refused");
                let session = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.leg(leg))
                    .map(|l| l.session);
                if let Some(s) = session {
                    if let Err(e) = self.ua.notify_transfer(now, s, StatusCode(status)) {
                        tracing::debug!(call = %id, error = %e, "transfer failure not notified");
                    }
                }
            }
        }
    }

    fn plan_join(
        &self,
        id: CallId,
        leg: LegId,
        replaced: Result<SessionId, StatusCode>,
    ) -> Result<Joining, u16> {
        let session = replaced.map_err(|s| s.0)?;
        let &(consult, replaced) = self.sessions.get(&session).ok_or(481u16)?;
        let (Some(c1), Some(c2)) = (self.calls.get(&id), self.calls.get(&consult)) else {
            return Err(481);
        };
        // Replaces naming a dialog of the same call.
        if consult == id {
            return Err(501);
        }
        // A call owned by an application (IVR, room): see xfer_app.rs.
        if c1.app.name() != "bridge" || c2.app.name() != "bridge" {
            return self
                .plan_app_join((id, leg), (consult, replaced))
                .map(Joining::App);
        }
        // pbx media on a leg (IVR, room) other than music on hold.
        let music = |c: &CallEntry| c.moh.as_ref().map(|m| m.ep);
        let busy = |c: &CallEntry| {
            c.legs
                .iter()
                .any(|l| l.endpoint.is_some() && l.endpoint != music(c))
        };
        if busy(c1) || busy(c2) {
            return Err(501);
        }
        // A held party whose phone has not answered the music offer yet
        // cannot be re-INVITEd before it does (RFC 3261 §14.1).
        let music_pending = |c: &CallEntry| c.moh.as_ref().is_some_and(|m| !m.is_answered());
        if music_pending(c1) || music_pending(c2) {
            return Err(491);
        }
        if c1.leg(leg).is_none_or(|l| l.state != LegState::Answered) {
            return Err(481);
        }
        let transferee = sole_other(c1, leg)?;
        let target = sole_other(c2, replaced)?;
        if c1.leg(transferee).is_none_or(|l| l.remote_sdp.is_none()) {
            return Err(488);
        }
        Ok(Joining::Legs(Plan {
            consult,
            replaced,
            transferee,
            target,
        }))
    }

    /// Moves the target's leg into call `id` in place of `from`, ends the
    /// consultation call, hangs up the transferor and starts the re-INVITEs.
    fn join(&mut self, now: Instant, id: CallId, from: LegId, plan: Plan, svc: Services<'_>) {
        // The transferee (or the target) may be hearing music on hold.
        self.stop_music(id, svc);
        self.stop_music(plan.consult, svc);
        let Some(c2) = self.calls.get_mut(&plan.consult) else {
            return;
        };
        let Some(mut moved) = c2.leg(plan.target).cloned() else {
            return;
        };
        // A copy of the target's leg stays in call 2 for its record.
        if let Some(l) = c2.leg_mut(plan.target) {
            l.state = LegState::Ended;
        }
        let mut replaced_session = None;
        if let Some(l) = c2.leg_mut(plan.replaced) {
            l.state = LegState::Ended;
            replaced_session = Some(l.session);
            let cause = CallInput::Hangup(HangupCause::Transferred, side(l.caller_side));
            if let Err(e) = c2.call.handle_input(now, cause) {
                tracing::debug!(error = %e, "consultation call not ended");
            }
        }
        let Some(c1) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(transferor) = c1.leg_mut(from) else {
            return;
        };
        transferor.state = LegState::Ended;
        let (from_session, from_side) = (transferor.session, transferor.caller_side);
        let new = LegId(c1.next_leg);
        c1.next_leg += 1;
        moved.id = new;
        moved.caller_side = from_side;
        let target_session = moved.session;
        let to = moved.party.clone();
        c1.legs.push(moved);
        let b_sdp = c1.leg(plan.transferee).and_then(|l| l.remote_sdp.clone());
        let (a, b) = if from_side {
            (new, plan.transferee)
        } else {
            (plan.transferee, new)
        };
        for input in [
            CallInput::Transferred(to),
            CallInput::Bridged(a, b),
            CallInput::Resume(side(from_side)),
        ] {
            if let Err(e) = c1.call.handle_input(now, input) {
                tracing::debug!(error = %e, "call input ignored");
            }
        }
        c1.join = Some(Join {
            target: new,
            transferee: plan.transferee,
            awaiting_target: true,
        });
        self.sessions.insert(target_session, (id, new));
        tracing::info!(call = %id, consult = %plan.consult, leg = %new, "attended transfer: legs joined");

        // RFC 5589 §7: the transfer succeeded; the transferor's dialogs end.
        let mut sip = vec![
            self.ua.notify_transfer(now, from_session, StatusCode::OK),
            self.ua.hangup(now, from_session),
        ];
        if let Some(s) = replaced_session {
            sip.push(self.ua.hangup(now, s));
        }
        for r in sip {
            if let Err(e) = r {
                tracing::debug!(call = %id, error = %e, "transferor not released");
            }
        }
        // Media: offer the target what the transferee sent, sendrecv.
        if let Some(sdp) = b_sdp {
            let body = Body {
                content_type: sdp.content_type.clone(),
                data: with_direction(&sdp.data, "sendrecv").into(),
            };
            let offer = self.rewrite(id, plan.transferee, body, svc);
            if let Err(e) = self.ua.reinvite(now, target_session, Some(offer)) {
                tracing::warn!(call = %id, error = %e, "transfer target not re-invited");
                self.set_join(id, None);
            }
        }
        self.pending
            .push_back((id, LegEvent::Replaced { old: from, new }));
        self.after_call(now, plan.consult, svc);
    }

    fn set_join(&mut self, id: CallId, join: Option<Join>) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.join = join;
        }
    }

    /// A re-INVITE answer during a join (body already rewritten for the
    /// other side): the target's answer is offered to the transferee; the
    /// transferee's answer ends the join. Returns whether it was the join's.
    pub(super) fn join_answered(
        &mut self,
        now: Instant,
        id: CallId,
        leg: LegId,
        body: Option<&Body>,
    ) -> bool {
        let Some(entry) = self.calls.get_mut(&id) else {
            return false;
        };
        let Some(join) = entry.join else {
            return false;
        };
        if join.awaiting_target && leg == join.target {
            let session = entry
                .leg(join.transferee)
                .filter(|l| l.state != LegState::Ended)
                .map(|l| l.session);
            entry.join = None;
            if let (Some(s), Some(body)) = (session, body) {
                match self.ua.reinvite(now, s, Some(body.clone())) {
                    Ok(()) => {
                        entry.join = Some(Join {
                            awaiting_target: false,
                            ..join
                        });
                    }
                    Err(e) => tracing::warn!(call = %id, error = %e, "transferee not re-invited"),
                }
            }
            true
        } else if !join.awaiting_target && leg == join.transferee {
            entry.join = None;
            tracing::debug!(call = %id, "attended transfer: media joined");
            true
        } else {
            false
        }
    }

    /// A re-INVITE of a join failed: the parties keep their media as it is
    /// (logged). Returns whether it was the join's.
    pub(super) fn join_failed(&mut self, id: CallId, leg: LegId, status: u16) -> bool {
        let Some(entry) = self.calls.get_mut(&id) else {
            return false;
        };
        match entry.join {
            Some(j) if leg == j.target || leg == j.transferee => {
                tracing::warn!(call = %id, leg = %leg, status, "attended transfer re-INVITE failed");
                entry.join = None;
                true
            }
            _ => false,
        }
    }
}
