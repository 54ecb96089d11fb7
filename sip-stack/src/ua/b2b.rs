//! Commands a back-to-back user agent needs on top of the phone-style API:
//! an INVITE placed on behalf of another party (its From, To and Call-ID)
//! and provisional responses (180 / 183 with early media, RFC 3261 §13.3.1.1)
//! sent when the application decides, not automatically.

use std::time::Instant;

use crate::message::{Header, HeaderName, NameAddr, Response, StatusCode, Uri};

use super::helpers::set_body;
use super::{Body, Result, SessionId, UaError, UserAgent};

/// An outgoing INVITE of a B2BUA leg: who it claims to be from and to.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Request-URI (a registered contact, a trunk URI, ...).
    pub target: Uri,
    /// From without tag (None: the account's AOR). The UA adds its own tag.
    pub from: Option<NameAddr>,
    /// To without tag (None: the target).
    pub to: Option<NameAddr>,
    /// The SDP offer.
    pub body: Option<Body>,
    /// Credentials answering a 401/407 to this INVITE (RFC 3261 §22.2)
    /// instead of the account's (None: the account's): a B2BUA leg to a SIP
    /// trunk authenticates with the trunk's account.
    pub credentials: Option<super::Credentials>,
    /// The connection to send this session's requests on when the target
    /// is no address (RFC 7118 §5.2: a WebSocket client registers an
    /// `.invalid` contact and is reached on its registration's flow).
    pub flow: Option<crate::peer::Peer>,
}

impl CallOptions {
    /// An INVITE to `target` with the account's identity.
    pub fn new(target: Uri) -> Self {
        Self {
            target,
            from: None,
            to: None,
            body: None,
            credentials: None,
            flow: None,
        }
    }
}

impl UserAgent {
    /// Sends a provisional response (180 Ringing, 183 Session Progress with
    /// an early answer) for an unanswered incoming INVITE.
    pub fn progress(
        &mut self,
        now: Instant,
        id: SessionId,
        status: StatusCode,
        body: Option<Body>,
    ) -> Result<()> {
        let contact = NameAddr::new(self.config.contact.clone());
        let session = self.session(id)?;
        let pending = session
            .pending
            .as_ref()
            .ok_or(UaError::InvalidState(id, "send a provisional response"))?;
        if !status.is_provisional() || status.0 == 100 {
            return Err(UaError::InvalidState(id, "send a non-provisional progress"));
        }
        let mut resp = Response::for_request(&pending.request, status, Some(&session.local_tag));
        resp.headers
            .push(Header::new(HeaderName::Contact, contact.to_string()));
        set_body(&mut resp.headers, &mut resp.body, body);
        let tx = pending.tx;
        if !self.make_reliable(now, id, &mut resp) {
            return Err(UaError::InvalidState(
                id,
                "send a provisional before the last one's PRACK",
            ));
        }
        let _ = self.layer.send_response(now, tx, resp);
        self.pump(now);
        Ok(())
    }
}

impl UserAgent {
    /// The Call-ID of the registration client's REGISTERs (RFC 3261 §10.2.4:
    /// one per binding): a driver sharing a socket between several agents
    /// routes REGISTER responses by it.
    pub fn registration_call_id(&self) -> &str {
        self.registration.call_id()
    }

    /// The SIP Call-ID of a session (its INVITE's, for outgoing calls).
    pub fn session_call_id(&self, id: SessionId) -> Option<String> {
        let s = self.sessions.get(&id)?;
        if let Some(d) = &s.dialog {
            return Some(d.id.call_id.clone());
        }
        if let Some(p) = &s.pending {
            return p.request.call_id().ok().map(str::to_owned);
        }
        let tx = s.invite_tx?;
        self.layer
            .client_request(tx)
            .and_then(|r| r.call_id().ok())
            .map(str::to_owned)
    }
}
