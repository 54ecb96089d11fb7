//! Media actions (answer with pbx's endpoint, play, record, rooms) and the
//! endpoint events coming back ([`Engine::handle_media_event`]).
//!
//! `AnswerMedia` opens an endpoint on the offer the application saw (in
//! B2BUA mode the relay's callee side), re-anchors the relay's callee side
//! to the endpoint and answers the caller with the relay's caller-side SDP,
//! exactly as if a phone had answered. `ReleaseMedia` closes the endpoint;
//! a later bridge re-anchors the relay to the new party.

use std::time::Instant;

use media::endpoint::{EndpointEvent, EndpointId, RoomOp};
use media::mixer::{Role, RoomEvent, RoomId};
use sip_stack::message::StatusCode;
use sip_stack::ua::Body;

use super::{stale, Engine, Services};
use crate::b2bua::app::{Action, LegEvent, LegState, RoomControl, RoomRole};
use crate::b2bua::call::{CallInput, HangupCause, Side};
use crate::b2bua::sdp::first_audio_codec;
use crate::b2bua::{CallId, LegId};
use crate::media_anchor::transcode::{without_added, CallerMedia};
use crate::sans_io::Outbox;

/// A leg that pbx's media answers ("the callee side" for the relay).
const ENDPOINT_SIDE: LegId = LegId(u32::MAX);

/// Where an endpoint belongs.
#[derive(Debug, Clone, Copy)]
pub(super) struct MediaLeg {
    call: CallId,
    leg: LegId,
    room: Option<RoomId>,
}

impl MediaLeg {
    /// An endpoint of `leg` in call `call`, in no room.
    pub(super) fn new(call: CallId, leg: LegId) -> Self {
        Self {
            call,
            leg,
            room: None,
        }
    }
}

impl Engine {
    /// An event of the media endpoints (from `EndpointService::poll_event`):
    /// becomes the leg event of the endpoint's call (PlayDone, Dtmf,
    /// RecordDone, RoomLeft) and runs the application's actions.
    pub fn handle_media_event(
        &mut self,
        now: Instant,
        event: EndpointEvent,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        let found = |e: EndpointId| self.endpoints.get(&e).copied();
        let mut events: Vec<(CallId, LegEvent)> = Vec::new();
        match event {
            EndpointEvent::PlayDone { id, play } => {
                events.extend(found(id).map(|m| (m.call, LegEvent::PlayDone(m.leg, play))));
            }
            EndpointEvent::Dtmf { id, digit } => {
                events.extend(found(id).map(|m| (m.call, LegEvent::Dtmf(m.leg, digit.as_char()))));
            }
            EndpointEvent::RecordDone { id, path, duration } => {
                events.extend(found(id).map(|m| {
                    let leg = m.leg;
                    (
                        m.call,
                        LegEvent::RecordDone {
                            leg,
                            path,
                            duration,
                        },
                    )
                }));
            }
            EndpointEvent::Room {
                event: RoomEvent::Kicked { participant, .. },
                ..
            } => {
                let e = EndpointId(participant.0);
                events.extend(found(e).map(|m| (m.call, LegEvent::RoomLeft(m.leg))));
            }
            EndpointEvent::Room {
                room,
                event: RoomEvent::Ended,
            } => events.extend(
                self.endpoints
                    .values()
                    .filter(|m| m.room == Some(room))
                    .map(|m| (m.call, LegEvent::RoomLeft(m.leg))),
            ),
            EndpointEvent::JoinRefused { id, error } => {
                tracing::info!(endpoint = id.0, %error, "conference join refused");
                events.extend(found(id).map(|m| (m.call, LegEvent::RoomLeft(m.leg))));
                if let Some(m) = self.endpoints.get_mut(&id) {
                    m.room = None;
                }
            }
            EndpointEvent::Room { .. } => {}
            EndpointEvent::RoomRefused(e) => {
                tracing::info!(error = %e, "conference operation refused");
            }
            EndpointEvent::Closed { id, stats } => {
                tracing::debug!(
                    endpoint = id.0,
                    packets_in = stats.packets_in,
                    packets_out = stats.packets_out,
                    "media endpoint closed"
                );
                self.endpoints.remove(&id);
            }
            other => tracing::debug!(?other, "media event ignored"),
        }
        self.pending.extend(events);
        self.pump(now, svc, out);
    }

    /// The name tag of `leg` in a conference room: the display name of its
    /// party (the caller's From, or the leg's address), else its user.
    fn name_tag(&self, id: CallId, leg: LegId) -> String {
        let Some(entry) = self.calls.get(&id) else {
            return String::new();
        };
        let who = match entry.leg(leg) {
            Some(l) if leg != LegId::CALLER => sip_stack::message::NameAddr::parse(&l.party)
                .unwrap_or_else(|_| entry.identity.clone()),
            _ => entry.identity.clone(),
        };
        who.display
            .filter(|d| !d.is_empty())
            .or_else(|| who.uri.user.clone())
            .unwrap_or_else(|| who.uri.to_string())
    }

