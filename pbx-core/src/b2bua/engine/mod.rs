//! The engine: pbx's [`UserAgent`] plus the calls it carries. Every message
//! of a B2BUA call goes through [`Engine::handle_message`]; the clock through
//! [`Engine::handle_timeout`] at [`Engine::poll_timeout`]. Datagrams to send
//! are appended to the caller's `Outbox`. The engine reads no clock: time
//! comes in as an `Instant` and wall time is derived from the `epoch` it was
//! built with.
//!
//! UA events become [`LegEvent`]s (with SDP rewritten by the relay for the
//! other side) for the call's [`Application`]; its [`Action`]s become UA
//! commands (`actions.rs`). Everything that happens — call events, the
//! record of an ended call, its media quality — leaves as a numbered
//! [`EngineEvent`] through [`Engine::poll_event`]; the driver delivers them.

mod actions;
mod call_control;
mod commands;
mod handover;
mod jobs;
mod legs;
mod media_actions;
#[cfg(test)]
mod media_tests;
mod moh;
mod originate;
#[cfg(test)]
mod tests;
mod xfer;
mod xfer_app;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sip_stack::deadlines::DeadlineMap;
use sip_stack::message::SipMessage;
use sip_stack::ua::{Output, SessionId, UaConfig, UserAgent};
use sip_stack::Peer;

use super::app::{Action, AppView, Application, DialTarget, LegEvent, LegState, LegView};
use super::call::{Call, CallState, HangupCause};
use super::cdr::LegQuality;
use super::events::{EngineEvent, EngineEventKind};
use super::{CallId, LegId, Timestamp};
use crate::media_anchor::{Anchored, RelayDtmf};
use crate::sans_io::Outbox;

pub use commands::{Command, CommandError, CommandResult};
pub use jobs::HttpJob;
pub use originate::Originate;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// pbx's user agent: AOR (`sip:pbx@domain`), Contact, Via address.
    pub ua: UaConfig,
    /// The served domain (To of outbound legs).
    pub domain: String,
    /// How long a call may ring unanswered.
    pub ring_timeout: Duration,
    /// A reading of both clocks at start: wall time of later instants is
    /// `epoch.unix_ms + (instant - epoch.instant)`.
    pub epoch: Timestamp,
    /// Music on hold: the held party of a bridged call is re-INVITEd to a
    /// pbx media endpoint looping this WAV (None: holds pass through).
    pub music_on_hold: Option<std::path::PathBuf>,
}

/// What a dialed number leads to.
#[non_exhaustive]
pub enum Routing {
    /// Ring these contacts and bridge the first that answers.
    Dial(Vec<DialTarget>),
    /// Refuse the call with this cause.
    Refuse(HangupCause),
    /// Hand the call to this application (IVR flow, conference room, trunk
    /// route, queue): the router builds it, the engine only runs it.
    App(Box<dyn Application>),
    /// Route as `routing`, presenting the caller on the legs the engine
    /// places as `caller_id` says (dial plan presentation rules; see
    /// [`crate::b2bua::presentation`]).
    Presented {
        /// The routing itself.
        routing: Box<Routing>,
        /// Number, name, privacy.
        caller_id: crate::dialplan::CallerId,
    },
}

impl Routing {
    /// The application that runs a call routed this way.
    pub fn into_app(self) -> Box<dyn Application> {
        match self {
            Self::Dial(targets) => Box::new(super::bridge::Bridge::new(targets)),
            Self::Refuse(cause) => Box::new(super::app::Refuse(cause)),
            Self::App(app) => app,
            Self::Presented { routing, .. } => routing.into_app(),
        }
    }

