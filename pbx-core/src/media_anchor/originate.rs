//! Media of a call pbx places itself (click-to-call, callbacks): there is
//! no caller's offer to anchor. The relay session opens with neither side
//! known, pbx offers the first party (the agent, on the relay's caller
//! side) its own codecs, and that party's answer then stands in for a
//! caller's offer: the caller side is pointed at it and the offer for the
//! second party (the callee side) is made from it, with the codecs pbx
//! transcodes to, exactly as for a call that came in.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use media::relay::driver::Command;
use media::relay::{LegConfig, Side};

use super::transcode::augment_offer;
use super::{parse, AnchorError, Anchored, MediaAnchor};
use media::relay::driver::SessionId;

/// pbx's offer to the first party of a call it places: every codec it
/// transcodes between, and telephone-event for keys.
fn first_offer(address: std::net::IpAddr, port: u16) -> String {
    let ip = if address.is_ipv6() { "IP6" } else { "IP4" };
    let codecs = media::codec::transcodable();
    let mut pts = Vec::new();
    let mut maps = String::new();
    for codec in codecs {
        let (pt, map) = match codec {
            media::sdp::Codec::Pcmu => (0, "PCMU/8000"),
            media::sdp::Codec::Pcma => (8, "PCMA/8000"),
            media::sdp::Codec::Opus => (111, "opus/48000/2"),
            _ => continue,
        };
        pts.push(pt.to_string());
        maps.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
    }
    pts.push("101".into());
    format!(
        "v=0\r\no=pbx 1 1 IN {ip} {address}\r\ns=pbx\r\nc=IN {ip} {address}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {}\r\n{maps}a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        pts.join(" ")
    )
}

impl MediaAnchor {
    /// Opens a relay session for a call pbx places: returns pbx's offer to
    /// the first party (pointing at the relay's caller side) and the call's
    /// relay state, to be completed by [`MediaAnchor::caller_answered`].
    pub fn open_originating(&self) -> Result<(Bytes, Anchored), AnchorError> {
        let unknown = LegConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: false,
        };
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let ports = self
            .relay
            .open_sync(id, unknown, unknown, Duration::from_secs(2))
            .map_err(|_| AnchorError::NoPorts)?;
        let offer = first_offer(self.config.address, ports.0.rtp);
        let anchored = Anchored {
            id,
            caller_tag: String::new(),
            ports,
            caller: None,
            caller_codec: Arc::default(),
            webrtc: Arc::default(),
        };
        Ok((Bytes::from(offer), anchored))
    }

    /// The first party's answer to [`MediaAnchor::open_originating`]'s
    /// offer: the relay's caller side is pointed at it, and it becomes the
    /// "caller's offer" of the call — returned rewritten for the callee
    /// side, with the codecs pbx transcodes to added.
    pub fn caller_answered(
        &self,
        call: &mut Anchored,
        answer: &[u8],
    ) -> Result<Bytes, AnchorError> {
        let mut sdp = parse(answer)?;
        if let Some(leg) = LegConfig::from_sdp(&sdp) {
            self.relay.send(Command::Reanchor {
                id: call.id,
                side: Side::A,
                leg,
            });
        }
        let caller = augment_offer(&mut sdp);
        if let Some(c) = &caller {
            self.relay.send(Command::SetMedia {
                id: call.id,
                side: Side::A,
                media: c.leg_media(),
            });
        }
        call.caller = caller;
        sdp.rewrite_for_anchor(self.config.address, &[call.ports.1.rtp]);
        Ok(Bytes::from(sdp.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::first_offer;

    #[test]
    fn the_first_offer_is_valid_sdp_with_pbx_codecs_and_keys() {
        let text = first_offer("127.0.0.1".parse().unwrap(), 30000);
        let sdp = media::sdp::parse::parse(&text).unwrap();
        assert_eq!(sdp.media.len(), 1);
        assert!(text.contains("m=audio 30000 RTP/AVP 0 8"));
        assert!(text.contains("a=rtpmap:0 PCMU/8000"));
        assert!(text.contains("a=rtpmap:8 PCMA/8000"));
        assert!(text.contains("a=rtpmap:101 telephone-event/8000"));
        assert!(text.contains("c=IN IP4 127.0.0.1"));
        let v6 = first_offer("::1".parse().unwrap(), 30002);
        assert!(v6.contains("c=IN IP6 ::1"));
        assert!(media::sdp::parse::parse(&v6).is_ok());
    }
}
