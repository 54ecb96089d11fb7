//! A sans-IO SIP user agent (RFC 3261 §8, §10, §12–15; RFC 3515 REFER;
//! RFC 6086 INFO) on top of the [`TransactionLayer`].
//!
//! [`UserAgent`] owns a transaction layer, a registration client and the
//! INVITE sessions of one account. It follows the crate's run-loop
//! contract: feed received messages with [`UserAgent::handle_message`] and
//! the clock with [`UserAgent::handle_timeout`], issue commands
//! ([`UserAgent::register`], [`UserAgent::call`], [`UserAgent::answer`],
//! [`UserAgent::hangup`], ...), then drain [`UserAgent::poll_output`]
//! (datagrams to send and [`UaEvent`]s) and sleep until
//! [`UserAgent::poll_timeout`]. It never reads a clock, owns no socket and
//! draws tags, branches and cnonces from a seeded generator.
//!
//! Next hops: out-of-dialog requests go to the configured outbound proxy
//! (RFC 3261 §8.1.2); in-dialog requests go to the first Route or the
//! remote target when it is an IP literal, else to the outbound proxy. The
//! core does no DNS.
//!
//! Session descriptions are opaque [`Body`]s: hold/resume is a re-INVITE
//! whose SDP the caller writes (`a=sendonly`), the UA only carries it.
//!
//! Two agents calling each other through an in-memory "network":
//!
//! ```
//! use std::time::Instant;
//! use sip_stack::message::SipMessage;
//! use sip_stack::ua::{Output, UaConfig, UaEvent, UserAgent};
//! use sip_stack::{Peer, Uri};
//!
//! let (a_addr, b_addr) = ("10.0.0.1:5060".parse().unwrap(), "10.0.0.2:5060".parse().unwrap());
//! let mut a = UaConfig::new(Uri::parse("sip:alice@example.com").unwrap(), a_addr);
//! a.outbound_proxy = Some(b_addr); // no proxy here: straight to bob
//! let b = UaConfig::new(Uri::parse("sip:bob@example.com").unwrap(), b_addr);
//! let mut uas = [UserAgent::new(a), UserAgent::new(b)];
//! let now = Instant::now();
//! let call = uas[0].call(now, Uri::parse("sip:bob@10.0.0.2").unwrap(), None).unwrap();
//! let mut answered = false;
//! // The driver loop: drain outputs, deliver datagrams, react to events.
//! for _ in 0..20 {
//!     for i in 0..2 {
//!         while let Some(out) = uas[i].poll_output() {
//!             match out {
//!                 Output::Transmit { peer, data } => {
//!                     let to = if peer.addr == a_addr { 0 } else { 1 };
//!                     let from = Peer::udp(if i == 0 { a_addr } else { b_addr });
//!                     uas[to].handle_message(now, SipMessage::parse(data).unwrap(), from);
//!                 }
//!                 Output::Event(UaEvent::IncomingCall { session, .. }) => {
//!                     uas[i].answer(now, session, None).unwrap();
//!                 }
//!                 Output::Event(UaEvent::Answered { session, .. }) => answered = session == call,
//!                 Output::Event(_) => {}
//!             }
//!         }
//!     }
//! }
//! assert!(answered);
//! // Otherwise: sleep until `poll_timeout()`, then `handle_timeout(now)`.
//! ```

mod b2b;
mod helpers;
mod incoming;
mod prack;
mod register;
mod replaces;
mod session;
mod session_timer;
mod uac;
mod update;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use crate::deadlines::DeadlineMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::{Method, NameAddr, Request, StatusCode, Uri};
use crate::peer::{Peer, Transport};
use crate::transaction::{ClientTxId, Output as TxOutput, TimerConfig, TransactionLayer, TxEvent};

pub use b2b::CallOptions;
use helpers::Rng;
use register::Registration;
use session::Session;

/// A user agent's handle on one INVITE session (call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A Call-ID header value (RFC 3261 §20.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message body with its Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Content-Type value, e.g. `application/sdp`.
    pub content_type: String,
    /// The bytes.
    pub data: Bytes,
}

