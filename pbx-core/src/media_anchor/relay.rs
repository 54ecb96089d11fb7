//! The media relay as the call engine sees it: six operations on one
//! call's relay session. [`super::MediaAnchor`] (the `media::relay` pool)
//! is the implementation in `pbx serve`; the engine only holds a
//! `&dyn MediaRelay` (beside `MediaEndpoints` for pbx's own media), so a
//! test or another relay (rtpengine over its control protocol, an
//! in-kernel forwarder) can stand in.

use bytes::Bytes;

use super::{AnchorError, Anchored};

/// What the B2BUA engine asks of the media relay.
pub trait MediaRelay: Send + Sync {
    /// Anchors the caller's offer of a new call that pbx bridges (codecs
    /// may differ between the legs): the rewritten offer for the callee
    /// side and the call's relay state.
    fn open_bridging(&self, body: &[u8]) -> Result<(Bytes, Anchored), AnchorError>;
    /// A later SDP body of either side (answer, re-answer): rewritten for
    /// the other side, the relay re-pointed.
    fn update(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError>;
    /// A new offer (re-INVITE, UPDATE) of either side.
    fn update_offer(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError>;
    /// Releases the call's ports.
    fn close(&self, call: &Anchored);
    /// Opens the relay for a call pbx places itself (click-to-call): pbx's
    /// offer to the first party (the caller side) and the relay state.
    fn open_originating(&self) -> Result<(Bytes, Anchored), AnchorError>;
    /// The first party's answer to that offer: the caller side is pointed
    /// at it; returns the offer for the callee side.
    fn caller_answered(&self, call: &mut Anchored, answer: &[u8]) -> Result<Bytes, AnchorError>;
    /// pbx's offer to a callee that is a browser (its registration came
    /// over WS/WSS): the WebRTC offer standing for the plain `offer` of
    /// the callee side. Default: unsupported (the leg fails with 488).
    fn offer_webrtc(&self, call: &Anchored, offer: &[u8]) -> Result<Bytes, AnchorError> {
        let _ = (call, offer);
        Err(AnchorError::BadSdp("this relay has no WebRTC legs".into()))
    }
}

impl MediaRelay for super::MediaAnchor {
    fn open_bridging(&self, body: &[u8]) -> Result<(Bytes, Anchored), AnchorError> {
        super::MediaAnchor::open_bridging(self, body)
    }

    fn update(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError> {
        super::MediaAnchor::update(self, call, body, sender_is_caller)
    }

    fn update_offer(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError> {
        super::MediaAnchor::update_offer(self, call, body, sender_is_caller)
    }

    fn close(&self, call: &Anchored) {
        super::MediaAnchor::close(self, call)
    }

    fn open_originating(&self) -> Result<(Bytes, Anchored), AnchorError> {
        super::MediaAnchor::open_originating(self)
    }

    fn caller_answered(&self, call: &mut Anchored, answer: &[u8]) -> Result<Bytes, AnchorError> {
        super::MediaAnchor::caller_answered(self, call, answer)
    }

    fn offer_webrtc(&self, call: &Anchored, offer: &[u8]) -> Result<Bytes, AnchorError> {
        super::MediaAnchor::offer_webrtc(self, call, offer)
    }
}
