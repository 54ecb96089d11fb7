//! Calls through SIP trunks.
//!
//! [`TrunkRoute`] (outbound): tries the candidate trunks of least-cost
//! routing one after the other. Each attempt takes one of the trunk's
//! `max_calls` slots (a full trunk is skipped) and sends one INVITE with the
//! trunk's identity and credentials; a 5xx, a 408 or no provisional response
//! within the trunk's setup timeout moves on to the next trunk. Everything
//! else — ringing, early media, the answer, re-INVITEs, transfers, hangups,
//! and the final failure — is the [`Bridge`]'s business: the route wraps a
//! bridge and hands it every event it does not consume.
//!
//! [`Classified`] (inbound): tags a call for its record (direction, DID,
//! trunk) and hands it to the application of the DID's target.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_stack::ua::Body;

use super::app::{Action, AppView, Application, CallClass, Direction, LegEvent, LegSpec};
use super::bridge::Bridge;
use super::call::{CallInput, HangupCause, Side};
use super::LegId;
use crate::trunks::normalize::e164;
use crate::trunks::{CallSlot, Slots};

/// One trunk a call may leave through.
#[derive(Debug, Clone)]
pub struct TrunkAttempt {
    /// The trunk's index (its call slots).
    pub trunk: usize,
    /// The trunk's name (records, logs).
    pub name: String,
    /// The INVITE for this trunk.
    pub leg: LegSpec,
    /// The trunk's `max_calls`.
    pub max_calls: Option<u32>,
    /// Without a provisional response by then, the next trunk is tried.
    pub setup_timeout: Duration,
}

/// The attempt in flight.
#[derive(Debug)]
struct Current {
    /// Held for the whole call once answered.
    _slot: CallSlot,
    /// None once the trunk responded (ringing, early media, answer).
    deadline: Option<Instant>,
}

/// Outbound call through trunks with failover; see the module docs.
#[derive(Debug)]
pub struct TrunkRoute {
    attempts: VecDeque<TrunkAttempt>,
    slots: Arc<Slots>,
    bridge: Bridge,
    offer: Option<Body>,
    current: Option<Current>,
    answered: bool,
    ended: bool,
}

/// Whether a trunk's final status lets the next trunk try (RFC 3261 §21.5
/// server failures, §21.4.9 timeout): the number itself is fine.
pub fn fails_over(status: u16) -> bool {
    status == 408 || (500..600).contains(&status)
}

impl TrunkRoute {
    /// A route over `attempts`, best first.
    pub fn new(attempts: Vec<TrunkAttempt>, slots: Arc<Slots>) -> Self {
        Self {
            attempts: attempts.into(),
            slots,
            bridge: Bridge::new(Vec::new()),
            offer: None,
            current: None,
            answered: false,
            ended: false,
        }
    }

    /// Places the next attempt whose trunk has a free slot; false if none is left.
    fn next(&mut self, view: &AppView<'_>, out: &mut Vec<Action>) -> bool {
        self.current = None;
        while let Some(a) = self.attempts.pop_front() {
            let Some(slot) = self.slots.try_acquire(a.trunk, a.max_calls) else {
                tracing::debug!(trunk = %a.name, "trunk full, trying the next");
                continue;
            };
            tracing::debug!(trunk = %a.name, uri = %a.leg.uri, "call out through trunk");
            out.push(Action::Classify(CallClass {
                direction: Direction::Outbound,
                trunk: Some(a.name.clone()),
                callee_e164: a.leg.uri.user.as_deref().and_then(e164),
                ..CallClass::default()
            }));
            out.push(Action::DialLeg {
                leg: Box::new(a.leg),
                offer: self.offer.clone(),
            });
            self.current = Some(Current {
                _slot: slot,
                deadline: Some(view.now.instant + a.setup_timeout),
            });
            return true;
        }
        false
    }

    /// No trunk could take the call at all.
    fn refuse(&mut self, status: u16, out: &mut Vec<Action>) {
        self.ended = true;
        out.push(Action::Classify(CallClass {
            direction: Direction::Outbound,
            ..CallClass::default()
        }));
        let cause = HangupCause::of_status(status);
        out.push(Action::Reject {
            leg: LegId::CALLER,
            cause,
        });
        out.push(Action::Call(CallInput::Hangup(cause, Side::Pbx)));
    }

    /// The attempt `leg` failed with `status`: the next trunk, or the
    /// bridge's ordinary failure handling when none is left.
    fn failed(&mut self, view: &AppView<'_>, leg: LegId, status: u16, out: &mut Vec<Action>) {
        if fails_over(status) && self.next(view, out) {
            return;
        }
        self.bridge
            .handle(view, &LegEvent::Failed(leg, status), out);
    }
}

impl Application for TrunkRoute {
    fn name(&self) -> &'static str {
        "trunk"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        let before_answer = !self.answered && !self.ended;
        match event {
            LegEvent::Incoming { offer } => {
                self.offer.clone_from(offer);
                if !self.next(view, out) {
                    self.refuse(503, out);
                }
            }
            LegEvent::Failed(leg, status) if before_answer && *leg != LegId::CALLER => {
                self.failed(view, *leg, *status, out);
            }
            LegEvent::Timer if before_answer => {
                let due = self
                    .current
                    .as_ref()
                    .and_then(|c| c.deadline)
                    .is_some_and(|d| d <= view.now.instant);
                if let (true, Some(leg)) = (due, view.live_outbound().next()) {
                    tracing::debug!(%leg, "trunk did not respond in time");
                    out.push(Action::Hangup(leg));
                    self.failed(view, leg, 408, out);
                }
            }
            other => {
                match other {
                    LegEvent::Ringing(_) | LegEvent::EarlyMedia(..) => {
                        if let Some(c) = &mut self.current {
                            c.deadline = None;
                        }
                    }
                    LegEvent::Answered(..) => {
                        self.answered = true;
                        if let Some(c) = &mut self.current {
                            c.deadline = None;
                        }
                    }
                    _ => {}
                }
                self.bridge.handle(view, other, out);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.answered || self.ended {
            return None;
        }
        self.current.as_ref().and_then(|c| c.deadline)
    }
}

/// An inbound trunk call: classified for the record, then run by `inner`.
pub struct Classified {
    class: Option<CallClass>,
    inner: Box<dyn Application>,
}

impl Classified {
    /// Tags the call with `class` on arrival, then delegates to `inner`.
    pub fn new(class: CallClass, inner: Box<dyn Application>) -> Self {
        Self {
            class: Some(class),
            inner,
        }
    }
}

impl Application for Classified {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        if let Some(class) = self.class.take() {
            out.push(Action::Classify(class));
        }
        self.inner.handle(view, event, out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}