impl Body {
    /// An `application/sdp` body.
    pub fn sdp(data: impl Into<Bytes>) -> Self {
        Self {
            content_type: "application/sdp".into(),
            data: data.into(),
        }
    }
}

/// Digest credentials of the account (RFC 3261 §22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Digest username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Configuration of a [`UserAgent`].
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Address of record, e.g. `sip:1001@pbx.example.com` (From of our requests).
    pub aor: Uri,
    /// Display name for From.
    pub display_name: Option<String>,
    /// Credentials used when challenged (401/407).
    pub credentials: Option<Credentials>,
    /// Our Contact URI (where we receive requests).
    pub contact: Uri,
    /// Transport for Via and the next hop.
    pub transport: Transport,
    /// Local address written in Via (`sent-by`).
    pub local_addr: SocketAddr,
    /// Where out-of-dialog requests (and in-dialog ones with a host-name
    /// target) are sent.
    pub outbound_proxy: Option<SocketAddr>,
    /// Requested registration lifetime in seconds.
    pub register_expires: u32,
    /// First retry delay after a failed registration; doubles per failure.
    pub register_retry_base: Duration,
    /// Upper bound of the registration retry delay.
    pub register_retry_max: Duration,
    /// Send `180 Ringing` as soon as an INVITE arrives.
    pub auto_ringing: bool,
    /// Learn our public address from the `received`/`rport` parameters the
    /// registrar puts in our Via (RFC 3261 §18.2.1, RFC 3581 §4): when they
    /// differ from the Contact, the Contact is rewritten to them and
    /// registered again (the old binding is removed in the same REGISTER).
    /// On TCP/TLS that makes the Contact the connection's own address, so
    /// the server reaches us over the flow we opened (RFC 5626 §5.3).
    pub learn_contact: bool,
    /// Reach a target over the transport its URI names (`;transport=tcp`,
    /// RFC 3263 §4.1 without DNS) instead of always [`UaConfig::transport`]:
    /// a B2BUA talks to UDP and TCP peers from one agent. Requests through
    /// the outbound proxy keep [`UaConfig::transport`].
    pub uri_transport: bool,
    /// RFC 3261 timers for the transaction layer and 2xx retransmission.
    pub timers: TimerConfig,
    /// Seed for tags, branches, Call-IDs and cnonces.
    pub seed: u64,
    /// User-Agent header value.
    pub user_agent: String,
    /// Session timers (RFC 4028): the interval we ask for in INVITEs and
    /// grant to callers that do not ask; `None` uses them only when the
    /// peer asks. Dead calls end with a BYE after one interval.
    pub session_expires: Option<Duration>,
}

