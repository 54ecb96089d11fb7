//! The call state machine in virtual time: a base instant plus offsets.

use super::*;

const RING: Duration = Duration::from_secs(30);

fn start() -> (Instant, Call) {
    let t0 = Instant::now();
    let at = Timestamp {
        instant: t0,
        unix_ms: 1_700_000_000_000,
    };
    (
        t0,
        Call::new(CallId(7), "1001".into(), "1002".into(), at, RING),
    )
}

fn drain(call: &mut Call) -> Vec<CallEventKind> {
    std::iter::from_fn(|| call.poll_event())
        .map(|e| {
            assert_eq!(e.call, CallId(7));
            e.kind
        })
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn answered_call_times_and_events() {
    let (t0, mut call) = start();
    call.handle_input(t0 + secs(1), CallInput::Ringing).unwrap();
    call.handle_input(t0 + secs(1), CallInput::Ringing).unwrap();
    call.handle_input(t0 + secs(4), CallInput::Answered)
        .unwrap();
    call.handle_input(t0 + secs(4), CallInput::Bridged(LegId(0), LegId(1)))
        .unwrap();
    call.handle_input(t0 + secs(10), CallInput::Hold(Side::Caller))
        .unwrap();
    call.handle_input(t0 + secs(13), CallInput::Resume(Side::Caller))
        .unwrap();
    call.handle_input(t0 + secs(14), CallInput::Dtmf(LegId(1), '5'))
        .unwrap();
    call.handle_input(
        t0 + secs(20),
        CallInput::Hangup(HangupCause::Normal, Side::Callee),
    )
    .unwrap();
    assert_eq!(
        drain(&mut call),
        vec![
            CallEventKind::Created {
                caller: "1001".into(),
                callee: "1002".into()
            },
            CallEventKind::Ringing,
            CallEventKind::Answered,
            CallEventKind::Bridged {
                a: LegId(0),
                b: LegId(1)
            },
            CallEventKind::Held { by: Side::Caller },
            CallEventKind::Resumed { by: Side::Caller },
            CallEventKind::Dtmf {
                leg: LegId(1),
                digit: '5'
            },
            CallEventKind::Ended {
                cause: HangupCause::Normal,
                side: Side::Callee,
                disposition: Disposition::Answered
            },
        ]
    );
    assert_eq!(call.state(), CallState::Ended);
    assert_eq!(call.duration_ms(t0 + secs(99)), 20_000);
    assert_eq!(call.billsec_ms(t0 + secs(99)), 16_000);
    assert_eq!(call.hold_total(), secs(3));
    assert_eq!(call.ring_at().map(|t| t.unix_ms), Some(1_700_000_001_000));
    assert_eq!(call.answer_at().map(|t| t.unix_ms), Some(1_700_000_004_000));
    assert_eq!(call.end_at().map(|t| t.unix_ms), Some(1_700_000_020_000));
    assert_eq!(call.poll_timeout(), None);
}

#[test]
fn inputs_after_the_end_are_errors() {
    let (t0, mut call) = start();
    call.handle_input(t0, CallInput::Hangup(HangupCause::Cancelled, Side::Caller))
        .unwrap();
    let err = call
        .handle_input(t0 + secs(1), CallInput::Answered)
        .unwrap_err();
    assert_eq!(err.state, CallState::Ended);
    assert_eq!(call.disposition(), Some(Disposition::Cancelled));
    // Hold before the answer is refused too.
    let (t0, mut call) = start();
    assert!(call
        .handle_input(t0, CallInput::Hold(Side::Caller))
        .is_err());
}

#[test]
fn ring_timeout_ends_with_no_answer_by_pbx() {
    let (t0, mut call) = start();
    call.handle_input(t0 + secs(2), CallInput::EarlyMedia)
        .unwrap();
    assert_eq!(call.poll_timeout(), Some(t0 + RING));
    call.handle_timeout(t0 + RING - Duration::from_millis(1));
    assert_eq!(call.state(), CallState::EarlyMedia);
    call.handle_timeout(t0 + RING);
    assert_eq!(call.state(), CallState::Ended);
    assert_eq!(call.ending(), Some((HangupCause::NoAnswer, Side::Pbx)));
    assert_eq!(call.disposition(), Some(Disposition::NoAnswer));
    assert_eq!(call.billsec_ms(t0 + secs(60)), 0);
    assert_eq!(call.duration_ms(t0 + secs(60)), 30_000);
}

#[test]
fn failure_statuses_map_to_dispositions() {
    for (status, disposition) in [
        (486, Disposition::Busy),
        (600, Disposition::Busy),
        (480, Disposition::NoAnswer),
        (404, Disposition::Failed),
        (503, Disposition::Failed),
    ] {
        let (t0, mut call) = start();
        let cause = HangupCause::of_status(status);
        call.handle_input(t0, CallInput::Hangup(cause, Side::Callee))
            .unwrap();
        assert_eq!(call.disposition(), Some(disposition), "{status}");
    }
    assert_eq!(HangupCause::of_status(486).status(), 486);
    assert_eq!(HangupCause::Busy.code(), "call.busy");
    for d in ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CANCELLED"] {
        assert_eq!(Disposition::parse(d).map(Disposition::as_str), Some(d));
    }
}
