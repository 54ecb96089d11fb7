//! Conference mixer (SPEC §20-21): rooms with roles and moderator controls
//! ([`room`]), the mix-minus tick ([`tick`]), the quality monitor
//! ([`quality`]) and the dedicated 20 ms mixing thread ([`thread`]).

pub use crate::quality;
pub mod room;
pub mod thread;
pub mod tick;

pub use room::{
    ConferenceError, Participant, ParticipantId, Role, Room, RoomEvent, RoomId, RoomLimits,
};
pub use thread::RoomRecordSink;
pub use tick::{Mixer, MixerEvent};
