//! RFC 3261 §12 dialogs: the state two user agents share for a call (or a
//! REFER subscription) and the rules for requests inside it.
//!
//! A [`Dialog`] is created by the UAC from a 1xx-with-To-tag or a 2xx to its
//! INVITE ([`Dialog::from_uac`], §12.1.2) and by the UAS when it answers
//! ([`Dialog::from_uas`], §12.1.1). It builds in-dialog requests
//! ([`Dialog::request`], [`Dialog::ack`], §12.2.1.1), checks incoming ones
//! ([`Dialog::receive_request`], §12.2.2) and refreshes the remote target on
//! re-INVITE/UPDATE (§12.2). It builds no Via: the transaction user adds its
//! own with a fresh branch before sending.

mod build;

#[cfg(test)]
mod tests;

use crate::message::{HeaderName, Method, NameAddr, ParseError, Request, Response, Scheme, Uri};

/// The identity of a dialog (RFC 3261 §12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (From tag for the UAC, To tag for the UAS).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The id of the dialog an incoming request belongs to, seen from the
    /// receiver: local tag = To tag, remote tag = From tag (§12.2.2).
    pub fn of_incoming(request: &Request) -> Option<Self> {
        Some(Self {
            call_id: request.call_id().ok()?.to_owned(),
            local_tag: request.to().ok()?.tag()?.to_owned(),
            remote_tag: request.from().ok()?.tag()?.to_owned(),
        })
    }

    /// The id of the dialog a response to our request belongs to: local tag
    /// = From tag, remote tag = To tag.
    pub fn of_response(response: &Response) -> Option<Self> {
        Some(Self {
            call_id: response.call_id().ok()?.to_owned(),
            local_tag: response.from().ok()?.tag()?.to_owned(),
            remote_tag: response.to().ok()?.tag()?.to_owned(),
        })
    }
}

/// Dialog states of RFC 3261 §12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Why a dialog could not be created or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The response or request carries no tag where one is required.
    #[error("missing {0} tag")]
    MissingTag(&'static str),
    /// The response cannot create a dialog (not a 1xx with tag or a 2xx).
    #[error("a {0} response does not create a dialog")]
    NotDialogCreating(u16),
    /// An in-dialog request with a CSeq lower than (or equal to) the last
    /// one: answer 500 (RFC 3261 §12.2.2).
    #[error("CSeq {got} is not above {last}")]
    CSeqOutOfOrder {
        /// The request's CSeq number.
        got: u32,
        /// The highest number seen so far.
        last: u32,
    },
    /// The request does not belong to this dialog (answer 481).
    #[error("request does not match the dialog")]
    Mismatch,
}

