//! WebRTC sides of anchored calls (issue 17, `media/WEBRTC.md`): a browser's
//! leg ends in pbx as a [`media::webrtc::WebRtcLeg`] (ICE-lite, DTLS-SRTP,
//! rtcp-mux, one port) on its own socket, and continues as plain RTP
//! between that socket and the call's relay port. The relay, transcoding,
//! recording taps, DTMF, and pbx's own media (IVR, queues, rooms) see an
//! ordinary RTP party; only [`super::MediaAnchor`] knows a side is WebRTC.
//!
//! - Caller side (the browser offers): [`WebRtcSides::open_caller`] binds
//!   the socket and gives the plain offer for the relay; the answer pbx
//!   gives the caller (whoever answered: a phone, a trunk, an endpoint)
//!   picks the codec, and [`WebRtcSides::answer_caller`] turns it into the
//!   WebRTC answer and starts the leg.
//! - Callee side (a browser registered over WS/WSS is called):
//!   [`WebRtcSides::offer_callee`] makes pbx's WebRTC offer from the plain
//!   one; [`WebRtcSides::callee_answered`] applies the browser's answer,
//!   starts the leg and gives the plain answer for the relay.
//!
//! A leg that fails (wrong fingerprint, ICE or DTLS timeout, consent lost)
//! reports a [`WebRtcEnded`] with its `webrtc.*` code; the engine ends the
//! call with it as the cause.

mod sdp;
mod thread;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Instant;

use crossbeam_channel::Sender;
use media::relay::Side;
use media::sdp::webrtc::is_webrtc;
use media::sdp::SessionDescription;
use media::webrtc::{WebRtcConfig, WebRtcLeg};

use super::AnchorError;
use thread::{Running, SideId};

/// A WebRTC leg of an anchored call ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcEnded {
    /// The relay's id of the call's session ([`super::Anchored::relay_id`]).
    pub relay_id: u64,
    /// Which side was WebRTC.
    pub side: Side,
    /// The stable cause (`webrtc.fingerprint_mismatch`, `webrtc.ice_timeout`,
    /// `webrtc.dtls_timeout`, ...).
    pub code: &'static str,
}

/// Whether an SDP body is a WebRTC description (any `UDP/TLS/RTP/SAVPF` line).
pub fn is_webrtc_body(body: &[u8]) -> bool {
    media::sdp::parse::parse_bytes(body).is_ok_and(|s| is_webrtc(&s))
}

/// What the sockets of WebRTC sides bind to, and where their ends go.
pub(super) struct WebRtcHost {
    address: IpAddr,
    /// Wakes a side's thread to stop it (a datagram to its socket).
    waker: UdpSocket,
    ended: Sender<WebRtcEnded>,
}

/// One side's state.
#[derive(Debug)]
enum State {
    /// The browser offered; the leg is made when pbx answers it.
    CallerOffered { socket: UdpSocket, offer: String },
    /// pbx offered to the browser; its answer completes the leg.
    CalleeOffered {
        socket: UdpSocket,
        leg: Box<WebRtcLeg>,
        relay_port: SocketAddr,
        offer: String,
    },
    /// The leg runs. `sdp` is what the browser got (the answer or pbx's
    /// offer), `plain` what the relay got.
    Running {
        running: Running,
        sdp: String,
        plain: String,
    },
}

/// The WebRTC sides of one call (A: the caller, B: the callee).
#[derive(Debug, Default)]
pub struct WebRtcSides {
    a: Option<State>,
    b: Option<State>,
}

fn bad(e: impl std::fmt::Display) -> AnchorError {
    AnchorError::BadSdp(e.to_string())
}

fn parse(body: &[u8]) -> Result<SessionDescription, AnchorError> {
    media::sdp::parse::parse_bytes(body).map_err(bad)
}

impl WebRtcHost {
    pub(super) fn new(address: IpAddr, ended: Sender<WebRtcEnded>) -> std::io::Result<Self> {
        Ok(Self {
            address,
            waker: UdpSocket::bind((address, 0))?,
            ended,
        })
    }

    fn socket(&self) -> Result<UdpSocket, AnchorError> {
        UdpSocket::bind((self.address, 0)).map_err(|e| {
            tracing::warn!(error = %e, "no socket for a WebRTC leg");
            AnchorError::NoPorts
        })
    }

    fn config(&self, socket: &UdpSocket) -> Result<WebRtcConfig, AnchorError> {
        let local = socket.local_addr().map_err(|_| AnchorError::NoPorts)?;
        Ok(WebRtcConfig::new(local))
    }

