//! Calls through a real media relay (threads and sockets on 127.0.0.1,
//! signalling still in memory): a callee answering in a codec the caller
//! did not offer is bridged by transcoding, and RFC 4733 key presses
//! passing the relay become leg events and bus events.

use std::net::UdpSocket;

use ::media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use ::media::sdp::negotiate::audio_formats;
use ::media::sdp::{Codec, SessionDescription};

use super::*;
use crate::media_anchor::{AnchorConfig, AnchorMode};

/// A port range whose first ports are free now (other test runs and
/// servers on this machine use relay ports too).
fn free_range(from: u16) -> u16 {
    (from..60000)
        .step_by(200)
        .find(|base| (0..16).all(|i| UdpSocket::bind(("127.0.0.1", base + i)).is_ok()))
        .expect("a free port range")
}

fn with_relay(from: u16) -> World {
    let port_min = free_range(from);
    let mut w = World::new();
    w.anchor = Some(
        MediaAnchor::start(AnchorConfig {
            mode: AnchorMode::Always,
            address: [127, 0, 0, 1].into(),
            port_min,
            port_max: port_min + 99,
            threads: 1,
            inactivity_timeout: Duration::from_secs(30),
        })
        .unwrap(),
    );
    w
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn sdp(sock: &UdpSocket, formats: &str, maps: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP {formats}\r\n{maps}a=sendrecv\r\n",
        sock.local_addr().unwrap().port()
    )
}

const TE: &str = "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

fn audio_port(body: &[u8]) -> u16 {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).unwrap()).unwrap();
    sdp.media[0].port
}

fn send(sock: &UdpSocket, to: u16, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
    let mut b = [0u8; 256];
    let n = RtpHeader {
        marker: false,
        payload_type: PayloadType(pt),
        sequence: seq,
        timestamp: ts,
        ssrc: Ssrc(0x77),
    }
    .write(payload, &mut b)
    .unwrap();
    sock.send_to(&b[..n], ("127.0.0.1", to)).unwrap();
}

/// Sends the packets of one key press (start, two updates, three ends).
fn press(sock: &UdpSocket, to: u16, pt: u8, key: u8, seq: u16) {
    for (i, (end, dur)) in [
        (0, 160u16),
        (0, 320),
        (0, 480),
        (0x80, 480),
        (0x80, 480),
        (0x80, 480),
    ]
    .iter()
    .enumerate()
    {
        let d = dur.to_be_bytes();
        send(
            sock,
            to,
            pt,
            seq + i as u16,
            8000,
            &[key, end | 10, d[0], d[1]],
        );
    }
}