impl UaConfig {
    /// A config for `aor` reachable at `local_addr` over UDP, everything else default.
    pub fn new(aor: Uri, local_addr: SocketAddr) -> Self {
        let mut contact = Uri::sip(local_addr.ip().to_string());
        contact.user.clone_from(&aor.user);
        contact.port = Some(local_addr.port());
        Self {
            aor,
            display_name: None,
            credentials: None,
            contact,
            transport: Transport::Udp,
            local_addr,
            outbound_proxy: None,
            register_expires: 3600,
            register_retry_base: Duration::from_secs(2),
            register_retry_max: Duration::from_secs(300),
            auto_ringing: true,
            learn_contact: false,
            uri_transport: false,
            timers: TimerConfig::default(),
            seed: 0,
            user_agent: concat!("pbx-phone/", env!("CARGO_PKG_VERSION")).into(),
            session_expires: None,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We sent BYE.
    LocalHangup,
    /// The peer sent BYE.
    RemoteHangup,
    /// We cancelled before an answer (RFC 3261 §9.1).
    Cancelled,
    /// The caller cancelled before we answered.
    RemoteCancelled,
    /// Our INVITE got this final response.
    Rejected(StatusCode),
    /// We refused the INVITE with this status.
    Declined(StatusCode),
    /// No final response (Timer B, RFC 3261 §17.1.1.2).
    Timeout,
    /// Our 2xx was never acknowledged (RFC 3261 §13.3.1.4): we sent BYE.
    NoAck,
    /// The session was not refreshed in time (RFC 4028 §10): we sent BYE.
    SessionExpired,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LocalHangup => f.write_str("local hangup"),
            Self::RemoteHangup => f.write_str("remote hangup"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::RemoteCancelled => f.write_str("cancelled by caller"),
            Self::Rejected(s) => write!(f, "rejected with {s}"),
            Self::Declined(s) => write!(f, "declined with {s}"),
            Self::Timeout => f.write_str("timeout"),
            Self::NoAck => f.write_str("no ACK for 2xx"),
            Self::SessionExpired => f.write_str("session expired"),
        }
    }
}

/// What happened, for the application.
// Events are per call, not per packet: the size of IncomingCall is no concern.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UaEvent {
    /// A REGISTER succeeded; the binding lasts `expires` seconds.
    Registered {
        /// Granted lifetime.
        expires: u32,
    },
    /// A REGISTER failed (`None`: timeout); retried after `retry_in`.
    RegistrationFailed {
        /// Final status, if any.
        status: Option<StatusCode>,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// The binding was removed (REGISTER with Expires: 0 answered).
    Unregistered,
    /// The registrar saw us at another address ([`UaConfig::learn_contact`]):
    /// our Contact is now `contact`, and a REGISTER for it is on its way.
    ContactLearned {
        /// The new Contact URI.
        contact: Uri,
    },
    /// A new INVITE; answer with [`UserAgent::answer`] or [`UserAgent::reject`].
    IncomingCall {
        /// The new session.
        session: SessionId,
        /// Its Call-ID.
        call_id: CallId,
        /// The caller (From).
        from: NameAddr,
        /// The callee (To).
        to: NameAddr,
        /// The offer, if any.
        body: Option<Body>,
    },
    /// 180 Ringing for our INVITE.
    Ringing {
        /// The session.
        session: SessionId,
    },
    /// A provisional response with a body (183 Session Progress).
    EarlyMedia {
        /// The session.
        session: SessionId,
        /// The early answer.
        body: Body,
    },
    /// Our INVITE was answered with a 2xx (the ACK is already sent).
    Answered {
        /// The session.
        session: SessionId,
        /// The answer.
        body: Option<Body>,
    },
    /// The peer's ACK for our 2xx arrived: the session is established
    /// (also reported for a re-INVITE's ACK that carries an answer).
    Confirmed {
        /// The session.
        session: SessionId,
        /// The ACK's body: the answer when our 2xx carried the offer
        /// because the INVITE had none (RFC 3261 §13.2.1, RFC 3264 late offer).
        body: Option<Body>,
    },
    /// A re-INVITE arrived (hold/resume, RFC 3261 §14.2), or an UPDATE
    /// with an offer (RFC 3311: confirmed dialog, or the early dialog of our
    /// INVITE); answer it with [`UserAgent::answer`] or refuse it with
    /// [`UserAgent::reject`].
    Reoffer {
        /// The session.
        session: SessionId,
        /// The new offer, if any.
        body: Option<Body>,
    },
    /// Our re-INVITE was accepted.
    Updated {
        /// The session.
        session: SessionId,
        /// The answer.
        body: Option<Body>,
    },
    /// An in-dialog request of ours (re-INVITE, INFO, REFER, ...) failed.
    RequestFailed {
        /// The session.
        session: SessionId,
        /// The method.
        method: Method,
        /// The final status (408 for a timeout).
        status: StatusCode,
    },
    /// A DTMF digit by INFO (`application/dtmf-relay`).
    Dtmf {
        /// The session.
        session: SessionId,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// Duration in milliseconds.
        duration_ms: u32,
    },
    /// Any other INFO body.
    Info {
        /// The session.
        session: SessionId,
        /// The body.
        body: Body,
    },
    /// The peer asks us to call `target` (REFER, RFC 3515). Report the
    /// outcome with [`UserAgent::notify_transfer`].
    TransferRequested {
        /// The session that received the REFER.
        session: SessionId,
        /// Refer-To URI.
        target: Uri,
    },
    /// Progress of a transfer we requested: the REFER's 202 and the status
    /// lines of the NOTIFY sipfrag bodies (RFC 3515 §2.4.5).
    TransferProgress {
        /// The session we sent REFER on.
        session: SessionId,
        /// The status (202 for the REFER's acceptance, then the target call's).
        status: StatusCode,
    },
    /// The session is over.
    Terminated {
        /// The session.
        session: SessionId,
        /// Why.
        reason: EndReason,
    },
}

/// What the driver must do next.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `data` to `peer`.
    Transmit {
        /// Destination.
        peer: Peer,
        /// The serialized message.
        data: Bytes,
    },
    /// Tell the application.
    Event(UaEvent),
}

