//! The trunks' signalling outside calls, sans-IO: one [`UserAgent`] per
//! registering trunk (REGISTER with digest auth, refresh before expiry,
//! backoff after failures: `sip_stack::ua`'s registration client) and
//! OPTIONS probes (RFC 3261 §11) feeding each trunk's [`Health`].
//!
//! The agents share the server's sockets: the SIP core hands responses whose
//! Call-ID [`TrunkManager::owns`] to [`TrunkManager::handle_response`].
//! Probes are single requests without retransmission (a lost one counts as
//! a failure; `down_after` absorbs single losses).
//!
//! REGISTERs and probes of a host-named trunk go to one of its resolved
//! addresses ([`TrunkManager::handle_targets`]): the first one, kept while
//! later answers still contain it (SRV weights reshuffle the order at every
//! lookup, which must not move the registration each time). Until the name
//! first resolves the trunk neither registers nor probes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_stack::message::{Header, HeaderName, Method, Request, SipMessage, Uri};
use sip_stack::ua::{Credentials, Output, UaConfig, UaEvent, UserAgent};
use sip_stack::{Peer, Transport};

use super::config::TrunkConfig;
use super::health::{Health, HealthState};
use crate::sans_io::Outbox;

/// Call-ID prefix of our OPTIONS probes.
const PROBE_PREFIX: &str = "pbxprobe-";
/// Whether a Call-ID is one of our OPTIONS probes'.
pub fn is_probe(call_id: &str) -> bool {
    call_id.starts_with(PROBE_PREFIX)
}

/// Longest wait for a probe's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Registration state as `pbx trunks` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// `register = false`.
    Off,
    /// First REGISTER on its way.
    Registering,
    /// Bound until the instant.
    Registered(Instant),
    /// Last attempt failed (status, if any); retried at the instant.
    Failed(Option<u16>, Instant),
}

/// One trunk's state for `pbx trunks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    /// Name.
    pub name: String,
    /// `registered`, `registering`, `failed`, `failed(403)` or `off`.
    pub registration: String,
    /// Seconds until the binding expires (registered) or the retry (failed).
    pub expires_in: Option<u64>,
    /// `up`, `down`, `unknown` or `off` (no probing).
    pub health: String,
    /// Round-trip time of the last answered probe, ms.
    pub rtt_ms: Option<u64>,
}

#[derive(Debug)]
struct Probe {
    call_id: String,
    sent: Instant,
}

#[derive(Debug)]
struct Runtime {
    ua: Option<UserAgent>,
    reg: RegState,
    health: Option<Health>,
    next_probe: Option<Instant>,
    probe: Option<Probe>,
    local: Option<SocketAddr>,
    /// Where REGISTERs and probes go (None: a host name not resolved yet).
    target: Option<SocketAddr>,
    /// A (re-)registration waiting for [`TrunkManager::handle_timeout`].
    register_at: Option<Instant>,
    /// The agent's seed (a re-targeted agent keeps its Call-ID).
    ua_seed: u64,
}

/// The registration clients and health probes of all trunks.
#[derive(Debug)]
pub struct TrunkManager {
    configs: Vec<TrunkConfig>,
    rt: Vec<Runtime>,
    started: bool,
    seq: u64,
    seed: u64,
    created: Instant,
    out: Outbox,
}

