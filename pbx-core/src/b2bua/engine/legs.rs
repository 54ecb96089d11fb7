//! UA events → leg events: a new INVITE creates a call, responses and
//! in-dialog requests are mapped to the leg of their session, and every SDP
//! body is re-anchored in the relay and rewritten for the other side.

use std::time::Instant;

use sip_stack::message::{Method, NameAddr};
use sip_stack::ua::{Body, CallId as SipCallId, EndReason, SessionId, UaEvent};

use super::{CallEntry, Engine, Leg, Services};
use crate::b2bua::app::{Application, LegEvent, LegState, Refuse};
use crate::b2bua::call::{Call, HangupCause};
use crate::b2bua::sdp::first_audio_codec;
use crate::b2bua::{CallId, LegId};
use crate::media_anchor::AnchorError;

impl Engine {
    pub(super) fn on_ua_event(&mut self, now: Instant, ev: UaEvent, svc: Services<'_>) {
        let session = match &ev {
            UaEvent::IncomingCall {
                session,
                call_id,
                from,
                to,
                body,
            } => {
                return self.on_incoming(now, *session, call_id, from, to, body.clone(), svc);
            }
            UaEvent::Ringing { session }
            | UaEvent::EarlyMedia { session, .. }
            | UaEvent::Answered { session, .. }
            | UaEvent::Reoffer { session, .. }
            | UaEvent::Updated { session, .. }
            | UaEvent::RequestFailed { session, .. }
            | UaEvent::Dtmf { session, .. }
            | UaEvent::TransferRequested { session, .. }
            | UaEvent::Terminated { session, .. } => *session,
            _ => return,
        };
        let Some(&(id, leg)) = self.sessions.get(&session) else {
            return;
        };
        if leg == LegId::CALLER && self.on_first_party(now, id, &ev, svc) {
            return;
        }
        let leg_event = match ev {
            UaEvent::Ringing { .. } => {
                self.set_leg(id, leg, |l| l.state = LegState::Ringing);
                LegEvent::Ringing(leg)
            }
            UaEvent::EarlyMedia { body, .. } => {
                self.set_leg(id, leg, |l| l.state = LegState::Ringing);
                let body = self.rewrite(id, leg, body, svc);
                LegEvent::EarlyMedia(leg, body)
            }
            UaEvent::Answered { body, .. } => {
                let codec = body.as_ref().and_then(|b| first_audio_codec(&b.data));
                self.set_leg(id, leg, |l| {
                    l.state = LegState::Answered;
                    l.status = 200;
                    l.codec = codec;
                });
                let body = body.map(|b| self.rewrite(id, leg, b, svc));
                self.caller_codec_from(id, leg, body.as_ref());
                LegEvent::Answered(leg, body)
            }
            UaEvent::Reoffer { body, .. } => {
                let body = body.map(|b| self.rewrite_offer(id, leg, b, svc));
                if self.reoffer_to_endpoint(now, id, leg, body.as_ref(), svc)
                    || self.hold_with_music(now, id, leg, body.as_ref(), svc)
                {
                    return;
                }
                LegEvent::Reoffer(leg, body)
            }
            UaEvent::Updated { body, .. } => {
                if self.music_answered(id, leg, body.as_ref(), svc) {
                    return;
                }
                let body = body.map(|b| self.rewrite(id, leg, b, svc));
                if self.join_answered(now, id, leg, body.as_ref()) {
                    return;
                }
                LegEvent::Updated(leg, body)
            }
            UaEvent::RequestFailed {
                method: Method::Invite,
                status,
                ..
            } => {
                if self.join_failed(id, leg, status.0) || self.music_failed(id, leg, svc) {
                    return;
                }
                LegEvent::ReofferFailed(leg, status.0)
            }
            UaEvent::Dtmf { digit, .. } => LegEvent::Dtmf(leg, digit),
            UaEvent::TransferRequested { target, .. } => {
                if let Some(replaced) = self.ua.target_replaces(&target) {
                    return self.attended_transfer(now, id, leg, replaced, svc);
                }
                let number = target.user.clone().unwrap_or_else(|| target.to_string());
                LegEvent::TransferRequested(leg, number)
            }
            UaEvent::Terminated { reason, .. } => {
                self.sessions.remove(&session);
                let status = match &reason {
                    EndReason::Rejected(s) => Some(s.0),
                    EndReason::Timeout => Some(408),
                    _ => None,
                };
                self.set_leg(id, leg, |l| {
                    l.state = LegState::Ended;
                    if let Some(s) = status {
                        l.status = s;
                    }
                });
                match reason {
                    EndReason::RemoteHangup
                    | EndReason::RemoteCancelled
                    | EndReason::NoAck
                    | EndReason::SessionExpired => LegEvent::Ended(leg),
                    EndReason::Rejected(s) => LegEvent::Failed(leg, s.0),
                    EndReason::Timeout => LegEvent::Failed(leg, 408),
                    // We ended it ourselves: the application asked for it.
                    _ => return,
                }
            }
            _ => return,
        };
        self.pending.push_back((id, leg_event));
    }

