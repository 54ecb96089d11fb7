//! Calls pbx places itself: click-to-call from the CRM, quick callbacks of
//! missed calls, queue callbacks. pbx rings the first party (the agent)
//! with an offer of its own (`MediaRelay::open_originating`); when the agent
//! answers, the call goes on exactly as if the agent had dialed the number:
//! routed by the dial plan (a phone, a trunk with its caller-id rules, an
//! IVR, a queue), the agent's answer standing in for a caller's offer
//! (`MediaRelay::caller_answered`). The routed application's answer reaches
//! the agent as a re-INVITE, as for a call handed over after an IVR.
//!
//! Until the agent answers, the call belongs to [`FirstParty`], which only
//! ends it: the agent's phone refused, rang out, or the API hung up. The
//! record's caller is the agent, its callee the number; its answer time is
//! the number's answer, so talk time is the conversation's.

use std::time::{Duration, Instant};

use sip_stack::message::{NameAddr, Uri};
use sip_stack::ua::{Body, CallOptions, UaEvent};

use super::{CallEntry, CommandError, Engine, Leg, Routing, Services};
use crate::b2bua::app::{Action, AppView, Application, LegEvent, LegState};
use crate::b2bua::call::{Call, CallInput, HangupCause, Side};
use crate::b2bua::sdp::first_audio_codec;
use crate::b2bua::{CallId, LegId};
use crate::sans_io::Outbox;

/// A call for pbx to place ([`Engine::originate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// Who is rung first: a user (the agent's registered phones).
    pub agent: String,
    /// The number dialed once the agent answers, routed as if the agent
    /// had dialed it.
    pub number: String,
    /// How long the agent's phone may ring before the call is given up.
    pub ring: Duration,
}

/// The application of an originated call until its first party answers.
#[derive(Debug)]
struct FirstParty {
    /// When the agent's phone has rung long enough.
    until: Instant,
    ended: bool,
}

impl Application for FirstParty {
    fn name(&self) -> &'static str {
        "originate"
    }

    fn handle(&mut self, _view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        let (hangup, cause, side) = match event {
            LegEvent::Failed(LegId::CALLER, status) => {
                (false, HangupCause::of_status(*status), Side::Caller)
            }
            LegEvent::Ended(LegId::CALLER) => (false, HangupCause::Cancelled, Side::Caller),
            LegEvent::Timer => (true, HangupCause::NoAnswer, Side::Pbx),
            _ => return,
        };
        self.ended = true;
        if hangup {
            out.push(Action::Hangup(LegId::CALLER));
        }
        out.push(Action::Call(CallInput::Hangup(cause, side)));
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (!self.ended).then_some(self.until)
    }
}

/// A routing without its presentation layers.
fn unpresented(routing: &Routing) -> &Routing {
    match routing {
        Routing::Presented { routing, .. } => unpresented(routing),
        other => other,
    }
}