    /// The routing without its presentation, and the presentation.
    pub fn split(self) -> (Self, Option<crate::dialplan::CallerId>) {
        match self {
            Self::Presented { routing, caller_id } => (routing.split().0, Some(caller_id)),
            other => (other, None),
        }
    }
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dial(t) => f.debug_tuple("Dial").field(t).finish(),
            Self::Refuse(c) => f.debug_tuple("Refuse").field(c).finish(),
            Self::App(a) => f.debug_tuple("App").field(&a.name()).finish(),
            Self::Presented { routing, caller_id } => f
                .debug_struct("Presented")
                .field("routing", routing)
                .field("caller_id", caller_id)
                .finish(),
        }
    }
}

/// The dial plan and the location service as the engine sees them.
pub trait Router {
    /// Where a call from `caller` to the dialed `dialed` goes.
    fn route(&self, caller: &str, dialed: &str) -> Routing;
}

/// Shared services the engine uses while handling one input.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    /// Routing.
    pub router: &'a dyn Router,
    /// The media relay (None: media flows end to end).
    pub anchor: Option<&'a dyn crate::media_anchor::MediaRelay>,
    /// pbx's own media endpoints (None: applications cannot answer with
    /// media; `AnswerMedia` refuses the call with 503).
    pub endpoints: Option<&'a dyn crate::b2bua::media::MediaEndpoints>,
}

/// A live call as `pbx calls` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCall {
    /// Call id.
    pub id: CallId,
    /// Caller.
    pub caller: String,
    /// Dialed number.
    pub callee: String,
    /// State name.
    pub state: &'static str,
    /// Seconds since creation.
    pub age_s: u64,
    /// The application owning the call.
    pub app: &'static str,
    /// Number of legs (ended ones included).
    pub legs: usize,
    /// The parties (SIP URIs) of the legs still up: the agent a call was
    /// transferred to is one.
    pub parties: Vec<String>,
}

#[derive(Debug, Clone)]
struct Leg {
    id: LegId,
    session: SessionId,
    state: LegState,
    sip_call_id: String,
    party: String,
    status: u16,
    codec: Option<String>,
    placed_at: Instant,
    /// pbx's media endpoint answering this leg (`Action::AnswerMedia`).
    endpoint: Option<media::endpoint::EndpointId>,
    /// The leg talks to the relay's caller side (the caller's leg, or the
    /// leg that replaced it in an attended transfer).
    caller_side: bool,
    /// The last SDP the leg's party sent, as received (attended transfer
    /// offers it to the new party).
    remote_sdp: Option<sip_stack::ua::Body>,
}

struct CallEntry {
    call: Call,
    legs: Vec<Leg>,
    app: Box<dyn Application>,
    anchor: Option<Anchored>,
    next_leg: u32,
    /// The caller's From without tag: the identity shown to callees.
    identity: sip_stack::message::NameAddr,
    /// The caller's offer as rewritten for the callee side (transfers
    /// offer it to the new party).
    caller_offer: Option<sip_stack::ua::Body>,
    /// Direction, DID and trunk for the record ([`Action::Classify`]).
    class: super::app::CallClass,
    /// The engine's ring timeout (legs of an answered call give up after it).
    ring: Duration,
    /// The application taking the call over after [`LegEvent::HandedOver`].
    successor: Option<Box<dyn Application>>,
    /// How the caller is presented on the legs placed for its route.
    caller_id: Option<crate::dialplan::CallerId>,
    /// The re-INVITEs of an attended transfer that joined a leg into this
    /// call, in progress.
    join: Option<xfer::Join>,
    /// Music on hold playing to a held party.
    moh: Option<moh::Moh>,
    /// The leg pbx transfers away for the API (blind, no REFER): its
    /// transfer progress is not NOTIFYed.
    api_transferor: Option<LegId>,
    /// pbx placed the call (`originate.rs`): leg 0 is the agent.
    originated: bool,
    /// A call pbx placed whose first party has not answered yet
    /// (`originate.rs`; leg 0 is pbx's own INVITE): where the number goes
    /// once it answers.
    originating: Option<Routing>,
}

impl sip_stack::deadlines::Deadline for CallEntry {
    /// The call's own timers, its ringing transfer legs, its application's.
    fn deadline(&self) -> Option<Instant> {
        self.call
            .poll_timeout()
            .into_iter()
            .chain(self.leg_deadline(self.ring))
            .chain(self.app.poll_timeout())
            .min()
    }
}

