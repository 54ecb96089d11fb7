//! Media anchoring — the job rtpengine does for Kamailio, for the proxy and
//! the B2BUA alike: SDP in
//! INVITE / 18x / 200 / re-INVITE / UPDATE / ACK is rewritten to point at relay
//! ports of `media::relay`, so that RTP flows through pbx; the ports are
//! released on BYE, CANCEL, failure, or by the relay's inactivity timeout.
//!
//! Leg A is the caller (the From tag of the initial INVITE), leg B the callee.
//! An SDP body sent by A is taken as A's media and rewritten to relay port B
//! (the one B talks to), and vice versa.

mod direction;
mod originate;
mod relay;
pub mod transcode;
#[cfg_attr(not(feature = "webrtc"), path = "webrtc_off.rs")]
mod webrtc;
pub use direction::with_direction;

pub use relay::MediaRelay;
pub use webrtc::{is_webrtc_body, WebRtcEnded, WebRtcSides};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use media::relay::driver::{Command, DriverConfig, RelayEvent, SessionId};
use media::relay::pool::RelayPool;
use media::relay::ports::PortPair;
use media::relay::record::{RecordSink, RecordStats};
use media::relay::session::LegStats;
use media::relay::{LegConfig, RelayConfig, Side};
use media::rtp::PayloadType;
use media::sdp::Codec;
use media::sdp::SessionDescription;
use parking_lot::Mutex;
use sip_stack::message::HeaderName;

use transcode::{augment_offer, plan, CallerMedia};

/// When to anchor media (`media.anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorMode {
    /// Every call with SDP.
    Always,
    /// Only when an SDP's connection address differs from the signalling source
    /// (a UA behind NAT advertising its private address).
    Nat,
    /// Never: media flows end to end.
    Never,
}

/// Relay settings from the config file.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    /// Policy.
    pub mode: AnchorMode,
    /// Address the relay binds and advertises in SDP.
    pub address: IpAddr,
    /// Port range (even/odd pairs).
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
    /// Relay threads.
    pub threads: usize,
    /// Ports are freed when no packet flowed for this long.
    pub inactivity_timeout: Duration,
}

/// Why SDP could not be anchored (the request gets this status).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// The SDP did not parse: 488 with the reason.
    #[error("bad SDP: {0}")]
    BadSdp(String),
    /// No relay ports left: 503.
    #[error("no media relay ports available")]
    NoPorts,
}

/// The anchoring of one call.
#[derive(Debug, Clone)]
pub struct Anchored {
    id: SessionId,
    caller_tag: String,
    ports: (PortPair, PortPair),
    /// What the caller offered, when pbx bridges codecs (B2BUA calls).
    caller: Option<CallerMedia>,
    /// The codec the caller was answered with (it stays for the call).
    caller_codec: Arc<Mutex<Option<(Codec, PayloadType)>>>,
    /// The sides of the call that are WebRTC legs (`webrtc.rs`).
    webrtc: Arc<Mutex<WebRtcSides>>,
}

/// A DTMF key pressed on a leg of an anchored call, seen by the relay
/// (RFC 4733 telephone-event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayDtmf {
    /// The relay's id of the call's session ([`Anchored::relay_id`]).
    pub relay_id: u64,
    /// The leg that pressed it: A is the caller.
    pub side: Side,
    /// The key (`0-9`, `*`, `#`, `A-D`).
    pub digit: char,
}

/// Relay events drained but not collected yet (the closed sessions go to
/// housekeeping, key presses to the engine's timer loop).
#[derive(Default)]
struct Drained {
    closed: Vec<(u64, (LegStats, LegStats))>,
    dtmf: Vec<RelayDtmf>,
    record_stopped: Vec<RecordStopped>,
    webrtc_ended: Vec<WebRtcEnded>,
}

