//! What the stateful proxy needs of the server around it, and nothing more:
//! the SIP entry ([`crate::sip::SipCore`]) implements it, so the proxy
//! never reaches into the entry's fields (and tests could supply another).

use std::net::IpAddr;

use sip_stack::message::{HeaderName, Request, Response, StatusCode};
use sip_stack::Peer;

use crate::auth::Authenticator;
use crate::media_anchor::MediaAnchor;
use crate::metrics::Metrics;
use crate::registrar::Registrar;
use crate::sans_io::{IdGen, Locals, Now};

/// The proxy's view of the server.
pub trait ProxyContext {
    /// Who we are (domain, aliases, listeners).
    fn locals(&self) -> &Locals;
    /// Branch and tag generator.
    fn ids(&self) -> &IdGen;
    /// Counters.
    fn metrics(&self) -> &Metrics;
    /// The location service.
    fn registrar(&self) -> &Registrar;
    /// Digest authentication (realm, users).
    fn auth(&self) -> &Authenticator;
    /// Media anchoring (None: `media.anchor = "never"`).
    fn anchor(&self) -> Option<&MediaAnchor>;
    /// Whether `ip` belongs to a trusted peer (not challenged).
    fn is_trusted(&self, ip: IpAddr) -> bool;
    /// The token of our Record-Route for a dialog (in-dialog requests
    /// must bring it back).
    fn route_token(&self, call_id: &str) -> String;
    /// Checks the credentials in `header`: the user, or whether a fresh
    /// challenge should say `stale` (`Err(true)`).
    fn check_credentials(
        &self,
        now: &Now,
        req: &Request,
        peer: Peer,
        header: &HeaderName,
    ) -> Result<String, bool>;
    /// A 401/407 challenge for `req`.
    fn challenge(&self, now: &Now, req: &Request, status: StatusCode, stale: bool) -> Response;
}
