//! Client transactions: Timers A, B, D, E, F, K, M, ACK for non-2xx, stray
//! responses, RFC 6026 2xx retransmissions.

use super::*;

/// Sends `req` on a fresh client transaction at time 0.
fn start(h: &mut Harness, req: &Request, peer: Peer) -> (ClientTxId, Vec<Output>) {
    let id = h.layer.send_request(h.now, req.clone(), peer);
    (id, h.drain())
}

#[test]
fn timer_a_doubles_without_cap_until_timer_b() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKa");
    let (id, outs) = start(&mut h, &invite, udp());
    assert_eq!(transmits(&outs).len(), 1);
    assert_eq!(h.layer.poll_timeout(), Some(h.at(500)));
    let log = h.run_until(40_000);
    // §17.1.1.2: A fires at T1, 2T1, 4T1, ... (no T2 cap) until B at 64*T1.
    assert_eq!(
        transmit_times(&log),
        [500, 1500, 3500, 7500, 15_500, 31_500]
    );
    assert_eq!(
        log_events(&log),
        [
            (32_000, TxEvent::Timeout { tx: id }),
            (32_000, TxEvent::Terminated { tx: id.into() })
        ]
    );
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.poll_timeout(), None);
}

#[test]
fn retransmitted_invite_is_the_same_bytes() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKsame");
    let (_, outs) = start(&mut h, &invite, udp());
    let log = h.run_until(600);
    let first = outs.iter().find_map(|o| match o {
        Output::Transmit { data, peer } => Some((data.clone(), *peer)),
        Output::Event(_) => None,
    });
    let again = log.iter().find_map(|(_, o)| match o {
        Output::Transmit { data, peer } => Some((data.clone(), *peer)),
        Output::Event(_) => None,
    });
    assert_eq!(first, again);
    assert_eq!(first.map(|(_, p)| p), Some(udp()));
}

#[test]
fn reliable_invite_is_not_retransmitted_but_times_out() {
    let mut h = Harness::new();
    let (id, outs) = start(&mut h, &request("INVITE", "z9hG4bKtcp"), tcp());
    assert_eq!(transmits(&outs).len(), 1);
    let log = h.run_until(40_000);
    assert!(transmit_times(&log).is_empty());
    assert_eq!(log_events(&log)[0], (32_000, TxEvent::Timeout { tx: id }));
    assert!(h.layer.is_empty());
}

#[test]
fn provisional_stops_timers_a_and_b() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKprov");
    let (id, _) = start(&mut h, &invite, udp());
    h.run_until(600); // one retransmission
    let outs = h.receive_response(&response(&invite, 180), udp());
    let ev = events(&outs);
    assert!(
        matches!(&ev[..], [TxEvent::Response { tx, response }] if *tx == id && response.status.0 == 180)
    );
    // Lazily invalidated timers no longer show up as a deadline.
    assert_eq!(h.layer.poll_timeout(), None);
    assert!(h.run_until(100_000).is_empty());
    assert_eq!(
        h.layer.len(),
        1,
        "Proceeding waits for a final (the TU's Timer C)"
    );
}

