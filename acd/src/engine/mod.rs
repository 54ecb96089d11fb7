//! The engine: [`Acd`] owns every queue, agent, waiting caller, offer and
//! timer. Inputs are `handle_*` methods with an explicit [`Now`]; outputs
//! are [`Action`]s ([`Acd::poll_action`]) and [`QueueEvent`]s
//! ([`Acd::poll_event`]); [`Acd::poll_timeout`] is the next deadline, after
//! which the driver calls [`Acd::handle_timeout`].

mod agents;
mod callbacks;
mod callers;
mod offers;
mod reconfigure;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::agent::{AgentProfile, ProfileError};
use crate::config::{validate_queues, AcdConfig, ConfigError, OverflowTarget, QueueConfig};
use crate::events::{EventKind, OverflowReason, QueueEvent};
use crate::ewt::HandleTimes;
use crate::ids::{AgentId, CallId, CallbackId, Mono, Now, OfferId, QueueId};
use crate::matcher::{AvailIndex, WaitIndex, WaitKey};
use crate::state::{AgentState, StateError};
use crate::strategy::AvailKey;
use crate::timers::{Timer, Timers};

pub use agents::AgentSnapshot;
pub use reconfigure::ReloadSummary;

/// Errors of the engine's inputs. None of them changes any state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad agent profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// An impossible agent state move.
    #[error(transparent)]
    State(#[from] StateError),
    /// No such queue.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// No such agent.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The agent exists already.
    #[error("agent {0} exists already")]
    DuplicateAgent(AgentId),
    /// The agent is on a queue call or being offered one.
    #[error("agent {0} is handling a queue call")]
    AgentEngaged(AgentId),
    /// The call is queued or connected already.
    #[error("call {0} is already handled by the ACD")]
    DuplicateCall(CallId),
    /// No such connected call.
    #[error("call {0} is not connected through the ACD")]
    UnknownCall(CallId),
    /// No such offer (answered, failed or withdrawn already).
    #[error("unknown offer {0}")]
    UnknownOffer(OfferId),
    /// No such callback, or not in the step the input belongs to.
    #[error("callback {0} is unknown or not dialing its customer")]
    UnknownCallback(CallbackId),
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A caller entering a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerInfo {
    /// The call.
    pub call: CallId,
    /// The queue.
    pub queue: QueueId,
    /// The caller's number, as received.
    pub number: String,
    /// The service number dialed.
    pub service_number: Option<String>,
    /// Caller priority (0 = normal; from the dial plan or an IVR variable).
    pub priority: u8,
}

/// What a waiting caller should hear (between stretches of music).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Announcement {
    /// "You are caller number N."
    Position(u32),
    /// "Your estimated wait is about N minutes."
    EstimatedWait {
        /// Seconds.
        seconds: u64,
    },
    /// The queue's periodic prompt.
    Periodic {
        /// Prompt name.
        prompt: String,
    },
    /// "Press K to be called back without losing your place."
    CallbackOffer {
        /// The key.
        key: char,
    },
}

/// Why an offer is withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// It rang for the queue's ring timeout.
    RingTimeout,
    /// Another agent answered (ring-all).
    AnsweredElsewhere,
    /// The caller hung up, left or asked for a callback.
    CallerGone,
    /// The agent went on break, logged out or took another call.
    AgentUnavailable,
}

