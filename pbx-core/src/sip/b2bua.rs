//! The B2BUA entry (`calls.engine = "b2bua"`): every message that is not a
//! REGISTER or an OPTIONS to the server goes to the call engine
//! (`crate::b2bua`) instead of the proxy. New INVITEs are admitted here
//! first — Max-Forwards, no open relay, proxy authentication of local users
//! (RFC 3261 §22.3) — then every message is queued for the engine's driver
//! through its [`EngineHandle`]; the driver routes calls
//! (`crate::routing`) and runs them.

use std::sync::Arc;
use std::time::Instant;

use sip_stack::message::{HeaderName, Method, Request, SipMessage, StatusCode};
use sip_stack::Peer;

use super::{Now, Outbox, SipCore};
use crate::b2bua::media::EndpointService;
use crate::b2bua::EngineHandle;
use crate::proxy::local_response;
use crate::routing::SharedDialplan;
use crate::trunks::Trunks;

/// What the SIP entry needs of the B2BUA: the engine's input queue and the
/// trunks (their own REGISTERs and probes are answered here).
pub struct B2buaHost {
    /// The engine's input queue (the driver thread owns the engine).
    pub engine: EngineHandle,
    /// The dial plan in service (`POST /reload` swaps it).
    pub dialplan: SharedDialplan,
    /// SIP trunks (possibly none).
    pub trunks: Arc<Trunks>,
    /// pbx's own media endpoints (conference rooms, prompts); None when
    /// they could not start.
    pub endpoints: Option<Arc<EndpointService>>,
}

impl SipCore {
    /// Installs the call engine: from now on calls go through the B2BUA.
    pub fn with_b2bua(mut self, host: B2buaHost) -> Self {
        self.b2bua = Some(host);
        self
    }

    /// Queues a message for the engine's driver.
    /// `may_call_out`: a new INVITE admitted as a local user's (or a
    /// trusted peer's), which may be routed out through a trunk.
    pub(super) fn to_engine(
        &self,
        host: &B2buaHost,
        msg: SipMessage,
        peer: Peer,
        may_call_out: bool,
    ) {
        let source_trunk = host.trunks.by_source(peer.addr);
        if !host.engine.sip(msg, peer, source_trunk, may_call_out) {
            self.metrics.engine_drops.inc();
            tracing::debug!(%peer, "engine queue full: message dropped (the sender retransmits)");
        }
    }

    /// A response in B2BUA mode: the trunks' REGISTERs and probes, or the engine's.
    pub(super) fn b2bua_response(
        &self,
        host: &B2buaHost,
        now: &Now,
        resp: sip_stack::message::Response,
        peer: Peer,
        out: &mut Outbox,
    ) {
        let ours = resp
            .call_id()
            .is_ok_and(|c| !host.trunks.is_empty() && host.trunks.manager().lock().owns(c));
        if ours {
            let mut m = host.trunks.manager().lock();
            m.handle_response(now.instant, SipMessage::Response(resp), peer);
            m.drain(out);
            return;
        }
        self.to_engine(host, SipMessage::Response(resp), peer, false);
    }

    /// A request in B2BUA mode: new INVITEs are admitted, the rest goes
    /// straight to the engine (the user agent matches it to its dialogs).
    pub(super) fn b2bua_request(
        &self,
        host: &B2buaHost,
        now: &Now,
        mut req: Request,
        peer: Peer,
        out: &mut Outbox,
    ) {
        let initial_invite =
            req.method == Method::Invite && req.to().ok().is_some_and(|t| t.tag().is_none());
        let mut may_call_out = false;
        if initial_invite && self.is_draining() {
            let mut resp = local_response(
                &req,
                StatusCode::SERVICE_UNAVAILABLE,
                "Shutting down",
                &self.ids.tag(),
            );
            resp.headers.push(sip_stack::message::Header::new(
                HeaderName::Other("Retry-After".into()),
                bytes::Bytes::from_static(b"30"),
            ));
            self.reply(out, peer, resp);
            return;
        }
        if initial_invite {
            let from_trunk = host.trunks.by_source(peer.addr).is_some();
            match self.admit(now, &mut req, peer, from_trunk) {
                Ok(local) => may_call_out = local && !from_trunk,
                Err((status, reason)) => {
                    let resp = if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
                        self.challenge(now, &req, status, reason == "stale")
                    } else {
                        local_response(&req, status, reason, &self.ids.tag())
                    };
                    self.reply(out, peer, resp);
                    return;
                }
            }
        }
        self.to_engine(host, SipMessage::Request(req), peer, may_call_out);
    }

    /// RFC 3261 §16.3 checks and §22.3 authentication of a new call.
    /// `Ok(true)`: a trusted peer or an authenticated local user (who may
    /// call out through trunks); `Ok(false)`: a foreign caller, or a trunk
    /// (trusted by its source address, `from_trunk`).
    fn admit(
        &self,
        now: &Now,
        req: &mut Request,
        peer: Peer,
        from_trunk: bool,
    ) -> Result<bool, (StatusCode, &'static str)> {
        match req.max_forwards() {
            Ok(Some(0)) => return Err((StatusCode::TOO_MANY_HOPS, "")),
            Ok(_) => {}
            Err(_) => return Err((StatusCode::BAD_REQUEST, "bad header: Max-Forwards")),
        }
        if !self.locals.is_local_host(&req.uri.host) {
            return Err((StatusCode::FORBIDDEN, "Relaying denied"));
        }
        let trusted = self.is_trusted(peer.addr.ip());
        let from = req
            .from()
            .map_err(|_| (StatusCode::BAD_REQUEST, "bad header: From"))?;
        if trusted {
            return Ok(true);
        }
        if from_trunk || !self.locals.is_local_host(&from.uri.host) {
            return Ok(false);
        }
        match self.check_credentials(now, req, peer, &HeaderName::ProxyAuthorization) {
            Ok(user) if Some(&user) == from.uri.user.as_ref() => {
                req.headers.remove_all(&HeaderName::ProxyAuthorization);
                Ok(true)
            }
            Ok(_) => Err((
                StatusCode::FORBIDDEN,
                "Authentication user does not match From",
            )),
            Err(true) => Err((StatusCode::PROXY_AUTHENTICATION_REQUIRED, "stale")),
            Err(false) => Err((StatusCode::PROXY_AUTHENTICATION_REQUIRED, "")),
        }
    }

    /// The trunks' registrations and probes, when due.
    pub(super) fn trunk_timers(&self, host: &B2buaHost, now: &Now, out: &mut Outbox) {
        if host.trunks.is_empty() {
            return;
        }
        let mut m = host.trunks.manager().lock();
        if m.poll_timeout().is_some_and(|t| t <= now.instant) {
            m.handle_timeout(now.instant);
            m.drain(out);
        }
    }

    /// The trunks' next deadline (the engine's driver keeps its own).
    pub(super) fn b2bua_deadline(&self) -> Option<Instant> {
        let host = self.b2bua.as_ref()?;
        if host.trunks.is_empty() {
            return None;
        }
        host.trunks.manager().lock().poll_timeout()
    }
}