impl CallEntry {
    /// When an unanswered outbound leg of an answered call (a transfer
    /// target) gives up: the call's own ring timeout covers the rest.
    fn leg_deadline(&self, ring_timeout: Duration) -> Option<Instant> {
        if self.call.state() != CallState::Answered {
            return None;
        }
        self.legs
            .iter()
            .filter(|l| l.id != LegId::CALLER)
            .filter(|l| matches!(l.state, LegState::Calling | LegState::Ringing))
            .map(|l| l.placed_at + ring_timeout)
            .min()
    }

    /// The From of a leg to `target` and the target carrying the extra
    /// headers of the call's caller-id presentation. Registered phones are
    /// outside the trust domain: no asserted identity (RFC 3325 §5).
    fn presented(
        &self,
        mut target: sip_stack::message::Uri,
    ) -> (sip_stack::message::NameAddr, sip_stack::message::Uri) {
        let Some(rule) = &self.caller_id else {
            return (self.identity.clone(), target);
        };
        let p = super::presentation::present(&self.identity, rule, false);
        super::presentation::add_headers(&mut target, &p.headers);
        (p.from, target)
    }

    fn leg_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        self.legs.iter_mut().find(|l| l.id == id)
    }

    fn leg(&self, id: LegId) -> Option<&Leg> {
        self.legs.iter().find(|l| l.id == id)
    }
}

/// The B2BUA engine; see the module docs.
pub struct Engine {
    ua: UserAgent,
    config: EngineConfig,
    calls: DeadlineMap<CallId, CallEntry>,
    sessions: HashMap<SessionId, (CallId, LegId)>,
    /// Relay session id → call id, until the relay reports the final stats.
    relay_calls: HashMap<u64, String>,
    /// Media endpoint → its call and leg (until the endpoint reports closed).
    endpoints: HashMap<media::endpoint::EndpointId, media_actions::MediaLeg>,
    next_call: u64,
    /// Output not yet drained by the driver ([`Engine::poll_event`]).
    events: VecDeque<EngineEvent>,
    /// Number of events emitted so far.
    seq: u64,
    pending: VecDeque<(CallId, LegEvent)>,
    /// HTTP requests of applications waiting for the driver.
    jobs: VecDeque<HttpJob>,
    /// Queue calls' requests to the contact-center engine.
    acd_requests: VecDeque<(CallId, super::app::AcdRequest)>,
}

impl Engine {
    /// An engine with no calls.
    pub fn new(config: EngineConfig) -> Self {
        let mut ua_config = config.ua.clone();
        // Ringing is sent when the callee rings, not on arrival.
        ua_config.auto_ringing = false;
        // Legs reach UDP and TCP parties alike (the contact's `;transport=`).
        ua_config.uri_transport = true;
        Self {
            ua: UserAgent::new(ua_config),
            // Call ids continue from a random 64-bit start: ids of different
            // runs do not meet in the records table.
            next_call: config.ua.seed.rotate_left(17),
            config,
            calls: DeadlineMap::new(),
            sessions: HashMap::new(),
            relay_calls: HashMap::new(),
            endpoints: HashMap::new(),
            events: VecDeque::new(),
            seq: 0,
            pending: VecDeque::new(),
            jobs: VecDeque::new(),
            acd_requests: VecDeque::new(),
        }
    }

    /// The next output event, oldest first: drain after every `handle_*`.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Queues an output event with the next sequence number.
    fn emit(&mut self, kind: EngineEventKind) {
        self.seq += 1;
        self.events.push_back(EngineEvent {
            seq: self.seq,
            kind,
        });
    }

    /// A SIP message for a B2BUA call (anything but REGISTER and OPTIONS to
    /// the server), already validated and authenticated by the SIP core.
    pub fn handle_message(
        &mut self,
        now: Instant,
        msg: SipMessage,
        peer: Peer,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        self.ua.handle_message(now, msg, peer);
        self.pump(now, svc, out);
    }

