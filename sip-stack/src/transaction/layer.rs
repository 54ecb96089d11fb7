//! The [`TransactionLayer`] methods: matching, dispatch to the state
//! machines, timer processing and removal of terminated transactions.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::build::encode_request;
use super::key::{ClientKeyRef, ServerKeyRef};
use super::table::Table;
use super::timer::{Deadline, Timer, TimerHeap};
use super::via::{fast_top_via, TopVia};
use super::{
    ClientTx, ClientTxId, InviteClient, InviteServer, NonInviteClient, NonInviteServer, Output,
    ServerTx, ServerTxId, Shared, Status, TimerConfig, TransactionLayer, TxError, TxEvent, TxId,
};
use crate::message::{Headers, Method, Request, Response, SipMessage, Via};
use crate::peer::Peer;

const INVITE: &Method = &Method::Invite;

/// The top Via's matching fields: the zero-copy fast path, else the full
/// parser (whose owned result is kept in `slot`). `None`: no usable Via.
fn top_via<'a>(headers: &'a Headers, slot: &'a mut Option<Via>) -> Option<TopVia<'a>> {
    if let Some(via) = fast_top_via(headers) {
        return Some(via);
    }
    let via = headers.vias().next()?.ok()?;
    Some(TopVia::from(&*slot.insert(via)))
}

/// The server key of a request with the given (key) method.
fn server_key<'a>(via: TopVia<'a>, method: &'a Method) -> ServerKeyRef<'a> {
    ServerKeyRef {
        branch: via.branch,
        host: via.host,
        port: via.port,
        method,
    }
}

impl TransactionLayer {
    /// An empty layer. A zero T1 (see [`TimerConfig::validate`]) is raised
    /// to 1 ms so that retransmission timers cannot spin.
    pub fn new(mut config: TimerConfig) -> Self {
        config.t1 = config.t1.max(Duration::from_millis(1));
        config.t2 = config.t2.max(config.t1);
        Self {
            shared: Shared {
                config,
                out: VecDeque::new(),
                heap: TimerHeap::default(),
            },
            clients: Table::default(),
            servers: Table::default(),
        }
    }

    /// The configuration the layer runs with.
    pub const fn config(&self) -> &TimerConfig {
        &self.shared.config
    }

