//! Requests we receive (UAS side): new INVITEs, CANCEL (§9.2), ACK for our
//! 2xx, and in-dialog BYE, re-INVITE, UPDATE, INFO, REFER and NOTIFY,
//! checked against the dialog first (§12.2.2).

use std::time::Instant;

use crate::dialog::DialogId;
use crate::message::{Header, HeaderName, Method, NameAddr, Request, Response, StatusCode};
use crate::peer::Peer;
use crate::transaction::ServerTxId;

use super::helpers::body_of;
use super::session::{PendingInvite, Phase, Role, Session};
use super::{CallId, EndReason, SessionId, UaEvent, UserAgent};

/// `Signal=5` / `Duration=160` of an `application/dtmf-relay` body.
fn parse_dtmf_relay(body: &[u8]) -> Option<(char, u32)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut digit = None;
    let mut duration = 100;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "signal" => digit = v.trim().chars().next(),
            "duration" => duration = v.trim().parse().unwrap_or(duration),
            _ => {}
        }
    }
    digit
        .map(|d| d.to_ascii_uppercase())
        .filter(|d| d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D'))
        .map(|d| (d, duration))
}

/// The status code of a `message/sipfrag` body's status line.
fn parse_sipfrag(body: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(body).ok()?;
    let code = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
    Some(StatusCode(code))
}

impl UserAgent {
    fn respond(&mut self, now: Instant, tx: ServerTxId, req: &Request, status: StatusCode) {
        let resp = Response::for_request(req, status, None);
        let _ = self.layer.send_response(now, tx, resp);
    }

