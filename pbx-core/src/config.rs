//! The `pbx` configuration file (TOML): listeners, domain, auth, registrar limits,
//! trusted peers, rate limits, store and users.
//!
//! Every error, syntactic or semantic, names `file:line:column` so an admin can jump
//! straight to it (`pbx check --config FILE`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use sip_stack::Transport;
use toml::Spanned;

mod ivr_section;
pub use ivr_section::IvrConfig;
use ivr_section::{build_ivr, FlowCheck, RawIvr};

/// The configuration a newcomer gets with no `--config`: demo extensions on 127.0.0.1.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../fixtures/pbx.toml");

/// A configuration error with its position in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file (or `<embedded>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Transport.
    pub transport: Transport,
    /// Address to bind.
    pub addr: SocketAddr,
    /// TLS certificate and key (PEM), for `tls` listeners.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Digest algorithms offered in challenges (RFC 8760), in order of preference.
pub use sip_stack::auth::digest::DigestAlgorithm;

/// A configured user (extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// The user part of the AOR and the digest username.
    pub name: String,
    /// Plain password (hashed to HA1 at load time).
    pub password: String,
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The domain served (AORs are `sip:user@domain`).
    pub domain: String,
    /// Other host names/addresses that mean "this server" in Request-URIs.
    pub aliases: Vec<String>,
    /// Listeners.
    pub listen: Vec<Listen>,
    /// Where the SQLite store lives.
    pub data_dir: PathBuf,
    /// UDP receive threads per socket (0 = one per CPU; default 1: measured best on
    /// 2 cores, where a second thread on the same socket adds context switches).
    pub udp_threads: usize,
    /// How long finished transactions absorb retransmissions (Timers J, L, M).
    pub transaction_linger: Duration,
    /// Digest realm.
    pub realm: String,
    /// Algorithms offered, preferred first.
    pub algorithms: Vec<DigestAlgorithm>,
    /// How long a nonce is accepted before the client gets `stale=true`.
    pub nonce_ttl: Duration,
    /// Whether REGISTER is challenged (always true in production; the no-auth benchmark turns it off).
    pub register_auth: bool,
    /// Registrar limits (RFC 3261 §10.3 step 7, 423 Interval Too Brief).
    pub min_expires: u32,
    /// Upper limit of a binding's lifetime.
    pub max_expires: u32,
    /// Lifetime when the UA asks for none.
    pub default_expires: u32,
    /// Max contacts per AOR.
    pub max_contacts: usize,
    /// Peers whose requests other than REGISTER are not challenged.
    pub trusted: Vec<IpNet>,
    /// Failed authentications from one source within `ban_window` before a ban.
    pub ban_threshold: u32,
    /// Window over which failures are counted.
    pub ban_window: Duration,
    /// How long a banned source is ignored.
    pub ban_time: Duration,
    /// Prometheus `/metrics` listener (None: disabled).
    pub metrics_listen: Option<SocketAddr>,
    /// Media anchoring (`[media]`).
    pub media: crate::proxy::AnchorConfig,
    /// pbx's own media endpoints (`[media]` `endpoint_port_min/max`; bound
    /// on `media.address`).
    pub endpoints: media::endpoint::EndpointConfig,
    /// Where recordings go (`media.recordings_dir`, default
    /// `<data_dir>/recordings`).
    pub recordings_dir: PathBuf,
    /// Where the prompts of pbx's applications are
    /// (`media.prompts_dir`, default `fixtures/prompts`).
    pub prompts_dir: PathBuf,
    /// Users from the file (the store may hold more).
    pub users: Vec<UserConfig>,
    /// The call engine (`[calls]`).
    pub calls: CallsConfig,
    /// The dial plan (`[[dialplan]]`).
    pub dialplan: crate::dialplan::Dialplan,
    /// SIP trunks (`[[trunks]]`, used by the B2BUA).
    pub trunks: Vec<crate::trunks::TrunkConfig>,
    /// IVR flows (`[ivr]`).
    pub ivr: IvrConfig,
    /// Where the config came from.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    registrar: RawRegistrar,
    #[serde(default)]
    security: RawSecurity,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    media: RawMedia,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    calls: RawCalls,
    #[serde(default)]
    dialplan: Vec<crate::dialplan::raw::RawEntry>,
    #[serde(default)]
    trunks: Vec<crate::trunks::config::RawTrunk>,
    #[serde(default)]
    ivr: RawIvr,
}