impl TrunkManager {
    /// A manager for `configs`; `listeners` are the server's bound sockets
    /// (Via / Contact of our requests). Nothing is sent before the first
    /// [`TrunkManager::handle_timeout`] (due at once).
    pub fn new(
        configs: Vec<TrunkConfig>,
        listeners: &[(Transport, SocketAddr)],
        seed: u64,
        now: Instant,
    ) -> Self {
        let rt = configs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let local = listeners
                    .iter()
                    .find(|(tr, _)| *tr == t.transport)
                    .map(|(_, a)| *a);
                let target = t.proxy.addr();
                let ua_seed = seed ^ i as u64;
                let ua = match (t.register, local) {
                    (true, Some(local)) => Some(UserAgent::new(ua_config(t, local, target, ua_seed))),
                    _ => None,
                };
                if t.register && local.is_none() {
                    tracing::warn!(trunk = %t.name, "no listener for the trunk's transport: not registering");
                }
                Runtime {
                    reg: if ua.is_some() { RegState::Registering } else { RegState::Off },
                    ua,
                    health: t.options_interval.map(|_| Health::new(t.up_after, t.down_after)),
                    next_probe: None,
                    probe: None,
                    local,
                    target,
                    register_at: None,
                    ua_seed,
                }
            })
            .collect();
        Self {
            configs,
            rt,
            started: false,
            seq: 0,
            seed,
            created: now,
            out: Vec::new(),
        }
    }

    /// The trunks' configuration.
    pub fn configs(&self) -> &[TrunkConfig] {
        &self.configs
    }

    /// Whether routing may use trunk `i` (not known to be down).
    pub fn usable(&self, i: usize) -> bool {
        self.rt
            .get(i)
            .is_some_and(|r| r.health.as_ref().is_none_or(Health::usable))
    }

    /// The Call-IDs of the registration agents' REGISTERs.
    pub fn registration_call_ids(&self) -> Vec<String> {
        self.rt
            .iter()
            .filter_map(|r| r.ua.as_ref())
            .map(|ua| ua.registration_call_id().to_owned())
            .collect()
    }

    /// Whether a response with this Call-ID is ours (a REGISTER or a probe).
    pub fn owns(&self, call_id: &str) -> bool {
        call_id.starts_with(PROBE_PREFIX)
            || self
                .rt
                .iter()
                .filter_map(|r| r.ua.as_ref())
                .any(|ua| ua.registration_call_id() == call_id)
    }

    /// A response [`TrunkManager::owns`].
    pub fn handle_response(&mut self, now: Instant, msg: SipMessage, peer: Peer) {
        let SipMessage::Response(resp) = &msg else {
            return;
        };
        let Ok(call_id) = resp.call_id() else { return };
        if call_id.starts_with(PROBE_PREFIX) {
            let status = resp.status.0;
            let call_id = call_id.to_owned();
            if status >= 200 {
                self.on_probe_answer(now, &call_id, status);
            }
            return;
        }
        let Some(i) = self.rt.iter().position(|r| {
            r.ua.as_ref()
                .is_some_and(|ua| ua.registration_call_id() == call_id)
        }) else {
            return;
        };
        if let Some(ua) = self.rt[i].ua.as_mut() {
            ua.handle_message(now, msg, peer);
        }
        self.drain_ua(now, i);
    }

    /// The current addresses of trunk `i` (a host-named one, freshly
    /// resolved, best first). The REGISTER / probe target stays unless it
    /// is gone from the list; a new target gets a new registration (the
    /// agent keeps its Call-ID) at the next [`TrunkManager::handle_timeout`].
    pub fn handle_targets(&mut self, now: Instant, i: usize, targets: &[SocketAddr]) {
        let Some(rt) = self.rt.get_mut(i) else { return };
        if rt.target.is_some_and(|t| targets.contains(&t)) {
            return;
        }
        let Some(&first) = targets.first() else {
            return;
        };
        let t = &self.configs[i];
        tracing::info!(trunk = %t.name, target = %first, "trunk signalling target");
        rt.target = Some(first);
        if let (Some(_), Some(local)) = (rt.ua.as_ref(), rt.local) {
            rt.ua = Some(UserAgent::new(ua_config(t, local, Some(first), rt.ua_seed)));
            rt.reg = RegState::Registering;
            rt.register_at = Some(now);
        }
        if rt.health.is_some() && self.started {
            rt.next_probe = Some(now);
        }
    }

    /// Where trunk `i`'s REGISTERs and probes go now.
    pub fn target(&self, i: usize) -> Option<SocketAddr> {
        self.rt.get(i).and_then(|r| r.target)
    }

    /// Runs what is due: the first registrations, refreshes, retries, probes.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.started {
            self.started = true;
            for rt in &mut self.rt {
                // A host name not resolved yet waits for handle_targets.
                if rt.target.is_some() {
                    rt.register_at = rt.ua.as_ref().map(|_| now);
                    if rt.health.is_some() {
                        rt.next_probe = Some(now);
                    }
                }
            }
        }
        for i in 0..self.rt.len() {
            if self.rt[i].register_at.is_some_and(|t| t <= now) {
                self.rt[i].register_at = None;
                if let Some(ua) = self.rt[i].ua.as_mut() {
                    ua.register(now);
                }
            }
            if let Some(ua) = self.rt[i].ua.as_mut() {
                if ua.poll_timeout().is_some_and(|t| t <= now) {
                    ua.handle_timeout(now);
                }
            }
            self.drain_ua(now, i);
            self.probe_timers(now, i);
        }
    }

    /// Removes every registration (REGISTER with Expires: 0, RFC 3261
    /// §10.2.2) at shutdown; returns how many were registered.
    pub fn unregister_all(&mut self, now: Instant) -> usize {
        let mut n = 0;
        for i in 0..self.rt.len() {
            if !matches!(self.rt[i].reg, RegState::Registered(_)) {
                continue;
            }
            if let Some(ua) = self.rt[i].ua.as_mut() {
                ua.unregister(now);
                n += 1;
            }
            self.drain_ua(now, i);
        }
        n
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return Some(self.created);
        }
        self.rt
            .iter()
            .flat_map(|r| {
                r.ua.as_ref()
                    .and_then(UserAgent::poll_timeout)
                    .into_iter()
                    .chain(r.next_probe)
                    .chain(r.register_at)
                    .chain(r.probe.as_ref().map(|p| p.sent + PROBE_TIMEOUT))
            })
            .min()
    }

    /// Moves the datagrams to send into `out`.
    pub fn drain(&mut self, out: &mut Outbox) {
        out.append(&mut self.out);
    }

    /// Every trunk's state at `now`.
    pub fn status(&self, now: Instant) -> Vec<TrunkStatus> {
        let secs = |t: Instant| t.saturating_duration_since(now).as_secs();
        self.configs
            .iter()
            .zip(&self.rt)
            .map(|(c, r)| {
                let (registration, expires_in) = match r.reg {
                    RegState::Off => ("off".to_owned(), None),
                    RegState::Registering => ("registering".to_owned(), None),
                    RegState::Registered(t) => ("registered".to_owned(), Some(secs(t))),
                    RegState::Failed(Some(s), t) => (format!("failed({s})"), Some(secs(t))),
                    RegState::Failed(None, t) => ("failed(timeout)".to_owned(), Some(secs(t))),
                };
                TrunkStatus {
                    name: c.name.clone(),
                    registration,
                    expires_in,
                    health: r
                        .health
                        .as_ref()
                        .map_or("off", |h| h.state().as_str())
                        .to_owned(),
                    rtt_ms: r
                        .health
                        .as_ref()
                        .and_then(Health::last_rtt)
                        .map(|d| d.as_millis() as u64),
                }
            })
            .collect()
    }

    /// Registration events and datagrams of trunk `i`'s agent.
    fn drain_ua(&mut self, now: Instant, i: usize) {
        let rt = &mut self.rt[i];
        let Some(ua) = rt.ua.as_mut() else {
            return;
        };
        let name = &self.configs[i].name;
        while let Some(o) = ua.poll_output() {
            match o {
                Output::Transmit { peer, data } => self.out.push((peer, data)),
                Output::Event(UaEvent::Registered { expires }) => {
                    tracing::info!(trunk = %name, expires, "trunk registered");
                    rt.reg = RegState::Registered(now + Duration::from_secs(u64::from(expires)));
                }
                Output::Event(UaEvent::Unregistered) => rt.reg = RegState::Off,
                Output::Event(UaEvent::RegistrationFailed { status, retry_in }) => {
                    tracing::warn!(trunk = %name, ?status, ?retry_in, "trunk registration failed");
                    rt.reg = RegState::Failed(status.map(|s| s.0), now + retry_in);
                }
                Output::Event(_) => {}
            }
        }
    }

    fn probe_timers(&mut self, now: Instant, i: usize) {
        if self.rt[i]
            .probe
            .as_ref()
            .is_some_and(|p| p.sent + PROBE_TIMEOUT <= now)
        {
            self.rt[i].probe = None;
            self.probe_result(i, None);
        }
        if self.rt[i].next_probe.is_some_and(|t| t <= now) {
            let interval = self.configs[i]
                .options_interval
                .unwrap_or(Duration::from_secs(30));
            self.rt[i].next_probe = Some(now + interval);
            if self.rt[i].probe.take().is_some() {
                self.probe_result(i, None);
            }
            self.send_probe(now, i);
        }
    }

    fn send_probe(&mut self, now: Instant, i: usize) {
        let (Some(local), Some(dest)) = (self.rt[i].local, self.rt[i].target) else {
            return;
        };
        let t = &self.configs[i];
        self.seq += 1;
        let token = format!("{:x}{:x}", self.seed.rotate_left(13) ^ self.seq, self.seq);
        let call_id = format!("{PROBE_PREFIX}{i}-{token}@{}", local.ip());
        let mut uri = Uri::sip(super::uri_host(dest.ip()));
        uri.port = Some(dest.port());
        let mut req = Request::new(Method::Options, uri.clone());
        let from_user = t
            .from_user
            .as_deref()
            .or(t.username.as_deref())
            .unwrap_or("pbx");
        let h = &mut req.headers;
        h.push(Header::new(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {local};branch=z9hG4bK{token};rport",
                t.transport
            ),
        ));
        h.push(Header::new(HeaderName::MaxForwards, "70"));
        h.push(Header::new(
            HeaderName::From,
            format!("<sip:{from_user}@{}>;tag={token}", t.domain()),
        ));
        h.push(Header::new(HeaderName::To, format!("<{uri}>")));
        h.push(Header::new(HeaderName::CallId, call_id.clone()));
        h.push(Header::new(
            HeaderName::CSeq,
            format!("{} OPTIONS", self.seq),
        ));
        h.push(Header::new(HeaderName::ContentLength, "0"));
        let peer = Peer {
            transport: t.transport,
            addr: dest,
            conn: None,
        };
        self.out.push((peer, req.to_bytes()));
        self.rt[i].probe = Some(Probe { call_id, sent: now });
    }

    fn on_probe_answer(&mut self, now: Instant, call_id: &str, status: u16) {
        let Some(i) = self
            .rt
            .iter()
            .position(|r| r.probe.as_ref().is_some_and(|p| p.call_id == call_id))
        else {
            return;
        };
        let Some(probe) = self.rt[i].probe.take() else {
            return;
        };
        // Any answer but "overloaded / unavailable" shows a live peer.
        let rtt =
            (!matches!(status, 408 | 480 | 503)).then(|| now.saturating_duration_since(probe.sent));
        self.probe_result(i, rtt);
    }

    fn probe_result(&mut self, i: usize, rtt: Option<Duration>) {
        let name = &self.configs[i].name;
        let Some(h) = self.rt[i].health.as_mut() else {
            return;
        };
        let changed = match rtt {
            Some(rtt) => h.on_success(rtt),
            None => h.on_failure(),
        };
        if changed {
            match h.state() {
                HealthState::Down => {
                    tracing::warn!(trunk = %name, "trunk down (OPTIONS unanswered)")
                }
                s => tracing::info!(trunk = %name, state = s.as_str(), "trunk health"),
            }
        }
    }
}

