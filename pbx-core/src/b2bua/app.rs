//! Applications: whatever owns a call for a while. The engine turns SIP
//! into [`LegEvent`]s and hands them to the call's [`Application`], which
//! answers with [`Action`]s; SDP arrives already rewritten for the relay, so
//! an application can pass it from one leg to another unchanged. Dial +
//! bridge ([`super::bridge::Bridge`]) is the first application; conference
//! rooms, IVR flows and queues plug in here without touching SIP code.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sip_stack::message::Uri;
use sip_stack::ua::Body;

use super::call::{Call, CallInput, HangupCause};
use super::{LegId, Timestamp};

/// A party to dial (one branch of a fork).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTarget {
    /// Request-URI (a registered contact).
    pub uri: Uri,
    /// The connection the contact registered on, for a WebSocket client
    /// (a browser: its contact is no address, RFC 7118 §5.2); such a target
    /// also gets pbx's WebRTC offer.
    pub flow: Option<sip_stack::Peer>,
}

/// Where a leg stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// INVITE sent or received, no answer.
    Calling,
    /// Rings (180) or sends early media (183).
    Ringing,
    /// Answered.
    Answered,
    /// Over.
    Ended,
}

/// What an application sees of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegView {
    /// The leg.
    pub id: LegId,
    /// Its state.
    pub state: LegState,
}

/// What an application sees of its call.
#[derive(Debug)]
pub struct AppView<'a> {
    /// The call.
    pub call: &'a Call,
    /// Its legs, caller first.
    pub legs: &'a [LegView],
    /// The engine's clock at this event (timers and wall-clock conditions).
    pub now: Timestamp,
}

impl AppView<'_> {
    /// Outbound legs not ended yet.
    pub fn live_outbound(&self) -> impl Iterator<Item = LegId> + '_ {
        self.legs
            .iter()
            .filter(|l| l.id != LegId::CALLER && l.state != LegState::Ended)
            .map(|l| l.id)
    }
}

/// Something that happened on a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegEvent {
    /// The caller's INVITE (leg 0), with its offer.
    Incoming {
        /// The offer, rewritten for the callee side.
        offer: Option<Body>,
    },
    /// An outbound leg rings.
    Ringing(LegId),
    /// An outbound leg sent early media.
    EarlyMedia(LegId, Body),
    /// An outbound leg answered.
    Answered(LegId, Option<Body>),
    /// An outbound leg failed with a final status (408 on timeout).
    Failed(LegId, u16),
    /// The leg's party ended it (BYE, or the caller's CANCEL).
    Ended(LegId),
    /// A re-INVITE on a leg (hold / resume / new media).
    Reoffer(LegId, Option<Body>),
    /// Our re-INVITE on a leg was answered.
    Updated(LegId, Option<Body>),
    /// Our re-INVITE on a leg failed.
    ReofferFailed(LegId, u16),
    /// A DTMF digit (SIP INFO) on a leg.
    Dtmf(LegId, char),
    /// The leg's party asks for a blind transfer of the other party to
    /// this number (REFER, RFC 3515; already answered 202 by the engine).
    TransferRequested(LegId, String),
    /// The application's own deadline ([`Application::poll_timeout`]) passed.
    Timer,
    /// A play started by [`Action::Play`] finished (or was stopped).
    PlayDone(LegId, u64),
    /// The answer to [`Action::Http`] with this id.
    HttpResult(u64, HttpOutcome),
    /// The recording started by [`Action::StartRecording`] ended.
    RecordDone {
        /// The leg recorded.
        leg: LegId,
        /// Where the WAV file is.
        path: PathBuf,
        /// Its length.
        duration: Duration,
    },
    /// The leg's pbx media endpoint was taken out of its conference room by
    /// the room (a moderator kicked it, or ended the room).
    RoomLeft(LegId),
    /// The legs of this application's [`Action::DialTagged`] `tag`: one
    /// event per leg placed (or failed at once), before any other event of
    /// that leg.
    Placed(LegId, u64),
    /// A message from the contact-center engine for a queue call
    /// ([`Action::Acd`] asks it things; `crate::queues` answers).
    Acd(AcdEvent),
    /// The number of this application's [`Action::DialNumber`] (a blind
    /// transfer, an IVR transfer node) is another application (IVR flow,
    /// conference room, trunk route): after this event that application owns
    /// the call and its caller's leg, and this one gets no more events.
    /// Release what it holds now: tell the transferor (NOTIFY 200, RFC 3515
    /// §2.4.5) and hang it up, store what it keeps. The engine then hangs up
    /// any other leg left, releases the caller's pbx media and hands the
    /// new application [`LegEvent::Incoming`] with the caller's offer; its
    /// answer reaches the already answered caller as a re-INVITE.
    HandedOver,
    /// An attended transfer (REFER with `Replaces`, RFC 3891 / RFC 5589 §7)
    /// moved a leg of another call into this one in place of the
    /// transferor's leg `old`, which the engine has notified and hung up:
    /// from now on `new` stands where `old` stood (relay side included).
    Replaced {
        /// The transferor's leg (ended).
        old: LegId,
        /// The transfer target's leg, taken over from its own call.
        new: LegId,
    },
}

