//! Server transactions: auto 100 Trying, absorption, Timers G, H, I, J, L,
//! ACK and CANCEL matching.

use super::*;

/// An INVITE arrives at time `h.now`; returns its server transaction.
fn invite_in(h: &mut Harness, invite: &Request, peer: Peer) -> (ServerTxId, Vec<Output>) {
    let outs = h.receive_request(invite, peer);
    (server_tx(&outs), outs)
}

fn statuses(outs: &[Output]) -> Vec<u16> {
    transmits(outs).iter().map(status_of).collect()
}

#[test]
fn invite_server_sends_100_trying_at_once() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKt");
    let (tx, outs) = invite_in(&mut h, &invite, udp());
    let sent = transmits(&outs);
    assert_eq!(sent.len(), 1);
    let SipMessage::Response(trying) = &sent[0] else {
        panic!("a response was sent")
    };
    assert_eq!(trying.status, StatusCode::TRYING);
    assert_eq!(
        trying.to().ok().and_then(|t| t.tag().map(str::to_owned)),
        None,
        "no To tag on 100"
    );
    assert_eq!(trying.call_id().ok(), Some("call-1@example.com"));
    assert_eq!(trying.cseq().ok().map(|c| c.method), Some(Method::Invite));
    assert_eq!(
        trying
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
            .as_deref(),
        Some("z9hG4bKt")
    );
    assert_eq!(
        trying
            .headers
            .get(&HeaderName::Timestamp)
            .map(|t| t.value.clone()),
        Some(Bytes::from_static(b"54"))
    );
    assert!(
        matches!(&outs[..], [Output::Transmit { peer, .. }, Output::Event(TxEvent::Request { tx: t, request, .. })]
        if *peer == udp() && *t == tx && request.method == Method::Invite)
    );
}

#[test]
fn auto_trying_can_be_switched_off() {
    let mut h = Harness::with(TimerConfig {
        auto_trying: false,
        ..TimerConfig::default()
    });
    let invite = request("INVITE", "z9hG4bKnt");
    let (_, outs) = invite_in(&mut h, &invite, udp());
    assert!(transmits(&outs).is_empty());
    // A retransmission before any response has nothing to re-send.
    assert!(h.receive_request(&invite, udp()).is_empty());
}

#[test]
fn invite_retransmission_resends_last_provisional() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKr");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    let outs = h.receive_request(&invite, udp());
    assert_eq!(statuses(&outs), [100]);
    assert!(
        events(&outs).is_empty(),
        "a retransmission is not a new request"
    );
    h.layer
        .send_response(h.now, tx, response(&invite, 180))
        .expect("alive");
    assert_eq!(statuses(&h.drain()), [180]);
    assert_eq!(statuses(&h.receive_request(&invite, udp())), [180]);
}

#[test]
fn timer_g_doubles_up_to_t2_and_timer_h_gives_ack_timeout() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKg");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    h.layer
        .send_response(h.now, tx, response(&invite, 486))
        .expect("alive");
    assert_eq!(statuses(&h.drain()), [486]);
    let log = h.run_until(40_000);
    assert_eq!(
        transmit_times(&log),
        [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert!(log
        .iter()
        .all(|(_, o)| !matches!(o, Output::Transmit { .. })
            || transmits(std::slice::from_ref(o))
                .iter()
                .all(|m| status_of(m) == 486)));
    assert_eq!(
        log_events(&log),
        [
            (32_000, TxEvent::AckTimeout { tx }),
            (32_000, TxEvent::Terminated { tx: tx.into() })
        ]
    );
    assert!(h.layer.is_empty());
}

#[test]
fn invite_retransmission_in_completed_resends_final() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKcf");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    h.layer
        .send_response(h.now, tx, response(&invite, 404))
        .expect("alive");
    h.drain();
    assert_eq!(statuses(&h.receive_request(&invite, udp())), [404]);
}

#[test]
fn ack_for_non2xx_confirms_and_timer_i_absorbs() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKi");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    h.layer
        .send_response(h.now, tx, response(&invite, 486))
        .expect("alive");
    h.drain();
    h.run_until(600); // one retransmission of the 486
    let ack = request("ACK", "z9hG4bKi");
    let outs = h.receive_request(&ack, udp());
    assert!(
        outs.is_empty(),
        "the ACK for a non-2xx is absorbed by the transaction"
    );
    assert!(
        h.receive_request(&ack, udp()).is_empty(),
        "ACK retransmissions absorbed in Confirmed"
    );
    assert!(
        h.receive_request(&invite, udp()).is_empty(),
        "INVITE retransmissions absorbed in Confirmed"
    );
    let log = h.run_until(10_000);
    assert!(transmit_times(&log).is_empty(), "Timer G stopped");
    assert_eq!(
        log_events(&log),
        [(5_600, TxEvent::Terminated { tx: tx.into() })]
    );
}