    /// How many transactions are alive (for metrics and leak tests).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Next output for the driver, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.shared.out.pop_front()
    }

    /// Earliest deadline of all transactions; call
    /// [`handle_timeout`](Self::handle_timeout) then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.shared.heap.peek().map(|d| d.at)
    }

    /// A message received from `peer`, already parsed: matched to a
    /// transaction (RFC 3261 §17.1.3 for responses, §17.2.3 for requests) or,
    /// for a new request, creating a server transaction. The driver is
    /// expected to have run `Request::validate` and answered malformed
    /// requests with a stateless 400; a request that still has no usable top
    /// Via is dropped here (no response can be routed without one, §18.2.2).
    /// Branches without the `z9hG4bK` cookie are matched the same way (the
    /// RFC 2543 fallback of §17.2.3 is not implemented).
    pub fn handle_message(&mut self, now: Instant, msg: SipMessage, peer: Peer) {
        match msg {
            SipMessage::Request(request) => self.handle_request(now, request, peer),
            SipMessage::Response(response) => self.handle_response(now, response, peer),
        }
        self.prune();
    }

    fn handle_response(&mut self, now: Instant, response: Response, peer: Peer) {
        let mut slot = None;
        let found = match (top_via(&response.headers, &mut slot), response.cseq()) {
            (Some(via), Ok(cseq)) => {
                let key = ClientKeyRef {
                    branch: via.branch,
                    method: &cseq.method,
                };
                self.clients.find(&key).map(ClientTxId)
            }
            _ => None,
        };
        let Some(id) = found else {
            self.shared.event(TxEvent::StrayResponse { response, peer });
            return;
        };
        let Some(tx) = self.clients.get_mut(id.0) else {
            return;
        };
        let status = match tx {
            ClientTx::Invite(t) => t.on_response(now, response, &mut self.shared),
            ClientTx::NonInvite(t) => t.on_response(now, response, &mut self.shared),
        };
        if status == Status::Terminated {
            self.remove_client(id);
        }
    }

    fn handle_request(&mut self, now: Instant, request: Request, peer: Peer) {
        let is_ack = request.method == Method::Ack;
        // Some(id): an existing transaction; None + key: a new one.
        let (found, new_key) = {
            let mut slot = None;
            let Some(via) = top_via(&request.headers, &mut slot) else {
                tracing::debug!(%peer, "request without a usable top Via dropped");
                return;
            };
            let key = server_key(via, if is_ack { INVITE } else { &request.method });
            match self.servers.find(&key) {
                Some(id) => (Some(ServerTxId(id)), None),
                None if is_ack => (None, None),
                None => (None, Some(key.to_owned())),
            }
        };
        let Some(id) = found else {
            match new_key {
                Some(key) => self.create_server(key, request, peer),
                None => self.shared.event(TxEvent::Ack { request, peer }),
            }
            return;
        };
        let Some(tx) = self.servers.get_mut(id.0) else {
            return;
        };
        let status = match tx {
            ServerTx::Invite(t) if is_ack => t.on_ack(now, request, peer, &mut self.shared),
            ServerTx::Invite(t) => {
                t.on_retransmission(&mut self.shared);
                Status::Alive
            }
            // An ACK never maps to a non-INVITE key: the key method is INVITE.
            ServerTx::NonInvite(t) => {
                t.on_retransmission(&mut self.shared);
                Status::Alive
            }
        };
        if status == Status::Terminated {
            self.remove_server(id);
        }
    }

    fn create_server(&mut self, key: super::ServerKey, request: Request, peer: Peer) {
        let shared = &mut self.shared;
        let id = ServerTxId(self.servers.insert_with(key, |raw| {
            let id = ServerTxId(raw);
            if request.method == Method::Invite {
                ServerTx::Invite(InviteServer::start(id, &request, peer, shared))
            } else {
                ServerTx::NonInvite(NonInviteServer::start(id, peer))
            }
        }));
        self.shared.event(TxEvent::Request {
            tx: id,
            request,
            peer,
        });
    }

    /// Starts a client transaction for `request` towards `peer` (RFC 3261
    /// §17.1): sends it and arms the retransmission and timeout timers. The
    /// TU must already have pushed its top Via with a fresh branch (§8.1.1.7).
    ///
    /// An ACK is not a transaction: it is sent as with
    /// [`send_stateless`](Self::send_stateless) and the returned id is
    /// terminated at once.
    pub fn send_request(&mut self, now: Instant, request: Request, peer: Peer) -> ClientTxId {
        let data = encode_request(&request);
        if request.method == Method::Ack {
            let id = ClientTxId(self.clients.burn_id());
            self.shared.transmit(peer, data);
            self.shared.event(TxEvent::Terminated { tx: id.into() });
            return id;
        }
        let key = {
            let mut slot = None;
            let branch = top_via(&request.headers, &mut slot).map_or("", |v| v.branch);
            ClientKeyRef {
                branch,
                method: &request.method,
            }
            .to_owned()
        };
        let shared = &mut self.shared;
        let id = ClientTxId(self.clients.insert_with(key, |raw| {
            let id = ClientTxId(raw);
            if request.method == Method::Invite {
                ClientTx::Invite(InviteClient::start(id, now, request, data, peer, shared))
            } else {
                ClientTx::NonInvite(NonInviteClient::start(id, now, request, data, peer, shared))
            }
        }));
        self.prune();
        id
    }

    /// The TU answers on a server transaction with a provisional or final
    /// response (RFC 3261 §17.2.1, §17.2.2). After a 2xx to an INVITE the
    /// transaction stays "Accepted" for Timer L and passes further 2xx (the
    /// TU's retransmissions, §13.3.1.4) through (RFC 6026 §8.7); after that
    /// the TU sends them with [`send_stateless`](Self::send_stateless).
    pub fn send_response(
        &mut self,
        now: Instant,
        tx: ServerTxId,
        response: Response,
    ) -> Result<(), TxError> {
        let Some(machine) = self.servers.get_mut(tx.0) else {
            return Err(TxError::NoSuchTransaction(tx));
        };
        let status = match machine {
            ServerTx::Invite(t) => t.send_response(now, &response, &mut self.shared)?,
            ServerTx::NonInvite(t) => t.send_response(now, &response, &mut self.shared)?,
        };
        if status == Status::Terminated {
            self.remove_server(tx);
        }
        self.prune();
        Ok(())
    }

    /// Sends a message outside any transaction (the ACK for a 2xx, a
    /// statelessly forwarded response): it just becomes an [`Output::Transmit`].
    pub fn send_stateless(&mut self, msg: &SipMessage, peer: Peer) {
        self.shared.transmit(peer, msg.to_bytes());
    }

    /// The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2: same
    /// top Via branch and sent-by as the INVITE, method INVITE).
    pub fn find_invite_for_cancel(&self, cancel: &Request) -> Option<ServerTxId> {
        let mut slot = None;
        let via = top_via(&cancel.headers, &mut slot)?;
        self.servers.find(&server_key(via, INVITE)).map(ServerTxId)
    }

    /// The request that started a client transaction (to build a CANCEL,
    /// §9.1), while the transaction is alive.
    pub fn client_request(&self, tx: ClientTxId) -> Option<&Request> {
        self.clients.get(tx.0).map(ClientTx::request)
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(deadline) = self.shared.heap.peek() {
            if deadline.at > now {
                break;
            }
            self.shared.heap.pop();
            if self.is_live(deadline) {
                self.fire(now, deadline);
            }
        }
        self.prune();
    }

    fn fire(&mut self, now: Instant, Deadline { tx, timer, .. }: Deadline) {
        tracing::trace!(?tx, ?timer, "transaction timer fired");
        match tx {
            TxId::Client(id) => {
                let Some(t) = self.clients.get_mut(id.0) else {
                    return;
                };
                let status = match t {
                    ClientTx::Invite(t) => t.on_timer(now, timer, &mut self.shared),
                    ClientTx::NonInvite(t) => t.on_timer(now, timer, &mut self.shared),
                };
                if status == Status::Terminated {
                    self.remove_client(id);
                }
            }
            TxId::Server(id) => {
                let Some(t) = self.servers.get_mut(id.0) else {
                    return;
                };
                let status = match t {
                    ServerTx::Invite(t) => t.on_timer(now, timer, &mut self.shared),
                    ServerTx::NonInvite(t) => t.on_timer(timer),
                };
                if status == Status::Terminated {
                    self.remove_server(id);
                }
            }
        }
    }

    /// Whether a heap entry still stands: its transaction is alive and has
    /// that timer armed for that instant (a re-armed or cleared timer leaves
    /// a stale entry behind).
    fn is_live(&self, d: Deadline) -> bool {
        match d.tx {
            TxId::Client(id) => self
                .clients
                .get(id.0)
                .is_some_and(|t| t.timers().is_armed_at(d.timer, d.at)),
            TxId::Server(id) => self
                .servers
                .get(id.0)
                .is_some_and(|t| t.timers().is_armed_at(d.timer, d.at)),
        }
    }

    /// Drops stale entries from the top of the heap so that
    /// [`poll_timeout`](Self::poll_timeout) is exact.
    fn prune(&mut self) {
        while let Some(d) = self.shared.heap.peek() {
            if self.is_live(d) {
                break;
            }
            self.shared.heap.pop();
        }
    }

    fn remove_client(&mut self, id: ClientTxId) {
        if self.clients.remove(id.0).is_some() {
            tracing::trace!(tx = ?id, "client transaction terminated");
            self.shared.event(TxEvent::Terminated { tx: id.into() });
        }
    }

    fn remove_server(&mut self, id: ServerTxId) {
        if self.servers.remove(id.0).is_some() {
            tracing::trace!(tx = ?id, "server transaction terminated");
            self.shared.event(TxEvent::Terminated { tx: id.into() });
        }
    }

    /// Number of pending heap entries, stale ones included (for tests).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.shared.heap.len()
    }

    /// The timer that fires next, for logs and tests.
    pub fn next_timer(&self) -> Option<(Instant, TxId, Timer)> {
        self.shared.heap.peek().map(|d| (d.at, d.tx, d.timer))
    }
}
