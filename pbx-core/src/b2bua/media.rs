//! pbx's own media endpoints as the engine sees them: the
//! [`MediaEndpoints`] service (answer a leg with pbx's media, play, record,
//! conference rooms) and its implementation on
//! [`media::endpoint::EndpointHost`] ([`EndpointService`]). The engine
//! stays sans-IO: it calls the service, and the server feeds the service's
//! events back with [`super::Engine::handle_media_event`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use media::endpoint::{EndpointConfig, EndpointError, EndpointEvent, EndpointHost, EndpointId};
use media::mixer::{Role, RoomId};

pub use media::endpoint::RoomOp;

/// Media endpoints for the engine (implemented by [`EndpointService`];
/// tests use a fake).
pub trait MediaEndpoints: Send + Sync {
    /// Opens an endpoint answering `offer`: its id and the SDP answer.
    fn open(&self, offer: &str) -> Result<(EndpointId, String), EndpointError>;
    /// A re-offer on an endpoint: the answer.
    fn update(&self, id: EndpointId, offer: &str) -> Result<String, EndpointError>;
    /// Opens an endpoint that offers first (music on hold): its id and the
    /// offer with `direction`. Default: unsupported ([`EndpointError::Stopped`]).
    fn open_offer(
        &self,
        direction: media::sdp::Direction,
    ) -> Result<(EndpointId, String), EndpointError> {
        let _ = direction;
        Err(EndpointError::Stopped)
    }
    /// The peer's answer to [`MediaEndpoints::open_offer`]'s offer.
    /// Default: unsupported ([`EndpointError::Stopped`]).
    fn set_answer(&self, id: EndpointId, answer: &str) -> Result<(), EndpointError> {
        let _ = (id, answer);
        Err(EndpointError::Stopped)
    }
    /// Closes an endpoint (its room left, its recording finished).
    fn close(&self, id: EndpointId);
    /// Plays WAV prompts in order (looping if `repeat`).
    fn play(
        &self,
        id: EndpointId,
        play: u64,
        prompts: &[PathBuf],
        repeat: bool,
    ) -> Result<(), EndpointError>;
    /// Stops a play.
    fn stop_play(&self, id: EndpointId, play: u64);
    /// Records into a new WAV file named `name` (in the service's
    /// directory); returns its path.
    fn record(
        &self,
        id: EndpointId,
        name: &str,
        beep: bool,
        max: Duration,
    ) -> Result<PathBuf, EndpointError>;
    /// Stops the recording.
    fn stop_recording(&self, id: EndpointId);
    /// Joins room `room` with `role` and the name tag `display`; returns
    /// the mixer's room id.
    fn join(&self, id: EndpointId, room: &str, role: Role, display: &str) -> RoomId;
    /// A room operation by the endpoint's participant.
    fn room_op(&self, id: EndpointId, op: RoomOp);
}

/// The endpoint runtime of `pbx serve`: an [`EndpointHost`] and the
/// directory recordings go to.
#[derive(Debug)]
pub struct EndpointService {
    host: EndpointHost,
    recordings: PathBuf,
}

impl EndpointService {
    /// Starts the endpoint and mixer threads.
    pub fn start(config: EndpointConfig, recordings: PathBuf) -> std::io::Result<Self> {
        Ok(Self {
            host: EndpointHost::spawn(config)?,
            recordings,
        })
    }

    /// The next event of the media threads, if any.
    pub fn poll_event(&self) -> Option<EndpointEvent> {
        self.host.poll_event()
    }

    /// The directory of recordings.
    pub fn recordings(&self) -> &Path {
        &self.recordings
    }

    /// The endpoint runtime itself: conference rooms for the admin API
    /// (rooms, roster, quality, moderator operations).
    pub fn host(&self) -> &EndpointHost {
        &self.host
    }
}

impl MediaEndpoints for EndpointService {
    fn open(&self, offer: &str) -> Result<(EndpointId, String), EndpointError> {
        self.host.open(offer)
    }
    fn update(&self, id: EndpointId, offer: &str) -> Result<String, EndpointError> {
        self.host.update(id, offer)
    }
    fn open_offer(
        &self,
        direction: media::sdp::Direction,
    ) -> Result<(EndpointId, String), EndpointError> {
        self.host.open_offer(direction)
    }
    fn set_answer(&self, id: EndpointId, answer: &str) -> Result<(), EndpointError> {
        self.host.set_answer(id, answer)
    }
    fn close(&self, id: EndpointId) {
        self.host.close(id);
    }
    fn play(
        &self,
        id: EndpointId,
        play: u64,
        prompts: &[PathBuf],
        repeat: bool,
    ) -> Result<(), EndpointError> {
        self.host.play(id, play, prompts, repeat)
    }
    fn stop_play(&self, id: EndpointId, play: u64) {
        self.host.stop_play(id, play);
    }
    fn record(
        &self,
        id: EndpointId,
        name: &str,
        beep: bool,
        max: Duration,
    ) -> Result<PathBuf, EndpointError> {
        let path = self.recordings.join(name);
        self.host.record(id, &path, beep, max)?;
        Ok(path)
    }
    fn stop_recording(&self, id: EndpointId) {
        self.host.stop_recording(id);
    }
    fn join(&self, id: EndpointId, room: &str, role: Role, display: &str) -> RoomId {
        self.host.join(id, room, role, display)
    }
    fn room_op(&self, id: EndpointId, op: RoomOp) {
        self.host.room_op(id, op);
    }
}
