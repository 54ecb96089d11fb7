use super::*;

const M: ParticipantId = ParticipantId(1);

fn room() -> Room {
    let mut r = Room::new(RoomId(1), "standup", RoomLimits::default(), 160);
    r.join(M, Role::Moderator, "Host", "sip:host@x").unwrap();
    r
}

fn drain(r: &mut Room) -> Vec<RoomEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

#[test]
fn limits_per_role() {
    let mut r = room();
    for i in 0..15 {
        r.join(ParticipantId(100 + i), Role::Speaker, "g", &format!("g{i}"))
            .unwrap();
    }
    assert_eq!(
        r.join(ParticipantId(200), Role::Speaker, "g", "x"),
        Err(ConferenceError::Full(Role::Speaker))
    );
    for i in 0..8 {
        r.join(
            ParticipantId(300 + i),
            Role::Supervisor,
            "s",
            &format!("s{i}"),
        )
        .unwrap();
    }
    assert_eq!(
        r.join(ParticipantId(400), Role::Supervisor, "s", "y"),
        Err(ConferenceError::Full(Role::Supervisor))
    );
    assert_eq!(
        r.join(ParticipantId(2), Role::Moderator, "m2", "z"),
        Err(ConferenceError::ModeratorPresent)
    );
    assert_eq!(
        r.join(ParticipantId(100), Role::Attendee, "dup", "d"),
        Err(ConferenceError::AlreadyJoined)
    );
    // host + 15 guests = 16 speaking participants
    assert_eq!(r.participants.iter().filter(|p| p.speaks()).count(), 16);
}

#[test]
fn mute_is_immediate_unmute_needs_consent() {
    let mut r = room();
    let g = ParticipantId(2);
    r.join(g, Role::Speaker, "Guest", "sip:g@x").unwrap();
    drain(&mut r);
    r.mute(M, g).unwrap();
    assert!(!r.participant(g).unwrap().speaks());
    r.request_unmute(M, g).unwrap();
    let p = r.participant(g).unwrap();
    assert!(
        p.moderator_muted && p.unmute_request_pending && !p.speaks(),
        "still muted until accepted"
    );
    // unrelated digit does nothing; 1 accepts
    r.handle_dtmf(g, Digit::D5).unwrap();
    assert!(!r.participant(g).unwrap().speaks());
    r.handle_dtmf(g, Digit::D1).unwrap();
    assert!(r.participant(g).unwrap().speaks());
    assert_eq!(
        drain(&mut r),
        vec![
            RoomEvent::Muted(g),
            RoomEvent::UnmuteRequested(g),
            RoomEvent::Unmuted(g)
        ]
    );
    // decline path via API
    r.mute(M, g).unwrap();
    r.request_unmute(M, g).unwrap();
    r.answer_unmute(g, false).unwrap();
    assert!(!r.participant(g).unwrap().speaks());
    assert_eq!(
        r.answer_unmute(g, true),
        Err(ConferenceError::NoPendingRequest)
    );
    // a guest cannot mute others
    assert_eq!(r.mute(g, M), Err(ConferenceError::NotPermitted(g)));
}

#[test]
fn kick_ban_lock_end() {
    let mut r = room();
    let sup = ParticipantId(3);
    let a = ParticipantId(4);
    r.join(sup, Role::Supervisor, "Sup", "sip:sup@x").unwrap();
    r.join(a, Role::Attendee, "Viewer", "sip:v@x").unwrap();
    r.kick(sup, a, true).unwrap();
    assert!(r.participant(a).is_none());
    assert_eq!(
        r.join(ParticipantId(5), Role::Attendee, "again", "sip:v@x"),
        Err(ConferenceError::Banned)
    );
    assert_eq!(
        r.kick(sup, M, false),
        Err(ConferenceError::NotPermitted(sup))
    );
    assert_eq!(
        r.set_locked(sup, true),
        Err(ConferenceError::NotPermitted(sup))
    );
    r.set_locked(M, true).unwrap();
    assert_eq!(
        r.join(ParticipantId(6), Role::Speaker, "late", "sip:l@x"),
        Err(ConferenceError::Locked)
    );
    r.set_locked(M, false).unwrap();
    r.join(ParticipantId(6), Role::Speaker, "late", "sip:l@x")
        .unwrap();
    assert_eq!(r.end(sup), Err(ConferenceError::NotPermitted(sup)));
    r.end(M).unwrap();
    assert!(r.ended && r.participants.is_empty());
    assert_eq!(drain(&mut r).last(), Some(&RoomEvent::Ended));
}

#[test]
fn roster_features_first_and_name_tags() {
    let mut r = room();
    r.join(ParticipantId(2), Role::Speaker, "Ann", "a").unwrap();
    r.join(ParticipantId(3), Role::Speaker, "Bob", "b").unwrap();
    r.set_presenter(M, ParticipantId(3), true, true).unwrap();
    let names: Vec<_> = r.roster().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names, vec!["Bob", "Host", "Ann"]);
    r.name_tags_enabled = false;
    drain(&mut r);
    r.join(ParticipantId(9), Role::Attendee, "Zed", "z")
        .unwrap();
    assert_eq!(
        drain(&mut r),
        vec![RoomEvent::Joined {
            participant: ParticipantId(9),
            role: Role::Attendee,
            display_name: None
        }]
    );
}

/// The administrator (HTTP API, CLI) has a moderator's rights without being
/// in the room — also in a room whose moderator has not joined.
#[test]
fn the_admin_acts_as_a_moderator_from_outside() {
    let mut r = Room::new(RoomId(2), "no-host", RoomLimits::default(), 160);
    let g = ParticipantId(7);
    r.join(g, Role::Speaker, "Guest", "sip:g@x").unwrap();
    r.mute(ParticipantId::ADMIN, g).unwrap();
    r.request_unmute(ParticipantId::ADMIN, g).unwrap();
    assert!(r.participant(g).unwrap().unmute_request_pending);
    r.set_locked(ParticipantId::ADMIN, true).unwrap();
    r.kick(ParticipantId::ADMIN, g, false).unwrap();
    assert!(r.roster().next().is_none(), "the admin is no participant");
    assert_eq!(
        r.mute(ParticipantId(99), g),
        Err(ConferenceError::UnknownParticipant(ParticipantId(99))),
        "anyone else must be in the room"
    );
}
