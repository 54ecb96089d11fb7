//! Conference media pipeline in virtual time, no sockets: RTP G.711 from
//! three phones through a seeded lossy, reordering network into per-leg
//! jitter buffers, decoders with PLC, the mixer, encoders and RTP out; each
//! phone must hear the other two tones and not its own.

use std::time::{Duration, Instant};

use media::codec::{AudioDecoder, AudioEncoder};
use media::dtmf::goertzel::goertzel_power;
use media::jitter::{JitterBuffer, JitterConfig, Playout};
use media::mixer::{Mixer, ParticipantId, Role, RoomId, RoomLimits};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use media::sdp::Codec;

const TONES: [f64; 3] = [500.0, 900.0, 1400.0];

struct Phone {
    id: ParticipantId,
    codec: Codec,
    jitter: JitterBuffer,
    decoder: AudioDecoder,
    encoder: AudioEncoder,
    heard: Vec<i16>,
    out_seq: u16,
}

#[test]
fn three_phones_through_lossy_network_hear_mix_minus() {
    let t0 = Instant::now();
    let mut mixer = Mixer::new(160);
    let room = RoomId(1);
    mixer
        .create_room(room, "pipeline", RoomLimits::default())
        .unwrap();
    let codecs = [Codec::Pcmu, Codec::Pcma, Codec::Pcmu];
    let mut phones: Vec<Phone> = (0..3)
        .map(|i| Phone {
            id: ParticipantId(i as u32 + 1),
            codec: codecs[i],
            jitter: JitterBuffer::new(JitterConfig {
                min_delay: 2,
                ..JitterConfig::default()
            }),
            decoder: AudioDecoder::new(codecs[i], 8000).unwrap(),
            encoder: AudioEncoder::new(codecs[i], 8000).unwrap(),
            heard: Vec::new(),
            out_seq: 0,
        })
        .collect();
    {
        let r = mixer.room_mut(room).unwrap();
        r.join(phones[0].id, Role::Moderator, "p1", "p1").unwrap();
        r.join(phones[1].id, Role::Speaker, "p2", "p2").unwrap();
        r.join(phones[2].id, Role::Speaker, "p3", "p3").unwrap();
    }
    // network: (deliver_at, phone index, packet bytes); seeded loss 3 %, jitter 0-30 ms
    let mut net: Vec<(Instant, usize, Vec<u8>)> = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut pcm = [0i16; 160];
    let mut payload = [0u8; 160];
    let mut pkt = [0u8; 200];
    for tick in 0..250u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(tick));
        // phones send their tone
        for (i, p) in phones.iter_mut().enumerate() {
            for (k, s) in pcm.iter_mut().enumerate() {
                let t = f64::from(tick * 160 + k as u32) / 8000.0;
                *s = (6000.0 * (2.0 * std::f64::consts::PI * TONES[i] * t).sin()) as i16;
            }
            let mut enc = AudioEncoder::new(p.codec, 8000).unwrap();
            let n = enc.encode(&pcm, &mut payload).unwrap();
            let pt = if p.codec == Codec::Pcmu {
                PayloadType::PCMU
            } else {
                PayloadType::PCMA
            };
            let h = RtpHeader {
                marker: false,
                payload_type: pt,
                sequence: tick as u16,
                timestamp: tick * 160,
                ssrc: Ssrc(i as u32),
            };
            let len = h.write(&payload[..n], &mut pkt).unwrap();
            if rnd() % 100 >= 3 {
                let delay = Duration::from_millis(rnd() % 30);
                net.push((now + delay, i, pkt[..len].to_vec()));
            }
        }
        // deliver what arrived by now into the jitter buffers
        let (due, later): (Vec<_>, Vec<_>) = net.into_iter().partition(|(t, _, _)| *t <= now);
        net = later;
        for (at, i, bytes) in due {
            let p = RtpPacket::parse(&bytes).unwrap();
            phones[i]
                .jitter
                .push(at, p.sequence(), p.timestamp(), p.payload());
        }
        // playout: decode (or conceal) into the mixer
        for p in phones.iter_mut() {
            let n = match p.jitter.pop() {
                Playout::Frame { payload, .. } => {
                    p.decoder.decode(Some(payload), &mut pcm).unwrap()
                }
                Playout::Conceal { .. } => p.decoder.decode(None, &mut pcm).unwrap(),
                Playout::Buffering => {
                    pcm.fill(0);
                    160
                }
            };
            mixer.push_audio(room, p.id, &pcm[..n]).unwrap();
        }
        mixer.tick();
        // encode each personal mix and "send" it back; the phone decodes it
        let r = mixer.room(room).unwrap();
        for p in phones.iter_mut() {
            let out = r.participant(p.id).unwrap().output();
            let n = p.encoder.encode(out, &mut payload).unwrap();
            let h = RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence: p.out_seq,
                timestamp: 0,
                ssrc: Ssrc(9),
            };
            p.out_seq = p.out_seq.wrapping_add(1);
            let len = h.write(&payload[..n], &mut pkt).unwrap();
            let back = RtpPacket::parse(&pkt[..len]).unwrap();
            let mut dec = AudioDecoder::new(p.codec, 8000).unwrap();
            let m = dec.decode(Some(back.payload()), &mut pcm).unwrap();
            p.heard.extend_from_slice(&pcm[..m]);
        }
    }
    for (i, p) in phones.iter().enumerate() {
        let tail = &p.heard[p.heard.len() - 8000..];
        let power: Vec<f32> = TONES
            .iter()
            .map(|f| goertzel_power(tail, *f as f32, 8000.0))
            .collect();
        for (j, pw) in power.iter().enumerate() {
            if i != j {
                assert!(
                    *pw > 100.0 * power[i].max(1.0),
                    "phone {i} vs tone {j}: {power:?}"
                );
            }
        }
        let s = p.jitter.stats();
        assert!(
            s.lost + s.late > 0,
            "the network must have lost or delayed something"
        );
    }
}