/// The registration agent of a trunk: AOR `from_user@domain`, requests to
/// `target` (the trunk's address, or one its name resolved to), the
/// trunk's credentials.
fn ua_config(
    t: &TrunkConfig,
    local: SocketAddr,
    target: Option<SocketAddr>,
    seed: u64,
) -> UaConfig {
    let user = t
        .from_user
        .clone()
        .or_else(|| t.username.clone())
        .unwrap_or_else(|| "pbx".into());
    let mut aor = Uri::sip(t.domain());
    aor.user = Some(user);
    let mut c = UaConfig::new(aor, local);
    c.transport = t.transport;
    if t.transport != Transport::Udp {
        c.contact.params.push(sip_stack::message::Param {
            name: "transport".into(),
            value: Some(t.transport.to_string().to_ascii_lowercase()),
        });
    }
    c.outbound_proxy = target;
    c.credentials = match (&t.username, &t.password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    };
    c.register_expires = t.register_expires;
    c.seed = seed;
    c.user_agent = concat!("pbx/", env!("CARGO_PKG_VERSION")).into();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_stack::message::{Response, StatusCode};

    const CARRIER: &str = "10.9.9.9:5060";
    const US: &str = "10.0.0.1:5060";

    fn trunk(register: bool, probe_secs: Option<u64>) -> TrunkConfig {
        let text = format!(
            "[[trunks]]\nname = \"c\"\nproxy = \"{CARRIER}\"\nusername = \"acct\"\npassword = \"pw\"\n\
             register = {register}\nregister_expires_secs = 60\noptions_interval_secs = {}\ndown_after = 2\n",
            probe_secs.unwrap_or(0)
        );
        crate::config::Config::from_str_named(&text, "t")
            .expect("trunk config")
            .trunks
            .remove(0)
    }

    fn manager(t: TrunkConfig, now: Instant) -> TrunkManager {
        TrunkManager::new(vec![t], &[(Transport::Udp, US.parse().unwrap())], 7, now)
    }

    /// The requests the manager sent since the last call.
    fn sent(m: &mut TrunkManager) -> Vec<Request> {
        let mut out = Vec::new();
        m.drain(&mut out);
        out.into_iter()
            .map(|(peer, data)| {
                assert_eq!(peer.addr, CARRIER.parse().unwrap());
                match SipMessage::parse(data).unwrap() {
                    SipMessage::Request(r) => r,
                    SipMessage::Response(r) => panic!("sent a response {r:?}"),
                }
            })
            .collect()
    }

    fn answer(
        m: &mut TrunkManager,
        now: Instant,
        req: &Request,
        status: u16,
        extra: &[(HeaderName, &str)],
    ) {
        let mut resp = Response::for_request(req, StatusCode(status), Some("carrier"));
        for (name, value) in extra {
            resp.headers
                .push(Header::new(name.clone(), value.to_string()));
        }
        let call_id = resp.call_id().unwrap().to_owned();
        assert!(m.owns(&call_id), "responses to our requests are ours");
        m.handle_response(
            now,
            SipMessage::Response(resp),
            Peer::udp(CARRIER.parse().unwrap()),
        );
    }

    #[test]
    fn registers_with_digest_refreshes_and_reports() {
        let t0 = Instant::now();
        let mut m = manager(trunk(true, None), t0);
        assert_eq!(m.poll_timeout(), Some(t0), "starts at once");
        assert_eq!(m.status(t0)[0].registration, "registering");
        m.handle_timeout(t0);
        let reg = sent(&mut m);
        assert_eq!(reg.len(), 1);
        assert_eq!(reg[0].method, Method::Register);
        answer(
            &mut m,
            t0,
            &reg[0],
            401,
            &[(
                HeaderName::WwwAuthenticate,
                "Digest realm=\"c\", nonce=\"n1\"",
            )],
        );
        let retry = sent(&mut m);
        assert!(retry[0]
            .headers
            .get_str(&HeaderName::Authorization)
            .is_some_and(|a| a.contains("username=\"acct\"")));
        answer(&mut m, t0, &retry[0], 200, &[(HeaderName::Expires, "60")]);
        let st = &m.status(t0)[0];
        assert_eq!(
            (st.registration.as_str(), st.expires_in),
            ("registered", Some(60))
        );
        assert!(!m.owns("someone-else@x"));
        // Refreshed before expiry (RFC 3261 §10.2.4).
        let mut refresh_at = t0;
        let mut refresh = Vec::new();
        while refresh.is_empty() {
            refresh_at = m.poll_timeout().expect("a refresh is scheduled");
            assert!(
                refresh_at < t0 + Duration::from_secs(60),
                "refreshed in time"
            );
            m.handle_timeout(refresh_at);
            refresh = sent(&mut m);
        }
        assert!(
            refresh_at >= t0 + Duration::from_secs(20),
            "not too early either"
        );
        assert_eq!(refresh[0].method, Method::Register);
        // At shutdown the binding is removed.
        let mut probe = manager(trunk(true, None), t0);
        probe.handle_timeout(t0);
        let first = sent(&mut probe);
        answer(
            &mut probe,
            t0,
            &first[0],
            200,
            &[(HeaderName::Expires, "60")],
        );
        assert_eq!(probe.unregister_all(t0), 1);
        let bye = sent(&mut probe);
        assert_eq!(bye[0].headers.get_str(&HeaderName::Expires), Some("0"));
        answer(&mut probe, t0, &bye[0], 200, &[]);
        assert_eq!(probe.status(t0)[0].registration, "off");
        answer(&mut m, refresh_at, &refresh[0], 503, &[]);
        let st = &m.status(refresh_at)[0];
        assert_eq!(st.registration, "failed(503)");
        assert!(st.expires_in.is_some(), "the retry is scheduled");
    }

    #[test]
    fn probes_bring_a_trunk_up_and_silence_takes_it_down() {
        let t0 = Instant::now();
        let mut m = manager(trunk(false, Some(1)), t0);
        assert_eq!(m.status(t0)[0].registration, "off");
        assert!(m.usable(0), "unknown counts as usable");
        m.handle_timeout(t0);
        let probe = sent(&mut m);
        assert_eq!(probe[0].method, Method::Options);
        answer(&mut m, t0 + Duration::from_millis(12), &probe[0], 200, &[]);
        let st = &m.status(t0)[0];
        assert_eq!((st.health.as_str(), st.rtt_ms), ("up", Some(12)));
        // Two unanswered probes in a row: down.
        let mut now = t0;
        for _ in 0..3 {
            now = m.poll_timeout().expect("next probe");
            m.handle_timeout(now);
            sent(&mut m);
        }
        assert_eq!(m.status(now)[0].health, "down");
        assert!(!m.usable(0));
        // An answer from an old probe counts for nothing; a fresh one does.
        now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
        let probe = sent(&mut m);
        answer(&mut m, now, &probe[0], 200, &[]);
        assert_eq!(m.status(now)[0].health, "up");
    }

    /// A host-named trunk: nothing is sent before its name resolves; then
    /// REGISTER and probes go to the first address, which stays while it
    /// is still among the answers; a vanished one moves the registration
    /// (same Call-ID: the SIP core recognises the responses without a lock).
    #[test]
    fn a_host_named_trunk_registers_where_its_name_resolves() {
        let text = "[[trunks]]\nname = \"c\"\nproxy = \"sip.carrier.test\"\nusername = \"acct\"\n\
                    password = \"pw\"\nregister = true\noptions_interval_secs = 30\n";
        let t = crate::config::Config::from_str_named(text, "t")
            .expect("trunk config")
            .trunks
            .remove(0);
        let t0 = Instant::now();
        let mut m = manager(t, t0);
        let call_ids = m.registration_call_ids();
        m.handle_timeout(t0);
        let mut out = Vec::new();
        m.drain(&mut out);
        assert!(out.is_empty(), "no address yet: nothing sent");
        assert_eq!(m.target(0), None);
        let (a, b, c): (SocketAddr, SocketAddr, SocketAddr) = (
            "192.0.2.1:5060".parse().unwrap(),
            "192.0.2.2:5060".parse().unwrap(),
            "192.0.2.3:5070".parse().unwrap(),
        );
        let sent_to = |m: &mut TrunkManager, now: Instant| {
            m.handle_timeout(now);
            let mut out = Vec::new();
            m.drain(&mut out);
            out.into_iter()
                .map(|(peer, data)| match SipMessage::parse(data).unwrap() {
                    SipMessage::Request(r) => (peer.addr, r),
                    SipMessage::Response(r) => panic!("sent a response {r:?}"),
                })
                .collect::<Vec<_>>()
        };
        m.handle_targets(t0, 0, &[a, b]);
        assert_eq!(m.poll_timeout(), Some(t0), "registration due at once");
        let sent = sent_to(&mut m, t0);
        let methods: Vec<(SocketAddr, Method)> =
            sent.iter().map(|(p, r)| (*p, r.method.clone())).collect();
        assert!(methods.contains(&(a, Method::Register)), "{methods:?}");
        assert!(methods.contains(&(a, Method::Options)), "{methods:?}");
        assert_eq!(m.registration_call_ids(), call_ids);
        // A reshuffled answer with `a` still in it changes nothing.
        m.handle_targets(t0, 0, &[b, a]);
        assert!(sent_to(&mut m, t0).is_empty());
        assert_eq!(m.target(0), Some(a));
        // `a` is gone: REGISTER again, at the new first address, same Call-ID.
        m.handle_targets(t0, 0, &[c, b]);
        let sent = sent_to(&mut m, t0);
        let reg = sent
            .iter()
            .find(|(_, r)| r.method == Method::Register)
            .expect("a new REGISTER");
        assert_eq!(reg.0, c);
        assert_eq!(reg.1.call_id().unwrap(), call_ids[0]);
        assert!(m.owns(&call_ids[0]));
        assert_eq!(m.status(t0)[0].registration, "registering");
    }
}
