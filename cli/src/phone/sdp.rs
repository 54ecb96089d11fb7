//! SDP offer/answer for the phone (RFC 3264) on top of the media crate:
//! one audio stream, PCMU/PCMA, telephone-event, and the hold direction.

use std::net::IpAddr;

use anyhow::Context;
use media::sdp::negotiate::{
    create_answer, create_offer, process_answer, Codec, LocalMedia, Negotiated,
};
use media::sdp::{Direction, SessionDescription};
use sip_stack::ua::Body;

/// Our side of the negotiation for one call.
pub(crate) struct Negotiation {
    local: LocalMedia,
    last_offer: Option<SessionDescription>,
}

impl Negotiation {
    /// Media received on `address:port`, with `codecs` in preference order.
    pub(crate) fn new(address: IpAddr, port: u16, codecs: Vec<Codec>, session_id: u64) -> Self {
        Self {
            local: LocalMedia {
                address,
                port,
                codecs,
                telephone_event: true,
                ptime: 20,
                direction: Direction::SendRecv,
                session_id,
                session_version: 1,
            },
            last_offer: None,
        }
    }

    /// A new offer with `direction` (sendonly to hold, sendrecv to resume).
    pub(crate) fn offer(&mut self, direction: Direction) -> Body {
        self.local.direction = direction;
        self.local.session_version += 1;
        let sdp = create_offer(&self.local);
        let body = Body::sdp(sdp.to_string());
        self.last_offer = Some(sdp);
        body
    }

    /// Processes the answer to our last offer.
    pub(crate) fn process_answer(&mut self, body: &Body) -> anyhow::Result<Negotiated> {
        let offer = self.last_offer.as_ref().context("no offer was sent")?;
        let answer = parse(body)?;
        Ok(process_answer(offer, &answer)?)
    }

    /// Answers the peer's offer.
    pub(crate) fn answer(&mut self, body: &Body) -> anyhow::Result<(Body, Negotiated)> {
        let offer = parse(body)?;
        self.local.direction = Direction::SendRecv;
        self.local.session_version += 1;
        let (sdp, negotiated) = create_answer(&offer, &self.local)?;
        Ok((Body::sdp(sdp.to_string()), negotiated))
    }
}

fn parse(body: &Body) -> anyhow::Result<SessionDescription> {
    let text = std::str::from_utf8(&body.data).context("SDP is not UTF-8")?;
    SessionDescription::parse(text).context("parsing SDP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_answer_between_two_phones() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut a = Negotiation::new(ip, 4000, vec![Codec::Pcmu, Codec::Pcma], 1);
        let mut b = Negotiation::new(ip, 5000, vec![Codec::Pcma, Codec::Pcmu], 2);
        let offer = a.offer(Direction::SendRecv);
        let (answer, nb) = b.answer(&offer).expect("answer");
        let na = a.process_answer(&answer).expect("process");
        assert_eq!(nb.remote_rtp.map(|s| s.port()), Some(4000));
        assert_eq!(na.remote_rtp.map(|s| s.port()), Some(5000));
        assert_eq!(na.codec, nb.codec);
        assert!(na.telephone_event.is_some());
        // Hold: we send only, the peer answers recvonly.
        let hold = a.offer(Direction::SendOnly);
        let (answer, nb) = b.answer(&hold).expect("answer");
        assert_eq!(nb.direction, Direction::RecvOnly);
        assert_eq!(
            a.process_answer(&answer).expect("process").direction,
            Direction::SendOnly
        );
    }
}
