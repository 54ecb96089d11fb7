//! The stateful proxy (RFC 3261 §16): the transaction user of a shard's
//! transaction layer. It forwards requests to the targets `route::decide`
//! chooses (parallel forking), relays responses upstream with the best-response
//! rule, cancels branches, and forwards ACK for 2xx and stray 2xx statelessly.

mod context;
mod forward;
mod route;

pub use crate::sans_io::local_response;
pub use crate::sans_io::{resolve, uri_transport, IdGen, Locals};
pub use context::ProxyContext;
pub use forward::{header, Branch, Forward, Target};
pub use route::{decide, via_destination, Decision};

use std::collections::HashMap;

use bytes::Bytes;
use sip_stack::message::{
    Header, HeaderName, Method, Request, Response, SipMessage, StatusCode, Via,
};
use sip_stack::transaction::{
    build_cancel, ClientTxId, Output, ServerTxId, TransactionLayer, TxEvent, TxId,
};
use sip_stack::Peer;

use crate::sans_io::{Now, Outbox};

/// What a client transaction of the proxy is for.
#[derive(Debug, Clone, Copy)]
enum ClientRole {
    /// A branch of the forward on this server transaction.
    Branch(ServerTxId),
    /// A CANCEL we sent: its 200 stays here.
    Cancel,
}

/// One shard: a transaction layer and the proxy state of its transactions.
pub struct Shard {
    /// The transactions.
    pub layer: TransactionLayer,
    forwards: HashMap<ServerTxId, Forward, ahash::RandomState>,
    clients: HashMap<ClientTxId, ClientRole, ahash::RandomState>,
    /// Calls whose media is anchored.
    pub anchors: crate::media_anchor::AnchorTable,
}

impl Shard {
    /// An empty shard.
    pub fn new(layer: TransactionLayer) -> Self {
        Self {
            layer,
            forwards: HashMap::default(),
            clients: HashMap::default(),
            anchors: crate::media_anchor::AnchorTable::default(),
        }
    }

    /// Forwards in progress (tests, metrics).
    pub fn forwards(&self) -> usize {
        self.forwards.len()
    }
}

/// Drains the layer's outputs: transmissions into `out`, events into the proxy,
/// until both are empty.
pub fn drive(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, out: &mut Outbox) {
    while let Some(o) = shard.layer.poll_output() {
        match o {
            Output::Transmit { peer, data } => out.push((peer, data)),
            Output::Event(ev) => on_event(core, shard, now, ev),
        }
    }
}

fn on_event(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, ev: TxEvent) {
    match ev {
        TxEvent::Request { tx, request, .. } if request.method == Method::Cancel => {
            on_cancel(core, shard, now, tx, &request)
        }
        TxEvent::Request { tx, request, peer } => on_request(core, shard, now, tx, request, peer),
        TxEvent::Ack { request, .. } => forward_ack(core, shard, request),
        TxEvent::Response { tx, response } => on_response(core, shard, now, tx, response),
        TxEvent::StrayResponse { response, .. } => {
            forward_stateless_response(core, shard, response)
        }
        TxEvent::Timeout { tx } => on_timeout(core, shard, now, tx),
        TxEvent::Terminated {
            tx: TxId::Server(tx),
        } => {
            if let Some(f) = shard.forwards.remove(&tx) {
                for b in f.branches {
                    shard.clients.remove(&b.tx);
                }
            }
        }
        TxEvent::Terminated {
            tx: TxId::Client(tx),
        } => {
            shard.clients.remove(&tx);
        }
        _ => {}
    }
}

fn respond(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, tx: ServerTxId, resp: Response) {
    core.metrics().response_sent(resp.status.0);
    if let Err(e) = shard.layer.send_response(now.instant, tx, resp) {
        tracing::debug!(error = %e, "response not sent");
    }
}

