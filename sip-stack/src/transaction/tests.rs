//! Transaction layer tests in virtual time: a fake clock, no sockets, no
//! sleeping. Every timer of RFC 3261 §17 (and RFC 6026 L, M) is exercised.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::message::{HeaderName, Method, SipMessage, StatusCode};
use crate::peer::{ConnId, Transport};

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], 5060))
}

fn udp() -> Peer {
    Peer::udp(addr())
}

fn tcp() -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: addr(),
        conn: Some(ConnId(7)),
    }
}

fn parse(text: &str) -> SipMessage {
    SipMessage::parse(Bytes::from(text.replace('\n', "\r\n"))).expect("test message parses")
}

/// A request as a UA at `host:port` would send it over `transport`.
fn request_via(method: &str, branch: &str, transport: &str, host: &str, port: u16) -> Request {
    let cseq = format!("1 {method}");
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport\n\
         Max-Forwards: 70\n\
         Route: <sip:proxy.example.com;lr>\n\
         From: Alice <sip:alice@example.com>;tag=a1\n\
         To: Bob <sip:bob@example.com>\n\
         Call-ID: call-1@example.com\n\
         CSeq: {cseq}\n\
         Timestamp: 54\n\
         Content-Length: 0\n\n"
    );
    match parse(&text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!("a request line was written"),
    }
}

fn request(method: &str, branch: &str) -> Request {
    request_via(method, branch, "UDP", "client.example.com", 5060)
}

fn response(req: &Request, code: u16) -> Response {
    let tag = (code > 100).then_some("b2");
    Response::for_request(req, StatusCode(code), tag)
}

fn wire(msg: &SipMessage) -> SipMessage {
    // Re-parse what would go on the wire, as the peer would see it.
    SipMessage::parse(msg.to_bytes()).expect("printed message parses")
}

/// The layer plus a virtual clock.
struct Harness {
    layer: TransactionLayer,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with(TimerConfig::default())
    }

    fn with(config: TimerConfig) -> Self {
        let start = Instant::now();
        Self {
            layer: TransactionLayer::new(config),
            start,
            now: start,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.layer.poll_output()).collect()
    }

    fn receive(&mut self, msg: SipMessage, peer: Peer) -> Vec<Output> {
        self.layer.handle_message(self.now, wire(&msg), peer);
        self.drain()
    }

    fn receive_request(&mut self, req: &Request, peer: Peer) -> Vec<Output> {
        self.receive(SipMessage::Request(req.clone()), peer)
    }

    fn receive_response(&mut self, resp: &Response, peer: Peer) -> Vec<Output> {
        self.receive(SipMessage::Response(resp.clone()), peer)
    }

    /// Steps the clock from deadline to deadline up to `ms` after start,
    /// recording when each output happened.
    fn run_until(&mut self, ms: u64) -> Vec<(Duration, Output)> {
        let end = self.at(ms);
        let mut log = Vec::new();
        while let Some(deadline) = self.layer.poll_timeout() {
            if deadline > end {
                break;
            }
            assert!(deadline >= self.now, "deadlines never lie in the past");
            self.now = deadline;
            self.layer.handle_timeout(deadline);
            let offset = self.now - self.start;
            log.extend(self.drain().into_iter().map(|o| (offset, o)));
        }
        self.now = end;
        log
    }
}

fn transmits(outs: &[Output]) -> Vec<SipMessage> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Transmit { data, .. } => {
                Some(SipMessage::parse(data.clone()).expect("sent bytes parse"))
            }
            Output::Event(_) => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<TxEvent> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            Output::Transmit { .. } => None,
        })
        .collect()
}

fn transmit_times(log: &[(Duration, Output)]) -> Vec<u64> {
    log.iter()
        .filter(|(_, o)| matches!(o, Output::Transmit { .. }))
        .map(|(t, _)| t.as_millis() as u64)
        .collect()
}

fn log_events(log: &[(Duration, Output)]) -> Vec<(u64, TxEvent)> {
    log.iter()
        .filter_map(|(t, o)| match o {
            Output::Event(e) => Some((t.as_millis() as u64, e.clone())),
            Output::Transmit { .. } => None,
        })
        .collect()
}

fn status_of(msg: &SipMessage) -> u16 {
    match msg {
        SipMessage::Response(r) => r.status.0,
        SipMessage::Request(_) => 0,
    }
}

fn method_of(msg: &SipMessage) -> Option<Method> {
    match msg {
        SipMessage::Request(r) => Some(r.method.clone()),
        SipMessage::Response(_) => None,
    }
}

fn server_tx(outs: &[Output]) -> ServerTxId {
    events(outs)
        .into_iter()
        .find_map(|e| match e {
            TxEvent::Request { tx, .. } => Some(tx),
            _ => None,
        })
        .expect("a Request event")
}

mod client;
mod props;
mod server;
