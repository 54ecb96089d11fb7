//! REGISTER handling: domain check, digest challenge (401) and verification,
//! failure bans, then the registrar. Stateless like Kamailio's registrar: a
//! retransmitted REGISTER is simply processed again (the registrar is idempotent
//! and the nonce-count check lets the identical request through).

use bytes::Bytes;
use sip_stack::message::{AuthParams, Header, HeaderName, Request, Response, StatusCode};
use sip_stack::Peer;

use super::{Now, SipCore};
use crate::auth::{AuthOutcome, AuthRequest};
use crate::proxy::local_response;

/// Extensions the registrar understands in `Require` (RFC 3261 §8.2.2.3).
const SUPPORTED: [&str; 2] = ["path", "outbound"];

impl SipCore {
    pub(super) fn handle_register(&self, now: &Now, req: &Request, peer: Peer) -> Response {
        let tag = || self.ids.tag();
        if !self.locals.is_local_host(&req.uri.host) {
            return local_response(req, StatusCode::FORBIDDEN, "Not our domain", &tag());
        }
        if let Some(unsupported) = unsupported_extensions(req) {
            let mut r = local_response(req, StatusCode::BAD_EXTENSION, "", &tag());
            r.headers.push(Header::new(
                HeaderName::Unsupported,
                Bytes::from(unsupported),
            ));
            return r;
        }
        let Ok(to) = req.to() else {
            return local_response(req, StatusCode::BAD_REQUEST, "bad header: To", &tag());
        };
        let Some(user) = to.uri.user.clone() else {
            return local_response(req, StatusCode::BAD_REQUEST, "To has no user part", &tag());
        };
        if !self.locals.is_local_host(&to.uri.host) {
            return local_response(req, StatusCode::FORBIDDEN, "Not our domain", &tag());
        }
        if self.register_auth {
            match self.check_credentials(now, req, peer, &HeaderName::Authorization) {
                Ok(auth_user) if auth_user == user => {}
                Ok(_) => {
                    return local_response(
                        req,
                        StatusCode::FORBIDDEN,
                        "Authentication user does not match To",
                        &tag(),
                    )
                }
                Err(stale) => return self.challenge(now, req, StatusCode::UNAUTHORIZED, stale),
            }
        } else if !self.auth.users().contains(&user) {
            return local_response(req, StatusCode::NOT_FOUND, "Unknown user", &tag());
        }
        let Some(aor) = self.registrar.aor_of(&to) else {
            return local_response(req, StatusCode::BAD_REQUEST, "To has no user part", &tag());
        };
        let resp = self.registrar.register(req, &aor, peer, now.unix_secs);
        if resp.status == StatusCode::OK {
            self.metrics.registrations.inc();
            tracing::debug!(%aor, %peer, "registered");
        }
        resp
    }

    /// Verifies the credentials in `header` (Authorization or Proxy-Authorization).
    /// Ok: the authenticated user. Err(stale): challenge (with `stale=true` if so).
    pub(crate) fn check_credentials(
        &self,
        now: &Now,
        req: &Request,
        peer: Peer,
        header: &HeaderName,
    ) -> Result<String, bool> {
        let realm = self.auth.realm();
        let creds = req
            .headers
            .get_all(header)
            .filter_map(|h| h.value_str().ok().and_then(|v| AuthParams::parse(v).ok()))
            .find(|p| p.get("realm") == Some(realm));
        let Some(creds) = creds else {
            return Err(false);
        };
        let request_id = self.ids.hash(&(
            req.call_id().unwrap_or(""),
            req.cseq().map(|c| c.seq).unwrap_or(0),
        ));
        let ar = AuthRequest {
            method: req.method.as_str(),
            request_id,
            now_secs: now.unix_secs,
        };
        match self.auth.verify(&creds, &ar) {
            AuthOutcome::Authenticated(user) => Ok(user),
            AuthOutcome::Challenge { stale } => Err(stale),
            AuthOutcome::Failed(why) => {
                self.metrics.auth_failures.inc();
                tracing::info!(source = %peer.addr.ip(), user = creds.get("username").unwrap_or(""), why, "authentication failed");
                if self.bans.record_failure(peer.addr.ip(), now.mono_ms) {
                    self.metrics.bans.inc();
                    tracing::warn!(source = %peer.addr.ip(), "banning source after repeated authentication failures");
                }
                Err(false)
            }
        }
    }

    /// A 401 or 407 with one challenge per configured algorithm (RFC 8760 §2.4).
    pub(crate) fn challenge(
        &self,
        now: &Now,
        req: &Request,
        status: StatusCode,
        stale: bool,
    ) -> Response {
        self.metrics.auth_challenges.inc();
        let mut resp = local_response(req, status, "", &self.ids.tag());
        let name = if status == StatusCode::UNAUTHORIZED {
            HeaderName::WwwAuthenticate
        } else {
            HeaderName::ProxyAuthenticate
        };
        for c in self.auth.challenges(stale, now.unix_secs) {
            resp.headers.push(Header::new(name.clone(), Bytes::from(c)));
        }
        resp
    }
}

fn unsupported_extensions(req: &Request) -> Option<String> {
    let mut bad = Vec::new();
    for h in req.headers.get_all(&HeaderName::Require) {
        let Ok(v) = h.value_str() else { continue };
        for token in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(token)) {
                bad.push(token.to_owned());
            }
        }
    }
    (!bad.is_empty()).then(|| bad.join(", "))
}
