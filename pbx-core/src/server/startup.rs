//! The steps of [`Server::start`](super::Server::start), in order: open
//! the store (users, bindings), build the registrar and authenticator,
//! bind the transports, build the call engine, build the SIP core and
//! install the engine (its driver thread starts), spawn the background
//! threads and tasks, serve the HTTP API. Each step is a method of
//! [`Startup`], which carries what they all read.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rand::RngCore;
use sip_stack::transaction::TimerConfig;
use sip_stack::transport::{TlsConfig, TransportConfig, Transports};
use sip_stack::Transport;

use super::{b2bua_parts, engine_driver, handler, housekeeping, ivr};
use super::{sync_config_users, unix_now, B2buaInputs, ServerError};
use crate::auth::{Authenticator, BanList, NonceBook, Users};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::Locals;
use crate::registrar::{Location, Registrar, RegistrarConfig};
use crate::sans_io::Clock;
use crate::sip::{SipCore, SipCoreParts};
use crate::store::{Store, WriteBehind};

/// The steps of [`Server::start`](super::Server::start), over what they all read: the
/// configuration, the server's clock and its random source.
pub(super) struct Startup<'a> {
    pub(super) config: &'a Config,
    /// Every clock of this server counts its monotonic milliseconds from here.
    pub(super) start: Instant,
    pub(super) rng: rand::rngs::ThreadRng,
}

/// The store as the server starts on it: users and bindings loaded, the
/// bindings' write-behind running.
pub(super) struct Opened {
    pub(super) db: std::path::PathBuf,
    /// The housekeeping thread's connection (users reloads).
    pub(super) store: Store,
    pub(super) users: Users,
    pub(super) users_version: i64,
    pub(super) location: Arc<Location>,
    pub(super) write_behind: WriteBehind,
    /// The agents' last stored states (the ACD's restart recovery).
    pub(super) agent_states: Vec<acd::AgentStateRecord>,
    /// Callback requests still waiting (put back in their queues).
    pub(super) callbacks: Vec<acd::CallbackRequest>,
}

/// The SIP core once the transports run; messages arriving before it is
/// set are dropped (UAs retransmit).
pub(super) type CoreCell = Arc<OnceLock<(Arc<SipCore>, Transports)>>;

/// The call engine of B2BUA mode before the SIP core holds it: the
/// record writer, the IVR flows and the engine's parts (all None in proxy
/// mode).
pub(super) struct CallEngine {
    pub(super) cdr_writer: Option<crate::store::CdrWriter>,
    pub(super) flows: Option<(crate::b2bua::ivr_app::SharedFlows, std::path::PathBuf)>,
    pub(super) parts: Option<EngineParts>,
    /// Call recording (`[recording]`, None when off).
    pub(super) recordings: Option<crate::recording::Recordings>,
}

/// The engine's handle (for the SIP core), its driver and its HTTP jobs.
type EngineParts = (
    crate::sip::B2buaHost,
    engine_driver::EngineDriver,
    tokio::sync::mpsc::UnboundedReceiver<crate::b2bua::engine::HttpJob>,
);

/// What [`Startup::call_engine`] needs of the steps before it.
pub(super) struct EngineInputs<'a> {
    pub(super) opened: &'a Opened,
    pub(super) transports: &'a Transports,
    pub(super) listeners: &'a [(Transport, SocketAddr)],
    pub(super) anchor: Option<Arc<crate::media_anchor::MediaAnchor>>,
    pub(super) metrics: &'a Arc<Metrics>,
    /// The server's stop flag (the recorder thread ends after it).
    pub(super) stop: &'a Arc<AtomicBool>,
}

/// What [`Startup::sip_core`] is built from.
pub(super) struct SipCoreInputs {
    pub(super) registrar: Registrar,
    pub(super) auth: Authenticator,
    pub(super) metrics: Arc<Metrics>,
    pub(super) listeners: Vec<(Transport, SocketAddr)>,
    pub(super) anchor: Option<Arc<crate::media_anchor::MediaAnchor>>,
}