pub use crate::http_client::HttpOutcome;

/// What a queue call asks of the contact-center engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcdRequest {
    /// The caller waits in `queue` from now on (answered, music playing).
    Enter {
        /// The queue.
        queue: String,
        /// The caller's number (E.164 when known).
        number: String,
        /// Caller priority (dial plan, IVR); higher is served sooner.
        priority: i32,
    },
    /// The caller hung up (or the call ended).
    Hangup,
    /// The caller pressed a key while waiting.
    Dtmf(char),
    /// The agent leg of `offer` answered.
    OfferAnswered(u64),
    /// The agent leg(s) of `offer` failed with this status (408: no answer).
    OfferFailed {
        /// The offer.
        offer: u64,
        /// Final SIP status.
        status: u16,
    },
    /// The call was bridged to its agent and that part of it ended; the
    /// agent goes to wrap-up.
    Completed,
    /// An agent's feature code (`*51` …): `op` for the calling agent.
    Agent {
        /// The agent (the caller's user).
        agent: String,
        /// `toggle` (log in / out), `break`, `ready`.
        op: String,
    },
}

/// What the contact-center engine tells a queue call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcdEvent {
    /// Ring this agent (dial their user) for the caller.
    Offer {
        /// The offer (echoed in `OfferAnswered` / `OfferFailed`).
        offer: u64,
        /// The agent's user.
        agent: String,
        /// Give up ringing after this long.
        ring_timeout: Duration,
    },
    /// Stop ringing (or hang up) the legs of this offer.
    CancelOffer(u64),
    /// The agent of this offer takes the call: bridge them.
    Connect(u64),
    /// Play these prompts to the waiting caller, then music again.
    Announce(Vec<PathBuf>),
    /// Leave the queue: dial this number instead (None: end the call, busy).
    Overflow(Option<String>),
    /// The caller asked to be called back: confirm and hang up.
    CallbackAccepted,
    /// The queue refused the caller (unknown queue, full, nobody logged in).
    Refused,
    /// An agent's feature code was carried out (true) or refused.
    AgentDone(bool),
}

/// A participant's role in a conference room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRole {
    /// The host: may mute, kick, lock and end the room.
    Moderator,
    /// Everyone else.
    Guest,
}

