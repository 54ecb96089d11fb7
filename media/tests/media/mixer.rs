use std::sync::{Arc, Mutex};
use std::time::Duration;

use media::dtmf::Digit;
use media::mixer::thread::{AudioFrame, Control, MixerHandle, MixerOutput, MAX_FRAME};
use media::mixer::{ConferenceError, ParticipantId, Role, RoomEvent, RoomId, RoomLimits};

fn next_event(h: &MixerHandle) -> MixerOutput {
    h.output
        .recv_timeout(Duration::from_secs(2))
        .expect("mixer output")
}

#[test]
fn mixer_thread_ticks_and_applies_moderator_ops() {
    let heard: Arc<Mutex<Vec<(ParticipantId, i16)>>> = Arc::default();
    let sink_heard = heard.clone();
    let h = MixerHandle::spawn(160, Duration::from_millis(20), move |_, p, out| {
        sink_heard.lock().unwrap().push((p, out[0]));
    })
    .unwrap();
    let (room, m, g) = (RoomId(1), ParticipantId(1), ParticipantId(2));
    h.control
        .send(Control::CreateRoom(room, "r".into(), RoomLimits::default()))
        .unwrap();
    h.control
        .send(Control::Join(
            room,
            m,
            Role::Moderator,
            "Host".into(),
            "h".into(),
        ))
        .unwrap();
    h.control
        .send(Control::Join(
            room,
            g,
            Role::Speaker,
            "Guest".into(),
            "g".into(),
        ))
        .unwrap();
    assert!(
        matches!(next_event(&h), MixerOutput::Event(e) if e.event == RoomEvent::Joined { participant: m, role: Role::Moderator, display_name: Some("Host".into()) })
    );
    assert!(matches!(next_event(&h), MixerOutput::Event(_)));
    // guest speaks a constant; the host hears it
    let mut f = AudioFrame {
        room,
        participant: g,
        len: 160,
        samples: [0; MAX_FRAME],
    };
    f.samples[..160].fill(1234);
    for _ in 0..5 {
        assert!(h.send_audio(f));
        std::thread::sleep(Duration::from_millis(20));
    }
    // wait (bounded) for a tick that mixed the guest's audio to the host
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !heard
        .lock()
        .unwrap()
        .iter()
        .any(|(p, s)| *p == m && *s == 1234)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "host never heard the guest"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // moderator mutes, requests unmute, guest accepts by DTMF 1
    h.control.send(Control::Mute(room, m, g)).unwrap();
    h.control.send(Control::RequestUnmute(room, m, g)).unwrap();
    h.control.send(Control::Dtmf(room, g, Digit::D1)).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let MixerOutput::Event(e) = next_event(&h) {
            if !matches!(
                e.event,
                RoomEvent::TalkingStarted(_) | RoomEvent::TalkingStopped(_)
            ) {
                seen.push(e.event);
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            RoomEvent::Muted(g),
            RoomEvent::UnmuteRequested(g),
            RoomEvent::Unmuted(g)
        ]
    );
    // a guest may not kick
    h.control.send(Control::Kick(room, g, m, false)).unwrap();
    loop {
        match next_event(&h) {
            MixerOutput::Refused(e) => {
                assert_eq!(e, ConferenceError::NotPermitted(g));
                break;
            }
            MixerOutput::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    // live roster and quality through the thread
    let (tx, rx) = crossbeam_channel::bounded(1);
    h.control.send(Control::QueryRoster(room, tx)).unwrap();
    let roster = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(
        roster
            .iter()
            .map(|e| e.display_name.as_str())
            .collect::<Vec<_>>(),
        vec!["Host", "Guest"]
    );
    assert!(!roster[1].moderator_muted);
    let c = media::quality::StreamCounters {
        packets: 50,
        expected: 50,
        ..Default::default()
    };
    h.control
        .send(Control::ObserveQuality(room, g, c, c))
        .unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    h.control.send(Control::QueryQuality(room, g, tx)).unwrap();
    let (inbound, outbound) = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(
        inbound.is_empty() && outbound.is_empty(),
        "first observation is the baseline"
    );
}

/// A room sink, as the recorder's: every tick's positions and first samples.
#[derive(Debug, Default)]
struct Taken(Mutex<Vec<(u64, usize, i16)>>);

impl media::mixer::RoomRecordSink for Taken {
    fn mix(&self, position: u64, pcm: &[i16]) {
        self.0.lock().unwrap().push((position, pcm.len(), pcm[0]));
    }
}

#[test]
fn a_recorded_room_hands_its_full_mix_to_the_sink_each_tick_until_stopped() {
    let h = MixerHandle::spawn(160, Duration::from_millis(20), |_, _, _| {}).unwrap();
    let (room, p) = (RoomId(7), ParticipantId(1));
    let taken = Arc::new(Taken::default());
    // Set before the room exists: ticks without it advance the position.
    h.control
        .send(Control::Record(room, Some(taken.clone())))
        .unwrap();
    std::thread::sleep(Duration::from_millis(60));
    h.control
        .send(Control::CreateRoom(room, "r".into(), RoomLimits::default()))
        .unwrap();
    h.control
        .send(Control::Join(
            room,
            p,
            Role::Speaker,
            "A".into(),
            "a".into(),
        ))
        .unwrap();
    let mut f = AudioFrame {
        room,
        participant: p,
        len: 160,
        samples: [0; MAX_FRAME],
    };
    f.samples[..160].fill(777);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !taken.0.lock().unwrap().iter().any(|t| t.2 == 777) {
        assert!(h.send_audio(f));
        assert!(
            std::time::Instant::now() < deadline,
            "the sink never got the speaker's audio"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.control.send(Control::Record(room, None)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let got = taken.0.lock().unwrap().clone();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        taken.0.lock().unwrap().len(),
        got.len(),
        "mixes after the stop"
    );
    assert!(got.iter().all(|t| t.1 == 160), "{got:?}");
    assert!(got[0].0 > 0, "the ticks before the room counted: {got:?}");
    assert!(
        got.windows(2).all(|w| w[1].0 == w[0].0 + 160),
        "positions advance a frame per tick: {got:?}"
    );
}
