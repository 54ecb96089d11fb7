//! RTP parse, demux and the relay's in-place rewrite path on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::relay::{Channel, LegConfig, RelayConfig, RelaySession, Side};
use media::rtp::RtpPacket;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RtpPacket::parse(data) {
        let _ = (p.payload(), p.extension(), p.csrcs().count(), p.marker());
    }
    let _ = media::demux::classify(data);
    let addr = "127.0.0.1:4000".parse().unwrap();
    let leg = LegConfig { remote_rtp: Some(addr), remote_rtcp: Some(addr), rtcp_mux: true };
    let mut s = RelaySession::new(RelayConfig::default(), Instant::now(), leg, leg);
    let mut buf = data.to_vec();
    let _ = s.handle_packet(Instant::now(), Side::A, Channel::Rtp, addr, &mut buf);
    let _ = media::dtmf::rfc4733::DtmfReceiver::new().handle_packet(0, data);
});