/// What an application asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Place outbound legs (in parallel) with this offer.
    Dial {
        /// One leg per target.
        targets: Vec<DialTarget>,
        /// The offer.
        offer: Option<Body>,
    },
    /// A provisional response on the caller's leg (180, 183 with SDP).
    Progress {
        /// The leg (the caller's).
        leg: LegId,
        /// 180 or 183.
        status: u16,
        /// Early media answer.
        sdp: Option<Body>,
    },
    /// Answer the caller's leg (200 OK).
    Answer {
        /// The leg.
        leg: LegId,
        /// The answer.
        sdp: Option<Body>,
    },
    /// Refuse the caller's leg with the cause's status.
    Reject {
        /// The leg.
        leg: LegId,
        /// Why.
        cause: HangupCause,
    },
    /// End a leg whatever its state (CANCEL or BYE).
    Hangup(LegId),
    /// Send a re-INVITE on a leg.
    Reinvite {
        /// The leg.
        leg: LegId,
        /// The new offer.
        sdp: Option<Body>,
    },
    /// Answer a re-INVITE received on a leg.
    AnswerReoffer {
        /// The leg.
        leg: LegId,
        /// The answer.
        sdp: Option<Body>,
    },
    /// Refuse a re-INVITE received on a leg.
    RejectReoffer {
        /// The leg.
        leg: LegId,
        /// Status.
        status: u16,
    },
    /// Place outbound legs to a number, routed like a new call (dial plan,
    /// registrar), offering the caller's media.
    DialNumber {
        /// The number or user to dial.
        number: String,
    },
    /// Like [`Action::DialNumber`] for a number that must be phones (an
    /// agent): each leg placed is reported as [`LegEvent::Placed`] with
    /// `tag`; a number that routes to an application fails with 480.
    DialTagged {
        /// The number or user to dial.
        number: String,
        /// Echoed in `Placed`.
        tag: u64,
    },
    /// Ask the contact-center engine (queues, agents) something about this
    /// call; its answers come back as [`LegEvent::Acd`].
    Acd(AcdRequest),
    /// Report a transfer's progress to the leg that asked for it (NOTIFY
    /// with a sipfrag status line, RFC 3515 §2.4.4).
    NotifyTransfer {
        /// The transferor's leg.
        leg: LegId,
        /// Status of the transfer call (200 once it is answered).
        status: u16,
    },
    /// Tell the call state machine (ringing, answered, bridged, hold, hangup).
    Call(CallInput),
    /// Answer the leg with pbx's own media endpoint (IVR, conference, music
    /// on hold): pbx sends and receives the leg's audio itself. DTMF from
    /// RFC 4733 events and in-band tones arrives as [`LegEvent::Dtmf`].
    AnswerMedia {
        /// The leg (the caller's).
        leg: LegId,
    },
    /// Play WAV prompts (8 kHz mono) in order on a leg answered with
    /// [`Action::AnswerMedia`]; [`LegEvent::PlayDone`] follows.
    Play {
        /// The leg.
        leg: LegId,
        /// Echoed in `PlayDone`.
        id: u64,
        /// Files, played in order.
        prompts: Vec<PathBuf>,
        /// Loop until stopped (music on hold).
        repeat: bool,
    },
    /// Stop play `id` on a leg (no `PlayDone` follows).
    StopPlay {
        /// The leg.
        leg: LegId,
        /// The play.
        id: u64,
    },
    /// Record what the leg's party says into a WAV file;
    /// [`LegEvent::RecordDone`] follows.
    StartRecording {
        /// The leg.
        leg: LegId,
        /// Beep first.
        beep: bool,
        /// Longest recording.
        max: Duration,
    },
    /// Stop the leg's recording.
    StopRecording {
        /// The leg.
        leg: LegId,
    },
    /// Put the leg (answered with `AnswerMedia`) into a conference room,
    /// created on first use.
    JoinRoom {
        /// The leg.
        leg: LegId,
        /// Room number.
        room: String,
        /// Role.
        role: RoomRole,
    },
    /// Release the leg's pbx media endpoint (leaving its room); its audio
    /// goes back to the relay, to whichever leg is bridged next.
    ReleaseMedia {
        /// The leg.
        leg: LegId,
    },
    /// POST a JSON body to a URL outside the engine (IVR http nodes);
    /// [`LegEvent::HttpResult`] follows.
    Http {
        /// Echoed in `HttpResult`.
        id: u64,
        /// URL.
        url: String,
        /// JSON body.
        body_json: String,
        /// Give up after this long.
        timeout: Duration,
    },
    /// Place one outbound leg with explicit identities and credentials (a
    /// SIP trunk: From is the caller id presented to the carrier, a 401/407
    /// is answered with the trunk's account, RFC 3261 §22.2).
    DialLeg {
        /// The INVITE to send.
        leg: Box<LegSpec>,
        /// The offer.
        offer: Option<Body>,
    },
    /// Classify the call for its record (direction, service number, trunk);
    /// the last classification before the end wins.
    Classify(CallClass),
    /// A conference operation by the participant on a leg that joined a
    /// room with [`Action::JoinRoom`] (moderator controls of SPEC §20).
    RoomControl {
        /// The participant's leg.
        leg: LegId,
        /// What to do.
        op: RoomControl,
    },
}