#[test]
fn reliable_invite_server_has_no_timer_g_and_zero_timer_i() {
    let mut h = Harness::new();
    let invite = request_via("INVITE", "z9hG4bKrel", "TCP", "client.example.com", 5060);
    let (tx, _) = invite_in(&mut h, &invite, tcp());
    h.layer
        .send_response(h.now, tx, response(&invite, 480))
        .expect("alive");
    assert!(h
        .drain()
        .iter()
        .all(|o| matches!(o, Output::Transmit { peer, .. } if *peer == tcp())));
    assert_eq!(h.layer.poll_timeout(), Some(h.at(32_000)), "only Timer H");
    let ack = request_via("ACK", "z9hG4bKrel", "TCP", "client.example.com", 5060);
    let outs = h.receive_request(&ack, tcp());
    assert_eq!(events(&outs), [TxEvent::Terminated { tx: tx.into() }]);
    assert!(h.layer.is_empty());
}

#[test]
fn reliable_timer_h_still_fires() {
    let mut h = Harness::new();
    let invite = request_via("INVITE", "z9hG4bKrh", "TCP", "client.example.com", 5060);
    let (tx, _) = invite_in(&mut h, &invite, tcp());
    h.layer
        .send_response(h.now, tx, response(&invite, 500))
        .expect("alive");
    h.drain();
    let log = h.run_until(40_000);
    assert!(transmit_times(&log).is_empty());
    assert_eq!(log_events(&log)[0], (32_000, TxEvent::AckTimeout { tx }));
}

#[test]
fn rfc6026_accepted_state_and_timer_l() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKl");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    let ok = response(&invite, 200);
    h.layer.send_response(h.now, tx, ok.clone()).expect("alive");
    assert_eq!(statuses(&h.drain()), [200]);
    assert!(
        h.receive_request(&invite, udp()).is_empty(),
        "INVITE retransmission absorbed in Accepted"
    );
    // The TU retransmits its 2xx through the transaction (RFC 6026 §8.7).
    h.layer
        .send_response(h.now, tx, ok)
        .expect("2xx allowed in Accepted");
    assert_eq!(statuses(&h.drain()), [200]);
    assert_eq!(
        h.layer.send_response(h.now, tx, response(&invite, 486)),
        Err(TxError::AlreadyFinal(tx))
    );
    // An ACK matching the INVITE's branch goes up to the TU.
    let ack = request("ACK", "z9hG4bKl");
    assert!(
        matches!(&events(&h.receive_request(&ack, udp()))[..], [TxEvent::Ack { request, .. }] if request.method == Method::Ack)
    );
    h.now = h.at(1_000);
    let log = h.run_until(40_000);
    assert!(
        transmit_times(&log).is_empty(),
        "the transaction does not retransmit a 2xx"
    );
    assert_eq!(
        log_events(&log),
        [(32_000, TxEvent::Terminated { tx: tx.into() })]
    );
    assert_eq!(
        h.layer.send_response(h.now, tx, response(&invite, 200)),
        Err(TxError::NoSuchTransaction(tx))
    );
}

#[test]
fn ack_for_2xx_with_its_own_branch_goes_to_the_tu() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKinv");
    let (tx, _) = invite_in(&mut h, &invite, udp());
    h.layer
        .send_response(h.now, tx, response(&invite, 200))
        .expect("alive");
    h.drain();
    let ack = request("ACK", "z9hG4bKnewbranch");
    let outs = h.receive_request(&ack, udp());
    assert!(matches!(&outs[..], [Output::Event(TxEvent::Ack { peer, .. })] if *peer == udp()));
    assert_eq!(h.layer.len(), 1, "an ACK never creates a transaction");
}

#[test]
fn non_invite_server_timer_j_and_absorption() {
    let mut h = Harness::new();
    let register = request("REGISTER", "z9hG4bKj");
    let outs = h.receive_request(&register, udp());
    assert!(
        transmits(&outs).is_empty(),
        "no automatic 100 for non-INVITE"
    );
    let tx = server_tx(&outs);
    assert!(
        h.receive_request(&register, udp()).is_empty(),
        "absorbed in Trying"
    );
    h.layer
        .send_response(h.now, tx, response(&register, 100))
        .expect("alive");
    assert_eq!(statuses(&h.drain()), [100]);
    assert_eq!(statuses(&h.receive_request(&register, udp())), [100]);
    h.now = h.at(2_000);
    h.layer
        .send_response(h.now, tx, response(&register, 200))
        .expect("alive");
    assert_eq!(statuses(&h.drain()), [200]);
    assert_eq!(statuses(&h.receive_request(&register, udp())), [200]);
    assert_eq!(
        h.layer.send_response(h.now, tx, response(&register, 500)),
        Err(TxError::AlreadyFinal(tx))
    );
    let log = h.run_until(40_000);
    assert!(
        transmit_times(&log).is_empty(),
        "responses are not retransmitted by timer"
    );
    assert_eq!(
        log_events(&log),
        [(34_000, TxEvent::Terminated { tx: tx.into() })]
    );
    // After Timer J the same request is new again.
    let outs = h.receive_request(&register, udp());
    assert_ne!(server_tx(&outs), tx);
}