/// What the engine asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Answer the caller with media if needed and play music on hold.
    Hold {
        /// The caller.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// Music-on-hold class.
        music: String,
    },
    /// Play an announcement to a waiting caller, then music again.
    Announce {
        /// The caller.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// What to say.
        announcement: Announcement,
    },
    /// Ring the agent for this caller; report [`Acd::handle_offer_answered`]
    /// or [`Acd::handle_offer_failed`].
    Offer {
        /// The offer.
        offer: OfferId,
        /// The caller.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// The engine withdraws the offer after this long.
        ring_timeout_ms: u64,
    },
    /// Stop ringing the agent (or hang up its leg if it answered late).
    CancelOffer {
        /// The offer.
        offer: OfferId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: CancelReason,
    },
    /// The agent answered: bridge caller and agent.
    Connect {
        /// The offer answered.
        offer: OfferId,
        /// The caller.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
    },
    /// The caller leaves the queue without an agent: send it to `target`,
    /// or end the call (busy treatment) when None. A queue target never
    /// appears here: the engine moves the caller itself.
    Overflow {
        /// The caller.
        call: CallId,
        /// The queue it leaves.
        queue: QueueId,
        /// Why.
        reason: OverflowReason,
        /// Where to.
        target: Option<OverflowTarget>,
    },
    /// The caller asked for a callback: confirm and hang up its call (its
    /// hangup is then no abandon).
    CallbackAccepted {
        /// The caller.
        call: CallId,
        /// The request.
        callback: CallbackId,
        /// The queue.
        queue: QueueId,
    },
    /// A callback reached the front: call the agent first; report like an
    /// offer ([`Acd::handle_offer_answered`] / [`Acd::handle_offer_failed`]).
    CallbackCallAgent {
        /// The offer to the agent.
        offer: OfferId,
        /// The request.
        callback: CallbackId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// The customer's number (shown to the agent).
        number: String,
        /// The engine withdraws the offer after this long.
        ring_timeout_ms: u64,
    },
    /// The agent answered the callback: now call the customer into the same
    /// call; report [`Acd::handle_callback_answered`] or
    /// [`Acd::handle_callback_failed`] (then hang up the agent's leg).
    CallbackCallCustomer {
        /// The request.
        callback: CallbackId,
        /// The agent waiting on the line.
        agent: AgentId,
        /// The number.
        number: String,
        /// Give up the attempt after this long.
        ring_timeout_ms: u64,
    },
}

/// A live view of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// The queue.
    pub queue: QueueId,
    /// Callers waiting (not being offered), callbacks included.
    pub waiting: usize,
    /// Entries of any kind (waiting, ringing an agent, retrying).
    pub entries: u32,
    /// Agents logged in.
    pub logged_in: u32,
    /// Agents logged in and not on a break.
    pub staffed: u32,
    /// Agents available right now.
    pub available: usize,
    /// Rolling mean handle time (ms).
    pub mean_handle_ms: u64,
}

/// How an entry is served.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EntryKind {
    Call(CallId),
    Callback {
        id: CallbackId,
        call: CallId,
        attempts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// In the wait index.
    Waiting,
    /// Out of the index until its retry timer.
    Paused,
    /// Ringing these agents.
    Offering(Vec<OfferId>),
    /// Callback: the agent answered, the customer is being called.
    CallingCustomer { agent: u32 },
}

#[derive(Debug, Clone)]
struct Entry {
    kind: EntryKind,
    queue: u32,
    number: String,
    service_number: Option<String>,
    priority: u8,
    /// When it entered this queue.
    entered: Now,
    key: WaitKey,
    min_level: u8,
    phase: Phase,
    /// Queue-to-queue overflows so far.
    hops: u8,
    /// Max wait passed while an offer rang: overflow when it fails.
    expired: bool,
    /// The agent whose offer failed last: skipped when the entry comes
    /// back after its retry delay (ring-no-answer moves on to the next
    /// agent; that agent can still take the caller later).
    last_failed: Option<u32>,
}

impl Entry {
    fn call(&self) -> CallId {
        match self.kind {
            EntryKind::Call(c) | EntryKind::Callback { call: c, .. } => c,
        }
    }

    fn is_callback(&self) -> bool {
        matches!(self.kind, EntryKind::Callback { .. })
    }
}

#[derive(Debug, Clone)]
struct Offer {
    entry: u64,
    agent: u32,
    queue: u32,
    at: Now,
}

#[derive(Debug, Clone)]
struct Connected {
    queue: u32,
    agent: u32,
    at: Now,
    hold_since: Option<Mono>,
    hold_ms: u64,
}

#[derive(Debug, Clone)]
struct Membership {
    queue: u32,
    level: u8,
    index: u32,
    calls_today: u32,
    talk_today_ms: u64,
    /// Filed in the queue's available set under this key.
    key: Option<AvailKey>,
}

#[derive(Debug, Clone)]
struct AgentRt {
    profile: AgentProfile,
    state: AgentState,
    since: Now,
    members: Vec<Membership>,
    idle_since: Mono,
    no_answer: u32,
    offer: Option<OfferId>,
    /// The call the agent is on (queue or not).
    call: Option<CallId>,
    /// The queue of the current queue call.
    queue: Option<u32>,
    /// Where a non-queue call returns to.
    resume: Option<AgentState>,
    wrapup_until: Option<Mono>,
    /// Queue and answer time of the last queue call, until ready again.
    handle_start: Option<(u32, Mono)>,
}

