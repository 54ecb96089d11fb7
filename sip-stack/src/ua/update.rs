//! UPDATE carrying an offer (RFC 3311): in a confirmed dialog, or in an
//! early dialog once the INVITE's offer was answered reliably (§5.1: a
//! reliable 18x with SDP received, or ours PRACKed),
//! the offer surfaces as [`UaEvent::Reoffer`] like a re-INVITE's, and
//! [`UserAgent::answer`] / [`UserAgent::reject`] answer it (200 with the
//! answer / an error status). It waits in its own slot, apart from a
//! pending INVITE or re-INVITE: while it is pending, `answer`/`reject`
//! apply to it first. §5.2: an offer while one of ours is outstanding gets
//! 491; while one of theirs is unanswered, 500 with Retry-After (0-10 s).
//! An UPDATE without a body stays a session refresh (RFC 4028, see
//! `session_timer.rs`).

use std::time::Instant;

use crate::message::{Header, HeaderName, NameAddr, Request, Response, StatusCode};
use crate::transaction::ServerTxId;

use super::helpers::set_body;
use super::session::Phase;
use super::{Body, SessionId, UaEvent, UserAgent};

/// An incoming UPDATE with an offer, waiting for our answer.
#[derive(Debug, Clone)]
pub(super) struct PendingUpdate {
    pub(super) tx: ServerTxId,
    pub(super) request: Request,
}

impl UserAgent {
    /// UAS: the unanswered incoming INVITE whose early dialog `req` is in
    /// (Call-ID and our To tag; the dialog itself is made on the answer).
    pub(super) fn early_uas_session(&self, req: &Request) -> Option<SessionId> {
        let call_id = req.call_id().ok()?;
        let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_owned))?;
        self.sessions_of(call_id).iter().copied().find(|id| {
            self.sessions
                .get(id)
                .is_some_and(|s| s.phase == Phase::Incoming && s.local_tag == to_tag)
        })
    }

    /// An UPDATE with an offer (`body`) in session `id`'s dialog.
    pub(super) fn on_update_offer(
        &mut self,
        now: Instant,
        id: SessionId,
        tx: ServerTxId,
        req: Request,
        body: Body,
    ) {
        let retry_after = self.rng.next_u64() % 11;
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        // Ours: a re-INVITE in flight, or our INVITE's offer not yet
        // answered in a reliable provisional.
        let ours_outstanding = session.reinvite_tx.is_some()
            || (session.phase == Phase::Calling && !session.early_answered);
        // Theirs: an UPDATE or re-INVITE offer unanswered, or the initial
        // INVITE's offer not yet answered by a PRACKed reliable 18x.
        let theirs_unanswered = session.pending_update.is_some()
            || (session.pending.is_some() && session.phase != Phase::Incoming)
            || (session.phase == Phase::Incoming && !session.early_answered);
        let refusal = if session.phase == Phase::Terminating {
            Some(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST)
        } else if ours_outstanding {
            Some(StatusCode::REQUEST_PENDING)
        } else if theirs_unanswered {
            Some(StatusCode::SERVER_INTERNAL_ERROR)
        } else {
            None
        };
        if let Some(status) = refusal {
            let mut resp = Response::for_request(&req, status, None);
            if status == StatusCode::SERVER_INTERNAL_ERROR {
                resp.headers.push(Header::new(
                    HeaderName::Other("Retry-After".into()),
                    retry_after.to_string(),
                ));
            }
            let _ = self.layer.send_response(now, tx, resp);
            return;
        }
        session.pending_update = Some(PendingUpdate { tx, request: req });
        self.emit(UaEvent::Reoffer {
            session: id,
            body: Some(body),
        });
    }

    /// Answers the pending UPDATE offer with 200 and `body`.
    pub(super) fn answer_update(
        &mut self,
        now: Instant,
        id: SessionId,
        body: Option<Body>,
    ) -> super::Result<()> {
        let contact = NameAddr::new(self.config.contact.clone());
        let session = self.session(id)?;
        let pending = session
            .pending_update
            .take()
            .ok_or(super::UaError::InvalidState(id, "answer UPDATE"))?;
        let mut resp = Response::for_request(&pending.request, StatusCode::OK, None);
        resp.headers
            .push(Header::new(HeaderName::Contact, contact.to_string()));
        if body.is_some() {
            session.local_sdp.clone_from(&body);
        }
        set_body(&mut resp.headers, &mut resp.body, body);
        // An UPDATE is a refresh too (RFC 4028 §7.4).
        if session.timer.is_some() && session.phase == Phase::Confirmed {
            self.timer_on_answer(now, id, &pending.request, &mut resp);
        }
        let _ = self.layer.send_response(now, pending.tx, resp);
        self.pump(now);
        Ok(())
    }

    /// Refuses the pending UPDATE offer with `status` (the session goes on
    /// with the previous offer/answer).
    pub(super) fn reject_update(
        &mut self,
        now: Instant,
        id: SessionId,
        status: StatusCode,
    ) -> super::Result<()> {
        let session = self.session(id)?;
        let pending = session
            .pending_update
            .take()
            .ok_or(super::UaError::InvalidState(id, "reject UPDATE"))?;
        let resp = Response::for_request(&pending.request, status, None);
        let _ = self.layer.send_response(now, pending.tx, resp);
        self.pump(now);
        Ok(())
    }
}