#[test]
fn non2xx_final_is_acked_by_the_layer_and_timer_d_absorbs() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKbusy");
    let (id, _) = start(&mut h, &invite, udp());
    h.now = h.at(100);
    h.receive_response(&response(&invite, 100), udp());
    h.now = h.at(200);
    let busy = response(&invite, 486);
    let outs = h.receive_response(&busy, udp());
    let sent = transmits(&outs);
    assert_eq!(sent.len(), 1);
    let SipMessage::Request(ack) = &sent[0] else {
        panic!("an ACK was sent")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(
        ack.top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
            .as_deref(),
        Some("z9hG4bKbusy")
    );
    assert_eq!(ack.headers.vias().count(), 1);
    assert_eq!(
        ack.cseq().ok().map(|c| (c.seq, c.method)),
        Some((1, Method::Ack))
    );
    assert_eq!(
        ack.to()
            .ok()
            .and_then(|t| t.tag().map(str::to_owned))
            .as_deref(),
        Some("b2")
    );
    assert_eq!(ack.call_id().ok(), Some("call-1@example.com"));
    assert_eq!(ack.headers.get_all(&HeaderName::Route).count(), 1);
    assert!(
        matches!(&events(&outs)[..], [TxEvent::Response { tx, response }] if *tx == id && response.status.0 == 486)
    );

    // A retransmitted 486 is answered with the same ACK and not passed up.
    h.now = h.at(1_000);
    let outs = h.receive_response(&busy, udp());
    assert_eq!(
        transmits(&outs)
            .iter()
            .filter_map(method_of)
            .collect::<Vec<_>>(),
        [Method::Ack]
    );
    assert!(events(&outs).is_empty());

    // Timer D: 32 s after the final.
    let log = h.run_until(40_000);
    assert_eq!(
        log_events(&log),
        [(32_200, TxEvent::Terminated { tx: id.into() })]
    );
    assert!(h.layer.is_empty());
}

#[test]
fn non2xx_final_on_reliable_transport_terminates_at_once() {
    let mut h = Harness::new();
    let invite = request_via("INVITE", "z9hG4bKrel", "TCP", "client.example.com", 5060);
    let (id, _) = start(&mut h, &invite, tcp());
    let outs = h.receive_response(&response(&invite, 603), tcp());
    assert_eq!(
        transmits(&outs)
            .iter()
            .filter_map(method_of)
            .collect::<Vec<_>>(),
        [Method::Ack]
    );
    let ev = events(&outs);
    assert!(matches!(ev[0], TxEvent::Response { .. }));
    assert_eq!(ev[1], TxEvent::Terminated { tx: id.into() });
    assert!(h.layer.is_empty());
}

#[test]
fn rfc6026_accepted_passes_2xx_retransmissions_up_until_timer_m() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKok");
    let (id, _) = start(&mut h, &invite, udp());
    h.now = h.at(300);
    let ok = response(&invite, 200);
    let outs = h.receive_response(&ok, udp());
    assert!(
        transmits(&outs).is_empty(),
        "the TU ACKs a 2xx, not the transaction"
    );
    assert_eq!(events(&outs).len(), 1);
    let outs = h.receive_response(&ok, udp());
    assert!(
        matches!(&events(&outs)[..], [TxEvent::Response { tx, response }] if *tx == id && response.status.is_success())
    );
    // A non-2xx after a 2xx is absorbed.
    assert!(h
        .receive_response(&response(&invite, 486), udp())
        .is_empty());
    let log = h.run_until(40_000);
    assert!(
        transmit_times(&log).is_empty(),
        "no INVITE retransmission after a 2xx"
    );
    assert_eq!(
        log_events(&log),
        [(32_300, TxEvent::Terminated { tx: id.into() })]
    );
    // After Timer M, a 2xx retransmission is a stray one (a proxy forwards it).
    let outs = h.receive_response(&ok, udp());
    assert!(matches!(
        &events(&outs)[..],
        [TxEvent::StrayResponse { .. }]
    ));
}