/// A conference operation ([`Action::RoomControl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomControl {
    /// Moderator: mute every speaking guest at once.
    MuteGuests,
    /// Moderator: ask every muted guest to unmute; each guest stays muted
    /// until they accept with `1` (SPEC §20 consent rule).
    RequestUnmuteGuests,
    /// Moderator: lock (true) or unlock the room to new guests.
    Lock(bool),
    /// Moderator: end the room; every participant's leg gets
    /// [`LegEvent::RoomLeft`].
    End,
    /// A key of the participant for the room itself: `1` / `2` accept or
    /// decline an unmute request, `*` toggles self-mute.
    Key(char),
}

/// An owner of a call. Implementations are sans-IO: they never block and
/// never see SIP messages.
pub trait Application: Send {
    /// A short name for logs (`bridge`, `conference`, ...).
    fn name(&self) -> &'static str;
    /// Reacts to one leg event.
    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>);
    /// The application's next deadline: when it passes the engine hands it
    /// [`LegEvent::Timer`].
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// An application that refuses the call at once with a cause: routes whose
/// feature has not landed yet (IVR 501, queue 480, trunk / conference 501).
#[derive(Debug, Clone, Copy)]
pub struct Refuse(pub HangupCause);

impl Application for Refuse {
    fn name(&self) -> &'static str {
        "refuse"
    }

    fn handle(&mut self, _view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        if let LegEvent::Incoming { .. } = event {
            out.push(Action::Reject {
                leg: LegId::CALLER,
                cause: self.0,
            });
            out.push(Action::Call(CallInput::Hangup(
                self.0,
                super::call::Side::Pbx,
            )));
        }
    }
}

/// One outbound INVITE of [`Action::DialLeg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSpec {
    /// Request-URI (`sip:+31201234567@carrier:5060;transport=tcp`).
    pub uri: Uri,
    /// From without tag (None: the caller's identity).
    pub from: Option<sip_stack::message::NameAddr>,
    /// To (None: the Request-URI).
    pub to: Option<sip_stack::message::NameAddr>,
    /// Credentials answering a challenge (None: none).
    pub credentials: Option<sip_stack::ua::Credentials>,
}

/// Which way a call crosses pbx's boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Between local users.
    #[default]
    Internal,
    /// From a trunk to a local target.
    Inbound,
    /// From a local user out through a trunk.
    Outbound,
}

impl Direction {
    /// `internal`, `inbound` or `outbound` (the records' column).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// What a call's record says about where it came from and went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallClass {
    /// Direction.
    pub direction: Direction,
    /// The service number (DID) an inbound call was made to.
    pub did: Option<String>,
    /// The trunk carrying the call.
    pub trunk: Option<String>,
    /// The caller's number in E.164, when known (an inbound call's caller
    /// under the trunk's rules).
    pub caller_e164: Option<String>,
    /// The called number in E.164, when known (an inbound call's DID, the
    /// number an outbound call was sent to the trunk with).
    pub callee_e164: Option<String>,
}