#[derive(Debug)]
struct QueueRt {
    cfg: QueueConfig,
    avail: AvailIndex,
    wait: WaitIndex,
    members: Vec<u32>,
    next_index: u32,
    rr_last: Option<u32>,
    handle: HandleTimes,
    logged_in: u32,
    staffed: u32,
    entries: u32,
    /// Removed by a reload: takes no new callers (see `reconfigure.rs`).
    retired: bool,
}

impl QueueRt {
    fn new(cfg: QueueConfig) -> Self {
        let random = cfg.strategy == crate::config::Strategy::Random;
        let handle = HandleTimes::new(
            usize::try_from(cfg.ewt.window).unwrap_or(usize::MAX),
            u64::from(cfg.ewt.default_handle_s) * 1000,
        );
        Self {
            cfg,
            avail: AvailIndex::new(random),
            wait: WaitIndex::default(),
            members: Vec::new(),
            next_index: 0,
            rr_last: None,
            handle,
            logged_in: 0,
            staffed: 0,
            entries: 0,
            retired: false,
        }
    }
}

/// Most queue-to-queue overflows per call (a cycle of queues overflowing
/// into each other would otherwise never end).
pub const MAX_OVERFLOW_HOPS: u8 = 8;

const DAY_MS: i64 = 86_400_000;

/// The ACD engine; see the crate docs for the run-loop contract.
pub struct Acd {
    cfg: AcdConfig,
    queues: Vec<QueueRt>,
    queue_ix: HashMap<QueueId, u32>,
    agents: Vec<Option<AgentRt>>,
    agent_ix: HashMap<AgentId, u32>,
    entries: HashMap<u64, Entry>,
    call_entry: HashMap<CallId, u64>,
    connected: HashMap<CallId, Connected>,
    offers: HashMap<OfferId, Offer>,
    timers: Timers,
    actions: VecDeque<Action>,
    events: VecDeque<QueueEvent>,
    seq: u64,
    next_id: u64,
    rng: StdRng,
    day: Option<i64>,
}

impl std::fmt::Debug for Acd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acd")
            .field("queues", &self.queues.len())
            .field("agents", &self.agent_ix.len())
            .field("entries", &self.entries.len())
            .field("offers", &self.offers.len())
            .field("connected", &self.connected.len())
            .finish()
    }
}