/// Key presses the relay reported, fed to the engine (what the server's
/// timer loop does), waiting up to 2 s for the first.
fn feed_relay_dtmf(w: &mut World) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let pressed = w.anchor.as_ref().unwrap().poll_dtmf();
        if !pressed.is_empty() {
            let n = pressed.len();
            for d in pressed {
                let mut out = Vec::new();
                let svc = Services {
                    router: &w.router,
                    anchor: w
                        .anchor
                        .as_ref()
                        .map(|a| a as &dyn crate::media_anchor::MediaRelay),
                    endpoints: None,
                };
                w.engine.handle_relay_dtmf(w.now, d, svc, &mut out);
                assert!(out.is_empty(), "the bridge sends nothing for a key");
            }
            return n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no key press from the relay"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn callee_codec_the_caller_lacks_is_transcoded() {
    let mut w = with_relay(47000);
    let (alice_rtp, bob_rtp) = (phone(), phone());
    let uri = Uri::parse("sip:bob@pbx.test").unwrap();
    let offer = sdp(&alice_rtp, "0 101", TE);
    let call = w.alice.call(w.now, uri, Some(Body::sdp(offer))).unwrap();
    w.run();
    // Bob is offered Alice's codecs first, then what pbx transcodes to
    let bob = w.bob_incoming();
    let Some(UaEvent::IncomingCall { body: Some(b), .. }) = w.bob_events.first() else {
        panic!("no offer for bob");
    };
    let offered = SessionDescription::parse(std::str::from_utf8(&b.data).unwrap()).unwrap();
    assert_eq!(offered.media[0].formats[..2], ["0", "101"]);
    assert!(audio_formats(&offered.media[0]).contains(&(Codec::Pcma, PayloadType(8))));
    let to_b_side = offered.media[0].port;
    // Bob speaks A-law only
    let answer = sdp(&bob_rtp, "8", "a=rtpmap:8 PCMA/8000\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(answer))).unwrap();
    w.run();
    let answered = w
        .alice_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Answered { body: Some(b), .. } => Some(b.data.clone()),
            _ => None,
        })
        .expect("alice answered");
    let text = String::from_utf8_lossy(&answered).into_owned();
    assert!(
        text.contains("RTP/AVP 0 101") && !text.contains("PCMA"),
        "{text}"
    );
    let to_a_side = audio_port(&answered);
    // µ-law from Alice reaches Bob as A-law, and back
    let mut buf = [0u8; 512];
    for seq in 0..5u16 {
        send(
            &alice_rtp,
            to_a_side,
            0,
            seq,
            u32::from(seq) * 160,
            &[0xff; 160],
        );
        let (n, _) = bob_rtp.recv_from(&mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(
            (p.payload_type(), p.payload().len()),
            (PayloadType::PCMA, 160)
        );
        send(
            &bob_rtp,
            to_b_side,
            8,
            seq,
            u32::from(seq) * 160,
            &[0xd5; 160],
        );
        let (n, _) = alice_rtp.recv_from(&mut buf).unwrap();
        assert_eq!(
            RtpPacket::parse(&buf[..n]).unwrap().payload_type(),
            PayloadType::PCMU
        );
    }
    // Alice presses 5: one report (Bob negotiated no telephone-event, so
    // the packets stop at the relay)
    w.event_kinds();
    press(&alice_rtp, to_a_side, 101, 5, 10);
    assert_eq!(feed_relay_dtmf(&mut w), 1);
    let kinds = w.event_kinds();
    assert_eq!(
        kinds,
        vec![CallEventKind::Dtmf {
            leg: LegId::CALLER,
            digit: '5'
        }]
    );
    // Alice holds: her re-offer (µ-law only) reaches Bob with A-law too,
    // and Bob's A-law answer reaches her as µ-law
    let hold = sdp(&alice_rtp, "0 101", TE).replace("a=sendrecv", "a=sendonly");
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(hold)))
        .unwrap();
    w.run();
    let reoffer = w
        .bob_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Reoffer { body: Some(b), .. } => Some(b.data.clone()),
            _ => None,
        })
        .expect("bob re-offered");
    let reoffer = SessionDescription::parse(std::str::from_utf8(&reoffer).unwrap()).unwrap();
    assert!(audio_formats(&reoffer.media[0]).contains(&(Codec::Pcma, PayloadType(8))));
    let held = sdp(&bob_rtp, "8", "a=rtpmap:8 PCMA/8000\r\n").replace("a=sendrecv", "a=recvonly");
    w.bob.answer(w.now, bob, Some(Body::sdp(held))).unwrap();
    w.run();
    let updated = w
        .alice_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Updated { body: Some(b), .. } => Some(b.data.clone()),
            _ => None,
        })
        .expect("alice's hold answered");
    let text = String::from_utf8_lossy(&updated).into_owned();
    assert!(
        text.contains("RTP/AVP 0 101") && text.contains("a=recvonly"),
        "{text}"
    );
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    let r = w.sink.records.lock()[0].clone();
    let codecs: Vec<_> = r.legs.iter().map(|l| l.codec.clone()).collect();
    assert_eq!(
        codecs,
        vec![Some("PCMU/8000".to_owned()), Some("PCMA/8000".to_owned())],
        "each leg's own codec"
    );
}

