//! The B2BUA entry (`calls.engine = "b2bua"`): every message that is not a
//! REGISTER or an OPTIONS to the server goes to the call engine
//! (`crate::b2bua`) instead of the proxy. New INVITEs are admitted here
//! first — Max-Forwards, no open relay, proxy authentication of local users
//! (RFC 3261 §22.3) — and the engine routes them through the dial plan and
//! the location service ([`CoreRouter`]).

use std::time::Instant;

use parking_lot::Mutex;
use sip_stack::message::{HeaderName, Method, NameAddr, Request, SipMessage, StatusCode, Uri};
use sip_stack::Peer;

use super::{Now, Outbox, SipCore};
use crate::b2bua::app::{CallClass, DialTarget, Direction, LegSpec};
use crate::b2bua::conference::Conference;
use crate::b2bua::engine::{Engine, HttpJob, Router, Routing, Services};
use crate::b2bua::ivr_app::{IvrApp, IvrServices};
use crate::b2bua::media::{EndpointService, MediaEndpoints};
use crate::b2bua::presentation;
use crate::b2bua::trunk_route::{Classified, TrunkAttempt, TrunkRoute};
use crate::b2bua::HangupCause;
use crate::dialplan::{CallerId, Dialplan, Route};
use crate::proxy::local_response;
use crate::trunks::normalize::e164;
use crate::trunks::{TrunkConfig, Trunks};

/// The call engine and the dial plan, owned by the SIP core.
pub struct B2buaHost {
    /// The engine (one lock: calls of all legs meet here).
    pub engine: Mutex<Engine>,
    /// The dial plan; `POST /reload` swaps in a new one (calls keep the
    /// routes they were given).
    pub dialplan: parking_lot::RwLock<std::sync::Arc<Dialplan>>,
    /// SIP trunks (possibly none).
    pub trunks: Trunks,
    /// IVR flows and the trajectory store (None: `ivr` routes are refused).
    pub ivr: Option<IvrServices>,
    /// Woken when the engine queued HTTP jobs ([`SipCore::b2bua_jobs`]).
    pub jobs_ready: std::sync::Arc<tokio::sync::Notify>,
    /// pbx's own media endpoints (conference rooms, prompts); None when
    /// they could not start.
    pub endpoints: Option<EndpointService>,
    /// Where applications' prompts are (`media.prompts_dir`).
    pub prompts_dir: std::path::PathBuf,
}

impl B2buaHost {
    /// Wakes the job runner if the engine queued work.
    fn signal_jobs(&self, engine: &Engine) {
        if engine.has_jobs() {
            self.jobs_ready.notify_one();
        }
    }
}

/// Routing through the dial plan, the registrar and the trunks at one moment.
#[derive(Clone)]
pub struct CoreRouter<'a> {
    core: &'a SipCore,
    dialplan: std::sync::Arc<Dialplan>,
    trunks: &'a Trunks,
    ivr: Option<&'a IvrServices>,
    prompts: &'a std::path::Path,
    unix_secs: u64,
    /// The message being handled came from this trunk's carrier.
    source_trunk: Option<usize>,
    /// The message is a new INVITE of an authenticated local user or a
    /// trusted peer: it may leave through a trunk (no open relay for
    /// unauthenticated foreign callers, and none for transfers).
    may_call_out: bool,
}

impl Router for CoreRouter<'_> {
    fn route(&self, caller: &str, dialed: &str) -> Routing {
        if let Some(t) = self.source_trunk {
            return self.inbound(t, caller, dialed);
        }
        let routed = self.dialplan.lookup(dialed, self.unix_secs);
        let (route, caller_id) = match routed {
            Some(r) => (r.route, r.caller_id),
            None => (Route::User(dialed.to_owned()), CallerId::default()),
        };
        let presented = |routing: Routing| {
            if caller_id.is_unchanged() {
                routing
            } else {
                Routing::Presented {
                    routing: Box::new(routing),
                    caller_id: caller_id.clone(),
                }
            }
        };
        match route {
            Route::User(user) => presented(self.user_targets(&user)),
            // Trunk legs carry their presentation in their own From.
            Route::Trunk { trunk, number } => self.outbound(caller, &trunk, &number, &caller_id),
            Route::Ivr(flow) => self.ivr(&flow),
            Route::Conference {
                room,
                moderator_pin,
            } => Routing::App(Box::new(Conference::new(room, moderator_pin, self.prompts))),
            // Queues are a later issue: the target validates, calls are refused.
            Route::Queue(_) => Routing::Refuse(HangupCause::Rejected(480)),
        }
    }
}

