//! Where a request goes (RFC 3261 §16.3–§16.5): Max-Forwards (483), loop
//! detection (482), loose routing of our own Route entries, in-dialog routing,
//! no open relay (403), proxy authentication of local users (407), and the
//! location lookup (404 / 480) that yields the targets to fork to.

use std::net::SocketAddr;

use sip_stack::message::{HeaderName, Method, Request, StatusCode, Uri};
use sip_stack::Peer;

use super::context::ProxyContext;
use super::forward::Target;
use crate::sans_io::resolve;
use crate::sans_io::Now;

/// The proxy's decision on a request.
#[derive(Debug)]
pub enum Decision {
    /// Answer locally.
    Reply(StatusCode, &'static str),
    /// Answer with a 407 challenge.
    Challenge {
        /// `stale=true`.
        stale: bool,
    },
    /// Forward to these targets (in parallel).
    Forward {
        /// One per branch.
        targets: Vec<Target>,
        /// Insert Record-Route (dialog-creating request).
        record_route: bool,
    },
}

/// Methods that create dialogs and so get a Record-Route.
fn creates_dialog(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
    )
}

/// The loop-detection hash of RFC 3261 §16.6 step 8 (over the fields that a
/// spiral changes and a loop does not).
pub(crate) fn loop_hash(core: &dyn ProxyContext, req: &Request) -> u64 {
    let from_tag = req.from().ok().and_then(|f| f.tag().map(str::to_owned));
    let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_owned));
    let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
    core.ids().hash(&(
        req.uri.to_string(),
        from_tag,
        to_tag,
        req.call_id().unwrap_or(""),
        cseq,
    ))
}

/// Decides what to do with a request that is not REGISTER, ACK or CANCEL.
/// May remove our own Route entries and Proxy-Authorization from `req`.
pub fn decide(core: &dyn ProxyContext, req: &mut Request, peer: Peer, now: &Now) -> Decision {
    match req.max_forwards() {
        Ok(Some(0)) => return Decision::Reply(StatusCode::TOO_MANY_HOPS, ""),
        Ok(_) => {}
        Err(_) => return Decision::Reply(StatusCode::BAD_REQUEST, "bad header: Max-Forwards"),
    }
    if is_loop(core, req) {
        return Decision::Reply(StatusCode::LOOP_DETECTED, "");
    }
    let own = pop_own_routes(core, req);
    let in_dialog = req.to().ok().is_some_and(|t| t.tag().is_some());
    if in_dialog {
        if own.popped == 0 {
            // Not record-routed through us: nothing of ours to route.
            return Decision::Reply(StatusCode::NOT_FOUND, "Not a dialog of this proxy");
        }
        if !own.authentic {
            return Decision::Reply(StatusCode::FORBIDDEN, "Relaying denied");
        }
        return forward_to_next_hop(req, false);
    }
    // Our own sockets count as trusted: a spiral through this proxy is not re-challenged.
    let trusted = core.is_trusted(peer.addr.ip())
        || core.locals().listeners.iter().any(|(_, a)| *a == peer.addr);
    if req.headers.contains(&HeaderName::Route) {
        // A pre-loaded route to somewhere else: only trusted peers may use us as a relay.
        if !trusted {
            return Decision::Reply(StatusCode::FORBIDDEN, "Relaying denied");
        }
        return forward_to_next_hop(req, creates_dialog(&req.method));
    }
    if !core.locals().is_local_host(&req.uri.host) {
        return Decision::Reply(StatusCode::FORBIDDEN, "Relaying denied");
    }
    let Some(user) = req.uri.user.clone() else {
        return Decision::Reply(StatusCode::NOT_FOUND, "No user in Request-URI");
    };
    if needs_auth(&req.method) && !trusted {
        let from = match req.from() {
            Ok(f) => f,
            Err(_) => return Decision::Reply(StatusCode::BAD_REQUEST, "bad header: From"),
        };
        if core.locals().is_local_host(&from.uri.host) {
            match core.check_credentials(now, req, peer, &HeaderName::ProxyAuthorization) {
                Ok(auth_user) if Some(&auth_user) == from.uri.user.as_ref() => {
                    strip_our_credentials(core, req)
                }
                Ok(_) => {
                    return Decision::Reply(
                        StatusCode::FORBIDDEN,
                        "Authentication user does not match From",
                    )
                }
                Err(stale) => return Decision::Challenge { stale },
            }
        }
    }
    let aor = format!("{user}@{}", core.locals().domain);
    let bindings = core.registrar().location().lookup(&aor, now.unix_secs);
    if bindings.is_empty() {
        return if core.auth().users().contains(&user) {
            Decision::Reply(StatusCode::TEMPORARILY_UNAVAILABLE, "Not registered")
        } else {
            Decision::Reply(StatusCode::NOT_FOUND, "")
        };
    }
    let mut targets = Vec::with_capacity(bindings.len());
    for b in bindings {
        let Ok(uri) = Uri::parse(&b.uri) else {
            continue;
        };
        let dest = if !b.path.is_empty() {
            b.path
                .first()
                .and_then(|p| route_uri(p))
                .and_then(|u| resolve(&u))
        } else if b.source.transport.is_reliable() && b.source.conn.is_some() {
            // A TCP/TLS contact is reached over the connection it registered on (RFC 5626 §5.3).
            Some(b.source)
        } else {
            resolve(&uri)
        };
        if let Some(dest) = dest {
            targets.push(Target {
                uri: Some(uri),
                routes: b.path.clone(),
                dest,
            });
        }
    }
    if targets.is_empty() {
        return Decision::Reply(StatusCode::SERVICE_UNAVAILABLE, "Destination unresolvable");
    }
    Decision::Forward {
        targets,
        record_route: creates_dialog(&req.method),
    }
}

