//! Live-call control for the API (`POST /api/v1/calls/{id}/hold`,
//! `/unhold`, `/transfer`): pbx acts for the agent of an answered call.
//!
//! - **Hold**: as when the agent's phone holds (`moh.rs`), the caller is
//!   re-INVITEd to a media endpoint looping the music on hold and the relay
//!   stops forwarding to it; nothing is asked of the agent's phone (its
//!   media reaches the parked relay and goes nowhere). Needs `[calls]
//!   music_on_hold` and the media relay.
//! - **Unhold**: the music stops and the caller is re-INVITEd back to the
//!   relay with the agent's media description; its answer re-anchors it.
//! - **Transfer** (blind): the call's application gets the transfer a
//!   REFER from the agent would give (`call.transferred`, then the target
//!   is dialed; the agent leaves once it answers, a failure keeps the
//!   agent on the call), without the REFER's NOTIFYs.

use std::time::Instant;

use sip_stack::ua::Body;

use super::{Engine, Services};
use crate::b2bua::app::{LegEvent, LegState};
use crate::b2bua::call::{CallInput, CallState, Side};
use crate::b2bua::sdp::is_hold;
use crate::b2bua::{CallId, CommandError, LegId};

impl Engine {
    /// The agent leg of answered call `id`: the one answered leg facing the
    /// caller; Err says why the call has none.
    fn agent_leg(&self, id: CallId) -> Result<LegId, CommandError> {
        let entry = self.calls.get(&id).ok_or(CommandError::NoSuchCall(id))?;
        let refuse = |why: &str| Err(CommandError::Refused(id, why.to_owned()));
        if entry.call.state() != CallState::Answered {
            return refuse("not answered yet");
        }
        if entry.originated {
            return refuse("pbx placed this call; its agent is the caller");
        }
        if entry.join.is_some() {
            return refuse("an attended transfer is joining it");
        }
        // The applications whose answered calls are a bridge (a conference
        // room or a feature code has no agent leg to act for).
        if !["bridge", "queue", "ivr", "trunk"].contains(&entry.app.name()) {
            return refuse("it is not a two-party call");
        }
        match super::xfer::sole_other(entry, LegId::CALLER) {
            Ok(leg) => Ok(leg),
            Err(_) => refuse("it has no single answered agent leg"),
        }
    }

    pub(super) fn api_hold(
        &mut self,
        now: Instant,
        id: CallId,
        svc: Services<'_>,
    ) -> Result<usize, CommandError> {
        let agent = self.agent_leg(id)?;
        let refuse = |why: &str| Err(CommandError::Refused(id, why.to_owned()));
        if self.config.music_on_hold.is_none() || svc.endpoints.is_none() {
            return refuse("holding needs `[calls] music_on_hold` and the media relay");
        }
        let entry = self.calls.get(&id).ok_or(CommandError::NoSuchCall(id))?;
        if entry.moh.is_some() {
            return refuse("already on hold");
        }
        if entry
            .leg(LegId::CALLER)
            .is_none_or(|l| l.state != LegState::Answered)
        {
            return refuse("the caller is not connected");
        }
        if !self.start_music(now, id, agent, LegId::CALLER, false, false, svc) {
            return refuse("the caller could not be put on hold now (a re-INVITE in progress?)");
        }
        tracing::info!(call = %id, "caller held through the API");
        Ok(1)
    }

    pub(super) fn api_unhold(
        &mut self,
        now: Instant,
        id: CallId,
        svc: Services<'_>,
    ) -> Result<usize, CommandError> {
        let refuse = |why: &str| Err(CommandError::Refused(id, why.to_owned()));
        let entry = self.calls.get(&id).ok_or(CommandError::NoSuchCall(id))?;
        let Some(m) = entry.moh.as_ref() else {
            return refuse("not on hold");
        };
        if !m.is_answered() {
            return refuse("the hold is still being set up; try again in a moment");
        }
        let (holder, held) = (m.holder, m.held);
        let (Some(h), Some(p)) = (entry.leg(holder), entry.leg(held)) else {
            return refuse("a party of the hold is gone");
        };
        let (Some(holder_sdp), held_session) = (h.remote_sdp.clone(), p.session) else {
            return refuse("no media description of the agent to offer");
        };
        if is_hold(&holder_sdp.data) {
            return refuse("the agent's phone holds the call: resume it on the phone");
        }
        let holder_side = h.caller_side;
        let Some(eps) = svc.endpoints else {
            return refuse("no media endpoints");
        };
        let _ = self.end_music(id, eps);
        // The relay's side toward the held party, with the agent's codecs.
        let offer = self.rewrite_offer(id, holder, holder_sdp, svc);
        let offer = Body {
            content_type: offer.content_type,
            data: offer.data,
        };
        if let Err(e) = self.ua.reinvite(now, held_session, Some(offer)) {
            tracing::warn!(call = %id, error = %e, "held party not re-invited back");
            return refuse("the caller could not be re-invited");
        }
        if let Some(entry) = self.calls.get_mut(&id) {
            let side = if holder_side {
                Side::Caller
            } else {
                Side::Callee
            };
            if let Err(e) = entry.call.handle_input(now, CallInput::Resume(side)) {
                tracing::debug!(error = %e, "resume not recorded");
            }
        }
        self.after_call(now, id, svc);
        tracing::info!(call = %id, "caller taken off hold through the API");
        Ok(1)
    }

    pub(super) fn api_transfer(&mut self, id: CallId, to: String) -> Result<usize, CommandError> {
        let agent = self.agent_leg(id)?;
        let entry = self
            .calls
            .get_mut(&id)
            .ok_or(CommandError::NoSuchCall(id))?;
        if entry.moh.is_some() {
            return Err(CommandError::Refused(
                id,
                "the caller is on hold: unhold it first".into(),
            ));
        }
        if entry.api_transferor.is_some() {
            return Err(CommandError::Refused(
                id,
                "a transfer is in progress".into(),
            ));
        }
        entry.api_transferor = Some(agent);
        tracing::info!(call = %id, to = %to, "blind transfer through the API");
        self.pending
            .push_back((id, LegEvent::TransferRequested(agent, to)));
        Ok(1)
    }
}
