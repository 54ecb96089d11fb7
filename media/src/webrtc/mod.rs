//! WebRTC legs: a browser's audio (ICE-lite, DTLS-SRTP, rtcp-mux, one
//! bundled audio line; Opus, PCMU, PCMA) turned into plain RTP for the relay,
//! and plain RTP from the relay sent to the browser as SRTP.
//!
//! Sans-IO like the rest of the crate: a [`WebRtcLeg`] never owns a socket or
//! a clock. The driver feeds it datagrams ([`WebRtcLeg::handle_datagram`]),
//! plain RTP from the other leg ([`WebRtcLeg::send_rtp`]) and timeouts
//! ([`WebRtcLeg::handle_timeout`]), each with the current time; after every
//! call it drains [`WebRtcLeg::poll_output`] until `None` and sleeps until
//! [`WebRtcLeg::poll_timeout`] or the next datagram.
//!
//! The protocol work is done by `str0m` (see `media/WEBRTC.md` for why, and
//! for its crypto backend: pure-Rust RustCrypto + dimpl, no system library);
//! this module adds pbx's policy on top: what an acceptable offer is
//! ([`crate::sdp::webrtc`]), how long ICE and DTLS may take, and a
//! [`CloseReason`] for every way a leg ends.
//!
//! ```no_run
//! # use std::net::UdpSocket;
//! # use std::time::Instant;
//! # use media::webrtc::{LegOutput, WebRtcConfig, WebRtcLeg};
//! # fn run(offer: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let socket = UdpSocket::bind("127.0.0.1:0")?;
//! let config = WebRtcConfig::new(socket.local_addr()?);
//! let (mut leg, _answer_sdp) = WebRtcLeg::accept_offer(config, Instant::now(), offer)?;
//! let mut buf = [0u8; 2048];
//! loop {
//!     while let Some(out) = leg.poll_output() {
//!         match out {
//!             LegOutput::Transmit { to, data } => drop(socket.send_to(&data, to)),
//!             LegOutput::Rtp(rtp) => { /* plain RTP for the relay: rtp.write_to(&mut buf) */ }
//!             LegOutput::Closed(reason) => return Ok(println!("leg ended: {reason}")),
//!             _ => {} // Connected, and outputs added later

//!         }
//!     }
//!     let wait = leg.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!     socket.set_read_timeout(wait.filter(|w| !w.is_zero()))?;
//!     match socket.recv_from(&mut buf) {
//!         Ok((n, from)) => leg.handle_datagram(Instant::now(), from, &buf[..n]),
//!         Err(_) => leg.handle_timeout(Instant::now()),
//!     }
//! }
//! # }
//! ```

mod leg;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use leg::WebRtcLeg;

use crate::rtp::{PayloadType, RtpHeader};
use crate::sdp::webrtc::WebRtcSdpError;
use crate::PacketError;

/// Audio codecs a WebRTC leg may negotiate (what the relay can bridge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebRtcCodecs {
    /// Opus 48 kHz (RFC 7587).
    pub opus: bool,
    /// G.711 µ-law.
    pub pcmu: bool,
    /// G.711 A-law.
    pub pcma: bool,
    /// RFC 4733 telephone-event (DTMF) at 8 kHz and 48 kHz, beside the
    /// audio codec.
    pub telephone_event: bool,
}

impl Default for WebRtcCodecs {
    fn default() -> Self {
        Self {
            opus: true,
            pcmu: true,
            pcma: true,
            telephone_event: true,
        }
    }
}

/// Settings of one leg.
#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    /// The UDP address the leg's socket is bound to: the one host candidate
    /// (ICE-lite, RFC 8445 §2.5).
    pub local: SocketAddr,
    /// Codecs offered or accepted.
    pub codecs: WebRtcCodecs,
    /// How long the peer has to complete ICE after the leg starts. Default 10 s.
    pub ice_timeout: Duration,
    /// How long DTLS may take once ICE works. Default 10 s (a browser
    /// retransmits its first flight for about that long).
    pub dtls_timeout: Duration,
}

