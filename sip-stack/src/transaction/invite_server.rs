//! INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with the RFC 6026
//! §7.1 "Accepted" state and Timer L).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::build::{build_trying, encode_response};
use super::timer::{Timer, Timers};
use super::{ServerTxId, Shared, Status, TxError, TxEvent};
use crate::message::{Request, Response};
use crate::peer::Peer;

/// RFC 3261 Figure 7 states (Terminated is the transaction's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    /// RFC 6026 §7.1: the TU sent a 2xx; request retransmissions are absorbed,
    /// further 2xx from the TU are sent, ACKs go up to the TU.
    Accepted,
    Completed,
    Confirmed,
}

#[derive(Debug)]
pub(crate) struct InviteServer {
    id: ServerTxId,
    state: State,
    peer: Peer,
    /// Last response sent, serialized once: re-sent on request retransmissions and Timer G.
    last: Option<Bytes>,
    interval: Duration,
    timers: Timers,
}

impl InviteServer {
    /// Creates the transaction in Proceeding; sends `100 Trying` at once when
    /// configured (§17.2.1 allows it, §16.2 makes it a MUST for a proxy).
    pub(crate) fn start(id: ServerTxId, request: &Request, peer: Peer, sh: &mut Shared) -> Self {
        let mut tx = Self {
            id,
            state: State::Proceeding,
            peer,
            last: None,
            interval: sh.config.t1,
            timers: Timers::default(),
        };
        if sh.config.auto_trying {
            let data = encode_response(&build_trying(request));
            sh.transmit(peer, data.clone());
            tx.last = Some(data);
        }
        tx
    }

    pub(crate) const fn timers(&self) -> &Timers {
        &self.timers
    }

    /// A retransmission of the INVITE (§17.2.1): re-send the last response.
    pub(crate) fn on_retransmission(&mut self, sh: &mut Shared) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(last) = &self.last {
                sh.transmit(self.peer, last.clone());
            }
        }
    }

    /// An ACK matching this transaction.
    pub(crate) fn on_ack(
        &mut self,
        now: Instant,
        request: Request,
        peer: Peer,
        sh: &mut Shared,
    ) -> Status {
        match self.state {
            State::Completed => {
                self.timers.clear(Timer::G);
                self.timers.clear(Timer::H);
                self.state = State::Confirmed;
                if self.peer.transport.is_reliable() {
                    // Timer I is zero on reliable transports.
                    return Status::Terminated;
                }
                sh.arm(
                    &mut self.timers,
                    self.id.into(),
                    Timer::I,
                    now,
                    sh.config.t4,
                );
                Status::Alive
            }
            // RFC 6026 §8.7: an ACK (for the 2xx) in Accepted goes to the TU.
            State::Accepted => {
                sh.event(TxEvent::Ack { request, peer });
                Status::Alive
            }
            State::Proceeding | State::Confirmed => Status::Alive,
        }
    }

    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        response: &Response,
        sh: &mut Shared,
    ) -> Result<Status, TxError> {
        let status = response.status;
        match self.state {
            State::Proceeding => {}
            // RFC 6026 §8.7: the TU retransmits its 2xx through the transaction.
            State::Accepted if status.is_success() => {
                sh.transmit(self.peer, encode_response(response));
                return Ok(Status::Alive);
            }
            State::Accepted | State::Completed | State::Confirmed => {
                return Err(TxError::AlreadyFinal(self.id));
            }
        }
        let data = encode_response(response);
        sh.transmit(self.peer, data.clone());
        let t1 = sh.config.t1;
        if status.is_provisional() {
            self.last = Some(data);
        } else if status.is_success() {
            self.last = None;
            self.state = State::Accepted;
            sh.arm(
                &mut self.timers,
                self.id.into(),
                Timer::L,
                now,
                sh.config.linger,
            );
        } else {
            self.last = Some(data);
            self.state = State::Completed;
            if !self.peer.transport.is_reliable() {
                sh.arm(&mut self.timers, self.id.into(), Timer::G, now, t1);
            }
            sh.arm(&mut self.timers, self.id.into(), Timer::H, now, 64 * t1);
        }
        Ok(Status::Alive)
    }

    pub(crate) fn on_timer(&mut self, now: Instant, timer: Timer, sh: &mut Shared) -> Status {
        match (timer, self.state) {
            (Timer::G, State::Completed) => {
                if let Some(last) = &self.last {
                    sh.transmit(self.peer, last.clone());
                }
                self.interval = (self.interval * 2).min(sh.config.t2);
                sh.arm(
                    &mut self.timers,
                    self.id.into(),
                    Timer::G,
                    now,
                    self.interval,
                );
                Status::Alive
            }
            (Timer::H, State::Completed) => {
                sh.event(TxEvent::AckTimeout { tx: self.id });
                Status::Terminated
            }
            (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => Status::Terminated,
            _ => Status::Alive,
        }
    }
}
