//! The SIP entry point of the server: every received message goes through
//! [`SipCore::handle_incoming`] — ban check, parse, validation (400 naming the bad
//! header), RFC 3581 Via fix-up, then either the stateless paths (REGISTER in
//! `register.rs`, OPTIONS to the server) or a transaction shard where the
//! stateful proxy (`crate::proxy`) runs.
//!
//! Sans-IO: time comes in as [`Now`], packets to send go out in an [`Outbox`].
//! Transactions are sharded by Call-ID over `Mutex`es so that several receive
//! threads work in parallel while all messages of a call meet in one shard.

mod b2bua;
mod register;

pub use b2bua::B2buaHost;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ipnet::IpNet;
use parking_lot::Mutex;
use sip_stack::message::{Header, HeaderName, Method, Request, Response, SipMessage, StatusCode};
use sip_stack::transaction::{TimerConfig, TransactionLayer};
use sip_stack::Peer;

use crate::auth::{Authenticator, BanList};
use crate::metrics::Metrics;
use crate::proxy::{self, IdGen, Locals, Shard};
use crate::registrar::Registrar;

pub use crate::sans_io::{Now, Outbox};

/// Everything the SIP core needs, shared by all receive threads.
pub struct SipCore {
    /// Who we are.
    pub locals: Locals,
    /// Digest authentication.
    pub auth: Authenticator,
    /// The registrar.
    pub registrar: Registrar,
    /// Failed-auth bans.
    pub bans: BanList,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Peers not challenged (except for REGISTER).
    pub trusted: Vec<IpNet>,
    /// Whether REGISTER is challenged.
    pub register_auth: bool,
    /// Branch and tag generator.
    pub ids: IdGen,
    /// Media anchoring (None: `media.anchor = "never"`); shared with the
    /// call engine's driver in B2BUA mode.
    pub anchor: Option<Arc<crate::media_anchor::MediaAnchor>>,
    route_key: [u8; 32],
    /// The call engine (`calls.engine = "b2bua"`); None: the proxy handles calls.
    pub b2bua: Option<B2buaHost>,
    /// Set when the server is stopping: new calls are refused with 503.
    draining: std::sync::atomic::AtomicBool,
    shards: Vec<Mutex<Shard>>,
    shard_hasher: ahash::RandomState,
}

/// The parts [`SipCore::new`] assembles.
pub struct SipCoreParts {
    /// Who we are.
    pub locals: Locals,
    /// Digest authentication.
    pub auth: Authenticator,
    /// The registrar.
    pub registrar: Registrar,
    /// Failed-auth bans.
    pub bans: BanList,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Trusted networks.
    pub trusted: Vec<IpNet>,
    /// Whether REGISTER is challenged.
    pub register_auth: bool,
    /// Seed for identifiers (from the driver's RNG).
    pub seed: u64,
    /// Number of transaction shards.
    pub shards: usize,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// Media anchoring.
    pub anchor: Option<Arc<crate::media_anchor::MediaAnchor>>,
    /// Secret key of the Record-Route tokens (random, from the driver).
    pub route_key: [u8; 32],
}

impl SipCore {
    /// Assembles a core.
    pub fn new(p: SipCoreParts) -> Self {
        let shards = (0..p.shards.max(1))
            .map(|_| Mutex::new(Shard::new(TransactionLayer::new(p.timers.clone()))))
            .collect();
        Self {
            locals: p.locals,
            auth: p.auth,
            registrar: p.registrar,
            bans: p.bans,
            metrics: p.metrics,
            trusted: p.trusted,
            register_auth: p.register_auth,
            ids: IdGen::new(p.seed),
            anchor: p.anchor,
            route_key: p.route_key,
            b2bua: None,
            draining: std::sync::atomic::AtomicBool::new(false),
            shards,
            shard_hasher: ahash::RandomState::with_seeds(p.seed, 7, 11, 13),
        }
    }

