//! The host with the real ACD: a caller enters, the logged-in agent is
//! offered the call, the answer connects it, the hangup puts the agent in
//! wrap-up; a failed offer is made again; a late answer is cancelled.

use super::*;

fn host(agents: &[(&str, &str)]) -> AcdHost {
    let queue: acd::QueueConfig = toml::from_str("name = \"support\"\nwrap_up_s = 5\n").unwrap();
    let profiles = agents
        .iter()
        .map(|(n, s)| acd::AgentProfile::new(n, &[s]).unwrap())
        .collect();
    let mut h = AcdHost::new(
        acd::Now::new(0, 1_000_000),
        acd::AcdConfig::default(),
        vec![queue],
        profiles,
        Path::new("/nonexistent"),
    )
    .unwrap();
    for (n, _) in agents {
        h.handle_agent(acd::Now::new(0, 1_000_000), n, &AgentOp::Login)
            .unwrap();
    }
    h
}

fn events(h: &mut AcdHost) -> Vec<(CallId, AcdEvent)> {
    std::iter::from_fn(|| h.poll_call_event()).collect()
}

fn enter(h: &mut AcdHost, at: u64, call: u64) {
    h.handle_request(
        acd::Now::new(at, 1_000_000 + at),
        CallId(call),
        AcdRequest::Enter {
            queue: "support".into(),
            number: "+3120".into(),
            priority: 0,
        },
    );
}

#[test]
fn a_caller_reaches_the_agent_and_the_agent_wraps_up() {
    let mut h = host(&[("2002", "support:5")]);
    enter(&mut h, 10, 1);
    let ev = events(&mut h);
    let [(CallId(1), AcdEvent::Offer { offer, agent, .. })] = ev.as_slice() else {
        panic!("{ev:?}");
    };
    assert_eq!(agent, "2002");
    assert_eq!(h.agents()[0].state, "reserved");
    h.handle_request(
        acd::Now::new(20, 1_000_020),
        CallId(1),
        AcdRequest::OfferAnswered(*offer),
    );
    assert_eq!(events(&mut h), [(CallId(1), AcdEvent::Connect(*offer))]);
    assert_eq!(h.agents()[0].state, "on_call");
    h.handle_request(
        acd::Now::new(60_000, 1_060_000),
        CallId(1),
        AcdRequest::Completed,
    );
    assert_eq!(h.agents()[0].state, "wrap_up");
    let kinds: Vec<String> = std::iter::from_fn(|| h.poll_event())
        .map(|e| e.kind.name().to_owned())
        .collect();
    for k in ["enter", "offer", "connect", "complete"] {
        assert!(kinds.iter().any(|n| n == k), "{k} in {kinds:?}");
    }
    // Wrap-up ends by itself.
    h.handle_timeout(acd::Now::new(66_000, 1_066_000));
    assert_eq!(h.agents()[0].state, "available");
}

#[test]
fn a_failed_offer_is_offered_again_and_a_late_answer_is_cancelled() {
    let mut h = host(&[("a1", "support:5"), ("a2", "support:5")]);
    enter(&mut h, 10, 1);
    let Some((
        _,
        AcdEvent::Offer {
            offer: first,
            agent,
            ..
        },
    )) = h.poll_call_event()
    else {
        panic!()
    };
    h.handle_request(
        acd::Now::new(20, 1_000_020),
        CallId(1),
        AcdRequest::OfferFailed {
            offer: first,
            status: 408,
        },
    );
    // The next offer waits for the queue's retry delay, if any.
    let mut ev = events(&mut h);
    if ev.is_empty() {
        let at = h.poll_timeout().expect("a retry is scheduled");
        h.handle_timeout(acd::Now::new(at, 1_000_000 + at));
        ev = events(&mut h);
    }
    let [(_, AcdEvent::Offer { offer: again, .. })] = ev.as_slice() else {
        panic!("{ev:?}");
    };
    assert_ne!(
        *again, first,
        "a new offer (the ACD's strategy picks the agent: {agent} rang first)"
    );
    // The first offer's phone answering now is too late.
    h.handle_request(
        acd::Now::new(90_000, 1_090_000),
        CallId(1),
        AcdRequest::OfferAnswered(first),
    );
    assert_eq!(events(&mut h), [(CallId(1), AcdEvent::CancelOffer(first))]);
}

