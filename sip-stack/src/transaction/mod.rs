//! RFC 3261 §17 transactions as a sans-IO layer, with the RFC 6026
//! corrections (INVITE "Accepted" states, Timers L and M).
//!
//! [`TransactionLayer`] owns every client and server transaction of an
//! endpoint or proxy. It never touches a socket or a clock: the driver feeds
//! it parsed messages ([`TransactionLayer::handle_message`]) and the current
//! time ([`TransactionLayer::handle_timeout`]), the transaction user (TU)
//! starts client transactions and answers server transactions, and after
//! every call the driver drains [`TransactionLayer::poll_output`] (bytes to
//! send, events for the TU) and sleeps until [`TransactionLayer::poll_timeout`].
//!
//! Matching (§17.1.3, §17.2.3) uses hash maps keyed by borrowed views of the
//! incoming message, so a lookup does not allocate. Each outgoing message is
//! serialized once and the bytes are kept for retransmission. Server
//! transactions answer to the [`Peer`] the request came from (its source
//! address and connection), which is what §18.2.2 amounts to with `rport`.
//! Timers live in per-delay FIFO queues, lazily invalidated; see [`Timer`] for names.
//!
//! A UAS answering one REGISTER, driven in virtual time:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sip_stack::message::{Response, SipMessage, StatusCode};
//! use sip_stack::transaction::{Output, TimerConfig, TransactionLayer, TxEvent};
//! use sip_stack::Peer;
//!
//! let raw = "REGISTER sip:pbx.example.com SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!            From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
//!            Call-ID: abc\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n\r\n";
//! let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
//! let mut layer = TransactionLayer::new(TimerConfig::default());
//! let mut now = Instant::now();
//! layer.handle_message(now, SipMessage::parse(raw.into()).unwrap(), peer);
//! while let Some(out) = layer.poll_output() {
//!     match out {
//!         Output::Event(TxEvent::Request { tx, request, .. }) => {
//!             let ok = Response::for_request(&request, StatusCode::OK, Some("reg1"));
//!             layer.send_response(now, tx, ok).unwrap();
//!         }
//!         Output::Transmit { peer, data } => { /* socket.send_to(&data, peer.addr) */ }
//!         Output::Event(_) => {}
//!     }
//! }
//! // Timer J keeps the transaction 64*T1 to absorb retransmissions.
//! while let Some(deadline) = layer.poll_timeout() {
//!     now = deadline;
//!     layer.handle_timeout(now);
//! }
//! assert!(layer.is_empty());
//! ```

mod arena;
mod build;
mod invite_client;
mod invite_server;
mod key;
mod layer;
mod non_invite_client;
mod non_invite_server;
mod table;
mod timer;
mod via;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use build::{build_ack_for_non2xx, build_cancel};
pub use timer::Timer;

use invite_client::InviteClient;
use invite_server::InviteServer;
use key::{ClientKey, ServerKey};
use non_invite_client::NonInviteClient;
use non_invite_server::NonInviteServer;
use timer::{TimerHeap, Timers};

use crate::message::{Request, Response};
use crate::peer::Peer;

/// Timer values of RFC 3261 §17 (Table 4) and the layer's behaviour switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default (§17.1.1.1).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s (Timers I and K).
    pub t4: Duration,
    /// Timer D on unreliable transports, "at least 32 s" (§17.1.1.2).
    pub timer_d: Duration,
    /// How long a finished transaction lingers to absorb retransmissions: Timers J
    /// (§17.2.2), L and M (RFC 6026). The RFC value is 64*T1 (32 s); proxies often
    /// keep less (Kamailio's `wt_timer` is 5 s) to bound memory under load.
    pub linger: Duration,
    /// Send `100 Trying` as soon as an INVITE server transaction is created
    /// (a proxy MUST, §16.2; a UAS may, §17.2.1).
    pub auto_trying: bool,
}

/// A [`TimerConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// T1 is zero: retransmission timers would fire in a busy loop.
    #[error("t1 must be greater than zero")]
    ZeroT1,
    /// T2 is below T1 (RFC 3261 §17.1.2.2 caps intervals at T2 >= T1).
    #[error("t2 must not be below t1")]
    T2BelowT1,
}

impl TimerConfig {
    /// Checks the values: T1 > 0 and T2 >= T1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.t1.is_zero() {
            return Err(ConfigError::ZeroT1);
        }
        if self.t2 < self.t1 {
            return Err(ConfigError::T2BelowT1);
        }
        Ok(())
    }
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            linger: Duration::from_secs(32),
            auto_trying: true,
        }
    }
}

/// Identifies a client transaction of a [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(u64);

/// Identifies a server transaction of a [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(u64);