/// A relay session stopped feeding a recording sink
/// (`RelayEvent::RecordStopped`): the sink comes back so that it is
/// finished (and dropped) off the relay thread.
#[derive(Debug, Clone)]
pub struct RecordStopped {
    /// The relay's id of the session ([`Anchored::relay_id`]).
    pub relay_id: u64,
    /// The sink that was set.
    pub sink: Arc<dyn RecordSink>,
    /// Its counters.
    pub stats: RecordStats,
}

/// Key presses kept for a consumer that never comes (proxy mode).
const MAX_PENDING_DTMF: usize = 256;
/// Removed recording taps kept for a consumer that never comes.
const MAX_PENDING_RECORD_STOPPED: usize = 1024;

/// The relay and the policy; shared by all shards.
pub struct MediaAnchor {
    config: AnchorConfig,
    relay: RelayPool,
    next_id: AtomicU64,
    drained: Mutex<Drained>,
    webrtc: webrtc::WebRtcHost,
    webrtc_ended: crossbeam_channel::Receiver<WebRtcEnded>,
}

/// WebRTC legs that ended kept for a consumer that never comes.
const MAX_PENDING_WEBRTC_ENDED: usize = 1024;

/// The anchored calls of one shard, by Call-ID.
#[derive(Default)]
pub struct AnchorTable {
    calls: HashMap<String, Anchored, ahash::RandomState>,
}

impl AnchorTable {
    /// The anchoring of a call.
    pub fn get(&self, call_id: &str) -> Option<&Anchored> {
        self.calls.get(call_id)
    }

    /// Forgets a call (its ports are closed by the caller).
    pub fn remove(&mut self, call_id: &str) -> Option<Anchored> {
        self.calls.remove(call_id)
    }

    /// Number of anchored calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is anchored.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// Whether a message body is SDP (by Content-Type; an empty type with a body
/// starting `v=0` counts too).
pub fn is_sdp(headers: &sip_stack::message::Headers, body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    match headers.get_str(&HeaderName::ContentType) {
        Some(ct) => ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/sdp"),
        None => body.starts_with(b"v=0"),
    }
}

fn parse(body: &[u8]) -> Result<SessionDescription, AnchorError> {
    media::sdp::parse::parse_bytes(body).map_err(|e| AnchorError::BadSdp(e.to_string()))
}

impl MediaAnchor {
    /// Starts the relay threads.
    pub fn start(config: AnchorConfig) -> std::io::Result<Self> {
        let driver = DriverConfig {
            bind: config.address,
            port_min: config.port_min,
            port_max: config.port_max,
            relay: RelayConfig {
                inactivity_timeout: config.inactivity_timeout,
                ..RelayConfig::default()
            },
        };
        driver.validate().map_err(std::io::Error::other)?;
        let relay = RelayPool::spawn(driver, config.threads)?;
        let (ended_tx, webrtc_ended) = crossbeam_channel::unbounded();
        Ok(Self {
            webrtc: webrtc::WebRtcHost::new(config.address, ended_tx)?,
            config,
            relay,
            next_id: AtomicU64::new(1),
            drained: Mutex::new(Drained::default()),
            webrtc_ended,
        })
    }

    /// The policy.
    pub fn mode(&self) -> AnchorMode {
        self.config.mode
    }

    /// Whether the initial offer of a call from `source` is to be anchored.
    pub fn wants(&self, body: &[u8], source: IpAddr) -> bool {
        match self.config.mode {
            AnchorMode::Never => false,
            AnchorMode::Always => true,
            AnchorMode::Nat => parse(body)
                .ok()
                .and_then(|s| s.media_connection(0))
                .is_some_and(|c| c.address != source),
        }
    }

    /// Anchors the caller's offer of a new call: opens a relay session and returns
    /// the rewritten body (pointing at relay port B) and the call's state.
    pub fn open(&self, body: &[u8], caller_tag: &str) -> Result<(Bytes, Anchored), AnchorError> {
        self.open_with(body, caller_tag, false)
    }

