//! The registrar (RFC 3261 §10.3): REGISTER updates the location service, with
//! expiry limits (423 Interval Too Brief), `*` unregister, q-values, Path (RFC 3327)
//! and RFC 5626 instance/reg-id. Authentication happens before (see `auth`).

mod binding;
mod change;
mod location;
mod policy;
#[cfg(test)]
mod tests;

pub use binding::Binding;
pub use change::BindingChange;
pub use location::Location;
pub use policy::{MaxContactsPolicy, UnknownPolicy};

use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::Sender;
use sip_stack::message::{Contacts, Header, HeaderName, NameAddr, Request, Response, StatusCode};
use sip_stack::Peer;

/// Registrar limits (from the config file).
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// The served domain: AORs are `user@domain`.
    pub domain: String,
    /// Shortest accepted non-zero lifetime (423 below).
    pub min_expires: u32,
    /// Longest lifetime granted.
    pub max_expires: u32,
    /// Lifetime when the UA asks for none.
    pub default_expires: u32,
    /// Most contacts per AOR.
    pub max_contacts: usize,
}

/// The Contact header fields of a 200 to REGISTER: every binding with the
/// lifetime it has left (RFC 3261 §10.3 step 8).
fn contact_headers(bindings: &[Binding], now_secs: u64) -> Vec<Header> {
    bindings
        .iter()
        .map(|b| {
            let mut v = Vec::with_capacity(b.contact.len() + 18);
            v.extend_from_slice(b.contact.as_bytes());
            v.extend_from_slice(b";expires=");
            v.extend_from_slice(b.remaining(now_secs).to_string().as_bytes());
            Header::new(HeaderName::Contact, Bytes::from(v))
        })
        .collect()
}

/// Registers contacts.
pub struct Registrar {
    config: RegistrarConfig,
    policy: MaxContactsPolicy,
    location: Arc<Location>,
    persist: Option<Sender<BindingChange>>,
}

/// Why a REGISTER was refused before any change (the status and extra headers to send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase.
    pub reason: &'static str,
    /// Extra headers (Min-Expires for 423).
    pub headers: Vec<Header>,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str) -> Self {
        Self {
            status,
            reason,
            headers: Vec::new(),
        }
    }
}

struct Wanted {
    key: String,
    contact: String,
    uri: String,
    expires: u32,
    q: u16,
    instance: Option<String>,
    reg_id: Option<u32>,
}

impl Registrar {
    /// A registrar over `location`; changes are sent to `persist` (write-behind) when given.
    pub fn new(
        config: RegistrarConfig,
        location: Arc<Location>,
        persist: Option<Sender<BindingChange>>,
    ) -> Self {
        Self {
            config,
            policy: MaxContactsPolicy::default(),
            location,
            persist,
        }
    }