/// Either kind of transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxId {
    /// A client transaction.
    Client(ClientTxId),
    /// A server transaction.
    Server(ServerTxId),
}

impl From<ClientTxId> for TxId {
    fn from(id: ClientTxId) -> Self {
        Self::Client(id)
    }
}

impl From<ServerTxId> for TxId {
    fn from(id: ServerTxId) -> Self {
        Self::Server(id)
    }
}

/// Errors of the TU-facing calls of the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The server transaction has terminated (or never existed).
    #[error("server transaction {0:?} does not exist")]
    NoSuchTransaction(ServerTxId),
    /// The server transaction already sent its final response; only further
    /// 2xx are allowed after a 2xx to an INVITE (RFC 6026 §8.7).
    #[error("server transaction {0:?} already sent a final response")]
    AlreadyFinal(ServerTxId),
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `data` to `peer`.
    Transmit {
        /// Destination (for responses: the request's source and connection).
        peer: Peer,
        /// The serialized message.
        data: Bytes,
    },
    /// Tell the TU.
    Event(TxEvent),
}

/// Events for the transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxEvent {
    /// A new server transaction (any method but ACK; CANCEL too: the TU
    /// answers 200 or 481, RFC 3261 §9.2).
    Request {
        /// The new transaction, to answer with [`TransactionLayer::send_response`].
        tx: ServerTxId,
        /// The request.
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// An ACK outside any server transaction (the ACK for a 2xx is its own
    /// end-to-end request, §17.1.1.3), or one reaching an INVITE server
    /// transaction in RFC 6026 "Accepted".
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// A response on a client transaction. Retransmissions are absorbed,
    /// except 2xx on an INVITE in "Accepted" (RFC 6026 §8.4).
    Response {
        /// The client transaction.
        tx: ClientTxId,
        /// The response.
        response: Response,
    },
    /// A response that matched no client transaction: a proxy forwards a 2xx
    /// statelessly (RFC 3261 §16.7, RFC 6026 §8.4), others are dropped.
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        peer: Peer,
    },
    /// Timer B or F fired: the TU acts as if a 408 had arrived (§8.1.3.1).
    Timeout {
        /// The client transaction.
        tx: ClientTxId,
    },
    /// Timer H fired: no ACK came for a non-2xx final (§17.2.1).
    AckTimeout {
        /// The INVITE server transaction.
        tx: ServerTxId,
    },
    /// The transaction is gone; the TU frees whatever it kept for it.
    Terminated {
        /// The transaction.
        tx: TxId,
    },
}

/// Whether a state machine lives on after handling an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Alive,
    Terminated,
}

/// Layer state every state machine writes to: config, output queue, timers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: TimerConfig,
    out: VecDeque<Output>,
    heap: TimerHeap,
}

impl Shared {
    pub(crate) fn transmit(&mut self, peer: Peer, data: Bytes) {
        self.out.push_back(Output::Transmit { peer, data });
    }

    pub(crate) fn event(&mut self, event: TxEvent) {
        self.out.push_back(Output::Event(event));
    }

    /// Arms `timer` of `tx` to fire `delay` after `now`.
    pub(crate) fn arm(
        &mut self,
        timers: &mut Timers,
        tx: TxId,
        timer: Timer,
        now: Instant,
        delay: Duration,
    ) {
        self.heap.arm(timers, tx, timer, now, delay);
    }
}

#[derive(Debug)]
enum ClientTx {
    Invite(InviteClient),
    NonInvite(NonInviteClient),
}

impl ClientTx {
    const fn request(&self) -> &Request {
        match self {
            Self::Invite(t) => t.request(),
            Self::NonInvite(t) => t.request(),
        }
    }

    const fn timers(&self) -> &Timers {
        match self {
            Self::Invite(t) => t.timers(),
            Self::NonInvite(t) => t.timers(),
        }
    }
}

#[derive(Debug)]
enum ServerTx {
    Invite(InviteServer),
    NonInvite(NonInviteServer),
}

impl ServerTx {
    const fn timers(&self) -> &Timers {
        match self {
            Self::Invite(t) => t.timers(),
            Self::NonInvite(t) => t.timers(),
        }
    }
}

/// All client and server transactions of one SIP element (RFC 3261 §17).
///
/// Drive it as the crate docs describe: after each `handle_*`/`send_*` call
/// drain [`poll_output`](Self::poll_output), then wake up at
/// [`poll_timeout`](Self::poll_timeout) and call
/// [`handle_timeout`](Self::handle_timeout).
#[derive(Debug)]
pub struct TransactionLayer {
    shared: Shared,
    clients: table::Table<ClientKey, ClientTx>,
    servers: table::Table<ServerKey, ServerTx>,
}
