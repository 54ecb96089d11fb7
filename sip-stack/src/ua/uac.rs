//! Commands on sessions and the UAC side: INVITE with digest retry,
//! CANCEL, ACK for 2xx (re-sent on 2xx retransmissions, §13.2.2.4), BYE,
//! re-INVITE, INFO and REFER (RFC 3515) with their responses.

use std::time::Instant;

use crate::dialog::{Dialog, DialogId};
use crate::message::{Header, HeaderName, Method, NameAddr, Request, Response, StatusCode, Uri};
use crate::transaction::{build_cancel, ClientTxId};

use super::helpers::{body_of, set_body, set_cseq};
use super::session::{Phase, Retransmit, Role, Session};
use super::{Body, ClientOwner, EndReason, Result, SessionId, UaError, UaEvent, UserAgent};

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE";

impl UserAgent {
    /// Calls `target` with an INVITE carrying `body` (the SDP offer).
    /// Events: [`UaEvent::Ringing`], [`UaEvent::EarlyMedia`],
    /// [`UaEvent::Answered`], or [`UaEvent::Terminated`].
    pub fn call(&mut self, now: Instant, target: Uri, body: Option<Body>) -> Result<SessionId> {
        let mut opts = super::CallOptions::new(target);
        opts.body = body;
        self.call_with(now, opts)
    }

    /// Like [`UserAgent::call`], with the From / To identities of `opts`
    /// (a B2BUA presents the original caller to the callee, RFC 7092 §3).
    pub fn call_with(&mut self, now: Instant, opts: super::CallOptions) -> Result<SessionId> {
        let super::CallOptions {
            target,
            from,
            to,
            body,
            credentials,
            flow,
        } = opts;
        let id = SessionId(self.next_session);
        self.next_session += 1;
        let local_tag = self.rng.token();
        let call_id = format!("{}@{}", self.rng.token(), self.config.local_addr.ip());
        let call_id_copy = call_id.clone();
        let mut req = Request::new(Method::Invite, target.clone());
        super::replaces::apply_uri_headers(&mut req);
        let mut target = target;
        target.headers.clear();
        let mut from = from.unwrap_or_else(|| {
            let mut f = NameAddr::new(self.config.aor.clone());
            f.display.clone_from(&self.config.display_name);
            f
        });
        from.set_param("tag", Some(local_tag.clone()));
        let h = &mut req.headers;
        h.push(Header::new(HeaderName::MaxForwards, "70"));
        h.push(Header::new(HeaderName::From, from.to_string()));
        h.push(Header::new(
            HeaderName::To,
            to.unwrap_or_else(|| NameAddr::new(target)).to_string(),
        ));
        h.push(Header::new(HeaderName::CallId, call_id));
        h.push(Header::new(HeaderName::CSeq, "1 INVITE"));
        h.push(Header::new(
            HeaderName::Contact,
            NameAddr::new(self.config.contact.clone()).to_string(),
        ));
        h.push(Header::new(HeaderName::Allow, ALLOW));
        h.push(Header::new(
            HeaderName::UserAgent,
            self.config.user_agent.clone(),
        ));
        self.timer_on_invite(&mut req);
        req.headers
            .push(Header::new(HeaderName::Supported, "100rel"));
        let local_sdp = body.clone();
        set_body(&mut req.headers, &mut req.body, body);
        let peer = match &flow {
            Some(f) if super::helpers::literal(&req.uri).is_none() => *f,
            _ => self.next_hop(&req, false)?,
        };
        let mut session = Session::new(Role::Uac, Phase::Calling, local_tag);
        session.flow = flow;
        session.invite_seq = 1;
        session.local_sdp = local_sdp;
        session.credentials = credentials;
        let req = self.request_with_via(req, peer.transport);
        let tx = self.send_client(now, req, peer);
        session.invite_tx = Some(tx);
        self.clients.insert(tx, ClientOwner::Invite(id));
        self.add_session(id, &call_id_copy, session);
        self.pump(now);
        Ok(id)
    }

