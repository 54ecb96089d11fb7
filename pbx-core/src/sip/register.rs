//! REGISTER handling: domain check, digest challenge (401) and verification,
//! failure bans, then the registrar. Stateless like Kamailio's registrar: a
//! retransmitted REGISTER is simply processed again (the registrar is idempotent
//! and the nonce-count check lets the identical request through).

use bytes::Bytes;
use sip_stack::message::{AuthParams, Header, HeaderName, Method, Request, Response, StatusCode};
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
        if self.auth.users().is_disabled(&user) {
            return local_response(req, StatusCode::FORBIDDEN, "User disabled", &tag());
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

/// Methods the server answers itself, in the Allow header of 405 and 501
/// (RFC 3261 §8.2.1, §20.5); everything else is routed.
pub(crate) const ALLOW_AT_SERVER: &str = "REGISTER, OPTIONS, ACK, CANCEL";

/// What a request addressed to the server itself (a Request-URI without a
/// user part naming one of our listeners, outside any dialog) gets when it
/// is neither REGISTER nor OPTIONS: 501 for a method pbx does not know,
/// 405 for a known one it does not allow there (RFC 3261 §8.2.1), both with
/// Allow. `None`: INVITE (routed as before, 404 "No user in Request-URI"),
/// ACK and CANCEL (matched to transactions), REGISTER and OPTIONS.
pub(crate) fn at_server_status(method: &Method) -> Option<StatusCode> {
    match method {
        Method::Register | Method::Options | Method::Ack | Method::Cancel | Method::Invite => None,
        Method::Other(_) => Some(StatusCode::NOT_IMPLEMENTED),
        _ => Some(StatusCode::METHOD_NOT_ALLOWED),
    }
}

impl SipCore {
    /// The 405/501 of [`at_server_status`] for `req` when it is addressed to the
    /// server itself (no user part, one of our listeners, no Route, no To tag).
    pub(super) fn answer_at_server(&self, req: &Request) -> Option<Response> {
        if req.uri.user.is_some()
            || req.headers.contains(&HeaderName::Route)
            || !self.locals.is_us(&req.uri)
            || req.to().ok().is_some_and(|t| t.tag().is_some())
        {
            return None;
        }
        let status = at_server_status(&req.method)?;
        let mut resp = local_response(req, status, "", &self.ids.tag());
        resp.headers.push(Header::new(
            HeaderName::Allow,
            Bytes::from_static(ALLOW_AT_SERVER.as_bytes()),
        ));
        Some(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_get_501_and_known_ones_405_at_the_server() {
        assert_eq!(
            at_server_status(&Method::Other("FOO".into())),
            Some(StatusCode::NOT_IMPLEMENTED)
        );
        // Methods are case-sensitive (RFC 3261 §7.1): `options` is an unknown extension.
        assert_eq!(
            at_server_status(&"options".parse().unwrap()),
            Some(StatusCode::NOT_IMPLEMENTED)
        );
        for m in [
            Method::Subscribe,
            Method::Message,
            Method::Publish,
            Method::Info,
            Method::Bye,
        ] {
            assert_eq!(
                at_server_status(&m),
                Some(StatusCode::METHOD_NOT_ALLOWED),
                "{m}"
            );
        }
        for m in [
            Method::Register,
            Method::Options,
            Method::Ack,
            Method::Cancel,
            Method::Invite,
        ] {
            assert_eq!(at_server_status(&m), None, "{m}");
        }
    }
}