impl CoreRouter<'_> {
    /// An INVITE from trunk `t`'s carrier: only its DIDs are routed (to the
    /// DID's target through the dial plan); anything else is 404.
    fn inbound(&self, t: usize, caller: &str, dialed: &str) -> Routing {
        let cfg = &self.trunks.configs()[t];
        let did = cfg.inbound.apply(dialed);
        let Some(d) = cfg.dids.iter().find(|d| d.number == did) else {
            tracing::info!(trunk = %cfg.name, %did, "inbound call to a number that is no DID of the trunk");
            return Routing::Refuse(HangupCause::NoRoute);
        };
        let target = d.target.clone().unwrap_or_else(|| did.clone());
        let local = CoreRouter {
            source_trunk: None,
            may_call_out: false,
            ..self.clone()
        };
        let (inner, caller_id) = local.route(caller, &target).split();
        // the caller in E.164 under the trunk's rules: shown so to the
        // local phones (a call back goes out in the same form) unless the
        // dial plan presents another number
        let caller_e164 = e164(&cfg.inbound.to_e164(caller.to_owned()));
        let caller_id = match (caller_id, &caller_e164) {
            (Some(mut c), Some(n)) if c.number.is_none() && n != caller => {
                c.number = Some(n.clone());
                Some(c)
            }
            (None, Some(n)) if n != caller => Some(CallerId {
                number: Some(n.clone()),
                ..CallerId::default()
            }),
            (c, _) => c,
        };
        let class = CallClass {
            direction: Direction::Inbound,
            callee_e164: e164(&did),
            did: Some(did),
            trunk: Some(cfg.name.clone()),
            caller_e164,
        };
        let app = Routing::App(Box::new(Classified::new(class, inner.into_app())));
        match caller_id {
            Some(caller_id) => Routing::Presented {
                routing: Box::new(app),
                caller_id,
            },
            None => app,
        }
    }

    /// A call out through the trunks of least-cost routing for `number`.
    fn outbound(&self, caller: &str, trunk: &str, number: &str, caller_id: &CallerId) -> Routing {
        if !self.may_call_out {
            return Routing::Refuse(HangupCause::Rejected(403));
        }
        let configs = self.trunks.configs();
        let order = crate::trunks::lcr::candidates(configs, trunk, number);
        let mut attempts: Vec<TrunkAttempt> = Vec::new();
        for i in order.into_iter().filter(|i| self.trunks.usable(*i)) {
            // One attempt per resolved address: failover walks the
            // trunk's targets before the next trunk (RFC 3263 §4.3).
            match self.trunks.targets(i) {
                Ok(targets) => attempts.extend(
                    targets
                        .into_iter()
                        .map(|dest| trunk_attempt(i, &configs[i], dest, caller, number, caller_id)),
                ),
                Err(e) => {
                    tracing::warn!(trunk = %configs[i].name, proxy = %configs[i].proxy, error = %e, "trunk skipped: its host name has no address");
                }
            }
        }
        if attempts.is_empty() {
            // The route refuses with 503 and records the call as outbound.
            tracing::info!(%trunk, %number, "no trunk up for the number");
        }
        Routing::App(Box::new(TrunkRoute::new(
            attempts,
            self.trunks.slots().clone(),
        )))
    }

    /// A call into IVR flow `name` (the version loaded now).
    fn ivr(&self, name: &str) -> Routing {
        let Some(svc) = self.ivr else {
            tracing::info!(flow = name, "IVR route without [ivr] flows_dir");
            return Routing::Refuse(HangupCause::NotImplemented);
        };
        let flow = svc.flows.read().get(name);
        match flow {
            Some(flow) => Routing::App(Box::new(IvrApp::new(svc.clone(), flow))),
            None => {
                tracing::warn!(flow = name, "IVR flow not loaded; call refused");
                Routing::Refuse(HangupCause::NoRoute)
            }
        }
    }

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
    /// The router for one input: dial plan, registrar, trunks, IVR flows
    /// and prompts as they are now.
    fn router<'a>(
        &'a self,
        host: &'a B2buaHost,
        now: &Now,
        source_trunk: Option<usize>,
        may_call_out: bool,
    ) -> CoreRouter<'a> {
        CoreRouter {
            core: self,
            dialplan: host.dialplan.read().clone(),
            trunks: &host.trunks,
            ivr: host.ivr.as_ref(),
            prompts: &host.prompts_dir,
            unix_secs: now.unix_secs,
            source_trunk,
            may_call_out,
        }
    }

    /// Installs the call engine: from now on calls go through the B2BUA.
    pub fn with_b2bua(mut self, host: B2buaHost) -> Self {
        self.b2bua = Some(host);
        self
    }

    /// Hands a message to the engine with the services it needs.
    /// `may_call_out`: a new INVITE admitted as a local user's (or a
    /// trusted peer's), which may be routed out through a trunk.
    pub(super) fn to_engine(
        &self,
        host: &B2buaHost,
        now: &Now,
        msg: SipMessage,
        peer: Peer,
        may_call_out: bool,
        out: &mut Outbox,
    ) {
        let router = self.router(host, now, host.trunks.by_source(peer.addr), may_call_out);
        let svc = Services {
            router: &router,
            anchor: self.anchor.as_ref(),
            endpoints: host.endpoints.as_ref().map(|e| e as &dyn MediaEndpoints),
        };
        let mut engine = host.engine.lock();
        engine.handle_message(now.instant, msg, peer, svc, out);
        host.signal_jobs(&engine);
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
        self.to_engine(host, now, SipMessage::Response(resp), peer, false, out);
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
        self.to_engine(host, now, SipMessage::Request(req), peer, may_call_out, out);
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

    /// The engine's timers, when due, the media endpoints' events and the
    /// key presses the relay saw.
    pub(super) fn b2bua_timers(&self, host: &B2buaHost, now: &Now, out: &mut Outbox) {
        let mut engine = host.engine.lock();
        let router = self.router(host, now, None, false);
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
        if let Some(anchor) = &self.anchor {
            for dtmf in anchor.poll_dtmf() {
                let svc = Services {
                    router: &router,
                    anchor: Some(anchor),
                    endpoints: host.endpoints.as_ref().map(|e| e as &dyn MediaEndpoints),
                };
                engine.handle_relay_dtmf(now.instant, dtmf, svc, out);
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
        host.signal_jobs(&engine);
    }

    /// HTTP requests of applications waiting to run (IVR http nodes).
    pub fn b2bua_jobs(&self) -> Vec<HttpJob> {
        let Some(host) = &self.b2bua else {
            return Vec::new();
        };
        let mut engine = host.engine.lock();
        std::iter::from_fn(|| engine.poll_job()).collect()
    }

    /// The outcome of a job from [`Self::b2bua_jobs`].
    pub fn b2bua_http_result(
        &self,
        now: &Now,
        job: &HttpJob,
        outcome: crate::b2bua::app::HttpOutcome,
        out: &mut Outbox,
    ) {
        let Some(host) = &self.b2bua else {
            return;
        };
        let router = self.router(host, now, None, false);
        let svc = Services {
            router: &router,
            anchor: self.anchor.as_ref(),
            endpoints: host.endpoints.as_ref().map(|e| e as &dyn MediaEndpoints),
        };
        let mut engine = host.engine.lock();
        engine.handle_http_result(now.instant, job.call, job.id, outcome, svc, out);
        host.signal_jobs(&engine);
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

    /// The engine's (and the trunks') next deadline.
    pub(super) fn b2bua_deadline(&self) -> Option<Instant> {
        let host = self.b2bua.as_ref()?;
        let trunks = if host.trunks.is_empty() {
            None
        } else {
            host.trunks.manager().lock().poll_timeout()
        };
        host.engine
            .lock()
            .poll_timeout()
            .into_iter()
            .chain(trunks)
            .min()
    }
}

/// The INVITE of a call through trunk `t` at `dest` (its address, or one
/// its host name resolved to): the number and the caller id as
/// the trunk's outbound rules write them (the dial plan entry's
/// presentation first, then the trunk's `caller_id`), the trunk's
/// credentials; with privacy an anonymous From, `Privacy: id` and, to a
/// trusted trunk, the identity in `P-Asserted-Identity`.
fn trunk_attempt(
    i: usize,
    t: &TrunkConfig,
    dest: std::net::SocketAddr,
    caller: &str,
    number: &str,
    caller_id: &CallerId,
) -> TrunkAttempt {
    let number = t.outbound.apply(number);
    let mut uri = Uri::sip(crate::trunks::uri_host(dest.ip()));
    uri.user = Some(number.clone());
    uri.port = Some(dest.port());
    if t.transport != sip_stack::Transport::Udp {
        uri.params.push(sip_stack::message::Param {
            name: "transport".into(),
            value: Some(t.transport.as_str().to_ascii_lowercase()),
        });
    }
    let domain = t.domain();
    let mut to = Uri::sip(domain.clone());
    to.user = Some(number);
    let mut from = Uri::sip(domain);
    from.user = Some(
        t.caller_id
            .clone()
            .unwrap_or_else(|| t.outbound.apply(caller)),
    );
    let shown = presentation::present(&NameAddr::new(from), caller_id, t.trusted);
    presentation::add_headers(&mut uri, &shown.headers);
    let credentials = match (&t.username, &t.password) {
        (Some(u), Some(p)) => Some(sip_stack::ua::Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    };
    TrunkAttempt {
        trunk: i,
        name: t.name.clone(),
        leg: LegSpec {
            uri,
            from: Some(shown.from),
            to: Some(sip_stack::message::NameAddr::new(to)),
            credentials,
        },
        max_calls: t.max_calls,
        setup_timeout: t.setup_timeout,
    }
}
