//! `pbx serve`: wires the store, the SIP core, the transports, the timer and
//! housekeeping threads and the metrics endpoint together, and shuts them down
//! in order (stop receiving, then flush bindings).

mod engine_driver;
mod handler;
mod housekeeping;
mod ivr;
mod queue_reload;
mod quick_callbacks;
mod startup;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sip_stack::transaction::TimerConfig;
use sip_stack::transport::Transports;
use sip_stack::Transport;

use crate::auth::{Credentials, Users};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registrar::Location;
use crate::sans_io::Clock;
use crate::sip::SipCore;
use crate::store::{Store, StoreError, WriteBehind};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener could not be bound.
    #[error("cannot bind the SIP listeners: {0}")]
    Bind(std::io::Error),
    /// The media relay could not start (ports, threads).
    #[error("cannot start the media relay: {0}")]
    Media(std::io::Error),
    /// The metrics listener could not be bound.
    #[error("cannot bind the metrics listener {addr}: {source}")]
    Metrics {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Call recording could not start (spool, index, store).
    #[error(transparent)]
    Recording(#[from] crate::recording::StartError),
    /// The webhook worker did not start.
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::WebhookError),
    /// The report aggregator could not start (its settings, its thread).
    #[error("cannot start the report aggregator: {0}")]
    Reports(String),
    /// The admin token could not be read or created.
    #[error("cannot read or create the admin token {}: {source}", path.display())]
    AdminToken {
        /// The token file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Unix seconds now (admin commands).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running server.
pub struct Server {
    core: Arc<SipCore>,
    /// The call engine's driver (B2BUA mode).
    engine_thread: Option<std::thread::JoinHandle<()>>,
    transports: Transports,
    write_behind: Option<WriteBehind>,
    cdr_writer: Option<crate::store::CdrWriter>,
    webhooks: Option<crate::webhooks::WebhookWorker>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    metrics_addr: Option<SocketAddr>,
    http: Option<tokio::task::JoinHandle<()>>,
    /// Tells the HTTP server to finish its requests and close.
    http_stop: tokio::sync::watch::Sender<bool>,
    /// IVR tasks (HTTP jobs, SIGHUP reload).
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What [`b2bua_parts`] needs besides the configuration.
struct B2buaInputs<'a> {
    udp: SocketAddr,
    cdr: crate::store::CdrQueue,
    seed: u64,
    listeners: &'a [(Transport, SocketAddr)],
    flows: Option<crate::b2bua::ivr_app::SharedFlows>,
    location: Arc<Location>,
    users: Users,
    anchor: Option<Arc<crate::media_anchor::MediaAnchor>>,
    transports: Transports,
    metrics: Arc<Metrics>,
    start: Instant,
    /// Agents' last stored states (restart recovery).
    agent_states: Vec<acd::AgentStateRecord>,
    /// Callback requests still waiting (restart recovery).
    callbacks: Vec<acd::CallbackRequest>,
}

/// The call engine of `calls.engine = "b2bua"`: pbx's user agent on the
/// UDP listener, its driver (which owns it), the handle the SIP entry and
/// the API send through, and the queue of HTTP jobs for the runner.
fn b2bua_parts(
    config: &Config,
    i: B2buaInputs<'_>,
) -> (
    crate::sip::B2buaHost,
    engine_driver::EngineDriver,
    tokio::sync::mpsc::UnboundedReceiver<crate::b2bua::engine::HttpJob>,
) {
    use crate::b2bua::{Engine, EngineConfig, EngineHandle, EventBus, Timestamp};
    let aor = sip_stack::Uri::parse(&format!("sip:pbx@{}", config.domain))
        .unwrap_or_else(|_| sip_stack::Uri::sip(i.udp.ip().to_string()));
    let mut ua = sip_stack::ua::UaConfig::new(aor, i.udp);
    ua.seed = i.seed;
    ua.user_agent = concat!("pbx/", env!("CARGO_PKG_VERSION")).into();
    ua.session_expires = config.calls.session_expires;
    ua.timers = TimerConfig {
        linger: config.transaction_linger,
        ..TimerConfig::default()
    };
    let epoch = Timestamp {
        instant: Instant::now(),
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let engine = Engine::new(EngineConfig {
        ua,
        domain: config.domain.clone(),
        ring_timeout: config.calls.ring_timeout,
        epoch,
        music_on_hold: config.calls.music_on_hold.clone(),
    });
    let endpoints = match crate::b2bua::media::EndpointService::start(
        config.endpoints.clone(),
        config.recordings_dir.clone(),
    ) {
        Ok(e) => Some(Arc::new(e)),
        Err(e) => {
            tracing::error!(error = %e, "media endpoints not started: conference rooms refuse calls");
            None
        }
    };
    if !config.trunks.is_empty() {
        tracing::info!(trunks = config.trunks.len(), "SIP trunks configured");
    }
    let ivr = i.flows.map(|flows| crate::b2bua::ivr_app::IvrServices {
        flows,
        sink: Arc::new(i.cdr.clone()),
        utc_offset_secs: config.dialplan.utc_offset_secs,
    });
    let trunks = Arc::new(
        crate::trunks::Trunks::new(
            config.trunks.clone(),
            i.listeners,
            i.seed.rotate_left(29),
            Instant::now(),
        )
        .with_dns_config(&config.trunks_dns, Instant::now()),
    );
    let dialplan: crate::routing::SharedDialplan =
        Arc::new(parking_lot::RwLock::new(Arc::new(config.dialplan.clone())));
    let (handle, inputs) = EngineHandle::channel();
    let (jobs, jobs_rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = engine_driver::EngineDriver {
        engine,
        inputs,
        routing: crate::routing::RoutingContext {
            domain: config.domain.clone(),
            location: i.location,
            users: i.users,
            dialplan: dialplan.clone(),
            trunks: trunks.clone(),
            ivr,
            prompts_dir: config.prompts_dir.clone(),
            queues: Arc::new(config.queue_music()),
        },
        anchor: i.anchor,
        endpoints: endpoints.clone(),
        transports: i.transports,
        metrics: i.metrics,
        clock: Clock::new(i.start),
        jobs,
        records: i.cdr,
        bus: EventBus::default(),
        acd: acd_host(config, i.start, &i.agent_states, i.callbacks),
        queue_names: config.queues.iter().map(|q| q.name.to_string()).collect(),
        recording: None,
        quick: Default::default(),
    };
    let host = crate::sip::B2buaHost {
        engine: handle,
        dialplan,
        trunks,
        endpoints,
    };
    (host, driver, jobs_rx)
}

/// The contact-center engine for `[[queues]]` / `[[agents]]` (None without
/// queues), with the agents' states from before a restart reconciled and
/// the callback requests still waiting back in their queues.
fn acd_host(
    config: &Config,
    start: Instant,
    last: &[acd::AgentStateRecord],
    callbacks: Vec<acd::CallbackRequest>,
) -> Option<crate::queues::AcdHost> {
    if config.queues.is_empty() {
        return None;
    }
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let now = acd::Now::new(start.elapsed().as_millis() as u64, unix_ms);
    let mut host = match crate::queues::AcdHost::new(
        now,
        config.acd.clone(),
        config.queues.clone(),
        config.agents.clone(),
        &config.prompts_dir,
    ) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "queues not started");
            return None;
        }
    };
    if let Err(e) = host.recover(now, last) {
        tracing::warn!(error = %e, "agent states not restored");
    }
    host.restore_callbacks(now, callbacks);
    tracing::info!(
        queues = config.queues.len(),
        agents = config.agents.len(),
        "queues ready"
    );
    Some(host)
}

/// Adds the config file's users to the store (hashed for the realm).
pub fn sync_config_users(store: &mut Store, config: &Config) -> Result<usize, StoreError> {
    let users: Vec<(String, Credentials)> = config
        .users
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                Credentials::from_password(&u.name, &config.realm, &u.password),
            )
        })
        .collect();
    store.upsert_users(&config.realm, &users, unix_now())
}