/// Which component handles calls between local users (`calls.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallEngine {
    /// The stateful proxy: pbx stays out of the dialogs (fastest).
    #[default]
    Proxy,
    /// The B2BUA: pbx answers every call and places its own legs.
    B2bua,
}

/// `[calls]`: the call engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsConfig {
    /// Proxy or B2BUA.
    pub engine: CallEngine,
    /// How long the callee may ring before the call ends with NO ANSWER.
    pub ring_timeout: Duration,
    /// Session timers (RFC 4028) on every leg: the interval pbx asks for
    /// and grants (`None`: only when a party asks). A call whose party stops
    /// refreshing is hung up after one interval.
    pub session_expires: Option<Duration>,
    /// Music on hold (`calls.music_on_hold`, B2BUA engine): the WAV (8 kHz
    /// mono) a held party hears while the other holds. `None` (the key set
    /// to `""`, or the default file missing): holds pass through. Default:
    /// `moh.wav` in `media.prompts_dir`.
    pub music_on_hold: Option<PathBuf>,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            engine: CallEngine::Proxy,
            ring_timeout: Duration::from_secs(60),
            session_expires: Some(Duration::from_secs(1800)),
            music_on_hold: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCalls {
    engine: Option<Spanned<String>>,
    ring_timeout_secs: Option<u64>,
    session_expires_secs: Option<Spanned<u64>>,
    utc_offset_minutes: Option<Spanned<i32>>,
    music_on_hold: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    anchor: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    port_min: Option<u16>,
    port_max: Option<Spanned<u16>>,
    threads: Option<usize>,
    inactivity_timeout_secs: Option<u64>,
    endpoint_port_min: Option<u16>,
    endpoint_port_max: Option<Spanned<u16>>,
    recordings_dir: Option<String>,
    prompts_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    domain: Option<Spanned<String>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    listen: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    tls: Vec<RawTls>,
    data_dir: Option<Spanned<String>>,
    udp_threads: Option<usize>,
    transaction_linger_secs: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    listen: Spanned<String>,
    cert: Spanned<String>,
    key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    realm: Option<String>,
    algorithms: Option<Vec<Spanned<String>>>,
    nonce_ttl_secs: Option<Spanned<u64>>,
    register: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    min_expires: Option<u32>,
    max_expires: Option<Spanned<u32>>,
    default_expires: Option<Spanned<u32>>,
    max_contacts: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    #[serde(default)]
    trusted: Vec<Spanned<String>>,
    ban_threshold: Option<u32>,
    ban_window_secs: Option<u64>,
    ban_time_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    password: String,
}

struct Positioner<'a> {
    file: &'a str,
    text: &'a str,
}

impl Positioner<'_> {
    fn error(&self, offset: usize, message: impl fmt::Display) -> ConfigError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.to_string(),
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, message: impl fmt::Display) -> ConfigError {
        self.error(spanned.span().start, message)
    }
}