    /// Like [`MediaAnchor::open`] for a B2BUA call, where pbx bridges
    /// codecs: the offer for the callee also lists the codecs pbx
    /// transcodes to, the relay learns the caller's payload types (key
    /// presses are reported), and [`MediaAnchor::update`] with the callee's
    /// answer sets up transcoding when the codecs differ
    /// (see [`super::transcode`]).
    pub fn open_bridging(&self, body: &[u8]) -> Result<(Bytes, Anchored), AnchorError> {
        self.open_with(body, "", true)
    }

    fn open_with(
        &self,
        body: &[u8],
        caller_tag: &str,
        bridging: bool,
    ) -> Result<(Bytes, Anchored), AnchorError> {
        // A browser's offer: its WebRTC leg ends on a socket of its own,
        // which stands for the caller in the relay as a plain RTP party.
        let mut sides = WebRtcSides::default();
        let plain;
        let body = if bridging && is_webrtc_body(body) {
            plain = sides.open_caller(&self.webrtc, body)?;
            plain.as_bytes()
        } else {
            body
        };
        let mut sdp = parse(body)?;
        let a = LegConfig::from_sdp(&sdp).unwrap_or(LegConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: false,
        });
        let b = LegConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: a.rtcp_mux,
        };
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let ports = self
            .relay
            .open_sync(id, a, b, Duration::from_secs(2))
            .map_err(|_| AnchorError::NoPorts)?;
        let caller = if bridging {
            augment_offer(&mut sdp)
        } else {
            None
        };
        if let Some(c) = &caller {
            self.relay.send(Command::SetMedia {
                id,
                side: Side::A,
                media: c.leg_media(),
            });
        }
        sdp.rewrite_for_anchor(self.config.address, &[ports.1.rtp]);
        let anchored = Anchored {
            id,
            caller_tag: caller_tag.to_owned(),
            ports,
            caller,
            caller_codec: Arc::default(),
            webrtc: Arc::new(Mutex::new(sides)),
        };
        Ok((Bytes::from(sdp.to_string()), anchored))
    }

    /// An SDP body sent by the party whose From tag (for requests) or whose
    /// request's From tag (for responses, `from_caller` false) says which leg it is:
    /// re-anchors that leg and returns the body rewritten for the other party.
    pub fn update(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError> {
        self.update_with(call, body, sender_is_caller, false)
    }

    /// Like [`MediaAnchor::update`] for a new offer (re-INVITE): on a call
    /// where pbx bridges codecs, the caller's re-offer also lists the codecs
    /// pbx transcodes to, so that a callee without the caller's codecs can
    /// answer it (hold, resume).
    pub fn update_offer(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
    ) -> Result<Bytes, AnchorError> {
        self.update_with(call, body, sender_is_caller, true)
    }

    fn update_with(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
        offer: bool,
    ) -> Result<Bytes, AnchorError> {
        let mut sides = call.webrtc.lock();
        // the callee's body parsed once: WebRTC from the browser, or plain
        let callee_browser = !sender_is_caller && sides.callee_is_webrtc();
        let callee_webrtc_body = callee_browser && is_webrtc_body(body);
        if callee_browser && !callee_webrtc_body {
            // a plain party answers in the browser callee's place (it
            // transferred the call): the browser's side goes
            self.webrtc.close_callee(&mut sides);
        }
        // A WebRTC sender's body: the plain one standing for it.
        let from_browser = if sender_is_caller {
            sides.caller_is_webrtc()
        } else {
            callee_webrtc_body
        };
        let plain;
        let body = if from_browser {
            plain = if sender_is_caller {
                sides.reoffer_plain(Side::A, body).unwrap_or_else(|| {
                    Err(AnchorError::BadSdp("WebRTC leg not answered yet".into()))
                })?
            } else {
                // a running browser callee re-offers (holds, resumes) or
                // answers a re-offer; before that its body is the answer
                // to pbx's first offer
                match sides.reoffer_plain(Side::B, body) {
                    Some(plain) => plain?,
                    None => sides.callee_answered(&self.webrtc, call.id.0, body)?,
                }
            };
            plain.as_bytes()
        } else {
            body
        };
        let out = self.update_plain(call, body, sender_is_caller, offer)?;
        // A WebRTC receiver: the WebRTC body standing for the plain one.
        let address = self.config.address;
        let webrtc = if sender_is_caller {
            if !sides.callee_is_webrtc() {
                return Ok(out);
            }
            sides.reoffer_webrtc(Side::B, &out, offer)
        } else {
            if !sides.caller_is_webrtc() {
                return Ok(out);
            }
            if offer {
                sides.reoffer_webrtc(Side::A, &out, true)
            } else {
                let relay_port = SocketAddr::new(address, call.ports.0.rtp);
                Some(sides.answer_caller(&self.webrtc, call.id.0, &out, relay_port))
            }
        };
        match webrtc {
            Some(sdp) => Ok(Bytes::from(sdp?)),
            None => Err(AnchorError::BadSdp("WebRTC leg not negotiated yet".into())),
        }
    }

    /// pbx's offer to a callee that is a browser (registered over WS/WSS):
    /// `offer` is the plain offer for the callee side (from
    /// [`MediaAnchor::open_bridging`]); returns the WebRTC offer, whose
    /// answer [`MediaAnchor::update`] turns back into plain RTP.
    pub fn offer_webrtc(&self, call: &Anchored, offer: &[u8]) -> Result<Bytes, AnchorError> {
        let relay_port = SocketAddr::new(self.config.address, call.ports.1.rtp);
        let mut sides = call.webrtc.lock();
        let sdp = sides.offer_callee(&self.webrtc, offer, relay_port)?;
        Ok(Bytes::from(sdp))
    }

    fn update_plain(
        &self,
        call: &Anchored,
        body: &[u8],
        sender_is_caller: bool,
        offer: bool,
    ) -> Result<Bytes, AnchorError> {
        let mut sdp = parse(body)?;
        let (side, toward) = if sender_is_caller {
            (Side::A, call.ports.1)
        } else {
            (Side::B, call.ports.0)
        };
        if let Some(leg) = LegConfig::from_sdp(&sdp) {
            self.relay.send(Command::Reanchor {
                id: call.id,
                side,
                leg,
            });
        }
        // the callee's codec decides; the caller's later bodies (re-offers
        // for hold, answers to the callee's re-offers) keep the codecs the
        // relay uses
        let planned = match (&call.caller, side) {
            (Some(caller), Side::B) => {
                let mut current = call.caller_codec.lock();
                let planned = plan(caller, *current, &mut sdp);
                if let Some((pt, codec)) = planned.and_then(|(a, _)| a.codec) {
                    current.get_or_insert((codec, pt));
                }
                planned
            }
            (Some(_), Side::A) if offer => {
                let _ = augment_offer(&mut sdp);
                None
            }
            _ => None,
        };
        if let Some((a, b)) = planned {
            for (side, media) in [(Side::A, a), (Side::B, b)] {
                self.relay.send(Command::SetMedia {
                    id: call.id,
                    side,
                    media,
                });
            }
        }
        sdp.rewrite_for_anchor(self.config.address, &[toward.rtp]);
        Ok(Bytes::from(sdp.to_string()))
    }

    /// Releases a call's ports (and stops its WebRTC legs).
    pub fn close(&self, call: &Anchored) {
        self.webrtc.close(&mut call.webrtc.lock());
        self.relay.send(Command::Close(call.id));
    }

    /// Drains relay events and returns the WebRTC legs that ended by
    /// themselves (wrong fingerprint, ICE or DTLS timeout, ...) since the
    /// last call: the engine ends their calls with the code as the cause.
    pub fn poll_webrtc_ended(&self) -> Vec<WebRtcEnded> {
        let mut d = self.drained.lock();
        self.drain(&mut d);
        std::mem::take(&mut d.webrtc_ended)
    }

    /// Sets (or replaces) the recording tap of relay session `relay_id`:
    /// both legs' decoded audio goes to `sink` on the relay thread. A sink
    /// replaced comes back from [`MediaAnchor::poll_record_stopped`].
    pub fn record(&self, relay_id: u64, sink: Arc<dyn RecordSink>) {
        self.relay.send(Command::Record {
            id: SessionId(relay_id),
            sink,
        });
    }

    /// Stops the recording tap of relay session `relay_id` (its sink comes
    /// back from [`MediaAnchor::poll_record_stopped`]).
    pub fn stop_record(&self, relay_id: u64) {
        self.relay.send(Command::StopRecord(SessionId(relay_id)));
    }

    /// Drains relay events and returns the recording taps removed since
    /// the last call (stopped, replaced, or their session closed).
    pub fn poll_record_stopped(&self) -> Vec<RecordStopped> {
        let mut d = self.drained.lock();
        self.drain(&mut d);
        std::mem::take(&mut d.record_stopped)
    }

    /// Drains relay events (logs closed sessions); called periodically.
    pub fn poll_events(&self) {
        let _ = self.poll_closed();
    }

    /// Drains relay events and returns the final stats of the sessions that
    /// closed since the last call: (relay session id, (A, B) stats).
    pub fn poll_closed(&self) -> Vec<(u64, (LegStats, LegStats))> {
        let mut d = self.drained.lock();
        self.drain(&mut d);
        std::mem::take(&mut d.closed)
    }

    /// Drains relay events and returns the key presses seen since the last
    /// call, oldest first.
    pub fn poll_dtmf(&self) -> Vec<RelayDtmf> {
        let mut d = self.drained.lock();
        self.drain(&mut d);
        std::mem::take(&mut d.dtmf)
    }

    fn drain(&self, d: &mut Drained) {
        while let Ok(ended) = self.webrtc_ended.try_recv() {
            if d.webrtc_ended.len() == MAX_PENDING_WEBRTC_ENDED {
                d.webrtc_ended.remove(0);
            }
            d.webrtc_ended.push(ended);
        }
        while let Ok(ev) = self.relay.events.try_recv() {
            match ev {
                RelayEvent::Closed { id, expired, stats } => {
                    tracing::debug!(session = id.0, expired, a = ?stats.0, b = ?stats.1, "media relay closed");
                    d.closed.push((id.0, stats));
                }
                RelayEvent::Dtmf { id, side, digit } => {
                    tracing::debug!(session = id.0, ?side, digit = %digit.as_char(), "DTMF through the relay");
                    if d.dtmf.len() == MAX_PENDING_DTMF {
                        d.dtmf.remove(0);
                    }
                    d.dtmf.push(RelayDtmf {
                        relay_id: id.0,
                        side,
                        digit: digit.as_char(),
                    });
                }
                RelayEvent::RecordStopped { id, sink, stats } => {
                    tracing::debug!(session = id.0, ?stats, "relay recording tap removed");
                    if d.record_stopped.len() == MAX_PENDING_RECORD_STOPPED {
                        d.record_stopped.remove(0);
                    }
                    d.record_stopped.push(RecordStopped {
                        relay_id: id.0,
                        sink,
                        stats,
                    });
                }
                _ => {}
            }
        }
    }
}

impl Anchored {
    /// Whether `from_tag` is the caller's.
    pub fn is_caller(&self, from_tag: Option<&str>) -> bool {
        from_tag == Some(self.caller_tag.as_str())
    }

    /// The relay's id of this call's session (matches `RelayEvent::Closed`).
    pub fn relay_id(&self) -> u64 {
        self.id.0
    }

    /// What the caller offered, when pbx bridges codecs for the call.
    pub fn caller_media(&self) -> Option<&CallerMedia> {
        self.caller.as_ref()
    }

    /// The relay ports (leg A side, leg B side).
    pub fn ports(&self) -> (PortPair, PortPair) {
        self.ports
    }
}

impl AnchorTable {
    pub(crate) fn insert(&mut self, call_id: String, a: Anchored) {
        self.calls.insert(call_id, a);
    }
}
