//! What "this server" means on the wire: its domain, aliases and listening
//! sockets (for Via, Record-Route and "is this Route mine?"), plus identifier
//! generation (branches, tags) and next-hop resolution of URIs.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sip_stack::message::{Header, HeaderName, Scheme, Uri};
use sip_stack::{Peer, Transport};

/// The server's own identity.
#[derive(Debug, Clone)]
pub struct Locals {
    /// Served domain.
    pub domain: String,
    /// Other names of this server.
    pub aliases: Vec<String>,
    /// Bound listeners (actual ports, after binding port 0).
    pub listeners: Vec<(Transport, SocketAddr)>,
}

impl Locals {
    /// Whether `host` names this server (domain, alias or a listening IP).
    pub fn is_local_host(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.eq_ignore_ascii_case(&self.domain)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(bare))
            || bare
                .parse::<IpAddr>()
                .is_ok_and(|ip| self.listeners.iter().any(|(_, a)| a.ip() == ip))
    }

    /// Whether a URI (Route, Request-URI) addresses this very server: a local host
    /// and one of our ports (the default port of its transport when absent).
    pub fn is_us(&self, uri: &Uri) -> bool {
        if !self.is_local_host(&uri.host) {
            return false;
        }
        let transport = uri_transport(uri);
        let port = uri.port.unwrap_or(transport.default_port());
        self.listeners.iter().any(|(_, a)| a.port() == port)
    }

    /// The listener used to send over `transport` (falls back to the first listener).
    pub fn sent_by(&self, transport: Transport) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(t, _)| *t == transport)
            .or_else(|| self.listeners.first())
            .map_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 5060)), |(_, a)| *a)
    }

    /// Whether a Via sent-by (host, port) is ours.
    pub fn is_our_sent_by(&self, host: &str, port: Option<u16>, transport: Transport) -> bool {
        let port = port.unwrap_or(transport.default_port());
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().is_ok_and(|ip| {
            self.listeners
                .iter()
                .any(|(_, a)| a.ip() == ip && a.port() == port)
        })
    }

    /// A Record-Route header for the interface of `transport` (RFC 3261 §16.6
    /// step 4), carrying `token` (see `SipCore::route_token`) in a `pbx` parameter.
    pub fn record_route(&self, transport: Transport, token: &str) -> Header {
        let a = self.sent_by(transport);
        let value = match transport {
            Transport::Udp => format!("<sip:{a};lr;pbx={token}>"),
            Transport::Tls => format!("<sips:{a};lr;pbx={token}>"),
            t => format!(
                "<sip:{a};transport={};lr;pbx={token}>",
                t.as_str().to_ascii_lowercase()
            ),
        };
        Header::new(HeaderName::RecordRoute, Bytes::from(value))
    }
}

/// The transport a URI asks for: `transport=` parameter, else TLS for `sips:`, else UDP.
pub fn uri_transport(uri: &Uri) -> Transport {
    uri.transport().unwrap_or(if uri.scheme == Scheme::Sips {
        Transport::Tls
    } else {
        Transport::Udp
    })
}

/// Resolves a URI to the next hop (RFC 3263 reduced to what needs no DNS: IP
/// literals and `localhost`). `None` when the host needs a DNS lookup.
pub fn resolve(uri: &Uri) -> Option<Peer> {
    let transport = uri_transport(uri);
    let bare = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if bare.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bare.parse().ok()?
    };
    let port = uri.port.unwrap_or(transport.default_port());
    Some(Peer {
        transport,
        addr: SocketAddr::new(ip, port),
        conn: None,
    })
}

/// Generates branches and tags: unique per process (random prefix from the driver
/// plus a counter), cheap, and free of any clock.
#[derive(Debug)]
pub struct IdGen {
    prefix: u32,
    counter: AtomicU64,
    hasher: ahash::RandomState,
}

impl IdGen {
    /// `seed` comes from the driver's RNG.
    pub fn new(seed: u64) -> Self {
        Self {
            prefix: (seed >> 32) as u32 ^ seed as u32,
            counter: AtomicU64::new(0),
            hasher: ahash::RandomState::with_seeds(
                seed,
                seed.rotate_left(17),
                0x5bd1_e995,
                0x27d4_eb2f,
            ),
        }
    }

    /// A To/From tag.
    pub fn tag(&self) -> String {
        format!(
            "{:08x}{:x}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A Via branch carrying a loop-detection hash (RFC 3261 §16.6 step 8).
    pub fn branch(&self, loop_hash: u64) -> String {
        format!(
            "z9hG4bK{:08x}{:x}.{:x}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed),
            loop_hash
        )
    }

    /// A deterministic branch for stateless forwarding (RFC 3261 §16.11): the same
    /// incoming branch always maps to the same outgoing one.
    pub fn stateless_branch(&self, incoming: &str) -> String {
        format!("z9hG4bK{:08x}s{:x}", self.prefix, self.hash(&incoming))
    }

    /// A keyed hash.
    pub fn hash<T: Hash + ?Sized>(&self, value: &T) -> u64 {
        self.hasher.hash_one(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locals() -> Locals {
        Locals {
            domain: "pbx.example.com".into(),
            aliases: vec!["alias.example.com".into()],
            listeners: vec![
                (Transport::Udp, "127.0.0.1:5060".parse().unwrap()),
                (Transport::Tcp, "127.0.0.1:5060".parse().unwrap()),
            ],
        }
    }

    #[test]
    fn recognises_itself() {
        let l = locals();
        assert!(l.is_local_host("pbx.example.com"));
        assert!(l.is_local_host("ALIAS.example.com"));
        assert!(l.is_local_host("127.0.0.1"));
        assert!(!l.is_local_host("127.0.0.2"));
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1;lr").unwrap()));
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1:5060;transport=tcp;lr").unwrap()));
        assert!(!l.is_us(&Uri::parse("sip:127.0.0.1:5090;lr").unwrap()));
        assert!(
            !l.is_us(&Uri::parse("sips:127.0.0.1;lr").unwrap()),
            "5061 is not bound"
        );
    }

    #[test]
    fn record_route_names_the_transport() {
        let l = locals();
        assert_eq!(
            l.record_route(Transport::Udp, "t1").value_str().unwrap(),
            "<sip:127.0.0.1:5060;lr;pbx=t1>"
        );
        assert_eq!(
            l.record_route(Transport::Tcp, "t1").value_str().unwrap(),
            "<sip:127.0.0.1:5060;transport=tcp;lr;pbx=t1>"
        );
    }

    #[test]
    fn resolves_ip_literals_only() {
        let p = resolve(&Uri::parse("sip:bob@192.0.2.7:5070;transport=tcp").unwrap()).unwrap();
        assert_eq!(
            (p.transport, p.addr),
            (Transport::Tcp, "192.0.2.7:5070".parse().unwrap())
        );
        let p = resolve(&Uri::parse("sips:bob@[::1]").unwrap()).unwrap();
        assert_eq!((p.transport, p.addr.port()), (Transport::Tls, 5061));
        assert!(resolve(&Uri::parse("sip:bob@example.com").unwrap()).is_none());
    }

    #[test]
    fn ids_are_unique() {
        let g = IdGen::new(42);
        assert_ne!(g.tag(), g.tag());
        let b = g.branch(7);
        assert!(b.starts_with("z9hG4bK") && b.ends_with(".7"));
        assert_eq!(
            g.stateless_branch("z9hG4bKx"),
            g.stateless_branch("z9hG4bKx")
        );
    }
}
