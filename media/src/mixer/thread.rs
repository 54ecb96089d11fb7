//! The mixing thread: a dedicated OS thread ticking every 20 ms on absolute
//! deadlines (no drift), fed by crossbeam channels — control commands and
//! audio frames in, events out — and handing each participant's mix to a
//! sink callback.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::room::{ConferenceError, ParticipantId, Role, RoomId, RoomLimits};
use super::tick::{Mixer, MixerEvent};
use crate::dtmf::Digit;
use crate::quality::{QualitySample, StreamCounters};

/// Largest frame carried by [`AudioFrame`] (20 ms at 48 kHz).
pub const MAX_FRAME: usize = 960;

/// One participant's 20 ms of decoded audio, sent by value (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct AudioFrame {
    /// Room.
    pub room: RoomId,
    /// Participant.
    pub participant: ParticipantId,
    /// Valid samples in `samples`.
    pub len: usize,
    /// Samples.
    pub samples: [i16; MAX_FRAME],
}

/// Receives a recorded room's mix (every contributor, SPEC §22) each
/// tick, on the mixer thread: it must neither block nor allocate.
pub trait RoomRecordSink: Send + Sync + std::fmt::Debug {
    /// `pcm` is the tick's mix; `position` the sample position of its first
    /// sample since the sink was set (ticks without the room count too).
    fn mix(&self, position: u64, pcm: &[i16]);
}

/// Control commands (moderator API, DTMF, join/leave).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Control {
    /// Create a room.
    CreateRoom(RoomId, String, RoomLimits),
    /// Join.
    Join(RoomId, ParticipantId, Role, String, String),
    /// Leave.
    Leave(RoomId, ParticipantId),
    /// Mute `target` by `by`.
    Mute(RoomId, ParticipantId, ParticipantId),
    /// Request unmute of `target` by `by`.
    RequestUnmute(RoomId, ParticipantId, ParticipantId),
    /// Participant's answer to an unmute request.
    AnswerUnmute(RoomId, ParticipantId, bool),
    /// DTMF from a participant.
    Dtmf(RoomId, ParticipantId, Digit),
    /// Kick (`by`, `target`, ban).
    Kick(RoomId, ParticipantId, ParticipantId, bool),
    /// Lock (`by`, locked).
    Lock(RoomId, ParticipantId, bool),
    /// Gain in dB.
    Gain(RoomId, ParticipantId, f32),
    /// End the room.
    End(RoomId, ParticipantId),
    /// Cumulative RTP counters of a participant (received from, sent to);
    /// the thread samples them every 10 s (SPEC §21).
    ObserveQuality(RoomId, ParticipantId, StreamCounters, StreamCounters),
    /// Live quality window of a participant: (inbound, outbound) samples.
    QueryQuality(
        RoomId,
        ParticipantId,
        Sender<(Vec<QualitySample>, Vec<QualitySample>)>,
    ),
    /// Live roster (featured first).
    QueryRoster(RoomId, Sender<Vec<RosterEntry>>),
    /// Stop the thread.
    Shutdown,
    /// Forget a room (its last participant left): roster, lock and bans go.
    RemoveRoom(RoomId),
    /// Record the room's mix into the sink (None: stop). The room need not
    /// exist yet; a sink outlives the room's removal until replaced.
    Record(RoomId, Option<Arc<dyn RoomRecordSink>>),
}

/// One roster line (SPEC §20 participant fields that change live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// Id.
    pub id: ParticipantId,
    /// Role.
    pub role: Role,
    /// Name tag (empty when name tags are off).
    pub display_name: String,
    /// Self-muted.
    pub self_muted: bool,
    /// Muted by a moderator.
    pub moderator_muted: bool,
    /// Unmute request awaiting consent.
    pub unmute_request_pending: bool,
    /// Presenter.
    pub presenter: bool,
    /// Featured.
    pub featured: bool,
    /// Talking now.
    pub talking: bool,
    /// Input level (RMS) for the live meter.
    pub level_rms: u16,
}

/// Output of the thread.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MixerOutput {
    /// A room event.
    Event(MixerEvent),
    /// A control command failed.
    Refused(ConferenceError),
}

/// Handle to a running mixer thread.
#[derive(Debug)]
pub struct MixerHandle {
    /// Control channel.
    pub control: Sender<Control>,
    /// Audio input (bounded; a full channel drops the frame).
    pub audio: Sender<AudioFrame>,
    /// Events and refusals.
    pub output: Receiver<MixerOutput>,
    thread: Option<JoinHandle<()>>,
}

