//! Commands from outside SIP — the admin API, the CLI, shutdown, and later
//! the contact-center layer (originate, queue and agent operations): the
//! driver hands them to [`Engine::handle_command`] between SIP inputs, so
//! they act on calls exactly as a SIP event would, on the engine's own
//! thread.

use std::time::Instant;

use super::{Engine, Services};
use crate::b2bua::call::{CallInput, HangupCause, Side};
use crate::b2bua::CallId;
use crate::sans_io::Outbox;

/// What a command asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// End one live call (`admin.hangup` in its record).
    Hangup(CallId),
    /// End every live call (`pbx.shutdown`): the first step of a graceful
    /// stop, before the listeners close.
    HangupAll,
    /// Put the caller of an answered call on hold (music on hold), as if
    /// its agent had held it (`call_control.rs`).
    Hold(CallId),
    /// Take it off hold again.
    Unhold(CallId),
    /// Blind-transfer the caller of an answered call to a number or
    /// extension; its agent leaves once the target answers.
    Transfer(CallId, String),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// No live call has this id.
    #[error("no live call {0}")]
    NoSuchCall(CallId),
    /// The engine is not running (no B2BUA, or it stopped).
    #[error("the call engine is not running")]
    NotRunning,
    /// The engine's input queue is full; try again.
    #[error("the call engine is overloaded; try again")]
    Busy,
    /// A call to place needs the media relay (`[media] anchor`), or its
    /// ports ran out.
    #[error("no media relay for the call: pbx places calls only with `[media] anchor` on and ports free")]
    NoMedia,
    /// The number of a call to place routes nowhere now: the SIP status
    /// and cause code a caller would get.
    #[error("{0} cannot be dialed now: {1} ({2})")]
    NoRoute(String, u16, &'static str),
    /// The party to ring first has no phone registered (or its number
    /// routes to no phone).
    #[error("{0} has no registered phone to ring")]
    Unreachable(String),
    /// The call cannot do that now (not answered, no agent leg, already
    /// held, no music on hold configured...).
    #[error("call {0}: {1}")]
    Refused(CallId, String),
}

/// A command's result: how many calls it ended.
pub type CommandResult = Result<usize, CommandError>;

impl Engine {
    /// Runs one command at `now`; its SIP output goes to `out` and its
    /// events to [`Engine::poll_event`], as for a SIP input.
    pub fn handle_command(
        &mut self,
        now: Instant,
        command: Command,
        svc: Services<'_>,
        out: &mut Outbox,
    ) -> CommandResult {
        let ended = match command {
            Command::Hangup(id) => {
                if !self.calls.contains_key(&id) {
                    return Err(CommandError::NoSuchCall(id));
                }
                self.end_call(now, id, HangupCause::Administrative, svc);
                1
            }
            Command::HangupAll => {
                let ids: Vec<CallId> = self.calls.keys().copied().collect();
                for &id in &ids {
                    self.end_call(now, id, HangupCause::Shutdown, svc);
                }
                ids.len()
            }
            Command::Hold(id) => self.api_hold(now, id, svc)?,
            Command::Unhold(id) => self.api_unhold(now, id, svc)?,
            Command::Transfer(id, to) => self.api_transfer(id, to)?,
        };
        self.pump(now, svc, out);
        Ok(ended)
    }

    /// A WebRTC leg of a relayed call ended by itself (from
    /// `MediaAnchor::poll_webrtc_ended`): the call ends with the leg's
    /// `webrtc.*` code as its cause (BYE to the other leg, or the final
    /// response to an unanswered caller), as for an administrative hangup.
    pub fn handle_webrtc_ended(
        &mut self,
        now: Instant,
        ended: &crate::media_anchor::WebRtcEnded,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        let Some(id) = self.calls.iter().find_map(|(id, c)| {
            c.anchor
                .as_ref()
                .is_some_and(|a| a.relay_id() == ended.relay_id)
                .then_some(*id)
        }) else {
            return;
        };
        tracing::info!(call = %id, side = ?ended.side, code = ended.code, "WebRTC leg ended the call");
        self.end_call(now, id, HangupCause::WebRtc(ended.code), svc);
        self.pump(now, svc, out);
    }

    /// Ends a call from pbx's side: the call state machine takes the
    /// hangup, then the usual teardown (BYE or final response to every
    /// leg, relay and endpoints released, record written).
    fn end_call(&mut self, now: Instant, id: CallId, cause: HangupCause, svc: Services<'_>) {
        if let Some(entry) = self.calls.get_mut(&id) {
            if let Err(e) = entry
                .call
                .handle_input(now, CallInput::Hangup(cause, Side::Pbx))
            {
                tracing::debug!(call = %id, error = %e, "hangup input refused; tearing down");
            }
            tracing::info!(call = %id, cause = cause.code(), "call ended by pbx");
        }
        self.after_call(now, id, svc);
    }
}
