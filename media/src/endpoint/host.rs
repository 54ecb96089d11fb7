//! The control side of the endpoint runtime: SDP offer/answer (RFC 3264),
//! prompt loading, recording files, room names; every operation becomes a
//! [`Command`] for the media thread ([`super::driver`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Poll, Waker};

use super::clip::{self, ClipCache};
use super::driver::{Command, Driver, MixFrame, TICK, WAKER};
use super::session::FRAME;
use super::{EndpointConfig, EndpointError, EndpointEvent, EndpointId, RoomOp};
use crate::mixer::room::Role;
use crate::mixer::thread::{Control, MixerHandle, RosterEntry};
use crate::mixer::{ParticipantId, RoomId};
use crate::quality::QualitySample;
use crate::rtp::PayloadType;
use crate::rtp::Ssrc;
use crate::sdp::negotiate::{create_answer, create_offer, process_answer, Negotiated};
use crate::sdp::{Codec, Direction, LocalMedia, SessionDescription};

/// What the host remembers of an open endpoint (for re-offers).
#[derive(Debug, Clone)]
struct Open {
    port: u16,
    version: u64,
    /// Our offer waiting for its answer ([`EndpointHost::open_offer`]).
    offer: Option<SessionDescription>,
}

/// Handle to the endpoint media thread (and its mixer thread).
#[derive(Debug)]
pub struct EndpointHost {
    cfg: EndpointConfig,
    commands: Sender<Command>,
    waker: Arc<Waker>,
    events: Receiver<EndpointEvent>,
    clips: ClipCache,
    beep: Arc<[i16]>,
    rooms: Mutex<HashMap<String, RoomId>>,
    /// The mixer's control channel (room recordings).
    mixer_control: Sender<Control>,
    open: Mutex<HashMap<EndpointId, Open>>,
    next_id: AtomicU32,
    thread: Option<JoinHandle<()>>,
}

