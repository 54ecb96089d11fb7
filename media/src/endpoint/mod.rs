//! Media endpoints: pbx terminating a call's audio itself (IVR prompts,
//! music on hold, recording, DTMF, conference rooms on the [`crate::mixer`]).
//!
//! - [`host::EndpointHost`] is the control side: `open(offer) -> (id,
//!   answer)`, `update`, `play`, `record`, `join`, `close`, ... Each call
//!   sends a command over a crossbeam channel and wakes the media thread.
//! - [`driver`] is the media thread: one `mio` poll owning every endpoint
//!   socket, a 20 ms tick on absolute deadlines for prompts, and the bridge
//!   to the mixer thread (decoded frames in, each participant's mix out).
//! - [`session::EndpointSession`] is the sans-IO per-endpoint state.
//! - [`clip`] decodes and caches WAV prompts.
//!
//! Only G.711 (PCMU, PCMA) and RFC 4733 telephone-event are negotiated;
//! packets are 20 ms. When nothing plays (and the endpoint is in no room)
//! it sends no RTP: no comfort noise. RTCP (RFC 3550 §6) goes on all the
//! time: SR while sending, else RR, + SDES CNAME, to the peer's RTCP source
//! once heard, else its signalled RTCP address (or RTP with rtcp-mux); the
//! peer's reports give the round-trip time in the endpoint's stats.

pub mod clip;
pub mod driver;
pub mod host;
pub mod queue;
pub mod session;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::dtmf::Digit;
use crate::mixer::{ConferenceError, RoomEvent, RoomId};
use crate::relay::ports::PortError;
use crate::relay::LegStats;
use crate::sdp::{NegotiationError, SdpError};

pub use host::EndpointHost;

/// Id of an endpoint (also its participant id in conference rooms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub u32);

/// Endpoint runtime settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Address to bind on and put in SDP answers.
    pub bind: IpAddr,
    /// First port of the range (RTP even, RTCP odd).
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port_min: 40000,
            port_max: 44999,
        }
    }
}

/// A conference operation by the participant on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomOp {
    /// Moderator: mute every speaking guest (immediate, SPEC §20).
    MuteGuests,
    /// Moderator: ask every muted guest to unmute (they accept with `1`).
    RequestUnmuteGuests,
    /// Moderator / supervisor: mute one participant.
    Mute(EndpointId),
    /// Moderator: ask one participant to unmute.
    RequestUnmute(EndpointId),
    /// Moderator: lock or unlock the room.
    Lock(bool),
    /// Moderator: end the room (every participant is released).
    End,
    /// Moderator / supervisor: remove a participant (`ban`: for good,
    /// SPEC §21).
    Kick {
        /// Who.
        target: EndpointId,
        /// Also refuse their rejoining.
        ban: bool,
    },
    /// A key pressed by the participant itself: `1`/`2` answer an unmute
    /// request, `*` toggles self-mute (the room's own DTMF rules).
    Key(Digit),
}

/// Events from the media thread.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EndpointEvent {
    /// A play reached its end (not sent for stopped plays).
    PlayDone {
        /// Endpoint.
        id: EndpointId,
        /// The play's id.
        play: u64,
    },
    /// A key press, from RFC 4733 events or in-band tones.
    Dtmf {
        /// Endpoint.
        id: EndpointId,
        /// The key.
        digit: Digit,
    },
    /// A recording ended (stopped, max duration, or endpoint closed).
    RecordDone {
        /// Endpoint.
        id: EndpointId,
        /// The WAV file.
        path: PathBuf,
        /// Audio written.
        duration: Duration,
    },
    /// Something happened in a room (participant ids are endpoint ids).
    Room {
        /// The room.
        room: RoomId,
        /// What.
        event: RoomEvent,
    },
    /// A room operation was refused by the mixer.
    RoomRefused(ConferenceError),
    /// The endpoint could not join its room (full for its role, locked);
    /// it stays out of every room.
    JoinRefused {
        /// Endpoint.
        id: EndpointId,
        /// Why.
        error: ConferenceError,
    },
    /// The endpoint is closed; its final counters.
    Closed {
        /// Endpoint.
        id: EndpointId,
        /// Final stats (`_in`: from the peer, `_out`: to the peer).
        stats: LegStats,
    },
}

/// Why an endpoint operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The offer does not parse.
    #[error("offer: {0}")]
    Sdp(#[from] SdpError),
    /// No common codec (or no audio stream) in the offer.
    #[error("offer/answer: {0}")]
    Negotiation(#[from] NegotiationError),
    /// No free port pair.
    #[error("ports: {0}")]
    Ports(#[from] PortError),
    /// A prompt could not be loaded.
    #[error("prompt {path}: {reason}")]
    Clip {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A recording file could not be created.
    #[error("recording {path}: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No such endpoint.
    #[error("no endpoint {0:?}")]
    Unknown(EndpointId),
    /// No room of that name has participants now.
    #[error("no conference room `{0}` with participants")]
    UnknownRoom(String),
    /// No such participant in the room.
    #[error("no participant {1:?} in room `{0}`")]
    UnknownParticipant(String, EndpointId),
    /// An answer for an endpoint that has no offer waiting for one.
    #[error("endpoint {0:?} has no offer waiting for an answer")]
    NoOffer(EndpointId),
    /// The media thread is gone or did not answer.
    #[error("media thread not answering")]
    Stopped,
}
