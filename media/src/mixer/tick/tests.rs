use super::*;
use crate::dtmf::goertzel::goertzel_power;
use crate::mixer::room::Role;

fn sine(freq: f32, amp: f32, n: usize, phase_from: usize) -> Vec<i16> {
    (phase_from..phase_from + n)
        .map(|i| (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin()) as i16)
        .collect()
}

const FREQS: [f32; 4] = [400.0, 700.0, 1100.0, 1700.0];

fn power(frame: &[i16], f: f32) -> f32 {
    goertzel_power(frame, f, 8000.0)
}

#[test]
fn mix_minus_by_spectrum() {
    let mut m = Mixer::new(160);
    let room = RoomId(1);
    m.create_room(room, "r", RoomLimits::default()).unwrap();
    let ids: Vec<_> = (0..4).map(|i| ParticipantId(i + 1)).collect();
    {
        let r = m.room_mut(room).unwrap();
        r.join(ids[0], Role::Moderator, "m", "m").unwrap();
        for id in &ids[1..] {
            r.join(*id, Role::Speaker, "s", &format!("{id:?}")).unwrap();
        }
        r.join(ParticipantId(99), Role::Attendee, "listener", "l")
            .unwrap();
    }
    // run 10 ticks; analyse the last 800 samples each participant heard
    let mut heard: Vec<Vec<i16>> = vec![Vec::new(); 5];
    for t in 0..10 {
        for (i, id) in ids.iter().enumerate() {
            m.push_audio(room, *id, &sine(FREQS[i], 6000.0, 160, t * 160))
                .unwrap();
        }
        m.tick();
        let mut k = 0;
        m.for_each_output(|_, _, out| {
            heard[k].extend_from_slice(out);
            k += 1;
        });
    }
    for (i, h) in heard.iter().take(4).enumerate() {
        let tail = &h[800..];
        let own = power(tail, FREQS[i]);
        for (j, f) in FREQS.iter().enumerate() {
            if i != j {
                let other = power(tail, *f);
                assert!(
                    other > 1e4 * own.max(1.0),
                    "participant {i} hears freq {j}: {other} vs own {own}"
                );
            }
        }
    }
    // the attendee hears all four
    let tail = &heard[4][800..];
    let p: Vec<f32> = FREQS.iter().map(|f| power(tail, *f)).collect();
    let max = p.iter().cloned().fold(0.0, f32::max);
    assert!(p.iter().all(|x| *x > max / 4.0), "{p:?}");
}

#[test]
fn saturation_gain_and_mute() {
    let mut m = Mixer::new(160);
    let room = RoomId(1);
    m.create_room(room, "r", RoomLimits::default()).unwrap();
    let r = m.room_mut(room).unwrap();
    r.join(ParticipantId(1), Role::Moderator, "m", "m").unwrap();
    for i in 2..=4 {
        r.join(ParticipantId(i), Role::Speaker, "s", &i.to_string())
            .unwrap();
    }
    r.join(ParticipantId(5), Role::Attendee, "a", "a").unwrap();
    for i in 1..=4 {
        r.push_audio(ParticipantId(i), &[30000; 160]).unwrap();
    }
    mix_room(r);
    assert!(r
        .participant(ParticipantId(5))
        .unwrap()
        .output()
        .iter()
        .all(|&s| s == i16::MAX));
    // negative saturation
    for i in 1..=4 {
        r.push_audio(ParticipantId(i), &[-30000; 160]).unwrap();
    }
    mix_room(r);
    assert!(r
        .participant(ParticipantId(5))
        .unwrap()
        .output()
        .iter()
        .all(|&s| s == i16::MIN));
    // gain: -6 dB on 2, others silent
    r.set_gain_db(ParticipantId(2), -6.0206).unwrap();
    r.push_audio(ParticipantId(2), &[10000; 160]).unwrap();
    mix_room(r);
    let out = r.participant(ParticipantId(5)).unwrap().output()[0];
    assert!((i32::from(out) - 5000).abs() <= 2, "{out}");
    // muted participant is not heard, but hears others
    r.mute(ParticipantId(1), ParticipantId(2)).unwrap();
    r.push_audio(ParticipantId(2), &[10000; 160]).unwrap();
    r.push_audio(ParticipantId(3), &[1000; 160]).unwrap();
    mix_room(r);
    assert_eq!(r.participant(ParticipantId(5)).unwrap().output()[0], 1000);
    assert_eq!(r.participant(ParticipantId(2)).unwrap().output()[0], 1000);
    assert_eq!(r.participant(ParticipantId(3)).unwrap().output()[0], 0);
    assert_eq!(r.full_mix()[0], 1000);
    assert!(r.participant(ParticipantId(2)).unwrap().hears_full_mix());
    assert!(!r.participant(ParticipantId(3)).unwrap().hears_full_mix());
}