/// Errors of the commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    /// No such session (ended or never existed).
    #[error("no session {0}")]
    NoSuchSession(SessionId),
    /// The command does not fit the session's state.
    #[error("session {0} cannot {1} now")]
    InvalidState(SessionId, &'static str),
    /// No next hop for the URI: not an IP literal and no outbound proxy.
    #[error("no route to {0}")]
    NoRoute(Box<Uri>),
}

/// Convenience alias.
pub type Result<T, E = UaError> = std::result::Result<T, E>;

/// Who owns a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientOwner {
    Register,
    Invite(SessionId),
    Cancel(SessionId),
    InDialog(SessionId),
}

/// A SIP user agent core; see the module docs for the run loop.
#[derive(Debug)]
pub struct UserAgent {
    config: UaConfig,
    layer: TransactionLayer,
    rng: Rng,
    out: VecDeque<Output>,
    registration: Registration,
    sessions: DeadlineMap<SessionId, Session>,
    /// Sessions by Call-ID: in-dialog requests, ACK, CANCEL, PRACK and
    /// Replaces find their session without a scan.
    by_call_id: HashMap<String, Vec<SessionId>>,
    next_session: u64,
    clients: HashMap<ClientTxId, ClientOwner>,
    /// A copy of each live client transaction's request: on reliable
    /// transports the layer ends a non-INVITE transaction (Timer K = 0,
    /// RFC 3261 §17.1.2.2) before its final response reaches us, and a
    /// 401/407 retry or a CANCEL still needs the request.
    sent: HashMap<ClientTxId, Request>,
    nonce_counts: HashMap<String, u32>,
}

