//! The state of one proxied request (RFC 3261 §16.6–§16.7): its server
//! transaction, its branches (one client transaction per target), CANCEL
//! bookkeeping and the choice of the best final response.

use bytes::Bytes;
use sip_stack::message::{Header, HeaderName, Method, Request, Response, StatusCode};
use sip_stack::transaction::{ClientTxId, ServerTxId};
use sip_stack::Peer;

/// One target of a (possibly forked) request.
#[derive(Debug, Clone)]
pub struct Target {
    /// New Request-URI (None: keep it, in-dialog requests).
    pub uri: Option<sip_stack::message::Uri>,
    /// Route header values to put first (a binding's Path, RFC 3327).
    pub routes: Vec<String>,
    /// Where to send it.
    pub dest: Peer,
}

/// One client transaction of a forwarded request.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Its client transaction.
    pub tx: ClientTxId,
    /// Where it was sent (a CANCEL goes to the same place, §9.1).
    pub dest: Peer,
    /// A provisional response arrived (a CANCEL may be sent, §9.1).
    pub provisional: bool,
    /// Final status received.
    pub final_status: Option<u16>,
    /// Cancel as soon as a provisional response arrives.
    pub cancel_pending: bool,
    /// A CANCEL was sent.
    pub cancelled: bool,
}

/// A forwarded request and its branches.
#[derive(Debug)]
pub struct Forward {
    /// The server transaction the request arrived on.
    pub server_tx: ServerTxId,
    /// The request as received (for locally generated responses).
    pub request: Request,
    /// Branches.
    pub branches: Vec<Branch>,
    /// Best non-2xx final so far.
    pub best: Option<Response>,
    /// Challenges collected from 401/407 branches (§16.7 step 7).
    pub challenges: Vec<Header>,
    /// A final response went upstream.
    pub final_sent: bool,
    /// The caller cancelled.
    pub cancelled: bool,
}

impl Forward {
    /// A context for `request` on `server_tx`.
    pub fn new(server_tx: ServerTxId, request: Request) -> Self {
        Self {
            server_tx,
            request,
            branches: Vec::new(),
            best: None,
            challenges: Vec::new(),
            final_sent: false,
            cancelled: false,
        }
    }

    /// Whether this is an INVITE (CANCEL and forking rules apply).
    pub fn is_invite(&self) -> bool {
        self.request.method == Method::Invite
    }

    /// The branch of a client transaction.
    pub fn branch_mut(&mut self, tx: ClientTxId) -> Option<&mut Branch> {
        self.branches.iter_mut().find(|b| b.tx == tx)
    }

    /// Whether every branch has a final response.
    pub fn all_final(&self) -> bool {
        self.branches.iter().all(|b| b.final_status.is_some())
    }

    /// Takes a non-2xx final response into account (§16.7 step 6).
    pub fn offer_final(&mut self, response: Response) {
        let code = response.status.0;
        if code == 401 || code == 407 {
            let name = if code == 401 {
                HeaderName::WwwAuthenticate
            } else {
                HeaderName::ProxyAuthenticate
            };
            self.challenges
                .extend(response.headers.get_all(&name).cloned());
        }
        let better = match &self.best {
            None => true,
            Some(best) => rank(code) < rank(best.status.0),
        };
        if better {
            self.best = Some(response);
        }
    }

    /// The response to send upstream once every branch is final: the best one,
    /// 503 turned into 500 (§16.7 step 6), challenges of every branch merged.
    pub fn best_response(&mut self, fallback_tag: &str) -> Response {
        let mut resp = self.best.take().unwrap_or_else(|| {
            Response::for_request(
                &self.request,
                StatusCode::REQUEST_TIMEOUT,
                Some(fallback_tag),
            )
        });
        if resp.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.status = StatusCode::SERVER_INTERNAL_ERROR;
            resp.reason = "Server Internal Error".into();
        }
        let code = resp.status.0;
        if code == 401 || code == 407 {
            let name = if code == 401 {
                HeaderName::WwwAuthenticate
            } else {
                HeaderName::ProxyAuthenticate
            };
            resp.headers.remove_all(&name);
            for c in self.challenges.drain(..) {
                resp.headers.push(c);
            }
        }
        resp
    }
}

/// Lower is better: any 6xx, then the lowest class (§16.7 step 6).
fn rank(code: u16) -> u16 {
    match code / 100 {
        6 => 0,
        c => c,
    }
}

/// A header with a text value.
pub fn header(name: HeaderName, value: impl Into<String>) -> Header {
    Header::new(name, Bytes::from(value.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_stack::message::SipMessage;

    fn request() -> Request {
        let raw = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
                   From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
                   Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        match SipMessage::parse(Bytes::from_static(raw.as_bytes())).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        }
    }

    fn resp(req: &Request, code: u16) -> Response {
        Response::for_request(req, StatusCode(code), Some("t"))
    }

    #[test]
    fn best_prefers_6xx_then_lowest_class_and_hides_503() {
        let req = request();
        let mut f = Forward::new_for_test(req.clone());
        f.offer_final(resp(&req, 486));
        f.offer_final(resp(&req, 302));
        assert_eq!(f.best_response("x").status.0, 302);

        let mut f = Forward::new_for_test(req.clone());
        f.offer_final(resp(&req, 302));
        f.offer_final(resp(&req, 603));
        f.offer_final(resp(&req, 404));
        assert_eq!(f.best_response("x").status.0, 603);

        let mut f = Forward::new_for_test(req.clone());
        f.offer_final(resp(&req, 503));
        assert_eq!(f.best_response("x").status.0, 500);

        let mut f = Forward::new_for_test(req);
        assert_eq!(f.best_response("x").status.0, 408, "no branch answered");
    }

    #[test]
    fn challenges_of_all_branches_are_merged() {
        let req = request();
        let mut f = Forward::new_for_test(req.clone());
        for realm in ["a", "b"] {
            let mut r = resp(&req, 407);
            r.headers.push(header(
                HeaderName::ProxyAuthenticate,
                format!("Digest realm=\"{realm}\", nonce=\"n\""),
            ));
            f.offer_final(r);
        }
        let best = f.best_response("x");
        assert_eq!(
            best.headers.get_all(&HeaderName::ProxyAuthenticate).count(),
            2
        );
    }

    impl Forward {
        fn new_for_test(request: Request) -> Self {
            let mut layer = sip_stack::transaction::TransactionLayer::new(Default::default());
            let now = std::time::Instant::now();
            layer.handle_message(
                now,
                SipMessage::Request(request.clone()),
                Peer::udp("127.0.0.1:5070".parse().unwrap()),
            );
            let mut tx = None;
            while let Some(o) = layer.poll_output() {
                if let sip_stack::transaction::Output::Event(
                    sip_stack::transaction::TxEvent::Request { tx: t, .. },
                ) = o
                {
                    tx = Some(t);
                }
            }
            Self::new(tx.expect("a server transaction"), request)
        }
    }
}