impl WebRtcConfig {
    /// Defaults for a leg on `local`.
    pub fn new(local: SocketAddr) -> Self {
        Self {
            local,
            codecs: WebRtcCodecs::default(),
            ice_timeout: Duration::from_secs(10),
            dtls_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a leg ended. Stable `code()`s for CDRs and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The DTLS certificate does not match the SDP `a=fingerprint` (RFC 8122 §5).
    #[error("DTLS certificate does not match a=fingerprint")]
    FingerprintMismatch,
    /// No ICE connectivity within `ice_timeout`.
    #[error("ICE did not connect in time")]
    IceTimeout,
    /// ICE worked but DTLS did not complete within `dtls_timeout`.
    #[error("DTLS handshake did not complete in time")]
    DtlsTimeout,
    /// The DTLS handshake or SRTP set-up failed.
    #[error("DTLS failed: {0}")]
    DtlsFailed(String),
    /// Consent freshness lost: the peer stopped answering (RFC 7675).
    #[error("ICE connectivity lost")]
    IceDisconnected,
    /// The peer closed DTLS (close_notify).
    #[error("peer closed the connection")]
    RemoteClosed,
    /// [`WebRtcLeg::close`] was called.
    #[error("closed locally")]
    Local,
}

impl CloseReason {
    /// A stable, documented code (`webrtc.*`) for CDRs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FingerprintMismatch => "webrtc.fingerprint_mismatch",
            Self::IceTimeout => "webrtc.ice_timeout",
            Self::DtlsTimeout => "webrtc.dtls_timeout",
            Self::DtlsFailed(_) => "webrtc.dtls_failed",
            Self::IceDisconnected => "webrtc.ice_disconnected",
            Self::RemoteClosed => "webrtc.remote_closed",
            Self::Local => "webrtc.local_close",
        }
    }
}

/// Errors of the WebRTC leg API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebRtcError {
    /// The SDP body does not parse.
    #[error("SDP: {0}")]
    Sdp(#[from] crate::sdp::SdpError),
    /// The SDP parses but is no WebRTC description pbx can bridge.
    #[error("SDP: {0}")]
    NotBridgeable(#[from] WebRtcSdpError),
    /// str0m refused the offer or answer.
    #[error("SDP negotiation: {0}")]
    Negotiation(String),
    /// No codec in common.
    #[error("no common audio codec")]
    NoCommonCodec,
    /// An answer arrived but no offer is pending.
    #[error("no offer pending")]
    NoPendingOffer,
    /// RTP to send is malformed.
    #[error("RTP: {0}")]
    Rtp(#[from] PacketError),
    /// RTP to send uses a payload type not negotiated on this leg.
    #[error("payload type {0} is not negotiated on this leg")]
    UnknownPayloadType(u8),
    /// The leg is not connected (yet, or any more).
    #[error("leg is not connected")]
    NotConnected,
}

/// Outputs of a leg, drained with [`WebRtcLeg::poll_output`].
#[derive(Debug)]
#[non_exhaustive]
pub enum LegOutput {
    /// A datagram (STUN, DTLS or SRTP/SRTCP) to send from the leg's socket.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Decrypted RTP from the peer, for the relay.
    Rtp(ReceivedRtp),
    /// ICE and DTLS are done: media flows.
    Connected,
    /// The leg ended; nothing more comes out of it.
    Closed(CloseReason),
}

/// One decrypted RTP packet: the header fields the relay needs and the payload.
#[derive(Debug, Clone)]
pub struct ReceivedRtp {
    /// Header (str0m's extensions are dropped: plain legs do not negotiate them).
    pub header: RtpHeader,
    /// Payload.
    pub payload: Arc<[u8]>,
}

impl ReceivedRtp {
    /// Writes the plain RTP packet into `out`; returns its length.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, PacketError> {
        self.header.write(&self.payload, out)
    }

    /// Payload type.
    pub fn payload_type(&self) -> PayloadType {
        self.header.payload_type
    }
}