    /// Ends a session whatever its state: CANCEL before an answer (deferred
    /// until a provisional response, §9.1), 603 Decline for an unanswered
    /// incoming call, BYE once established.
    pub fn hangup(&mut self, now: Instant, id: SessionId) -> Result<()> {
        let session = self.session(id)?;
        match (session.role, session.phase) {
            (_, Phase::Terminating) => Ok(()),
            (Role::Uas, Phase::Incoming) => self.reject(now, id, StatusCode::DECLINE),
            (Role::Uac, Phase::Calling) => {
                session.phase = Phase::Terminating;
                if session.provisional {
                    self.send_cancel(now, id);
                } else {
                    session.cancel_pending = true;
                }
                self.pump(now);
                Ok(())
            }
            _ => {
                let result = self.send_bye(now, id);
                if let Ok(s) = self.session(id) {
                    s.phase = Phase::Terminating;
                    s.retransmit = None;
                }
                self.pump(now);
                result
            }
        }
    }

    fn send_cancel(&mut self, now: Instant, id: SessionId) {
        let Some(invite) = self
            .sessions
            .get(&id)
            .and_then(|s| s.invite_tx)
            .and_then(|tx| self.client_request(tx))
            .cloned()
        else {
            return;
        };
        let cancel = build_cancel(&invite);
        if let Ok(peer) = self.next_hop(&invite, false) {
            let tx = self.send_client(now, cancel, peer);
            self.clients.insert(tx, ClientOwner::Cancel(id));
        }
    }

    /// Answers an incoming INVITE or re-INVITE with 200 OK and `body`; the
    /// 2xx is re-sent until the ACK arrives (§13.3.1.4). While an UPDATE
    /// offer is pending ([`UaEvent::Reoffer`] for an UPDATE, RFC 3311), it
    /// answers that UPDATE instead (200 with `body`).
    pub fn answer(&mut self, now: Instant, id: SessionId, body: Option<Body>) -> Result<()> {
        if self.session(id)?.pending_update.is_some() {
            return self.answer_update(now, id, body);
        }
        let contact = NameAddr::new(self.config.contact.clone());
        let t1 = self.config.timers.t1;
        let session = self.session(id)?;
        let pending = session
            .pending
            .take()
            .ok_or(UaError::InvalidState(id, "answer"))?;
        let mut resp =
            Response::for_request(&pending.request, StatusCode::OK, Some(&session.local_tag));
        resp.headers
            .push(Header::new(HeaderName::Contact, contact.to_string()));
        resp.headers.push(Header::new(HeaderName::Allow, ALLOW));
        for rr in pending.request.headers.get_all(&HeaderName::RecordRoute) {
            resp.headers.push(rr.clone());
        }
        if body.is_some() {
            session.local_sdp.clone_from(&body);
        }
        set_body(&mut resp.headers, &mut resp.body, body);
        if session.dialog.is_none() {
            match Dialog::from_uas(&pending.request, &session.local_tag, contact, 0) {
                Ok(d) => session.dialog = Some(d),
                Err(e) => {
                    tracing::debug!(session = %id, error = %e, "INVITE cannot create a dialog");
                    return self.reject(now, id, StatusCode::BAD_REQUEST);
                }
            }
        }
        session.phase = Phase::Confirmed;
        let seq = pending.request.cseq().map_or(0, |c| c.seq);
        self.timer_on_answer(now, id, &pending.request, &mut resp);
        let Ok(session) = self.session(id) else {
            return Ok(());
        };
        session.retransmit = Some(Retransmit {
            data: resp.to_bytes(),
            peer: pending.peer,
            seq,
            interval: t1,
            next: now + t1,
            give_up: now + 64 * t1,
        });
        let replaced = session.replaces.take();
        let _ = self.layer.send_response(now, pending.tx, resp);
        if let Some(old) = replaced {
            // RFC 3891 §3: the new dialog takes over; the old one ends by BYE.
            let _ = self.hangup(now, old);
        }
        self.pump(now);
        Ok(())
    }

