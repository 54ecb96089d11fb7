//! Registration client (RFC 3261 §10.2): REGISTER with digest retry,
//! refresh before expiry, exponential backoff after failures, unregister.

use std::time::{Duration, Instant};

use crate::message::{Header, HeaderName, Method, NameAddr, Request, Response, StatusCode, Uri};
use crate::transaction::ClientTxId;

use super::helpers::{set_cseq, Rng};
use super::{ClientOwner, UaConfig, UaEvent, UserAgent};

/// What the registration is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Registering,
    Registered,
    Unregistering,
    Failed,
}

/// The registration client's state: one Call-ID for all REGISTERs of the
/// binding, increasing CSeq (§10.2.4), and one timer (refresh or retry).
#[derive(Debug)]
pub(super) struct Registration {
    state: State,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    tx: Option<ClientTxId>,
    attempts: u8,
    timer: Option<Instant>,
    backoff: Duration,
    expires_at: Option<Instant>,
    /// A Contact replaced by a learnt one, removed by the next REGISTER.
    stale_contact: Option<Uri>,
    /// Contacts learnt since the last success (bounds re-registration loops).
    learnt: u8,
}

impl Registration {
    pub(super) fn new(rng: &mut Rng, config: &UaConfig) -> Self {
        Self {
            state: State::Idle,
            call_id: format!("{}@{}", rng.token(), config.local_addr.ip()),
            from_tag: rng.token(),
            cseq: 0,
            expires: config.register_expires,
            tx: None,
            attempts: 0,
            timer: None,
            backoff: config.register_retry_base,
            expires_at: None,
            stale_contact: None,
            learnt: 0,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    pub(super) fn call_id(&self) -> &str {
        &self.call_id
    }

    pub(super) fn is_registered(&self) -> bool {
        self.state == State::Registered
    }
}

/// When to refresh a binding of `expires` seconds: 30 s early for long
/// bindings, halfway for short ones.
fn refresh_after(expires: u32) -> Duration {
    let secs = if expires > 60 {
        expires - 30
    } else {
        expires / 2
    };
    Duration::from_secs(u64::from(secs.max(1)))
}

impl UserAgent {
    /// Registers the account's Contact (RFC 3261 §10.2) and keeps it
    /// refreshed; [`UaEvent::Registered`] or [`UaEvent::RegistrationFailed`] follow.
    pub fn register(&mut self, now: Instant) {
        self.registration.expires = self.config.register_expires;
        self.registration.state = State::Registering;
        self.send_register(now);
        self.pump(now);
    }

    /// Removes our binding (REGISTER with Expires: 0, §10.2.2) and stops refreshing.
    pub fn unregister(&mut self, now: Instant) {
        self.registration.state = State::Unregistering;
        self.registration.timer = None;
        self.send_register(now);
        self.pump(now);
    }

    fn send_register(&mut self, now: Instant) {
        let reg = &mut self.registration;
        reg.cseq += 1;
        reg.attempts = 0;
        let expires = if reg.state == State::Unregistering {
            0
        } else {
            reg.expires
        };
        let mut registrar = Uri::sip(self.config.aor.host.clone());
        registrar.port = self.config.aor.port;
        let mut req = Request::new(Method::Register, registrar);
        let mut from = NameAddr::new(self.config.aor.clone());
        from.display.clone_from(&self.config.display_name);
        let to = from.to_string();
        from.set_param("tag", Some(reg.from_tag.clone()));
        let mut contact = NameAddr::new(self.config.contact.clone());
        contact.set_param("expires", Some(expires.to_string()));
        let h = &mut req.headers;
        h.push(Header::new(HeaderName::MaxForwards, "70"));
        h.push(Header::new(HeaderName::From, from.to_string()));
        h.push(Header::new(HeaderName::To, to));
        h.push(Header::new(HeaderName::CallId, reg.call_id.clone()));
        h.push(Header::new(
            HeaderName::CSeq,
            format!("{} REGISTER", reg.cseq),
        ));
        h.push(Header::new(HeaderName::Contact, contact.to_string()));
        if let Some(old) = reg.stale_contact.take().filter(|_| expires != 0) {
            // RFC 3261 §10.2.2: expires=0 on a contact removes that binding.
            let mut old = NameAddr::new(old);
            old.set_param("expires", Some("0".into()));
            h.push(Header::new(HeaderName::Contact, old.to_string()));
        }
        h.push(Header::new(HeaderName::Expires, expires.to_string()));
        h.push(Header::new(
            HeaderName::UserAgent,
            self.config.user_agent.clone(),
        ));
        self.send_register_request(now, req);
    }

    fn send_register_request(&mut self, now: Instant, req: Request) {
        let Ok(peer) = self.next_hop(&req, false) else {
            self.registration_failed(now, None);
            return;
        };
        let req = self.request_with_via(req, peer.transport);
        let tx = self.send_client(now, req, peer);
        self.clients.insert(tx, ClientOwner::Register);
        self.registration.tx = Some(tx);
    }

    pub(super) fn on_register_response(&mut self, now: Instant, tx: ClientTxId, resp: Response) {
        if self.registration.tx != Some(tx) || resp.status.is_provisional() {
            return;
        }
        self.registration.tx = None;
        let status = resp.status;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
        {
            if let Some(mut req) = self.client_request(tx).cloned() {
                let mut attempts = self.registration.attempts;
                if self.authorize(&mut req, &resp, &mut attempts) {
                    self.registration.attempts = attempts;
                    self.registration.cseq += 1;
                    set_cseq(&mut req, self.registration.cseq);
                    self.send_register_request(now, req);
                    return;
                }
            }
        }
        if status == StatusCode::INTERVAL_TOO_BRIEF && self.registration.state == State::Registering
        {
            let min = resp
                .headers
                .get_str(&HeaderName::MinExpires)
                .and_then(|v| v.trim().parse::<u32>().ok());
            if let Some(min) = min.filter(|m| *m > self.registration.expires) {
                self.registration.expires = min;
                self.send_register(now);
                return;
            }
        }
        if !status.is_success() {
            self.registration_failed(
                now,
                (status != StatusCode::REQUEST_TIMEOUT).then_some(status),
            );
            return;
        }
        if self.registration.state == State::Unregistering {
            self.registration.state = State::Idle;
            self.registration.expires_at = None;
            self.emit(UaEvent::Unregistered);
            return;
        }
        if let Some(learnt) = self.public_contact(&resp) {
            let old = std::mem::replace(&mut self.config.contact, learnt.clone());
            self.registration.stale_contact = Some(old);
            self.registration.learnt += 1;
            self.emit(UaEvent::ContactLearned { contact: learnt });
            self.send_register(now);
            return;
        }
        let expires = self.granted_expires(&resp);
        let reg = &mut self.registration;
        reg.learnt = 0;
        reg.state = State::Registered;
        reg.backoff = self.config.register_retry_base;
        reg.expires_at = Some(now + Duration::from_secs(u64::from(expires)));
        reg.timer = Some(now + refresh_after(expires));
        self.emit(UaEvent::Registered { expires });
    }

    /// Our Contact at the address the registrar saw in our Via (`received`,
    /// `rport`: RFC 3261 §18.2.1, RFC 3581 §4), when learning is on and it
    /// differs from the current one. Learnt at most twice in a row, so a
    /// registrar whose view keeps changing cannot make us loop.
    fn public_contact(&self, resp: &Response) -> Option<Uri> {
        if !self.config.learn_contact || self.registration.learnt >= 2 {
            return None;
        }
        let via = resp.top_via().ok()?;
        let mut host = via.received().unwrap_or(&via.host).to_owned();
        if host.contains(':') && !host.starts_with('[') {
            host = format!("[{host}]");
        }
        let port = via.rport().flatten().unwrap_or_else(|| via.sent_by_port());
        let contact = &self.config.contact;
        let current = contact
            .port
            .unwrap_or_else(|| self.config.transport.default_port());
        if host.eq_ignore_ascii_case(&contact.host) && port == current {
            return None;
        }
        let mut learnt = contact.clone();
        learnt.host = host;
        learnt.port = Some(port);
        Some(learnt)
    }

    /// The lifetime granted to our Contact: its `expires` parameter in the
    /// 200, else the Expires header, else what we asked for (§10.2.4).
    fn granted_expires(&self, resp: &Response) -> u32 {
        let ours = resp
            .headers
            .route_set(&HeaderName::Contact)
            .ok()
            .into_iter()
            .flatten()
            .find(|c| c.uri.matches(&self.config.contact))
            .and_then(|c| c.param("expires").flatten().and_then(|e| e.parse().ok()));
        ours.or_else(|| {
            resp.headers
                .get_str(&HeaderName::Expires)
                .and_then(|e| e.trim().parse().ok())
        })
        .unwrap_or(self.registration.expires)
    }

    fn registration_failed(&mut self, now: Instant, status: Option<StatusCode>) {
        let reg = &mut self.registration;
        if reg.state == State::Unregistering {
            reg.state = State::Idle;
            self.emit(UaEvent::Unregistered);
            return;
        }
        let retry_in = reg.backoff;
        reg.state = State::Failed;
        reg.timer = Some(now + retry_in);
        reg.backoff = (reg.backoff * 2).min(self.config.register_retry_max);
        self.emit(UaEvent::RegistrationFailed { status, retry_in });
    }

    /// The refresh or retry timer fired: send a new REGISTER.
    pub(super) fn on_registration_timer(&mut self, now: Instant) {
        self.registration.timer = None;
        if self.registration.tx.is_some() {
            return;
        }
        if self.registration.state == State::Registered
            && self.registration.expires_at.is_some_and(|e| e <= now)
        {
            self.registration.state = State::Failed;
        }
        if matches!(self.registration.state, State::Registered | State::Failed) {
            self.send_register(now);
        }
    }
}