impl Config {
    /// Loads and validates a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base, FlowCheck::Strict)
    }

    /// Loads and validates a file like [`Config::from_file`] except the IVR
    /// flows that `type = "ivr"` routes name: for admin commands talking to
    /// a running server (`pbx reload`), which must work while a flow file
    /// is being fixed.
    pub fn from_file_for_admin(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base, FlowCheck::Skip)
    }

    /// The embedded default configuration. Its relative paths (`[ivr]
    /// flows_dir`) mean the source tree's `fixtures/`; where that is gone
    /// (an installed binary) IVR routes are refused at call time instead.
    pub fn embedded() -> Self {
        let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"));
        Self::parse(
            EMBEDDED_DEFAULT,
            "<embedded fixtures/pbx.toml>",
            fixtures,
            FlowCheck::MissingDirOk,
        )
        .expect("the embedded default config is validated by a unit test")
    }

    /// Parses and validates `text`; `file` names it in errors; relative
    /// paths are relative to the current directory.
    pub fn from_str_named(text: &str, file: &str) -> Result<Self, ConfigError> {
        Self::parse(text, file, Path::new("."), FlowCheck::Strict)
    }

    fn parse(text: &str, file: &str, base: &Path, check: FlowCheck) -> Result<Self, ConfigError> {
        let pos = Positioner { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            pos.error(offset, e.message().trim_end())
        })?;
        let ivr = build_ivr(&raw, &pos, base, check)?;
        let mut config = build(raw, &pos)?;
        config.ivr = ivr;
        Ok(config)
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("pbx.sqlite")
    }

    /// Whether `host` (a Request-URI or To host) names this server.
    pub fn is_local_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case(&self.domain)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(host))
            || self.listen.iter().any(|l| l.addr.ip().to_string() == host)
    }
}

/// The default data directory: `$PBX_DATA_DIR`, else `$XDG_DATA_HOME/pbx`, else `~/.local/share/pbx`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PBX_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("pbx");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/pbx"),
        None => PathBuf::from("pbx-data"),
    }
}

fn parse_listen(spec: &Spanned<String>, pos: &Positioner<'_>) -> Result<Listen, ConfigError> {
    let text = spec.get_ref();
    let (proto, addr) = text.split_once(':').ok_or_else(|| {
        pos.at(
            spec,
            format!("listen entry `{text}`: expected `udp:IP:PORT` or `tcp:IP:PORT`"),
        )
    })?;
    let transport: Transport = proto.parse().map_err(|_| {
        pos.at(
            spec,
            format!("unknown transport `{proto}` (use udp or tcp; tls goes in [[server.tls]])"),
        )
    })?;
    if !matches!(transport, Transport::Udp | Transport::Tcp) {
        return Err(pos.at(
            spec,
            format!("`{proto}` listeners need a certificate: declare them in [[server.tls]]"),
        ));
    }
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| pos.at(spec, format!("bad address `{addr}`: {e} (write IP:PORT)")))?;
    Ok(Listen {
        transport,
        addr,
        tls: None,
    })
}

