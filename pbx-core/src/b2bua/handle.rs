//! The seam between the call engine and everything that is not its driver:
//! the SIP entry, the HTTP API, the job runner and shutdown send
//! [`EngineInput`]s through an [`EngineHandle`]; only the driver thread owns
//! the [`super::Engine`]. Nobody takes a lock on the engine, and an input
//! from HTTP is handled between two SIP messages exactly like one of them.
//!
//! The queue is bounded: a SIP message that finds it full is dropped and
//! counted (the UA retransmits; nothing waits on a stalled engine), a
//! command is refused with [`CommandError::Busy`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use sip_stack::message::SipMessage;
use sip_stack::Peer;

use super::app::HttpOutcome;
use super::engine::{Command, CommandError, CommandResult, HttpJob, LiveCall, Originate};
use super::CallId;

/// What `pbx reload` puts in service for the contact center: the
/// configuration's `[acd]`, `[[queues]]` and `[[agents]]`, and each queue's
/// music on hold (None: silence). Built by the configuration's side, so the
/// engine's inputs name no configuration file.
#[derive(Debug, Clone)]
pub struct AcdReload {
    /// `[acd]` (used when the first queues appear; otherwise needs a restart).
    pub acd: acd::AcdConfig,
    /// `[[queues]]`.
    pub queues: Vec<acd::QueueConfig>,
    /// `[[agents]]`.
    pub agents: Vec<acd::AgentProfile>,
    /// Where the queues' prompts are.
    pub prompts_dir: std::path::PathBuf,
    /// Each queue's music on hold file.
    pub music: std::collections::HashMap<String, Option<std::path::PathBuf>>,
}

/// Inputs waiting for the engine's driver.
pub const QUEUE_CAPACITY: usize = 65_536;

/// One input for the engine's driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineInput {
    /// A SIP message for a B2BUA call, already validated and admitted by
    /// the SIP entry.
    Sip {
        /// The message.
        msg: SipMessage,
        /// Who sent it.
        peer: Peer,
        /// The trunk whose carrier sent it.
        source_trunk: Option<usize>,
        /// A new INVITE of a local user or trusted peer (may leave through
        /// a trunk).
        may_call_out: bool,
    },
    /// The outcome of an HTTP job the engine asked for.
    HttpResult {
        /// The job.
        job: HttpJob,
        /// What came back.
        outcome: HttpOutcome,
    },
    /// A command; the result goes to `reply` (when given).
    Command {
        /// What to do.
        command: Command,
        /// Where the result goes.
        reply: Option<tokio::sync::oneshot::Sender<CommandResult>>,
    },
    /// A call for pbx to place (click-to-call, callbacks); the new call's
    /// id, or why not, goes to `reply`.
    Originate {
        /// The call.
        request: Originate,
        /// The missed-call entry it calls back (SPEC §10 quick callback).
        missed: Option<u64>,
        /// Where the result goes.
        reply: tokio::sync::oneshot::Sender<Result<CallId, CommandError>>,
    },
    /// Pause (true) or resume the recording of a live call; Err says why not.
    RecordingPause {
        /// The call.
        call: CallId,
        /// Pause or resume.
        paused: bool,
        /// The outcome.
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// The live calls, for `pbx calls`.
    LiveCalls(tokio::sync::oneshot::Sender<Vec<LiveCall>>),
    /// An operation on an agent (`pbx agents login NAME`, ...), handled by
    /// the contact-center engine beside the call engine.
    Agent {
        /// The agent's user.
        agent: String,
        /// `login`, `logout`, `break[:REASON]`, `ready`.
        op: String,
        /// The outcome: Err with the reason when refused.
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Queues and agents now, as JSON (`pbx queues`, `pbx agents`).
    AcdStatus(tokio::sync::oneshot::Sender<serde_json::Value>),
    /// `pbx reload`: put the configuration's `[[queues]]` / `[[agents]]`
    /// in service (`queues/reload.rs`); Ok describes what changed.
    ReloadAcd {
        /// The contact-center part of the configuration read again.
        settings: Box<AcdReload>,
        /// The outcome.
        reply: tokio::sync::oneshot::Sender<Result<serde_json::Value, String>>,
    },
    /// Finish what is queued, deliver the engine's last events and stop.
    Stop,
}

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    tx: Sender<EngineInput>,
    dropped: Arc<AtomicU64>,
}