/// Out-of-dialog methods from local users that must carry credentials.
fn needs_auth(m: &Method) -> bool {
    !matches!(
        m,
        Method::Options | Method::Ack | Method::Cancel | Method::Bye | Method::Register
    )
}

/// A request that comes back with a Via of ours whose loop hash equals the
/// request's own has looped (a spiral changes the Request-URI and so the hash).
fn is_loop(core: &dyn ProxyContext, req: &Request) -> bool {
    let mut ours = req
        .headers
        .vias()
        .filter_map(Result::ok)
        .filter(|v| core.locals().is_our_sent_by(&v.host, v.port, v.transport))
        .peekable();
    if ours.peek().is_none() {
        return false;
    }
    let hash = format!("{:x}", loop_hash(core, req));
    ours.any(|v| {
        v.branch()
            .and_then(|b| b.rsplit_once('.'))
            .is_some_and(|(_, h)| h == hash)
    })
}

/// What [`pop_own_routes`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnRoutes {
    /// How many top Route entries named us.
    pub(crate) popped: usize,
    /// Whether one of them carried this dialog's route token: we record-routed it.
    pub(crate) authentic: bool,
}

/// Removes the Route entries at the top that name us (loose routing, §16.4) and
/// checks their `pbx` token against the Call-ID, so that a forged Route cannot
/// turn the proxy into an open relay for "in-dialog" requests.
pub(crate) fn pop_own_routes(core: &dyn ProxyContext, req: &mut Request) -> OwnRoutes {
    // The token (an HMAC) is computed only once a Route of ours is found: most
    // out-of-dialog requests carry none.
    let mut token: Option<String> = None;
    let mut own = OwnRoutes {
        popped: 0,
        authentic: false,
    };
    loop {
        let Ok(routes) = req.headers.route_set(&HeaderName::Route) else {
            return own;
        };
        match routes.first() {
            Some(top) if core.locals().is_us(&top.uri) => {
                let token =
                    token.get_or_insert_with(|| core.route_token(req.call_id().unwrap_or("")));
                own.authentic |= top.uri.param("pbx") == Some(Some(token.as_str()));
                req.headers.remove_first_value(&HeaderName::Route);
                own.popped += 1;
            }
            _ => return own,
        }
    }
}

/// Forwards a request along its Route set (or to its Request-URI) unchanged.
fn forward_to_next_hop(req: &Request, record_route: bool) -> Decision {
    match next_hop(req) {
        Some(dest) => Decision::Forward {
            targets: vec![Target {
                uri: None,
                routes: Vec::new(),
                dest,
            }],
            record_route,
        },
        None => Decision::Reply(StatusCode::SERVICE_UNAVAILABLE, "Destination unresolvable"),
    }
}

/// The next hop of an in-dialog or pre-routed request: the top Route, else the Request-URI.
fn next_hop(req: &Request) -> Option<Peer> {
    match req.headers.route_set(&HeaderName::Route) {
        Ok(routes) if !routes.is_empty() => resolve(&routes[0].uri),
        Ok(_) => resolve(&req.uri),
        Err(_) => None,
    }
}

fn route_uri(value: &str) -> Option<Uri> {
    sip_stack::message::NameAddr::parse(value)
        .ok()
        .map(|n| n.uri)
}

/// Removes Proxy-Authorization for our realm: it is consumed here (§22.3).
fn strip_our_credentials(core: &dyn ProxyContext, req: &mut Request) {
    let realm = core.auth().realm().to_owned();
    let keep: Vec<_> = req
        .headers
        .get_all(&HeaderName::ProxyAuthorization)
        .filter(|h| {
            !h.value_str()
                .is_ok_and(|v| v.contains(&format!("realm=\"{realm}\"")))
        })
        .cloned()
        .collect();
    req.headers.remove_all(&HeaderName::ProxyAuthorization);
    for h in keep {
        req.headers.push(h);
    }
}

/// The source address a stateless response goes back to: `received`/`rport` of the Via (RFC 3581 §4).
pub fn via_destination(via: &sip_stack::message::Via) -> Option<Peer> {
    let host = via.received().unwrap_or(&via.host);
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.sent_by_port(),
    };
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(Peer {
        transport: via.transport,
        addr: SocketAddr::new(ip, port),
        conn: None,
    })
}
