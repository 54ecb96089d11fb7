//! RTP relay for media anchoring: port-pair allocation ([`ports`]),
//! symmetric latching with hijack protection ([`latch`]), SSRC/sequence
//! continuity ([`continuity`]), the sans-IO per-call state
//! ([`session`]), what each leg negotiated — RFC 4733 key presses reported
//! as they pass, per-packet transcoding when the legs' codecs differ
//! ([`media`]) — a socket driver on a dedicated thread ([`driver`], over a
//! level-triggered epoll: [`poller`]) and a pool of such threads, one per
//! core ([`pool`]). A session can hand the decoded audio of both legs to
//! a recording sink ([`record`]).

pub mod continuity;
pub mod driver;
pub mod latch;
pub mod media;
pub mod poller;
pub mod pool;
pub mod ports;
pub mod record;
pub mod session;

pub use media::LegMedia;
pub use record::{RecordSink, RecordStats, TapFrame, TapPush};
pub use session::{
    Channel, DropReason, Forward, LegConfig, LegStats, RelayConfig, RelaySession, Side,
};