/// Threads and tasks of a running server, stopped by `stop` (threads) or
/// at shutdown (tasks).
#[derive(Default)]
pub(super) struct Background {
    pub(super) threads: Vec<std::thread::JoinHandle<()>>,
    pub(super) tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Startup<'_> {
    /// Step 1: opens the store, adds the config file's users and loads users
    /// and live bindings.
    pub(super) fn open_store(&self) -> Result<Opened, ServerError> {
        let config = self.config;
        let db = config.db_path();
        let mut store = Store::open(&db)?;
        sync_config_users(&mut store, config)?;
        let users = Users::default();
        users.replace_all(store.load_users(&config.realm)?);
        users.set_disabled(store.disabled_users()?);
        let other = store.count_users_of_other_realms(&config.realm)?;
        if other > 0 {
            tracing::warn!(count = other, realm = %config.realm, "users stored for another realm cannot authenticate; re-add them");
        }
        let location = Arc::new(Location::new());
        let bindings = store.load_bindings(unix_now())?;
        tracing::info!(bindings = bindings.len(), users = users.len(), db = %db.display(), "store loaded");
        location.load(bindings);
        let users_version = store.users_version()?;
        let agent_states = store.last_agent_states()?;
        let callbacks = store.pending_callbacks()?;
        let write_behind = WriteBehind::start(Store::open(&db)?, Duration::from_millis(100));
        Ok(Opened {
            db,
            store,
            users,
            users_version,
            agent_states,
            callbacks,
            location,
            write_behind,
        })
    }

    /// Step 2: the registrar over the loaded bindings and the digest
    /// authenticator over the users (a fresh nonce key per start).
    pub(super) fn registrar_and_auth(&mut self, opened: &Opened) -> (Registrar, Authenticator) {
        let config = self.config;
        let registrar = Registrar::new(
            RegistrarConfig {
                domain: config.domain.clone(),
                min_expires: config.min_expires,
                max_expires: config.max_expires,
                default_expires: config.default_expires,
                max_contacts: config.max_contacts,
            },
            opened.location.clone(),
            Some(opened.write_behind.sender()),
        )
        .with_max_contacts_policy(config.max_contacts_policy);
        let mut key = [0u8; 32];
        self.rng.fill_bytes(&mut key);
        let auth = Authenticator::new(
            config.realm.clone(),
            config.algorithms.clone(),
            NonceBook::new(key, config.nonce_ttl.as_secs()),
            opened.users.clone(),
        );
        (registrar, auth)
    }

    /// Step 3: binds the listeners; every message runs through the core of
    /// `cell` on its receiving thread. Returns the transports and what they
    /// bound.
    pub(super) async fn start_transports(
        &self,
        cell: &CoreCell,
    ) -> Result<(Transports, Vec<(Transport, SocketAddr)>), ServerError> {
        let config = self.config;
        let handler = Arc::new(handler::CoreHandler {
            cell: cell.clone(),
            clock: Clock::new(self.start),
        });
        let transports = Transports::start(transport_config(config), handler)
            .await
            .map_err(ServerError::Bind)?;
        let mut listeners = Vec::new();
        for t in [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ] {
            for a in transports.local_addrs(t) {
                listeners.push((t, a));
            }
        }
        tracing::info!(?listeners, domain = %config.domain, "SIP listening");
        Ok((transports, listeners))
    }

    /// Step 4: the call engine of `calls.engine = "b2bua"`: the record
    /// writer, the IVR flows of `[ivr] flows_dir` and the engine with its
    /// driver (not yet running).
    pub(super) fn call_engine(&mut self, i: EngineInputs<'_>) -> Result<CallEngine, ServerError> {
        let (config, rng) = (self.config, &mut self.rng);
        let cdr_writer = match config.calls.engine {
            // With webhooks the outbox is committed more often: a pop
            // leaves at most one commit interval after the ringing.
            crate::config::CallEngine::B2bua => Some(crate::store::CdrWriter::start(
                Store::open(&i.opened.db)?,
                if config.webhooks.is_empty() {
                    Duration::from_millis(100)
                } else {
                    config.webhooks.delivery.outbox_commit
                },
            )),
            crate::config::CallEngine::Proxy => None,
        };
        let flows = match (&cdr_writer, &config.ivr.flows_dir) {
            (Some(_), Some(dir)) => {
                let flows: crate::b2bua::ivr_app::SharedFlows = Arc::default();
                ivr::load_flows(&flows, dir);
                Some((flows, dir.clone()))
            }
            _ => None,
        };
        let anchor = i.anchor.clone();
        let mut parts = cdr_writer.as_ref().and_then(|w| {
            let udp = i.transports.local_addr(Transport::Udp)?;
            Some(b2bua_parts(
                config,
                B2buaInputs {
                    udp,
                    cdr: w.queue(),
                    seed: rng.next_u64(),
                    listeners: i.listeners,
                    flows: flows.as_ref().map(|(f, _)| f.clone()),
                    location: i.opened.location.clone(),
                    users: i.opened.users.clone(),
                    anchor: i.anchor,
                    transports: i.transports.clone(),
                    metrics: i.metrics.clone(),
                    start: self.start,
                    agent_states: i.opened.agent_states.clone(),
                    callbacks: i.opened.callbacks.clone(),
                },
            ))
        });
        if parts.is_none() && !config.trunks.is_empty() {
            tracing::warn!("[[trunks]] are used by the B2BUA only: set calls.engine = \"b2bua\"");
        }
        if cdr_writer.is_some() && parts.is_none() {
            return Err(ServerError::Bind(std::io::Error::other(
                "calls.engine = \"b2bua\" needs a UDP listener",
            )));
        }
        let recordings = match (&mut parts, &cdr_writer) {
            (Some(parts), Some(w))
                if config.recording.mode != crate::recording::RecordingMode::Off
                    || config.recording.policy.records_any(&config.dialplan) =>
            {
                let (service, hook) = crate::recording::Recordings::start(
                    &config.recording,
                    anchor,
                    parts.1.endpoints.clone(),
                    w.queue(),
                    parts.1.routing.dialplan.clone(),
                    i.stop.clone(),
                )?;
                parts.1.recording = Some(hook);
                Some(service)
            }
            _ => None,
        };
        Ok(CallEngine {
            cdr_writer,
            flows,
            parts,
            recordings,
        })
    }

