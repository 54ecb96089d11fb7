//! The 20 ms mix: for each room, sum every speaking participant's frame
//! (gain applied) in i32, then give each participant the sum minus their own
//! contribution (mix-minus), saturated to i16. Voice activity with
//! hysteresis raises talker events. No allocation per tick.

use std::time::Instant;

use super::room::{ConferenceError, ParticipantId, Room, RoomEvent, RoomId, RoomLimits};
use crate::quality::StreamCounters;

/// RMS above which a frame counts as voice (about -40 dBov).
const TALK_RMS: u32 = 330;
/// Frames above threshold to start talking (40 ms).
const TALK_START_FRAMES: u8 = 2;
/// Frames below threshold to stop (500 ms hangover).
const TALK_STOP_FRAMES: u16 = 25;

#[inline]
fn sat16(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

fn rms(frame: &[i16]) -> u32 {
    if frame.is_empty() {
        return 0;
    }
    let sum: u64 = frame
        .iter()
        .map(|&s| (i64::from(s) * i64::from(s)) as u64)
        .sum();
    ((sum / frame.len() as u64) as f64).sqrt() as u32
}

/// Mixes one room's current inputs into every participant's output.
pub fn mix_room(room: &mut Room) {
    let Room {
        participants,
        mix,
        full_mix,
        events,
        ..
    } = room;
    mix.fill(0);
    for p in participants.iter_mut() {
        let level = if p.has_input { rms(&p.input) } else { 0 };
        p.level_rms = level.min(u32::from(u16::MAX)) as u16;
        let voiced = p.speaks() && level >= TALK_RMS;
        if voiced {
            p.below = 0;
            p.above = p.above.saturating_add(1);
            if !p.talking && p.above >= TALK_START_FRAMES {
                p.talking = true;
                events.push_back(RoomEvent::TalkingStarted(p.id));
            }
        } else {
            p.above = 0;
            p.below = p.below.saturating_add(1);
            if p.talking && (p.below >= TALK_STOP_FRAMES || !p.speaks()) {
                p.talking = false;
                events.push_back(RoomEvent::TalkingStopped(p.id));
            }
        }
        let voice = p.has_input && p.speaks() && p.gain_q12 > 0;
        p.whispers = voice && p.whisper_to.is_some();
        p.whispered = false;
        p.contributes = voice && !p.whispers;
        if p.contributes {
            let g = p.gain_q12;
            for (m, &x) in mix.iter_mut().zip(p.input.iter()) {
                *m += (i32::from(x) * g) >> 12;
            }
        }
    }
    for (o, &m) in full_mix.iter_mut().zip(mix.iter()) {
        *o = sat16(m);
    }
    for p in participants.iter_mut() {
        if p.contributes {
            let g = p.gain_q12;
            for ((o, &m), &x) in p.output.iter_mut().zip(mix.iter()).zip(p.input.iter()) {
                *o = sat16(m - ((i32::from(x) * g) >> 12));
            }
        } else {
            p.output.copy_from_slice(full_mix);
        }
        p.has_input = false;
    }
    add_whispers(participants);
}

/// Adds each whisperer's voice to its target's output only (supervisor
/// whisper, SPEC §21). Nothing to do, and no scan, without whisperers.
fn add_whispers(participants: &mut [super::room::Participant]) {
    if !participants.iter().any(|p| p.whispers) {
        return;
    }
    for w in 0..participants.len() {
        let (src, to, g) = {
            let p = &participants[w];
            match (p.whispers, p.whisper_to) {
                (true, Some(to)) if to != p.id => (w, to, p.gain_q12),
                _ => continue,
            }
        };
        let Some(t) = participants.iter().position(|p| p.id == to) else {
            continue;
        };
        let (whisperer, target) = if src < t {
            let (a, b) = participants.split_at_mut(t);
            (&a[src], &mut b[0])
        } else {
            let (a, b) = participants.split_at_mut(src);
            (&b[0], &mut a[t])
        };
        for (o, &x) in target.output.iter_mut().zip(whisperer.input.iter()) {
            *o = sat16(i32::from(*o) + ((i32::from(x) * g) >> 12));
        }
        target.whispered = true;
    }
}

/// All rooms of one mixer thread.
#[derive(Debug, Default)]
pub struct Mixer {
    rooms: Vec<Room>,
    frame_len: usize,
}

/// A room event tagged with its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixerEvent {
    /// Room.
    pub room: RoomId,
    /// What happened.
    pub event: RoomEvent,
}

impl Mixer {
    /// Mixer with frames of `frame_len` samples (160: 20 ms at 8 kHz).
    pub fn new(frame_len: usize) -> Self {
        Self {
            rooms: Vec::new(),
            frame_len,
        }
    }
    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }
    /// Creates a room.
    pub fn create_room(
        &mut self,
        id: RoomId,
        name: &str,
        limits: RoomLimits,
    ) -> Result<(), ConferenceError> {
        if self.rooms.iter().any(|r| r.id == id) {
            return Err(ConferenceError::RoomExists(id));
        }
        self.rooms.push(Room::new(id, name, limits, self.frame_len));
        Ok(())
    }
    /// A room.
    pub fn room(&self, id: RoomId) -> Option<&Room> {
        self.rooms.iter().find(|r| r.id == id)
    }
    /// A room, mutable (for moderator operations).
    pub fn room_mut(&mut self, id: RoomId) -> Result<&mut Room, ConferenceError> {
        self.rooms
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(ConferenceError::UnknownRoom(id))
    }
    /// Removes ended rooms.
    pub fn remove_room(&mut self, id: RoomId) {
        self.rooms.retain(|r| r.id != id);
    }
    /// Input for the next tick.
    pub fn push_audio(
        &mut self,
        room: RoomId,
        p: ParticipantId,
        samples: &[i16],
    ) -> Result<(), ConferenceError> {
        self.room_mut(room)?.push_audio(p, samples)
    }
    /// Feeds quality counters (received-from, sent-to) for a participant.
    pub fn observe_quality(
        &mut self,
        now: Instant,
        room: RoomId,
        p: ParticipantId,
        inbound: StreamCounters,
        outbound: StreamCounters,
    ) -> Result<(), ConferenceError> {
        let part = self
            .room_mut(room)?
            .participant_mut(p)
            .ok_or(ConferenceError::UnknownParticipant(p))?;
        part.quality_in.observe(now, inbound);
        part.quality_out.observe(now, outbound);
        Ok(())
    }
    /// Mixes every room; then read outputs with [`Mixer::for_each_output`].
    pub fn tick(&mut self) {
        for r in &mut self.rooms {
            mix_room(r);
        }
    }
    /// Visits every participant's output of the last tick.
    pub fn for_each_output(&self, mut f: impl FnMut(RoomId, ParticipantId, &[i16])) {
        for r in &self.rooms {
            for p in &r.participants {
                f(r.id, p.id, p.output());
            }
        }
    }
    /// Next event from any room.
    pub fn poll_event(&mut self) -> Option<MixerEvent> {
        self.rooms.iter_mut().find_map(|r| {
            let room = r.id;
            r.poll_event().map(|event| MixerEvent { room, event })
        })
    }
}

#[cfg(test)]
mod tests;
