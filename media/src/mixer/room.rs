//! Conference rooms (SPEC §20-21): roster, roles and limits, moderator and
//! supervisor operations, consent-based unmute, bans, lock. Audio buffers
//! are allocated at join time; mixing ([`super::tick`]) reuses them.

use std::collections::VecDeque;

use crate::dtmf::Digit;
use crate::quality::QualityMonitor;

/// Room id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomId(pub u32);

/// Participant id (unique within the mixer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipantId(pub u32);

impl ParticipantId {
    /// The administrator (pbx's HTTP API and CLI): a moderator's rights in
    /// every room without being a participant of any.
    pub const ADMIN: Self = Self(u32::MAX);
}

/// Conference role (SPEC §20 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Host: exactly one, starts and ends the room.
    Moderator,
    /// Speaking guest.
    Speaker,
    /// Monitor seat: hears the mix, manages attendees; does not speak.
    Supervisor,
    /// Listen-only.
    Attendee,
}

/// Room limits (SPEC §20, §25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    /// Speaking guests besides the moderator (default 15: 16 participants).
    pub max_speakers: usize,
    /// Supervisors (default 8).
    pub max_supervisors: usize,
    /// Listen-only attendees [proposed default 1000].
    pub max_attendees: usize,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            max_speakers: 15,
            max_supervisors: 8,
            max_attendees: 1000,
        }
    }
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConferenceError {
    /// Room is locked to new joins.
    #[error("room is locked")]
    Locked,
    /// The role's limit is reached.
    #[error("room is full for role {0:?}")]
    Full(Role),
    /// The identity was banned from this room.
    #[error("participant is banned from this room")]
    Banned,
    /// A moderator is already present.
    #[error("room already has a moderator")]
    ModeratorPresent,
    /// The id is already in the room.
    #[error("participant already joined")]
    AlreadyJoined,
    /// No such participant.
    #[error("no such participant {0:?}")]
    UnknownParticipant(ParticipantId),
    /// No such room.
    #[error("no such room {0:?}")]
    UnknownRoom(RoomId),
    /// Room id already used.
    #[error("room {0:?} already exists")]
    RoomExists(RoomId),
    /// The acting participant may not do this.
    #[error("{0:?} may not perform this operation")]
    NotPermitted(ParticipantId),
    /// Accept/decline without a pending request.
    #[error("no unmute request pending")]
    NoPendingRequest,
}

/// Things that happened in a room, for the control side and the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomEvent {
    /// Joined (display name present when name tags are enabled).
    Joined {
        /// Who.
        participant: ParticipantId,
        /// Role.
        role: Role,
        /// Name tag.
        display_name: Option<String>,
    },
    /// Left by themself.
    Left(ParticipantId),
    /// Removed by a moderator/supervisor.
    Kicked {
        /// Who.
        participant: ParticipantId,
        /// Also banned from rejoining.
        banned: bool,
    },
    /// Muted by a moderator/supervisor (immediate).
    Muted(ParticipantId),
    /// The participant is asked to unmute; they must accept (DTMF 1 / API).
    UnmuteRequested(ParticipantId),
    /// The participant accepted and is live again.
    Unmuted(ParticipantId),
    /// The participant declined.
    UnmuteDeclined(ParticipantId),
    /// Voice activity started.
    TalkingStarted(ParticipantId),
    /// Voice activity stopped.
    TalkingStopped(ParticipantId),
    /// Lock changed.
    LockChanged(bool),
    /// The moderator ended the room; every leg must be released.
    Ended,
}

