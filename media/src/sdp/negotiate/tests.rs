use super::*;
use crate::sdp::SessionDescription;

const OFFER: &str = "v=0\r\n\
o=alice 1 1 IN IP4 198.51.100.1\r\n\
s=-\r\n\
c=IN IP4 198.51.100.1\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 97 101\r\n\
a=rtpmap:97 OPUS/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=ptime:30\r\n\
m=video 51372 RTP/AVP 31\r\n";

fn offer_with(formats: &str, maps: &str, dir: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {formats}\r\n{maps}{dir}"
    );
    SessionDescription::parse(&text).unwrap()
}

#[test]
fn answer_picks_our_preference_with_offerer_pts() {
    let offer = SessionDescription::parse(OFFER).unwrap();
    let local = LocalMedia {
        codecs: vec![Codec::Opus, Codec::Pcmu],
        port: 30000,
        ..LocalMedia::default()
    };
    let (answer, n) = create_answer(&offer, &local).unwrap();
    assert_eq!(n.codec, Codec::Opus);
    assert_eq!(n.payload_type, PayloadType(97));
    assert_eq!(n.telephone_event, Some(PayloadType(101)));
    assert_eq!(n.ptime, 30);
    assert_eq!(n.remote_rtp, Some("198.51.100.1:49170".parse().unwrap()));
    assert_eq!(n.remote_rtcp, Some("198.51.100.1:49171".parse().unwrap()));
    assert_eq!(answer.media.len(), 2);
    assert_eq!(answer.media[0].formats, vec!["97", "0", "101"]);
    assert_eq!(answer.media[1].port, 0);
    // the offerer sees the same result
    let back = process_answer(
        &offer,
        &SessionDescription::parse(&answer.to_string()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (back.codec, back.payload_type, back.telephone_event),
        (Codec::Opus, PayloadType(97), Some(PayloadType(101)))
    );
    assert_eq!(back.remote_rtp, Some("127.0.0.1:30000".parse().unwrap()));
}

#[test]
fn codec_matrix() {
    let all = [Codec::Pcmu, Codec::Pcma, Codec::Opus];
    let fmt = |c: Codec| match c {
        Codec::Pcmu => ("0", ""),
        Codec::Pcma => ("8", ""),
        Codec::Opus => ("111", "a=rtpmap:111 opus/48000/2\r\n"),
    };
    for offered in all {
        for ours in all {
            let (f, m) = fmt(offered);
            let offer = offer_with(f, m, "");
            let local = LocalMedia {
                codecs: vec![ours],
                ..LocalMedia::default()
            };
            let r = create_answer(&offer, &local);
            if offered == ours {
                assert_eq!(r.unwrap().1.codec, ours);
            } else {
                assert_eq!(
                    r.unwrap_err(),
                    NegotiationError::NoCommonCodec { media_index: 0 }
                );
            }
        }
    }
}

#[test]
fn direction_and_hold() {
    let cases = [
        ("a=sendonly\r\n", Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::SendOnly),
        ("a=inactive\r\n", Direction::Inactive),
        ("a=sendrecv\r\n", Direction::SendRecv),
        ("", Direction::SendRecv),
    ];
    for (attr, want) in cases {
        let offer = offer_with("0", "", attr);
        let (answer, n) = create_answer(&offer, &LocalMedia::default()).unwrap();
        assert_eq!(n.direction, want, "{attr}");
        assert_eq!(answer.media_direction(0), want);
    }
    // we hold: local sendonly against a sendrecv offer
    let local = LocalMedia {
        direction: Direction::SendOnly,
        ..LocalMedia::default()
    };
    assert_eq!(
        create_answer(&offer_with("0", "", ""), &local)
            .unwrap()
            .1
            .direction,
        Direction::SendOnly
    );
    // RFC 2543 hold: c=0.0.0.0
    let old = SessionDescription::parse("v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n").unwrap();
    let (_, n) = create_answer(&old, &LocalMedia::default()).unwrap();
    assert_eq!(n.remote_rtp, None);
    assert_eq!(n.direction, Direction::RecvOnly);
}

#[test]
fn rejections() {
    let video = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 31\r\n").unwrap();
    assert_eq!(
        create_answer(&video, &LocalMedia::default()).unwrap_err(),
        NegotiationError::NoAudio
    );
    let g729 = offer_with("18", "a=rtpmap:18 G729/8000\r\n", "");
    let e = create_answer(&g729, &LocalMedia::default()).unwrap_err();
    assert_eq!(e.status(), 488);
    assert!(e.to_string().contains("no common codec"));
    let no_c = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(
        create_answer(&no_c, &LocalMedia::default()).unwrap_err(),
        NegotiationError::NoConnection(0)
    );
    // a dynamic pt without rtpmap is not guessed
    let bare = offer_with("96", "", "");
    assert!(create_answer(&bare, &LocalMedia::default()).is_err());
}

#[test]
fn offer_round_trip_and_rtcp_mux() {
    let local = LocalMedia {
        port: 20000,
        ..LocalMedia::default()
    };
    let offer = create_offer(&local);
    let text = offer.to_string();
    assert!(text.contains("m=audio 20000 RTP/AVP 0 8 111 101\r\n"));
    assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"));
    let parsed = SessionDescription::parse(&text).unwrap();
    assert_eq!(parsed, offer);
    let mux = offer_with("0", "a=rtcp-mux\r\n", "");
    let (answer, n) = create_answer(&mux, &LocalMedia::default()).unwrap();
    assert!(n.rtcp_mux);
    assert_eq!(n.remote_rtcp, n.remote_rtp);
    assert!(answer.media[0].rtcp_mux());
}

#[test]
fn telephone_event_rate_follows_codec() {
    let offer = offer_with(
        "111 0 110 101",
        "a=rtpmap:111 opus/48000/2\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:101 telephone-event/8000\r\n",
        "",
    );
    let opus_first = LocalMedia {
        codecs: vec![Codec::Opus, Codec::Pcmu],
        ..LocalMedia::default()
    };
    let (answer, n) = create_answer(&offer, &opus_first).unwrap();
    assert_eq!(n.telephone_event, Some(PayloadType(110)));
    assert!(answer
        .to_string()
        .contains("a=rtpmap:110 telephone-event/48000\r\n"));
    let pcmu_first = LocalMedia {
        codecs: vec![Codec::Pcmu],
        ..LocalMedia::default()
    };
    let (answer, n) = create_answer(&offer, &pcmu_first).unwrap();
    assert_eq!(n.telephone_event, Some(PayloadType(101)));
    assert!(answer
        .to_string()
        .contains("a=rtpmap:101 telephone-event/8000\r\n"));
}
