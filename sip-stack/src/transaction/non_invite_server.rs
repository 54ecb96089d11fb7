//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use std::time::Instant;

use bytes::Bytes;

use super::build::encode_response;
use super::timer::{Timer, Timers};
use super::{ServerTxId, Shared, Status, TxError};
use crate::message::Response;
use crate::peer::Peer;

/// RFC 3261 Figure 8 states (Terminated is the transaction's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct NonInviteServer {
    id: ServerTxId,
    state: State,
    peer: Peer,
    /// Last response sent, serialized once, re-sent on request retransmissions.
    last: Option<Bytes>,
    timers: Timers,
}

impl NonInviteServer {
    pub(crate) fn start(id: ServerTxId, peer: Peer) -> Self {
        Self {
            id,
            state: State::Trying,
            peer,
            last: None,
            timers: Timers::default(),
        }
    }

    pub(crate) const fn timers(&self) -> &Timers {
        &self.timers
    }

    /// A retransmission of the request: absorbed in Trying, otherwise the
    /// last response is re-sent (§17.2.2).
    pub(crate) fn on_retransmission(&mut self, sh: &mut Shared) {
        if let Some(last) = &self.last {
            sh.transmit(self.peer, last.clone());
        }
    }

    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        response: &Response,
        sh: &mut Shared,
    ) -> Result<Status, TxError> {
        if self.state == State::Completed {
            return Err(TxError::AlreadyFinal(self.id));
        }
        let data = encode_response(response);
        sh.transmit(self.peer, data.clone());
        self.last = Some(data);
        if response.status.is_provisional() {
            self.state = State::Proceeding;
            return Ok(Status::Alive);
        }
        self.state = State::Completed;
        if self.peer.transport.is_reliable() {
            // Timer J is zero on reliable transports.
            return Ok(Status::Terminated);
        }
        sh.arm(
            &mut self.timers,
            self.id.into(),
            Timer::J,
            now,
            sh.config.linger,
        );
        Ok(Status::Alive)
    }

    pub(crate) fn on_timer(&mut self, timer: Timer) -> Status {
        match (timer, self.state) {
            (Timer::J, State::Completed) => Status::Terminated,
            _ => Status::Alive,
        }
    }
}
