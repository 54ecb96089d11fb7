//! Session timers (RFC 4028): a confirmed session is refreshed every
//! `interval / 2` by its refresher (re-INVITE, or UPDATE when the peer
//! allows it, §7.4 and §8); the other side ends the session with a BYE
//! when no refresh arrived `min(32 s, interval / 3)` before the interval
//! ends (§10). The negotiation rides on the INVITE and its 2xx:
//! `Session-Expires: N;refresher=uac|uas`, `Supported`/`Require: timer`,
//! and `422` with `Min-SE` for intervals below 90 s (§5, §6).

use std::time::{Duration, Instant};

use crate::message::{Header, HeaderName, Headers, Method, Request, Response, StatusCode};
use crate::transaction::ServerTxId;

use super::helpers::{body_of, set_body};
use super::session::Phase;
use super::{EndReason, SessionId, UserAgent};

/// The smallest interval accepted (RFC 4028 §4: Min-SE defaults to 90 s).
pub(super) const MIN_SE: u32 = 90;

/// Who sends the refreshes, as the `refresher` parameter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Self::Uac => "uac",
            Self::Uas => "uas",
        }
    }
}

/// The timer of one confirmed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionTimer {
    /// The negotiated session interval.
    pub(super) interval: Duration,
    /// We are the refresher.
    pub(super) local: bool,
    /// The last refresh (or the answer that started the session).
    pub(super) last: Instant,
    /// A refresh of ours is in flight.
    pub(super) refreshing: bool,
    /// The peer listed UPDATE in its Allow header.
    pub(super) peer_update: bool,
}

impl SessionTimer {
    fn new(now: Instant, secs: u32, local: bool, peer_update: bool) -> Self {
        Self {
            interval: Duration::from_secs(u64::from(secs)),
            local,
            last: now,
            refreshing: false,
            peer_update,
        }
    }

    /// When we refresh (refresher) or give up on the peer (§10).
    pub(super) fn deadline(&self) -> Instant {
        if self.local && self.refreshing {
            // Our refresh is unanswered: wait for it up to the interval's end.
            self.last + self.interval
        } else if self.local {
            self.last + self.interval / 2
        } else {
            let guard = Duration::from_secs(32).min(self.interval / 3);
            self.last + self.interval - guard
        }
    }

    /// Header value for a refresh we send or a 2xx we answer, with the
    /// refresher named from the point of view of that transaction.
    fn header(&self, refresher: Refresher) -> Header {
        Header::new(
            session_expires(),
            format!(
                "{};refresher={}",
                self.interval.as_secs(),
                refresher.as_str()
            ),
        )
    }
}

fn session_expires() -> HeaderName {
    HeaderName::Other("Session-Expires".into())
}

/// `Session-Expires` (or its compact form `x`): seconds and refresher.
pub(super) fn parse_session_expires(headers: &Headers) -> Option<(u32, Option<Refresher>)> {
    let value = headers
        .get_str(&session_expires())
        .or_else(|| headers.get_str(&HeaderName::Other("x".into())))?;
    let mut parts = value.split(';');
    let secs = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("refresher") {
            return None;
        }
        match v.trim().to_ascii_lowercase().as_str() {
            "uac" => Some(Refresher::Uac),
            "uas" => Some(Refresher::Uas),
            _ => None,
        }
    });
    Some((secs, refresher))
}