fn on_request(
    core: &dyn ProxyContext,
    shard: &mut Shard,
    now: &Now,
    tx: ServerTxId,
    mut req: Request,
    peer: Peer,
) {
    let decision = route::decide(core, &mut req, peer, now);
    match decision {
        Decision::Reply(status, reason) => {
            let resp = local_response(&req, status, reason, &core.ids().tag());
            respond(core, shard, now, tx, resp);
        }
        Decision::Challenge { stale } => {
            let resp = core.challenge(now, &req, StatusCode::PROXY_AUTHENTICATION_REQUIRED, stale);
            core.metrics().response_sent(407);
            let _ = shard.layer.send_response(now.instant, tx, resp);
        }
        Decision::Forward {
            targets,
            record_route,
        } => {
            if let Err(e) = anchor_request(core, shard, &mut req, peer) {
                let status = match e {
                    crate::media_anchor::AnchorError::BadSdp(_) => StatusCode::NOT_ACCEPTABLE_HERE,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                let resp = local_response(&req, status, &e.to_string(), &core.ids().tag());
                respond(core, shard, now, tx, resp);
                return;
            }
            let loop_hash = route::loop_hash(core, &req);
            // One route token (an HMAC of the Call-ID) for every branch.
            let route_token = record_route.then(|| core.route_token(req.call_id().unwrap_or("")));
            let mut fwd = Forward::new(tx, req);
            for target in &targets {
                let branch_req = build_branch(
                    core,
                    &fwd.request,
                    target,
                    route_token.as_deref(),
                    peer,
                    loop_hash,
                );
                let ctx = shard
                    .layer
                    .send_request(now.instant, branch_req, target.dest);
                core.metrics().forwarded_requests.inc();
                shard.clients.insert(ctx, ClientRole::Branch(tx));
                fwd.branches.push(Branch {
                    tx: ctx,
                    dest: target.dest,
                    provisional: false,
                    final_status: None,
                    cancel_pending: false,
                    cancelled: false,
                });
            }
            shard.forwards.insert(tx, fwd);
        }
    }
}

/// The request of one branch (§16.6): new Request-URI, Path routes, Max-Forwards,
/// Record-Route with `route_token` when given (double when transports differ, RFC 5658)
/// and our Via.
fn build_branch(
    core: &dyn ProxyContext,
    req: &Request,
    target: &Target,
    route_token: Option<&str>,
    from: Peer,
    loop_hash: u64,
) -> Request {
    let mut r = req.clone();
    if let Some(uri) = &target.uri {
        r.uri = uri.clone();
    }
    for route in target.routes.iter().rev() {
        r.headers
            .push_front(Header::new(HeaderName::Route, Bytes::from(route.clone())));
    }
    let mf = req
        .max_forwards()
        .ok()
        .flatten()
        .map_or(70, |m| m.saturating_sub(1));
    r.headers.set(Header::new(
        HeaderName::MaxForwards,
        Bytes::from(mf.to_string()),
    ));
    if let Some(token) = route_token {
        r.headers
            .push_front(core.locals().record_route(from.transport, token));
        if from.transport != target.dest.transport {
            r.headers
                .push_front(core.locals().record_route(target.dest.transport, token));
        }
    }
    let sent_by = core.locals().sent_by(target.dest.transport);
    let via = Via::new(
        target.dest.transport,
        sent_by.ip().to_string(),
        Some(sent_by.port()),
        &core.ids().branch(loop_hash),
    );
    r.headers
        .push_front(Header::new(HeaderName::Via, Bytes::from(via.to_string())));
    r
}

fn on_response(
    core: &dyn ProxyContext,
    shard: &mut Shard,
    now: &Now,
    ctx: ClientTxId,
    mut resp: Response,
) {
    let stx = match shard.clients.get(&ctx) {
        Some(ClientRole::Branch(stx)) => *stx,
        Some(ClientRole::Cancel) => return,
        None => return forward_stateless_response(core, shard, resp),
    };
    if !shard.forwards.contains_key(&stx) {
        return forward_stateless_response(core, shard, resp);
    }
    resp.headers.remove_first_value(&HeaderName::Via);
    anchor_response(core, shard, &mut resp);
    let code = resp.status.0;
    let Some(fwd) = shard.forwards.get_mut(&stx) else {
        return;
    };
    let Some(branch) = fwd.branch_mut(ctx) else {
        return;
    };
    let mut cancel_this = false;
    if code < 200 {
        branch.provisional = true;
        cancel_this = branch.cancel_pending;
    } else {
        branch.final_status = Some(code);
    }
    let is_invite = fwd.is_invite();
    if cancel_this {
        send_cancel(core, shard, now, stx, ctx);
    }
    let Some(fwd) = shard.forwards.get_mut(&stx) else {
        return;
    };
    match code {
        100 => {}
        101..=199 => {
            if !fwd.final_sent {
                core.metrics().forwarded_responses.inc();
                respond(core, shard, now, stx, resp);
            }
        }
        200..=299 => {
            fwd.final_sent = true;
            core.metrics().forwarded_responses.inc();
            respond(core, shard, now, stx, resp);
            if is_invite {
                cancel_all(core, shard, now, stx);
            }
        }
        _ => {
            fwd.offer_final(resp);
            if code >= 600 && is_invite {
                cancel_all(core, shard, now, stx);
            }
            finish_if_complete(core, shard, now, stx);
        }
    }
    retire_if_done(shard, stx);
}

/// Drops a forward once its final response went upstream and every branch has
/// answered: later 2xx retransmissions are forwarded statelessly (RFC 6026 §8.4),
/// so nothing needs the context any more and the memory is back at once.
fn retire_if_done(shard: &mut Shard, stx: ServerTxId) {
    let done = shard
        .forwards
        .get(&stx)
        .is_some_and(|f| f.final_sent && f.all_final());
    if done {
        if let Some(f) = shard.forwards.remove(&stx) {
            for b in f.branches {
                shard.clients.remove(&b.tx);
            }
        }
    }
}

fn on_timeout(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, ctx: ClientTxId) {
    let Some(ClientRole::Branch(stx)) = shard.clients.get(&ctx).copied() else {
        return;
    };
    let tag = core.ids().tag();
    let Some(fwd) = shard.forwards.get_mut(&stx) else {
        return;
    };
    let Some(branch) = fwd.branch_mut(ctx) else {
        return;
    };
    if branch.final_status.is_some() {
        return;
    }
    branch.final_status = Some(408);
    let timeout = local_response(&fwd.request, StatusCode::REQUEST_TIMEOUT, "", &tag);
    fwd.offer_final(timeout);
    finish_if_complete(core, shard, now, stx);
    retire_if_done(shard, stx);
}

fn finish_if_complete(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, stx: ServerTxId) {
    let tag = core.ids().tag();
    let Some(fwd) = shard.forwards.get_mut(&stx) else {
        return;
    };
    if fwd.final_sent || !fwd.all_final() {
        return;
    }
    fwd.final_sent = true;
    let resp = fwd.best_response(&tag);
    let failed_call = fwd.is_invite() && fwd.request.to().ok().is_some_and(|t| t.tag().is_none());
    core.metrics().forwarded_responses.inc();
    let call_id = resp.call_id().ok().map(str::to_owned);
    respond(core, shard, now, stx, resp);
    if failed_call {
        if let Some(call_id) = call_id {
            release_anchor(core, shard, &call_id);
        }
    }
}

fn cancel_all(core: &dyn ProxyContext, shard: &mut Shard, now: &Now, stx: ServerTxId) {
    let Some(fwd) = shard.forwards.get(&stx) else {
        return;
    };
    let pending: Vec<ClientTxId> = fwd
        .branches
        .iter()
        .filter(|b| b.final_status.is_none() && !b.cancelled)
        .map(|b| b.tx)
        .collect();
    for ctx in pending {
        send_cancel(core, shard, now, stx, ctx);
    }
}

/// Cancels one branch (§16.10): at once if it had a provisional response, else
/// as soon as one arrives (§9.1).
fn send_cancel(
    core: &dyn ProxyContext,
    shard: &mut Shard,
    now: &Now,
    stx: ServerTxId,
    ctx: ClientTxId,
) {
    let _ = core;
    let Some(fwd) = shard.forwards.get_mut(&stx) else {
        return;
    };
    let Some(branch) = fwd.branch_mut(ctx) else {
        return;
    };
    if branch.final_status.is_some() || branch.cancelled {
        return;
    }
    if !branch.provisional {
        branch.cancel_pending = true;
        return;
    }
    branch.cancelled = true;
    branch.cancel_pending = false;
    let dest = branch.dest;
    let Some(invite) = shard.layer.client_request(ctx) else {
        return;
    };
    let cancel = build_cancel(invite);
    let cancel_tx = shard.layer.send_request(now.instant, cancel, dest);
    shard.clients.insert(cancel_tx, ClientRole::Cancel);
}

/// CANCEL (§16.10): 200 to the CANCEL if we know the INVITE, then cancel its branches.
fn on_cancel(
    core: &dyn ProxyContext,
    shard: &mut Shard,
    now: &Now,
    tx: ServerTxId,
    cancel: &Request,
) {
    let tag = core.ids().tag();
    let Some(inv) = shard.layer.find_invite_for_cancel(cancel) else {
        respond(
            core,
            shard,
            now,
            tx,
            local_response(
                cancel,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                "",
                &tag,
            ),
        );
        return;
    };
    respond(
        core,
        shard,
        now,
        tx,
        local_response(cancel, StatusCode::OK, "", &tag),
    );
    if let Ok(call_id) = cancel.call_id() {
        let call_id = call_id.to_owned();
        release_anchor(core, shard, &call_id);
    }
    let Some(fwd) = shard.forwards.get_mut(&inv) else {
        return;
    };
    fwd.cancelled = true;
    if fwd.branches.is_empty() && !fwd.final_sent {
        fwd.final_sent = true;
        let resp = local_response(&fwd.request, StatusCode::REQUEST_TERMINATED, "", &tag);
        respond(core, shard, now, inv, resp);
        return;
    }
    cancel_all(core, shard, now, inv);
}

/// ACK for a 2xx: end-to-end, routed by its Route set and forwarded statelessly (§16.11).
fn forward_ack(core: &dyn ProxyContext, shard: &mut Shard, mut ack: Request) {
    // Only ACKs of dialogs we record-routed (with their route token) go anywhere.
    if !route::pop_own_routes(core, &mut ack).authentic {
        return;
    }
    if ack.max_forwards().ok().flatten() == Some(0) {
        return;
    }
    let dest = match ack.headers.route_set(&HeaderName::Route) {
        Ok(r) if !r.is_empty() => resolve(&r[0].uri),
        Ok(_) => resolve(&ack.uri),
        Err(_) => None,
    };
    let Some(dest) = dest else { return };
    if let Err(e) = anchor_request(core, shard, &mut ack, dest) {
        tracing::debug!(error = %e, "ACK with SDP not anchored");
    }
    let incoming_branch = ack
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::to_owned))
        .unwrap_or_default();
    let mf = ack
        .max_forwards()
        .ok()
        .flatten()
        .map_or(70, |m| m.saturating_sub(1));
    ack.headers.set(Header::new(
        HeaderName::MaxForwards,
        Bytes::from(mf.to_string()),
    ));
    let sent_by = core.locals().sent_by(dest.transport);
    let via = Via::new(
        dest.transport,
        sent_by.ip().to_string(),
        Some(sent_by.port()),
        &core.ids().stateless_branch(&incoming_branch),
    );
    ack.headers
        .push_front(Header::new(HeaderName::Via, Bytes::from(via.to_string())));
    shard.layer.send_stateless(&SipMessage::Request(ack), dest);
}

