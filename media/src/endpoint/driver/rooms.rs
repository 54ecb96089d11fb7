//! Conference rooms on the endpoint thread: joining and leaving (with the
//! mixer's refusals checked first so they reach the endpoint), operations
//! by a participant (DTMF menus) or by the administrator (HTTP API, CLI),
//! the quality counters the mixer samples every 10 s (SPEC §21), and the
//! bookkeeping of participants the mixer removed (kick, end of room).

use super::{Driver, Entry};
use crate::endpoint::{EndpointEvent, EndpointId, RoomOp};
use crate::mixer::room::Role;
use crate::mixer::thread::Control;
use crate::mixer::tick::MixerEvent;
use crate::mixer::{ConferenceError, ParticipantId, RoomEvent, RoomId, RoomLimits};

impl Driver {
    /// Joins `room`, checking what the mixer would refuse (SPEC §20 limits,
    /// lock) so the refusal reaches this endpoint; a second moderator
    /// joins as a speaker. `display` is the participant's name tag.
    pub(super) fn join(
        &mut self,
        id: EndpointId,
        room: RoomId,
        name: String,
        role: Role,
        display: String,
    ) {
        self.leave(id);
        let count = |r: Role| {
            self.entries
                .iter()
                .flatten()
                .filter(|e| e.room == Some((room, r)))
                .count()
        };
        let role = if role == Role::Moderator && count(Role::Moderator) > 0 {
            Role::Speaker
        } else {
            role
        };
        let limits = RoomLimits::default();
        let refused = match role {
            Role::Moderator => None,
            _ if self.locked.contains(&room) => Some(ConferenceError::Locked),
            Role::Speaker if count(role) >= limits.max_speakers => {
                Some(ConferenceError::Full(role))
            }
            Role::Supervisor if count(role) >= limits.max_supervisors => {
                Some(ConferenceError::Full(role))
            }
            Role::Attendee if count(role) >= limits.max_attendees => {
                Some(ConferenceError::Full(role))
            }
            _ => None,
        };
        if let Some(error) = refused {
            let _ = self.events.send(EndpointEvent::JoinRefused { id, error });
            return;
        }
        let Some(e) = self.entry(id) else {
            return;
        };
        e.room = Some((room, role));
        let control = &self.mixer.control;
        if self.rooms.insert(room) {
            let _ = control.send(Control::CreateRoom(room, name, RoomLimits::default()));
        }
        let _ = control.send(Control::Join(
            room,
            ParticipantId(id.0),
            role,
            display,
            format!("endpoint-{}", id.0),
        ));
    }

    pub(super) fn leave(&mut self, id: EndpointId) {
        if let Some(room) = self.out_of_room(id) {
            let _ = self
                .mixer
                .control
                .send(Control::Leave(room, ParticipantId(id.0)));
            self.forget_if_empty(room);
        }
    }

    /// Takes `id` out of its room on this side: the room it was in.
    fn out_of_room(&mut self, id: EndpointId) -> Option<RoomId> {
        let e = self.entry(id)?;
        e.inbox.clear();
        e.room.take().map(|(r, _)| r)
    }

    /// The next caller of an emptied room starts a fresh one (no lock, no
    /// bans).
    fn forget_if_empty(&mut self, room: RoomId) {
        let empty = !self
            .entries
            .iter()
            .flatten()
            .any(|e| e.room.is_some_and(|(r, _)| r == room));
        if empty {
            let _ = self.mixer.control.send(Control::RemoveRoom(room));
            self.rooms.remove(&room);
            self.locked.remove(&room);
        }
    }

    /// A room operation by the participant on endpoint `id`.
    pub(super) fn room_op(&mut self, id: EndpointId, op: RoomOp) {
        let Some((room, role)) = self.entry(id).and_then(|e| e.room) else {
            return;
        };
        self.apply_op(room, ParticipantId(id.0), role, Some(id), op);
    }

    /// A room operation by the administrator: a moderator's rights
    /// ([`ParticipantId::ADMIN`]).
    pub(super) fn admin_op(&mut self, room: RoomId, op: RoomOp) {
        self.apply_op(room, ParticipantId::ADMIN, Role::Moderator, None, op);
    }

    fn apply_op(
        &mut self,
        room: RoomId,
        by: ParticipantId,
        role: Role,
        actor: Option<EndpointId>,
        op: RoomOp,
    ) {
        match op {
            RoomOp::Lock(true) if role == Role::Moderator => {
                self.locked.insert(room);
            }
            RoomOp::Lock(false) | RoomOp::End if role == Role::Moderator => {
                self.locked.remove(&room);
            }
            _ => {}
        }
        let guests: Vec<ParticipantId> = self
            .entries
            .iter()
            .flatten()
            .filter(|e| Some(e.id) != actor && e.room == Some((room, Role::Speaker)))
            .map(|e| ParticipantId(e.id.0))
            .collect();
        let controls: Vec<Control> = match op {
            RoomOp::MuteGuests => guests
                .into_iter()
                .map(|g| Control::Mute(room, by, g))
                .collect(),
            RoomOp::RequestUnmuteGuests => guests
                .into_iter()
                .map(|g| Control::RequestUnmute(room, by, g))
                .collect(),
            RoomOp::Mute(t) => vec![Control::Mute(room, by, ParticipantId(t.0))],
            RoomOp::RequestUnmute(t) => {
                vec![Control::RequestUnmute(room, by, ParticipantId(t.0))]
            }
            RoomOp::Kick { target, ban } => {
                vec![Control::Kick(room, by, ParticipantId(target.0), ban)]
            }
            RoomOp::Lock(locked) => vec![Control::Lock(room, by, locked)],
            RoomOp::End => vec![Control::End(room, by)],
            RoomOp::Key(d) => vec![Control::Dtmf(room, by, d)],
        };
        for c in controls {
            let _ = self.mixer.control.send(c);
        }
    }

    /// Hands every room participant's cumulative RTP counters to the mixer,
    /// whose quality monitors take a sample when 10 s have passed.
    pub(super) fn observe_quality(&self) {
        for e in self.entries.iter().flatten() {
            observe(e, &self.mixer.control);
        }
    }

    /// The mixer removed participants (a kick, the end of the room): they
    /// are out of the room here too, so that closing them later sends the
    /// mixer nothing it would refuse.
    pub(super) fn room_event(&mut self, event: &MixerEvent) {
        let gone: Vec<EndpointId> = match event.event {
            RoomEvent::Kicked { participant, .. } => vec![EndpointId(participant.0)],
            RoomEvent::Ended => self
                .entries
                .iter()
                .flatten()
                .filter(|e| e.room.is_some_and(|(r, _)| r == event.room))
                .map(|e| e.id)
                .collect(),
            _ => return,
        };
        for id in gone {
            self.out_of_room(id);
        }
        self.forget_if_empty(event.room);
    }
}

fn observe(e: &Entry, control: &crossbeam_channel::Sender<Control>) {
    if let Some((room, _)) = e.room {
        let (inbound, outbound) = e.session.quality_counters();
        let _ = control.send(Control::ObserveQuality(
            room,
            ParticipantId(e.id.0),
            inbound,
            outbound,
        ));
    }
}