impl MixerHandle {
    /// Starts the thread with `frame_len`-sample frames and a tick of
    /// `tick`; `sink` receives every participant's mix each tick.
    pub fn spawn<F>(frame_len: usize, tick: Duration, mut sink: F) -> std::io::Result<Self>
    where
        F: FnMut(RoomId, ParticipantId, &[i16]) + Send + 'static,
    {
        let (ctx, crx) = crossbeam_channel::unbounded();
        let (atx, arx) = crossbeam_channel::bounded::<AudioFrame>(4096);
        let (otx, orx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("mixer".into())
            .spawn(move || {
                let mut mixer = Mixer::new(frame_len.min(MAX_FRAME));
                let mut next = Instant::now() + tick;
                let mut recorded: Vec<(RoomId, Arc<dyn RoomRecordSink>, u64)> = Vec::new();
                loop {
                    while let Ok(c) = crx.try_recv() {
                        if matches!(c, Control::Shutdown) {
                            return;
                        }
                        if let Control::Record(room, sink) = c {
                            recorded.retain(|(r, _, _)| *r != room);
                            recorded.extend(sink.map(|s| (room, s, 0)));
                            continue;
                        }
                        if let Err(e) = apply(&mut mixer, c) {
                            let _ = otx.send(MixerOutput::Refused(e));
                        }
                    }
                    while let Ok(f) = arx.try_recv() {
                        let _ = mixer.push_audio(
                            f.room,
                            f.participant,
                            &f.samples[..f.len.min(MAX_FRAME)],
                        );
                    }
                    mixer.tick();
                    mixer.for_each_output(&mut sink);
                    let n = mixer.frame_len() as u64;
                    for (room, rec, position) in &mut recorded {
                        if let Some(r) = mixer.room(*room) {
                            rec.mix(*position, r.full_mix());
                        }
                        *position += n;
                    }
                    while let Some(e) = mixer.poll_event() {
                        let _ = otx.send(MixerOutput::Event(e));
                    }
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    next += tick;
                }
            })?;
        Ok(Self {
            control: ctx,
            audio: atx,
            output: orx,
            thread: Some(thread),
        })
    }

    /// Sends a frame; returns false if the queue was full (frame dropped).
    pub fn send_audio(&self, frame: AudioFrame) -> bool {
        !matches!(self.audio.try_send(frame), Err(TrySendError::Full(_)))
    }
}

impl Drop for MixerHandle {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn apply(m: &mut Mixer, c: Control) -> Result<(), ConferenceError> {
    match c {
        Control::CreateRoom(id, name, limits) => m.create_room(id, &name, limits),
        Control::Join(r, p, role, name, identity) => m.room_mut(r)?.join(p, role, &name, &identity),
        Control::Leave(r, p) => m.room_mut(r)?.leave(p),
        Control::Mute(r, by, t) => m.room_mut(r)?.mute(by, t),
        Control::RequestUnmute(r, by, t) => m.room_mut(r)?.request_unmute(by, t),
        Control::AnswerUnmute(r, p, yes) => m.room_mut(r)?.answer_unmute(p, yes),
        Control::Dtmf(r, p, d) => m.room_mut(r)?.handle_dtmf(p, d),
        Control::Kick(r, by, t, ban) => m.room_mut(r)?.kick(by, t, ban),
        Control::Lock(r, by, l) => m.room_mut(r)?.set_locked(by, l),
        Control::Gain(r, p, db) => m.room_mut(r)?.set_gain_db(p, db),
        Control::End(r, by) => m.room_mut(r)?.end(by),
        Control::ObserveQuality(r, p, inbound, outbound) => {
            m.observe_quality(Instant::now(), r, p, inbound, outbound)
        }
        // queries answer on their channel: an unknown room or participant
        // drops the reply (the asker sees a closed channel), it is no
        // refusal for the event stream
        Control::QueryQuality(r, p, reply) => {
            let Some(part) = m.room(r).and_then(|room| room.participant(p)) else {
                return Ok(());
            };
            let samples = (
                part.quality_in.samples().copied().collect(),
                part.quality_out.samples().copied().collect(),
            );
            let _ = reply.send(samples);
            Ok(())
        }
        Control::QueryRoster(r, reply) => {
            let Some(room) = m.room(r) else {
                return Ok(());
            };
            let tags = room.name_tags_enabled;
            let roster = room
                .roster()
                .map(|p| RosterEntry {
                    id: p.id,
                    role: p.role,
                    display_name: if tags {
                        p.display_name.clone()
                    } else {
                        String::new()
                    },
                    self_muted: p.self_muted,
                    moderator_muted: p.moderator_muted,
                    unmute_request_pending: p.unmute_request_pending,
                    presenter: p.presenter,
                    featured: p.featured,
                    talking: p.talking,
                    level_rms: p.level_rms,
                })
                .collect();
            let _ = reply.send(roster);
            Ok(())
        }
        Control::Shutdown | Control::Record(..) => Ok(()),
        Control::RemoveRoom(r) => {
            m.remove_room(r);
            Ok(())
        }
    }
}