    /// The caller's codec is the one in the answer it gets (the callee's,
    /// or the caller's own when the relay transcodes), for the record.
    pub(super) fn caller_codec_from(&mut self, id: CallId, leg: LegId, body: Option<&Body>) {
        if leg == LegId::CALLER {
            return;
        }
        if let Some(codec) = body.and_then(|b| first_audio_codec(&b.data)) {
            self.set_leg(id, LegId::CALLER, |l| l.codec = Some(codec));
        }
    }

    fn set_leg(&mut self, id: CallId, leg: LegId, f: impl FnOnce(&mut Leg)) {
        if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) {
            f(l);
        }
    }

    /// Re-anchors the sender's media and returns the body for the other side.
    pub(super) fn rewrite(
        &mut self,
        id: CallId,
        from: LegId,
        body: Body,
        svc: Services<'_>,
    ) -> Body {
        self.rewrite_as(id, from, body, false, svc)
    }

    /// [`Self::rewrite`] for a re-offer (`MediaAnchor::update_offer`).
    pub(super) fn rewrite_offer(
        &mut self,
        id: CallId,
        from: LegId,
        body: Body,
        svc: Services<'_>,
    ) -> Body {
        self.rewrite_as(id, from, body, true, svc)
    }

    fn rewrite_as(
        &mut self,
        id: CallId,
        from: LegId,
        body: Body,
        offer: bool,
        svc: Services<'_>,
    ) -> Body {
        let from_caller = match self.calls.get_mut(&id).and_then(|c| c.leg_mut(from)) {
            Some(leg) => {
                leg.remote_sdp = Some(body.clone());
                leg.caller_side
            }
            None => false,
        };
        let (Some(relay), Some(entry)) = (svc.anchor, self.calls.get(&id)) else {
            return body;
        };
        let Some(anchored) = &entry.anchor else {
            return body;
        };
        let updated = if offer {
            relay.update_offer(anchored, &body.data, from_caller)
        } else {
            relay.update(anchored, &body.data, from_caller)
        };
        match updated {
            Ok(data) => Body {
                content_type: body.content_type,
                data,
            },
            Err(e) => {
                tracing::debug!(call = %id, leg = %from, error = %e, "SDP not anchored");
                body
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_incoming(
        &mut self,
        now: Instant,
        session: SessionId,
        sip_call_id: &SipCallId,
        from: &NameAddr,
        to: &NameAddr,
        body: Option<Body>,
        svc: Services<'_>,
    ) {
        self.next_call = self.next_call.wrapping_add(1);
        let id = CallId(self.next_call);
        let caller = from.uri.user.clone().unwrap_or_default();
        let callee = to.uri.user.clone().unwrap_or_default();
        let _span = tracing::debug_span!("call", %id, sip_call_id = %sip_call_id).entered();
        let call = Call::new(
            id,
            caller.clone(),
            callee.clone(),
            self.timestamp(now),
            self.config.ring_timeout,
        );
        let codec = body.as_ref().and_then(|b| first_audio_codec(&b.data));
        let remote_sdp = body.clone();
        let (offer, anchor, app, caller_id): (_, _, Box<dyn Application>, _) =
            match anchor_offer(body, svc) {
                Ok((offer, anchor)) => {
                    let (routing, caller_id) = svc.router.route(&caller, &callee).split();
                    (offer, anchor, routing.into_app(), caller_id)
                }
                Err(e) => {
                    tracing::info!(call = %id, error = %e, "caller's media not anchored");
                    (None, None, Box::new(Refuse(HangupCause::Media)), None)
                }
            };
        if let Some(a) = &anchor {
            self.relay_calls.insert(a.relay_id(), id.to_string());
        }
        let mut identity = from.clone();
        identity
            .params
            .retain(|p| !p.name.eq_ignore_ascii_case("tag"));
        self.calls.insert(
            id,
            CallEntry {
                call,
                legs: vec![Leg {
                    id: LegId::CALLER,
                    session,
                    state: LegState::Calling,
                    sip_call_id: sip_call_id.0.clone(),
                    party: identity.uri.to_string(),
                    status: 0,
                    codec,
                    placed_at: now,
                    endpoint: None,
                    caller_side: true,
                    remote_sdp,
                }],
                app,
                anchor,
                next_leg: 1,
                identity,
                caller_offer: offer.clone(),
                class: Default::default(),
                ring: self.config.ring_timeout,
                successor: None,
                caller_id,
                join: None,
                moh: None,
                api_transferor: None,
                originated: false,
                originating: None,
            },
        );
        self.sessions.insert(session, (id, LegId::CALLER));
        self.pending.push_back((id, LegEvent::Incoming { offer }));
    }
}

type Offer = (Option<Body>, Option<crate::media_anchor::Anchored>);

/// Opens the relay for the caller's offer (when the policy wants it).
fn anchor_offer(body: Option<Body>, svc: Services<'_>) -> Result<Offer, AnchorError> {
    let (Some(relay), Some(body)) = (svc.anchor, body.clone()) else {
        return Ok((body, None));
    };
    // In B2BUA mode both legs are always anchored (policy "never" has no
    // relay), and pbx bridges codecs the callee and the caller do not share.
    let (data, anchored) = relay.open_bridging(&body.data)?;
    Ok((
        Some(Body {
            content_type: body.content_type,
            data,
        }),
        Some(anchored),
    ))
}