    /// Runs the timers due at `now` (transactions, 2xx retransmissions,
    /// ring timeouts).
    pub fn handle_timeout(&mut self, now: Instant, svc: Services<'_>, out: &mut Outbox) {
        self.ua.handle_timeout(now);
        self.pump(now, svc, out);
        let ring = self.config.ring_timeout;
        for id in self.calls.due(now) {
            if let Some(entry) = self.calls.get_mut(&id) {
                entry.call.handle_timeout(now);
                for leg in entry.legs.iter_mut().filter(|l| {
                    l.id != LegId::CALLER
                        && matches!(l.state, LegState::Calling | LegState::Ringing)
                        && l.placed_at + ring <= now
                        && entry.call.state() == CallState::Answered
                }) {
                    leg.state = LegState::Ended;
                    leg.status = 408;
                    if let Err(e) = self.ua.hangup(now, leg.session) {
                        tracing::debug!(call = %id, error = %e, "leg not cancelled");
                    }
                    self.pending.push_back((id, LegEvent::Failed(leg.id, 408)));
                }
                if entry.app.poll_timeout().is_some_and(|t| t <= now) {
                    self.pending.push_back((id, LegEvent::Timer));
                }
            }
            self.after_call(now, id, svc);
        }
        self.pump(now, svc, out);
    }

