//! Dial + bridge: ring every target in parallel (forking), pass ringing and
//! early media back, connect the caller to the first leg that answers and
//! hang up the others; then relay re-INVITEs (hold / resume) between the two
//! legs and end both when either hangs up (RFC 7092 §3.1 signalling-only
//! B2BUA behaviour with media anchored by the engine).
//!
//! Blind transfer (RFC 3515): when the answering party REFERs the caller to
//! another number, that number is dialed with the caller's media; its answer
//! replaces the transferor (who gets NOTIFY 200 and a BYE, unless it hung up
//! already), a failure is reported by NOTIFY and ends the call if the
//! transferor is gone. Transfers asked by the caller are refused (501). A
//! number that is an application (IVR, conference room) takes the caller
//! over ([`LegEvent::HandedOver`]): the transferor gets NOTIFY 200 and a BYE.
//!
//! Attended transfer (RFC 3891) is carried out by the engine, which moves
//! the target's leg into this call ([`LegEvent::Replaced`]): the bridge then
//! connects the remaining party to the new leg.

use super::app::{Action, AppView, Application, DialTarget, LegEvent};
use super::call::{CallInput, HangupCause, Side};
use super::sdp::is_hold;
use super::LegId;
use sip_stack::ua::Body;

/// The application of a call between two parties.
#[derive(Debug)]
pub struct Bridge {
    targets: Vec<DialTarget>,
    /// The leg on the caller's side ([`LegId::CALLER`] unless an attended
    /// transfer replaced it).
    caller: LegId,
    winner: Option<LegId>,
    /// The leg whose re-INVITE waits for the other leg's answer.
    reoffer_from: Option<LegId>,
    /// The most telling failure status of the forks so far.
    best_failure: Option<u16>,
    ended: bool,
    transfer: Option<Transfer>,
}

/// A blind transfer in progress.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    /// The transferor's leg.
    from: LegId,
    /// The transferor hung up already (common right after the 202).
    from_gone: bool,
}

impl Bridge {
    /// Dials `targets` once the caller's INVITE arrives.
    pub fn new(targets: Vec<DialTarget>) -> Self {
        Self {
            targets,
            caller: LegId::CALLER,
            winner: None,
            reoffer_from: None,
            best_failure: None,
            ended: false,
            transfer: None,
        }
    }

    /// A bridge whose caller is connected to `winner` already: an
    /// application (IVR transfer) hands over an answered call.
    pub fn bridged(winner: LegId) -> Self {
        Self {
            winner: Some(winner),
            ..Self::new(Vec::new())
        }
    }

    fn other(&self, leg: LegId) -> Option<LegId> {
        if leg == self.caller {
            self.winner
        } else {
            Some(self.caller)
        }
    }

    /// An attended transfer put `new` where `old` was.
    fn replaced(&mut self, old: LegId, new: LegId) {
        if old == self.caller {
            self.caller = new;
        } else if Some(old) == self.winner {
            self.winner = Some(new);
        }
        if self.reoffer_from == Some(old) {
            self.reoffer_from = None;
        }
    }

    /// RFC 3261 §16.7 step 6 in spirit: 6xx beats busy beats anything else.
    fn offer_failure(&mut self, status: u16) {
        let rank = |s: u16| match s {
            600..=699 => 3,
            486 => 2,
            _ => 1,
        };
        if self.best_failure.is_none_or(|b| rank(status) > rank(b)) {
            self.best_failure = Some(status);
        }
    }

    /// The transfer target answered: it replaces the transferor.
    fn transfer_answered(&mut self, leg: LegId, out: &mut Vec<Action>) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        out.push(Action::NotifyTransfer {
            leg: t.from,
            status: 200,
        });
        if !t.from_gone {
            out.push(Action::Hangup(t.from));
        }
        self.winner = Some(leg);
        out.push(Action::Call(CallInput::Bridged(self.caller, leg)));
    }

    /// The transfer target is an application (IVR, conference room) that
    /// takes the caller over: the transfer succeeded for the transferor.
    fn handed_over(&mut self, out: &mut Vec<Action>) {
        self.ended = true;
        let Some(t) = self.transfer.take() else {
            return;
        };
        out.push(Action::NotifyTransfer {
            leg: t.from,
            status: 200,
        });
        if !t.from_gone {
            out.push(Action::Hangup(t.from));
        }
    }

    /// The transfer target failed: tell the transferor; without it the call ends.
    fn transfer_failed(&mut self, view: &AppView<'_>, status: u16, out: &mut Vec<Action>) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        out.push(Action::NotifyTransfer {
            leg: t.from,
            status,
        });
        if t.from_gone {
            out.push(Action::Hangup(self.caller));
            self.end(view, HangupCause::Normal, Side::Callee, out);
        }
    }

    /// A re-INVITE on one leg is relayed to the other (hold / resume are
    /// reported to the call); glare or no other leg yet: 491 (RFC 3261 §14.2).
    fn reoffer(&mut self, leg: LegId, sdp: Option<&Body>, out: &mut Vec<Action>) {
        match self.other(leg) {
            Some(other) if self.reoffer_from.is_none() => {
                self.reoffer_from = Some(leg);
                let side = if leg == self.caller {
                    Side::Caller
                } else {
                    Side::Callee
                };
                if let Some(body) = sdp {
                    let input = if is_hold(&body.data) {
                        CallInput::Hold(side)
                    } else {
                        CallInput::Resume(side)
                    };
                    out.push(Action::Call(input));
                }
                out.push(Action::Reinvite {
                    leg: other,
                    sdp: sdp.cloned(),
                });
            }
            _ => out.push(Action::RejectReoffer { leg, status: 491 }),
        }
    }

    fn end(&mut self, view: &AppView<'_>, cause: HangupCause, side: Side, out: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        self.ended = true;
        for leg in view.live_outbound() {
            out.push(Action::Hangup(leg));
        }
        out.push(Action::Call(CallInput::Hangup(cause, side)));
    }
}

