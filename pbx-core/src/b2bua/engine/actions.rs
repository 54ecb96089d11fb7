//! Actions → UA commands, and the end of a call: remaining legs hung up,
//! relay ports released, the record written.

use std::time::Instant;

use sip_stack::message::{NameAddr, StatusCode, Uri};
use sip_stack::ua::CallOptions;

use super::{stale, Engine, Leg, Services};
use crate::b2bua::app::{Action, LegEvent, LegState};
use crate::b2bua::call::HangupCause;
use crate::b2bua::cdr::{CallRecord, LegRecord};
use crate::b2bua::events::EngineEventKind;
use crate::b2bua::{CallId, LegId};

impl Engine {
    pub(super) fn execute(&mut self, now: Instant, id: CallId, action: Action, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let session_of = |leg: LegId| {
            entry
                .leg(leg)
                .filter(|l| l.state != LegState::Ended)
                .map(|l| l.session)
        };
        let result = match &action {
            Action::Dial { targets, offer } => {
                let targets = targets.clone();
                let offer = offer.clone();
                let to = entry.call.callee().to_owned();
                self.dial(now, id, targets, offer, &to, svc);
                return;
            }
            Action::DialNumber { number } => {
                let offer = entry.caller_offer.clone();
                let (routing, caller_id) = svc.router.route(entry.call.caller(), number).split();
                if caller_id.is_some() {
                    entry.caller_id = caller_id;
                }
                match routing {
                    super::Routing::Dial(targets) => {
                        self.dial(now, id, targets, offer, number, svc)
                    }
                    // A transfer to an IVR / room / trunk: that application
                    // takes the call over (`handover.rs`).
                    super::Routing::App(app) => self.hand_over(id, app),
                    // `split` took every presentation off already.
                    super::Routing::Refuse(cause) => {
                        let leg = LegId(entry.next_leg);
                        entry.next_leg += 1;
                        self.pending
                            .push_back((id, LegEvent::Failed(leg, cause.status())));
                    }
                    // `split` took every presentation off already.
                    super::Routing::Presented { .. } => {
                        let leg = LegId(entry.next_leg);
                        entry.next_leg += 1;
                        self.pending.push_back((id, LegEvent::Failed(leg, 500)));
                    }
                }
                return;
            }
            Action::DialTagged { number, tag } => {
                let (number, tag) = (number.clone(), *tag);
                return self.dial_tagged(now, id, &number, tag, svc);
            }
            Action::Acd(request) => {
                self.acd_requests.push_back((id, request.clone()));
                return;
            }
            Action::NotifyTransfer { leg, status } if entry.api_transferor == Some(*leg) => {
                // An API transfer: the transferor asked nothing by SIP.
                tracing::info!(call = %id, leg = %leg, status, "API transfer progress");
                if *status >= 200 {
                    entry.api_transferor = None;
                }
                return;
            }
            Action::NotifyTransfer { leg, status } => match session_of(*leg) {
                Some(s) => self.ua.notify_transfer(now, s, StatusCode(*status)),
                None => return stale(id, &action),
            },
            Action::Http {
                id: job,
                url,
                body_json,
                timeout,
            } => {
                self.jobs.push_back(super::HttpJob {
                    call: id,
                    id: *job,
                    url: url.clone(),
                    body_json: body_json.clone(),
                    timeout: *timeout,
                });
                return;
            }
            Action::Call(input) => {
                if let Err(e) = entry.call.handle_input(now, input.clone()) {
                    tracing::debug!(error = %e, "call input ignored");
                }
                return;
            }
            // An answered caller's leg (an originated call's agent) takes
            // no provisional response.
            Action::Progress { leg, .. }
                if entry
                    .leg(*leg)
                    .is_some_and(|l| l.state == LegState::Answered) =>
            {
                return;
            }
            Action::Progress { leg, status, sdp } => match session_of(*leg) {
                Some(s) => self.ua.progress(now, s, StatusCode(*status), sdp.clone()),
                None => return stale(id, &action),
            },
            Action::Answer { leg, sdp } => match session_of(*leg) {
                // A handed-over caller was answered before: the new answer
                // is offered to it (RFC 3261 §14.1).
                Some(s)
                    if entry
                        .leg(*leg)
                        .is_some_and(|l| l.state == LegState::Answered) =>
                {
                    self.ua.reinvite(now, s, sdp.clone())
                }
                Some(s) => {
                    if let Some(l) = entry.leg_mut(*leg) {
                        l.state = LegState::Answered;
                        l.status = 200;
                    }
                    self.ua.answer(now, s, sdp.clone())
                }
                None => return stale(id, &action),
            },
            Action::Reject { leg, cause } => match session_of(*leg) {
                // An answered leg (an originated call's agent) is hung up.
                Some(s)
                    if entry
                        .leg(*leg)
                        .is_some_and(|l| l.state == LegState::Answered) =>
                {
                    if let Some(l) = entry.leg_mut(*leg) {
                        l.state = LegState::Ended;
                    }
                    self.ua.hangup(now, s)
                }
                Some(s) => {
                    if let Some(l) = entry.leg_mut(*leg) {
                        l.state = LegState::Ended;
                        l.status = cause.status();
                    }
                    self.ua.reject(now, s, StatusCode(cause.status()))
                }
                None => return stale(id, &action),
            },
            Action::Hangup(leg) => match session_of(*leg) {
                Some(s) => {
                    if let Some(l) = entry.leg_mut(*leg) {
                        if l.state != LegState::Answered && l.status == 0 {
                            l.status = 487;
                        }
                        l.state = LegState::Ended;
                    }
                    self.ua.hangup(now, s)
                }
                None => return stale(id, &action),
            },
            Action::Reinvite { leg, sdp } => match session_of(*leg) {
                Some(s) => {
                    let r = self.ua.reinvite(now, s, sdp.clone());
                    if r.is_err() {
                        self.pending
                            .push_back((id, LegEvent::ReofferFailed(*leg, 500)));
                    }
                    r
                }
                None => return stale(id, &action),
            },
            Action::AnswerReoffer { leg, sdp } => match session_of(*leg) {
                Some(s) => self.ua.answer(now, s, sdp.clone()),
                None => return stale(id, &action),
            },
            Action::RejectReoffer { leg, status } => match session_of(*leg) {
                Some(s) => self.ua.reject(now, s, StatusCode(*status)),
                None => return stale(id, &action),
            },
            Action::AnswerMedia { .. }
            | Action::Play { .. }
            | Action::StopPlay { .. }
            | Action::StartRecording { .. }
            | Action::StopRecording { .. }
            | Action::JoinRoom { .. }
            | Action::RoomControl { .. }
            | Action::ReleaseMedia { .. } => {
                self.execute_media(now, id, action, svc);
                return;
            }
            Action::DialLeg { leg, offer } => {
                // An explicit From (a trunk's) was presented by the router.
                let (from, target) = match &leg.from {
                    Some(from) => (from.clone(), leg.uri.clone()),
                    None => entry.presented(leg.uri.clone()),
                };
                let opts = CallOptions {
                    target,
                    from: Some(from),
                    to: leg.to.clone(),
                    body: offer.clone(),
                    credentials: leg.credentials.clone(),
                    flow: None,
                };
                self.place_leg(now, id, opts, svc);
                return;
            }
            Action::Classify(class) => {
                entry.class = class.clone();
                return;
            }
        };
        if let Err(e) = result {
            tracing::debug!(call = %id, ?action, error = %e, "action failed");
        }
    }

