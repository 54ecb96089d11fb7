//! `[[trunks]]`: the TOML form and its validation. Errors carry the byte
//! offset of the offending value; `crate::config` turns it into
//! `file:line:column`.
//!
//! ```toml
//! [[trunks]]
//! name = "carrier"
//! proxy = "127.0.0.1:5070"        # IP:PORT, localhost:PORT, HOST or HOST:PORT (see below)
//! transport = "udp"               # udp | tcp
//! username = "acct"               # digest account (REGISTER and INVITE)
//! password = "secret"
//! realm = "carrier.example"       # informational (challenges of any realm are answered)
//! register = true                 # outbound REGISTER
//! register_expires_secs = 300
//! from_user = "acct"              # From user of REGISTER (default: username)
//! from_domain = "carrier.example" # From/To host (default: the proxy address)
//! caller_id = "+31201234500"      # presented caller id (default: the caller, normalised)
//! trusted = true                  # RFC 3325 trust domain: P-Asserted-Identity on private calls
//! max_calls = 10                  # concurrent calls (default: unlimited)
//! options_interval_secs = 30      # OPTIONS probes (0: off)
//! up_after = 1                    # answered probes to come back up
//! down_after = 2                  # failed probes to go down
//! setup_timeout_secs = 5          # no provisional response in time: next trunk
//! prefixes = ["+31", "+"]         # least-cost routing: numbers this trunk takes
//! priority = 10                   # lower first among equal prefixes
//! cost = 0.012                    # then cheaper first
//! outbound = { strip = 1, prefix = "", country_code = "31" }
//! inbound = { country_code = "31" }
//! dids = ["+31201234567", { number = "+31201234568", target = "1002" }]
//! inbound_from = ["192.0.2.0/24"] # more source addresses of the carrier's INVITEs
//!
//! [trunks_dns]                    # optional: how host-named proxies are resolved
//! servers = ["127.0.0.1:5353"]    # name servers (default: the system's /etc/resolv.conf)
//! min_refresh_secs = 30           # re-resolve no sooner than this, whatever the TTL
//! ```
//!
//! `proxy` forms (RFC 3263 §4.2; see [`super::dns`]):
//! - `IP:PORT` / `localhost:PORT`: used as written, no lookup.
//! - `HOST`: SRV `_sip._udp.HOST` (`_sip._tcp.HOST` for `transport = "tcp"`),
//!   targets by priority and weight (RFC 2782); without SRV records the
//!   A/AAAA records of `HOST`, port 5060.
//! - `HOST:PORT`: the A/AAAA records of `HOST` at `PORT` (an explicit port
//!   means no SRV, RFC 3263 §4.2).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use sip_stack::Transport;
use toml::Spanned;

use super::normalize::NumberRules;
use crate::dialplan::raw::RawError;

/// One DID (service number) of a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Did {
    /// The number after the trunk's inbound rules (e.g. `+31201234567`).
    pub number: String,
    /// The number the call is routed to through the dial plan (None: the
    /// DID itself, for a `[[dialplan]]` entry matching it).
    pub target: Option<String>,
}

/// Where a trunk's carrier is: an address, or a host name resolved
/// through DNS (RFC 3263 §4.2) by [`super::dns`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// An IP literal (or `localhost`): used as it is, never looked up.
    Addr(SocketAddr),
    /// A host name (lower case, no trailing dot).
    Host {
        /// The name.
        name: String,
        /// An explicit port: A/AAAA only; None: SRV first, then A/AAAA at 5060.
        port: Option<u16>,
    },
}

impl Proxy {
    /// The fixed address of an IP-literal proxy (None for a host name).
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Addr(a) => Some(*a),
            Self::Host { .. } => None,
        }
    }

    /// The host as written in URIs: the name, or the address's IP.
    pub fn host(&self) -> String {
        match self {
            Self::Addr(a) => super::uri_host(a.ip()),
            Self::Host { name, .. } => name.clone(),
        }
    }
}

impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Host { name, port: None } => f.write_str(name),
            Self::Host {
                name,
                port: Some(p),
            } => write!(f, "{name}:{p}"),
        }
    }
}

