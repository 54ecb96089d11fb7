//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with the RFC 6026
//! §7.2 "Accepted" state and Timer M).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::build::{build_ack_for_non2xx, encode_request};
use super::timer::{Timer, Timers};
use super::{ClientTxId, Shared, Status, TxEvent};
use crate::message::{Request, Response};
use crate::peer::Peer;

/// RFC 3261 Figure 5 states (Terminated is the transaction's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    /// RFC 6026 §7.2: a 2xx was received; further 2xx retransmissions go up to the TU.
    Accepted,
    Completed,
}

#[derive(Debug)]
pub(crate) struct InviteClient {
    id: ClientTxId,
    state: State,
    request: Request,
    /// The INVITE serialized once, re-sent on Timer A.
    data: Bytes,
    peer: Peer,
    /// The ACK for a non-2xx final, re-sent on each retransmitted final.
    ack: Option<Bytes>,
    interval: Duration,
    timers: Timers,
}

impl InviteClient {
    /// Sends the INVITE and arms Timers A (unreliable only) and B (§17.1.1.2).
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
            state: State::Calling,
            request,
            data,
            peer,
            ack: None,
            interval: t1,
            timers: Timers::default(),
        };
        sh.transmit(peer, tx.data.clone());
        if !peer.transport.is_reliable() {
            sh.arm(&mut tx.timers, id.into(), Timer::A, now, t1);
        }
        sh.arm(&mut tx.timers, id.into(), Timer::B, now, 64 * t1);
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
        let status = response.status;
        match self.state {
            State::Calling | State::Proceeding => {
                self.timers.clear(Timer::A);
                if status.is_provisional() {
                    // Timer B keeps running in Proceeding per §17.1.1.2 but has no
                    // effect there; the TU's Timer C guards a stuck Proceeding.
                    self.timers.clear(Timer::B);
                    self.state = State::Proceeding;
                    sh.event(TxEvent::Response {
                        tx: self.id,
                        response,
                    });
                    Status::Alive
                } else if status.is_success() {
                    self.timers.clear(Timer::B);
                    self.state = State::Accepted;
                    sh.arm(
                        &mut self.timers,
                        self.id.into(),
                        Timer::M,
                        now,
                        sh.config.linger,
                    );
                    sh.event(TxEvent::Response {
                        tx: self.id,
                        response,
                    });
                    Status::Alive
                } else {
                    self.timers.clear(Timer::B);
                    self.complete(now, response, sh)
                }
            }
            State::Accepted => {
                // RFC 6026 §8.4: 2xx retransmissions (or 2xx from other forks) go up.
                if status.is_success() {
                    sh.event(TxEvent::Response {
                        tx: self.id,
                        response,
                    });
                }
                Status::Alive
            }
            State::Completed => {
                // §17.1.1.2: a retransmitted final is answered with the same ACK, not passed up.
                if status.is_final() && !status.is_success() {
                    if let Some(ack) = &self.ack {
                        sh.transmit(self.peer, ack.clone());
                    }
                }
                Status::Alive
            }
        }
    }

    /// 300-699 in Calling/Proceeding: ACK it, pass it up, linger for Timer D.
    fn complete(&mut self, now: Instant, response: Response, sh: &mut Shared) -> Status {
        let ack = build_ack_for_non2xx(&self.request, &response);
        let data = encode_request(&ack);
        sh.transmit(self.peer, data.clone());
        self.ack = Some(data);
        self.state = State::Completed;
        sh.event(TxEvent::Response {
            tx: self.id,
            response,
        });
        if self.peer.transport.is_reliable() {
            return Status::Terminated;
        }
        sh.arm(
            &mut self.timers,
            self.id.into(),
            Timer::D,
            now,
            sh.config.timer_d,
        );
        Status::Alive
    }

    pub(crate) fn on_timer(&mut self, now: Instant, timer: Timer, sh: &mut Shared) -> Status {
        match (timer, self.state) {
            (Timer::A, State::Calling) => {
                // §17.1.1.2: Timer A doubles each time, without the T2 cap of Timer E.
                sh.transmit(self.peer, self.data.clone());
                self.interval *= 2;
                sh.arm(
                    &mut self.timers,
                    self.id.into(),
                    Timer::A,
                    now,
                    self.interval,
                );
                Status::Alive
            }
            (Timer::B, State::Calling) => {
                sh.event(TxEvent::Timeout { tx: self.id });
                Status::Terminated
            }
            (Timer::D, State::Completed) | (Timer::M, State::Accepted) => Status::Terminated,
            _ => Status::Alive,
        }
    }
}
