//! INVITE session state and the UAS 2xx retransmission timer (RFC 3261
//! §13.3.1.4): the 2xx is re-sent at T1, 2*T1, ... capped at T2 until the
//! ACK arrives; after 64*T1 without one the session is ended with a BYE.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::dialog::Dialog;
use crate::message::{Method, Request};
use crate::peer::Peer;
use crate::transaction::{ClientTxId, ServerTxId};

use super::prack::Reliability;
use super::session_timer::SessionTimer;
use super::{EndReason, SessionId, UserAgent};

/// Which side of the INVITE we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Uac,
    Uas,
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// UAC: INVITE sent, no final response yet.
    Calling,
    /// UAS: INVITE received, not answered yet.
    Incoming,
    /// 2xx sent or received.
    Confirmed,
    /// BYE or CANCEL sent, waiting for the end.
    Terminating,
}

/// A 2xx we re-send until its ACK arrives.
#[derive(Debug, Clone)]
pub(super) struct Retransmit {
    pub(super) data: Bytes,
    pub(super) peer: Peer,
    /// CSeq number of the INVITE the 2xx answers (the ACK carries it).
    pub(super) seq: u32,
    pub(super) interval: Duration,
    pub(super) next: Instant,
    pub(super) give_up: Instant,
}

/// An incoming INVITE (initial or re-INVITE) waiting for our answer.
#[derive(Debug, Clone)]
pub(super) struct PendingInvite {
    pub(super) tx: ServerTxId,
    pub(super) request: Request,
    pub(super) peer: Peer,
}

/// One INVITE session.
#[derive(Debug)]
pub(super) struct Session {
    /// The Call-ID (index key of [`UserAgent`]'s session table).
    pub(super) call_id: String,
    pub(super) role: Role,
    pub(super) phase: Phase,
    pub(super) local_tag: String,
    pub(super) dialog: Option<Dialog>,
    /// UAC: the INVITE's client transaction and CSeq number.
    pub(super) invite_tx: Option<ClientTxId>,
    pub(super) invite_seq: u32,
    pub(super) auth_attempts: u8,
    /// UAC: a provisional response arrived, so CANCEL may be sent (§9.1).
    pub(super) provisional: bool,
    /// UAC: hang up was asked before any provisional response.
    pub(super) cancel_pending: bool,
    /// UAC: the last ACK sent for a 2xx, re-sent on 2xx retransmissions.
    pub(super) ack: Option<(u32, Bytes, Peer)>,
    /// UAS: the INVITE or re-INVITE to answer.
    pub(super) pending: Option<PendingInvite>,
    /// An UPDATE with an offer waiting for our answer (RFC 3311), apart
    /// from `pending`.
    pub(super) pending_update: Option<super::update::PendingUpdate>,
    /// The INVITE's offer was answered in a reliable provisional (UAC: one
    /// with SDP arrived; UAS: ours with SDP was PRACKed), so UPDATE offers
    /// may flow in the early dialog (RFC 3311 §5.1).
    pub(super) early_answered: bool,
    /// UAS: our 2xx until ACKed.
    pub(super) retransmit: Option<Retransmit>,
    /// UAC: a re-INVITE of ours is in progress (glare → 491, §14.2).
    pub(super) reinvite_tx: Option<ClientTxId>,
    /// UAS: the session this incoming INVITE replaces (RFC 3891).
    pub(super) replaces: Option<SessionId>,
    /// Session timer (RFC 4028), once negotiated.
    pub(super) timer: Option<SessionTimer>,
    /// The last SDP we sent (a refreshing re-INVITE repeats it).
    pub(super) local_sdp: Option<super::Body>,
    /// The re-INVITE in flight is a session refresh of ours.
    pub(super) refresh_reinvite: bool,
    /// Reliable provisionals (RFC 3262), both roles.
    pub(super) reliability: Reliability,
    /// Credentials for challenges to this session's INVITE (None: the account's).
    pub(super) credentials: Option<super::Credentials>,
    /// The connection this session's requests go on when their target is
    /// no address (a WebSocket client's `.invalid` contact, RFC 7118 §5.2):
    /// the incoming INVITE's connection, or [`super::CallOptions::flow`].
    pub(super) flow: Option<Peer>,
}

impl Session {
    pub(super) fn new(role: Role, phase: Phase, local_tag: String) -> Self {
        Self {
            call_id: String::new(),
            role,
            phase,
            local_tag,
            dialog: None,
            invite_tx: None,
            invite_seq: 0,
            auth_attempts: 0,
            provisional: false,
            cancel_pending: false,
            ack: None,
            pending: None,
            pending_update: None,
            early_answered: false,
            retransmit: None,
            reinvite_tx: None,
            replaces: None,
            timer: None,
            local_sdp: None,
            refresh_reinvite: false,
            reliability: Reliability::default(),
            credentials: None,
            flow: None,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        let retransmit = self.retransmit.as_ref().map(|r| r.next.min(r.give_up));
        let timer = self
            .timer
            .filter(|_| self.phase == Phase::Confirmed)
            .map(|t| t.deadline());
        let reliable = self.reliability.unacked.as_ref().map(|u| u.deadline());
        retransmit.into_iter().chain(timer).chain(reliable).min()
    }

    /// Stops the 2xx retransmission when the ACK for `seq` arrives.
    pub(super) fn on_ack(&mut self, seq: u32) -> bool {
        if self.retransmit.as_ref().is_some_and(|r| r.seq == seq) {
            self.retransmit = None;
            return true;
        }
        false
    }
}

impl crate::deadlines::Deadline for Session {
    fn deadline(&self) -> Option<Instant> {
        Session::deadline(self)
    }
}

impl UserAgent {
    /// A session's 2xx retransmission timer fired.
    pub(super) fn on_session_timer(&mut self, now: Instant, id: SessionId) {
        self.on_refresh_timer(now, id);
        self.on_reliable_timer(now, id);
        let t2 = self.config.timers.t2;
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(rt) = session.retransmit.as_mut() else {
            return;
        };
        if rt.give_up <= now {
            session.retransmit = None;
            tracing::debug!(session = %id, "no ACK for 2xx within 64*T1: BYE");
            let _ = self.send_bye(now, id);
            self.end(id, EndReason::NoAck);
            return;
        }
        if rt.next <= now {
            rt.interval = (rt.interval * 2).min(t2);
            rt.next = now + rt.interval;
            let (data, peer) = (rt.data.clone(), rt.peer);
            self.out.push_back(super::Output::Transmit { peer, data });
        }
    }

    /// Sends BYE in the session's dialog (RFC 3261 §15.1.1).
    pub(super) fn send_bye(&mut self, now: Instant, id: SessionId) -> super::Result<()> {
        let session = self.session(id)?;
        let dialog = session
            .dialog
            .as_mut()
            .ok_or(super::UaError::InvalidState(id, "send BYE"))?;
        let req = dialog.request(Method::Bye);
        self.send_in_dialog(now, id, req).map(|_| ())
    }

    /// Sends a request built from the session's dialog.
    pub(super) fn send_in_dialog(
        &mut self,
        now: Instant,
        id: SessionId,
        req: Request,
    ) -> super::Result<ClientTxId> {
        let peer = self.next_hop(&req, true)?;
        let req = self.request_with_via(req, peer.transport);
        let tx = self.send_client(now, req, peer);
        self.clients.insert(tx, super::ClientOwner::InDialog(id));
        Ok(tx)
    }
}
