//! The B2BUA entry (`calls.engine = "b2bua"`): every message that is not a
//! REGISTER or an OPTIONS to the server goes to the call engine
//! (`crate::b2bua`) instead of the proxy. New INVITEs are admitted here
//! first — Max-Forwards, no open relay, proxy authentication of local users
//! (RFC 3261 §22.3) — and the engine routes them through the dial plan and
//! the location service ([`CoreRouter`]).

use std::time::Instant;

use parking_lot::Mutex;
use sip_stack::message::{HeaderName, Method, Request, SipMessage, StatusCode, Uri};
use sip_stack::Peer;

use super::{Now, Outbox, SipCore};
use crate::b2bua::app::DialTarget;
use crate::b2bua::conference::Conference;
use crate::b2bua::engine::{Engine, Router, Routing, Services};
use crate::b2bua::media::{EndpointService, MediaEndpoints};
use crate::b2bua::HangupCause;
use crate::dialplan::{Dialplan, Route};
use crate::proxy::local_response;

/// The call engine and the dial plan, owned by the SIP core.
pub struct B2buaHost {
    /// The engine (one lock: calls of all legs meet here).
    pub engine: Mutex<Engine>,
    /// The dial plan.
    pub dialplan: Dialplan,
    /// pbx's own media endpoints (conference rooms, prompts); None when
    /// they could not start.
    pub endpoints: Option<EndpointService>,
    /// Where applications' prompts are (`media.prompts_dir`).
    pub prompts_dir: std::path::PathBuf,
}

/// Routing through the dial plan and the registrar at one moment.
pub struct CoreRouter<'a> {
    core: &'a SipCore,
    dialplan: &'a Dialplan,
    prompts: &'a std::path::Path,
    unix_secs: u64,
}

impl Router for CoreRouter<'_> {
    fn route(&self, _caller: &str, dialed: &str) -> Routing {
        let route = self
            .dialplan
            .route(dialed, self.unix_secs)
            .unwrap_or_else(|| Route::User(dialed.to_owned()));
        match route {
            Route::User(user) => self.user_targets(&user),
            Route::Conference {
                room,
                moderator_pin,
            } => Routing::App(Box::new(Conference::new(room, moderator_pin, self.prompts))),
            // Features of later issues: the targets validate, calls are refused.
            Route::Queue(_) => Routing::Refuse(HangupCause::Rejected(480)),
            _ => Routing::Refuse(HangupCause::NotImplemented),
        }
    }
}

impl CoreRouter<'_> {
    /// The registered contacts of a local user (parallel fork).
    fn user_targets(&self, user: &str) -> Routing {
        let aor = format!("{user}@{}", self.core.locals.domain);
        let bindings = self.core.registrar.location().lookup(&aor, self.unix_secs);
        let targets: Vec<DialTarget> = bindings
            .iter()
            .filter_map(|b| Uri::parse(&b.uri).ok())
            .map(|uri| DialTarget { uri })
            .collect();
        if !targets.is_empty() {
            Routing::Dial(targets)
        } else if self.core.auth.users().contains(user) {
            Routing::Refuse(HangupCause::Rejected(480))
        } else {
            Routing::Refuse(HangupCause::NoRoute)
        }
    }
}

impl SipCore {
    /// Installs the call engine: from now on calls go through the B2BUA.
    pub fn with_b2bua(mut self, host: B2buaHost) -> Self {
        self.b2bua = Some(host);
        self
    }

    /// Hands a message to the engine with the services it needs.
    pub(super) fn to_engine(
        &self,
        host: &B2buaHost,
        now: &Now,
        msg: SipMessage,
        peer: Peer,
        out: &mut Outbox,
    ) {
        let router = CoreRouter {
            core: self,
            dialplan: &host.dialplan,
            prompts: &host.prompts_dir,
            unix_secs: now.unix_secs,
        };
        let svc = Services {
            router: &router,
            anchor: self.anchor.as_ref(),
            endpoints: host.endpoints.as_ref().map(|e| e as &dyn MediaEndpoints),
        };
        host.engine
            .lock()
            .handle_message(now.instant, msg, peer, svc, out);
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
        if initial_invite {
            if let Err((status, reason)) = self.admit(now, &mut req, peer) {
                let resp = if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
                    self.challenge(now, &req, status, reason == "stale")
                } else {
                    local_response(&req, status, reason, &self.ids.tag())
                };
                self.reply(out, peer, resp);
                return;
            }
        }
        self.to_engine(host, now, SipMessage::Request(req), peer, out);
    }

    /// RFC 3261 §16.3 checks and §22.3 authentication of a new call.
    fn admit(
        &self,
        now: &Now,
        req: &mut Request,
        peer: Peer,
    ) -> Result<(), (StatusCode, &'static str)> {
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
        if trusted || !self.locals.is_local_host(&from.uri.host) {
            return Ok(());
        }
        match self.check_credentials(now, req, peer, &HeaderName::ProxyAuthorization) {
            Ok(user) if Some(&user) == from.uri.user.as_ref() => {
                req.headers.remove_all(&HeaderName::ProxyAuthorization);
                Ok(())
            }
            Ok(_) => Err((
                StatusCode::FORBIDDEN,
                "Authentication user does not match From",
            )),
            Err(true) => Err((StatusCode::PROXY_AUTHENTICATION_REQUIRED, "stale")),
            Err(false) => Err((StatusCode::PROXY_AUTHENTICATION_REQUIRED, "")),
        }
    }

    /// The engine's timers, when due, and the media endpoints' events.
    pub(super) fn b2bua_timers(&self, host: &B2buaHost, now: &Now, out: &mut Outbox) {
        let mut engine = host.engine.lock();
        let router = CoreRouter {
            core: self,
            dialplan: &host.dialplan,
            prompts: &host.prompts_dir,
            unix_secs: now.unix_secs,
        };
        if let Some(eps) = &host.endpoints {
            while let Some(ev) = eps.poll_event() {
                let svc = Services {
                    router: &router,
                    anchor: self.anchor.as_ref(),
                    endpoints: Some(eps),
                };
                engine.handle_media_event(now.instant, ev, svc, out);
            }
        }
        if engine.poll_timeout().is_none_or(|t| t > now.instant) {
            return;
        }
        let svc = Services {
            router: &router,
            anchor: self.anchor.as_ref(),
            endpoints: host.endpoints.as_ref().map(|e| e as &dyn MediaEndpoints),
        };
        engine.handle_timeout(now.instant, svc, out);
    }

    /// The engine's next deadline.
    pub(super) fn b2bua_deadline(&self) -> Option<Instant> {
        self.b2bua.as_ref()?.engine.lock().poll_timeout()
    }
}