impl Engine {
    /// Places a call: rings `req.agent`'s phone first and, once it answers,
    /// dials `req.number` for it. Refused when pbx has no media relay, the
    /// agent has no phone registered, or no relay ports are left.
    pub fn originate(
        &mut self,
        now: Instant,
        req: Originate,
        svc: Services<'_>,
        out: &mut Outbox,
    ) -> Result<CallId, CommandError> {
        let relay = svc.anchor.ok_or(CommandError::NoMedia)?;
        let (routing, _) = svc.router.route(&req.number, &req.agent).split();
        let target = match routing {
            Routing::Dial(targets) => targets.into_iter().next(),
            _ => None,
        }
        .ok_or_else(|| CommandError::Unreachable(req.agent.clone()))?;
        // The number is routed now, with a user's right to call out: an
        // unroutable number is refused before the agent's phone rings.
        let onward = svc.router.route(&req.agent, &req.number);
        if let Routing::Refuse(cause) = unpresented(&onward) {
            return Err(CommandError::NoRoute(
                req.number,
                cause.status(),
                cause.code(),
            ));
        }
        let (offer, anchored) = relay
            .open_originating()
            .map_err(|_| CommandError::NoMedia)?;
        let domain = self.config.domain.clone();
        let user_uri = |user: &str| {
            let mut uri = Uri::sip(domain.clone());
            uri.user = Some(user.to_owned());
            uri
        };
        // The agent's phone shows the number it is about to talk to.
        let opts = CallOptions {
            target: target.uri.clone(),
            from: Some(NameAddr::new(user_uri(&req.number))),
            to: Some(NameAddr::new(user_uri(&req.agent))),
            body: Some(Body::sdp(offer)),
            credentials: None,
            flow: target.flow,
        };
        let session = match self.ua.call_with(now, opts) {
            Ok(s) => s,
            Err(e) => {
                relay.close(&anchored);
                tracing::info!(agent = %req.agent, error = %e, "originate: agent leg not placed");
                return Err(CommandError::Unreachable(req.agent));
            }
        };
        self.next_call = self.next_call.wrapping_add(1);
        let id = CallId(self.next_call);
        let call = Call::new(
            id,
            req.agent.clone(),
            req.number.clone(),
            self.timestamp(now),
            req.ring + self.config.ring_timeout,
        );
        self.relay_calls.insert(anchored.relay_id(), id.to_string());
        let mut party = target.uri;
        party.headers.clear();
        self.calls.insert(
            id,
            CallEntry {
                call,
                legs: vec![Leg {
                    id: LegId::CALLER,
                    session,
                    state: LegState::Calling,
                    sip_call_id: self.ua.session_call_id(session).unwrap_or_default(),
                    party: party.to_string(),
                    status: 0,
                    codec: None,
                    placed_at: now,
                    endpoint: None,
                    caller_side: true,
                    remote_sdp: None,
                }],
                app: Box::new(FirstParty {
                    until: now + req.ring,
                    ended: false,
                }),
                anchor: Some(anchored),
                next_leg: 1,
                identity: NameAddr::new(user_uri(&req.agent)),
                caller_offer: None,
                class: Default::default(),
                ring: self.config.ring_timeout,
                successor: None,
                caller_id: None,
                join: None,
                moh: None,
                api_transferor: None,
                originated: true,
                originating: Some(onward),
            },
        );
        self.sessions.insert(session, (id, LegId::CALLER));
        tracing::info!(call = %id, agent = %req.agent, number = %req.number, "originating");
        self.after_call(now, id, svc);
        self.pump(now, svc, out);
        Ok(id)
    }

    /// A UA event of an originated call's first party before it answered:
    /// true when handled here (ringing, the answer), false for the usual
    /// path (its failure or hangup goes to [`FirstParty`]).
    pub(super) fn on_first_party(
        &mut self,
        now: Instant,
        id: CallId,
        ev: &UaEvent,
        svc: Services<'_>,
    ) -> bool {
        let Some(entry) = self.calls.get_mut(&id) else {
            return false;
        };
        if entry.originating.is_none() {
            return false;
        }
        let body = match ev {
            UaEvent::Ringing { .. } | UaEvent::EarlyMedia { .. } => {
                if let Some(l) = entry.leg_mut(LegId::CALLER) {
                    l.state = LegState::Ringing;
                }
                return true;
            }
            UaEvent::Answered { body, .. } => body.clone(),
            _ => return false,
        };
        let Some(onward) = entry.originating.take() else {
            return false;
        };
        if let Some(l) = entry.leg_mut(LegId::CALLER) {
            l.state = LegState::Answered;
            l.status = 200;
            l.codec = body.as_ref().and_then(|b| first_audio_codec(&b.data));
            l.remote_sdp = body.clone();
        }
        let offer = match (svc.anchor, entry.anchor.as_mut(), body) {
            (Some(relay), Some(anchored), Some(body)) => {
                match relay.caller_answered(anchored, &body.data) {
                    Ok(data) => Some(Body {
                        content_type: body.content_type,
                        data,
                    }),
                    Err(e) => {
                        tracing::info!(call = %id, error = %e, "originate: agent's answer not anchored");
                        None
                    }
                }
            }
            _ => None,
        };
        let Some(offer) = offer else {
            // Nothing to offer the number: the call cannot go on.
            if let Err(e) = entry
                .call
                .handle_input(now, CallInput::Hangup(HangupCause::Media, Side::Pbx))
            {
                tracing::debug!(call = %id, error = %e, "originate: hangup refused");
            }
            return true;
        };
        let (routing, caller_id) = onward.split();
        tracing::info!(call = %id, "originate: agent answered, dialing the number");
        let number = entry.call.callee().to_owned();
        if let Err(e) = entry.call.handle_input(now, CallInput::Dialing(number)) {
            tracing::debug!(call = %id, error = %e, "originate: dialing not noted");
        }
        entry.caller_offer = Some(offer.clone());
        entry.caller_id = caller_id;
        entry.app = routing.into_app();
        self.pending
            .push_back((id, LegEvent::Incoming { offer: Some(offer) }));
        true
    }
}