    /// The endpoint answering `leg`, if any.
    fn endpoint_of(&self, id: CallId, leg: LegId) -> Option<EndpointId> {
        self.calls
            .get(&id)?
            .leg(leg)
            .filter(|l| l.state != LegState::Ended)?
            .endpoint
    }

    pub(super) fn execute_media(
        &mut self,
        now: Instant,
        id: CallId,
        action: Action,
        svc: Services<'_>,
    ) {
        if let Action::AnswerMedia { leg } = action {
            return self.answer_media(now, id, leg, svc);
        }
        let (Some(eps), Some(leg)) = (svc.endpoints, media_leg(&action)) else {
            return stale(id, &action);
        };
        let Some(ep) = self.endpoint_of(id, leg) else {
            return stale(id, &action);
        };
        match action {
            Action::Play {
                id: play,
                prompts,
                repeat,
                ..
            } => {
                if let Err(e) = eps.play(ep, play, &prompts, repeat) {
                    tracing::warn!(call = %id, error = %e, "prompt not played");
                    self.pending.push_back((id, LegEvent::PlayDone(leg, play)));
                }
            }
            Action::StopPlay { id: play, .. } => eps.stop_play(ep, play),
            Action::StartRecording { beep, max, .. } => {
                let name = format!("{id}-{}-{}.wav", leg.0, self.timestamp(now).unix_ms);
                if let Err(e) = eps.record(ep, &name, beep, max) {
                    tracing::warn!(call = %id, error = %e, "recording not started");
                    let ev = LegEvent::RecordDone {
                        leg,
                        path: Default::default(),
                        duration: Default::default(),
                    };
                    self.pending.push_back((id, ev));
                }
            }
            Action::StopRecording { .. } => eps.stop_recording(ep),
            Action::JoinRoom { room, role, .. } => {
                let role = match role {
                    RoomRole::Moderator => Role::Moderator,
                    RoomRole::Guest => Role::Speaker,
                };
                let room = eps.join(ep, &room, role, &self.name_tag(id, leg));
                if let Some(m) = self.endpoints.get_mut(&ep) {
                    m.room = Some(room);
                }
            }
            Action::RoomControl { op, .. } => match room_op(op) {
                Some(op) => eps.room_op(ep, op),
                None => tracing::debug!(call = %id, ?op, "room key ignored"),
            },
            Action::ReleaseMedia { .. } => {
                if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) {
                    l.endpoint = None;
                }
                eps.close(ep);
            }
            _ => {}
        }
    }

    /// `Action::AnswerMedia`: open, re-anchor, answer (or refuse 488/503).
    fn answer_media(&mut self, now: Instant, id: CallId, leg: LegId, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(l) = entry.leg(leg).filter(|l| l.state != LegState::Ended) else {
            return stale(id, &Action::AnswerMedia { leg });
        };
        let session = l.session;
        let answered_before = l.state == LegState::Answered;
        let offer = entry.caller_offer.clone().filter(|_| leg == LegId::CALLER);
        let caller = entry.anchor.as_ref().and_then(|a| a.caller_media());
        let opened = match (svc.endpoints, &offer) {
            (Some(eps), Some(offer)) => {
                eps.open(&own_media_offer(&offer.data, caller))
                    .map_err(|e| {
                        tracing::info!(call = %id, error = %e, "media endpoint not opened");
                        match e {
                            media::endpoint::EndpointError::Sdp(_)
                            | media::endpoint::EndpointError::Negotiation(_) => 488,
                            _ => 503,
                        }
                    })
            }
            (None, _) => Err(503),
            (Some(_), None) => Err(488),
        };
        let (ep, answer) = match opened {
            Ok(x) => x,
            Err(status) => {
                if let Some(l) = entry.leg_mut(leg) {
                    l.state = LegState::Ended;
                    l.status = status;
                }
                let cause = HangupCause::Media;
                let _ = entry
                    .call
                    .handle_input(now, CallInput::Hangup(cause, Side::Pbx));
                if let Err(e) = self.ua.reject(now, session, StatusCode(status)) {
                    tracing::debug!(call = %id, error = %e, "leg not refused");
                }
                return;
            }
        };
        self.endpoints.insert(
            ep,
            MediaLeg {
                call: id,
                leg,
                room: None,
            },
        );
        let codec = first_audio_codec(answer.as_bytes());
        if let Some(l) = entry.leg_mut(leg) {
            l.endpoint = Some(ep);
            l.state = LegState::Answered;
            l.status = 200;
            l.codec = codec;
        }
        let body = self.rewrite(id, ENDPOINT_SIDE, Body::sdp(answer), svc);
        // A caller handed over to this application was answered by another
        // party: pbx's media is offered to it instead (RFC 3261 §14.1), which
        // also takes it off hold.
        let sent = if answered_before {
            self.ua.reinvite(now, session, Some(body))
        } else {
            self.ua.answer(now, session, Some(body))
        };
        if let Err(e) = sent {
            tracing::debug!(call = %id, error = %e, "media answer not sent");
        }
    }

    /// A re-INVITE on a leg answered by pbx's media: the endpoint answers it
    /// (hold, new address), the application is not involved. Returns false
    /// when the leg has no endpoint.
    pub(super) fn reoffer_to_endpoint(
        &mut self,
        now: Instant,
        id: CallId,
        leg: LegId,
        body: Option<&Body>,
        svc: Services<'_>,
    ) -> bool {
        let (Some(eps), Some(ep)) = (svc.endpoints, self.endpoint_of(id, leg)) else {
            return false;
        };
        let Some(session) = self
            .calls
            .get(&id)
            .and_then(|c| c.leg(leg))
            .map(|l| l.session)
        else {
            return false;
        };
        let caller = self
            .calls
            .get(&id)
            .and_then(|c| c.anchor.as_ref())
            .and_then(|a| a.caller_media());
        let answer = match body {
            Some(b) => eps.update(ep, &own_media_offer(&b.data, caller)),
            // an offerless re-INVITE: offer what we have (RFC 3261 §14.2)
            None => return false,
        };
        let r = match answer {
            Ok(sdp) => {
                let body = self.rewrite(id, ENDPOINT_SIDE, Body::sdp(sdp), svc);
                self.ua.answer(now, session, Some(body))
            }
            Err(e) => {
                tracing::info!(call = %id, error = %e, "re-offer refused by the media endpoint");
                self.ua.reject(now, session, StatusCode(488))
            }
        };
        if let Err(e) = r {
            tracing::debug!(call = %id, error = %e, "re-offer answer not sent");
        }
        true
    }
}

