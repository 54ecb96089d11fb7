//! Small pieces shared by the user agent: a seeded generator for tags and
//! branches, our Via, next-hop choice and answering digest challenges.

use std::net::{IpAddr, SocketAddr};

use crate::auth::client::{authorization, is_stale};
use crate::message::{
    AuthParams, Header, HeaderName, Headers, Request, Response, StatusCode, Uri, Via,
};
use crate::peer::{Peer, Transport};

use super::{Body, UaConfig, UaError, UserAgent};

/// SplitMix64: a seeded, dependency-free generator; uniqueness is all tags,
/// branches and cnonces need (RFC 3261 §19.3 asks for 32 random bits).
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 64 random bits as 16 hex digits.
    pub(super) fn token(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }
}

/// Our Via with a fresh RFC 3261 branch and `rport` (RFC 3581).
pub(super) fn via(config: &UaConfig, transport: Transport, rng: &mut Rng) -> Header {
    let branch = format!("z9hG4bK{}", rng.token());
    let mut via = Via::new(
        transport,
        config.local_addr.ip().to_string(),
        Some(config.local_addr.port()),
        &branch,
    );
    via.set_param("rport", None);
    Header::new(HeaderName::Via, via.to_string())
}

/// The body of a message with its Content-Type, `None` when empty.
pub(super) fn body_of(headers: &Headers, data: &bytes::Bytes) -> Option<Body> {
    (!data.is_empty()).then(|| Body {
        content_type: headers
            .get_str(&HeaderName::ContentType)
            .unwrap_or("application/octet-stream")
            .trim()
            .to_owned(),
        data: data.clone(),
    })
}

/// Sets (or removes) the body and its Content-Type.
pub(super) fn set_body(headers: &mut Headers, data: &mut bytes::Bytes, body: Option<Body>) {
    headers.remove_all(&HeaderName::ContentType);
    match body {
        Some(b) => {
            headers.push(Header::new(HeaderName::ContentType, b.content_type));
            *data = b.data;
        }
        None => *data = bytes::Bytes::new(),
    }
}

/// A URI's host as a socket address, when it is an IP literal.
pub(super) fn literal(uri: &Uri) -> Option<SocketAddr> {
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    let port = uri
        .port
        .unwrap_or_else(|| uri.transport().unwrap_or_default_port());
    Some(SocketAddr::new(ip, port))
}

trait DefaultPort {
    fn unwrap_or_default_port(self) -> u16;
}

impl DefaultPort for Option<crate::peer::Transport> {
    fn unwrap_or_default_port(self) -> u16 {
        self.unwrap_or(crate::peer::Transport::Udp).default_port()
    }
}

impl UserAgent {
    /// Where `req` goes (RFC 3261 §8.1.2, §12.2.1.1): out-of-dialog requests
    /// to the outbound proxy; in-dialog ones to the first Route or the
    /// Request-URI when that is an IP literal, else to the outbound proxy.
    pub(super) fn next_hop(&self, req: &Request, in_dialog: bool) -> Result<Peer, UaError> {
        let proxy = self.config.outbound_proxy;
        let mut transport = self.config.transport;
        let target = if in_dialog || proxy.is_none() {
            let first_route = req
                .headers
                .route_set(&HeaderName::Route)
                .ok()
                .and_then(|r| r.into_iter().next())
                .map(|r| r.uri);
            let uri = first_route.unwrap_or_else(|| req.uri.clone());
            match literal(&uri) {
                Some(addr) => {
                    if self.config.uri_transport {
                        transport = uri.transport().unwrap_or(transport);
                    }
                    addr
                }
                None => match self.flow_of(req) {
                    Some(flow) => return Ok(flow),
                    None => proxy.ok_or_else(|| UaError::NoRoute(Box::new(uri)))?,
                },
            }
        } else {
            proxy.ok_or_else(|| UaError::NoRoute(Box::new(req.uri.clone())))?
        };
        Ok(Peer {
            transport,
            addr: target,
            conn: None,
        })
    }

    /// The connection of the session `req` belongs to (by Call-ID), when
    /// it has one ([`super::session::Session::flow`]).
    fn flow_of(&self, req: &Request) -> Option<Peer> {
        let call_id = req.call_id().ok()?;
        self.by_call_id
            .get(call_id)?
            .iter()
            .find_map(|id| self.sessions.get(id)?.flow)
    }

    /// Adds credentials answering the challenge in `resp` (401 or 407) to
    /// `req` (RFC 3261 §22.2, §22.3). `attempts` counts the tries for this
    /// request: the first challenge is answered, later ones only when they
    /// say `stale=true` (the nonce expired, RFC 7616 §3.3), at most three.
    pub(super) fn authorize(
        &mut self,
        req: &mut Request,
        resp: &Response,
        attempts: &mut u8,
    ) -> bool {
        let creds = self.config.credentials.clone();
        self.authorize_with(req, resp, attempts, creds)
    }

    /// [`UserAgent::authorize`] with explicit credentials (a B2BUA leg to a
    /// SIP trunk answers the trunk's challenge with the trunk's account).
    pub(super) fn authorize_with(
        &mut self,
        req: &mut Request,
        resp: &Response,
        attempts: &mut u8,
        creds: Option<super::Credentials>,
    ) -> bool {
        let Some(creds) = creds else {
            return false;
        };
        let (challenge_name, answer_name) = if resp.status == StatusCode::UNAUTHORIZED {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        } else {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        };
        let challenges: Vec<AuthParams> = resp
            .headers
            .get_all(&challenge_name)
            .filter_map(|h| h.value_str().ok())
            .filter_map(|v| AuthParams::parse(v).ok())
            .collect();
        let stale = challenges.iter().any(is_stale);
        if *attempts >= 3 || (*attempts > 0 && !stale) {
            return false;
        }
        let method = req.method.to_string();
        let uri = req.uri.to_string();
        let cnonce = self.rng.token();
        let answer = challenges.iter().find_map(|ch| {
            let nonce = ch.get("nonce")?.to_owned();
            let nc = self.nonce_counts.entry(nonce).or_insert(0);
            *nc += 1;
            authorization(
                ch,
                &method,
                &uri,
                &creds.username,
                &creds.password,
                *nc,
                &cnonce,
            )
            .ok()
        });
        let Some(answer) = answer else {
            return false;
        };
        *attempts += 1;
        req.headers.remove_all(&answer_name);
        req.headers.remove_all(&HeaderName::Via);
        req.headers
            .push(Header::new(answer_name, answer.to_string()));
        true
    }
}

/// Replaces the CSeq of `req` with `seq` (same method).
pub(super) fn set_cseq(req: &mut Request, seq: u32) {
    let method = req.method.clone();
    req.headers
        .set(Header::new(HeaderName::CSeq, format!("{seq} {method}")));
}
