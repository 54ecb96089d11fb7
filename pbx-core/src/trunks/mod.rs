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
//!
//! Outbound calls run the [`crate::b2bua::trunk_route::TrunkRoute`]
//! application (sequential failover over the candidates); inbound INVITEs
//! from a trunk's address to one of its DIDs are admitted without a
//! challenge (trunks are trusted by source address) and routed to the DID's
//! target by [`crate::sip::CoreRouter`].

pub mod config;
pub mod health;
pub mod lcr;
pub mod manager;
pub mod normalize;
pub mod slots;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use sip_stack::Transport;

pub use config::{Did, TrunkConfig};
pub use manager::{TrunkManager, TrunkStatus};
pub use slots::{CallSlot, Slots};

/// The trunks of a running server: configuration, live state, call slots.
#[derive(Debug)]
pub struct Trunks {
    configs: Arc<Vec<TrunkConfig>>,
    manager: Mutex<TrunkManager>,
    slots: Arc<Slots>,
    /// The registration agents' Call-IDs (fixed for their lifetime): the
    /// SIP core asks [`Trunks::owns`] for every response without a lock.
    reg_call_ids: Vec<String>,
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
        Self {
            reg_call_ids: manager.registration_call_ids(),
            configs: Arc::new(configs),
            manager: Mutex::new(manager),
            slots,
        }
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
    /// address): its proxy address exactly, or any port of `inbound_from`.
    pub fn by_source(&self, source: SocketAddr) -> Option<usize> {
        let ip: IpAddr = source.ip();
        self.configs
            .iter()
            .position(|t| t.addr == source || t.inbound_from.iter().any(|n| n.contains(&ip)))
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
            .map(|(i, status)| TrunkLine {
                status,
                calls: self.slots.used(i),
                max_calls: self.configs[i].max_calls,
            })
            .collect()
    }
}