impl Server {
    /// Starts everything; must run inside a tokio runtime. The steps, in
    /// order (`server/startup.rs`): the store, the registrar and authenticator, the
    /// media relay, the transports, the call engine, the SIP core (with the
    /// engine installed and its driver running), the background threads
    /// and tasks, the HTTP API.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        use startup::{CoreCell, EngineInputs, SipCoreInputs, Startup};
        let mut step = Startup {
            config: &config,
            start: Instant::now(),
            rng: rand::thread_rng(),
        };
        let opened = step.open_store()?;
        let (registrar, auth) = step.registrar_and_auth(&opened);
        let metrics = Arc::new(Metrics::default());
        let anchor = match config.media.mode {
            crate::media_anchor::AnchorMode::Never => None,
            _ => Some(Arc::new(
                crate::media_anchor::MediaAnchor::start(config.media.clone())
                    .map_err(ServerError::Media)?,
            )),
        };
        let cell = CoreCell::default();
        let (transports, listeners) = step.start_transports(&cell).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut engine = step.call_engine(EngineInputs {
            opened: &opened,
            transports: &transports,
            listeners: &listeners,
            anchor: anchor.clone(),
            metrics: &metrics,
            stop: &stop,
        })?;
        let webhooks =
            step.start_webhooks(&opened.db, engine.cdr_writer.is_some(), metrics.clone())?;
        let core = step.sip_core(SipCoreInputs {
            registrar,
            auth,
            metrics,
            listeners,
            anchor,
        });
        let (core, engine_thread, jobs_task) = step.install_engine(core, engine.parts);
        let _ = cell.set((core.clone(), transports.clone()));