    /// The route token put in our Record-Route for a dialog (HMAC of its Call-ID
    /// under a per-process key): in-dialog requests must bring it back.
    pub fn route_token(&self, call_id: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.route_key)
            .expect("HMAC takes any key length");
        mac.update(call_id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Stops taking new calls (503 with Retry-After): the first step of a
    /// graceful stop. Calls in progress go on.
    pub fn stop_taking_calls(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether new calls are refused (the server is stopping).
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether `ip` belongs to a trusted peer.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    fn shard_of(&self, call_id: &str) -> &Mutex<Shard> {
        &self.shards[(self.shard_hasher.hash_one(call_id) as usize) % self.shards.len()]
    }

    /// Handles one received message (a datagram or a framed stream message).
    pub fn handle_incoming(&self, now: &Now, data: Bytes, peer: Peer, out: &mut Outbox) {
        if self.bans.is_banned(peer.addr.ip(), now.mono_ms) {
            self.metrics.banned_drops.inc();
            return;
        }
        let msg = match SipMessage::parse(data.clone()) {
            Ok(m) => m,
            Err(e) => {
                self.metrics.parse_errors.inc();
                // RFC 3261 §8.2.2, §21: a bad version, URI scheme or Content-Length
                // still gets its 505/416/400 when the headers can be read.
                match Response::for_unparseable(&data, &e, &self.ids.tag()) {
                    Some(resp) => self.reply(out, peer, resp),
                    None => tracing::debug!(%peer, error = %e, "dropping unparseable message"),
                }
                return;
            }
        };
        match msg {
            SipMessage::Request(req) => self.handle_request(now, req, peer, out),
            SipMessage::Response(resp) => {
                self.metrics.responses_in.inc();
                if let Some(host) = &self.b2bua {
                    self.b2bua_response(host, now, resp, peer, out);
                    return;
                }
                let Ok(call_id) = resp.call_id() else {
                    self.metrics.parse_errors.inc();
                    return;
                };
                // Everything logged for this message carries its Call-ID (a no-op unless debug is on).
                let _span = tracing::debug_span!("sip", call_id).entered();
                let mut shard = self.shard_of(call_id).lock();
                shard
                    .layer
                    .handle_message(now.instant, SipMessage::Response(resp), peer);
                proxy::drive(self as &dyn proxy::ProxyContext, &mut shard, now, out);
            }
        }
    }

    fn handle_request(&self, now: &Now, mut req: Request, peer: Peer, out: &mut Outbox) {
        self.metrics.requests.inc();
        if let Err(e) = req.validate() {
            self.metrics.bad_requests.inc();
            tracing::debug!(%peer, error = %e, "malformed request");
            if req.method != Method::Ack && req.headers.contains(&HeaderName::Via) {
                let reason = e.to_string();
                self.reply(
                    out,
                    peer,
                    proxy::local_response(&req, StatusCode::BAD_REQUEST, &reason, &self.ids.tag()),
                );
            }
            return;
        }
        fix_via(&mut req, peer);
        if req.method == Method::Register {
            let resp = self.handle_register(now, &req, peer);
            self.reply(out, peer, resp);
            return;
        }
        if req.method == Method::Options && req.uri.user.is_none() && self.locals.is_us(&req.uri) {
            let resp = self.options_response(&req);
            self.reply(out, peer, resp);
            return;
        }
        if let Some(resp) = self.answer_at_server(&req) {
            self.reply(out, peer, resp);
            return;
        }
        if let Some(host) = &self.b2bua {
            self.b2bua_request(host, now, req, peer, out);
            return;
        }
        let Ok(call_id) = req.call_id() else { return };
        let mut shard = self.shard_of(call_id).lock();
        shard
            .layer
            .handle_message(now.instant, SipMessage::Request(req), peer);
        proxy::drive(self as &dyn proxy::ProxyContext, &mut shard, now, out);
    }

    /// A stateless reply (RFC 3261 §8.2.7).
    fn reply(&self, out: &mut Outbox, peer: Peer, resp: Response) {
        self.metrics.response_sent(resp.status.0);
        out.push((peer, resp.to_bytes()));
    }

    /// OPTIONS to the server itself: what we support (RFC 3261 §11.2).
    fn options_response(&self, req: &Request) -> Response {
        let mut resp = proxy::local_response(req, StatusCode::OK, "", &self.ids.tag());
        resp.headers.push(Header::new(
            HeaderName::Allow,
            Bytes::from_static(b"INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE"),
        ));
        resp.headers.push(Header::new(
            HeaderName::Supported,
            Bytes::from_static(b"path, outbound"),
        ));
        resp.headers.push(Header::new(
            HeaderName::Accept,
            Bytes::from_static(b"application/sdp"),
        ));
        resp
    }

    /// Runs due transaction timers.
    pub fn handle_timers(&self, now: &Now, out: &mut Outbox) {
        if let Some(host) = &self.b2bua {
            self.trunk_timers(host, now, out);
        }
        for shard in &self.shards {
            let mut shard = shard.lock();
            if shard.layer.poll_timeout().is_some_and(|t| t <= now.instant) {
                shard.layer.handle_timeout(now.instant);
                proxy::drive(self as &dyn proxy::ProxyContext, &mut shard, now, out);
            }
        }
    }

    /// The earliest transaction deadline of all shards.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|s| s.lock().layer.poll_timeout())
            .chain(self.b2bua_deadline())
            .min()
    }

    /// Live transactions over all shards.
    pub fn transactions(&self) -> usize {
        self.shards.iter().map(|s| s.lock().layer.len()).sum()
    }
}

/// The proxy's narrow view of the SIP entry.
impl proxy::ProxyContext for SipCore {
    fn locals(&self) -> &Locals {
        &self.locals
    }

    fn ids(&self) -> &IdGen {
        &self.ids
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    fn auth(&self) -> &Authenticator {
        &self.auth
    }

    fn anchor(&self) -> Option<&crate::media_anchor::MediaAnchor> {
        self.anchor.as_deref()
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        SipCore::is_trusted(self, ip)
    }

    fn route_token(&self, call_id: &str) -> String {
        SipCore::route_token(self, call_id)
    }

    fn check_credentials(
        &self,
        now: &Now,
        req: &Request,
        peer: Peer,
        header: &HeaderName,
    ) -> Result<String, bool> {
        SipCore::check_credentials(self, now, req, peer, header)
    }

    fn challenge(&self, now: &Now, req: &Request, status: StatusCode, stale: bool) -> Response {
        SipCore::challenge(self, now, req, status, stale)
    }
}

/// RFC 3581 §4 and RFC 3261 §18.2.1: record where the request really came from in
/// its top Via (`received`, and `rport` when the client asked for it).
fn fix_via(req: &mut Request, peer: Peer) {
    let Ok(mut via) = req.top_via() else { return };
    let ip = peer.addr.ip();
    let host_matches = via
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|h| h == ip);
    let wants_rport = via.rport().is_some();
    if host_matches && !wants_rport {
        return;
    }
    if wants_rport {
        via.set_param("rport", Some(peer.addr.port().to_string()));
    }
    if !host_matches || wants_rport {
        via.set_param("received", Some(ip.to_string()));
    }
    req.headers.remove_first_value(&HeaderName::Via);
    req.headers
        .push_front(Header::new(HeaderName::Via, Bytes::from(via.to_string())));
}
