//! Failover between the resolved targets of one host-named trunk (RFC 3263
//! §4.3): the router gives one attempt per address, all of the same trunk;
//! an address that cannot be reached, a 5xx or silence moves on to the
//! next, and the call is recorded against the trunk, not the address.

use super::*;
use crate::b2bua::app::LegSpec;
use crate::b2bua::trunk_route::{TrunkAttempt, TrunkRoute};

/// Trunk 0 (`carrier`) resolved to an address nobody can send to (a host
/// name the UA cannot route: a transport failure), then Bob, then Carol.
pub(super) fn route(slots: Arc<crate::trunks::Slots>) -> TrunkRoute {
    let attempt = |host: &str| TrunkAttempt {
        trunk: 0,
        name: "carrier".into(),
        leg: LegSpec {
            uri: Uri::parse(&format!("sip:+31201230000@{host}")).unwrap(),
            from: None,
            to: None,
            credentials: None,
        },
        max_calls: Some(1),
        setup_timeout: Duration::from_secs(3),
    };
    TrunkRoute::new(
        vec![attempt("unroutable.invalid"), attempt(BOB), attempt(CAROL)],
        slots,
    )
}

#[test]
fn a_503_moves_to_the_next_target_of_the_same_trunk() {
    let mut w = World::new();
    let call = w.call("0201230000");
    // The unroutable first target failed at once; Bob is tried.
    let bob = w.bob_incoming();
    assert_eq!(
        w.router.1.used(0),
        1,
        "one slot for the trunk, not one per target"
    );
    w.bob.reject(w.now, bob, StatusCode(503)).unwrap();
    w.run();
    assert!(ended(&w.alice_events).is_none(), "the caller waits");
    let carol = carol_incoming(&w);
    assert_eq!(w.router.1.used(0), 1, "the slot moved to the next target");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(w.router.1.used(0), 0, "slot freed");
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.trunk.as_deref(), Some("carrier"));
    assert_eq!(r.disposition, "ANSWERED");
    let statuses: Vec<u16> = r.legs.iter().map(|l| l.status).collect();
    // The unroutable target never became a leg (nothing was sent).
    assert_eq!(statuses, [200, 503, 200], "caller, Bob, Carol");
}

#[test]
fn a_silent_target_times_out_to_the_next_one() {
    let mut w = World::new();
    let carol = w.silent_bob_then_carol("0201230000");
    w.carol.reject(w.now, carol, StatusCode(503)).unwrap();
    w.run();
    // Every target failed: the caller gets the last one's answer.
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode(503)))
    );
    assert_eq!(w.router.1.used(0), 0);
}