#[test]
fn unknown_queues_are_refused_and_agent_ops_parse() {
    let mut h = host(&[("a1", "support:5")]);
    h.handle_request(
        acd::Now::new(0, 1),
        CallId(9),
        AcdRequest::Enter {
            queue: "nope".into(),
            number: "1".into(),
            priority: 0,
        },
    );
    assert_eq!(events(&mut h), [(CallId(9), AcdEvent::Refused)]);
    assert_eq!(
        AgentOp::parse("break:lunch"),
        Some(AgentOp::Break("lunch".into()))
    );
    assert_eq!(
        AgentOp::parse("break"),
        Some(AgentOp::Break("break".into()))
    );
    assert_eq!(AgentOp::parse("break:"), None);
    assert_eq!(AgentOp::parse("dance"), None);
    assert!(h
        .handle_agent(acd::Now::new(0, 1), "ghost", &AgentOp::Login)
        .is_err());
}

#[test]
fn an_agent_on_a_direct_call_is_busy_for_the_queue_until_it_ends() {
    let mut h = host(&[("2002", "support:5")]);
    let t = |ms: u64| acd::Now::new(ms, 1_000_000 + ms);
    h.note_call_start(t(5), CallId(50), "1001", "2002");
    assert_eq!(h.agents()[0].state, "on_call");
    // A feature-code call is no call for the agent's state.
    h.note_call_start(t(6), CallId(51), "2002", "*52");
    enter(&mut h, 10, 1);
    assert!(events(&mut h).is_empty(), "no offer while the agent talks");
    h.note_call_end(t(20_000), CallId(50));
    let ev = events(&mut h);
    assert!(
        matches!(ev.as_slice(), [(CallId(1), AcdEvent::Offer { .. })]),
        "offered once free: {ev:?}"
    );
}

#[test]
fn after_a_restart_an_agent_caught_ringing_or_talking_is_available_and_breaks_are_kept() {
    let queue: acd::QueueConfig = toml::from_str("name = \"support\"\n").unwrap();
    let profiles: Vec<acd::AgentProfile> = ["a1", "a2", "a3"]
        .iter()
        .map(|n| acd::AgentProfile::new(n, &["support:5"]).unwrap())
        .collect();
    let mut h = AcdHost::new(
        acd::Now::new(0, 1_000_000),
        acd::AcdConfig::default(),
        vec![queue],
        profiles,
        Path::new("/nonexistent"),
    )
    .unwrap();
    let record = |agent: &str, to: acd::AgentState| acd::AgentStateRecord {
        agent: acd::AgentId::from(agent),
        at_unix_ms: 900_000,
        from: acd::AgentState::Available,
        to,
        cause: acd::StateCause::Offer,
        reason: None,
        call: Some(acd::CallId(7)),
        queue: Some(acd::QueueId::from("support")),
        from_duration_ms: 0,
    };
    h.recover(
        acd::Now::new(10, 1_000_010),
        &[
            record("a1", acd::AgentState::Reserved),
            record("a2", acd::AgentState::OnCall(acd::CallKind::Queue)),
            record("a3", acd::AgentState::Break(acd::ReasonCode::from("lunch"))),
        ],
    )
    .unwrap();
    let states: Vec<String> = h.agents().into_iter().map(|a| a.state).collect();
    assert_eq!(states, ["available", "available", "break"]);
    // The recovered agents take calls at once.
    enter(&mut h, 20, 1);
    assert!(matches!(
        events(&mut h).as_slice(),
        [(CallId(1), AcdEvent::Offer { .. })]
    ));
}
