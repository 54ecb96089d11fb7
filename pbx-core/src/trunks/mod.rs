//! SIP trunks (`[[trunks]]`): carriers pbx registers with, probes, sends
//! outbound calls to and takes inbound DID calls from.
//!
//! - [`config`]: the TOML form and validation.
//! - [`normalize`]: strip / prefix / E.164 rules per direction.
//! - [`lcr`]: which trunks may carry a number, best first.
//! - [`health`]: the OPTIONS up/down state machine.
//! - [`slots`]: `max_calls` per trunk.
//! - [`manager`]: REGISTER agents and OPTIONS probes, sans-IO, driven by the
//!   SIP core's timers and fed the responses it recognises as ours.
//! - [`dns`]: host-named proxies resolved by SRV / A / AAAA (RFC 3263 §4.2)
//!   in a task of their own; [`Trunks::targets`] is the current list.
//!
//! Outbound calls run the [`crate::b2bua::trunk_route::TrunkRoute`]
//! application (sequential failover over the candidates); inbound INVITEs
//! from a trunk's address to one of its DIDs are admitted without a
//! challenge (trunks are trusted by source address) and routed to the DID's
//! target by [`crate::sip::CoreRouter`].

pub mod config;
pub mod dns;
pub mod health;
pub mod lcr;
pub mod manager;
pub mod normalize;
pub mod slots;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use sip_stack::Transport;

pub use config::{Did, Proxy, TrunkConfig};
pub use dns::{DnsConfig, DnsError, DnsState};
pub use manager::{TrunkManager, TrunkStatus};
pub use slots::{CallSlot, Slots};

/// An IP as the host of a SIP URI (RFC 3261 §25.1: IPv6 in brackets).
pub fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The trunks of a running server: configuration, live state, call slots.
#[derive(Debug)]
pub struct Trunks {
    configs: Arc<Vec<TrunkConfig>>,
    manager: Mutex<TrunkManager>,
    slots: Arc<Slots>,
    /// The registration agents' Call-IDs (fixed for their lifetime): the
    /// SIP core asks [`Trunks::owns`] for every response without a lock.
    reg_call_ids: Vec<String>,
    /// Per trunk: the resolution of its host name (None: an IP literal).
    dns: Vec<Option<RwLock<dns::Resolution>>>,
    /// Draws each call's order among weighted SRV targets.
    call_rng: Mutex<rand::rngs::StdRng>,
}

/// A trunk's line in `pbx trunks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkLine {
    /// Registration and health.
    pub status: TrunkStatus,
    /// Calls on the trunk now.
    pub calls: u32,
    /// Its limit.
    pub max_calls: Option<u32>,
    /// The addresses calls go to, best first.
    pub targets: Vec<SocketAddr>,
    /// Seconds since the host name was resolved (None: an IP literal, or
    /// not resolved yet).
    pub resolved_ago: Option<u64>,
    /// `static` (an IP literal), `resolving`, `resolved` or
    /// `dns failed: <reason>`.
    pub dns: String,
}

impl Trunks {
    /// The trunks of `configs`, sending from the server's `listeners`.
    pub fn new(
        configs: Vec<TrunkConfig>,
        listeners: &[(Transport, SocketAddr)],
        seed: u64,
        now: Instant,
    ) -> Self {
        let slots = Slots::new(configs.len());
        let manager = TrunkManager::new(configs.clone(), listeners, seed, now);
        let min_refresh = DnsConfig::default().min_refresh;
        Self {
            reg_call_ids: manager.registration_call_ids(),
            dns: configs
                .iter()
                .map(|t| {
                    matches!(t.proxy, Proxy::Host { .. })
                        .then(|| RwLock::new(dns::Resolution::new(now, min_refresh)))
                })
                .collect(),
            configs: Arc::new(configs),
            manager: Mutex::new(manager),
            slots,
            call_rng: Mutex::new(rand::SeedableRng::seed_from_u64(seed.rotate_left(17))),
        }
    }

    /// Host names are re-resolved no sooner than `config.min_refresh`.
    pub fn with_dns_config(self, config: &DnsConfig, now: Instant) -> Self {
        let dns = self
            .dns
            .iter()
            .map(|d| {
                d.as_ref()
                    .map(|_| RwLock::new(dns::Resolution::new(now, config.min_refresh)))
            })
            .collect();
        Self { dns, ..self }
    }

