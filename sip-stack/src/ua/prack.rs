//! Reliable provisional responses (RFC 3262, "100rel").
//!
//! - UAC: our INVITEs say `Supported: 100rel`; a provisional response with
//!   `Require: 100rel` and an `RSeq` is acknowledged with PRACK (`RAck:
//!   rseq cseq INVITE`, §7.2) in its early dialog; retransmissions of it
//!   (same or lower RSeq) are not reported again (§4).
//! - UAS: when the INVITE requires 100rel, our 18x go reliably: `Require:
//!   100rel` and an `RSeq` counting up from a random start (§3), re-sent at
//!   T1, 2*T1, ... until the PRACK arrives; after 64*T1 without one the
//!   INVITE is refused with 504 (§3: "SHOULD reject with a 5xx"). A PRACK
//!   is answered 200 when its RAck matches, 481 otherwise.

use std::time::{Duration, Instant};

use crate::message::{Header, HeaderName, Headers, Method, Request, Response, StatusCode};
use crate::transaction::ServerTxId;

use super::session::Phase;
use super::{SessionId, UserAgent};

/// Our reliable provisional awaiting its PRACK.
#[derive(Debug, Clone)]
pub(super) struct Unacked {
    pub(super) response: Response,
    pub(super) rseq: u32,
    pub(super) interval: Duration,
    pub(super) next: Instant,
    pub(super) give_up: Instant,
}

impl Unacked {
    pub(super) fn deadline(&self) -> Instant {
        self.next.min(self.give_up)
    }
}

/// UAS state of 100rel for one incoming INVITE.
#[derive(Debug, Clone, Default)]
pub(super) struct Reliability {
    /// The INVITE requires 100rel: every 18x we send is reliable.
    pub(super) required: bool,
    /// The next RSeq to use.
    pub(super) next_rseq: u32,
    /// The provisional awaiting its PRACK.
    pub(super) unacked: Option<Unacked>,
    /// UAC: the highest RSeq acknowledged so far.
    pub(super) last_rseq: Option<u32>,
}

fn rseq_header() -> HeaderName {
    HeaderName::Other("RSeq".into())
}

fn rack_header() -> HeaderName {
    HeaderName::Other("RAck".into())
}

/// `RSeq` of a reliable provisional (`Require: 100rel` present).
pub(super) fn reliable_rseq(headers: &Headers) -> Option<u32> {
    let required = headers
        .get_all(&HeaderName::Require)
        .filter_map(|h| h.value_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("100rel"));
    if !required {
        return None;
    }
    headers.get_str(&rseq_header())?.trim().parse().ok()
}

/// `RAck: rseq cseq method` (§7.2).
fn parse_rack(headers: &Headers) -> Option<(u32, u32, Method)> {
    let v = headers.get_str(&rack_header())?;
    let mut parts = v.split_whitespace();
    let rseq = parts.next()?.parse().ok()?;
    let cseq = parts.next()?.parse().ok()?;
    let method = Method::from_bytes(parts.next()?.as_bytes()).ok()?;
    Some((rseq, cseq, method))
}

impl UserAgent {
    /// UAS: notes whether the new INVITE requires reliable provisionals.
    pub(super) fn reliability_of(&mut self, req: &Request) -> Reliability {
        let required = req
            .headers
            .get_all(&HeaderName::Require)
            .filter_map(|h| h.value_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("100rel"));
        Reliability {
            required,
            // §3: "the initial value ... between 1 and 2**31 - 1", small
            // enough that it never wraps within a dialog.
            next_rseq: (self.rng.next_u64() % (1 << 30)) as u32 + 1,
            unacked: None,
            last_rseq: None,
        }
    }

    /// UAS: makes `resp` (an 18x) reliable when the INVITE asked for it;
    /// returns false when an earlier one still waits for its PRACK (§3:
    /// one at a time), in which case nothing may be sent.
    pub(super) fn make_reliable(
        &mut self,
        now: Instant,
        id: SessionId,
        resp: &mut Response,
    ) -> bool {
        let t1 = self.config.timers.t1;
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        let rel = &mut session.reliability;
        if !rel.required {
            return true;
        }
        if rel.unacked.is_some() {
            return false;
        }
        let rseq = rel.next_rseq;
        rel.next_rseq += 1;
        resp.headers
            .push(Header::new(HeaderName::Require, "100rel"));
        resp.headers
            .push(Header::new(rseq_header(), rseq.to_string()));
        rel.unacked = Some(Unacked {
            response: resp.clone(),
            rseq,
            interval: t1,
            next: now + t1,
            give_up: now + 64 * t1,
        });
        true
    }

