//! Queue calls: the [`QueueApp`] application keeps one caller in a skill
//! group until an agent takes it. The decisions — who is offered the call,
//! when an offer gives up, when the caller overflows — belong to the
//! contact-center engine (`crate::queues`, the `acd` crate) that runs beside
//! the call engine; this application only carries them out on the call:
//!
//! - the caller's INVITE is answered by pbx's media endpoint with music on
//!   hold and the call enters the queue ([`AcdRequest::Enter`]);
//! - an [`AcdEvent::Offer`] dials the agent's phones (all of their contacts,
//!   [`Action::DialTagged`]) while the caller keeps hearing music; legs are
//!   matched to offers by [`LegEvent::Placed`];
//! - when an agent's phone answers, the music stops and the answer is
//!   reported; [`AcdEvent::Connect`] bridges caller and agent, and the call
//!   goes on as a plain [`Bridge`] (hold, transfers, hangups);
//! - an offer that fails (no answer, busy, offline) is reported with its
//!   status, an [`AcdEvent::CancelOffer`] hangs its legs up;
//! - key presses while waiting go to the engine (callback requests),
//!   announcements are played between the music, an overflow dials its
//!   number instead (like an IVR transfer) or ends the call;
//! - the caller hanging up, at any point, is reported once.

use std::collections::HashMap;
use std::path::PathBuf;

use super::app::{AcdEvent, AcdRequest, Action, AppView, Application, LegEvent, LegState};
use super::bridge::Bridge;
use super::call::{CallInput, HangupCause, Side};
use super::LegId;

/// Play ids of the music and of announcements.
const MUSIC: u64 = 1;
const ANNOUNCEMENT: u64 = 2;

/// Where the call stands.
#[derive(Debug)]
enum Phase {
    /// Waiting for the caller's INVITE.
    Starting,
    /// In the queue (music, offers ringing).
    Waiting,
    /// An agent's phone answered; the engine decides whether it connects.
    Answered { offer: u64, leg: LegId },
    /// Talking to the agent.
    Bridged(Bridge),
    /// Overflowing to another number.
    Leaving,
    /// Over.
    Done,
}

/// One queue call; see the module docs.
#[derive(Debug)]
pub struct QueueApp {
    queue: String,
    priority: i32,
    music: Option<PathBuf>,
    phase: Phase,
    /// Agent legs and the offer each belongs to.
    legs: HashMap<LegId, u64>,
    /// The caller's hangup was reported to the engine.
    reported: bool,
}

impl QueueApp {
    /// A caller for `queue`, hearing `music` (a WAV looped; None: silence).
    pub fn new(queue: impl Into<String>, priority: i32, music: Option<PathBuf>) -> Self {
        Self {
            queue: queue.into(),
            priority,
            music,
            phase: Phase::Starting,
            legs: HashMap::new(),
            reported: false,
        }
    }

    fn play_music(&self, out: &mut Vec<Action>) {
        if let Some(m) = &self.music {
            out.push(Action::Play {
                leg: LegId::CALLER,
                id: MUSIC,
                prompts: vec![m.clone()],
                repeat: true,
            });
        }
    }

    /// Hangs up every leg of `offer`.
    fn cancel(&mut self, view: &AppView<'_>, offer: u64, out: &mut Vec<Action>) {
        let live: Vec<LegId> = view.live_outbound().collect();
        self.legs.retain(|leg, o| {
            if *o == offer {
                if live.contains(leg) {
                    out.push(Action::Hangup(*leg));
                }
                false
            } else {
                true
            }
        });
    }

    /// The caller is gone: tell the engine once, end the agent legs.
    fn caller_gone(&mut self, view: &AppView<'_>, out: &mut Vec<Action>) {
        for leg in view.live_outbound() {
            out.push(Action::Hangup(leg));
        }
        if !self.reported {
            self.reported = true;
            out.push(Action::Acd(AcdRequest::Hangup));
        }
        self.phase = Phase::Done;
        out.push(Action::Call(CallInput::Hangup(
            HangupCause::Normal,
            Side::Caller,
        )));
    }