#[test]
fn shared_codec_is_forwarded_and_callee_keys_reported() {
    let mut w = with_relay(53000);
    let (alice_rtp, bob_rtp) = (phone(), phone());
    let uri = Uri::parse("sip:bob@pbx.test").unwrap();
    let offer = sdp(&alice_rtp, "8 0 101", TE);
    w.alice.call(w.now, uri, Some(Body::sdp(offer))).unwrap();
    w.run();
    let bob = w.bob_incoming();
    let Some(UaEvent::IncomingCall { body: Some(b), .. }) = w.bob_events.first() else {
        panic!("no offer for bob");
    };
    let to_b_side = audio_port(&b.data);
    // Bob picks PCMU, which Alice offered too: nothing to transcode
    let answer = sdp(&bob_rtp, "0 96", "a=rtpmap:96 telephone-event/8000\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(answer))).unwrap();
    w.run();
    let mut buf = [0u8; 512];
    send(&bob_rtp, to_b_side, 0, 1, 160, &[0x42; 160]);
    let (n, _) = alice_rtp.recv_from(&mut buf).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(
        (p.payload_type(), p.payload()),
        (PayloadType::PCMU, &[0x42; 160][..])
    );
    // Bob presses # in his own numbering (96): reported for his leg, and
    // the packets reach Alice as they are
    w.event_kinds();
    press(&bob_rtp, to_b_side, 96, 11, 2);
    let (n, _) = alice_rtp.recv_from(&mut buf).unwrap();
    assert_eq!(
        RtpPacket::parse(&buf[..n]).unwrap().payload_type(),
        PayloadType(96)
    );
    assert_eq!(feed_relay_dtmf(&mut w), 1);
    let kinds = w.event_kinds();
    assert!(
        matches!(kinds[..], [CallEventKind::Dtmf { leg, digit: '#' }] if leg != LegId::CALLER),
        "{kinds:?}"
    );
    assert_eq!(w.engine.live_calls(w.now).len(), 1, "the call goes on");
}

#[test]
fn transfer_target_in_another_codec_is_transcoded_to_the_callers() {
    let mut w = with_relay(55000);
    let (alice_rtp, bob_rtp, carol_rtp) = (phone(), phone(), phone());
    let uri = Uri::parse("sip:bob@pbx.test").unwrap();
    // Alice offers both G.711 laws; Bob answers µ-law
    let offer = sdp(&alice_rtp, "0 8 101", TE);
    let call = w.alice.call(w.now, uri, Some(Body::sdp(offer))).unwrap();
    w.run();
    let bob = w.bob_incoming();
    w.bob
        .answer(w.now, bob, Some(Body::sdp(sdp(&bob_rtp, "0", ""))))
        .unwrap();
    w.run();
    let to_a_side = w
        .alice_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Answered { body: Some(b), .. } => Some(audio_port(&b.data)),
            _ => None,
        })
        .expect("alice answered");
    // Bob transfers Alice to Carol, who answers A-law (Alice offered it,
    // but she is not asked again: she keeps µ-law and the relay transcodes)
    w.bob
        .refer(w.now, bob, &Uri::parse("sip:carol@pbx.test").unwrap())
        .unwrap();
    w.run();
    let carol = incoming_of(&w.carol_events).expect("carol is called");
    let carol_answer = sdp(&carol_rtp, "8", "a=rtpmap:8 PCMA/8000\r\n");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(carol_answer)))
        .unwrap();
    w.run();
    assert_eq!(ended(&w.alice_events), None, "alice stays in the call");
    let mut buf = [0u8; 512];
    // the first packets may still go to Bob while the relay re-anchors
    let got = (0..20u16).find(|seq| {
        send(
            &alice_rtp,
            to_a_side,
            0,
            *seq,
            u32::from(*seq) * 160,
            &[0xff; 160],
        );
        carol_rtp
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match carol_rtp.recv_from(&mut buf) {
            Ok((n, _)) => RtpPacket::parse(&buf[..n]).unwrap().payload_type() == PayloadType::PCMA,
            Err(_) => false,
        }
    });
    assert!(got.is_some(), "carol hears alice in A-law");
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    let r = w.sink.records.lock()[0].clone();
    let codecs: Vec<_> = r.legs.iter().map(|l| l.codec.clone()).collect();
    assert_eq!(
        codecs,
        vec![
            Some("PCMU/8000".to_owned()),
            Some("PCMU/8000".to_owned()),
            Some("PCMA/8000".to_owned())
        ]
    );
}
