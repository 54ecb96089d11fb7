//! Music on hold (`EngineConfig::music_on_hold`): when a party of a bridged
//! call holds (re-INVITE with `sendonly` / `inactive`, RFC 3264 §8.4), pbx
//! answers the holder itself (`recvonly` / `inactive`, pointing at the
//! relay, whose side toward the held party is parked so it forwards
//! nothing), and re-INVITEs the held party to a pbx media endpoint that
//! offers `sendonly` and loops the WAV once answered. On resume (the holder's
//! next non-hold offer) the endpoint is closed and the bridge relays the
//! offer to the held party as usual, which moves it back to the relay.
//!
//! A resume that arrives while the held party has not answered the music
//! offer yet cannot be relayed at once: the held party's dialog has a
//! re-INVITE in progress, and a second one would have to wait anyway
//! (RFC 3261 §14.1). 491 to the holder is not what §14.1 asks for here (the
//! pending INVITE is on the other dialog, not the holder's) and would leave
//! the resume to the phone's retry timer, so pbx queues it instead: the
//! holder's re-INVITE stays open until the music offer completes (answered
//! or refused), then the music ends and the resume goes to the bridge as if
//! it had just arrived, which re-INVITEs the held party back to the relay
//! and answers the holder with the held party's answer.
//!
//! Without the setting (or without media endpoints) holds pass through.

use std::time::Instant;

use media::sdp::Direction;
use sip_stack::ua::Body;

use super::media_actions::MediaLeg;
use super::{Engine, Services};
use crate::b2bua::app::{LegEvent, LegState};
use crate::b2bua::call::{CallInput, CallState, Side};
use crate::b2bua::sdp::{is_hold, parked, with_direction};
use crate::b2bua::{CallId, LegId};

/// The play id of the music (echoed in nothing: a looping play never ends).
const MUSIC_PLAY: u64 = u64::MAX;

/// Music playing to the held party of a call.
#[derive(Debug, Clone)]
pub(super) struct Moh {
    /// The leg that holds.
    pub(super) holder: LegId,
    /// The leg that hears the music.
    pub(super) held: LegId,
    /// The endpoint playing it.
    pub(super) ep: media::endpoint::EndpointId,
    /// The held party answered the endpoint's offer.
    answered: bool,
    /// pbx's answer to the holder (sent again for a repeated hold).
    answer: Body,
    /// The holder's resume offer (rewritten), queued while the music offer
    /// is unanswered; relayed once it completes.
    resume: Option<Body>,
}

impl Moh {
    /// The held party answered the music offer (no re-INVITE of ours is in
    /// progress on its dialog).
    pub(super) fn is_answered(&self) -> bool {
        self.answered
    }
}

impl Engine {
    /// A re-offer `body` (rewritten) from `leg`: a hold is answered here and
    /// the music started; a resume by the holder stops the music (the
    /// bridge then relays the offer). Returns true when the offer was
    /// answered here.
    pub(super) fn hold_with_music(
        &mut self,
        now: Instant,
        id: CallId,
        leg: LegId,
        body: Option<&Body>,
        svc: Services<'_>,
    ) -> bool {
        let (Some(eps), Some(body)) = (svc.endpoints, body) else {
            return false;
        };
        if self.config.music_on_hold.is_none() {
            return false;
        }
        let Some(entry) = self.calls.get_mut(&id) else {
            return false;
        };
        let holding = is_hold(&body.data);
        if let Some(m) = entry.moh.as_mut().filter(|m| m.holder == leg && !holding) {
            if !m.answered {
                // The music offer is still in progress: see the module docs.
                tracing::debug!(call = %id, "resume queued behind the music offer");
                m.resume = Some(body.clone());
                return true;
            }
            // Resume: the held party goes back to the relay.
            let _ = self.end_music(id, eps);
            return false;
        }
        if let Some(m) = entry.moh.as_ref().filter(|m| m.holder == leg) {
            let answer = m.answer.clone();
            if let Some(l) = entry.leg(leg) {
                if let Err(e) = self.ua.answer(now, l.session, Some(answer)) {
                    tracing::debug!(call = %id, error = %e, "hold not answered");
                }
            }
            return true;
        }
        if !holding || entry.moh.is_some() || entry.join.is_some() {
            return false;
        }
        if entry.app.name() != "bridge" || entry.call.state() != CallState::Answered {
            return false;
        }
        let Some(held) = super::xfer::sole_other(entry, leg).ok() else {
            return false;
        };
        let inactive = String::from_utf8_lossy(&body.data)
            .lines()
            .any(|l| l.trim() == "a=inactive");
        self.start_music(now, id, leg, held, inactive, true, svc)
    }

