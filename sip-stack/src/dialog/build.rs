//! Building requests inside a dialog (RFC 3261 §12.2.1.1): Request-URI and
//! Route from the remote target and the route set (loose or strict routing),
//! To/From with tags, Call-ID, CSeq, Contact on target-refresh requests.

use bytes::Bytes;

use super::Dialog;
use crate::message::{Header, HeaderName, Method, NameAddr, Request, Uri};

impl Dialog {
    /// A new in-dialog request (BYE, re-INVITE, UPDATE, INFO, REFER,
    /// NOTIFY, ...): takes the next local CSeq number. Not for ACK (see
    /// [`ack`](Self::ack)) or CANCEL (built from the INVITE, §9.1). The
    /// caller pushes its Via and adds a body.
    pub fn request(&mut self, method: Method) -> Request {
        self.local_seq = self.local_seq.wrapping_add(1);
        self.build(method, self.local_seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_seq` (RFC
    /// 3261 §13.2.2.4): same CSeq number, method ACK, built like any
    /// in-dialog request. The caller pushes a Via with a fresh branch.
    pub fn ack(&self, invite_seq: u32) -> Request {
        self.build(Method::Ack, invite_seq)
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method, uri);
        let h = &mut req.headers;
        for route in routes {
            h.push(Header::new(HeaderName::Route, route.to_string()));
        }
        h.push(Header::new(
            HeaderName::MaxForwards,
            Bytes::from_static(b"70"),
        ));
        let mut from = self.local_uri.clone();
        from.set_param("tag", Some(self.id.local_tag.clone()));
        h.push(Header::new(HeaderName::From, from.to_string()));
        let mut to = self.remote_uri.clone();
        to.set_param("tag", Some(self.id.remote_tag.clone()));
        h.push(Header::new(HeaderName::To, to.to_string()));
        h.push(Header::new(HeaderName::CallId, self.id.call_id.clone()));
        h.push(Header::new(
            HeaderName::CSeq,
            format!("{seq} {}", req.method),
        ));
        if Self::is_target_refresh(&req.method) || req.method == Method::Refer {
            h.push(Header::new(
                HeaderName::Contact,
                self.local_contact.to_string(),
            ));
        }
        req
    }

    /// Request-URI and Route values (RFC 3261 §12.2.1.1): with an empty
    /// route set or a loose-routing first hop (`;lr`), the remote target and
    /// the route set as is; with a strict router, the first route becomes the
    /// Request-URI and the remote target is appended as the last Route.
    pub fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if first.uri.has_lr() => {
                (self.remote_target.clone(), self.route_set.clone())
            }
            Some(first) => {
                let mut uri = first.uri.clone();
                // Parameters not allowed in a Request-URI are stripped (§12.2.1.1).
                uri.params
                    .retain(|p| !p.name.eq_ignore_ascii_case("method"));
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::new(self.remote_target.clone()));
                (uri, routes)
            }
        }
    }
}