    fn start(
        &self,
        id: SideId,
        socket: UdpSocket,
        leg: WebRtcLeg,
        relay_port: SocketAddr,
    ) -> Result<Running, AnchorError> {
        thread::spawn(id, socket, leg, relay_port, self.ended.clone()).map_err(|e| {
            tracing::warn!(error = %e, "WebRTC leg thread not started");
            AnchorError::NoPorts
        })
    }

    /// Stops the callee's side: a plain party took the browser's place (a
    /// blind transfer by the browser). Quietly: the browser's leg is being
    /// hung up, its DTLS close is no failure of the call.
    pub(super) fn close_callee(&self, sides: &mut WebRtcSides) {
        if let Some(State::Running { running, .. }) = sides.b.take() {
            running.stop(&self.waker);
        }
    }

    /// Stops what runs of a call's sides.
    pub(super) fn close(&self, sides: &mut WebRtcSides) {
        for state in [sides.a.take(), sides.b.take()].into_iter().flatten() {
            if let State::Running { running, .. } = state {
                running.stop(&self.waker);
            }
        }
    }
}

impl WebRtcSides {
    /// Whether the caller's side is WebRTC.
    pub fn caller_is_webrtc(&self) -> bool {
        self.a.is_some()
    }

    /// Whether the callee's side is WebRTC.
    pub fn callee_is_webrtc(&self) -> bool {
        self.b.is_some()
    }

    /// The browser's offer of a new call: binds the caller side's socket;
    /// returns the plain offer that stands for it.
    pub(super) fn open_caller(
        &mut self,
        host: &WebRtcHost,
        offer: &[u8],
    ) -> Result<String, AnchorError> {
        let text = std::str::from_utf8(offer).map_err(bad)?;
        let socket = host.socket()?;
        let local = socket.local_addr().map_err(|_| AnchorError::NoPorts)?;
        let plain = sdp::plain_of(&parse(offer)?, local).map_err(AnchorError::BadSdp)?;
        self.a = Some(State::CallerOffered {
            socket,
            offer: text.to_owned(),
        });
        Ok(plain)
    }

    /// The answer pbx gives the caller (plain, pointing at relay port
    /// `relay_port`): the WebRTC answer for the browser. The first one
    /// makes the leg (its codec is the answer's); later ones (183 then
    /// 200, re-answers) get the same answer with the direction of `plain`.
    pub(super) fn answer_caller(
        &mut self,
        host: &WebRtcHost,
        relay_id: u64,
        plain: &[u8],
        relay_port: SocketAddr,
    ) -> Result<String, AnchorError> {
        let parsed = parse(plain)?;
        match self.a.take() {
            Some(State::CallerOffered { socket, offer }) => {
                let mut config = host.config(&socket)?;
                config.codecs = sdp::codecs_answering(&parsed);
                let (leg, answer) = WebRtcLeg::accept_offer(config, Instant::now(), &offer)
                    .map_err(|e| {
                        tracing::info!(relay = relay_id, error = %e, "WebRTC offer not answered");
                        bad(e)
                    })?;
                let id = SideId {
                    relay_id,
                    side: Side::A,
                };
                let running = host.start(id, socket, leg, relay_port)?;
                self.a = Some(State::Running {
                    running,
                    sdp: answer.clone(),
                    plain: String::from_utf8_lossy(plain).into_owned(),
                });
                Ok(answer)
            }
            Some(State::Running { running, sdp, .. }) => {
                let answer = with_direction_of(&sdp, &parsed);
                self.a = Some(State::Running {
                    running,
                    sdp,
                    plain: String::from_utf8_lossy(plain).into_owned(),
                });
                Ok(answer)
            }
            other => {
                self.a = other;
                Err(AnchorError::BadSdp("caller side is not WebRTC".into()))
            }
        }
    }

    /// A later offer of the browser on the caller side (hold, resume): the
    /// plain offer that stands for it (same socket, the new direction).
    pub(super) fn reoffer_plain(
        &self,
        side: Side,
        offer: &[u8],
    ) -> Option<Result<String, AnchorError>> {
        let state = match side {
            Side::A => self.a.as_ref()?,
            Side::B => self.b.as_ref()?,
        };
        let State::Running { plain, .. } = state else {
            return None;
        };
        let parsed = match parse(offer) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let plain = parse(plain.as_bytes()).map(|p| with_direction_of(&p.to_string(), &parsed));
        Some(plain)
    }