    fn waiting(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        match event {
            LegEvent::Acd(AcdEvent::Offer { offer, agent, .. }) => out.push(Action::DialTagged {
                number: agent.clone(),
                tag: *offer,
            }),
            LegEvent::Placed(leg, offer) => {
                self.legs.insert(*leg, *offer);
            }
            LegEvent::Answered(leg, _) => {
                let Some(&offer) = self.legs.get(leg) else {
                    return out.push(Action::Hangup(*leg));
                };
                // The agent's answer re-anchored the relay: the music must
                // stop now, before the engine's verdict, or its packets
                // would reach the agent.
                out.push(Action::StopPlay {
                    leg: LegId::CALLER,
                    id: MUSIC,
                });
                out.push(Action::ReleaseMedia { leg: LegId::CALLER });
                for other in view.live_outbound().filter(|l| l != leg) {
                    if self.legs.get(&other) == Some(&offer) {
                        out.push(Action::Hangup(other));
                    }
                }
                self.phase = Phase::Answered { offer, leg: *leg };
                out.push(Action::Acd(AcdRequest::OfferAnswered(offer)));
            }
            LegEvent::Failed(leg, status) => self.leg_failed(view, *leg, *status, out),
            LegEvent::Ended(leg) if *leg != LegId::CALLER => self.leg_failed(view, *leg, 487, out),
            LegEvent::Acd(AcdEvent::CancelOffer(offer)) => self.cancel(view, *offer, out),
            LegEvent::Acd(AcdEvent::Announce(prompts)) => {
                out.push(Action::StopPlay {
                    leg: LegId::CALLER,
                    id: MUSIC,
                });
                out.push(Action::Play {
                    leg: LegId::CALLER,
                    id: ANNOUNCEMENT,
                    prompts: prompts.clone(),
                    repeat: false,
                });
            }
            LegEvent::PlayDone(LegId::CALLER, ANNOUNCEMENT) => self.play_music(out),
            LegEvent::Dtmf(LegId::CALLER, key) => out.push(Action::Acd(AcdRequest::Dtmf(*key))),
            LegEvent::Acd(AcdEvent::Overflow(target)) => self.overflow(view, target.clone(), out),
            LegEvent::Acd(AcdEvent::CallbackAccepted) => {
                // The caller's hangup is no abandon now: the engine keeps
                // its place as a callback request.
                self.reported = true;
                self.end(view, HangupCause::Normal, out);
            }
            _ => {}
        }
    }

    /// A leg of an offer failed: when it was the offer's last, the engine
    /// hears of it (and offers the caller to the next agent).
    fn leg_failed(&mut self, view: &AppView<'_>, leg: LegId, status: u16, out: &mut Vec<Action>) {
        let Some(offer) = self.legs.remove(&leg) else {
            return;
        };
        let live: Vec<LegId> = view.live_outbound().filter(|l| *l != leg).collect();
        let others = self
            .legs
            .iter()
            .any(|(l, o)| *o == offer && live.contains(l));
        if !others {
            self.legs.retain(|_, o| *o != offer);
            out.push(Action::Acd(AcdRequest::OfferFailed { offer, status }));
        }
    }

    fn overflow(&mut self, view: &AppView<'_>, target: Option<String>, out: &mut Vec<Action>) {
        for leg in view.live_outbound() {
            out.push(Action::Hangup(leg));
        }
        self.legs.clear();
        self.reported = true;
        match target {
            Some(number) => {
                self.phase = Phase::Leaving;
                out.push(Action::ReleaseMedia { leg: LegId::CALLER });
                out.push(Action::Call(CallInput::Transferred(number.clone())));
                out.push(Action::DialNumber { number });
            }
            None => self.end(view, HangupCause::Busy, out),
        }
    }