#[test]
fn talker_events_with_hysteresis() {
    let mut m = Mixer::new(160);
    let room = RoomId(7);
    m.create_room(room, "r", RoomLimits::default()).unwrap();
    let p = ParticipantId(1);
    m.room_mut(room)
        .unwrap()
        .join(p, Role::Moderator, "m", "m")
        .unwrap();
    while m.poll_event().is_some() {}
    let mut events = Vec::new();
    for t in 0..60 {
        if t < 10 {
            m.push_audio(room, p, &sine(300.0, 3000.0, 160, t * 160))
                .unwrap();
        }
        m.tick();
        while let Some(e) = m.poll_event() {
            events.push((t, e.event));
        }
    }
    assert_eq!(
        events,
        vec![
            (1, RoomEvent::TalkingStarted(p)),
            (34, RoomEvent::TalkingStopped(p))
        ]
    );
    assert_eq!(m.room(room).unwrap().participant(p).unwrap().level_rms, 0);
}

/// Supervision of an agent's call in one room (SPEC §21): customer 400 Hz,
/// agent 700 Hz, supervisor 1100 Hz. Listen: the supervisor hears both,
/// nobody hears the supervisor. Whisper: the agent hears the supervisor,
/// the customer does not. Barge: all three hear each other. Modes switch
/// live (the administrator's rights: presenter flag and whisper target).
#[test]
fn supervisor_listen_whisper_barge_by_spectrum() {
    let (customer, agent, sup) = (ParticipantId(1), ParticipantId(2), ParticipantId(3));
    let admin = ParticipantId::ADMIN;
    let mut m = Mixer::new(160);
    let room = RoomId(7);
    m.create_room(room, "supervise", RoomLimits::default())
        .unwrap();
    {
        let r = m.room_mut(room).unwrap();
        r.join(customer, Role::Speaker, "c", "c").unwrap();
        r.join(agent, Role::Speaker, "a", "a").unwrap();
        r.join(sup, Role::Supervisor, "s", "s").unwrap();
    }
    let freqs = [(customer, 400.0), (agent, 700.0), (sup, 1100.0)];
    // What each one hears over 10 ticks: (customer, agent, supervisor).
    let run = |m: &mut Mixer, t0: usize| -> [Vec<i16>; 3] {
        let mut heard: [Vec<i16>; 3] = Default::default();
        for t in 0..10 {
            for (id, f) in freqs {
                m.push_audio(room, id, &sine(f, 6000.0, 160, (t0 + t) * 160))
                    .unwrap();
            }
            m.tick();
            m.for_each_output(|_, p, out| {
                let k = freqs.iter().position(|(id, _)| *id == p).unwrap();
                heard[k].extend_from_slice(out);
            });
        }
        heard
    };
    let hears = |h: &[i16], f: f32| power(&h[800..], f) > 1e6;
    // [customer, agent, supervisor] × [400, 700, 1100]
    let table = |h: &[Vec<i16>; 3]| -> [[bool; 3]; 3] {
        let row = |v: &[i16]| [hears(v, 400.0), hears(v, 700.0), hears(v, 1100.0)];
        [row(&h[0]), row(&h[1]), row(&h[2])]
    };

    let listen = table(&run(&mut m, 0));
    assert_eq!(
        listen,
        [
            [false, true, false],
            [true, false, false],
            [true, true, false]
        ],
        "listen"
    );

    {
        let r = m.room_mut(room).unwrap();
        r.set_presenter(admin, sup, true, false).unwrap();
        r.set_whisper(admin, sup, Some(agent)).unwrap();
    }
    let whisper = table(&run(&mut m, 10));
    assert_eq!(
        whisper,
        [
            [false, true, false],
            [true, false, true],
            [true, true, false]
        ],
        "whisper"
    );
    let r = m.room(room).unwrap();
    assert!(
        !r.participant(agent).unwrap().hears_full_mix(),
        "the agent's output carries the whisper"
    );

    m.room_mut(room)
        .unwrap()
        .set_whisper(admin, sup, None)
        .unwrap();
    let barge = table(&run(&mut m, 20));
    assert_eq!(
        barge,
        [
            [false, true, true],
            [true, false, true],
            [true, true, false]
        ],
        "barge"
    );

    // The supervisor leaves: the call goes on between the two.
    m.room_mut(room).unwrap().leave(sup).unwrap();
    let mut heard: [Vec<i16>; 2] = Default::default();
    for t in 0..10 {
        for (id, f) in &freqs[..2] {
            m.push_audio(room, *id, &sine(*f, 6000.0, 160, (30 + t) * 160))
                .unwrap();
        }
        m.tick();
        m.for_each_output(|_, p, out| {
            heard[if p == customer { 0 } else { 1 }].extend_from_slice(out)
        });
    }
    assert!(hears(&heard[0], 700.0) && !hears(&heard[0], 400.0));
    assert!(hears(&heard[1], 400.0) && !hears(&heard[1], 700.0));
    // Only a moderator or supervisor sets a whisper.
    assert_eq!(
        m.room_mut(room)
            .unwrap()
            .set_whisper(customer, agent, Some(customer)),
        Err(ConferenceError::NotPermitted(customer))
    );
}
