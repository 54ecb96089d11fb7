//! Call routing: where a dialed number goes — the dial plan, the location
//! service (registered phones), SIP trunks (least-cost routing, failover
//! over resolved targets), IVR flows, conference rooms, queues — and how the
//! caller is presented. The engine asks through its [`Router`] trait; this
//! module answers from a [`RoutingContext`] the engine's driver owns, so
//! routing never reaches back into the SIP entry.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use sip_stack::message::{NameAddr, Uri};
use sip_stack::Transport;

use crate::auth::Users;
use crate::b2bua::app::{CallClass, DialTarget, Direction, LegSpec};
use crate::b2bua::conference::Conference;
use crate::b2bua::engine::{Router, Routing};
use crate::b2bua::ivr_app::{IvrApp, IvrServices};
use crate::b2bua::presentation;
use crate::b2bua::trunk_route::{Classified, TrunkAttempt, TrunkRoute};
use crate::b2bua::HangupCause;
use crate::dialplan::{CallerId, Dialplan, Route};
use crate::registrar::Location;
use crate::trunks::normalize::e164;
use crate::trunks::{TrunkConfig, Trunks};

/// The dial plan in service; `POST /reload` swaps in a new one (calls keep
/// the routes they were given).
pub type SharedDialplan = Arc<RwLock<Arc<Dialplan>>>;

/// Everything routing reads, shared with the rest of the server.
#[derive(Clone)]
pub struct RoutingContext {
    /// The served domain (AORs of local users).
    pub domain: String,
    /// Registered contacts.
    pub location: Arc<Location>,
    /// The user directory (a known user without contacts is 480, not 404).
    pub users: Users,
    /// The dial plan in service.
    pub dialplan: SharedDialplan,
    /// SIP trunks (possibly none).
    pub trunks: Arc<Trunks>,
    /// IVR flows and the trajectory store (None: `ivr` routes are refused).
    pub ivr: Option<IvrServices>,
    /// Where applications' prompts are (`media.prompts_dir`).
    pub prompts_dir: PathBuf,
    /// The configured queues and the music their callers hear.
    pub queues: Arc<std::collections::HashMap<String, Option<PathBuf>>>,
}

impl RoutingContext {
    /// The router for one input at `unix_secs` (time-of-day rules).
    /// `source_trunk`: the message came from this trunk's carrier;
    /// `may_call_out`: a new INVITE of an authenticated local user or a
    /// trusted peer, which may leave through a trunk.
    pub fn router(
        &self,
        unix_secs: u64,
        source_trunk: Option<usize>,
        may_call_out: bool,
    ) -> CoreRouter<'_> {
        CoreRouter {
            ctx: self,
            dialplan: self.dialplan.read().clone(),
            unix_secs,
            source_trunk,
            may_call_out,
        }
    }
}

/// Routing through the dial plan, the registrar and the trunks at one moment.
#[derive(Clone)]
pub struct CoreRouter<'a> {
    ctx: &'a RoutingContext,
    dialplan: Arc<Dialplan>,
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
        // Targets named by applications (IVR transfers, queue overflow):
        // `queue:NAME` and `flow:NAME` are no dialable numbers.
        if let Some(target) = dialed.strip_prefix("queue:") {
            let (queue, priority) = queue_target(target);
            return self.queue(queue, priority);
        }
        if let Some(flow) = dialed.strip_prefix("flow:") {
            return self.ivr(flow);
        }
        if let Some(op) =
            crate::b2bua::feature_codes::op_of(dialed).filter(|_| !self.ctx.queues.is_empty())
        {
            return Routing::App(Box::new(crate::b2bua::feature_codes::AgentFeature::new(
                op,
                &self.ctx.prompts_dir,
            )));
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
            } => Routing::App(Box::new(Conference::new(
                room,
                moderator_pin,
                &self.ctx.prompts_dir,
            ))),
            Route::Queue { queue, priority } => presented(self.queue(&queue, priority)),
        }
    }
}

impl CoreRouter<'_> {
    /// An INVITE from trunk `t`'s carrier: only its DIDs are routed (to the
    /// DID's target through the dial plan); anything else is 404.
    fn inbound(&self, t: usize, caller: &str, dialed: &str) -> Routing {
        let cfg = &self.ctx.trunks.configs()[t];
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
        let configs = self.ctx.trunks.configs();
        let order = crate::trunks::lcr::candidates(configs, trunk, number);
        let mut attempts: Vec<TrunkAttempt> = Vec::new();
        for i in order.into_iter().filter(|i| self.ctx.trunks.usable(*i)) {
            // One attempt per resolved address: failover walks the
            // trunk's targets before the next trunk (RFC 3263 §4.3).
            match self.ctx.trunks.targets(i) {
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
            self.ctx.trunks.slots().clone(),
        )))
    }

    /// A call into queue `name` (480 when no such queue is configured).
    fn queue(&self, name: &str, priority: u8) -> Routing {
        match self.ctx.queues.get(name) {
            Some(music) => Routing::App(Box::new(crate::b2bua::queue_app::QueueApp::new(
                name,
                i32::from(priority),
                music.clone(),
            ))),
            None => {
                tracing::info!(queue = name, "call to a queue that is not configured");
                Routing::Refuse(HangupCause::Rejected(480))
            }
        }
    }

    /// A call into IVR flow `name` (the version loaded now).
    fn ivr(&self, name: &str) -> Routing {
        let Some(svc) = &self.ctx.ivr else {
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
        let aor = format!("{user}@{}", self.ctx.domain);
        let bindings = self.ctx.location.lookup(&aor, self.unix_secs);
        let targets: Vec<DialTarget> = bindings
            .iter()
            .filter_map(|b| {
                let uri = Uri::parse(&b.uri).ok()?;
                let ws = matches!(b.source.transport, Transport::Ws | Transport::Wss);
                let flow = (ws && b.source.conn.is_some()).then_some(b.source);
                Some(DialTarget { uri, flow })
            })
            .collect();
        if !targets.is_empty() {
            Routing::Dial(targets)
        } else if self.ctx.users.contains(user) {
            Routing::Refuse(HangupCause::Rejected(480))
        } else {
            Routing::Refuse(HangupCause::NoRoute)
        }
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

/// `NAME` or `NAME;priority=N` of a `queue:` target named by an
/// application (an IVR flow's `priority` variable); a bad priority is 0.
fn queue_target(target: &str) -> (&str, u8) {
    match target.split_once(";priority=") {
        Some((queue, p)) => (queue, p.parse().unwrap_or(0)),
        None => (target, 0),
    }
}