    /// The addresses of trunk `i` for one call, best first: its proxy
    /// address, or what its host name resolves to now (the last good answer
    /// while lookups fail), in an order drawn for this call by the SRV
    /// priorities and weights (RFC 2782: weights share the calls, not only
    /// the lookups). Err: the name has no address (yet); calls skip the
    /// trunk.
    pub fn targets(&self, i: usize) -> Result<Vec<SocketAddr>, DnsError> {
        let Some(t) = self.configs.get(i) else {
            return Ok(Vec::new());
        };
        match (t.proxy.addr(), self.dns.get(i).and_then(Option::as_ref)) {
            (Some(a), _) => Ok(vec![a]),
            (None, Some(r)) => {
                let r = r.read();
                match (r.targets(), r.state()) {
                    ([], DnsState::Failed(e)) => Err(e),
                    ([], _) => Err(DnsError::Pending),
                    (targets, _) => Ok(match r.ranked() {
                        Some(ranked) => {
                            let mut rng = self.call_rng.lock();
                            dns::srv::order_ranked(ranked, &mut *rng)
                                .into_iter()
                                .map(|t| t.addr)
                                .collect()
                        }
                        None => targets.to_vec(),
                    }),
                }
            }
            (None, None) => Err(DnsError::Pending),
        }
    }

    /// The host-named trunk whose lookup is due first, and when.
    pub fn next_lookup(&self) -> Option<(usize, Instant)> {
        self.dns
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|r| (i, r.read().poll_timeout())))
            .min_by_key(|(_, t)| *t)
    }

    /// The outcome of trunk `i`'s lookup (from the resolver task): the new
    /// addresses for calls, inbound trust, REGISTERs and probes.
    pub fn handle_answer(&self, i: usize, now: Instant, answer: Result<dns::Answer, DnsError>) {
        let Some(Some(r)) = self.dns.get(i) else {
            return;
        };
        let targets = {
            let mut r = r.write();
            if !r.handle_answer(now, answer) {
                return;
            }
            r.targets().to_vec()
        };
        tracing::info!(trunk = %self.configs[i].name, ?targets, "trunk addresses");
        self.manager.lock().handle_targets(now, i, &targets);
    }

    /// Whether a response with this Call-ID belongs to the trunks'
    /// REGISTERs or probes (no lock; per-message path).
    pub fn owns(&self, call_id: &str) -> bool {
        !self.configs.is_empty()
            && (manager::is_probe(call_id) || self.reg_call_ids.iter().any(|c| c == call_id))
    }

    /// No trunks configured.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// The configurations.
    pub fn configs(&self) -> &Arc<Vec<TrunkConfig>> {
        &self.configs
    }

    /// The call slots.
    pub fn slots(&self) -> &Arc<Slots> {
        &self.slots
    }

    /// The registration agents and probes.
    pub fn manager(&self) -> &Mutex<TrunkManager> {
        &self.manager
    }

    /// The trunk whose carrier sends from `source` (trusted by source
    /// address): its proxy address exactly — for a host name, one of the
    /// addresses it resolves to now (IP and port) — or any port of
    /// `inbound_from`. Nothing else: no open relay.
    pub fn by_source(&self, source: SocketAddr) -> Option<usize> {
        let ip: IpAddr = source.ip();
        self.configs.iter().enumerate().position(|(i, t)| {
            let resolved = || {
                self.dns
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_some_and(|r| r.read().targets().contains(&source))
            };
            t.proxy.addr() == Some(source)
                || t.inbound_from.iter().any(|n| n.contains(&ip))
                || resolved()
        })
    }

    /// Health of trunk `i` allows routing to it.
    pub fn usable(&self, i: usize) -> bool {
        self.manager.lock().usable(i)
    }

    /// `pbx trunks` lines at `now`.
    pub fn lines(&self, now: Instant) -> Vec<TrunkLine> {
        self.manager
            .lock()
            .status(now)
            .into_iter()
            .enumerate()
            .map(|(i, status)| {
                let (targets, resolved_ago, dns) = self.dns_line(i, now);
                TrunkLine {
                    status,
                    calls: self.slots.used(i),
                    max_calls: self.configs[i].max_calls,
                    targets,
                    resolved_ago,
                    dns,
                }
            })
            .collect()
    }

    fn dns_line(&self, i: usize, now: Instant) -> (Vec<SocketAddr>, Option<u64>, String) {
        let Some(Some(r)) = self.dns.get(i) else {
            let targets = self.configs[i].proxy.addr().into_iter().collect();
            return (targets, None, "static".into());
        };
        let r = r.read();
        let ago = r
            .resolved_at()
            .map(|t| now.saturating_duration_since(t).as_secs());
        let state = match r.state() {
            DnsState::Resolving => "resolving".into(),
            DnsState::Resolved(_) => "resolved".into(),
            DnsState::Failed(e) => format!("dns failed: {e}"),
        };
        (r.targets().to_vec(), ago, state)
    }
}
