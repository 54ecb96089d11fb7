//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::timer::{Timer, Timers};
use super::{ClientTxId, Shared, Status, TxEvent};
use crate::message::{Request, Response};
use crate::peer::Peer;

/// RFC 3261 Figure 6 states (Terminated is the transaction's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct NonInviteClient {
    id: ClientTxId,
    state: State,
    request: Request,
    /// The request serialized once, re-sent on Timer E.
    data: Bytes,
    peer: Peer,
    interval: Duration,
    timers: Timers,
}

impl NonInviteClient {
    /// Sends the request and arms Timers E (unreliable only) and F (§17.1.2.2).
    pub(crate) fn start(
        id: ClientTxId,
        now: Instant,
        request: Request,
        data: Bytes,
        peer: Peer,
        sh: &mut Shared,
    ) -> Self {
        let t1 = sh.config.t1;
        let mut tx = Self {
            id,
            state: State::Trying,
            request,
            data,
            peer,
            interval: t1,
            timers: Timers::default(),
        };
        sh.transmit(peer, tx.data.clone());
        if !peer.transport.is_reliable() {
            sh.arm(&mut tx.timers, id.into(), Timer::E, now, t1);
        }
        sh.arm(&mut tx.timers, id.into(), Timer::F, now, 64 * t1);
        tx
    }

    pub(crate) const fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) const fn timers(&self) -> &Timers {
        &self.timers
    }

    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        response: Response,
        sh: &mut Shared,
    ) -> Status {
        if self.state == State::Completed {
            // §17.1.2.2: retransmitted finals are absorbed.
            return Status::Alive;
        }
        if response.status.is_provisional() {
            self.state = State::Proceeding;
            sh.event(TxEvent::Response {
                tx: self.id,
                response,
            });
            return Status::Alive;
        }
        self.timers.clear(Timer::E);
        self.timers.clear(Timer::F);
        self.state = State::Completed;
        sh.event(TxEvent::Response {
            tx: self.id,
            response,
        });
        if self.peer.transport.is_reliable() {
            // Timer K is zero on reliable transports.
            return Status::Terminated;
        }
        sh.arm(
            &mut self.timers,
            self.id.into(),
            Timer::K,
            now,
            sh.config.t4,
        );
        Status::Alive
    }

    pub(crate) fn on_timer(&mut self, now: Instant, timer: Timer, sh: &mut Shared) -> Status {
        match (timer, self.state) {
            (Timer::E, State::Trying | State::Proceeding) => {
                // §17.1.2.2: doubling capped at T2 in Trying, T2 flat in Proceeding.
                sh.transmit(self.peer, self.data.clone());
                self.interval = if self.state == State::Trying {
                    (self.interval * 2).min(sh.config.t2)
                } else {
                    sh.config.t2
                };
                sh.arm(
                    &mut self.timers,
                    self.id.into(),
                    Timer::E,
                    now,
                    self.interval,
                );
                Status::Alive
            }
            (Timer::F, State::Trying | State::Proceeding) => {
                sh.event(TxEvent::Timeout { tx: self.id });
                Status::Terminated
            }
            (Timer::K, State::Completed) => Status::Terminated,
            _ => Status::Alive,
        }
    }
}