    /// Step 5: the SIP entry over the registrar, authenticator, ban list
    /// and proxy (the engine is installed next).
    pub(super) fn sip_core(&mut self, i: SipCoreInputs) -> SipCore {
        let config = self.config;
        let mut route_key = [0u8; 32];
        self.rng.fill_bytes(&mut route_key);
        SipCore::new(SipCoreParts {
            locals: Locals {
                domain: config.domain.clone(),
                aliases: config.aliases.clone(),
                listeners: i.listeners,
            },
            auth: i.auth,
            registrar: i.registrar,
            bans: BanList::new(
                config.ban_threshold,
                config.ban_window.as_millis() as u64,
                config.ban_time.as_millis() as u64,
            ),
            metrics: i.metrics,
            trusted: config.trusted.clone(),
            register_auth: config.register_auth,
            seed: self.rng.next_u64(),
            shards: 64,
            timers: TimerConfig {
                linger: config.transaction_linger,
                ..TimerConfig::default()
            },
            anchor: i.anchor,
            route_key,
        })
    }

    /// Step 6: hands the engine to its driver thread and its handle to the
    /// SIP core, and starts the runner of the engine's HTTP jobs. Returns
    /// the core as the server shares it, the driver thread and the runner.
    pub(super) fn install_engine(
        &self,
        core: SipCore,
        parts: Option<EngineParts>,
    ) -> (
        Arc<SipCore>,
        Option<std::thread::JoinHandle<()>>,
        Option<tokio::task::JoinHandle<()>>,
    ) {
        let Some((host, driver, jobs)) = parts else {
            return (Arc::new(core), None, None);
        };
        tracing::info!("calls handled by the B2BUA");
        let runner = ivr::spawn_http_jobs(
            host.engine.clone(),
            jobs,
            self.config.ivr.http_ca_file.clone(),
        );
        let thread = driver.spawn();
        (Arc::new(core.with_b2bua(host)), Some(thread), Some(runner))
    }

    /// Step 7: the background work — trunk DNS refresh, the IVR flow watcher,
    /// trajectory purge and SIGHUP reload, the transaction timers and the
    /// housekeeping thread (which takes the store's connection).
    pub(super) fn spawn_background(
        &mut self,
        core: &Arc<SipCore>,
        transports: &Transports,
        opened: Opened,
        flows: Option<(crate::b2bua::ivr_app::SharedFlows, std::path::PathBuf)>,
        stop: &Arc<AtomicBool>,
    ) -> Result<(Background, WriteBehind), ServerError> {
        let (config, start) = (self.config, self.start);
        let mut bg = Background::default();
        if core.b2bua.is_some() {
            // Trunk host names (RFC 3263): resolved off the SIP path.
            bg.tasks.push(crate::trunks::dns::lookup::spawn(
                core.clone(),
                |c: &SipCore| c.b2bua.as_ref().map(|h| &*h.trunks),
                config.trunks_dns.clone(),
                self.rng.next_u64(),
            ));
        }
        if let Some((flows, dir)) = flows {
            bg.threads.push(ivr::spawn_housekeeping(
                flows.clone(),
                dir.clone(),
                Store::open(&opened.db)?,
                config.ivr.trajectory_retention,
                stop.clone(),
            ));
            bg.tasks.extend(ivr::spawn_sighup(flows, dir));
        }
        if core.b2bua.is_some() {
            // Report summaries every 15 minutes and nightly (SPEC §13).
            let settings = crate::api::reports::settings_of(config)
                .map_err(|e| ServerError::Reports(e.to_string()))?;
            let thread = reports::aggregator::spawn(
                opened.db.clone(),
                settings,
                reports::aggregator::INTERVAL,
                stop.clone(),
            );
            bg.threads
                .push(thread.map_err(|e| ServerError::Reports(e.to_string()))?);
        }
        bg.threads.extend([
            housekeeping::spawn_timers(core.clone(), transports.clone(), stop.clone(), start),
            housekeeping::spawn_housekeeping(
                core.clone(),
                opened.store,
                opened.users_version,
                config.realm.clone(),
                stop.clone(),
                start,
            ),
        ]);
        Ok((bg, opened.write_behind))
    }