    /// pbx ends the call (busy treatment, callback accepted).
    fn end(&mut self, view: &AppView<'_>, cause: HangupCause, out: &mut Vec<Action>) {
        for leg in view.live_outbound() {
            out.push(Action::Hangup(leg));
        }
        out.push(Action::Hangup(LegId::CALLER));
        out.push(Action::Call(CallInput::Hangup(cause, Side::Pbx)));
        self.phase = Phase::Done;
    }
}

impl Application for QueueApp {
    fn name(&self) -> &'static str {
        "queue"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        if let LegEvent::Ended(LegId::CALLER) = event {
            if !matches!(self.phase, Phase::Bridged(_) | Phase::Done) {
                return self.caller_gone(view, out);
            }
        }
        if let LegEvent::Acd(AcdEvent::Refused) = event {
            self.reported = true;
            return self.end(view, HangupCause::Rejected(480), out);
        }
        match &mut self.phase {
            Phase::Starting => {
                if let LegEvent::Incoming { .. } = event {
                    out.push(Action::AnswerMedia { leg: LegId::CALLER });
                    out.push(Action::Call(CallInput::Answered));
                    self.play_music(out);
                    self.phase = Phase::Waiting;
                    out.push(Action::Acd(AcdRequest::Enter {
                        queue: self.queue.clone(),
                        number: view.call.caller().to_owned(),
                        priority: self.priority,
                    }));
                }
            }
            Phase::Waiting => self.waiting(view, event, out),
            Phase::Answered { offer, leg } => {
                let (offer, leg) = (*offer, *leg);
                match event {
                    LegEvent::Acd(AcdEvent::Connect(o)) if *o == offer => {
                        self.legs.clear();
                        out.push(Action::Call(CallInput::Bridged(LegId::CALLER, leg)));
                        self.phase = Phase::Bridged(Bridge::bridged(leg));
                    }
                    LegEvent::Acd(AcdEvent::CancelOffer(o)) if *o == offer => {
                        // Answered too late: back to the queue's music.
                        self.cancel(view, offer, out);
                        out.push(Action::AnswerMedia { leg: LegId::CALLER });
                        self.play_music(out);
                        self.phase = Phase::Waiting;
                    }
                    LegEvent::Ended(l) | LegEvent::Failed(l, _) if *l == leg => {
                        self.legs.remove(&leg);
                        out.push(Action::Acd(AcdRequest::OfferFailed { offer, status: 487 }));
                        out.push(Action::AnswerMedia { leg: LegId::CALLER });
                        self.play_music(out);
                        self.phase = Phase::Waiting;
                    }
                    other => self.waiting(view, other, out),
                }
            }
            Phase::Bridged(bridge) => {
                bridge.handle(view, event, out);
                let over = view
                    .legs
                    .iter()
                    .filter(|l| l.id != LegId::CALLER)
                    .all(|l| l.state == LegState::Ended)
                    || matches!(event, LegEvent::Ended(LegId::CALLER));
                if over && !self.reported {
                    self.reported = true;
                    out.push(Action::Acd(AcdRequest::Completed));
                }
            }
            Phase::Leaving => match event {
                LegEvent::Answered(leg, _) => {
                    for other in view.live_outbound().filter(|l| l != leg) {
                        out.push(Action::Hangup(other));
                    }
                    out.push(Action::Call(CallInput::Bridged(LegId::CALLER, *leg)));
                    self.phase = Phase::Bridged(Bridge::bridged(*leg));
                }
                LegEvent::Failed(..) if view.live_outbound().next().is_none() => {
                    self.end(view, HangupCause::NoAnswer, out);
                }
                LegEvent::Ended(LegId::CALLER) => self.caller_gone(view, out),
                LegEvent::HandedOver => self.phase = Phase::Done,
                _ => {}
            },
            Phase::Done => {}
        }
    }
}