impl Acd {
    /// An engine with these queues and no agents.
    pub fn new(cfg: AcdConfig, queues: Vec<QueueConfig>) -> Result<Self> {
        cfg.validate()?;
        validate_queues(&queues)?;
        let queue_ix = queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let rng = StdRng::seed_from_u64(cfg.seed);
        Ok(Self {
            cfg,
            queues: queues.into_iter().map(QueueRt::new).collect(),
            queue_ix,
            agents: Vec::new(),
            agent_ix: HashMap::new(),
            entries: HashMap::new(),
            call_entry: HashMap::new(),
            connected: HashMap::new(),
            offers: HashMap::new(),
            timers: Timers::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            seq: 0,
            next_id: 1,
            rng,
            day: None,
        })
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next queue event (store it, publish it).
    pub fn poll_event(&mut self) -> Option<QueueEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline; call [`Acd::handle_timeout`] once it passed.
    pub fn poll_timeout(&self) -> Option<Mono> {
        self.timers.next()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Now) {
        self.touch(now);
        while let Some((at, timer)) = self.timers.pop_due(now.mono) {
            // Effects are stamped with the moment they were due: a driver
            // that wakes late still reports the configured timeouts.
            let t = now.at(at);
            match timer {
                Timer::Ring(offer) => self.ring_timeout(t, offer),
                Timer::Retry(e) => self.retry_due(t, e),
                Timer::MaxWait(e) => self.max_wait(t, e),
                Timer::Relax(e) => self.relax_due(t, e),
                Timer::Announce(e) => self.announce_due(t, e, false),
                Timer::Periodic(e) => self.announce_due(t, e, true),
                Timer::WrapUp(a) => self.wrap_up_due(t, a),
                Timer::DayRollover => self.day_rollover(t),
            }
        }
    }

    /// The queue's configuration.
    pub fn queue_config(&self, queue: &QueueId) -> Option<&QueueConfig> {
        self.queue_ix
            .get(queue)
            .map(|&q| &self.queues[q as usize].cfg)
    }

    /// A live view of a queue.
    pub fn queue_status(&self, queue: &QueueId) -> Option<QueueStatus> {
        let q = &self.queues[*self.queue_ix.get(queue)? as usize];
        Some(QueueStatus {
            queue: queue.clone(),
            waiting: q.wait.len(),
            entries: q.entries,
            logged_in: q.logged_in,
            staffed: q.staffed,
            available: q.avail.len(),
            mean_handle_ms: q.handle.mean_ms(),
        })
    }

    /// An agent's state.
    pub fn agent_state(&self, agent: &AgentId) -> Option<&AgentState> {
        self.agent_ix
            .get(agent)
            .and_then(|&a| self.agents[a as usize].as_ref())
            .map(|a| &a.state)
    }

    /// The estimated wait (ms) of a queued call, from its position now.
    pub fn estimated_wait_ms(&self, call: CallId) -> Option<u64> {
        let e = self.entries.get(self.call_entry.get(&call)?)?;
        let position = self.position(e);
        self.estimate_for(e.queue, position)
    }

    /// A queued call's 1-based position (1 while its offer rings).
    pub fn position_of(&self, call: CallId) -> Option<u32> {
        let e = self.entries.get(self.call_entry.get(&call)?)?;
        Some(self.position(e))
    }

    /// Armed timers (for tests and gauges).
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    fn estimate_for(&self, q: u32, position: u32) -> Option<u64> {
        let q = &self.queues[q as usize];
        let idle = u32::try_from(q.avail.len()).unwrap_or(u32::MAX);
        crate::ewt::estimate_wait_ms(position, q.staffed, idle, q.handle.mean_ms())
    }

    fn position(&self, e: &Entry) -> u32 {
        match e.phase {
            Phase::Waiting => self.queues[e.queue as usize].wait.position(&e.key),
            // Out of the index: count those ahead as if it were in.
            _ => {
                let w = &self.queues[e.queue as usize].wait;
                w.iter().filter(|k| *k < e.key).count() as u32 + 1
            }
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn queue_id(&self, q: u32) -> QueueId {
        self.queues[q as usize].cfg.name.clone()
    }

    fn agent(&self, a: u32) -> &AgentRt {
        self.agents[a as usize]
            .as_ref()
            .expect("agent indexes in use refer to present agents")
    }

    fn agent_mut(&mut self, a: u32) -> &mut AgentRt {
        self.agents[a as usize]
            .as_mut()
            .expect("agent indexes in use refer to present agents")
    }

    fn agent_name(&self, a: u32) -> AgentId {
        self.agent(a).profile.name.clone()
    }

    fn lookup_agent(&self, agent: &AgentId) -> Result<u32> {
        self.agent_ix
            .get(agent)
            .copied()
            .ok_or_else(|| Error::UnknownAgent(agent.clone()))
    }

    fn event(
        &mut self,
        now: Now,
        call: Option<CallId>,
        queue: Option<u32>,
        agent: Option<u32>,
        kind: EventKind,
    ) {
        self.seq += 1;
        let queue = queue.map(|q| self.queue_id(q));
        let agent = agent.map(|a| self.agent_name(a));
        self.events.push_back(QueueEvent {
            seq: self.seq,
            at_unix_ms: now.unix_ms,
            call,
            queue,
            agent,
            kind,
        });
    }

    fn local_day(&self, unix_ms: u64) -> i64 {
        let local =
            i64::try_from(unix_ms).unwrap_or(i64::MAX) + i64::from(self.cfg.utc_offset_s) * 1000;
        local.div_euclid(DAY_MS)
    }

    /// Arms the midnight timer on the first input and catches a missed one.
    fn touch(&mut self, now: Now) {
        let today = self.local_day(now.unix_ms);
        match self.day {
            None => {
                self.day = Some(today);
                self.arm_midnight(now);
            }
            Some(d) if d != today => self.day_rollover(now),
            Some(_) => {}
        }
    }

    fn arm_midnight(&mut self, now: Now) {
        let local = i64::try_from(now.unix_ms).unwrap_or(i64::MAX)
            + i64::from(self.cfg.utc_offset_s) * 1000;
        let until = DAY_MS - local.rem_euclid(DAY_MS);
        self.timers
            .set(Timer::DayRollover, now.mono.plus_ms(until.unsigned_abs()));
    }

    fn day_rollover(&mut self, now: Now) {
        self.day = Some(self.local_day(now.unix_ms));
        self.arm_midnight(now);
        for a in 0..self.agents.len() {
            let Some(agent) = self.agents[a].as_mut() else {
                continue;
            };
            for m in &mut agent.members {
                m.calls_today = 0;
                m.talk_today_ms = 0;
            }
            self.refile_daily(a as u32);
        }
    }
}