impl Application for Bridge {
    fn name(&self) -> &'static str {
        "bridge"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        match event {
            LegEvent::Incoming { offer } => out.push(Action::Dial {
                targets: std::mem::take(&mut self.targets),
                offer: offer.clone(),
            }),
            LegEvent::Ringing(_) if self.winner.is_none() => {
                out.push(Action::Progress {
                    leg: LegId::CALLER,
                    status: 180,
                    sdp: None,
                });
                out.push(Action::Call(CallInput::Ringing));
            }
            LegEvent::EarlyMedia(_, sdp) if self.winner.is_none() => {
                out.push(Action::Progress {
                    leg: LegId::CALLER,
                    status: 183,
                    sdp: Some(sdp.clone()),
                });
                out.push(Action::Call(CallInput::EarlyMedia));
            }
            LegEvent::Answered(leg, _) if self.transfer.is_some() && !self.ended => {
                self.transfer_answered(*leg, out);
            }
            LegEvent::Failed(leg, status)
                if self.transfer.is_some() && Some(*leg) != self.winner =>
            {
                self.transfer_failed(view, *status, out);
            }
            LegEvent::Ended(leg) if self.transfer.is_some() && Some(*leg) == self.winner => {
                if let Some(t) = &mut self.transfer {
                    t.from_gone = true;
                }
            }
            LegEvent::TransferRequested(leg, number) => {
                if Some(*leg) == self.winner && self.transfer.is_none() && !self.ended {
                    self.transfer = Some(Transfer {
                        from: *leg,
                        from_gone: false,
                    });
                    out.push(Action::Call(CallInput::Transferred(number.clone())));
                    out.push(Action::DialNumber {
                        number: number.clone(),
                    });
                } else {
                    out.push(Action::NotifyTransfer {
                        leg: *leg,
                        status: 501,
                    });
                }
            }
            LegEvent::Answered(leg, sdp) => {
                if self.winner.is_some() || self.ended {
                    // A second fork answered too late (RFC 3261 §13.2.2.4).
                    out.push(Action::Hangup(*leg));
                    return;
                }
                self.winner = Some(*leg);
                out.push(Action::Answer {
                    leg: LegId::CALLER,
                    sdp: sdp.clone(),
                });
                for other in view.live_outbound().filter(|l| l != leg) {
                    out.push(Action::Hangup(other));
                }
                out.push(Action::Call(CallInput::Answered));
                out.push(Action::Call(CallInput::Bridged(LegId::CALLER, *leg)));
            }
            LegEvent::Failed(leg, status) => {
                self.offer_failure(*status);
                let others_live = view.live_outbound().any(|l| l != *leg);
                if self.winner.is_none() && !others_live && !self.ended {
                    let cause = HangupCause::of_status(self.best_failure.unwrap_or(*status));
                    out.push(Action::Reject {
                        leg: LegId::CALLER,
                        cause,
                    });
                    self.end(view, cause, Side::Callee, out);
                }
            }
            LegEvent::Ended(leg) if *leg == self.caller => {
                let cause = if self.winner.is_some() {
                    HangupCause::Normal
                } else {
                    HangupCause::Cancelled
                };
                self.end(view, cause, Side::Caller, out);
            }
            LegEvent::Ended(leg) if Some(*leg) == self.winner => {
                out.push(Action::Hangup(self.caller));
                self.end(view, HangupCause::Normal, Side::Callee, out);
            }
            LegEvent::Reoffer(leg, sdp) => self.reoffer(*leg, sdp.as_ref(), out),
            LegEvent::Updated(_, sdp) => {
                if let Some(from) = self.reoffer_from.take() {
                    out.push(Action::AnswerReoffer {
                        leg: from,
                        sdp: sdp.clone(),
                    });
                }
            }
            LegEvent::ReofferFailed(_, status) => {
                if let Some(from) = self.reoffer_from.take() {
                    out.push(Action::RejectReoffer {
                        leg: from,
                        status: *status,
                    });
                }
            }
            LegEvent::Dtmf(leg, digit) => out.push(Action::Call(CallInput::Dtmf(*leg, *digit))),
            LegEvent::HandedOver => self.handed_over(out),
            LegEvent::Replaced { old, new } => self.replaced(*old, *new),
            _ => {}
        }
    }
}