#[test]
fn non_invite_server_timer_j_is_zero_on_reliable_transports() {
    let mut h = Harness::new();
    let options = request_via("OPTIONS", "z9hG4bKj0", "TCP", "c.example.com", 5060);
    let tx = server_tx(&h.receive_request(&options, tcp()));
    h.layer
        .send_response(h.now, tx, response(&options, 200))
        .expect("alive");
    let outs = h.drain();
    assert_eq!(statuses(&outs), [200]);
    assert_eq!(events(&outs), [TxEvent::Terminated { tx: tx.into() }]);
    assert!(h.layer.is_empty());
}

#[test]
fn cancel_is_its_own_transaction_and_finds_its_invite() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKcx");
    let (invite_tx, _) = invite_in(&mut h, &invite, udp());
    let cancel = build_cancel(&invite);
    let outs = h.receive_request(&cancel, udp());
    assert!(transmits(&outs).is_empty(), "no automatic 100 for CANCEL");
    let cancel_tx = server_tx(&outs);
    assert_ne!(cancel_tx, invite_tx);
    let received = events(&outs)
        .into_iter()
        .find_map(|e| match e {
            TxEvent::Request { request, .. } => Some(request),
            _ => None,
        })
        .expect("the CANCEL went up");
    assert_eq!(h.layer.find_invite_for_cancel(&received), Some(invite_tx));
    // A CANCEL from another sent-by does not match.
    let foreign = build_cancel(&request_via(
        "INVITE",
        "z9hG4bKcx",
        "UDP",
        "client.example.com",
        5070,
    ));
    assert_eq!(h.layer.find_invite_for_cancel(&foreign), None);
    // After the INVITE transaction is gone, nothing matches.
    h.layer
        .send_response(h.now, invite_tx, response(&invite, 487))
        .expect("alive");
    h.receive_request(&request("ACK", "z9hG4bKcx"), udp());
    h.run_until(40_000);
    assert_eq!(h.layer.find_invite_for_cancel(&received), None);
}

#[test]
fn sent_by_host_matches_case_insensitively() {
    let mut h = Harness::new();
    let invite = request_via("INVITE", "z9hG4bKcase", "UDP", "Client.Example.COM", 5060);
    invite_in(&mut h, &invite, udp());
    let again = request_via("INVITE", "z9hG4bKcase", "UDP", "client.example.com", 5060);
    let outs = h.receive_request(&again, udp());
    assert_eq!(statuses(&outs), [100], "treated as a retransmission");
    assert!(events(&outs).is_empty());
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let mut h = Harness::new();
    let a = request_via("OPTIONS", "z9hG4bKdup", "UDP", "a.example.com", 5060);
    let b = request_via("OPTIONS", "z9hG4bKdup", "UDP", "b.example.com", 5060);
    let ta = server_tx(&h.receive_request(&a, udp()));
    let tb = server_tx(&h.receive_request(&b, udp()));
    assert_ne!(ta, tb);
}

#[test]
fn branch_without_magic_cookie_is_matched_anyway() {
    let mut h = Harness::new();
    let old = request("INVITE", "rfc2543-branch");
    let (tx, _) = invite_in(&mut h, &old, udp());
    assert_eq!(statuses(&h.receive_request(&old, udp())), [100]);
    h.layer
        .send_response(h.now, tx, response(&old, 486))
        .expect("alive");
    h.drain();
    assert!(h
        .receive_request(&request("ACK", "rfc2543-branch"), udp())
        .is_empty());
}

#[test]
fn request_without_via_is_dropped_not_a_panic() {
    let mut h = Harness::new();
    let msg = parse(
        "OPTIONS sip:b@example.com SIP/2.0\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
    );
    h.layer.handle_message(h.now, msg, udp());
    assert!(h.drain().is_empty());
    assert!(h.layer.is_empty());
}

#[test]
fn send_response_to_unknown_transaction_is_an_error() {
    let mut h = Harness::new();
    let options = request("OPTIONS", "z9hG4bKu");
    let tx = server_tx(&h.receive_request(&options, udp()));
    h.layer
        .send_response(h.now, tx, response(&options, 200))
        .expect("alive");
    h.run_until(40_000);
    assert_eq!(
        h.layer.send_response(h.now, tx, response(&options, 200)),
        Err(TxError::NoSuchTransaction(tx))
    );
}

#[test]
fn config_validation_and_zero_t1_does_not_spin() {
    assert_eq!(TimerConfig::default().validate(), Ok(()));
    let zero = TimerConfig {
        t1: Duration::ZERO,
        ..TimerConfig::default()
    };
    assert_eq!(zero.validate(), Err(ConfigError::ZeroT1));
    let low_t2 = TimerConfig {
        t2: Duration::from_millis(100),
        ..TimerConfig::default()
    };
    assert_eq!(low_t2.validate(), Err(ConfigError::T2BelowT1));
    let mut h = Harness::with(zero);
    h.layer
        .send_request(h.now, request("OPTIONS", "z9hG4bKz"), udp());
    h.drain();
    let log = h.run_until(1_000);
    assert!(h.layer.is_empty(), "Timer F = 64 ms with T1 raised to 1 ms");
    assert!(!log.is_empty());
}