fn build(raw: RawConfig, pos: &Positioner<'_>) -> Result<Config, ConfigError> {
    let (mut calls, dialplan) = build_calls(&raw, pos)?;
    let mut listen = Vec::new();
    match &raw.server.listen {
        Some(list) => {
            for spec in list {
                listen.push(parse_listen(spec, pos)?);
            }
        }
        None => {
            let addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal address");
            listen.push(Listen {
                transport: Transport::Udp,
                addr,
                tls: None,
            });
            listen.push(Listen {
                transport: Transport::Tcp,
                addr,
                tls: None,
            });
        }
    }
    for tls in &raw.server.tls {
        let addr: SocketAddr = tls
            .listen
            .get_ref()
            .parse()
            .map_err(|e| pos.at(&tls.listen, format!("bad address: {e} (write IP:PORT)")))?;
        let cert = PathBuf::from(tls.cert.get_ref());
        let key = PathBuf::from(tls.key.get_ref());
        if !cert.exists() {
            return Err(pos.at(
                &tls.cert,
                format!("certificate file {} does not exist", cert.display()),
            ));
        }
        if !key.exists() {
            return Err(pos.at(
                &tls.key,
                format!("key file {} does not exist", key.display()),
            ));
        }
        listen.push(Listen {
            transport: Transport::Tls,
            addr,
            tls: Some((cert, key)),
        });
    }
    if listen.is_empty() {
        return Err(pos.error(
            0,
            "no listener: add `listen = [\"udp:127.0.0.1:5060\"]` under [server]",
        ));
    }
    let domain = match &raw.server.domain {
        Some(d) if d.get_ref().trim().is_empty() => {
            return Err(pos.at(d, "domain must not be empty"))
        }
        Some(d) => d.get_ref().trim().to_owned(),
        None => listen[0].addr.ip().to_string(),
    };
    let data_dir = raw
        .server
        .data_dir
        .as_ref()
        .map_or_else(default_data_dir, |d| PathBuf::from(d.get_ref()));

    let algorithms = match &raw.auth.algorithms {
        None => vec![DigestAlgorithm::Md5],
        Some(list) => {
            let mut out = Vec::new();
            for a in list {
                let alg = match a.get_ref().to_ascii_uppercase().as_str() {
                    "MD5" => DigestAlgorithm::Md5,
                    "SHA-256" | "SHA256" => DigestAlgorithm::Sha256,
                    other => {
                        return Err(pos.at(
                            a,
                            format!("unknown digest algorithm `{other}` (use MD5 or SHA-256)"),
                        ))
                    }
                };
                out.push(alg);
            }
            if out.is_empty() {
                return Err(pos.error(0, "auth.algorithms must name at least one algorithm"));
            }
            out
        }
    };
    let nonce_ttl = raw.auth.nonce_ttl_secs.as_ref().map_or(Ok(300), |t| {
        if *t.get_ref() == 0 {
            Err(pos.at(t, "nonce_ttl_secs must be at least 1"))
        } else {
            Ok(*t.get_ref())
        }
    })?;

    let min_expires = raw.registrar.min_expires.unwrap_or(60);
    let max_expires = raw
        .registrar
        .max_expires
        .as_ref()
        .map_or(7200, |m| *m.get_ref());
    if let Some(m) = &raw.registrar.max_expires {
        if *m.get_ref() < min_expires {
            return Err(pos.at(
                m,
                format!("max_expires must be >= min_expires ({min_expires})"),
            ));
        }
    }
    let default_expires = raw
        .registrar
        .default_expires
        .as_ref()
        .map_or(3600.min(max_expires), |d| *d.get_ref());
    if let Some(d) = &raw.registrar.default_expires {
        if *d.get_ref() < min_expires || *d.get_ref() > max_expires {
            return Err(pos.at(
                d,
                format!("default_expires must lie within [{min_expires}, {max_expires}]"),
            ));
        }
    }

    let mut trusted = Vec::new();
    for t in &raw.security.trusted {
        let text = t.get_ref();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                pos.at(
                    t,
                    format!("`{text}` is neither an address nor a CIDR (e.g. 10.0.0.0/8)"),
                )
            })?;
        trusted.push(net);
    }

    let metrics_listen = match &raw.metrics.listen {
        None => Some("127.0.0.1:9060".parse().expect("literal address")),
        Some(s) if s.get_ref().is_empty() || s.get_ref() == "off" => None,
        Some(s) => Some(
            s.get_ref()
                .parse()
                .map_err(|e| pos.at(s, format!("bad address: {e} (write IP:PORT or \"off\")")))?,
        ),
    };

    let mut users = Vec::new();
    for u in raw.users {
        let name = u.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c))
        {
            return Err(pos.at(
                &u.name,
                format!("user name `{name}` is not a valid SIP user part"),
            ));
        }
        if users.iter().any(|x: &UserConfig| x.name == *name) {
            return Err(pos.at(&u.name, format!("user `{name}` is declared twice")));
        }
        users.push(UserConfig {
            name: name.clone(),
            password: u.password,
        });
    }

    let transaction_linger = match &raw.server.transaction_linger_secs {
        None => Duration::from_secs(32),
        Some(s) if (1..=64).contains(s.get_ref()) => Duration::from_secs(*s.get_ref()),
        Some(s) => {
            return Err(pos.at(
                s,
                "transaction_linger_secs must lie within [1, 64] (RFC 3261: 32)",
            ))
        }
    };

    let media = build_media(&raw.media, &listen, pos)?;
    let trunks =
        crate::trunks::config::build(&raw.trunks).map_err(|e| pos.error(e.offset, e.message))?;
    crate::trunks::config::check_routes(&dialplan, &trunks, pos.text)
        .map_err(|e| pos.error(e.offset, e.message))?;
    let endpoints = build_endpoints(&raw.media, media.address, pos)?;
    let recordings_dir = raw
        .media
        .recordings_dir
        .as_ref()
        .map_or_else(|| data_dir.join("recordings"), PathBuf::from);
    let prompts_dir = PathBuf::from(
        raw.media
            .prompts_dir
            .as_deref()
            .unwrap_or("fixtures/prompts"),
    );
    calls.music_on_hold = match &raw.calls.music_on_hold {
        None => Some(prompts_dir.join("moh.wav")).filter(|p| p.is_file()),
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => {
            let path = PathBuf::from(s.get_ref());
            if !path.is_file() {
                return Err(pos.at(
                    s,
                    format!("calls.music_on_hold: no WAV file at `{}`", path.display()),
                ));
            }
            Some(path)
        }
    };

    let mut aliases = Vec::new();
    for a in raw.server.aliases {
        aliases.push(a.into_inner());
    }

    Ok(Config {
        realm: raw.auth.realm.unwrap_or_else(|| domain.clone()),
        domain,
        aliases,
        listen,
        data_dir,
        udp_threads: raw.server.udp_threads.unwrap_or(1),
        transaction_linger,
        algorithms,
        nonce_ttl: Duration::from_secs(nonce_ttl),
        register_auth: raw.auth.register.unwrap_or(true),
        min_expires,
        max_expires,
        default_expires,
        max_contacts: raw.registrar.max_contacts.unwrap_or(10),
        trusted,
        ban_threshold: raw.security.ban_threshold.unwrap_or(20),
        ban_window: Duration::from_secs(raw.security.ban_window_secs.unwrap_or(60)),
        ban_time: Duration::from_secs(raw.security.ban_time_secs.unwrap_or(300)),
        metrics_listen,
        media,
        endpoints,
        recordings_dir,
        prompts_dir,
        users,
        calls,
        dialplan,
        trunks,
        ivr: IvrConfig::default(),
        source: pos.file.to_owned(),
    })
}

