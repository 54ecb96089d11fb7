//! Property test: any interleaving of requests, retransmissions, ACKs,
//! CANCELs, TU answers, responses and clock steps never panics, never moves
//! time backwards, terminates each transaction exactly once and leaves
//! nothing behind once every transaction got a final answer.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// A request arrives (INVITE when the flag is set) on branch `n`.
    Incoming(u8, bool),
    /// The ACK for branch `n`.
    Ack(u8),
    /// A CANCEL for branch `n`.
    Cancel(u8),
    /// The TU answers the server transaction of branch `n`.
    Answer(u8, u16),
    /// The TU starts a client transaction in slot `n` (fresh branch).
    Send(u8, bool),
    /// A response for the latest client transaction of slot `n`.
    Respond(u8, u16),
    /// The clock moves forward.
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0u8..6;
    let code = prop::sample::select(vec![100u16, 180, 200, 404, 486, 503]);
    prop_oneof![
        (n.clone(), any::<bool>()).prop_map(|(n, i)| Op::Incoming(n, i)),
        n.clone().prop_map(Op::Ack),
        n.clone().prop_map(Op::Cancel),
        (n.clone(), code.clone()).prop_map(|(n, c)| Op::Answer(n, c)),
        (n.clone(), any::<bool>()).prop_map(|(n, i)| Op::Send(n, i)),
        (n, code).prop_map(|(n, c)| Op::Respond(n, c)),
        (0u32..40_000).prop_map(Op::Advance),
    ]
}

struct World {
    h: Harness,
    reliable: bool,
    servers: HashMap<u8, (ServerTxId, Request)>,
    clients: HashMap<u8, (ClientTxId, Request)>,
    terminated: Vec<TxId>,
    started: Vec<TxId>,
    /// Every request sent on a client transaction.
    sent: Vec<Request>,
    /// Every server transaction ever created (CANCELs included).
    answerable: Vec<(ServerTxId, Request)>,
}

impl World {
    fn peer(&self) -> Peer {
        if self.reliable {
            tcp()
        } else {
            udp()
        }
    }

    fn req(&self, method: &str, branch: &str) -> Request {
        let transport = if self.reliable { "TCP" } else { "UDP" };
        request_via(method, branch, transport, "client.example.com", 5060)
    }

    fn record(&mut self, outs: Vec<Output>) {
        for out in outs {
            if let Output::Event(e) = out {
                match e {
                    TxEvent::Terminated { tx } => self.terminated.push(tx),
                    TxEvent::Request { tx, request, .. } => {
                        self.started.push(tx.into());
                        self.answerable.push((tx, request));
                    }
                    _ => {}
                }
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let peer = self.peer();
        let outs = match op {
            Op::Incoming(n, invite) => {
                let method = if invite { "INVITE" } else { "OPTIONS" };
                let req = self.req(method, &format!("z9hG4bKs{n}"));
                let outs = self.h.receive_request(&req, peer);
                for e in events(&outs) {
                    if let TxEvent::Request { tx, request, .. } = e {
                        self.servers.insert(n, (tx, request));
                    }
                }
                outs
            }
            Op::Ack(n) => self
                .h
                .receive_request(&self.req("ACK", &format!("z9hG4bKs{n}")), peer),
            Op::Cancel(n) => {
                let invite = self.req("INVITE", &format!("z9hG4bKs{n}"));
                self.h.receive_request(&build_cancel(&invite), peer)
            }
            Op::Answer(n, code) => {
                if let Some((tx, req)) = self.servers.get(&n) {
                    let _ = self
                        .h
                        .layer
                        .send_response(self.h.now, *tx, response(req, code));
                }
                self.h.drain()
            }
            Op::Send(n, invite) => {
                let method = if invite { "INVITE" } else { "OPTIONS" };
                // Branches are unique per client transaction (§8.1.1.7); a TU
                // reusing one orphans the older transaction.
                let req = self.req(method, &format!("z9hG4bKc{n}x{}", self.sent.len()));
                let id = self.h.layer.send_request(self.h.now, req.clone(), peer);
                self.started.push(id.into());
                self.sent.push(req.clone());
                self.clients.insert(n, (id, req));
                self.h.drain()
            }
            Op::Respond(n, code) => match self.clients.get(&n) {
                Some((_, req)) => {
                    let resp = response(req, code);
                    self.h.receive_response(&resp, peer)
                }
                None => Vec::new(),
            },
            Op::Advance(ms) => {
                let target = (self.h.now - self.h.start).as_millis() as u64 + u64::from(ms);
                self.h
                    .run_until(target)
                    .into_iter()
                    .map(|(_, o)| o)
                    .collect()
            }
        };
        self.record(outs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_interleaving_terminates_cleanly(reliable in any::<bool>(), ops in prop::collection::vec(op(), 0..60)) {
        let mut w = World {
            h: Harness::new(),
            reliable,
            servers: HashMap::new(),
            clients: HashMap::new(),
            terminated: Vec::new(),
            started: Vec::new(),
            answerable: Vec::new(),
            sent: Vec::new(),
        };
        for op in ops {
            w.apply(op);
        }
        // Give everything a final answer, then let every timer run out.
        for (tx, req) in std::mem::take(&mut w.answerable) {
            let _ = w.h.layer.send_response(w.h.now, tx, response(&req, 500));
            let outs = w.h.drain();
            w.record(outs);
        }
        // An INVITE client in Proceeding waits for a final (the TU's Timer C).
        for req in std::mem::take(&mut w.sent) {
            let peer = w.peer();
            let outs = w.h.receive_response(&response(&req, 500), peer);
            w.record(outs);
        }
        for n in 0..6 {
            w.apply(Op::Ack(n));
        }
        w.apply(Op::Advance(200_000));
        prop_assert!(w.h.layer.is_empty(), "{} transactions left", w.h.layer.len());
        prop_assert_eq!(w.h.layer.heap_len(), 0);
        prop_assert_eq!(w.h.layer.poll_timeout(), None);
        let mut terminated = w.terminated.clone();
        terminated.sort();
        let before = terminated.len();
        terminated.dedup();
        prop_assert_eq!(before, terminated.len(), "a transaction terminated twice");
        let mut started = w.started.clone();
        started.sort();
        prop_assert_eq!(started, terminated, "every transaction terminates exactly once");
    }
}
