//! WebRTC sides when pbx-core is built without its `webrtc` feature: a
//! browser's offer is refused (488) and browsers are not offered to.

use std::net::{IpAddr, SocketAddr};

use crossbeam_channel::Sender;
use media::relay::Side;

use super::AnchorError;

/// A WebRTC leg of an anchored call ended by itself (never, in this build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcEnded {
    /// The relay's id of the call's session.
    pub relay_id: u64,
    /// Which side was WebRTC.
    pub side: Side,
    /// The stable cause (`webrtc.*`).
    pub code: &'static str,
}

/// Whether an SDP body is a WebRTC description (any `UDP/TLS/RTP/SAVPF` line).
pub fn is_webrtc_body(body: &[u8]) -> bool {
    media::sdp::parse::parse_bytes(body).is_ok_and(|s| media::sdp::webrtc::is_webrtc(&s))
}

fn off() -> AnchorError {
    AnchorError::BadSdp("WebRTC is not built in (pbx-core feature `webrtc`)".into())
}

pub(super) struct WebRtcHost;

impl WebRtcHost {
    pub(super) fn new(_: IpAddr, _: Sender<WebRtcEnded>) -> std::io::Result<Self> {
        Ok(Self)
    }
    pub(super) fn close(&self, _: &mut WebRtcSides) {}

    pub(super) fn close_callee(&self, _: &mut WebRtcSides) {}
}

/// The WebRTC sides of one call: none in this build.
#[derive(Debug, Default)]
pub struct WebRtcSides;

impl WebRtcSides {
    /// Whether the caller's side is WebRTC.
    pub fn caller_is_webrtc(&self) -> bool {
        false
    }
    /// Whether the callee's side is WebRTC.
    pub fn callee_is_webrtc(&self) -> bool {
        false
    }
    pub(super) fn open_caller(&mut self, _: &WebRtcHost, _: &[u8]) -> Result<String, AnchorError> {
        Err(off())
    }
    pub(super) fn answer_caller(
        &mut self,
        _: &WebRtcHost,
        _: u64,
        _: &[u8],
        _: SocketAddr,
    ) -> Result<String, AnchorError> {
        Err(off())
    }
    pub(super) fn reoffer_plain(&self, _: Side, _: &[u8]) -> Option<Result<String, AnchorError>> {
        None
    }
    pub(super) fn reoffer_webrtc(&self, _: Side, _: &[u8]) -> Option<Result<String, AnchorError>> {
        None
    }
    pub(super) fn offer_callee(
        &mut self,
        _: &WebRtcHost,
        _: &[u8],
        _: SocketAddr,
    ) -> Result<String, AnchorError> {
        Err(off())
    }
    pub(super) fn callee_answered(
        &mut self,
        _: &WebRtcHost,
        _: u64,
        _: &[u8],
    ) -> Result<String, AnchorError> {
        Err(off())
    }
}