fn build_calls(
    raw: &RawConfig,
    pos: &Positioner<'_>,
) -> Result<(CallsConfig, crate::dialplan::Dialplan), ConfigError> {
    let engine = match &raw.calls.engine {
        None => CallEngine::Proxy,
        Some(e) => match e.get_ref().as_str() {
            "proxy" => CallEngine::Proxy,
            "b2bua" => CallEngine::B2bua,
            other => {
                return Err(pos.at(
                    e,
                    format!("calls.engine `{other}`: use \"proxy\" or \"b2bua\""),
                ))
            }
        },
    };
    let utc_offset_secs = match &raw.calls.utc_offset_minutes {
        None => 0,
        Some(m) if m.get_ref().abs() <= 14 * 60 => m.get_ref() * 60,
        Some(m) => return Err(pos.at(m, "calls.utc_offset_minutes must be within ±840")),
    };
    let entries =
        crate::dialplan::raw::build(&raw.dialplan).map_err(|e| pos.error(e.offset, e.message))?;
    let session_expires = match &raw.calls.session_expires_secs {
        None => Some(Duration::from_secs(1800)),
        Some(s) if *s.get_ref() == 0 => None,
        Some(s) if *s.get_ref() < 90 => {
            return Err(pos.at(
                s,
                "calls.session_expires_secs must be 0 (off) or at least 90 (RFC 4028 Min-SE)",
            ))
        }
        Some(s) => Some(Duration::from_secs(*s.get_ref())),
    };
    Ok((
        CallsConfig {
            engine,
            ring_timeout: Duration::from_secs(raw.calls.ring_timeout_secs.unwrap_or(60).max(1)),
            session_expires,
            music_on_hold: None,
        },
        crate::dialplan::Dialplan {
            entries,
            utc_offset_secs,
        },
    ))
}