    /// Step 8: the HTTP API on `metrics_listen` (none without it): the admin
    /// token is read or created first. Returns the server task and its address.
    pub(super) async fn start_http(
        &self,
        core: &Arc<SipCore>,
        transports: &Transports,
        flows: Option<(crate::b2bua::ivr_app::SharedFlows, std::path::PathBuf)>,
        recordings: Option<Arc<crate::recording::RecordingAccess>>,
        stop: &tokio::sync::watch::Sender<bool>,
    ) -> Result<Option<(tokio::task::JoinHandle<()>, SocketAddr)>, ServerError> {
        let config = self.config;
        let Some(addr) = config.metrics_listen else {
            return Ok(None);
        };
        let token = crate::admin_token::load_or_create(&config.data_dir).map_err(|source| {
            ServerError::AdminToken {
                path: crate::admin_token::path(&config.data_dir),
                source,
            }
        })?;
        let config_file = Some(std::path::PathBuf::from(&config.source)).filter(|p| p.is_file());
        let admin = crate::api::Admin {
            token: token.into(),
            flows,
            config_file,
            recordings,
            api: Some(crate::api::v1::ApiData {
                db: config.db_path(),
                utc_offset_secs: config.dialplan.utc_offset_secs,
                queues: config
                    .queues
                    .iter()
                    .map(|q| (q.name.to_string(), q.service_level_s))
                    .collect(),
            }),
            reports: crate::api::reports::access(config),
        };
        let clock = Clock::new(self.start);
        let state = crate::api::ApiState::new(core.clone(), transports.clone(), clock, admin);
        let (task, bound) = crate::api::serve(addr, state, stop.subscribe())
            .await
            .map_err(|source| ServerError::Metrics { addr, source })?;
        tracing::info!(%bound, "metrics on http://{bound}/metrics");
        Ok(Some((task, bound)))
    }
}

impl Startup<'_> {
    /// Step 9 (B2BUA mode): the webhook worker over the event outbox, on
    /// its own connection and thread; stopped after the record writer has
    /// flushed the last events.
    pub(super) fn start_webhooks(
        &self,
        db: &std::path::Path,
        engine: bool,
        metrics: Arc<Metrics>,
    ) -> Result<Option<crate::webhooks::WebhookWorker>, ServerError> {
        if !engine {
            if !self.config.webhooks.is_empty() {
                tracing::warn!(
                    "[[webhooks]] need the B2BUA's events: set calls.engine = \"b2bua\""
                );
            }
            return Ok(None);
        }
        Ok(Some(crate::webhooks::WebhookWorker::start(
            db,
            self.config.webhooks.clone(),
            metrics,
        )?))
    }
}

/// The listeners of `[[listen]]` as the transports want them.
fn transport_config(config: &Config) -> TransportConfig {
    let udp_threads = if config.udp_threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.udp_threads
    };
    let of = |t: Transport| {
        config
            .listen
            .iter()
            .filter(|l| l.transport == t)
            .map(|l| l.addr)
            .collect()
    };
    let secure = |t: Transport| {
        config
            .listen
            .iter()
            .filter(|l| l.transport == t)
            .filter_map(|l| {
                l.tls.as_ref().map(|(c, k)| {
                    (
                        l.addr,
                        TlsConfig {
                            cert_pem: c.clone(),
                            key_pem: k.clone(),
                        },
                    )
                })
            })
            .collect()
    };
    TransportConfig {
        udp: of(Transport::Udp),
        tcp: of(Transport::Tcp),
        tls: secure(Transport::Tls),
        ws: of(Transport::Ws),
        wss: secure(Transport::Wss),
        udp_threads,
        ..TransportConfig::default()
    }
}
