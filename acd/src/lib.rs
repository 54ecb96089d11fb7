//! Automatic call distribution for pbx, sans-IO: agents with one state
//! across every queue, skill-group queues with eight strategies and
//! relaxing skill rules, one event-driven matcher across all queues, honest
//! wait estimates, callbacks that keep the caller's place, sequence-numbered
//! queue events, and the report formulas of SPEC §6 / §10 / §11 / §13.
//! No SIP, no sockets, no tokio, no clock reads: the driver (pbx-core's
//! queue `Application`) feeds inputs and performs outputs.
//!
//! # Run-loop contract
//! One [`Acd`] serves every queue. The driver:
//! 1. calls a `handle_*` method for each input — a caller enters
//!    ([`Acd::handle_caller_enter`]), hangs up ([`Acd::handle_hangup`]),
//!    presses a key ([`Acd::handle_dtmf`]); an agent's offer is answered or
//!    fails ([`Acd::handle_offer_answered`], [`Acd::handle_offer_failed`]);
//!    an agent logs in, breaks, is ready, starts or ends a non-queue call;
//!    a callback's customer answers or not — always with the current
//!    [`Now`] (monotonic ms for timers, Unix ms for stamps);
//! 2. drains [`Acd::poll_action`] until `None` and performs each
//!    [`Action`] (play music, announce, ring an agent, cancel, bridge,
//!    overflow, dial a callback);
//! 3. drains [`Acd::poll_event`] and stores / publishes each
//!    [`QueueEvent`] (the single source for reports and webhooks);
//! 4. sleeps until the next input or [`Acd::poll_timeout`], whichever comes
//!    first, and then calls [`Acd::handle_timeout`].
//!
//! Offers the engine withdrew ([`Action::CancelOffer`]) are gone: a late
//! answer to one gets [`Error::UnknownOffer`] and the driver hangs that leg up.
//!
//! ```
//! use acd::{Acd, AcdConfig, Action, AgentId, AgentProfile, CallId, CallerInfo, Now, QueueConfig, QueueId};
//!
//! let mut acd = Acd::new(AcdConfig::default(), vec![QueueConfig::named("sales")]).unwrap();
//! let mut now = Now::new(0, 1_764_000_000_000);
//! acd.add_agent(now, AgentProfile::new("alice", &["sales:5"]).unwrap()).unwrap();
//! acd.handle_agent_login(now, &AgentId::from("alice")).unwrap();
//! acd.handle_caller_enter(now, CallerInfo {
//!     call: CallId(1),
//!     queue: QueueId::from("sales"),
//!     number: "+31201234567".into(),
//!     service_number: None,
//!     priority: 0,
//! }).unwrap();
//! loop {
//!     while let Some(action) = acd.poll_action() {
//!         match action {
//!             // Ring alice; here she answers at once.
//!             Action::Offer { offer, .. } => acd.handle_offer_answered(now, offer).unwrap(),
//!             Action::Connect { call, .. } => acd.handle_hangup(now.plus_ms(60_000), call),
//!             _ => {} // music on hold, announcements, ...
//!         }
//!     }
//!     while let Some(event) = acd.poll_event() {
//!         let _ = event.kind.name(); // store and publish
//!     }
//!     match acd.poll_timeout() {
//!         // The driver would sleep until then (or the next input).
//!         Some(at) if at.0 < 300_000 => {
//!             now = now.at(at);
//!             acd.handle_timeout(now);
//!         }
//!         _ => break,
//!     }
//! }
//! assert_eq!(acd.agent_state(&AgentId::from("alice")), Some(&acd::AgentState::Available));
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod agent;
pub mod callback;
pub mod config;
mod engine;
pub mod events;
pub mod ewt;
pub mod ids;
mod matcher;
pub mod missed;
pub mod repeat;
pub mod sim;
pub mod state;
pub mod stats;
mod strategy;
mod timers;

pub use agent::{AgentProfile, ProfileError, Skill, SkillError};
pub use callback::CallbackRequest;
pub use config::{
    AcdConfig, AnnounceConfig, CallbackConfig, ConfigError, EwtConfig, LimitsConfig,
    OverflowTarget, QueueConfig, RelaxStep, Strategy,
};
pub use engine::{
    Acd, Action, AgentSnapshot, Announcement, CallerInfo, CancelReason, Error, QueueStatus,
    ReloadSummary, Result, MAX_OVERFLOW_HOPS,
};
pub use events::{EventKind, OfferFailure, OverflowReason, QueueEvent};
pub use ids::{AgentId, CallId, CallbackId, Mono, Now, OfferId, QueueId, ReasonCode};
pub use state::{AgentState, AgentStateRecord, CallKind, StateCause, StateError};