        let (mut bg, write_behind) =
            step.spawn_background(&core, &transports, opened, engine.flows.clone(), &stop)?;
        bg.tasks.extend(jobs_task);
        let recordings = engine.recordings.take().map(|r| {
            bg.threads.push(r.thread);
            r.access
        });
        let http_stop = tokio::sync::watch::Sender::new(false);
        let http = step
            .start_http(&core, &transports, engine.flows, recordings, &http_stop)
            .await?;
        Ok(Self {
            core,
            engine_thread,
            transports,
            write_behind: Some(write_behind),
            cdr_writer: engine.cdr_writer,
            webhooks,
            stop,
            threads: bg.threads,
            metrics_addr: http.as_ref().map(|h| h.1),
            http: http.map(|h| h.0),
            http_stop,
            tasks: bg.tasks,
        })
    }

    /// Removes the trunks' registrations (REGISTER with Expires: 0) and
    /// gives the carriers a moment to answer (and to challenge).
    async fn unregister_trunks(&self) {
        let Some(host) = self.core.b2bua.as_ref().filter(|h| !h.trunks.is_empty()) else {
            return;
        };
        let mut out = Vec::new();
        let registered = {
            let mut m = host.trunks.manager().lock();
            let n = m.unregister_all(Instant::now());
            m.drain(&mut out);
            n
        };
        if registered > 0 {
            handler::send_all(&self.core, &self.transports, &mut out);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The SIP core (tests, admin).
    pub fn core(&self) -> &Arc<SipCore> {
        &self.core
    }

    /// Bound SIP address of a transport.
    pub fn local_addr(&self, t: Transport) -> Option<SocketAddr> {
        self.transports.local_addr(t)
    }

    /// Bound metrics address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Graceful stop, in order: stop taking calls (503), end the live
    /// calls (BYE; their records say `pbx.shutdown`), remove the trunks'
    /// registrations, give the BYEs a moment to be answered, stop the
    /// engine's driver (it delivers its last events to the CDR writer and
    /// the outbox), close the HTTP server after its requests, close the
    /// listeners and threads, then flush bindings, records and events to
    /// disk. No task holding data is aborted.
    pub async fn shutdown(mut self) {
        self.core.stop_taking_calls();
        let mut ended = 0;
        if let Some(host) = &self.core.b2bua {
            match host.engine.command(crate::b2bua::Command::HangupAll).await {
                Ok(n) => ended = n,
                Err(e) => tracing::warn!(error = %e, "live calls not ended"),
            }
        }
        self.unregister_trunks().await;
        if ended > 0 {
            tracing::info!(calls = ended, "live calls ended");
            // The BYEs' 200s (and retransmissions for lost ones).
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if let Some(host) = &self.core.b2bua {
            host.engine.stop();
        }
        if let Some(t) = self.engine_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let _ = self.http_stop.send(true);
        if let Some(h) = self.http.take() {
            if tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .is_err()
            {
                tracing::warn!("HTTP requests still running after 5 s; closing");
            }
        }
        self.stop.store(true, Ordering::SeqCst);
        // What is left holds no data: the IVR job runner (its engine is
        // gone), the DNS refresher, the SIGHUP listener.
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.transports.clone().shutdown().await;
        for t in self.threads.drain(..) {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(wb) = self.write_behind.take() {
            // Dropping the registrar's sender happens with the core; flush what is queued now.
            let _ = tokio::task::spawn_blocking(move || wb.shutdown()).await;
        }
        if let Some(w) = self.cdr_writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.shutdown()).await;
        }
        // After the writers: the last events are in the outbox (and are
        // sent now or after the next start).
        if let Some(w) = self.webhooks.take() {
            let _ = tokio::task::spawn_blocking(move || w.shutdown()).await;
        }
        tracing::info!("stopped");
    }
}