impl DialogError {
    /// The status to answer an incoming request with (RFC 3261 §12.2.2).
    pub const fn status(&self) -> crate::message::StatusCode {
        use crate::message::StatusCode;
        match self {
            Self::CSeqOutOfOrder { .. } => StatusCode::SERVER_INTERNAL_ERROR,
            Self::Mismatch => StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An RFC 3261 §12 dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID and tags.
    pub id: DialogId,
    /// Early or confirmed.
    pub state: DialogState,
    /// Last CSeq number we used (the next request gets one more).
    pub local_seq: u32,
    /// Highest CSeq number received, if any (§12.2.2).
    pub remote_seq: Option<u32>,
    /// Our URI (From of our requests), without tag.
    pub local_uri: NameAddr,
    /// The peer's URI (To of our requests), without tag.
    pub remote_uri: NameAddr,
    /// Where in-dialog requests go: the peer's Contact (§12.1.1, §12.1.2).
    pub remote_target: Uri,
    /// Route set, in the order to put in Route headers.
    pub route_set: Vec<NameAddr>,
    /// Our Contact, sent in target-refresh requests and their responses.
    pub local_contact: NameAddr,
    /// Whether the dialog runs over TLS end to end (`sips:`, §12.1.1).
    pub secure: bool,
}

/// The first Contact URI of a message (§12.1.1: exactly one in a dialog-creating message).
fn contact_uri(headers: &crate::message::Headers) -> Result<Uri, ParseError> {
    headers
        .route_set(&HeaderName::Contact)?
        .into_iter()
        .next()
        .map(|c| c.uri)
        .ok_or_else(|| ParseError::missing(HeaderName::Contact))
}

fn without_tag(mut addr: NameAddr) -> NameAddr {
    addr.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
    addr
}

impl Dialog {
    /// The UAC side (RFC 3261 §12.1.2), from the request we sent and a 1xx
    /// with To tag (early) or a 2xx (confirmed): route set = Record-Route of
    /// the response reversed, remote target = its Contact.
    pub fn from_uac(request: &Request, response: &Response) -> Result<Self, DialogError> {
        let code = response.status.0;
        let state = match code {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NotDialogCreating(code)),
        };
        let to = response.to()?;
        let remote_tag = to.tag().ok_or(DialogError::MissingTag("To"))?.to_owned();
        let from = request.from()?;
        let local_tag = from
            .tag()
            .ok_or(DialogError::MissingTag("From"))?
            .to_owned();
        let mut route_set = response.headers.route_set(&HeaderName::RecordRoute)?;
        route_set.reverse();
        let local_contact = request
            .headers
            .route_set(&HeaderName::Contact)?
            .into_iter()
            .next()
            .ok_or_else(|| ParseError::missing(HeaderName::Contact))?;
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag,
                remote_tag,
            },
            state,
            local_seq: request.cseq()?.seq,
            remote_seq: None,
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target: contact_uri(&response.headers)?,
            route_set,
            local_contact,
            secure: request.uri.scheme == Scheme::Sips,
        })
    }

    /// The UAS side (RFC 3261 §12.1.1), for a request we answer with
    /// `local_tag` and `local_contact`: route set = Record-Route in order,
    /// remote target = the request's Contact, remote CSeq = the request's.
    /// Our own CSeq space starts at `initial_seq`.
    pub fn from_uas(
        request: &Request,
        local_tag: &str,
        local_contact: NameAddr,
        initial_seq: u32,
    ) -> Result<Self, DialogError> {
        let from = request.from()?;
        let remote_tag = from
            .tag()
            .ok_or(DialogError::MissingTag("From"))?
            .to_owned();
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag,
            },
            state: DialogState::Confirmed,
            local_seq: initial_seq,
            remote_seq: Some(request.cseq()?.seq),
            local_uri: without_tag(request.to()?),
            remote_uri: without_tag(from),
            remote_target: contact_uri(&request.headers)?,
            route_set: request.headers.route_set(&HeaderName::RecordRoute)?,
            local_contact,
            secure: request.uri.scheme == Scheme::Sips,
        })
    }

    /// Updates an early UAC dialog from a later response of the same dialog:
    /// a 2xx confirms it and its Record-Route replaces the route set (§12.1.2,
    /// §13.2.2.4); any Contact refreshes the remote target.
    pub fn update_from_response(&mut self, response: &Response) -> Result<(), DialogError> {
        if let Ok(target) = contact_uri(&response.headers) {
            self.remote_target = target;
        }
        if response.status.is_success() && self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
            let mut route_set = response.headers.route_set(&HeaderName::RecordRoute)?;
            route_set.reverse();
            self.route_set = route_set;
        }
        Ok(())
    }

    /// Checks an incoming in-dialog request (RFC 3261 §12.2.2): it must match
    /// the dialog and carry a CSeq above the last one (ACK and CANCEL reuse
    /// the INVITE's number and are not checked). On success the remote CSeq
    /// is recorded and, for a target-refresh request (re-INVITE, UPDATE), the
    /// remote target is replaced by its Contact.
    pub fn receive_request(&mut self, request: &Request) -> Result<(), DialogError> {
        if DialogId::of_incoming(request).as_ref() != Some(&self.id) {
            return Err(DialogError::Mismatch);
        }
        let seq = request.cseq()?.seq;
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_seq {
            if seq <= last {
                return Err(DialogError::CSeqOutOfOrder { got: seq, last });
            }
        }
        self.remote_seq = Some(seq);
        if matches!(request.method, Method::Invite | Method::Update) {
            if let Ok(target) = contact_uri(&request.headers) {
                self.remote_target = target;
            }
        }
        Ok(())
    }

    /// Whether `method` refreshes the remote target (RFC 3261 §12.2, RFC 3311).
    pub fn is_target_refresh(method: &Method) -> bool {
        matches!(method, Method::Invite | Method::Update)
    }
}
