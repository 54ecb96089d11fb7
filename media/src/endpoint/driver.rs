//! The endpoint media thread: one `mio` poll owns every endpoint's RTP and
//! RTCP sockets; prompts are paced by a 20 ms tick on absolute deadlines;
//! conference audio goes to the mixer thread as [`AudioFrame`]s and each
//! participant's mix comes back through a bounded channel (the mixer's
//! sink) and is sent at once. Per packet: recv → decode → (DTMF, record,
//! mixer) and encode → send, with no allocation.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use super::queue::FrameQueue;
use super::session::{EndpointSession, SessionEvent, WavWriter, FRAME, MAX_DECODED};
use super::{EndpointConfig, EndpointEvent, EndpointId, RoomOp};
use crate::demux::{classify, PacketKind};
use crate::mixer::room::Role;
use crate::mixer::thread::{AudioFrame, Control, MixerHandle, MixerOutput, MAX_FRAME};
use crate::mixer::{ParticipantId, RoomId};
use crate::relay::ports::{PortAllocator, PortError, PortPair};
use crate::rtcp::NtpTime;
use crate::rtp::Ssrc;
use crate::sdp::Negotiated;

mod rooms;

/// The tick of prompts and the mixer.
pub const TICK: Duration = Duration::from_millis(20);

/// One participant's mix of the last mixer tick.
#[derive(Debug, Clone, Copy)]
pub struct MixFrame {
    /// The participant (= endpoint id).
    pub participant: ParticipantId,
    /// 20 ms at 8 kHz.
    pub samples: [i16; FRAME],
}

/// Commands from [`super::EndpointHost`] to the media thread.
#[non_exhaustive]
pub enum Command {
    /// Bind a port pair and start a session.
    Open {
        /// Id.
        id: EndpointId,
        /// Negotiated stream.
        negotiated: Negotiated,
        /// SSRC to send with.
        ssrc: Ssrc,
        /// Where the bound pair goes.
        reply: Sender<Result<PortPair, PortError>>,
    },
    /// A re-offer was answered.
    Update(EndpointId, Negotiated),
    /// Start a play.
    Play {
        /// Endpoint.
        id: EndpointId,
        /// Play id.
        play: u64,
        /// Decoded clips.
        clips: Vec<Arc<[i16]>>,
        /// Loop.
        repeat: bool,
    },
    /// Stop a play.
    StopPlay(EndpointId, u64),
    /// Start recording.
    Record {
        /// Endpoint.
        id: EndpointId,
        /// The open file.
        writer: Box<WavWriter>,
        /// Its path.
        path: PathBuf,
        /// Beep to play first.
        beep: Option<Arc<[i16]>>,
        /// Longest recording.
        max: Duration,
    },
    /// Stop recording.
    StopRecording(EndpointId),
    /// Join a room (created on first use).
    Join {
        /// Endpoint.
        id: EndpointId,
        /// Room.
        room: RoomId,
        /// Room name (at creation).
        name: String,
        /// Role.
        role: Role,
        /// The participant's name tag.
        display: String,
    },
    /// Leave the endpoint's room.
    Leave(EndpointId),
    /// A room operation by the endpoint's participant.
    Room(EndpointId, RoomOp),
    /// A room operation by the administrator (moderator's rights).
    Admin(RoomId, RoomOp),
    /// Passed on to the mixer thread as is (live queries: roster, quality).
    Mixer(Control),
    /// Close (final stats as [`EndpointEvent::Closed`]).
    Close(EndpointId),
    /// Stop the thread.
    Shutdown,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Open { .. } => "Open",
            Self::Update(..) => "Update",
            Self::Play { .. } => "Play",
            Self::StopPlay(..) => "StopPlay",
            Self::Record { .. } => "Record",
            Self::StopRecording(_) => "StopRecording",
            Self::Join { .. } => "Join",
            Self::Leave(_) => "Leave",
            Self::Room(..) => "Room",
            Self::Admin(..) => "Admin",
            Self::Mixer(_) => "Mixer",
            Self::Close(_) => "Close",
            Self::Shutdown => "Shutdown",
        };
        f.write_str(name)
    }
}

struct Entry {
    id: EndpointId,
    session: EndpointSession,
    sockets: [UdpSocket; 2],
    ports: PortPair,
    room: Option<(RoomId, Role)>,
    /// Decoded frames waiting for the mixer.
    inbox: FrameQueue,
}

/// Token of the waker.
pub const WAKER: Token = Token(usize::MAX);

/// The media thread's state.
pub(crate) struct Driver {
    pub(super) cfg: EndpointConfig,
    pub(super) poll: Poll,
    pub(super) ports: PortAllocator,
    pub(super) commands: Receiver<Command>,
    pub(super) events: Sender<EndpointEvent>,
    pub(super) mixer: MixerHandle,
    pub(super) mixes: Receiver<MixFrame>,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_id: HashMap<EndpointId, usize>,
    rooms: HashSet<RoomId>,
    locked: HashSet<RoomId>,
    ticks: u64,
}