/// A validated trunk.
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkConfig {
    /// Unique name (dial plan `trunk = "…"`).
    pub name: String,
    /// The carrier's SIP address or host name (requests go there; its
    /// requests come from there, or from what the name resolves to).
    pub proxy: Proxy,
    /// Transport to the carrier.
    pub transport: Transport,
    /// Digest username.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// Digest realm (informational).
    pub realm: Option<String>,
    /// Whether pbx registers with the carrier.
    pub register: bool,
    /// Requested registration lifetime.
    pub register_expires: u32,
    /// From user of REGISTER.
    pub from_user: Option<String>,
    /// Host of From/To/AOR (default: the proxy address).
    pub from_domain: Option<String>,
    /// Fixed caller id presented on outbound calls.
    pub caller_id: Option<String>,
    /// Inside pbx's trust domain (RFC 3325 §2.3): calls with privacy carry
    /// the caller's identity in `P-Asserted-Identity` to this trunk.
    pub trusted: bool,
    /// Concurrent calls allowed (None: unlimited).
    pub max_calls: Option<u32>,
    /// OPTIONS probe period (None: no probing).
    pub options_interval: Option<Duration>,
    /// Answered probes to come back up.
    pub up_after: u32,
    /// Failed probes to go down.
    pub down_after: u32,
    /// An outbound INVITE without provisional response by then fails over.
    pub setup_timeout: Duration,
    /// Number prefixes this trunk takes in least-cost routing.
    pub prefixes: Vec<String>,
    /// Lower first among trunks with equally long matching prefixes.
    pub priority: u32,
    /// Cheaper first among equal priorities.
    pub cost: f64,
    /// Rules for numbers we send.
    pub outbound: NumberRules,
    /// Rules for numbers we receive.
    pub inbound: NumberRules,
    /// Service numbers routed in from this trunk.
    pub dids: Vec<Did>,
    /// Other sources of the carrier's INVITEs (any port); the proxy address
    /// itself (IP and port) always counts.
    pub inbound_from: Vec<ipnet::IpNet>,
}

impl TrunkConfig {
    /// The host of From/To/AOR: `from_domain`, else the proxy's host name
    /// or IP.
    pub fn domain(&self) -> String {
        self.from_domain
            .clone()
            .unwrap_or_else(|| self.proxy.host())
    }
}

/// `[[trunks]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrunk {
    name: Spanned<String>,
    proxy: Spanned<String>,
    transport: Option<Spanned<String>>,
    username: Option<String>,
    password: Option<String>,
    realm: Option<String>,
    #[serde(default)]
    register: Option<Spanned<bool>>,
    register_expires_secs: Option<Spanned<u32>>,
    from_user: Option<String>,
    from_domain: Option<String>,
    caller_id: Option<String>,
    trusted: Option<bool>,
    max_calls: Option<Spanned<u32>>,
    options_interval_secs: Option<u64>,
    up_after: Option<u32>,
    down_after: Option<u32>,
    setup_timeout_secs: Option<Spanned<u64>>,
    #[serde(default)]
    prefixes: Vec<String>,
    priority: Option<u32>,
    cost: Option<Spanned<f64>>,
    outbound: Option<RawRules>,
    inbound: Option<RawRules>,
    #[serde(default)]
    dids: Vec<Spanned<RawDid>>,
    #[serde(default)]
    inbound_from: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    strip: Option<usize>,
    prefix: Option<String>,
    country_code: Option<Spanned<String>>,
    national_prefix: Option<String>,
    international_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDid {
    Number(String),
    Mapped { number: String, target: String },
}

fn at<T>(s: &Spanned<T>, message: impl Into<String>) -> RawError {
    RawError {
        offset: s.span().start,
        message: message.into(),
    }
}