    pub(super) fn on_request(&mut self, now: Instant, tx: ServerTxId, req: Request, peer: Peer) {
        if req.method == Method::Cancel {
            self.on_cancel(now, tx, &req);
            return;
        }
        if req.method == Method::Prack && self.on_prack(now, tx, &req) {
            return;
        }
        let has_to_tag = req.to().ok().is_some_and(|t| t.tag().is_some());
        if !has_to_tag {
            match req.method {
                Method::Invite => self.on_new_invite(now, tx, req, peer),
                Method::Options => self.respond(now, tx, &req, StatusCode::OK),
                _ => self.respond(now, tx, &req, StatusCode::METHOD_NOT_ALLOWED),
            }
            return;
        }
        let Some(did) = DialogId::of_incoming(&req) else {
            self.respond(now, tx, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            return;
        };
        let found = self
            .session_of_dialog(&did)
            .and_then(|id| Some((id, self.sessions.get_mut(&id)?)));
        let Some((id, session)) = found else {
            match self.early_uas_session(&req) {
                // RFC 3311 §5.1: UPDATE in the early dialog of an incoming INVITE.
                Some(id) if req.method == Method::Update => self.on_update(now, id, tx, req),
                _ => self.respond(now, tx, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST),
            }
            return;
        };
        let Some(dialog) = session.dialog.as_mut() else {
            return;
        };
        if let Err(e) = dialog.receive_request(&req) {
            self.respond(now, tx, &req, e.status());
            return;
        }
        self.on_in_dialog_request(now, id, tx, req, peer);
    }

    fn on_new_invite(&mut self, now: Instant, tx: ServerTxId, req: Request, peer: Peer) {
        let (Ok(from), Ok(to), Ok(call_id)) = (req.from(), req.to(), req.call_id()) else {
            self.respond(now, tx, &req, StatusCode::BAD_REQUEST);
            return;
        };
        if self.refuse_short_interval(now, tx, &req) || self.refuse_extensions(now, tx, &req) {
            return;
        }
        let replaces = match self.match_replaces(&req) {
            Some(Err(status)) => {
                self.respond(now, tx, &req, status);
                return;
            }
            Some(Ok(old)) => Some(old),
            None => None,
        };
        let call_id = CallId(call_id.to_owned());
        let id = SessionId(self.next_session);
        self.next_session += 1;
        let local_tag = self.rng.token();
        let ringing = self.config.auto_ringing.then(|| {
            let mut ringing = Response::for_request(&req, StatusCode::RINGING, Some(&local_tag));
            ringing.headers.push(Header::new(
                HeaderName::Contact,
                NameAddr::new(self.config.contact.clone()).to_string(),
            ));
            ringing
        });
        let body = body_of(&req.headers, &req.body);
        let mut session = Session::new(Role::Uas, Phase::Incoming, local_tag);
        session.invite_seq = req.cseq().map_or(0, |c| c.seq);
        session.reliability = self.reliability_of(&req);
        session.replaces = replaces;
        session.flow = peer.conn.is_some().then_some(peer);
        session.pending = Some(PendingInvite {
            tx,
            request: req,
            peer,
        });
        self.add_session(id, &call_id.0, session);
        if let Some(mut ringing) = ringing {
            if self.make_reliable(now, id, &mut ringing) {
                let _ = self.layer.send_response(now, tx, ringing);
            }
        }
        self.emit(UaEvent::IncomingCall {
            session: id,
            call_id,
            from,
            to,
            body,
        });
    }

    /// §8.2.2.3: an INVITE that requires an extension we do not support
    /// gets 420 with Unsupported. Returns whether it was refused.
    fn refuse_extensions(&mut self, now: Instant, tx: ServerTxId, req: &Request) -> bool {
        const SUPPORTED: [&str; 3] = ["timer", "replaces", "100rel"];
        let unsupported: Vec<&str> = req
            .headers
            .get_all(&HeaderName::Require)
            .filter_map(|h| h.value_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if unsupported.is_empty() {
            return false;
        }
        let mut resp = Response::for_request(req, StatusCode::BAD_EXTENSION, None);
        resp.headers.push(Header::new(
            HeaderName::Other("Unsupported".into()),
            unsupported.join(", "),
        ));
        let _ = self.layer.send_response(now, tx, resp);
        true
    }

    /// CANCEL (§9.2): 200 for the CANCEL; 487 for the INVITE if unanswered.
    fn on_cancel(&mut self, now: Instant, tx: ServerTxId, cancel: &Request) {
        let invite_tx = self.layer.find_invite_for_cancel(cancel);
        let call_id = cancel.call_id().unwrap_or_default();
        let found = invite_tx.and_then(|itx| {
            self.sessions_of(call_id).iter().copied().find(|id| {
                self.sessions
                    .get(id)
                    .and_then(|s| s.pending.as_ref())
                    .is_some_and(|p| p.tx == itx)
            })
        });
        let Some(id) = found else {
            let status = if invite_tx.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            };
            self.respond(now, tx, cancel, status);
            return;
        };
        self.respond(now, tx, cancel, StatusCode::OK);
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(pending) = session.pending.take() else {
            return;
        };
        let initial = session.phase == Phase::Incoming;
        let resp = Response::for_request(
            &pending.request,
            StatusCode::REQUEST_TERMINATED,
            Some(&session.local_tag),
        );
        let _ = self.layer.send_response(now, pending.tx, resp);
        if initial {
            self.end(id, EndReason::RemoteCancelled);
        }
    }

    /// An ACK: for our 2xx, it stops the retransmissions (§13.3.1.4).
    pub(super) fn on_ack(&mut self, ack: &Request) {
        let (Some(did), Ok(cseq)) = (DialogId::of_incoming(ack), ack.cseq()) else {
            return;
        };
        let found = self
            .session_of_dialog(&did)
            .and_then(|id| Some((id, self.sessions.get_mut(&id)?)));
        if let Some((id, session)) = found {
            let initial = session.invite_seq == cseq.seq;
            let body = body_of(&ack.headers, &ack.body);
            // A re-INVITE's ACK matters only when it answers our offer.
            if session.on_ack(cseq.seq) && (initial || body.is_some()) {
                self.emit(UaEvent::Confirmed { session: id, body });
            }
        }
    }

    fn on_in_dialog_request(
        &mut self,
        now: Instant,
        id: SessionId,
        tx: ServerTxId,
        req: Request,
        peer: Peer,
    ) {
        match req.method {
            Method::Bye => {
                self.respond(now, tx, &req, StatusCode::OK);
                self.end(id, EndReason::RemoteHangup);
            }
            Method::Invite => {
                let Some(session) = self.sessions.get_mut(&id) else {
                    return;
                };
                if session.reinvite_tx.is_some() || session.pending.is_some() {
                    self.respond(now, tx, &req, StatusCode::REQUEST_PENDING);
                    return;
                }
                if session.pending_update.is_some() {
                    // Their UPDATE offer is unanswered (RFC 3311 §5.2).
                    let retry = (self.rng.next_u64() % 11).to_string();
                    let mut resp =
                        Response::for_request(&req, StatusCode::SERVER_INTERNAL_ERROR, None);
                    resp.headers
                        .push(Header::new(HeaderName::Other("Retry-After".into()), retry));
                    let _ = self.layer.send_response(now, tx, resp);
                    return;
                }
                let body = body_of(&req.headers, &req.body);
                session.pending = Some(PendingInvite {
                    tx,
                    request: req,
                    peer,
                });
                self.emit(UaEvent::Reoffer { session: id, body });
            }
            Method::Info => {
                let body = body_of(&req.headers, &req.body);
                self.respond(now, tx, &req, StatusCode::OK);
                match body {
                    Some(b) if b.content_type.starts_with("application/dtmf-relay") => {
                        if let Some((digit, duration_ms)) = parse_dtmf_relay(&b.data) {
                            self.emit(UaEvent::Dtmf {
                                session: id,
                                digit,
                                duration_ms,
                            });
                        }
                    }
                    Some(body) => self.emit(UaEvent::Info { session: id, body }),
                    None => {}
                }
            }
            Method::Refer => self.on_refer(now, id, tx, &req),
            Method::Notify => {
                self.respond(now, tx, &req, StatusCode::OK);
                let is_refer = req
                    .headers
                    .get_str(&HeaderName::Event)
                    .is_some_and(|e| e.trim().starts_with("refer"));
                if let Some(status) = is_refer.then(|| parse_sipfrag(&req.body)).flatten() {
                    self.emit(UaEvent::TransferProgress {
                        session: id,
                        status,
                    });
                }
            }
            Method::Update => self.on_update(now, id, tx, req),
            Method::Options => self.respond(now, tx, &req, StatusCode::OK),
            _ => self.respond(now, tx, &req, StatusCode::METHOD_NOT_ALLOWED),
        }
    }

    /// REFER (RFC 3515 §2.4.2): 202, the initial NOTIFY (100 Trying), and
    /// [`UaEvent::TransferRequested`] for the application to place the call.
    fn on_refer(&mut self, now: Instant, id: SessionId, tx: ServerTxId, req: &Request) {
        let target = req
            .headers
            .get_str(&HeaderName::ReferTo)
            .and_then(|v| NameAddr::parse(v).ok())
            .map(|a| a.uri);
        let Some(target) = target else {
            self.respond(now, tx, req, StatusCode::BAD_REQUEST);
            return;
        };
        self.respond(now, tx, req, StatusCode::ACCEPTED);
        let _ = self.notify_transfer(now, id, StatusCode::TRYING);
        self.emit(UaEvent::TransferRequested {
            session: id,
            target,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            parse_dtmf_relay(b"Signal=5\r\nDuration=160\r\n"),
            Some(('5', 160))
        );
        assert_eq!(parse_dtmf_relay(b"Signal= #\r\n"), Some(('#', 100)));
        assert_eq!(parse_dtmf_relay(b"Signal=x\r\n"), None);
        assert_eq!(parse_dtmf_relay(b"\xff"), None);
    }

    #[test]
    fn sipfrag_status() {
        assert_eq!(parse_sipfrag(b"SIP/2.0 200 OK\r\n"), Some(StatusCode::OK));
        assert_eq!(parse_sipfrag(b"SIP/2.0 1"), None);
        assert_eq!(parse_sipfrag(b"garbage"), None);
    }
}