    /// `Action::DialTagged`: the number's phones, each leg announced with
    /// [`LegEvent::Placed`] before anything else happens to it.
    fn dial_tagged(&mut self, now: Instant, id: CallId, number: &str, tag: u64, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let first = entry.next_leg;
        let queued = self.pending.len();
        let offer = entry.caller_offer.clone();
        let caller = entry.call.caller().to_owned();
        match svc.router.route(&caller, number).split().0 {
            super::Routing::Dial(targets) => self.dial(now, id, targets, offer, number, svc),
            other => {
                let status = match other {
                    super::Routing::Refuse(cause) => cause.status(),
                    _ => 480,
                };
                let leg = LegId(entry.next_leg);
                entry.next_leg += 1;
                self.pending.push_back((id, LegEvent::Failed(leg, status)));
            }
        }
        let Some(entry) = self.calls.get(&id) else {
            return;
        };
        for (i, leg) in (first..entry.next_leg).enumerate() {
            self.pending
                .insert(queued + i, (id, LegEvent::Placed(LegId(leg), tag)));
        }
    }

    /// Places one outbound leg per target; a target that cannot be called
    /// fails at once (503) so the application sees every leg end.
    fn dial(
        &mut self,
        now: Instant,
        id: CallId,
        targets: Vec<crate::b2bua::app::DialTarget>,
        offer: Option<sip_stack::ua::Body>,
        to_user: &str,
        svc: Services<'_>,
    ) {
        for target in targets {
            let Some(entry) = self.calls.get(&id) else {
                return;
            };
            let mut to_uri = Uri::sip(self.config.domain.clone());
            to_uri.user = Some(to_user.to_owned());
            let flow = target.flow;
            let (from, target) = entry.presented(target.uri);
            let opts = CallOptions {
                target,
                from: Some(from),
                to: Some(NameAddr::new(to_uri)),
                body: offer.clone(),
                credentials: None,
                flow,
            };
            self.place_leg(now, id, opts, svc);
        }
    }