/// Validates the trunks (file order kept).
pub fn build(raw: &[RawTrunk]) -> Result<Vec<TrunkConfig>, RawError> {
    let mut out: Vec<TrunkConfig> = Vec::new();
    for r in raw {
        let t = build_trunk(r)?;
        if out.iter().any(|o| o.name == t.name) {
            return Err(at(&r.name, format!("trunk `{}` is declared twice", t.name)));
        }
        for (d, raw_did) in t.dids.iter().zip(&r.dids) {
            if let Some(o) = out
                .iter()
                .find(|o| o.dids.iter().any(|x| x.number == d.number))
            {
                return Err(at(
                    raw_did,
                    format!("DID {} belongs to trunk `{}` already", d.number, o.name),
                ));
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// With trunks configured, every dial plan trunk target must name one of
/// them (or `lcr`). Without any, trunk routes validate as before and are
/// refused at run time. `text` is the file (entries keep no spans: the error
/// points at the value where it is written).
pub fn check_routes(
    dialplan: &crate::dialplan::Dialplan,
    trunks: &[TrunkConfig],
    text: &str,
) -> Result<(), RawError> {
    if trunks.is_empty() {
        return Ok(());
    }
    for e in &dialplan.entries {
        let crate::dialplan::Target::Trunk { trunk, .. } = &e.target else {
            continue;
        };
        if trunk == super::lcr::LCR || trunks.iter().any(|t| &t.name == trunk) {
            continue;
        }
        let offset = regex::Regex::new(&format!(r#"trunk\s*=\s*"{}""#, regex::escape(trunk)))
            .ok()
            .and_then(|re| re.find(text))
            .map_or(0, |m| m.start());
        let names: Vec<&str> = trunks.iter().map(|t| t.name.as_str()).collect();
        return Err(RawError {
            offset,
            message: format!(
                "dial plan trunk `{trunk}` is not a configured trunk (use \"lcr\" or one of: {})",
                names.join(", ")
            ),
        });
    }
    Ok(())
}

fn parse_proxy(s: &Spanned<String>) -> Result<Proxy, RawError> {
    let text = s.get_ref().trim();
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(Proxy::Addr(a));
    }
    let bad = |why: &str| {
        at(
            s,
            format!("trunk proxy `{text}`: {why} (write IP:PORT, HOST or HOST:PORT)"),
        )
    };
    if text.parse::<IpAddr>().is_ok() || text.starts_with('[') {
        return Err(bad("an IP address needs a port"));
    }
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port must be a number in 1..=65535"))?;
            (name, Some(port))
        }
        None => (text, None),
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" {
        return match port {
            Some(port) => Ok(Proxy::Addr(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            ))),
            None => Err(bad("localhost needs a port")),
        };
    }
    if !is_host_name(&name) {
        return Err(bad("not a host name"));
    }
    Ok(Proxy::Host { name, port })
}

/// RFC 1123 §2.1 host name: dot-separated labels of letters, digits and
/// inner hyphens, each 1..=63 long, 253 in all (underscores allowed for
/// the service-style names some carriers use).
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

fn rules(r: Option<&RawRules>) -> Result<NumberRules, RawError> {
    let mut n = NumberRules::identity();
    let Some(r) = r else { return Ok(n) };
    n.strip = r.strip.unwrap_or(0);
    n.prefix = r.prefix.clone().unwrap_or_default();
    if let Some(cc) = &r.country_code {
        let digits = cc.get_ref().trim_start_matches('+');
        if digits.is_empty() || digits.len() > 3 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(at(cc, "country_code must be 1 to 3 digits (e.g. \"31\")"));
        }
        n.country_code = Some(digits.to_owned());
    }
    if let Some(p) = &r.national_prefix {
        n.national_prefix.clone_from(p);
    }
    if let Some(p) = &r.international_prefix {
        n.international_prefix.clone_from(p);
    }
    Ok(n)
}

fn build_trunk(r: &RawTrunk) -> Result<TrunkConfig, RawError> {
    let name = r.name.get_ref().trim();
    if name.is_empty() || name == "lcr" || name.contains(char::is_whitespace) {
        return Err(at(
            &r.name,
            "trunk name must be a non-empty word other than `lcr` (the dial plan's least-cost route)",
        ));
    }
    let proxy = parse_proxy(&r.proxy)?;
    let transport = match r.transport.as_ref().map(|t| t.get_ref().as_str()) {
        None | Some("udp") => Transport::Udp,
        Some("tcp") => Transport::Tcp,
        Some(other) => {
            let t = r.transport.as_ref().map_or(&r.name, |t| t);
            return Err(at(
                t,
                format!("trunk transport `{other}`: use \"udp\" or \"tcp\""),
            ));
        }
    };
    let register = r.register.as_ref().is_some_and(|b| *b.get_ref());
    if let Some(b) = r.register.as_ref().filter(|b| *b.get_ref()) {
        if r.username.is_none() || r.password.is_none() {
            return Err(at(b, "register = true needs `username` and `password`"));
        }
    }
    let register_expires = match &r.register_expires_secs {
        None => 3600,
        Some(e) if *e.get_ref() >= 10 => *e.get_ref(),
        Some(e) => return Err(at(e, "register_expires_secs must be at least 10")),
    };
    if let Some(m) = r.max_calls.as_ref().filter(|m| *m.get_ref() == 0) {
        return Err(at(
            m,
            "max_calls must be at least 1 (leave it out for no limit)",
        ));
    }
    let setup_timeout = match &r.setup_timeout_secs {
        None => Duration::from_secs(5),
        Some(s) if (1..=120).contains(s.get_ref()) => Duration::from_secs(*s.get_ref()),
        Some(s) => return Err(at(s, "setup_timeout_secs must lie within [1, 120]")),
    };
    let cost = match &r.cost {
        None => 0.0,
        Some(c) if c.get_ref().is_finite() && *c.get_ref() >= 0.0 => *c.get_ref(),
        Some(c) => return Err(at(c, "cost must be a number >= 0")),
    };
    let inbound = rules(r.inbound.as_ref())?;
    let mut dids = Vec::new();
    for d in &r.dids {
        let (number, target) = match d.get_ref() {
            RawDid::Number(n) => (n, None),
            RawDid::Mapped { number, target } => (number, Some(target.clone())),
        };
        if number.is_empty() || target.as_ref().is_some_and(String::is_empty) {
            return Err(at(d, "a DID needs a number (and a non-empty target)"));
        }
        dids.push(Did {
            number: inbound.apply(number),
            target,
        });
    }
    let mut inbound_from = Vec::new();
    for f in &r.inbound_from {
        let text = f.get_ref();
        let net = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| at(f, format!("`{text}` is neither an address nor a CIDR")))?;
        inbound_from.push(net);
    }
    Ok(TrunkConfig {
        inbound_from,
        name: name.to_owned(),
        proxy,
        transport,
        username: r.username.clone(),
        password: r.password.clone(),
        realm: r.realm.clone(),
        register,
        register_expires,
        from_user: r.from_user.clone(),
        from_domain: r.from_domain.clone(),
        caller_id: r.caller_id.clone(),
        trusted: r.trusted.unwrap_or(false),
        max_calls: r.max_calls.as_ref().map(|m| *m.get_ref()),
        options_interval: r
            .options_interval_secs
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        up_after: r.up_after.unwrap_or(1),
        down_after: r.down_after.unwrap_or(2),
        setup_timeout,
        prefixes: r.prefixes.clone(),
        priority: r.priority.unwrap_or(0),
        cost,
        outbound: rules(r.outbound.as_ref())?,
        inbound,
        dids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spanned(text: &str) -> Spanned<String> {
        #[derive(Deserialize)]
        struct P {
            proxy: Spanned<String>,
        }
        let doc = format!("proxy = {}", toml::Value::String(text.to_owned()));
        toml::from_str::<P>(&doc).expect("a TOML string").proxy
    }

    proptest! {
        #[test]
        fn any_proxy_text_parses_or_is_a_positioned_error(text in any::<String>()) {
            match parse_proxy(&spanned(&text)) {
                Ok(p) => prop_assert!(!p.to_string().is_empty()),
                Err(e) => prop_assert_eq!(e.offset, 8, "points at the value"),
            }
        }

        #[test]
        fn host_names_print_and_parse_back(
            labels in proptest::collection::vec("[a-z][a-z0-9-]{0,8}[a-z0-9]", 1..4),
            port in proptest::option::of(1u16..),
        ) {
            let p = Proxy::Host { name: format!("{}.example", labels.join(".")), port };
            prop_assert_eq!(parse_proxy(&spanned(&p.to_string())), Ok(p));
        }
    }
}