    /// Re-INVITEs `held` to the music and parks the relay toward it; with
    /// `answer_holder`, answers the holder's hold offer (an API hold has
    /// none: pbx holds for the agent).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_music(
        &mut self,
        now: Instant,
        id: CallId,
        holder: LegId,
        held: LegId,
        inactive: bool,
        answer_holder: bool,
        svc: Services<'_>,
    ) -> bool {
        let Some(eps) = svc.endpoints else {
            return false;
        };
        let Some(entry) = self.calls.get(&id) else {
            return false;
        };
        let (Some(h), Some(p)) = (entry.leg(holder), entry.leg(held)) else {
            return false;
        };
        if h.endpoint.is_some() || p.endpoint.is_some() || p.state != LegState::Answered {
            return false;
        }
        let (holder_session, holder_side, held_session) = (h.session, h.caller_side, p.session);
        let Some(held_sdp) = p.remote_sdp.clone() else {
            return false;
        };
        let (ep, offer) = match eps.open_offer(Direction::SendOnly) {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(call = %id, error = %e, "no music on hold: holds pass through");
                return false;
            }
        };
        if let Err(e) = self.ua.reinvite(now, held_session, Some(Body::sdp(offer))) {
            tracing::info!(call = %id, error = %e, "held party not re-invited to music");
            eps.close(ep);
            return false;
        }
        // The relay forwards nothing to the held party meanwhile; the
        // holder gets the relay's side with the held party's codecs.
        let parked_sdp = Body {
            content_type: held_sdp.content_type.clone(),
            data: parked(&held_sdp.data).into(),
        };
        let answer = self.rewrite(id, held, parked_sdp, svc);
        let direction = if inactive { "inactive" } else { "recvonly" };
        let answer = Body {
            content_type: answer.content_type,
            data: with_direction(&answer.data, direction).into(),
        };
        if answer_holder {
            if let Err(e) = self.ua.answer(now, holder_session, Some(answer.clone())) {
                tracing::debug!(call = %id, error = %e, "hold not answered");
            }
        }
        self.endpoints.insert(ep, MediaLeg::new(id, held));
        let Some(entry) = self.calls.get_mut(&id) else {
            return true;
        };
        if let Some(l) = entry.leg_mut(held) {
            l.endpoint = Some(ep);
            // What the party really sent (the parked copy was for the relay).
            l.remote_sdp = Some(held_sdp);
        }
        entry.moh = Some(Moh {
            holder,
            held,
            ep,
            answered: false,
            answer,
            resume: None,
        });
        let side = if holder_side {
            Side::Caller
        } else {
            Side::Callee
        };
        if let Err(e) = entry.call.handle_input(now, CallInput::Hold(side)) {
            tracing::debug!(error = %e, "hold not recorded");
        }
        tracing::debug!(call = %id, held = %held, "music on hold");
        self.after_call(now, id, svc);
        true
    }

    /// The held party's answer (as received) to the music offer: the
    /// endpoint learns its address and the music starts. Returns whether
    /// the answer was the music's.
    pub(super) fn music_answered(
        &mut self,
        id: CallId,
        leg: LegId,
        body: Option<&Body>,
        svc: Services<'_>,
    ) -> bool {
        let (Some(eps), Some(path)) = (svc.endpoints, self.config.music_on_hold.clone()) else {
            return false;
        };
        let Some(m) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.moh.as_mut())
            .filter(|m| m.held == leg && !m.answered)
        else {
            return false;
        };
        m.answered = true;
        if m.resume.is_some() {
            // The holder resumed meanwhile: no music, straight back.
            self.resume_queued(id, eps);
            return true;
        }
        let started = match body {
            Some(b) => eps
                .set_answer(m.ep, &String::from_utf8_lossy(&b.data))
                .and_then(|()| eps.play(m.ep, MUSIC_PLAY, &[path], true)),
            None => Ok(()),
        };
        if let Err(e) = started {
            tracing::warn!(call = %id, error = %e, "music on hold not played");
        }
        true
    }

    /// The held party refused the music offer: it stays on the relay
    /// (un-parked). Returns whether the failure was the music's.
    pub(super) fn music_failed(&mut self, id: CallId, leg: LegId, svc: Services<'_>) -> bool {
        let Some(entry) = self.calls.get_mut(&id) else {
            return false;
        };
        let Some(m) = entry.moh.take_if(|m| m.held == leg && !m.answered) else {
            return false;
        };
        let sdp = entry.leg_mut(leg).and_then(|l| {
            l.endpoint = None;
            l.remote_sdp.clone()
        });
        if let Some(eps) = svc.endpoints {
            eps.close(m.ep);
        }
        if let Some(sdp) = sdp {
            self.rewrite(id, leg, sdp, svc);
        }
        tracing::info!(call = %id, leg = %leg, "music on hold refused by the held party");
        if let Some(resume) = m.resume {
            self.pending
                .push_back((id, LegEvent::Reoffer(m.holder, Some(resume))));
        }
        true
    }

    /// Ends the music of call `id` (the held party goes back to the relay
    /// with the next offer relayed to it) and returns what was playing.
    pub(super) fn end_music(
        &mut self,
        id: CallId,
        eps: &dyn crate::b2bua::media::MediaEndpoints,
    ) -> Option<Moh> {
        let entry = self.calls.get_mut(&id)?;
        let m = entry.moh.take()?;
        if let Some(l) = entry.leg_mut(m.held) {
            l.endpoint = None;
        }
        eps.close(m.ep);
        Some(m)
    }

    /// The music offer completed with a resume queued: the music ends and
    /// the resume goes to the call's application, as a fresh re-offer.
    fn resume_queued(&mut self, id: CallId, eps: &dyn crate::b2bua::media::MediaEndpoints) {
        let Some(m) = self.end_music(id, eps) else {
            return;
        };
        if let Some(resume) = m.resume {
            tracing::debug!(call = %id, holder = %m.holder, "queued resume relayed");
            self.pending
                .push_back((id, LegEvent::Reoffer(m.holder, Some(resume))));
        }
    }

    /// Stops the music of call `id` (an attended transfer takes its held
    /// party elsewhere). No resume is queued then: transfers are refused
    /// with 491 until the music offer is answered.
    pub(super) fn stop_music(&mut self, id: CallId, svc: Services<'_>) {
        if let Some(eps) = svc.endpoints {
            let _ = self.end_music(id, eps);
        }
    }
}