impl EngineHandle {
    /// A handle and the receiving side its driver reads.
    pub fn channel() -> (Self, Receiver<EngineInput>) {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        (
            Self {
                tx,
                dropped: Arc::default(),
            },
            rx,
        )
    }

    /// Queues a SIP message; false (and counted) when the queue is full or
    /// the engine stopped.
    pub fn sip(
        &self,
        msg: SipMessage,
        peer: Peer,
        source_trunk: Option<usize>,
        may_call_out: bool,
    ) -> bool {
        let input = EngineInput::Sip {
            msg,
            peer,
            source_trunk,
            may_call_out,
        };
        let ok = self.tx.try_send(input).is_ok();
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// SIP messages dropped because the engine's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Inputs waiting now.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Hands back a job's outcome (waits up to a second for room: an
    /// application waits for it).
    pub fn http_result(&self, job: HttpJob, outcome: HttpOutcome) {
        let input = EngineInput::HttpResult { job, outcome };
        if let Err(e) = self.tx.send_timeout(input, Duration::from_secs(1)) {
            tracing::warn!(error = %e, "HTTP job result lost: the engine is not taking input");
        }
    }

    /// Runs a command and waits for its result.
    pub async fn command(&self, command: Command) -> CommandResult {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::Command {
            command,
            reply: Some(reply),
        })?;
        rx.await.unwrap_or(Err(CommandError::NotRunning))
    }

    /// Places a call (the agent's phone first, then the number) and
    /// returns its id once the agent's phone is being rung.
    /// With `missed`, the call is a quick callback of that missed-call
    /// entry: its outcome is stored and a connected one resolves it.
    pub async fn originate(
        &self,
        request: Originate,
        missed: Option<u64>,
    ) -> Result<CallId, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::Originate {
            request,
            missed,
            reply,
        })?;
        rx.await.unwrap_or(Err(CommandError::NotRunning))
    }

    /// Pauses (true) or resumes a live call's recording; the inner Err says
    /// why not (not recorded, already paused).
    pub async fn recording_pause(
        &self,
        call: CallId,
        paused: bool,
    ) -> Result<Result<(), String>, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::RecordingPause {
            call,
            paused,
            reply,
        })?;
        rx.await.map_err(|_| CommandError::NotRunning)
    }

    /// The live calls.
    pub async fn live_calls(&self) -> Result<Vec<LiveCall>, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::LiveCalls(reply))?;
        rx.await.map_err(|_| CommandError::NotRunning)
    }

    /// An agent operation; Err says why it was refused.
    pub async fn agent(&self, agent: &str, op: &str) -> Result<Result<(), String>, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::Agent {
            agent: agent.to_owned(),
            op: op.to_owned(),
            reply,
        })?;
        rx.await.map_err(|_| CommandError::NotRunning)
    }

    /// Puts `config`'s queues and agents in service; Err says why not.
    pub async fn reload_acd(
        &self,
        settings: AcdReload,
    ) -> Result<Result<serde_json::Value, String>, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::ReloadAcd {
            settings: Box::new(settings),
            reply,
        })?;
        rx.await.map_err(|_| CommandError::NotRunning)
    }

    /// Queues and agents now.
    pub async fn acd_status(&self) -> Result<serde_json::Value, CommandError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.try_send(EngineInput::AcdStatus(reply))?;
        rx.await.map_err(|_| CommandError::NotRunning)
    }

    /// Asks the driver to stop after what is queued (blocks while the queue
    /// is full: shutdown must get through).
    pub fn stop(&self) {
        let _ = self.tx.send(EngineInput::Stop);
    }

    fn try_send(&self, input: EngineInput) -> Result<(), CommandError> {
        self.tx.try_send(input).map_err(|e| match e {
            TrySendError::Full(_) => CommandError::Busy,
            TrySendError::Disconnected(_) => CommandError::NotRunning,
        })
    }
}