    /// Places one outbound leg; failing that, the leg fails at once (503).
    fn place_leg(&mut self, now: Instant, id: CallId, mut opts: CallOptions, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let leg = LegId(entry.next_leg);
        entry.next_leg += 1;
        if is_browser(&opts) {
            // A browser gets pbx's WebRTC offer (its leg ends in pbx).
            let offered = match (svc.anchor, &entry.anchor, opts.body.take()) {
                (Some(relay), Some(anchored), Some(body)) => relay
                    .offer_webrtc(anchored, &body.data)
                    .map(|data| Some(sip_stack::ua::Body { data, ..body })),
                (_, _, body) => Ok(body),
            };
            match offered {
                Ok(body) => opts.body = body,
                Err(e) => {
                    tracing::info!(call = %id, target = %opts.target, error = %e, "no WebRTC offer for a browser");
                    self.pending.push_back((id, LegEvent::Failed(leg, 488)));
                    return;
                }
            }
        }
        // The party without the header components of a presentation.
        let mut party = opts.target.clone();
        party.headers.clear();
        let party = party.to_string();
        match self.ua.call_with(now, opts) {
            Ok(session) => {
                let sip_call_id = self.ua.session_call_id(session).unwrap_or_default();
                entry.legs.push(Leg {
                    id: leg,
                    session,
                    state: LegState::Calling,
                    sip_call_id,
                    party,
                    status: 0,
                    codec: None,
                    placed_at: now,
                    endpoint: None,
                    caller_side: false,
                    remote_sdp: None,
                });
                self.sessions.insert(session, (id, leg));
            }
            Err(e) => {
                tracing::debug!(call = %id, target = %party, error = %e, "leg not placed");
                self.pending.push_back((id, LegEvent::Failed(leg, 503)));
            }
        }
    }

    /// An ended call: hang up what is left, release the relay, write the record.
    pub(super) fn finish(&mut self, now: Instant, id: CallId, svc: Services<'_>) {
        let Some(mut entry) = self.calls.remove(&id) else {
            return;
        };
        let cause = entry
            .call
            .ending()
            .map_or(HangupCause::Signalling, |(c, _)| c);
        for leg in &mut entry.legs {
            // A leg taken over by another call (attended transfer) stays there.
            if self
                .sessions
                .get(&leg.session)
                .is_some_and(|(c, _)| *c == id)
            {
                self.sessions.remove(&leg.session);
            }
            if leg.state == LegState::Ended {
                continue;
            }
            let unanswered_caller = leg.id == LegId::CALLER && leg.state != LegState::Answered;
            let r = if unanswered_caller {
                leg.status = cause.status();
                self.ua.reject(now, leg.session, StatusCode(cause.status()))
            } else {
                if leg.state != LegState::Answered {
                    leg.status = 487;
                }
                self.ua.hangup(now, leg.session)
            };
            if let Err(e) = r {
                tracing::debug!(call = %id, leg = %leg.id, error = %e, "leg not ended");
            }
            leg.state = LegState::Ended;
        }
        if let (Some(relay), Some(a)) = (svc.anchor, &entry.anchor) {
            relay.close(a);
        }
        if let Some(eps) = svc.endpoints {
            for e in entry.legs.iter_mut().filter_map(|l| l.endpoint.take()) {
                eps.close(e);
            }
        }
        let legs = entry.legs.iter().map(leg_record).collect();
        match CallRecord::of(&entry.call, legs, now) {
            Some(mut record) => {
                record.direction = entry.class.direction.as_str().into();
                record.did = entry.class.did.take();
                record.trunk = entry.class.trunk.take();
                record.caller_e164 = entry.class.caller_e164.take();
                record.callee_e164 = entry.class.callee_e164.take();
                tracing::debug!(call = %id, disposition = %record.disposition, cause = %record.hangup_cause, "call ended");
                self.emit(EngineEventKind::Record(Box::new(record)));
            }
            None => tracing::warn!(call = %id, "ended call without a record"),
        }
    }
}

fn leg_record(l: &Leg) -> LegRecord {
    LegRecord {
        leg: l.id.0,
        sip_call_id: l.sip_call_id.clone(),
        party: l.party.clone(),
        status: l.status,
        codec: l.codec.clone(),
    }
}

/// Whether a leg goes to a browser phone: it registered over WS/WSS (its
/// flow), or its contact says the WebSocket transport (RFC 7118 §5.2).
fn is_browser(opts: &CallOptions) -> bool {
    use sip_stack::Transport::{Ws, Wss};
    opts.flow.is_some_and(|f| matches!(f.transport, Ws | Wss))
        || matches!(opts.target.transport(), Some(Ws | Wss))
}