fn build_media(
    raw: &RawMedia,
    listen: &[Listen],
    pos: &Positioner<'_>,
) -> Result<crate::proxy::AnchorConfig, ConfigError> {
    use crate::proxy::AnchorMode;
    let mode = match &raw.anchor {
        None => AnchorMode::Never,
        Some(m) => match m.get_ref().as_str() {
            "always" => AnchorMode::Always,
            "nat" => AnchorMode::Nat,
            "never" => AnchorMode::Never,
            other => {
                return Err(pos.at(
                    m,
                    format!("media.anchor `{other}`: use \"always\", \"nat\" or \"never\""),
                ))
            }
        },
    };
    let address = match &raw.address {
        None => listen[0].addr.ip(),
        Some(a) => a
            .get_ref()
            .parse()
            .map_err(|e| pos.at(a, format!("bad address: {e} (write an IP)")))?,
    };
    let port_min = raw.port_min.unwrap_or(30000);
    let port_max = raw.port_max.as_ref().map_or(39999, |p| *p.get_ref());
    if let Some(p) = &raw.port_max {
        if u32::from(*p.get_ref()) < u32::from(port_min) + 3 {
            return Err(pos.at(
                p,
                format!(
                    "media.port_max must leave at least two port pairs above port_min ({port_min})"
                ),
            ));
        }
    }
    Ok(crate::proxy::AnchorConfig {
        mode,
        address,
        port_min,
        port_max,
        threads: raw.threads.unwrap_or(1).max(1),
        inactivity_timeout: Duration::from_secs(raw.inactivity_timeout_secs.unwrap_or(60).max(1)),
    })
}

