//! Media for pbx: RTP/RTCP packets, SDP offer/answer, G.711 (and Opus behind
//! the `opus` feature), DTMF, an adaptive jitter buffer, an RTP relay for
//! media anchoring, a conference mixer and media endpoints that terminate a
//! call's audio ([`endpoint`]).
//!
//! # Run-loop contract
//! Protocol cores ([`relay::RelaySession`], [`mixer::Mixer`], [`jitter::JitterBuffer`],
//! [`reporter::RtcpReporter`], [`dtmf`]) never own a socket, a thread or a
//! clock. A driver feeds them
//! input with the current time (`handle_*`), drains their outputs
//! (`poll_*`) until empty, then sleeps until `poll_timeout()` or the next
//! input. The socket drivers live in [`relay::driver`], [`mixer::thread`] and
//! [`endpoint::driver`] (pbx's own media endpoints: prompts, DTMF,
//! recording, conference rooms).
//!
//! A minimal relay driver loop (the real one is [`relay::driver`]):
//!
//! ```
//! use std::net::UdpSocket;
//! use std::time::Instant;
//! use media::relay::{Channel, Forward, LegConfig, RelayConfig, RelaySession, Side};
//!
//! let (leg_a, leg_b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
//! let phone_a = UdpSocket::bind("127.0.0.1:0")?;
//! let phone_b = UdpSocket::bind("127.0.0.1:0")?;
//! let signalled = |s: &UdpSocket| LegConfig {
//!     remote_rtp: Some(s.local_addr().unwrap()),
//!     remote_rtcp: None,
//!     rtcp_mux: true,
//! };
//! let mut session = RelaySession::new(RelayConfig::default(), Instant::now(), signalled(&phone_a), signalled(&phone_b));
//! // phone A sends one RTP packet to its relay port
//! phone_a.send_to(&[0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 0xff], leg_a.local_addr()?)?;
//! let mut buf = [0u8; 2048];
//! let (n, from) = leg_a.recv_from(&mut buf)?;
//! if let Forward::Send { side: Side::B, to, .. } = session.handle_packet(Instant::now(), Side::A, Channel::Rtp, from, &mut buf[..n]) {
//!     leg_b.send_to(&buf[..n], to)?;
//! }
//! assert_eq!(phone_b.recv(&mut buf)?, n);
//! // and when idle: sleep until session.poll_timeout(), then handle_timeout(now)
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Features
//! - `opus` (default): Opus through `audiopus`, which links the system
//!   libopus found by pkg-config (Debian: `apt-get install libopus-dev
//!   pkg-config`) or builds its bundled copy with cmake. Without it
//!   [`codec::AudioEncoder::new`] returns [`codec::CodecError::Unavailable`]
//!   for Opus and SDP negotiation should leave Opus out of
//!   [`sdp::LocalMedia::codecs`].
//! - `webrtc` (default): [`webrtc`] legs (ICE-lite, DTLS-SRTP) through
//!   str0m with its pure-Rust crypto backend; no system library needed.
//!
//! # Hot paths
//! Per-packet work (parse, relay, mix) never allocates: packets are borrowed
//! views ([`rtp::RtpPacket`], [`rtcp::RtcpCompound`]) and builders write into
//! caller-supplied buffers. `tests/zero_alloc` proves it with a counting
//! global allocator.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// No unsafe code: the measured hot paths (relay, mixer) reach their numbers
// without it; see tests/zero_alloc and benches/media.rs.

pub mod codec;
pub mod demux;
pub mod dtmf;
pub mod endpoint;
pub mod error;
pub mod g711;
pub mod jitter;
pub mod mixer;
pub mod quality;
pub mod relay;
pub mod reporter;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod stats;
#[cfg(feature = "webrtc")]
pub mod webrtc;

pub use error::PacketError;
pub use rtp::{PayloadType, Ssrc};