    /// A plain offer toward a running WebRTC side (the other party holds
    /// or resumes): what the browser gets is pbx's earlier description
    /// with the new direction, a new version, and `a=setup:actpass`
    /// (RFC 5763 §5: an offer is actpass); the DTLS association stays.
    ///
    /// As an answer (`offer` false: the browser callee re-offered) it says
    /// `a=setup:passive`: pbx stays the DTLS server the browser chose when it
    /// answered pbx's first offer `active` (browsers do).
    pub(super) fn reoffer_webrtc(
        &self,
        side: Side,
        plain: &[u8],
        offer: bool,
    ) -> Option<Result<String, AnchorError>> {
        let state = match side {
            Side::A => self.a.as_ref()?,
            Side::B => self.b.as_ref()?,
        };
        let State::Running { sdp, .. } = state else {
            return None;
        };
        let parsed = match parse(plain) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let Ok(mut ours) = SessionDescription::parse(&with_direction_of(sdp, &parsed)) else {
            return Some(Err(AnchorError::BadSdp("pbx's WebRTC description".into())));
        };
        ours.origin.session_version = ours.origin.session_version.wrapping_add(1);
        for m in &mut ours.media {
            for a in &mut m.attributes {
                if a.name == "setup" {
                    a.value = Some(if offer { "actpass" } else { "passive" }.into());
                }
            }
        }
        Some(Ok(ours.to_string()))
    }

    /// pbx's offer to a browser callee for plain offer `plain` (pointing at
    /// relay port `relay_port`): binds the callee side and returns the
    /// WebRTC offer.
    pub(super) fn offer_callee(
        &mut self,
        host: &WebRtcHost,
        plain: &[u8],
        relay_port: SocketAddr,
    ) -> Result<String, AnchorError> {
        let parsed = parse(plain)?;
        let socket = host.socket()?;
        let mut config = host.config(&socket)?;
        config.codecs = sdp::codecs_offering(&parsed);
        let (leg, offer) = WebRtcLeg::create_offer(config, Instant::now()).map_err(bad)?;
        if let Some(State::Running { running, .. }) = self.b.take() {
            running.stop(&host.waker);
        }
        self.b = Some(State::CalleeOffered {
            socket,
            leg: Box::new(leg),
            relay_port,
            offer: offer.clone(),
        });
        Ok(offer)
    }

    /// The browser callee's answer: starts its leg; returns the plain
    /// answer for the relay. A later WebRTC body of the callee (a
    /// re-answer) gets the plain answer given before with its direction.
    pub(super) fn callee_answered(
        &mut self,
        host: &WebRtcHost,
        relay_id: u64,
        answer: &[u8],
    ) -> Result<String, AnchorError> {
        let parsed = parse(answer)?;
        match self.b.take() {
            Some(State::CalleeOffered {
                socket,
                mut leg,
                relay_port,
                offer,
            }) => {
                let text = std::str::from_utf8(answer).map_err(bad)?;
                leg.accept_answer(Instant::now(), text).map_err(|e| {
                    tracing::info!(relay = relay_id, error = %e, "WebRTC answer refused");
                    bad(e)
                })?;
                let local = socket.local_addr().map_err(|_| AnchorError::NoPorts)?;
                let plain = sdp::plain_of(&parsed, local).map_err(AnchorError::BadSdp)?;
                let id = SideId {
                    relay_id,
                    side: Side::B,
                };
                let running = host.start(id, socket, *leg, relay_port)?;
                self.b = Some(State::Running {
                    running,
                    sdp: offer,
                    plain: plain.clone(),
                });
                Ok(plain)
            }
            Some(State::Running {
                running,
                sdp,
                plain,
            }) => {
                let out =
                    parse(plain.as_bytes()).map(|p| with_direction_of(&p.to_string(), &parsed));
                self.b = Some(State::Running {
                    running,
                    sdp,
                    plain,
                });
                out
            }
            other => {
                self.b = other;
                Err(AnchorError::BadSdp("callee side is not WebRTC".into()))
            }
        }
    }
}

/// `sdp` with the direction of the first audio line of `of`.
fn with_direction_of(sdp: &str, of: &SessionDescription) -> String {
    let direction = of
        .media
        .iter()
        .position(|m| m.media == "audio")
        .map(|i| of.media_direction(i))
        .unwrap_or_default();
    let out = super::with_direction(sdp.as_bytes(), direction.as_str());
    String::from_utf8_lossy(&out).into_owned()
}