    /// Refuses an incoming INVITE (e.g. 486 Busy Here, 603 Decline) or a
    /// re-INVITE; while an UPDATE offer is pending, refuses that UPDATE
    /// instead (the session keeps its previous offer/answer).
    pub fn reject(&mut self, now: Instant, id: SessionId, status: StatusCode) -> Result<()> {
        if self.session(id)?.pending_update.is_some() {
            return self.reject_update(now, id, status);
        }
        let session = self.session(id)?;
        let pending = session
            .pending
            .take()
            .ok_or(UaError::InvalidState(id, "reject"))?;
        let resp = Response::for_request(&pending.request, status, Some(&session.local_tag));
        let initial = session.phase == Phase::Incoming;
        let _ = self.layer.send_response(now, pending.tx, resp);
        if initial {
            self.end(id, EndReason::Declined(status));
        }
        self.pump(now);
        Ok(())
    }

    /// Sends a re-INVITE with a new offer (hold: `a=sendonly`; resume:
    /// `a=sendrecv`, RFC 3264 §8.4). [`UaEvent::Updated`] or
    /// [`UaEvent::RequestFailed`] follow.
    pub fn reinvite(&mut self, now: Instant, id: SessionId, body: Option<Body>) -> Result<()> {
        let session = self.session(id)?;
        if session.phase != Phase::Confirmed
            || session.reinvite_tx.is_some()
            || session.pending_update.is_some()
        {
            return Err(UaError::InvalidState(id, "re-INVITE"));
        }
        let dialog = session
            .dialog
            .as_mut()
            .ok_or(UaError::InvalidState(id, "re-INVITE"))?;
        let mut req = dialog.request(Method::Invite);
        if body.is_some() {
            session.local_sdp.clone_from(&body);
        }
        set_body(&mut req.headers, &mut req.body, body);
        let tx = self.send_in_dialog(now, id, req)?;
        if let Ok(s) = self.session(id) {
            s.reinvite_tx = Some(tx);
        }
        self.pump(now);
        Ok(())
    }

    /// Sends INFO with `body` (RFC 6086).
    pub fn info(&mut self, now: Instant, id: SessionId, body: Body) -> Result<()> {
        let req = self.dialog_request(id, Method::Info)?;
        let mut req = req;
        set_body(&mut req.headers, &mut req.body, Some(body));
        self.send_in_dialog(now, id, req)?;
        self.pump(now);
        Ok(())
    }

    /// Sends one DTMF digit by INFO (`application/dtmf-relay`).
    pub fn send_dtmf_info(
        &mut self,
        now: Instant,
        id: SessionId,
        digit: char,
        duration_ms: u32,
    ) -> Result<()> {
        let body = Body {
            content_type: "application/dtmf-relay".into(),
            data: format!("Signal={digit}\r\nDuration={duration_ms}\r\n").into(),
        };
        self.info(now, id, body)
    }

    /// Asks the peer to call `target` (blind transfer, RFC 3515 §2.4.1).
    /// Progress comes as [`UaEvent::TransferProgress`].
    pub fn refer(&mut self, now: Instant, id: SessionId, target: &Uri) -> Result<()> {
        let mut req = self.dialog_request(id, Method::Refer)?;
        req.headers.push(Header::new(
            HeaderName::ReferTo,
            NameAddr::new(target.clone()).to_string(),
        ));
        self.send_in_dialog(now, id, req)?;
        self.pump(now);
        Ok(())
    }