    /// UAS: the reliable provisional's timer: re-send, or give up with 504.
    pub(super) fn on_reliable_timer(&mut self, now: Instant, id: SessionId) {
        let t2 = self.config.timers.t2;
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(tx) = session.pending.as_ref().map(|p| p.tx) else {
            session.reliability.unacked = None;
            return;
        };
        let Some(u) = session.reliability.unacked.as_mut() else {
            return;
        };
        if u.give_up <= now {
            session.reliability.unacked = None;
            tracing::debug!(session = %id, "no PRACK within 64*T1: 504");
            let _ = self.reject(now, id, StatusCode::SERVER_TIMEOUT);
            return;
        }
        if u.next <= now {
            u.interval = (u.interval * 2).min(t2);
            u.next = now + u.interval;
            let resp = u.response.clone();
            let _ = self.layer.send_response(now, tx, resp);
        }
    }

    /// A PRACK (in the early dialog of an incoming INVITE): 200 when it
    /// acknowledges our outstanding reliable provisional, 481 otherwise.
    /// Returns false when no session of ours matches.
    pub(super) fn on_prack(&mut self, now: Instant, tx: ServerTxId, req: &Request) -> bool {
        let call_id = req.call_id().ok();
        let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_owned));
        let id = call_id.and_then(|c| {
            self.sessions_of(c).iter().copied().find(|id| {
                self.sessions.get(id).is_some_and(|s| {
                    s.phase == Phase::Incoming && Some(s.local_tag.as_str()) == to_tag.as_deref()
                })
            })
        });
        let Some(session) = id.and_then(|id| self.sessions.get_mut(&id)) else {
            return false;
        };
        let invite_seq = session.invite_seq;
        let matches = match (&session.reliability.unacked, parse_rack(&req.headers)) {
            (Some(u), Some((rseq, cseq, Method::Invite))) => u.rseq == rseq && cseq == invite_seq,
            _ => false,
        };
        let status = if matches {
            // An answer in the acknowledged 18x completes the INVITE's
            // offer/answer: UPDATE offers may follow (RFC 3311 §5.1).
            if session
                .reliability
                .unacked
                .take()
                .is_some_and(|u| !u.response.body.is_empty())
            {
                session.early_answered = true;
            }
            StatusCode::OK
        } else {
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
        };
        let resp = Response::for_request(req, status, None);
        let _ = self.layer.send_response(now, tx, resp);
        true
    }

    /// UAC: a provisional response to our INVITE. Returns false when it is
    /// a retransmission of a reliable one already acknowledged (not to be
    /// reported again); sends the PRACK for a new reliable one.
    pub(super) fn acknowledge_provisional(
        &mut self,
        now: Instant,
        id: SessionId,
        resp: &Response,
    ) -> bool {
        let Some(rseq) = reliable_rseq(&resp.headers) else {
            return true;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        if session
            .reliability
            .last_rseq
            .is_some_and(|last| rseq <= last)
        {
            return false;
        }
        session.reliability.last_rseq = Some(rseq);
        let cseq = resp.cseq().map_or(session.invite_seq, |c| c.seq);
        let Some(dialog) = session.dialog.as_mut() else {
            return true;
        };
        let mut prack = dialog.request(Method::Prack);
        prack
            .headers
            .push(Header::new(rack_header(), format!("{rseq} {cseq} INVITE")));
        if let Err(e) = self.send_in_dialog(now, id, prack) {
            tracing::debug!(session = %id, error = %e, "PRACK not sent");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_parses() {
        let mut h = Headers::default();
        h.push(Header::new(rack_header(), "776656 1 INVITE"));
        assert_eq!(parse_rack(&h), Some((776_656, 1, Method::Invite)));
        let mut bad = Headers::default();
        bad.push(Header::new(rack_header(), "x 1 INVITE"));
        assert_eq!(parse_rack(&bad), None);
    }

    #[test]
    fn rseq_only_when_required() {
        let mut h = Headers::default();
        h.push(Header::new(rseq_header(), "5"));
        assert_eq!(reliable_rseq(&h), None);
        h.push(Header::new(HeaderName::Require, "100rel"));
        assert_eq!(reliable_rseq(&h), Some(5));
    }
}