impl Engine {
    /// Offers pbx's media of `leg` (answered by an endpoint) to a party that
    /// has just taken the leg over with `sdp` (an attended transfer into an
    /// application): the endpoint answers the party's SDP as re-anchored by
    /// the relay, and its answer, through the relay, is offered to the party
    /// in a re-INVITE (RFC 3261 §14.1). Returns the party's SDP as the
    /// endpoint saw it (rewritten for the relay's other side).
    pub(super) fn offer_endpoint_to(
        &mut self,
        now: Instant,
        id: CallId,
        leg: LegId,
        sdp: Body,
        svc: Services<'_>,
    ) -> Option<Body> {
        let (Some(eps), Some(ep)) = (svc.endpoints, self.endpoint_of(id, leg)) else {
            return None;
        };
        let session = self.calls.get(&id)?.leg(leg)?.session;
        let seen = self.rewrite_offer(id, leg, sdp, svc);
        let caller = self
            .calls
            .get(&id)
            .and_then(|c| c.anchor.as_ref())
            .and_then(|a| a.caller_media());
        let answer = match eps.update(ep, &own_media_offer(&seen.data, caller)) {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "media endpoint refused the new party");
                return Some(seen);
            }
        };
        let offer = self.rewrite(id, ENDPOINT_SIDE, Body::sdp(answer), svc);
        if let Err(e) = self.ua.reinvite(now, session, Some(offer)) {
            tracing::warn!(call = %id, error = %e, "new party not re-invited to pbx's media");
        }
        Some(seen)
    }
}

/// The caller's offer for pbx's own media: without the codecs pbx added
/// for transcoding callees (the endpoint decodes the caller's codecs).
fn own_media_offer(offer: &[u8], caller: Option<&CallerMedia>) -> String {
    let text = String::from_utf8_lossy(offer).into_owned();
    let (Some(caller), Ok(mut sdp)) = (caller, media::sdp::SessionDescription::parse(&text)) else {
        return text;
    };
    without_added(&mut sdp, caller);
    sdp.to_string()
}

/// The leg a media action is about.
fn media_leg(a: &Action) -> Option<LegId> {
    match a {
        Action::Play { leg, .. }
        | Action::StopPlay { leg, .. }
        | Action::StartRecording { leg, .. }
        | Action::StopRecording { leg }
        | Action::JoinRoom { leg, .. }
        | Action::RoomControl { leg, .. }
        | Action::ReleaseMedia { leg }
        | Action::AnswerMedia { leg } => Some(*leg),
        _ => None,
    }
}

fn room_op(op: RoomControl) -> Option<RoomOp> {
    Some(match op {
        RoomControl::MuteGuests => RoomOp::MuteGuests,
        RoomControl::RequestUnmuteGuests => RoomOp::RequestUnmuteGuests,
        RoomControl::Lock(l) => RoomOp::Lock(l),
        RoomControl::End => RoomOp::End,
        RoomControl::Key(c) => RoomOp::Key(media::dtmf::Digit::from_char(c)?),
    })
}
