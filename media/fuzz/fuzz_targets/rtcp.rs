//! RTCP compound parsing and the relay's RTCP rewrite path on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::relay::{Channel, LegConfig, RelayConfig, RelaySession, Side};
use media::rtcp::RtcpCompound;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = RtcpCompound::parse(data) {
        for p in c.iter() {
            let _ = (p.sender_info(), p.report_blocks().count(), p.sender_ssrc());
        }
    }
    let addr = "127.0.0.1:4001".parse().unwrap();
    let leg = LegConfig { remote_rtp: Some(addr), remote_rtcp: Some(addr), rtcp_mux: false };
    let mut s = RelaySession::new(RelayConfig::default(), Instant::now(), leg, leg);
    let mut buf = data.to_vec();
    let _ = s.handle_packet(Instant::now(), Side::B, Channel::Rtcp, addr, &mut buf);
});
