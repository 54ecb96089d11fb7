//! The resolver task: hickory-resolver lookups of the trunks' host names
//! (RFC 3263 §4.2) and the loop that keeps them fresh. The only module of
//! [`super`] that does I/O or reads the clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sip_stack::Transport;

use super::resolution::{Answer, MAX_REFRESH};
use super::srv::{self, SrvRecord};
use super::{srv_service, DnsConfig, DnsError};
use crate::trunks::config::Proxy;
use crate::trunks::Trunks;

/// The port of a host name without SRV records (RFC 3263 §4.2: 5060 for
/// UDP and TCP, 5061 for TLS).
fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Tls | Transport::Wss => 5061,
        _ => 5060,
    }
}

/// A resolver asking `config.servers` (UDP, TCP on truncation), or the
/// system's name servers when none are given.
pub fn resolver(config: &DnsConfig) -> Result<TokioResolver, DnsError> {
    let mut builder = if config.servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| DnsError::Resolver(e.to_string()))?
    } else {
        let mut rc = ResolverConfig::new();
        for s in &config.servers {
            rc.add_name_server(NameServerConfig::new(*s, Protocol::Udp));
            rc.add_name_server(NameServerConfig::new(*s, Protocol::Tcp));
        }
        TokioResolver::builder_with_config(rc, TokioConnectionProvider::default())
            .with_options(ResolverOpts::default())
    };
    let opts = builder.options_mut();
    opts.timeout = config.timeout;
    opts.attempts = 2;
    // The task refreshes by TTL itself; a cache would only answer the
    // refresh with the record it is meant to replace.
    opts.cache_size = 0;
    Ok(builder.build())
}

fn lookup_error(name: &str, e: &ResolveError) -> DnsError {
    if e.is_no_records_found() || e.is_nx_domain() {
        DnsError::NoRecords { name: name.into() }
    } else {
        DnsError::Lookup {
            name: name.into(),
            reason: e.to_string(),
        }
    }
}

/// Absolute form of a configured name, so no search domain is appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// The A/AAAA addresses of `host` at `port`, and their TTL.
async fn addresses(
    resolver: &TokioResolver,
    host: &str,
    port: u16,
) -> Result<(Vec<SocketAddr>, Duration), DnsError> {
    let ips = resolver
        .lookup_ip(fqdn(host))
        .await
        .map_err(|e| lookup_error(host, &e))?;
    let ttl = ips.valid_until().saturating_duration_since(Instant::now());
    let addrs = ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
    Ok((addrs, ttl))
}

/// Resolves a trunk's proxy (RFC 3263 §4.2): the targets in the order to try.
pub async fn resolve(
    resolver: &TokioResolver,
    proxy: &Proxy,
    transport: Transport,
    rng: &mut StdRng,
) -> Result<Answer, DnsError> {
    let (name, port) = match proxy {
        Proxy::Addr(a) => {
            return Ok(Answer {
                targets: vec![*a],
                ranks: vec![(0, 0)],
                ttl: MAX_REFRESH,
            })
        }
        Proxy::Host { name, port } => (name, *port),
    };
    if let Some(port) = port {
        let (targets, ttl) = addresses(resolver, name, port).await?;
        return Ok(unranked(targets, ttl));
    }
    let srv_name = format!("{}.{name}", srv_service(transport));
    let (records, srv_ttl): (Vec<SrvRecord>, Duration) =
        match resolver.srv_lookup(fqdn(&srv_name)).await {
            Ok(found) => (
                found
                    .iter()
                    .map(|r| SrvRecord {
                        priority: r.priority(),
                        weight: r.weight(),
                        port: r.port(),
                        target: r.target().to_ascii().trim_end_matches('.').to_owned(),
                    })
                    .collect(),
                found
                    .as_lookup()
                    .valid_until()
                    .saturating_duration_since(Instant::now()),
            ),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => (Vec::new(), MAX_REFRESH),
            Err(e) => return Err(lookup_error(&srv_name, &e)),
        };
    if records.is_empty() {
        let (targets, ttl) = addresses(resolver, name, default_port(transport)).await?;
        return Ok(unranked(targets, ttl));
    }
    if srv::not_available(&records) {
        return Err(DnsError::NotAvailable { name: srv_name });
    }
    let mut targets: Vec<SocketAddr> = Vec::new();
    let mut ranks = Vec::new();
    let mut ttl = srv_ttl;
    let mut last_error = None;
    for r in srv::order(records, rng) {
        match addresses(resolver, &r.target, r.port).await {
            Ok((addrs, t)) => {
                ttl = ttl.min(t);
                for a in addrs {
                    if !targets.contains(&a) {
                        targets.push(a);
                        ranks.push((r.priority, r.weight));
                    }
                }
            }
            Err(e) => {
                tracing::debug!(target = %r.target, error = %e, "SRV target without address");
                last_error = Some(e);
            }
        }
    }
    match (targets.is_empty(), last_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(Answer {
            targets,
            ranks,
            ttl,
        }),
    }
}

/// An answer without SRV: every address ranks alike (the A/AAAA order).
fn unranked(targets: Vec<SocketAddr>, ttl: Duration) -> Answer {
    Answer {
        ranks: vec![(0, 0); targets.len()],
        targets,
        ttl,
    }
}

/// Runs the resolver task: every host-named trunk of the [`Trunks`] that
/// `trunks(&holder)` returns is resolved when due and the answer handed to
/// [`Trunks::handle_answer`]. Ends at once when there is none; aborted with
/// the server's other tasks.
pub fn spawn<H, F>(
    holder: std::sync::Arc<H>,
    trunks: F,
    config: DnsConfig,
    seed: u64,
) -> tokio::task::JoinHandle<()>
where
    H: Send + Sync + 'static,
    F: Fn(&H) -> Option<&Trunks> + Send + 'static,
{
    tokio::spawn(async move {
        let Some(first) = trunks(&holder) else { return };
        if first.next_lookup().is_none() {
            return;
        }
        let resolver = resolver(&config);
        if let Err(e) = &resolver {
            tracing::error!(error = %e, "trunk host names cannot be resolved");
        }
        let mut rng = StdRng::seed_from_u64(seed);
        loop {
            let Some(t) = trunks(&holder) else { return };
            let Some((i, due)) = t.next_lookup() else {
                return;
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let Some(t) = trunks(&holder) else { return };
            let cfg = &t.configs()[i];
            let answer = match &resolver {
                Ok(r) => resolve(r, &cfg.proxy, cfg.transport, &mut rng).await,
                Err(e) => Err(e.clone()),
            };
            match &answer {
                Ok(a) => {
                    tracing::debug!(trunk = %cfg.name, proxy = %cfg.proxy, targets = ?a.targets, ttl = ?a.ttl, "trunk resolved")
                }
                Err(e) => {
                    tracing::warn!(trunk = %cfg.name, proxy = %cfg.proxy, error = %e, "trunk host name does not resolve; retrying")
                }
            }
            t.handle_answer(i, Instant::now(), answer);
        }
    })
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
