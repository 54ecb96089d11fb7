//! The `pbx` configuration file (TOML): listeners, domain, auth, registrar limits,
//! trusted peers, rate limits, store and users.
//!
//! Every error, syntactic or semantic, names `file:line:column` so an admin can jump
//! straight to it (`pbx check --config FILE`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use sip_stack::Transport;

mod auth_section;
mod calls_section;
mod ivr_section;
mod media_section;
mod position;
mod queues_section;
mod recording_section;
mod server_section;
mod webhooks_section;

use auth_section::{
    build_algorithms, build_expires, build_max_contacts, build_nonce_ttl, build_trusted,
    build_users, RawAuth, RawRegistrar, RawSecurity, RawUser,
};
use calls_section::{build_calls, music_on_hold, RawCalls};
pub use calls_section::{CallEngine, CallsConfig};
pub use ivr_section::IvrConfig;
use ivr_section::{build_ivr, FlowCheck, RawIvr};
use media_section::{build_endpoints, build_media, media_dirs, RawMedia};
pub use position::ConfigError;
use position::{read_file, Positioner};
use server_section::{
    build_domain, build_listen, build_metrics_listen, build_transaction_linger, RawMetrics,
    RawServer,
};

/// The configuration a newcomer gets with no `--config`: demo extensions on 127.0.0.1.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../fixtures/pbx.toml");

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Transport.
    pub transport: Transport,
    /// Address to bind.
    pub addr: SocketAddr,
    /// TLS certificate and key (PEM), for `tls` and `wss` listeners.
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
    /// What a REGISTER past `max_contacts` gets (`registrar.max_contacts_policy`).
    pub max_contacts_policy: crate::registrar::MaxContactsPolicy,
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
    pub media: crate::media_anchor::AnchorConfig,
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
    /// How trunk host names are resolved (`[trunks_dns]`).
    pub trunks_dns: crate::trunks::DnsConfig,
    /// Skill-group queues (`[[queues]]`, B2BUA engine).
    pub queues: Vec<acd::QueueConfig>,
    /// Agents: users with skills (`[[agents]]`).
    pub agents: Vec<acd::AgentProfile>,
    /// The agents' team leaders and departments (`[[agents]] leader`, `department`).
    pub agent_org: Vec<reports::AgentOrg>,
    /// Contact-center engine settings (`[acd]`).
    pub acd: acd::AcdConfig,
    /// IVR flows (`[ivr]`).
    pub ivr: IvrConfig,
    /// Call recording (`[recording]`).
    pub recording: crate::recording::RecordingConfig,
    /// CRM webhooks and the customer lookup hook (`[[webhooks]]`,
    /// `[webhook_delivery]`, `[crm]`).
    pub webhooks: crate::webhooks::WebhooksConfig,
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
    trunks_dns: crate::trunks::dns::RawDnsConfig,
    #[serde(default)]
    ivr: RawIvr,
    #[serde(default)]
    queues: Vec<toml::Spanned<acd::QueueConfig>>,
    #[serde(default)]
    agents: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    acd: acd::AcdConfig,
    #[serde(default)]
    recording: recording_section::RawRecording,
    #[serde(default)]
    webhooks: Vec<webhooks_section::RawWebhook>,
    #[serde(default)]
    webhook_delivery: webhooks_section::RawDelivery,
    #[serde(default)]
    crm: webhooks_section::RawCrm,
}

impl Config {
    /// Loads and validates a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_file(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base, FlowCheck::Strict)
    }

    /// Loads and validates a file like [`Config::from_file`] except the IVR
    /// flows that `type = "ivr"` routes name: for admin commands talking to
    /// a running server (`pbx reload`), which must work while a flow file
    /// is being fixed.
    pub fn from_file_for_admin(path: &Path) -> Result<Self, ConfigError> {
        let text = read_file(path)?;
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
        let webhooks =
            webhooks_section::build(&raw.webhooks, &raw.webhook_delivery, &raw.crm, base, &pos)?;
        let mut config = build(raw, &pos)?;
        config.ivr = ivr;
        config.webhooks = webhooks;
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

fn build(raw: RawConfig, pos: &Positioner<'_>) -> Result<Config, ConfigError> {
    let (mut calls, dialplan) = build_calls(&raw, pos)?;
    let listen = build_listen(&raw.server, pos)?;
    let domain = build_domain(&raw.server, &listen, pos)?;
    let data_dir = raw
        .server
        .data_dir
        .as_ref()
        .map_or_else(default_data_dir, |d| PathBuf::from(d.get_ref()));
    let algorithms = build_algorithms(&raw.auth, pos)?;
    let nonce_ttl = build_nonce_ttl(&raw.auth, pos)?;
    let expires = build_expires(&raw.registrar, pos)?;
    let (max_contacts, max_contacts_policy) = build_max_contacts(&raw.registrar, pos)?;
    let trusted = build_trusted(&raw.security, pos)?;
    let metrics_listen = build_metrics_listen(&raw.metrics, pos)?;
    let users = build_users(raw.users, pos)?;
    let transaction_linger = build_transaction_linger(&raw.server, pos)?;

    let media = build_media(&raw.media, &listen, pos)?;
    let trunks =
        crate::trunks::config::build(&raw.trunks).map_err(|e| pos.error(e.offset, e.message))?;
    crate::trunks::config::check_routes(&dialplan, &trunks, pos.text)
        .map_err(|e| pos.error(e.offset, e.message))?;
    let trunks_dns = crate::trunks::dns::build_config(&raw.trunks_dns)
        .map_err(|e| pos.error(e.offset, e.message))?;
    let (queues, agents, agent_org) = queues_section::build(&raw.queues, &raw.agents, pos)?;
    let endpoints = build_endpoints(&raw.media, media.address, pos)?;
    let (recordings_dir, prompts_dir) = media_dirs(&raw.media, &data_dir);
    calls.music_on_hold = music_on_hold(&raw.calls, &prompts_dir, pos)?;
    let known = recording_section::Known {
        trunks: &trunks,
        queues: &queues,
        on_demand_entries: raw
            .dialplan
            .iter()
            .filter_map(|e| e.recording_at())
            .filter(|(w, _)| {
                crate::recording::Policy::parse(w) == Some(crate::recording::Policy::OnDemand)
            })
            .map(|(_, at)| at)
            .collect(),
    };
    let recording = recording_section::build(&raw.recording, &data_dir, &known, pos)?;

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
        min_expires: expires.min,
        max_expires: expires.max,
        default_expires: expires.default,
        max_contacts,
        max_contacts_policy,
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
        trunks_dns,
        queues,
        agents,
        agent_org,
        acd: raw.acd,
        ivr: IvrConfig::default(),
        recording,
        webhooks: crate::webhooks::WebhooksConfig::default(),
        source: pos.file.to_owned(),
    })
}

#[cfg(test)]
mod tests;