    /// The earliest deadline of the user agent and the calls.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .next_deadline()
            .into_iter()
            .chain(self.ua.poll_timeout())
            .min()
    }

    /// The trunk carrying `call` (inbound or outbound; None: none or
    /// unknown call): the recording policy of trunks.
    pub fn call_trunk(&self, call: CallId) -> Option<&str> {
        self.calls.get(&call)?.class.trunk.as_deref()
    }

    /// The relay session anchoring `call`'s media ([`Anchored::relay_id`];
    /// None for an unknown or unanchored call): the driver sets a
    /// recording tap on it when the call is to be recorded.
    pub fn relay_session(&self, call: CallId) -> Option<u64> {
        self.calls
            .get(&call)?
            .anchor
            .as_ref()
            .map(Anchored::relay_id)
    }

    /// Final media stats of a relay session (from `MediaAnchor::poll_events`):
    /// adds per-leg quality to the call's record.
    pub fn handle_relay_closed(&mut self, relay_session: u64, legs: [LegQuality; 2]) {
        if let Some(call_id) = self.relay_calls.remove(&relay_session) {
            self.emit(EngineEventKind::Quality { call_id, legs });
        }
    }

    /// A key pressed on a leg of a relayed call (an RFC 4733 telephone-event
    /// the relay saw, from `MediaAnchor::poll_dtmf`): the call's application
    /// gets [`LegEvent::Dtmf`] for the caller (side A) or for the leg the
    /// relay's callee side serves (side B: the answered leg), as for SIP
    /// INFO keys; the bridge turns it into a `CallEventKind::Dtmf` event.
    /// While pbx's own media answers the call the endpoint reports the keys
    /// itself, so the relay's report is dropped.
    pub fn handle_relay_dtmf(
        &mut self,
        now: Instant,
        dtmf: RelayDtmf,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        let Some((&id, entry)) = self.calls.iter().find(|(_, c)| {
            c.anchor
                .as_ref()
                .is_some_and(|a| a.relay_id() == dtmf.relay_id)
        }) else {
            return;
        };
        let live = |l: &&Leg| l.state != LegState::Ended;
        if entry.legs.iter().filter(live).any(|l| l.endpoint.is_some()) {
            return;
        }
        let leg = match dtmf.side {
            media::relay::Side::A => Some(LegId::CALLER),
            media::relay::Side::B => entry
                .legs
                .iter()
                .rev()
                .find(|l| l.id != LegId::CALLER && l.state == LegState::Answered)
                .map(|l| l.id),
        };
        let Some(leg) = leg else {
            return;
        };
        tracing::debug!(call = %id, %leg, digit = %dtmf.digit, "DTMF through the relay");
        self.pending
            .push_back((id, LegEvent::Dtmf(leg, dtmf.digit)));
        self.pump(now, svc, out);
    }

    /// The next request of a queue call to the contact-center engine
    /// (`Action::Acd`), oldest first: drain after every `handle_*`.
    pub fn poll_acd_request(&mut self) -> Option<(CallId, super::app::AcdRequest)> {
        self.acd_requests.pop_front()
    }

    /// A message of the contact-center engine for call `id` (its
    /// application gets [`LegEvent::Acd`]); unknown calls are ignored.
    pub fn handle_acd_event(
        &mut self,
        now: Instant,
        id: CallId,
        event: super::app::AcdEvent,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        if self.calls.contains_key(&id) {
            self.pending.push_back((id, LegEvent::Acd(event)));
            self.pump(now, svc, out);
        }
    }

    /// The live calls.
    pub fn live_calls(&self, now: Instant) -> Vec<LiveCall> {
        self.calls
            .values()
            .map(|c| LiveCall {
                id: c.call.id(),
                caller: c.call.caller().to_owned(),
                callee: c.call.callee().to_owned(),
                state: c.call.state().as_str(),
                age_s: c.call.duration_ms(now) / 1000,
                app: c.app.name(),
                legs: c.legs.len(),
                parties: c
                    .legs
                    .iter()
                    .filter(|l| l.state != LegState::Ended)
                    .map(|l| l.party.clone())
                    .collect(),
            })
            .collect()
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is live.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Drains the UA: datagrams out, events to the calls (whose actions may
    /// produce more output), until nothing is left.
    fn pump(&mut self, now: Instant, svc: Services<'_>, out: &mut Outbox) {
        loop {
            let mut idle = true;
            while let Some(o) = self.ua.poll_output() {
                idle = false;
                match o {
                    Output::Transmit { peer, data } => out.push((peer, data)),
                    Output::Event(ev) => self.on_ua_event(now, ev, svc),
                }
            }
            while let Some((id, ev)) = self.pending.pop_front() {
                idle = false;
                self.dispatch(now, id, ev, svc);
            }
            if idle {
                self.calls.refresh();
                return;
            }
        }
    }

    /// Hands a leg event to the call's application and runs its actions.
    fn dispatch(&mut self, now: Instant, id: CallId, ev: LegEvent, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let views: Vec<LegView> = entry
            .legs
            .iter()
            .map(|l| LegView {
                id: l.id,
                state: l.state,
            })
            .collect();
        let mut actions = Vec::new();
        let stamp = self.config.epoch.at(now);
        entry.app.handle(
            &AppView {
                call: &entry.call,
                legs: &views,
                now: stamp,
            },
            &ev,
            &mut actions,
        );
        for action in actions {
            self.execute(now, id, action, svc);
        }
        if ev == LegEvent::HandedOver {
            self.take_over(now, id, svc);
        }
        self.after_call(now, id, svc);
    }

    /// Publishes the call's events; an ended call is torn down and recorded.
    fn after_call(&mut self, now: Instant, id: CallId, svc: Services<'_>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let ended = entry.call.state() == CallState::Ended;
        while let Some(ev) = entry.call.poll_event() {
            self.seq += 1;
            self.events.push_back(EngineEvent {
                seq: self.seq,
                kind: EngineEventKind::Call(ev),
            });
        }
        if ended {
            self.finish(now, id, svc);
        }
    }

    /// Wall time of `instant`.
    fn timestamp(&self, instant: Instant) -> Timestamp {
        self.config.epoch.at(instant)
    }
}

/// Actions are executed one by one; an action may not apply any more (the
/// leg ended meanwhile): it is dropped with a debug log.
fn stale(id: CallId, action: &Action) {
    tracing::debug!(call = %id, ?action, "action on an ended leg ignored");
}