#[test]
fn timer_e_doubles_up_to_t2_then_timer_f() {
    let mut h = Harness::new();
    let (id, outs) = start(&mut h, &request("REGISTER", "z9hG4bKe"), udp());
    assert_eq!(transmits(&outs).len(), 1);
    let log = h.run_until(40_000);
    assert_eq!(
        transmit_times(&log),
        [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        log_events(&log),
        [
            (32_000, TxEvent::Timeout { tx: id }),
            (32_000, TxEvent::Terminated { tx: id.into() })
        ]
    );
    assert!(h.layer.is_empty());
}

#[test]
fn timer_e_is_t2_in_proceeding() {
    let mut h = Harness::new();
    let register = request("REGISTER", "z9hG4bKe2");
    start(&mut h, &register, udp());
    h.run_until(600); // retransmission at 500, next E at 1500
    h.receive_response(&response(&register, 100), udp());
    let log = h.run_until(12_000);
    // The armed E (1500) still fires, then every T2.
    assert_eq!(transmit_times(&log), [1500, 5500, 9500]);
}

#[test]
fn reliable_non_invite_has_no_timer_e() {
    let mut h = Harness::new();
    let (id, _) = start(
        &mut h,
        &request_via("OPTIONS", "z9hG4bKt", "TCP", "c.example.com", 5060),
        tcp(),
    );
    let log = h.run_until(40_000);
    assert!(transmit_times(&log).is_empty());
    assert_eq!(log_events(&log)[0], (32_000, TxEvent::Timeout { tx: id }));
}

#[test]
fn timer_k_absorbs_final_retransmissions() {
    let mut h = Harness::new();
    let register = request("REGISTER", "z9hG4bKk");
    let (id, _) = start(&mut h, &register, udp());
    h.now = h.at(700);
    let ok = response(&register, 200);
    let outs = h.receive_response(&ok, udp());
    assert!(matches!(&events(&outs)[..], [TxEvent::Response { tx, .. }] if *tx == id));
    assert!(
        h.receive_response(&ok, udp()).is_empty(),
        "retransmitted final absorbed"
    );
    let log = h.run_until(10_000);
    assert!(
        transmit_times(&log).is_empty(),
        "no retransmission in Completed"
    );
    assert_eq!(
        log_events(&log),
        [(5_700, TxEvent::Terminated { tx: id.into() })]
    );
}

#[test]
fn timer_k_is_zero_on_reliable_transports() {
    let mut h = Harness::new();
    let bye = request_via("BYE", "z9hG4bKk0", "TLS", "c.example.com", 5061);
    let (id, _) = start(&mut h, &bye, tcp());
    let outs = h.receive_response(&response(&bye, 200), tcp());
    let ev = events(&outs);
    assert!(matches!(ev[0], TxEvent::Response { .. }));
    assert_eq!(ev[1], TxEvent::Terminated { tx: id.into() });
    assert!(h.layer.is_empty());
}

#[test]
fn provisional_responses_are_passed_up_each_time() {
    // §17.1.2.2: every provisional in Trying/Proceeding goes to the TU.
    let mut h = Harness::new();
    let options = request("OPTIONS", "z9hG4bKp");
    start(&mut h, &options, udp());
    assert_eq!(
        events(&h.receive_response(&response(&options, 100), udp())).len(),
        1
    );
    assert_eq!(
        events(&h.receive_response(&response(&options, 100), udp())).len(),
        1
    );
}

#[test]
fn responses_match_on_branch_and_cseq_method() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKm");
    let (invite_tx, _) = start(&mut h, &invite, udp());
    let cancel = build_cancel(&invite);
    let (cancel_tx, _) = start(&mut h, &cancel, udp());
    assert_ne!(invite_tx, cancel_tx);
    // Same branch, CSeq method CANCEL: the CANCEL transaction gets it.
    let outs = h.receive_response(&response(&cancel, 200), udp());
    assert!(matches!(&events(&outs)[0], TxEvent::Response { tx, .. } if *tx == cancel_tx));
    let outs = h.receive_response(&response(&invite, 487), udp());
    assert!(matches!(&events(&outs)[0], TxEvent::Response { tx, .. } if *tx == invite_tx));
}

#[test]
fn unknown_branch_is_a_stray_response() {
    let mut h = Harness::new();
    start(&mut h, &request("INVITE", "z9hG4bKmine"), udp());
    let other = request("INVITE", "z9hG4bKother");
    let resp = response(&other, 200);
    let outs = h.receive_response(&resp, udp());
    assert!(transmits(&outs).is_empty());
    assert!(
        matches!(&events(&outs)[..], [TxEvent::StrayResponse { response, peer }]
        if response.status == StatusCode::OK && *peer == udp())
    );
}