    /// Reports the progress of a transfer we were asked to make (NOTIFY
    /// with a `message/sipfrag` status line, RFC 3515 §2.4.4); a final
    /// status ends the implicit subscription.
    pub fn notify_transfer(
        &mut self,
        now: Instant,
        id: SessionId,
        status: StatusCode,
    ) -> Result<()> {
        let mut req = self.dialog_request(id, Method::Notify)?;
        req.headers.push(Header::new(HeaderName::Event, "refer"));
        let state = if status.is_final() {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        req.headers.push(Header::new(
            HeaderName::Other("Subscription-State".into()),
            state,
        ));
        let frag = format!("SIP/2.0 {} {}\r\n", status.0, status.reason_phrase());
        set_body(
            &mut req.headers,
            &mut req.body,
            Some(Body {
                content_type: "message/sipfrag;version=2.0".into(),
                data: frag.into(),
            }),
        );
        self.send_in_dialog(now, id, req)?;
        self.pump(now);
        Ok(())
    }

    pub(super) fn dialog_request(&mut self, id: SessionId, method: Method) -> Result<Request> {
        let session = self.session(id)?;
        match (&mut session.dialog, session.phase) {
            (Some(d), Phase::Confirmed) => Ok(d.request(method)),
            _ => Err(UaError::InvalidState(id, "send an in-dialog request")),
        }
    }

    /// A response on an INVITE client transaction.
    pub(super) fn on_invite_response(
        &mut self,
        now: Instant,
        id: SessionId,
        tx: ClientTxId,
        resp: Response,
    ) {
        let Some(invite) = self.client_request(tx).cloned() else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            if resp.status.is_success() {
                self.ack_and_bye_orphan(now, &invite, &resp);
            }
            return;
        };
        let code = resp.status;
        if code.is_provisional() {
            session.provisional = true;
            if code.0 > 100
                && resp
                    .to()
                    .ok()
                    .and_then(|t| t.tag().map(str::to_owned))
                    .is_some()
            {
                match &mut session.dialog {
                    Some(d) => {
                        let _ = d.update_from_response(&resp);
                    }
                    None => session.dialog = Dialog::from_uac(&invite, &resp).ok(),
                }
            }
            if session.cancel_pending {
                session.cancel_pending = false;
                self.send_cancel(now, id);
                return;
            }
            if session.phase != Phase::Calling {
                return;
            }
            if !self.acknowledge_provisional(now, id, &resp) {
                return;
            }
            if let Some(body) = body_of(&resp.headers, &resp.body) {
                if super::prack::reliable_rseq(&resp.headers).is_some() {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.early_answered = true;
                    }
                }
                self.emit(UaEvent::EarlyMedia { session: id, body });
            } else if code == StatusCode::RINGING {
                self.emit(UaEvent::Ringing { session: id });
            }
            return;
        }
        if code.is_success() {
            self.on_invite_2xx(now, id, &invite, &resp);
            return;
        }
        let phase = session.phase;
        let challenged =
            code == StatusCode::UNAUTHORIZED || code == StatusCode::PROXY_AUTHENTICATION_REQUIRED;
        if challenged && phase == Phase::Calling && self.retry_invite(now, id, &invite, &resp) {
            return;
        }
        let reason = match phase {
            Phase::Terminating if code == StatusCode::REQUEST_TERMINATED => EndReason::Cancelled,
            _ if code == StatusCode::REQUEST_TIMEOUT
                && resp.to().ok().and_then(|t| t.tag().map(|_| ())).is_none() =>
            {
                EndReason::Timeout
            }
            Phase::Terminating => EndReason::Cancelled,
            _ => EndReason::Rejected(code),
        };
        self.end(id, reason);
    }

    /// Re-sends the INVITE with credentials (RFC 3261 §22.2): new CSeq,
    /// new branch, same Call-ID and tags. `false` when the challenge cannot
    /// or must not be answered again.
    fn retry_invite(
        &mut self,
        now: Instant,
        id: SessionId,
        invite: &Request,
        resp: &Response,
    ) -> bool {
        let Some((mut attempts, creds)) = self
            .sessions
            .get(&id)
            .map(|s| (s.auth_attempts, s.credentials.clone()))
        else {
            return false;
        };
        let creds = creds.or_else(|| self.config.credentials.clone());
        let mut retry = invite.clone();
        if !self.authorize_with(&mut retry, resp, &mut attempts, creds) {
            return false;
        }
        let Ok(peer) = self.next_hop(&retry, false) else {
            return false;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        session.auth_attempts = attempts;
        session.invite_seq += 1;
        session.provisional = false;
        set_cseq(&mut retry, session.invite_seq);
        let retry = self.request_with_via(retry, peer.transport);
        let tx = self.send_client(now, retry, peer);
        self.clients.insert(tx, ClientOwner::Invite(id));
        if let Some(s) = self.sessions.get_mut(&id) {
            s.invite_tx = Some(tx);
        }
        true
    }

    /// A 2xx to our INVITE (first or retransmitted): ACK it (§13.2.2.4).
    fn on_invite_2xx(&mut self, now: Instant, id: SessionId, invite: &Request, resp: &Response) {
        let seq = invite.cseq().map_or(1, |c| c.seq);
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let same_dialog = session
            .dialog
            .as_ref()
            .is_some_and(|d| DialogId::of_response(resp).as_ref() == Some(&d.id));
        if let Some((acked, data, peer)) = &session.ack {
            if *acked == seq {
                if same_dialog {
                    // A retransmitted 2xx: our ACK was lost (§13.2.2.4).
                    let (data, peer) = (data.clone(), *peer);
                    self.out.push_back(super::Output::Transmit { peer, data });
                } else {
                    // Another fork answered too: accept and close it (§13.2.2.4).
                    self.ack_and_bye_orphan(now, invite, resp);
                }
                return;
            }
        }
        if same_dialog {
            if let Some(d) = session.dialog.as_mut() {
                let _ = d.update_from_response(resp);
            }
        } else {
            match Dialog::from_uac(invite, resp) {
                Ok(d) => session.dialog = Some(d),
                Err(e) => {
                    tracing::debug!(session = %id, error = %e, "2xx without a usable dialog");
                    self.end(id, EndReason::Rejected(resp.status));
                    return;
                }
            }
        }
        let Some(dialog) = session.dialog.as_ref() else {
            return;
        };
        let ack = dialog.ack(seq);
        let cancelled = session.phase == Phase::Terminating;
        session.phase = Phase::Confirmed;
        if let Ok(peer) = self.next_hop(&ack, true) {
            let ack = self.request_with_via(ack, peer.transport);
            let data = ack.to_bytes();
            self.out.push_back(super::Output::Transmit {
                peer,
                data: data.clone(),
            });
            if let Some(s) = self.sessions.get_mut(&id) {
                s.ack = Some((seq, data, peer));
            }
        }
        if cancelled {
            // CANCEL lost the race with the 2xx (§9.1): end with BYE.
            let _ = self.send_bye(now, id);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.phase = Phase::Terminating;
            }
            return;
        }
        self.timer_on_2xx(now, id, resp);
        let body = body_of(&resp.headers, &resp.body);
        self.emit(UaEvent::Answered { session: id, body });
    }

    /// A 2xx for a session that already ended (a forked second answer, or
    /// one after a 487): the dialog it creates is ACKed and closed with BYE
    /// at once (RFC 3261 §13.2.2.4, §15).
    fn ack_and_bye_orphan(&mut self, now: Instant, invite: &Request, resp: &Response) {
        let Ok(mut dialog) = Dialog::from_uac(invite, resp) else {
            return;
        };
        let seq = invite.cseq().map_or(1, |c| c.seq);
        let ack = dialog.ack(seq);
        let bye = dialog.request(Method::Bye);
        if let Ok(peer) = self.next_hop(&ack, true) {
            let ack = self.request_with_via(ack, peer.transport);
            self.out.push_back(super::Output::Transmit {
                peer,
                data: ack.to_bytes(),
            });
            let bye = self.request_with_via(bye, peer.transport);
            let _ = self.layer.send_request(now, bye, peer);
        }
    }

    /// A 2xx that matched no transaction (Timer M gone): re-send our ACK.
    pub(super) fn on_stray_response(&mut self, _now: Instant, resp: &Response) {
        if !resp.status.is_success() || resp.cseq().map(|c| c.method) != Ok(Method::Invite) {
            return;
        }
        let Some(did) = DialogId::of_response(resp) else {
            return;
        };
        let ack = self
            .session_of_dialog(&did)
            .and_then(|id| self.sessions.get(&id))
            .and_then(|s| s.ack.clone());
        if let Some((_, data, peer)) = ack {
            self.out.push_back(super::Output::Transmit { peer, data });
        }
    }

    /// A final response to BYE, re-INVITE, INFO, REFER or NOTIFY.
    pub(super) fn on_in_dialog_response(
        &mut self,
        now: Instant,
        id: SessionId,
        tx: ClientTxId,
        resp: Response,
    ) {
        let Some(req) = self.client_request(tx).cloned() else {
            return;
        };
        if resp.status.is_provisional() {
            return;
        }
        let method = req.method.clone();
        match method {
            Method::Bye => self.end(id, EndReason::LocalHangup),
            Method::Invite => self.on_reinvite_response(now, id, &req, &resp),
            Method::Update
                if self
                    .sessions
                    .get(&id)
                    .and_then(|s| s.timer)
                    .is_some_and(|t| t.refreshing) =>
            {
                self.on_refresh_response(now, id, &resp)
            }
            Method::Refer if resp.status.is_success() => self.emit(UaEvent::TransferProgress {
                session: id,
                status: resp.status,
            }),
            _ if resp.status.is_success() => {}
            _ => self.emit(UaEvent::RequestFailed {
                session: id,
                method,
                status: resp.status,
            }),
        }
    }

    fn on_reinvite_response(
        &mut self,
        now: Instant,
        id: SessionId,
        req: &Request,
        resp: &Response,
    ) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.reinvite_tx = None;
        let refresh = std::mem::take(&mut session.refresh_reinvite);
        if refresh {
            // A session refresh of ours (RFC 4028 §7.4): no news for the
            // application; a 2xx is still ACKed below.
            self.on_refresh_response(now, id, resp);
            if !resp.status.is_success() {
                return;
            }
        }
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let seq = req.cseq().map_or(0, |c| c.seq);
        if let Some((acked, data, peer)) = &session.ack {
            if *acked == seq && resp.status.is_success() {
                let (data, peer) = (data.clone(), *peer);
                self.out.push_back(super::Output::Transmit { peer, data });
                return;
            }
        }
        if !resp.status.is_success() {
            // §14.1: a failed re-INVITE leaves the session as it was; a 481
            // or 408 means the dialog is gone (§12.2.1.2).
            let gone = resp.status == StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
                || resp.status == StatusCode::REQUEST_TIMEOUT;
            self.emit(UaEvent::RequestFailed {
                session: id,
                method: Method::Invite,
                status: resp.status,
            });
            if gone {
                let _ = self.send_bye(now, id);
            }
            return;
        }
        let Some(dialog) = session.dialog.as_mut() else {
            return;
        };
        let _ = dialog.update_from_response(resp);
        let ack = dialog.ack(seq);
        if let Ok(peer) = self.next_hop(&ack, true) {
            let ack = self.request_with_via(ack, peer.transport);
            let data = ack.to_bytes();
            self.out.push_back(super::Output::Transmit {
                peer,
                data: data.clone(),
            });
            if let Some(s) = self.sessions.get_mut(&id) {
                s.ack = Some((seq, data, peer));
            }
        }
        if refresh {
            return;
        }
        let body = body_of(&resp.headers, &resp.body);
        self.emit(UaEvent::Updated { session: id, body });
    }
}