/// One participant's state and audio buffers.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Id.
    pub id: ParticipantId,
    /// Role.
    pub role: Role,
    /// Name tag.
    pub display_name: String,
    /// Identity used for bans (e.g. SIP AOR).
    pub identity: String,
    /// Muted by themself.
    pub self_muted: bool,
    /// Muted by a moderator.
    pub moderator_muted: bool,
    /// Unmute request awaiting consent.
    pub unmute_request_pending: bool,
    /// Has the floor (may speak even as attendee).
    pub presenter: bool,
    /// Listed first in the roster.
    pub featured: bool,
    /// Gain in Q12 (4096 = 0 dB), applied to this participant's voice.
    pub gain_q12: i32,
    /// Talking (voice activity with hysteresis).
    pub talking: bool,
    /// Last frame's RMS level (live meter).
    pub level_rms: u16,
    /// Quality of what we receive from the participant.
    pub quality_in: QualityMonitor,
    /// Quality of what we send to the participant.
    pub quality_out: QualityMonitor,
    /// Whisper (SPEC §21 supervision): the participant's voice goes to
    /// this participant only, not into the room's mix.
    pub whisper_to: Option<ParticipantId>,
    pub(crate) input: Vec<i16>,
    pub(crate) has_input: bool,
    pub(crate) output: Vec<i16>,
    pub(crate) contributes: bool,
    /// Whispering this tick (voice sent to `whisper_to` only).
    pub(crate) whispers: bool,
    /// Heard a whisper this tick (output is not the plain mix).
    pub(crate) whispered: bool,
    pub(crate) above: u8,
    pub(crate) below: u16,
}

impl Participant {
    /// Whether this participant's voice is put in the mix.
    pub fn speaks(&self) -> bool {
        let role_speaks = matches!(self.role, Role::Moderator | Role::Speaker) || self.presenter;
        role_speaks && !self.self_muted && !self.moderator_muted
    }
    /// Audio this participant hears from the last tick.
    pub fn output(&self) -> &[i16] {
        &self.output
    }
    /// True when the participant was not in the last mix, so what they hear
    /// equals [`Room::full_mix`]: an encoder can encode that once and send
    /// the same payload to all such participants (listeners, muted and
    /// silent speakers) instead of encoding per participant.
    pub fn hears_full_mix(&self) -> bool {
        !self.contributes && !self.whispered
    }
}

/// A conference room.
#[derive(Debug, Clone)]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Name.
    pub name: String,
    /// Locked to new joins.
    pub locked: bool,
    /// Whether events carry display names.
    pub name_tags_enabled: bool,
    /// Limits.
    pub limits: RoomLimits,
    /// Ended by the moderator.
    pub ended: bool,
    pub(crate) participants: Vec<Participant>,
    pub(crate) ban_list: Vec<String>,
    pub(crate) events: VecDeque<RoomEvent>,
    pub(crate) frame_len: usize,
    pub(crate) mix: Vec<i32>,
    pub(crate) full_mix: Vec<i16>,
}

const UNITY_GAIN: i32 = 4096;
const MAX_GAIN: i32 = 8 * 4096;

impl Room {
    /// New room mixing frames of `frame_len` samples (160 = 20 ms at 8 kHz).
    pub fn new(id: RoomId, name: &str, limits: RoomLimits, frame_len: usize) -> Self {
        Self {
            id,
            name: name.to_owned(),
            locked: false,
            name_tags_enabled: true,
            limits,
            ended: false,
            participants: Vec::with_capacity(16),
            ban_list: Vec::new(),
            events: VecDeque::with_capacity(64),
            frame_len,
            mix: vec![0; frame_len],
            full_mix: vec![0; frame_len],
        }
    }

