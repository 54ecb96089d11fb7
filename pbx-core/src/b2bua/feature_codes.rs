//! Agents' feature codes, dialed from their own phones: `*51` logs the
//! agent in or out (a toggle), `*52` takes a break, `*53` is ready again
//! (and ends wrap-up early). pbx answers, the contact-center engine carries
//! the operation out for the calling user, and a prompt says how it went
//! (`thanks` when done, `error` when refused — not an agent, a break during
//! a call), then pbx hangs up.

use std::path::PathBuf;

use super::app::{AcdEvent, AcdRequest, Action, AppView, Application, LegEvent};
use super::call::{CallInput, HangupCause, Side};
use super::LegId;

/// The code for an operation, and back.
pub const CODES: [(&str, &str); 3] = [("*51", "toggle"), ("*52", "break"), ("*53", "ready")];

/// The operation of a dialed feature code.
pub fn op_of(dialed: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == dialed).map(|(_, op)| *op)
}

/// One feature-code call.
#[derive(Debug)]
pub struct AgentFeature {
    op: &'static str,
    prompts: PathBuf,
    done: bool,
}

impl AgentFeature {
    /// A call carrying out `op`; its prompts in `prompts`.
    pub fn new(op: &'static str, prompts: &std::path::Path) -> Self {
        Self {
            op,
            prompts: prompts.to_owned(),
            done: false,
        }
    }
}

impl Application for AgentFeature {
    fn name(&self) -> &'static str {
        "agent-feature"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        match event {
            LegEvent::Incoming { .. } => {
                out.push(Action::AnswerMedia { leg: LegId::CALLER });
                out.push(Action::Call(CallInput::Answered));
                out.push(Action::Acd(AcdRequest::Agent {
                    agent: view.call.caller().to_owned(),
                    op: self.op.to_owned(),
                }));
            }
            LegEvent::Acd(AcdEvent::AgentDone(ok)) => {
                let prompt = if *ok { "thanks.wav" } else { "error.wav" };
                out.push(Action::Play {
                    leg: LegId::CALLER,
                    id: 1,
                    prompts: vec![self.prompts.join(prompt)],
                    repeat: false,
                });
            }
            LegEvent::PlayDone(LegId::CALLER, 1) if !self.done => {
                self.done = true;
                out.push(Action::Hangup(LegId::CALLER));
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Normal,
                    Side::Pbx,
                )));
            }
            LegEvent::Ended(LegId::CALLER) if !self.done => {
                self.done = true;
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Normal,
                    Side::Caller,
                )));
            }
            _ => {}
        }
    }
}
