//! Trunk host names through DNS: the part of RFC 3263 §4.2 every SIP server
//! implements.
//!
//! - `proxy = "HOST"`: SRV `_sip._udp.HOST` (`_sip._tcp` for TCP trunks,
//!   `_sips._tcp` for TLS), targets by priority and weight ([`srv`],
//!   RFC 2782), each target's A/AAAA records; no SRV records: the A/AAAA
//!   records of HOST at port 5060.
//! - `proxy = "HOST:PORT"`: A/AAAA only (an explicit port means no SRV).
//! - IP literals are never looked up.
//! - NAPTR (RFC 3263 §4.1, choosing the transport) is left out: the
//!   trunk's `transport` says which SRV service to ask for.
//!
//! Lookups happen off the SIP path: [`lookup::spawn`] runs one tokio task
//! (hickory-resolver, reading `/etc/resolv.conf` unless `[trunks_dns]
//! servers` names the servers) that resolves every host-named trunk at start
//! and again when the answer's TTL runs out ([`resolution`]: at least
//! `min_refresh_secs`, at most an hour; failures are retried with backoff
//! and keep the last good addresses). The SIP path only reads the current
//! list ([`crate::trunks::Trunks::targets`]): outbound INVITEs try the
//! targets in order (a 5xx, 408, timeout or transport failure moves on to
//! the next target, then to the next trunk in LCR order); inbound INVITEs
//! are trusted from exactly the addresses (IP and port) the name resolves
//! to now, besides `inbound_from`. The Request-URI of an outbound INVITE
//! carries the target's address as for IP trunks; From / To carry the host
//! name (or `from_domain`).

pub mod lookup;
pub mod resolution;
pub mod srv;
#[cfg(any(test, feature = "dns-test-server"))]
pub mod test_server;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use sip_stack::Transport;
use toml::Spanned;

use crate::dialplan::raw::RawError;
pub use resolution::{Answer, DnsState, Resolution};

/// Why a trunk's host name gives no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// Not looked up yet (the first lookup runs at start).
    #[error("not resolved yet")]
    Pending,
    /// Neither SRV nor A/AAAA records exist for the name.
    #[error("no records for {name}")]
    NoRecords {
        /// The name asked for.
        name: String,
    },
    /// A single SRV record with target `.`: "decidedly not available"
    /// (RFC 2782).
    #[error("{name}: service not available (SRV target \".\")")]
    NotAvailable {
        /// The SRV name.
        name: String,
    },
    /// Records were found but no target has an address.
    #[error("no address for any target")]
    NoAddresses,
    /// The lookup failed (timeout, SERVFAIL, refused, ...).
    #[error("{name}: {reason}")]
    Lookup {
        /// The name asked for.
        name: String,
        /// The resolver's account of it.
        reason: String,
    },
    /// The resolver could not be set up (e.g. unreadable resolv.conf).
    #[error("resolver: {0}")]
    Resolver(String),
}

/// `[trunks_dns]`: how trunk host names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Name servers (UDP, with TCP for truncated answers); empty: the
    /// system's (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// An answer is not re-resolved sooner than this, whatever its TTL.
    pub min_refresh: Duration,
    /// Time to wait for one name server's answer.
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            min_refresh: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
        }
    }
}

/// `[trunks_dns]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnsConfig {
    #[serde(default)]
    servers: Vec<Spanned<String>>,
    min_refresh_secs: Option<Spanned<u64>>,
    timeout_ms: Option<Spanned<u64>>,
}

/// Validates `[trunks_dns]`; errors carry the value's byte offset.
pub fn build_config(raw: &RawDnsConfig) -> Result<DnsConfig, RawError> {
    let at = |offset: usize, message: String| RawError { offset, message };
    let mut c = DnsConfig::default();
    for s in &raw.servers {
        let text = s.get_ref().trim();
        let addr = text
            .parse::<SocketAddr>()
            .or_else(|_| {
                text.parse::<std::net::IpAddr>()
                    .map(|ip| SocketAddr::new(ip, 53))
            })
            .map_err(|_| {
                at(
                    s.span().start,
                    format!("trunks_dns server `{text}`: write IP or IP:PORT"),
                )
            })?;
        c.servers.push(addr);
    }
    if let Some(m) = &raw.min_refresh_secs {
        if !(1..=3600).contains(m.get_ref()) {
            return Err(at(
                m.span().start,
                "min_refresh_secs must lie within [1, 3600]".into(),
            ));
        }
        c.min_refresh = Duration::from_secs(*m.get_ref());
    }
    if let Some(t) = &raw.timeout_ms {
        if !(50..=30_000).contains(t.get_ref()) {
            return Err(at(
                t.span().start,
                "timeout_ms must lie within [50, 30000]".into(),
            ));
        }
        c.timeout = Duration::from_millis(*t.get_ref());
    }
    Ok(c)
}

/// The SRV service prefix for a trunk's transport (RFC 3263 §4.1 table):
/// `_sip._udp`, `_sip._tcp`, `_sips._tcp`.
pub fn srv_service(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp | Transport::Ws => "_sip._tcp",
        Transport::Tls | Transport::Wss => "_sips._tcp",
    }
}