    /// Roster: featured participants first, then by join order.
    pub fn roster(&self) -> impl Iterator<Item = &Participant> {
        self.participants
            .iter()
            .filter(|p| p.featured)
            .chain(self.participants.iter().filter(|p| !p.featured))
    }
    /// One participant.
    pub fn participant(&self, id: ParticipantId) -> Option<&Participant> {
        self.participants.iter().find(|p| p.id == id)
    }
    /// Mutable participant (for quality updates).
    pub fn participant_mut(&mut self, id: ParticipantId) -> Option<&mut Participant> {
        self.participants.iter_mut().find(|p| p.id == id)
    }
    /// The last tick's mix of every contributor (what non-contributors hear).
    pub fn full_mix(&self) -> &[i16] {
        &self.full_mix
    }
    /// Next pending event.
    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        self.events.pop_front()
    }
    fn count(&self, role: Role) -> usize {
        self.participants.iter().filter(|p| p.role == role).count()
    }
    fn index(&self, id: ParticipantId) -> Result<usize, ConferenceError> {
        self.participants
            .iter()
            .position(|p| p.id == id)
            .ok_or(ConferenceError::UnknownParticipant(id))
    }
    fn role_of(&self, id: ParticipantId) -> Result<Role, ConferenceError> {
        if id == ParticipantId::ADMIN {
            return Ok(Role::Moderator);
        }
        Ok(self.participants[self.index(id)?].role)
    }
    fn require(&self, by: ParticipantId, roles: &[Role]) -> Result<(), ConferenceError> {
        if roles.contains(&self.role_of(by)?) {
            Ok(())
        } else {
            Err(ConferenceError::NotPermitted(by))
        }
    }

    /// Adds a participant, enforcing lock, bans and per-role limits.
    pub fn join(
        &mut self,
        id: ParticipantId,
        role: Role,
        display_name: &str,
        identity: &str,
    ) -> Result<(), ConferenceError> {
        if self.participants.iter().any(|p| p.id == id) {
            return Err(ConferenceError::AlreadyJoined);
        }
        if self.ban_list.iter().any(|b| b == identity) {
            return Err(ConferenceError::Banned);
        }
        // the moderator may always (re)enter a locked room
        if self.locked && role != Role::Moderator {
            return Err(ConferenceError::Locked);
        }
        let full = match role {
            Role::Moderator if self.count(Role::Moderator) >= 1 => {
                return Err(ConferenceError::ModeratorPresent)
            }
            Role::Moderator => false,
            Role::Speaker => self.count(Role::Speaker) >= self.limits.max_speakers,
            Role::Supervisor => self.count(Role::Supervisor) >= self.limits.max_supervisors,
            Role::Attendee => self.count(Role::Attendee) >= self.limits.max_attendees,
        };
        if full {
            return Err(ConferenceError::Full(role));
        }
        self.participants.push(Participant {
            id,
            role,
            display_name: display_name.to_owned(),
            identity: identity.to_owned(),
            self_muted: false,
            moderator_muted: false,
            unmute_request_pending: false,
            presenter: false,
            featured: false,
            gain_q12: UNITY_GAIN,
            talking: false,
            level_rms: 0,
            quality_in: QualityMonitor::new(),
            quality_out: QualityMonitor::new(),
            whisper_to: None,
            input: vec![0; self.frame_len],
            has_input: false,
            output: vec![0; self.frame_len],
            contributes: false,
            whispers: false,
            whispered: false,
            above: 0,
            below: 0,
        });
        let display_name = self.name_tags_enabled.then(|| display_name.to_owned());
        self.events.push_back(RoomEvent::Joined {
            participant: id,
            role,
            display_name,
        });
        Ok(())
    }

    /// The participant hangs up.
    pub fn leave(&mut self, id: ParticipantId) -> Result<(), ConferenceError> {
        let i = self.index(id)?;
        self.participants.remove(i);
        // a whisper to someone who left is no whisper: back to silence
        // until changed (never into the mix by surprise)
        for p in &mut self.participants {
            if p.whisper_to == Some(id) {
                p.whisper_to = Some(p.id);
            }
        }
        self.events.push_back(RoomEvent::Left(id));
        Ok(())
    }

    /// Mute by a moderator or supervisor: immediate (SPEC §20, §21 "silence").
    pub fn mute(
        &mut self,
        by: ParticipantId,
        target: ParticipantId,
    ) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator, Role::Supervisor])?;
        let i = self.index(target)?;
        let p = &mut self.participants[i];
        p.moderator_muted = true;
        p.unmute_request_pending = false;
        self.events.push_back(RoomEvent::Muted(target));
        Ok(())
    }

    /// Unmute request by the moderator: the participant stays muted until
    /// they accept (SPEC §20 consent rule).
    pub fn request_unmute(
        &mut self,
        by: ParticipantId,
        target: ParticipantId,
    ) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator])?;
        let i = self.index(target)?;
        let p = &mut self.participants[i];
        if !p.moderator_muted {
            return Ok(());
        }
        p.unmute_request_pending = true;
        self.events.push_back(RoomEvent::UnmuteRequested(target));
        Ok(())
    }

    /// The participant answers an unmute request (API or softphone prompt).
    pub fn answer_unmute(
        &mut self,
        target: ParticipantId,
        accept: bool,
    ) -> Result<(), ConferenceError> {
        let i = self.index(target)?;
        let p = &mut self.participants[i];
        if !p.unmute_request_pending {
            return Err(ConferenceError::NoPendingRequest);
        }
        p.unmute_request_pending = false;
        if accept {
            p.moderator_muted = false;
            self.events.push_back(RoomEvent::Unmuted(target));
        } else {
            self.events.push_back(RoomEvent::UnmuteDeclined(target));
        }
        Ok(())
    }

    /// DTMF from a participant: with a pending unmute request `1` accepts
    /// and `2` declines; otherwise `*` toggles self-mute.
    pub fn handle_dtmf(
        &mut self,
        from: ParticipantId,
        digit: Digit,
    ) -> Result<(), ConferenceError> {
        let i = self.index(from)?;
        let pending = self.participants[i].unmute_request_pending;
        match digit {
            Digit::D1 if pending => self.answer_unmute(from, true),
            Digit::D2 if pending => self.answer_unmute(from, false),
            Digit::Star => {
                let p = &mut self.participants[i];
                p.self_muted = !p.self_muted;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Self-mute (own microphone toggle).
    pub fn set_self_muted(
        &mut self,
        id: ParticipantId,
        muted: bool,
    ) -> Result<(), ConferenceError> {
        let i = self.index(id)?;
        self.participants[i].self_muted = muted;
        Ok(())
    }

    /// Removes `target`; with `ban` they may not rejoin (SPEC §21).
    pub fn kick(
        &mut self,
        by: ParticipantId,
        target: ParticipantId,
        ban: bool,
    ) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator, Role::Supervisor])?;
        let i = self.index(target)?;
        if self.participants[i].role == Role::Moderator {
            return Err(ConferenceError::NotPermitted(by));
        }
        let p = self.participants.remove(i);
        if ban {
            self.ban_list.push(p.identity);
        }
        self.events.push_back(RoomEvent::Kicked {
            participant: target,
            banned: ban,
        });
        Ok(())
    }

    /// Locks or unlocks the room (moderator only).
    pub fn set_locked(&mut self, by: ParticipantId, locked: bool) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator])?;
        if self.locked != locked {
            self.locked = locked;
            self.events.push_back(RoomEvent::LockChanged(locked));
        }
        Ok(())
    }

    /// Per-participant gain in dB (clamped to -inf..+18 dB; below -60 is silence).
    pub fn set_gain_db(&mut self, target: ParticipantId, db: f32) -> Result<(), ConferenceError> {
        let i = self.index(target)?;
        let g = if db <= -60.0 {
            0
        } else {
            (4096.0 * 10f32.powf(db / 20.0)) as i32
        };
        self.participants[i].gain_q12 = g.clamp(0, MAX_GAIN);
        Ok(())
    }

    /// Presenter (floor) and featured flags (moderator only).
    pub fn set_presenter(
        &mut self,
        by: ParticipantId,
        target: ParticipantId,
        presenter: bool,
        featured: bool,
    ) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator])?;
        let i = self.index(target)?;
        self.participants[i].presenter = presenter;
        self.participants[i].featured = featured;
        Ok(())
    }

    /// Whisper (SPEC §21, moderator or supervisor): `who`'s voice is
    /// heard by `to` only (None: by the room again, as its role allows).
    /// The whisperer still hears the room. A supervisor whispering to an
    /// agent: the agent hears the supervisor, the customer does not.
    pub fn set_whisper(
        &mut self,
        by: ParticipantId,
        who: ParticipantId,
        to: Option<ParticipantId>,
    ) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator, Role::Supervisor])?;
        if let Some(t) = to {
            self.index(t)?;
        }
        let i = self.index(who)?;
        self.participants[i].whisper_to = to;
        Ok(())
    }

    /// Ends the room (moderator only): everyone is removed.
    pub fn end(&mut self, by: ParticipantId) -> Result<(), ConferenceError> {
        self.require(by, &[Role::Moderator])?;
        self.participants.clear();
        self.ended = true;
        self.events.push_back(RoomEvent::Ended);
        Ok(())
    }

    /// Stores this tick's input frame of `id` (shorter frames are zero-padded).
    pub fn push_audio(
        &mut self,
        id: ParticipantId,
        samples: &[i16],
    ) -> Result<(), ConferenceError> {
        let i = self.index(id)?;
        let p = &mut self.participants[i];
        let n = samples.len().min(p.input.len());
        p.input[..n].copy_from_slice(&samples[..n]);
        p.input[n..].fill(0);
        p.has_input = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
