//! Media for pbx: RTP/RTCP packets, SDP offer/answer, G.711 (and Opus behind
//! the `opus` feature), DTMF, an adaptive jitter buffer, an RTP relay for
//! media anchoring and a conference mixer.
//!
//! # Run-loop contract
//! Protocol cores ([`relay::RelaySession`], [`mixer::Mixer`], [`jitter::JitterBuffer`],
//! [`dtmf`]) never own a socket, a thread or a clock. A driver feeds them
//! input with the current time (`handle_*`), drains their outputs
//! (`poll_*`) until empty, then sleeps until `poll_timeout()` or the next
//! input. The socket drivers live in [`relay::driver`] and [`mixer::thread`].
//!
//! # Hot paths
//! Per-packet work (parse, relay, mix) never allocates: packets are borrowed
//! views ([`rtp::RtpPacket`], [`rtcp::RtcpCompound`]) and builders write into
//! caller-supplied buffers. `tests/zero_alloc` proves it with a counting
//! global allocator.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod codec;
pub mod demux;
pub mod dtmf;
pub mod error;
pub mod g711;
pub mod jitter;
pub mod mixer;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod stats;

pub use error::PacketError;
pub use rtp::{PayloadType, Ssrc};