/// Whether `Supported` or `Require` lists the option tag.
pub(super) fn lists_option(headers: &Headers, tag: &str) -> bool {
    [HeaderName::Supported, HeaderName::Require]
        .iter()
        .flat_map(|n| headers.get_all(n))
        .filter_map(|h| h.value_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// Whether the Allow header lists `method`.
fn allows(headers: &Headers, method: &str) -> bool {
    headers
        .get_all(&HeaderName::Allow)
        .filter_map(|h| h.value_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.trim().eq_ignore_ascii_case(method))
}

/// The UAS side of the negotiation (§9): from the INVITE and our own
/// preference, the interval and who refreshes.
fn negotiate_uas(req: &Request, preferred: Option<Duration>) -> Option<(u32, Refresher)> {
    let uac_supports = lists_option(&req.headers, "timer");
    let preferred = preferred.map(|d| (d.as_secs() as u32).max(MIN_SE));
    match parse_session_expires(&req.headers) {
        Some((secs, refresher)) => {
            let secs = preferred.map_or(secs, |p| p.min(secs)).max(MIN_SE);
            let default = if uac_supports {
                Refresher::Uac
            } else {
                Refresher::Uas
            };
            Some((secs, refresher.unwrap_or(default)))
        }
        // The caller did not ask: we keep the session alive ourselves.
        None => preferred.map(|p| (p, Refresher::Uas)),
    }
}

impl UserAgent {
    /// §5: an INVITE asking for an interval below Min-SE gets 422. Returns
    /// whether it was refused.
    pub(super) fn refuse_short_interval(
        &mut self,
        now: Instant,
        tx: ServerTxId,
        req: &Request,
    ) -> bool {
        match parse_session_expires(&req.headers) {
            Some((secs, _)) if secs < MIN_SE => {
                let mut resp =
                    Response::for_request(req, StatusCode::SESSION_INTERVAL_TOO_SMALL, None);
                resp.headers.push(Header::new(
                    HeaderName::Other("Min-SE".into()),
                    MIN_SE.to_string(),
                ));
                let _ = self.layer.send_response(now, tx, resp);
                true
            }
            _ => false,
        }
    }

    /// Adds the session timer headers to our 2xx for an INVITE or
    /// re-INVITE and (re)starts the timer: the answer is a refresh too.
    pub(super) fn timer_on_answer(
        &mut self,
        now: Instant,
        id: SessionId,
        req: &Request,
        resp: &mut Response,
    ) {
        let preferred = self.config.session_expires;
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let negotiated = match session.timer {
            // A refresh keeps the interval; whoever sent it refreshes next.
            Some(t) => Some((
                parse_session_expires(&req.headers).map_or(t.interval.as_secs() as u32, |s| s.0),
                match parse_session_expires(&req.headers).and_then(|s| s.1) {
                    Some(r) => r,
                    None if t.local => Refresher::Uas,
                    None => Refresher::Uac,
                },
            )),
            None => negotiate_uas(req, preferred),
        };
        let Some((secs, refresher)) = negotiated else {
            return;
        };
        let peer_update = session
            .timer
            .map_or_else(|| allows(&req.headers, "UPDATE"), |t| t.peer_update);
        let timer = SessionTimer::new(now, secs, refresher == Refresher::Uas, peer_update);
        resp.headers.push(timer.header(refresher));
        if lists_option(&req.headers, "timer") {
            resp.headers.push(Header::new(HeaderName::Require, "timer"));
        }
        session.timer = Some(timer);
    }

    /// Our INVITE's 2xx (§7.2): a Session-Expires in it starts the timer;
    /// without a refresher parameter the UAC refreshes.
    pub(super) fn timer_on_2xx(&mut self, now: Instant, id: SessionId, resp: &Response) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if let Some((secs, refresher)) = parse_session_expires(&resp.headers) {
            let local = refresher != Some(Refresher::Uas);
            let peer_update = allows(&resp.headers, "UPDATE");
            session.timer = Some(SessionTimer::new(now, secs.max(MIN_SE), local, peer_update));
        }
    }

    /// An UPDATE (RFC 3311): without a body it is a session refresh; an
    /// offer in it is answered like a re-INVITE's (see `update.rs`).
    pub(super) fn on_update(&mut self, now: Instant, id: SessionId, tx: ServerTxId, req: Request) {
        if let Some(body) = body_of(&req.headers, &req.body) {
            self.on_update_offer(now, id, tx, req, body);
            return;
        }
        let req = &req;
        let mut resp = Response::for_request(req, StatusCode::OK, None);
        if self.sessions.get(&id).is_some_and(|s| s.timer.is_some()) {
            self.timer_on_answer(now, id, req, &mut resp);
        }
        let _ = self.layer.send_response(now, tx, resp);
    }

    /// The session timer fired: refresh (refresher) or end the session.
    pub(super) fn on_refresh_timer(&mut self, now: Instant, id: SessionId) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(timer) = session.timer.as_mut() else {
            return;
        };
        if timer.deadline() > now || session.phase != Phase::Confirmed {
            return;
        }
        if !timer.local || timer.refreshing {
            // §10: no refresh arrived (or ours got no answer) in time.
            tracing::debug!(session = %id, "session interval expired: BYE");
            session.timer = None;
            let _ = self.send_bye(now, id);
            self.end(id, EndReason::SessionExpired);
            return;
        }
        timer.refreshing = true;
        let (header, use_update) = (timer.header(Refresher::Uac), timer.peer_update);
        let body = session.local_sdp.clone();
        let Some(dialog) = session.dialog.as_mut() else {
            return;
        };
        let mut req = if use_update {
            dialog.request(Method::Update)
        } else {
            let mut req = dialog.request(Method::Invite);
            set_body(&mut req.headers, &mut req.body, body);
            req
        };
        req.headers.push(header);
        req.headers
            .push(Header::new(HeaderName::Supported, "timer"));
        match self.send_in_dialog(now, id, req) {
            Ok(tx) if !use_update => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.reinvite_tx = Some(tx);
                    s.refresh_reinvite = true;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(session = %id, error = %e, "session refresh not sent"),
        }
    }

    /// The answer to our refresh: 2xx restarts the interval; 408 and 481
    /// mean the dialog is gone (§7.4 via RFC 3261 §12.2.1.2).
    pub(super) fn on_refresh_response(&mut self, now: Instant, id: SessionId, resp: &Response) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(timer) = session.timer.as_mut() else {
            return;
        };
        timer.refreshing = false;
        if resp.status.is_success() {
            timer.last = now;
            if let Some((secs, refresher)) = parse_session_expires(&resp.headers) {
                timer.interval = Duration::from_secs(u64::from(secs.max(MIN_SE)));
                timer.local = refresher != Some(Refresher::Uas);
            }
            return;
        }
        if resp.status == StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            || resp.status == StatusCode::REQUEST_TIMEOUT
        {
            session.timer = None;
            let _ = self.send_bye(now, id);
            self.end(id, EndReason::SessionExpired);
        } else {
            // Any other failure leaves the session as it was (§7.4): the
            // next attempt waits a little.
            timer.last = now - timer.interval / 2 + Duration::from_secs(10).min(timer.interval / 4);
        }
    }

    /// Adds our session timer request to an initial INVITE (§7.1).
    pub(super) fn timer_on_invite(&self, req: &mut Request) {
        if let Some(d) = self.config.session_expires {
            let secs = (d.as_secs() as u32).max(MIN_SE);
            req.headers
                .push(Header::new(session_expires(), secs.to_string()));
            req.headers
                .push(Header::new(HeaderName::Supported, "timer"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::default();
        for (n, v) in lines {
            h.push(Header::new(HeaderName::Other((*n).into()), v.to_string()));
        }
        h
    }

    #[test]
    fn parses_session_expires() {
        let h = headers(&[("Session-Expires", "1800;refresher=uas")]);
        assert_eq!(
            parse_session_expires(&h),
            Some((1800, Some(Refresher::Uas)))
        );
        let h = headers(&[("x", " 600 ")]);
        assert_eq!(parse_session_expires(&h), Some((600, None)));
        let h = headers(&[("Session-Expires", "soon")]);
        assert_eq!(parse_session_expires(&h), None);
    }

    #[test]
    fn deadlines_follow_the_role() {
        let t0 = Instant::now();
        let refresher = SessionTimer::new(t0, 1800, true, false);
        assert_eq!(refresher.deadline(), t0 + Duration::from_secs(900));
        let watcher = SessionTimer::new(t0, 1800, false, false);
        assert_eq!(watcher.deadline(), t0 + Duration::from_secs(1800 - 32));
        let short = SessionTimer::new(t0, 90, false, false);
        assert_eq!(short.deadline(), t0 + Duration::from_secs(60));
    }
}