/// Ticks between quality observations handed to the mixer (1 s).
const QUALITY_TICKS: u64 = 50;

impl Driver {
    /// A driver with no endpoints.
    pub(super) fn new(
        cfg: EndpointConfig,
        poll: Poll,
        commands: Receiver<Command>,
        events: Sender<EndpointEvent>,
        mixer: MixerHandle,
        mixes: Receiver<MixFrame>,
    ) -> Result<Self, PortError> {
        Ok(Self {
            ports: PortAllocator::new(cfg.port_min, cfg.port_max)?,
            cfg,
            poll,
            commands,
            events,
            mixer,
            mixes,
            entries: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            rooms: HashSet::new(),
            locked: HashSet::new(),
            ticks: 0,
        })
    }

    /// Runs until [`Command::Shutdown`] or the host is dropped.
    pub(super) fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut buf = [0u8; 2048];
        // half a tick out of phase with the mixer thread, started just before
        let mut next_tick = Instant::now() + TICK / 2;
        loop {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for ev in events.iter() {
                if ev.token() != WAKER {
                    self.drain_socket(ev.token().0, &mut buf);
                }
            }
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Shutdown) => return Ok(()),
                    Ok(cmd) => self.command(cmd),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return Ok(()),
                }
            }
            self.send_mixes(&mut buf);
            while let Ok(out) = self.mixer.output.try_recv() {
                let ev = match out {
                    MixerOutput::Event(e) => {
                        self.room_event(&e);
                        EndpointEvent::Room {
                            room: e.room,
                            event: e.event,
                        }
                    }
                    MixerOutput::Refused(e) => EndpointEvent::RoomRefused(e),
                };
                let _ = self.events.send(ev);
            }
            let now = Instant::now();
            if now >= next_tick {
                self.tick(now, &mut buf);
                next_tick += TICK;
                if next_tick < now {
                    // fell behind (suspended?): skip, do not burst
                    next_tick = now + TICK;
                }
            }
        }
    }

    /// Reads until WouldBlock (edge-triggered).
    fn drain_socket(&mut self, token: usize, buf: &mut [u8; 2048]) {
        let (slot, k) = (token / 2, token % 2);
        let Some(Some(e)) = self.entries.get_mut(slot) else {
            return;
        };
        let mut pcm = [0i16; MAX_DECODED];
        let mut errors = 0;
        loop {
            let (n, from) = match e.sockets[k].recv_from(buf) {
                Ok(x) => x,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) if errors < 64 => {
                    errors += 1;
                    continue;
                }
                Err(_) => return,
            };
            if k == 1 || classify(&buf[..n]) == PacketKind::Rtcp {
                // on the RTCP port, or the RTP port with rtcp-mux
                e.session.handle_rtcp(Instant::now(), from, &buf[..n]);
                continue;
            }
            let id = e.id;
            let events = &self.events;
            let mut emit = |ev| emit_event(events, id, ev);
            let got = e
                .session
                .handle_rtp(Instant::now(), from, &buf[..n], &mut pcm, &mut emit);
            if e.room.is_some() && got > 0 {
                for chunk in pcm[..got].chunks(FRAME) {
                    e.inbox.push(chunk);
                }
            }
        }
    }

    /// Sends each participant's mix (unless a prompt is playing to it).
    fn send_mixes(&mut self, buf: &mut [u8; 2048]) {
        while let Ok(m) = self.mixes.try_recv() {
            let Some(&slot) = self.by_id.get(&EndpointId(m.participant.0)) else {
                continue;
            };
            let Some(e) = self.entries[slot].as_mut() else {
                continue;
            };
            if e.room.is_none() || e.session.is_playing() {
                continue;
            }
            send_frame(e, Instant::now(), &m.samples, buf);
        }
    }

    fn tick(&mut self, now: Instant, buf: &mut [u8; 2048]) {
        let mut pcm = [0i16; FRAME];
        for e in self.entries.iter_mut().flatten() {
            let id = e.id;
            let events = &self.events;
            let mut emit = |ev| emit_event(events, id, ev);
            if e.session.tick(now, &mut pcm, &mut emit) {
                send_frame(e, now, &pcm, buf);
            }
            if let Some((n, to, mux)) = e.session.poll_rtcp(now, buf) {
                let _ = e.sockets[usize::from(!mux)].send_to(&buf[..n], to);
            }
            // one queued frame per tick to the mixer (it mixes one per tick)
            if let (Some((room, _)), Some(frame)) = (e.room, e.inbox.pop()) {
                let mut f = AudioFrame {
                    room,
                    participant: ParticipantId(id.0),
                    len: FRAME,
                    samples: [0; MAX_FRAME],
                };
                f.samples[..FRAME].copy_from_slice(frame);
                self.mixer.send_audio(f);
            }
        }
        // once a second: the mixer's monitors sample every 10 s
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(QUALITY_TICKS) {
            self.observe_quality();
        }
    }

    /// A pair busy with another process goes back to the end of the free
    /// list and the next one is tried (as the relay does).
    fn bind_pair(&mut self) -> Result<(PortPair, UdpSocket, UdpSocket), PortError> {
        for _ in 0..self.ports.available().clamp(1, 256) {
            let pair = self.ports.allocate()?;
            let rtp = UdpSocket::bind(SocketAddr::new(self.cfg.bind, pair.rtp));
            let rtcp = UdpSocket::bind(SocketAddr::new(self.cfg.bind, pair.rtcp()));
            match (rtp, rtcp) {
                (Ok(a), Ok(b)) => return Ok((pair, a, b)),
                (rtp, rtcp) => {
                    let out_of_fds = crate::relay::ports::out_of_descriptors(
                        [rtp.err(), rtcp.err()].iter().flatten(),
                    );
                    self.ports.release(pair);
                    if out_of_fds {
                        return Err(PortError::Descriptors);
                    }
                    tracing::debug!(port = pair.rtp, "endpoint port pair busy");
                }
            }
        }
        Err(PortError::Exhausted)
    }

    fn open(&mut self, id: EndpointId, n: &Negotiated, ssrc: Ssrc) -> Result<PortPair, PortError> {
        let (ports, rtp, rtcp) = self.bind_pair()?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        let mut sockets = [rtp, rtcp];
        for (k, s) in sockets.iter_mut().enumerate() {
            if let Err(e) =
                self.poll
                    .registry()
                    .register(s, Token(slot * 2 + k), Interest::READABLE)
            {
                tracing::warn!(error = %e, "endpoint socket registration failed");
            }
        }
        self.entries[slot] = Some(Entry {
            id,
            session: EndpointSession::new(n, Instant::now(), NtpTime::now(), ssrc),
            sockets,
            ports,
            room: None,
            inbox: FrameQueue::new(),
        });
        self.by_id.insert(id, slot);
        Ok(ports)
    }

    fn entry(&mut self, id: EndpointId) -> Option<&mut Entry> {
        let slot = *self.by_id.get(&id)?;
        self.entries[slot].as_mut()
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        let events = self.events.clone();
        match cmd {
            Command::Open {
                id,
                negotiated,
                ssrc,
                reply,
            } => {
                let _ = reply.send(self.open(id, &negotiated, ssrc));
            }
            Command::Update(id, n) => {
                if let Some(e) = self.entry(id) {
                    e.session.update(&n);
                }
            }
            Command::Play {
                id,
                play,
                clips,
                repeat,
            } => {
                if let Some(e) = self.entry(id) {
                    e.session.play(play, clips, repeat);
                }
            }
            Command::StopPlay(id, play) => {
                if let Some(e) = self.entry(id) {
                    e.session.stop_play(play);
                }
            }
            Command::Record {
                id,
                writer,
                path,
                beep,
                max,
            } => {
                if let Some(e) = self.entry(id) {
                    let mut emit = |ev| emit_event(&events, id, ev);
                    e.session.record(now, *writer, path, beep, max, &mut emit);
                }
            }
            Command::StopRecording(id) => {
                if let Some(e) = self.entry(id) {
                    e.session
                        .stop_recording(&mut |ev| emit_event(&events, id, ev));
                }
            }
            Command::Join {
                id,
                room,
                name,
                role,
                display,
            } => self.join(id, room, name, role, display),
            Command::Leave(id) => self.leave(id),
            Command::Room(id, op) => self.room_op(id, op),
            Command::Admin(room, op) => self.admin_op(room, op),
            Command::Mixer(control) => {
                let _ = self.mixer.control.send(control);
            }
            Command::Close(id) => self.close(id),
            Command::Shutdown => {}
        }
    }

    fn close(&mut self, id: EndpointId) {
        self.leave(id);
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        let Some(mut e) = self.entries[slot].take() else {
            return;
        };
        for s in &mut e.sockets {
            let _ = self.poll.registry().deregister(s);
        }
        let events = &self.events;
        e.session
            .stop_recording(&mut |ev| emit_event(events, id, ev));
        let stats = e.session.stats();
        let ports = e.ports;
        drop(e);
        self.ports.release(ports);
        self.free.push(slot);
        let _ = self.events.send(EndpointEvent::Closed { id, stats });
    }
}

fn send_frame(e: &mut Entry, now: Instant, pcm: &[i16], buf: &mut [u8; 2048]) {
    let Some(to) = e.session.remote() else {
        return;
    };
    let n = e.session.packetize(now, pcm, buf);
    if n > 0 {
        let _ = e.sockets[0].send_to(&buf[..n], to);
    }
}

fn emit_event(events: &Sender<EndpointEvent>, id: EndpointId, ev: SessionEvent) {
    let ev = match ev {
        SessionEvent::PlayDone(play) => EndpointEvent::PlayDone { id, play },
        SessionEvent::Dtmf(digit) => EndpointEvent::Dtmf { id, digit },
        SessionEvent::RecordDone(path, duration) => {
            EndpointEvent::RecordDone { id, path, duration }
        }
    };
    let _ = events.send(ev);
}