impl UserAgent {
    /// A user agent with no registration and no sessions.
    pub fn new(config: UaConfig) -> Self {
        let mut rng = Rng::new(config.seed);
        let registration = Registration::new(&mut rng, &config);
        Self {
            layer: TransactionLayer::new(config.timers.clone()),
            rng,
            out: VecDeque::new(),
            registration,
            sessions: DeadlineMap::new(),
            by_call_id: HashMap::new(),
            next_session: 1,
            clients: HashMap::new(),
            sent: HashMap::new(),
            nonce_counts: HashMap::new(),
            config,
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &UaConfig {
        &self.config
    }

    /// Whether the last REGISTER succeeded and has not expired or been removed.
    pub fn is_registered(&self) -> bool {
        self.registration.is_registered()
    }

    /// The ids of the live sessions.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// Next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Earliest deadline of the transaction layer, the registration and
    /// the sessions' 2xx retransmissions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layer
            .poll_timeout()
            .into_iter()
            .chain(self.registration.deadline())
            .chain(self.sessions.next_deadline())
            .min()
    }

    /// A message received from `peer`.
    pub fn handle_message(&mut self, now: Instant, msg: crate::message::SipMessage, peer: Peer) {
        if let crate::message::SipMessage::Request(req) = &msg {
            if req.validate().is_err() && req.method != Method::Ack {
                let resp =
                    crate::message::Response::for_request(req, StatusCode::BAD_REQUEST, None);
                self.layer.send_stateless(&resp.into(), peer);
                self.pump(now);
                return;
            }
        }
        self.layer.handle_message(now, msg, peer);
        self.pump(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.pump(now);
        if self.registration.deadline().is_some_and(|d| d <= now) {
            self.on_registration_timer(now);
        }
        for id in self.sessions.due(now) {
            self.on_session_timer(now, id);
        }
        self.pump(now);
    }

    /// Moves the transaction layer's outputs: bytes to our queue, events
    /// to the handlers (which may send more).
    fn pump(&mut self, now: Instant) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                TxOutput::Transmit { peer, data } => {
                    self.out.push_back(Output::Transmit { peer, data });
                }
                TxOutput::Event(ev) => self.on_tx_event(now, ev),
            }
        }
        self.sessions.refresh();
    }

    fn on_tx_event(&mut self, now: Instant, ev: TxEvent) {
        match ev {
            TxEvent::Request { tx, request, peer } => self.on_request(now, tx, request, peer),
            TxEvent::Ack { request, .. } => self.on_ack(&request),
            TxEvent::Response { tx, response } => {
                let Some(owner) = self.clients.get(&tx).copied() else {
                    return;
                };
                self.on_response(now, tx, owner, response);
            }
            TxEvent::StrayResponse { response, .. } => self.on_stray_response(now, &response),
            TxEvent::Timeout { tx } => {
                if let Some(owner) = self.clients.get(&tx).copied() {
                    let mut timeout = crate::message::Response::new(StatusCode::REQUEST_TIMEOUT);
                    if let Some(req) = self.client_request(tx) {
                        timeout = crate::message::Response::for_request(
                            req,
                            StatusCode::REQUEST_TIMEOUT,
                            None,
                        );
                    }
                    self.on_response(now, tx, owner, timeout);
                }
            }
            TxEvent::Terminated {
                tx: crate::transaction::TxId::Client(id),
            } => {
                self.clients.remove(&id);
                self.sent.remove(&id);
            }
            _ => {}
        }
    }

    fn on_response(
        &mut self,
        now: Instant,
        tx: ClientTxId,
        owner: ClientOwner,
        response: crate::message::Response,
    ) {
        match owner {
            ClientOwner::Register => self.on_register_response(now, tx, response),
            ClientOwner::Invite(id) => self.on_invite_response(now, id, tx, response),
            ClientOwner::Cancel(_) => {}
            ClientOwner::InDialog(id) => self.on_in_dialog_response(now, id, tx, response),
        }
    }

    fn emit(&mut self, ev: UaEvent) {
        self.out.push_back(Output::Event(ev));
    }

    fn session(&mut self, id: SessionId) -> Result<&mut Session> {
        self.sessions.get_mut(&id).ok_or(UaError::NoSuchSession(id))
    }

    /// Removes a session and reports why it ended.
    fn end(&mut self, id: SessionId, reason: EndReason) {
        if let Some(session) = self.sessions.remove(&id) {
            if let Some(ids) = self.by_call_id.get_mut(&session.call_id) {
                ids.retain(|s| *s != id);
                if ids.is_empty() {
                    self.by_call_id.remove(&session.call_id);
                }
            }
            self.emit(UaEvent::Terminated {
                session: id,
                reason,
            });
        }
    }

    /// Adds a session, indexed by its Call-ID.
    fn add_session(&mut self, id: SessionId, call_id: &str, mut session: Session) {
        session.call_id = call_id.to_owned();
        self.by_call_id
            .entry(session.call_id.clone())
            .or_default()
            .push(id);
        self.sessions.insert(id, session);
    }

    /// The sessions of a Call-ID.
    fn sessions_of(&self, call_id: &str) -> &[SessionId] {
        self.by_call_id.get(call_id).map_or(&[], Vec::as_slice)
    }

    /// The session whose dialog is `did`.
    fn session_of_dialog(&self, did: &crate::dialog::DialogId) -> Option<SessionId> {
        self.sessions_of(&did.call_id).iter().copied().find(|id| {
            self.sessions
                .get(id)
                .and_then(|s| s.dialog.as_ref())
                .is_some_and(|d| d.id == *did)
        })
    }

    /// Starts a client transaction for `req`, keeping a copy of it.
    fn send_client(&mut self, now: Instant, req: Request, peer: Peer) -> ClientTxId {
        let copy = req.clone();
        let tx = self.layer.send_request(now, req, peer);
        self.sent.insert(tx, copy);
        tx
    }

    /// The request of a client transaction, while we track it.
    fn client_request(&self, tx: ClientTxId) -> Option<&Request> {
        self.sent.get(&tx).or_else(|| self.layer.client_request(tx))
    }

    fn request_with_via(&mut self, mut req: Request, transport: Transport) -> Request {
        let via = helpers::via(&self.config, transport, &mut self.rng);
        req.headers.push_front(via);
        req
    }
}