#[test]
fn response_without_via_is_stray_not_a_panic() {
    let mut h = Harness::new();
    let msg = parse(
        "SIP/2.0 200 OK\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\nCall-ID: x\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
    );
    h.layer.handle_message(h.now, msg, udp());
    assert!(matches!(
        &events(&h.drain())[..],
        [TxEvent::StrayResponse { .. }]
    ));
}

#[test]
fn client_request_is_kept_while_alive() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKkeep");
    let (id, _) = start(&mut h, &invite, udp());
    assert_eq!(
        h.layer.client_request(id).map(|r| &r.method),
        Some(&Method::Invite)
    );
    h.run_until(40_000);
    assert!(h.layer.client_request(id).is_none());
}

#[test]
fn ack_via_send_request_is_not_a_transaction() {
    let mut h = Harness::new();
    let (id, outs) = start(&mut h, &request("ACK", "z9hG4bKack"), udp());
    assert_eq!(transmits(&outs).len(), 1);
    assert_eq!(events(&outs), [TxEvent::Terminated { tx: id.into() }]);
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.poll_timeout(), None);
}

#[test]
fn send_stateless_only_transmits() {
    let mut h = Harness::new();
    let msg = SipMessage::Request(request("ACK", "z9hG4bKsl"));
    h.layer.send_stateless(&msg, udp());
    let outs = h.drain();
    assert!(
        matches!(&outs[..], [Output::Transmit { data, peer }] if *data == msg.to_bytes() && *peer == udp())
    );
    assert!(h.layer.is_empty());
}

#[test]
fn build_cancel_follows_section_9_1() {
    let mut invite = request("INVITE", "z9hG4bKc");
    invite.headers.push_front(crate::message::Header::new(
        HeaderName::Via,
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp",
    ));
    let cancel = build_cancel(&invite);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.headers.vias().count(), 1, "top Via only");
    assert_eq!(
        cancel
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
            .as_deref(),
        Some("z9hG4bKp")
    );
    assert_eq!(
        cancel.cseq().ok().map(|c| (c.seq, c.method)),
        Some((1, Method::Cancel))
    );
    assert_eq!(cancel.call_id().ok(), invite.call_id().ok());
    assert_eq!(
        cancel.headers.get(&HeaderName::From),
        invite.headers.get(&HeaderName::From)
    );
    assert_eq!(
        cancel.headers.get(&HeaderName::To),
        invite.headers.get(&HeaderName::To)
    );
    assert_eq!(
        cancel.headers.get(&HeaderName::Route),
        invite.headers.get(&HeaderName::Route)
    );
    assert!(cancel.headers.get(&HeaderName::MaxForwards).is_some());
    assert!(cancel.body.is_empty());
    // It prints and parses back.
    assert!(SipMessage::parse(SipMessage::Request(cancel).to_bytes()).is_ok());
}

#[test]
fn many_transactions_all_terminate() {
    let mut h = Harness::new();
    for i in 0..200 {
        let req = request(
            if i % 2 == 0 { "INVITE" } else { "OPTIONS" },
            &format!("z9hG4bKn{i}"),
        );
        start(&mut h, &req, udp());
        if i % 3 == 0 {
            h.receive_response(&response(&req, 404), udp());
        }
    }
    assert_eq!(h.layer.len(), 200);
    h.run_until(100_000);
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.heap_len(), 0, "no stale deadline is left behind");
}

#[test]
fn reused_branch_matches_the_newer_transaction_and_both_terminate() {
    let mut h = Harness::new();
    let first = request("OPTIONS", "z9hG4bKreuse");
    let (old, _) = start(&mut h, &first, udp());
    let (new, _) = start(&mut h, &first, udp());
    assert_ne!(old, new);
    let outs = h.receive_response(&response(&first, 200), udp());
    assert!(matches!(&events(&outs)[0], TxEvent::Response { tx, .. } if *tx == new));
    let log = h.run_until(40_000);
    assert!(log_events(&log).contains(&(32_000, TxEvent::Timeout { tx: old })));
    assert!(h.layer.is_empty());
}