impl EndpointHost {
    /// Starts the media thread and a mixer thread (160-sample frames, 20 ms).
    pub fn spawn(cfg: EndpointConfig) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (ctx, crx) = crossbeam_channel::unbounded();
        let (etx, erx) = crossbeam_channel::unbounded();
        let (mtx, mrx) = crossbeam_channel::bounded::<MixFrame>(1024);
        let sink_waker = waker.clone();
        let mixer = MixerHandle::spawn(FRAME, TICK, move |_room, participant, mix| {
            let mut f = MixFrame {
                participant,
                samples: [0; FRAME],
            };
            let n = mix.len().min(FRAME);
            f.samples[..n].copy_from_slice(&mix[..n]);
            // one wake per batch: only when the queue was empty before
            if mtx.try_send(f).is_ok() && mtx.len() == 1 {
                let _ = sink_waker.wake();
            }
        })?;
        let mixer_control = mixer.control.clone();
        let mut driver =
            Driver::new(cfg.clone(), poll, crx, etx, mixer, mrx).map_err(std::io::Error::other)?;
        let thread = std::thread::Builder::new()
            .name("media-endpoint".into())
            .spawn(move || {
                if let Err(e) = driver.run() {
                    tracing::error!(error = %e, "endpoint thread stopped");
                }
            })?;
        Ok(Self {
            cfg,
            commands: ctx,
            waker,
            events: erx,
            clips: ClipCache::new(),
            beep: clip::beep(),
            rooms: Mutex::default(),
            mixer_control,
            open: Mutex::default(),
            next_id: AtomicU32::new(1),
            thread: Some(thread),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Events from the media thread (play done, DTMF, recordings, rooms,
    /// closes).
    pub fn events(&self) -> &Receiver<EndpointEvent> {
        &self.events
    }

    /// Next pending event, if any.
    pub fn poll_event(&self) -> Option<EndpointEvent> {
        self.events.try_recv().ok()
    }

    fn local(&self, port: u16, version: u64) -> LocalMedia {
        LocalMedia {
            address: self.cfg.bind,
            port,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: true,
            ptime: 20,
            session_id: u64::from(port) << 16 | 0x7062,
            session_version: version,
            ..LocalMedia::default()
        }
    }

    /// Opens an endpoint for `offer` (RFC 3264 §6): binds a port pair,
    /// answers PCMU/PCMA + telephone-event with the offer's payload numbers.
    /// Returns the id and the answer.
    pub fn open(&self, offer: &str) -> Result<(EndpointId, String), EndpointError> {
        let offer = SessionDescription::parse(offer)?;
        // negotiate first: a bad offer takes no ports
        let (_, negotiated) = create_answer(&offer, &self.local(9, 1))?;
        let id = EndpointId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.send(Command::Open {
            id,
            negotiated,
            ssrc: ssrc_for(id),
            reply,
        });
        let ports = rx
            .recv_timeout(Duration::from_secs(2))
            .map_err(|_| EndpointError::Stopped)??;
        let (answer, _) = create_answer(&offer, &self.local(ports.rtp, 1))?;
        self.lock_open().insert(
            id,
            Open {
                port: ports.rtp,
                version: 1,
                offer: None,
            },
        );
        Ok((id, answer.to_string()))
    }

    /// Opens an endpoint that offers first (RFC 3264 §5; pbx re-INVITEs a
    /// held party to music on hold): binds a port pair and returns the id
    /// and an offer of PCMU/PCMA + telephone-event with `direction`.
    /// Nothing is sent until [`EndpointHost::set_answer`] gives the peer's
    /// address.
    pub fn open_offer(&self, direction: Direction) -> Result<(EndpointId, String), EndpointError> {
        let id = EndpointId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, rx) = crossbeam_channel::bounded(1);
        // Until the answer: no peer, nothing sent.
        let waiting = Negotiated {
            media_index: 0,
            codec: Codec::Pcmu,
            payload_type: PayloadType::PCMU,
            telephone_event: None,
            ptime: 20,
            direction: Direction::Inactive,
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: false,
        };
        self.send(Command::Open {
            id,
            negotiated: waiting,
            ssrc: ssrc_for(id),
            reply,
        });
        let ports = rx
            .recv_timeout(Duration::from_secs(2))
            .map_err(|_| EndpointError::Stopped)??;
        let offer = create_offer(&LocalMedia {
            direction,
            ..self.local(ports.rtp, 1)
        });
        let text = offer.to_string();
        self.lock_open().insert(
            id,
            Open {
                port: ports.rtp,
                version: 1,
                offer: Some(offer),
            },
        );
        Ok((id, text))
    }

    /// The answer to the offer of [`EndpointHost::open_offer`] (RFC 3264
    /// §6): codec, payload types and the peer's address; media starts.
    pub fn set_answer(&self, id: EndpointId, answer: &str) -> Result<(), EndpointError> {
        let answer = SessionDescription::parse(answer)?;
        let offer = self
            .lock_open()
            .get_mut(&id)
            .ok_or(EndpointError::Unknown(id))?
            .offer
            .take()
            .ok_or(EndpointError::NoOffer(id))?;
        let negotiated = process_answer(&offer, &answer)?;
        self.send(Command::Update(id, negotiated));
        Ok(())
    }

    /// A re-offer on an open endpoint (hold, new address, codec change):
    /// returns the answer, with a new session version.
    pub fn update(&self, id: EndpointId, offer: &str) -> Result<String, EndpointError> {
        let offer = SessionDescription::parse(offer)?;
        let open = {
            let mut map = self.lock_open();
            let o = map.get_mut(&id).ok_or(EndpointError::Unknown(id))?;
            o.version += 1;
            o.offer = None;
            o.clone()
        };
        let (answer, negotiated) = create_answer(&offer, &self.local(open.port, open.version))?;
        self.send(Command::Update(id, negotiated));
        Ok(answer.to_string())
    }

    /// Closes an endpoint (leaving its room, finishing its recording);
    /// [`EndpointEvent::Closed`] carries the final stats.
    pub fn close(&self, id: EndpointId) {
        if self.lock_open().remove(&id).is_some() {
            self.send(Command::Close(id));
        }
    }

    /// Plays `files` (8 kHz mono 16-bit WAV) in order, looping if `repeat`;
    /// [`EndpointEvent::PlayDone`] with `play` follows unless stopped.
    pub fn play(
        &self,
        id: EndpointId,
        play: u64,
        files: &[PathBuf],
        repeat: bool,
    ) -> Result<(), EndpointError> {
        let clips = files
            .iter()
            .map(|f| self.clips.get(f))
            .collect::<Result<Vec<_>, _>>()?;
        self.send(Command::Play {
            id,
            play,
            clips,
            repeat,
        });
        Ok(())
    }

    /// Stops play `play` (no `PlayDone`).
    pub fn stop_play(&self, id: EndpointId, play: u64) {
        self.send(Command::StopPlay(id, play));
    }

    /// Records what the peer says into a new WAV file at `path`, after a
    /// beep if asked, for at most `max`; [`EndpointEvent::RecordDone`]
    /// follows.
    pub fn record(
        &self,
        id: EndpointId,
        path: &Path,
        beep: bool,
        max: Duration,
    ) -> Result<(), EndpointError> {
        let fail = |reason: String| EndpointError::Record {
            path: path.to_owned(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let writer =
            hound::WavWriter::create(path, clip::wav_spec()).map_err(|e| fail(e.to_string()))?;
        self.send(Command::Record {
            id,
            writer: Box::new(writer),
            path: path.to_owned(),
            beep: beep.then(|| self.beep.clone()),
            max,
        });
        Ok(())
    }

    /// Stops the recording (RecordDone follows).
    pub fn stop_recording(&self, id: EndpointId) {
        self.send(Command::StopRecording(id));
    }

    /// Puts the endpoint into room `room` (created on first use, SPEC §20
    /// limits) with `role` and the name tag `display`; it leaves any room
    /// it was in.
    pub fn join(&self, id: EndpointId, room: &str, role: Role, display: &str) -> RoomId {
        let room_id = {
            let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            let next = RoomId(rooms.len() as u32 + 1);
            *rooms.entry(room.to_owned()).or_insert(next)
        };
        self.send(Command::Join {
            id,
            room: room_id,
            name: room.to_owned(),
            role,
            display: display.to_owned(),
        });
        room_id
    }

    /// Records room `room`'s mix into `sink` from the next tick (None:
    /// stops); the room may be joined later (SPEC §22).
    pub fn record_room(
        &self,
        room: &str,
        sink: Option<Arc<dyn crate::mixer::RoomRecordSink>>,
    ) -> RoomId {
        let room_id = {
            let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            let next = RoomId(rooms.len() as u32 + 1);
            *rooms.entry(room.to_owned()).or_insert(next)
        };
        let _ = self.mixer_control.send(Control::Record(room_id, sink));
        room_id
    }

    /// The mixer id of a room name, if it was ever joined.
    pub fn room_id(&self, room: &str) -> Option<RoomId> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.get(room).copied()
    }

    /// Takes the endpoint out of its room.
    pub fn leave(&self, id: EndpointId) {
        self.send(Command::Leave(id));
    }

    /// A conference operation by the endpoint's participant.
    pub fn room_op(&self, id: EndpointId, op: RoomOp) {
        self.send(Command::Room(id, op));
    }

    /// Names of the rooms that have participants now, sorted.
    pub fn rooms(&self) -> Vec<String> {
        let names: Vec<(String, RoomId)> = {
            let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            rooms.iter().map(|(n, r)| (n.clone(), *r)).collect()
        };
        let mut live: Vec<String> = names
            .into_iter()
            .filter(|(_, r)| self.query_roster(*r).is_ok_and(|p| !p.is_empty()))
            .map(|(n, _)| n)
            .collect();
        live.sort();
        live
    }

    /// The live roster of room `room` (featured first; SPEC §20 fields).
    pub fn roster(&self, room: &str) -> Result<Vec<RosterEntry>, EndpointError> {
        let id = self.live_room(room)?;
        self.query_roster(id)
    }

    /// The quality window of one participant (SPEC §21): samples of what
    /// pbx receives from it and of what it sends to it, oldest first.
    pub fn quality(
        &self,
        room: &str,
        participant: EndpointId,
    ) -> Result<(Vec<QualitySample>, Vec<QualitySample>), EndpointError> {
        let id = self.live_room(room)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Command::Mixer(Control::QueryQuality(
            id,
            ParticipantId(participant.0),
            tx,
        )));
        rx.recv_timeout(QUERY_TIMEOUT)
            .map_err(|_| EndpointError::UnknownParticipant(room.to_owned(), participant))
    }

    /// A room operation by the administrator (HTTP API, CLI), with a
    /// moderator's rights whether or not the moderator is in the room.
    /// Refusals (e.g. an unknown participant) arrive as
    /// [`EndpointEvent::RoomRefused`].
    pub fn admin(&self, room: &str, op: RoomOp) -> Result<(), EndpointError> {
        let id = self.live_room(room)?;
        self.send(Command::Admin(id, op));
        Ok(())
    }

    /// The mixer id of `room` if it has participants now.
    fn live_room(&self, room: &str) -> Result<RoomId, EndpointError> {
        let unknown = || EndpointError::UnknownRoom(room.to_owned());
        let id = self.room_id(room).ok_or_else(unknown)?;
        match self.query_roster(id) {
            Ok(p) if !p.is_empty() => Ok(id),
            _ => Err(unknown()),
        }
    }

    fn query_roster(&self, id: RoomId) -> Result<Vec<RosterEntry>, EndpointError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Command::Mixer(Control::QueryRoster(id, tx)));
        // a room the mixer does not know drops the reply: no participants
        match rx.recv_timeout(QUERY_TIMEOUT) {
            Ok(p) => Ok(p),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Vec::new()),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(EndpointError::Stopped),
        }
    }

    /// The endpoint of a room participant.
    pub fn endpoint_of(p: ParticipantId) -> EndpointId {
        EndpointId(p.0)
    }

    fn send(&self, cmd: Command) {
        if self.commands.send(cmd).is_ok() {
            let _ = self.waker.wake();
        }
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, HashMap<EndpointId, Open>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for EndpointHost {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long a live query waits for the mixer thread (it answers within a
/// 20 ms tick).
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// An SSRC that differs per endpoint and per run (RFC 3550 §8.1: random).
fn ssrc_for(id: EndpointId) -> Ssrc {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    id.hash(&mut h);
    Instant::now().hash(&mut h);
    Ssrc(h.finish() as u32)
}