/// `[media]` `endpoint_port_min` / `endpoint_port_max` (defaults 40000 /
/// 44999, above the relay's default range).
fn build_endpoints(
    raw: &RawMedia,
    address: std::net::IpAddr,
    pos: &Positioner<'_>,
) -> Result<media::endpoint::EndpointConfig, ConfigError> {
    let port_min = raw.endpoint_port_min.unwrap_or(40000);
    let port_max = raw
        .endpoint_port_max
        .as_ref()
        .map_or(44999, |p| *p.get_ref());
    if let Some(p) = &raw.endpoint_port_max {
        if u32::from(port_max) < u32::from(port_min) + 3 {
            return Err(pos.at(
                p,
                format!("media.endpoint_port_max must leave at least two port pairs above endpoint_port_min ({port_min})"),
            ));
        }
    }
    Ok(media::endpoint::EndpointConfig {
        bind: address,
        port_min,
        port_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::embedded();
        assert_eq!(c.domain, "127.0.0.1");
        assert!(c.users.len() >= 2);
        assert_eq!(c.listen.len(), 2);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = Config::from_str_named("[server]\ndomain = \n", "x.toml").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("x.toml", 2), "{err}");
    }

    #[test]
    fn semantic_error_has_position() {
        let text = "[server]\nlisten = [\"udp:127.0.0.1:5060\", \"sctp:1.2.3.4:5\"]\n";
        let err = Config::from_str_named(text, "x.toml").unwrap_err();
        assert_eq!((err.line, err.column), (2, 33), "{err}");
        assert!(err.message.contains("sctp"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = Config::from_str_named("[registrar]\nmin_expire = 3\n", "x.toml").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("min_expire"), "{err}");
    }

    #[test]
    fn bad_cidr_and_duplicate_user() {
        let err =
            Config::from_str_named("[security]\ntrusted = [\"10.0.0.0/33\"]\n", "x").unwrap_err();
        assert_eq!((err.line, err.column), (2, 12), "{err}");
        let text = "[[users]]\nname = \"a\"\npassword = \"x\"\n[[users]]\nname = \"a\"\npassword = \"y\"\n";
        let err = Config::from_str_named(text, "x").unwrap_err();
        assert_eq!(err.line, 5, "{err}");
    }

    #[test]
    fn music_on_hold() {
        let off = Config::from_str_named("[calls]\nmusic_on_hold = \"\"\n", "x").unwrap();
        assert_eq!(off.calls.music_on_hold, None);
        let err =
            Config::from_str_named("[calls]\nmusic_on_hold = \"/no/such.wav\"\n", "x").unwrap_err();
        assert_eq!((err.line, err.column), (2, 17), "{err}");
        let dir = std::env::temp_dir().join(format!("pbx-moh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!("[media]\nprompts_dir = \"{}\"\n", dir.display());
        assert_eq!(
            Config::from_str_named(&text, "x")
                .unwrap()
                .calls
                .music_on_hold,
            None
        );
        std::fs::write(dir.join("moh.wav"), b"RIFF").unwrap();
        let on = Config::from_str_named(&text, "x").unwrap();
        assert_eq!(on.calls.music_on_hold, Some(dir.join("moh.wav")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dialplan_and_engine() {
        let text = "[calls]\nengine = \"b2bua\"\n[[dialplan]]\nextension = \"800\"\ntype = \"conference\"\nmoderator_pin = \"42\"\n[[dialplan]]\nregex = \"^0(\\\\d+)$\"\ntype = \"trunk\"\ntrunk = \"t\"\nnumber = \"+49$1\"\n";
        let c = Config::from_str_named(text, "x").unwrap();
        assert_eq!(c.calls.engine, CallEngine::B2bua);
        assert_eq!(c.dialplan.entries.len(), 2);
        assert_eq!(
            c.dialplan.route("0301", 0),
            Some(crate::dialplan::Route::Trunk {
                trunk: "t".into(),
                number: "+49301".into()
            })
        );
        let bad = "[[dialplan]]\nextension = \"1\"\ntype = \"voicemail\"\n";
        let err = Config::from_str_named(bad, "x").unwrap_err();
        assert_eq!((err.line, err.column), (3, 8), "{err}");
        assert!(err.message.contains("voicemail"), "{err}");
        let bad = "[calls]\nengine = \"sbc\"\n";
        let err = Config::from_str_named(bad, "x").unwrap_err();
        assert_eq!((err.line, err.column), (2, 10), "{err}");
        let bad = "[[dialplan]]\nregex = \"(\"\ntype = \"user\"\n";
        let err = Config::from_str_named(bad, "x").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn trunks_are_validated_with_positions() {
        let text = "[[trunks]]\nname = \"carrier\"\nproxy = \"localhost:5070\"\nusername = \"acct\"\npassword = \"pw\"\nregister = true\nmax_calls = 2\nprefixes = [\"+31\"]\noutbound = { strip = 1, country_code = \"31\" }\ninbound = { country_code = \"31\" }\ndids = [\"0201234567\", { number = \"+31201234568\", target = \"1002\" }]\n";
        let c = Config::from_str_named(text, "x").unwrap();
        let t = &c.trunks[0];
        assert_eq!(t.addr, "127.0.0.1:5070".parse().unwrap());
        assert!(t.register);
        assert_eq!(t.max_calls, Some(2));
        assert_eq!(t.outbound.apply("90201234567"), "+31201234567");
        assert_eq!(
            t.dids[0].number, "+31201234567",
            "DIDs are stored normalised"
        );
        assert_eq!(t.dids[1].target.as_deref(), Some("1002"));
        for (bad, line, needle) in [
            ("[[trunks]]\nname = \"t\"\nproxy = \"carrier.example:5060\"\n", 3, "DNS"),
            ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\ntransport = \"tls\"\n", 4, "tls"),
            ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\nregister = true\n", 4, "username"),
            ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\nmax_calls = 0\n", 4, "max_calls"),
            ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\n[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5061\"\n", 5, "twice"),
            ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\ninbound = { country_code = \"abc\" }\n", 4, "country_code"),
            ("[[trunks]]\nname = \"lcr\"\nproxy = \"127.0.0.1:5060\"\n", 2, "lcr"),
            ("[[dialplan]]\nprefix = \"0\"\ntype = \"trunk\"\ntrunk = \"nope\"\n[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\n", 4, "nope"),
        ] {
            let err = Config::from_str_named(bad, "x").unwrap_err();
            assert_eq!(err.line, line, "{err}");
            assert!(err.message.contains(needle), "{err}");
        }
    }

    #[test]
    fn expires_limits_are_checked() {
        let err = Config::from_str_named("[registrar]\nmin_expires = 100\nmax_expires = 50\n", "x")
            .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }
}