    /// What a REGISTER that would take its AOR past `max_contacts` gets
    /// (default [`MaxContactsPolicy::ReplaceOldest`]).
    #[must_use]
    pub fn with_max_contacts_policy(mut self, policy: MaxContactsPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy applied at `max_contacts`.
    pub fn max_contacts_policy(&self) -> MaxContactsPolicy {
        self.policy
    }

    /// The location service.
    pub fn location(&self) -> &Arc<Location> {
        &self.location
    }

    /// The AOR (`user@domain`) of a REGISTER's To, or None when it has no user part.
    pub fn aor_of(&self, to: &NameAddr) -> Option<String> {
        to.uri
            .user
            .as_ref()
            .map(|u| format!("{u}@{}", self.config.domain))
    }

    /// Handles an (already authenticated, already domain-checked) REGISTER for `aor`.
    /// Returns the final response: 200 with the current bindings, or a refusal.
    pub fn register(&self, req: &Request, aor: &str, source: Peer, now_secs: u64) -> Response {
        match self.try_register(req, aor, source, now_secs) {
            Ok(contacts) => Self::ok_response(req, contacts),
            Err(refusal) => {
                let mut resp = Response::for_request(req, refusal.status, None);
                resp.reason = refusal.reason.to_owned();
                for h in refusal.headers {
                    resp.headers.push(h);
                }
                resp
            }
        }
    }

    fn try_register(
        &self,
        req: &Request,
        aor: &str,
        source: Peer,
        now_secs: u64,
    ) -> Result<Vec<Header>, Refusal> {
        let bad = |_| Refusal::new(StatusCode::BAD_REQUEST, "Bad REGISTER");
        let call_id = req.call_id().map_err(bad)?.to_owned();
        let cseq = req.cseq().map_err(bad)?.seq;
        let header_expires = req
            .expires()
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "Bad Expires"))?;
        let contacts = req
            .contacts()
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "Bad Contact"))?;

        let list = match contacts {
            Contacts::Star => {
                // RFC 3261 §10.3 step 6: `*` only with Expires: 0 and no other contact.
                if header_expires != Some(0) {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "Contact * requires Expires: 0",
                    ));
                }
                let removed = self.location.update(aor, std::mem::take);
                self.persist_all(removed.into_iter().map(|b| BindingChange::Remove {
                    aor: b.aor,
                    key: b.key,
                }));
                return Ok(Vec::new());
            }
            Contacts::List(list) => list,
        };
        if list.is_empty() {
            return Ok(contact_headers(
                &self.location.lookup(aor, now_secs),
                now_secs,
            ));
        }

        let mut wanted = Vec::with_capacity(list.len());
        for c in list {
            wanted.push(self.wanted(c, header_expires)?);
        }
        let path: Vec<String> = req
            .headers
            .route_set(&HeaderName::Path)
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "Bad Path"))?
            .iter()
            .map(ToString::to_string)
            .collect();
        let user_agent = req
            .headers
            .get(&HeaderName::UserAgent)
            .and_then(|h| h.value_str().ok())
            .map(str::to_owned);

        let mut changes = Vec::with_capacity(wanted.len() + 1);
        let max = self.config.max_contacts;
        let result = self.location.update(aor, |bindings| {
            bindings.retain(|b| b.expires_at > now_secs);
            // Plan first, then change: a refused REGISTER changes nothing (§10.3).
            let mut apply: Vec<&Wanted> = Vec::with_capacity(wanted.len());
            for w in &wanted {
                // §10.3 step 7: an older REGISTER of the same Call-ID must not undo a newer one.
                let stale = bindings
                    .iter()
                    .any(|b| b.key == w.key && b.call_id == call_id && b.cseq > cseq);
                if !stale {
                    // The same contact twice in one REGISTER: the last one counts.
                    apply.retain(|a| a.key != w.key);
                    apply.push(w);
                }
            }
            let touched = |b: &Binding| apply.iter().any(|w| w.key == b.key);
            let kept = bindings.iter().filter(|b| !touched(b)).count();
            let bound = apply.iter().filter(|w| w.expires != 0).count();
            // Only a REGISTER that adds a binding can hit the limit: a refresh or a
            // removal never fails, even above a lowered limit.
            let added = apply
                .iter()
                .any(|w| w.expires != 0 && !bindings.iter().any(|b| b.key == w.key));
            let mut evict = Vec::new();
            if added && kept + bound > max {
                if self.policy == MaxContactsPolicy::Refuse {
                    return Err(Refusal::new(StatusCode::FORBIDDEN, "Too many contacts"));
                }
                evict = policy::oldest(bindings, kept + bound - max, touched)
                    // This REGISTER alone lists more contacts than allowed.
                    .ok_or_else(|| Refusal::new(StatusCode::FORBIDDEN, "Too many contacts"))?;
            }
            for &i in &evict {
                let b = &bindings[i];
                tracing::debug!(aor, contact = %b.contact, "max_contacts: oldest binding replaced");
                changes.push(BindingChange::Remove {
                    aor: aor.to_owned(),
                    key: b.key.clone(),
                });
            }
            let mut i = 0;
            bindings.retain(|b| {
                let keep = !touched(b) && !evict.contains(&i);
                i += 1;
                keep
            });
            for w in apply {
                if w.expires == 0 {
                    changes.push(BindingChange::Remove {
                        aor: aor.to_owned(),
                        key: w.key.clone(),
                    });
                    continue;
                }
                let b = Binding {
                    aor: aor.to_owned(),
                    key: w.key.clone(),
                    contact: w.contact.clone(),
                    uri: w.uri.clone(),
                    expires_at: now_secs + u64::from(w.expires),
                    q: w.q,
                    call_id: call_id.clone(),
                    cseq,
                    path: path.clone(),
                    instance: w.instance.clone(),
                    reg_id: w.reg_id,
                    source,
                    user_agent: user_agent.clone(),
                };
                changes.push(BindingChange::Upsert(b.clone()));
                bindings.push(b);
            }
            bindings.sort_by_key(|b| std::cmp::Reverse(b.q));
            Ok(contact_headers(bindings, now_secs))
        });
        if result.is_ok() {
            self.persist_all(changes);
        }
        result
    }

    fn wanted(&self, mut c: NameAddr, header_expires: Option<u32>) -> Result<Wanted, Refusal> {
        let expires = match c.param("expires") {
            Some(Some(v)) => v
                .trim()
                .parse::<u32>()
                .unwrap_or(self.config.default_expires),
            _ => header_expires.unwrap_or(self.config.default_expires),
        };
        if expires != 0 && expires < self.config.min_expires {
            let mut r = Refusal::new(StatusCode::INTERVAL_TOO_BRIEF, "Interval Too Brief");
            r.headers.push(Header::new(
                HeaderName::MinExpires,
                Bytes::from(self.config.min_expires.to_string()),
            ));
            return Err(r);
        }
        let expires = expires.min(self.config.max_expires);
        let q = match c.param("q") {
            Some(Some(v)) => match v.trim().parse::<f32>() {
                Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u16,
                _ => return Err(Refusal::new(StatusCode::BAD_REQUEST, "Bad q-value")),
            },
            _ => 1000,
        };
        let instance = match c.param("+sip.instance") {
            Some(Some(v)) => Some(v.trim_matches('"').to_owned()),
            _ => None,
        };
        let reg_id = match c.param("reg-id") {
            Some(Some(v)) => Some(
                v.parse::<u32>()
                    .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "Bad reg-id"))?,
            ),
            _ => None,
        };
        let uri = c.uri.to_string();
        let key = match (&instance, reg_id) {
            (Some(i), Some(r)) => format!("{i};reg-id={r}"),
            (Some(i), None) => i.clone(),
            _ => uri.clone(),
        };
        // Store the contact without its expires parameter: the 200 lists the granted value.
        c.params.retain(|p| !p.name.eq_ignore_ascii_case("expires"));
        Ok(Wanted {
            key,
            contact: c.to_string(),
            uri,
            expires,
            q,
            instance,
            reg_id,
        })
    }

    fn persist_all(&self, changes: impl IntoIterator<Item = BindingChange>) {
        if let Some(tx) = &self.persist {
            for c in changes {
                // The writer thread only stops at shutdown, after the transports.
                let _ = tx.send(c);
            }
        }
    }

    fn ok_response(req: &Request, contacts: Vec<Header>) -> Response {
        let mut resp = Response::for_request(req, StatusCode::OK, None);
        for c in contacts {
            resp.headers.push(c);
        }
        // RFC 3327 §5.3: the Path as stored is echoed in the 200.
        for p in req.headers.get_all(&HeaderName::Path) {
            resp.headers.push(p.clone());
        }
        resp
    }

    /// Removes lapsed bindings (periodic) and queues their deletion.
    pub fn sweep(&self, now_secs: u64) -> usize {
        let gone = self.location.sweep(now_secs);
        let n = gone.len();
        if n > 0 {
            self.persist_all(std::iter::once(BindingChange::ExpireBefore(now_secs)));
        }
        n
    }
}