/// A response no transaction of ours is waiting for (a 2xx retransmission after
/// the INVITE transactions are gone): pop our Via and send it to the next one.
fn forward_stateless_response(core: &dyn ProxyContext, shard: &mut Shard, mut resp: Response) {
    let Ok(top) = resp.top_via() else { return };
    if !core
        .locals()
        .is_our_sent_by(&top.host, top.port, top.transport)
    {
        return;
    }
    resp.headers.remove_first_value(&HeaderName::Via);
    anchor_response(core, shard, &mut resp);
    let Ok(next) = resp.top_via() else { return };
    let Some(dest) = via_destination(&next) else {
        return;
    };
    core.metrics().forwarded_responses.inc();
    shard
        .layer
        .send_stateless(&SipMessage::Response(resp), dest);
}

/// Anchors the SDP of a request the proxy forwards (see `anchor`): opens the
/// relay for a new call's offer, re-anchors in-dialog offers/answers, and
/// releases the ports on BYE.
fn anchor_request(
    core: &dyn ProxyContext,
    shard: &mut Shard,
    req: &mut Request,
    peer: Peer,
) -> Result<(), crate::media_anchor::AnchorError> {
    let Some(relay) = core.anchor() else {
        return Ok(());
    };
    let Ok(call_id) = req.call_id().map(str::to_owned) else {
        return Ok(());
    };
    if req.method == Method::Bye {
        release_anchor(core, shard, &call_id);
        return Ok(());
    }
    if !crate::media_anchor::is_sdp(&req.headers, &req.body) {
        return Ok(());
    }
    let from_tag = req.from().ok().and_then(|f| f.tag().map(str::to_owned));
    if let Some(call) = shard.anchors.get(&call_id) {
        req.body = relay.update(call, &req.body, call.is_caller(from_tag.as_deref()))?;
        return Ok(());
    }
    let in_dialog = req.to().ok().is_some_and(|t| t.tag().is_some());
    if req.method == Method::Invite && !in_dialog && relay.wants(&req.body, peer.addr.ip()) {
        let (body, call) = relay.open(&req.body, from_tag.as_deref().unwrap_or(""))?;
        req.body = body;
        shard.anchors.insert(call_id, call);
    }
    Ok(())
}

/// Rewrites the SDP of a response going upstream: it comes from the party the
/// request was sent to.
fn anchor_response(core: &dyn ProxyContext, shard: &mut Shard, resp: &mut Response) {
    let Some(relay) = core.anchor() else { return };
    if !crate::media_anchor::is_sdp(&resp.headers, &resp.body) {
        return;
    }
    let Ok(call_id) = resp.call_id() else { return };
    let Some(call) = shard.anchors.get(call_id) else {
        return;
    };
    let request_from_caller = call.is_caller(resp.from().ok().as_ref().and_then(|f| f.tag()));
    match relay.update(call, &resp.body, !request_from_caller) {
        Ok(body) => resp.body = body,
        Err(e) => tracing::debug!(error = %e, "response SDP not anchored"),
    }
}

fn release_anchor(core: &dyn ProxyContext, shard: &mut Shard, call_id: &str) {
    if let (Some(relay), Some(call)) = (core.anchor(), shard.anchors.remove(call_id)) {
        relay.close(&call);
    }
}
