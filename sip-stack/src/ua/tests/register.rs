//! Registration client: digest retry, refresh, backoff, unregister.

use super::*;

fn registered(net: &Net) -> usize {
    net.events_of(0)
        .iter()
        .filter(|e| matches!(e, UaEvent::Registered { .. }))
        .count()
}

#[test]
fn register_answers_the_challenge_and_refreshes() {
    let mut net = Net::new(vec![config(1, PROXY)]);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(1));
    assert_eq!(net.events_of(0), [UaEvent::Registered { expires: 60 }]);
    assert_eq!((net.proxy.registers, net.proxy.challenges), (2, 1));
    assert!(net.uas[0].is_registered());
    // 60 s binding: refreshed halfway (a new challenge each time here).
    net.run(Duration::from_secs(29));
    assert_eq!(registered(&net), 1);
    net.run(Duration::from_secs(31));
    assert_eq!(registered(&net), 2);
    assert_eq!(net.proxy.registers, 4);
}

#[test]
fn a_wrong_password_is_not_retried_forever() {
    let mut cfg = config(1, PROXY);
    cfg.credentials = Some(Credentials {
        username: "u1".into(),
        password: "wrong".into(),
    });
    let mut net = Net::new(vec![cfg]);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(1));
    // One challenge answered, the second refused: no endless loop.
    assert_eq!(net.proxy.challenges, 2);
    assert!(matches!(
        net.events_of(0)[..],
        [UaEvent::RegistrationFailed {
            status: Some(StatusCode::UNAUTHORIZED),
            ..
        }]
    ));
}

#[test]
fn failures_back_off_exponentially() {
    let mut net = Net::new(vec![config(1, PROXY)]);
    net.proxy.register_status = Some(503);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(10));
    let delays: Vec<Duration> = net
        .events_of(0)
        .into_iter()
        .filter_map(|e| match e {
            UaEvent::RegistrationFailed { retry_in, status } => {
                assert_eq!(status, Some(StatusCode::SERVICE_UNAVAILABLE));
                Some(retry_in)
            }
            _ => None,
        })
        .collect();
    assert_eq!(delays, [2, 4, 8].map(Duration::from_secs));
    // Recovery resets the backoff.
    net.proxy.register_status = None;
    net.run(Duration::from_secs(40));
    assert!(net.uas[0].is_registered());
}

#[test]
fn unregister_sends_expires_zero() {
    let mut net = Net::new(vec![config(1, PROXY)]);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(1));
    net.uas[0].unregister(net.now);
    net.run(Duration::from_secs(2));
    assert_eq!(net.events_of(0).last(), Some(&UaEvent::Unregistered));
    assert!(!net.uas[0].is_registered());
    let last_register = net
        .log
        .iter()
        .rev()
        .find(|(_, _, t)| t.starts_with("REGISTER"))
        .expect("a REGISTER");
    assert!(
        last_register.2.contains("Expires: 0"),
        "{}",
        last_register.2
    );
    // No refresh after unregistering.
    let before = net.proxy.registers;
    net.run(Duration::from_secs(120));
    assert_eq!(net.proxy.registers, before);
}

#[test]
fn timeout_is_a_failure_without_status() {
    let mut net = Net::new(vec![config(1, 77)]);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(40));
    assert!(matches!(
        net.events_of(0).first(),
        Some(UaEvent::RegistrationFailed { status: None, .. })
    ));
}

#[test]
fn the_contact_is_learnt_from_received_and_rport() {
    let mut cfg = config(1, PROXY);
    cfg.learn_contact = true;
    let mut net = Net::new(vec![cfg]);
    let public = SocketAddr::from(([203, 0, 113, 7], 40_000));
    net.proxy.public = Some(public);
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(1));
    let learnt = Uri::parse("sip:u1@203.0.113.7:40000").expect("uri");
    assert_eq!(
        net.events_of(0),
        [
            UaEvent::ContactLearned {
                contact: learnt.clone()
            },
            UaEvent::Registered { expires: 60 }
        ]
    );
    assert_eq!(net.uas[0].config().contact, learnt);
    // The second REGISTER binds the public contact and removes the private one.
    let last = net
        .log
        .iter()
        .rev()
        .find(|(_, _, m)| m.starts_with("REGISTER"));
    let text = &last.expect("a REGISTER").2;
    assert!(
        text.contains("Contact: <sip:u1@203.0.113.7:40000>;expires=60"),
        "{text}"
    );
    assert!(
        text.contains("Contact: <sip:u1@10.0.0.1:5060>;expires=0"),
        "{text}"
    );
    // Refreshes see the same address: nothing more to learn.
    net.run(Duration::from_secs(31));
    assert_eq!(registered(&net), 2);
    let learnt_events = net
        .events_of(0)
        .iter()
        .filter(|e| matches!(e, UaEvent::ContactLearned { .. }))
        .count();
    assert_eq!(learnt_events, 1);
}

#[test]
fn without_learning_the_contact_stays() {
    let mut net = Net::new(vec![config(1, PROXY)]);
    net.proxy.public = Some(SocketAddr::from(([203, 0, 113, 7], 40_000)));
    net.uas[0].register(net.now);
    net.run(Duration::from_secs(1));
    assert_eq!(net.events_of(0), [UaEvent::Registered { expires: 60 }]);
    assert_eq!(net.uas[0].config().contact.host, "10.0.0.1");
}
