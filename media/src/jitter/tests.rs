use super::*;
use std::time::Duration;

fn frame(seq: u16) -> [u8; 4] {
    seq.to_be_bytes().repeat(2).try_into().unwrap()
}

fn jb() -> JitterBuffer {
    JitterBuffer::new(JitterConfig {
        min_delay: 2,
        ..JitterConfig::default()
    })
}

fn played(p: Playout<'_>) -> Option<u16> {
    match p {
        Playout::Frame { seq, payload, .. } => {
            assert_eq!(payload, &frame(seq));
            Some(seq)
        }
        _ => None,
    }
}

#[test]
fn reorders_and_plays_in_order() {
    let t0 = Instant::now();
    let mut b = jb();
    for (i, seq) in [1u16, 0, 3, 2, 4, 5].into_iter().enumerate() {
        let at = t0 + Duration::from_millis(20 * i as u64);
        assert_eq!(
            b.push(at, seq, u32::from(seq) * 160, &frame(seq)),
            PushOutcome::Stored
        );
    }
    let out: Vec<_> = (0..6).filter_map(|_| played(b.pop())).collect();
    assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
    assert!(matches!(b.pop(), Playout::Conceal { lost: false }));
    assert_eq!(b.stats().underruns, 1);
}

#[test]
fn loss_concealed_late_and_duplicates_counted() {
    let t0 = Instant::now();
    let mut b = jb();
    for seq in [10u16, 11, 13, 14] {
        b.push(t0, seq, u32::from(seq) * 160, &frame(seq));
    }
    assert_eq!(b.push(t0, 13, 13 * 160, &frame(13)), PushOutcome::Duplicate);
    assert_eq!(played(b.pop()), Some(10));
    assert_eq!(played(b.pop()), Some(11));
    assert_eq!(b.pop(), Playout::Conceal { lost: true });
    // 12 arrives after its slot was concealed
    assert_eq!(b.push(t0, 12, 12 * 160, &frame(12)), PushOutcome::Late);
    assert_eq!(played(b.pop()), Some(13));
    assert_eq!(played(b.pop()), Some(14));
    let s = b.stats();
    assert_eq!((s.lost, s.late, s.duplicates), (1, 1, 1));
}

#[test]
fn sequence_wrap_and_restart() {
    let t0 = Instant::now();
    let mut b = jb();
    for seq in [65534u16, 65535, 0, 1] {
        b.push(t0, seq, 0, &frame(seq));
    }
    let out: Vec<_> = (0..4).filter_map(|_| played(b.pop())).collect();
    assert_eq!(out, vec![65534, 65535, 0, 1]);
    assert_eq!(b.push(t0, 30000, 0, &frame(30000)), PushOutcome::Restarted);
    assert_eq!(b.push(t0, 0, 0, &[0u8; 2000]), PushOutcome::TooLarge);
}

#[test]
fn adapts_target_to_jitter() {
    let t0 = Instant::now();
    let mut calm = jb();
    let mut rough = jb();
    let mut seed = 7u32;
    for seq in 0u16..500 {
        let nominal = t0 + Duration::from_millis(20 * u64::from(seq));
        calm.push(nominal, seq, u32::from(seq) * 160, &frame(seq));
        seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
        let jitter = Duration::from_millis(u64::from((seed >> 16) % 60));
        rough.push(nominal + jitter, seq, u32::from(seq) * 160, &frame(seq));
        calm.pop();
        rough.pop();
    }
    assert!(calm.jitter_ms() < 1.0, "{}", calm.jitter_ms());
    assert!(rough.jitter_ms() > 10.0, "{}", rough.jitter_ms());
    assert!(rough.target_delay() > calm.target_delay());
    assert_eq!(calm.target_delay(), 2);
}

#[test]
fn underrun_raises_delay_and_backlog_shrinks() {
    let t0 = Instant::now();
    let mut b = jb();
    for seq in 0u16..20 {
        b.push(t0, seq, 0, &frame(seq));
    }
    // big backlog: first pops drop frames for latency
    for _ in 0..10 {
        b.pop();
    }
    assert!(b.stats().dropped_for_latency > 0);
    let before = b.target_delay();
    while !b.is_empty() {
        b.pop();
    }
    b.pop();
    assert!(b.target_delay() > before);
}

#[test]
fn invalid_config_is_reported() {
    assert!(JitterConfig {
        capacity: 2,
        ..JitterConfig::default()
    }
    .validate()
    .is_err());
    assert!(JitterConfig {
        min_delay: 0,
        ..JitterConfig::default()
    }
    .validate()
    .is_err());
    assert!(JitterConfig::default().validate().is_ok());
}
