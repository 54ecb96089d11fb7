//! The phone's audio path: one RTP socket, 20 ms G.711 or Opus frames out
//! (from a WAV file or silence; coded by [`media::codec`]), RFC 4733 DTMF events, and a jitter buffer whose
//! output is recorded. It runs as one tokio task controlled by messages;
//! stopping it returns what was heard.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use media::codec::{AudioDecoder, AudioEncoder};
use media::dtmf::rfc4733::{DtmfEvent, DtmfReceiver, DtmfSender};
use media::dtmf::Digit;
use media::jitter::{JitterBuffer, JitterConfig, Playout};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use media::sdp::negotiate::{Codec, Negotiated};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Samples per 20 ms frame at the phone's 8 kHz audio rate.
const FRAME: usize = 160;
/// Largest encoded frame we send (G.711: 160; Opus at 8 kHz: far less).
const MAX_PAYLOAD: usize = 1000;

/// 8 kHz mono samples shared with a sound card callback.
pub(crate) type Pcm = Arc<Mutex<VecDeque<i16>>>;

/// Where our audio comes from.
pub(crate) enum Source {
    /// Samples played once (a WAV file), then silence.
    Samples(Vec<i16>),
    /// A live capture queue (the sound card's microphone).
    Device(Pcm),
}
const PTIME: Duration = Duration::from_millis(20);

/// What the stream sends and to whom, from the SDP negotiation.
#[derive(Debug, Clone, Copy)]
struct Params {
    codec: Codec,
    payload_type: PayloadType,
    telephone_event: Option<PayloadType>,
    remote: Option<SocketAddr>,
    sends: bool,
}

impl Params {
    fn from(n: &Negotiated) -> Self {
        Self {
            codec: n.codec,
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            remote: n.remote_rtp,
            sends: n.direction.sends(),
        }
    }
}

enum Control {
    Update(Params),
    Mute(bool),
    Dtmf(Digit),
    Stop(oneshot::Sender<Vec<i16>>),
}

/// Receive-side counters for `status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MediaStats {
    /// RTP packets received.
    pub(crate) received: u64,
    /// RTP packets sent.
    pub(crate) sent: u64,
    /// Frames concealed because their packet was lost.
    pub(crate) lost: u64,
    /// Interarrival jitter, ms (RFC 3550 A.8).
    pub(crate) jitter_ms: f64,
}

impl MediaStats {
    /// E-model MOS estimate for G.711 with the measured loss and jitter.
    pub(crate) fn mos(&self) -> f64 {
        let expected = (self.received + self.lost).max(1) as f64;
        media::stats::mos_g711(20.0 + 2.0 * self.jitter_ms, self.lost as f64 / expected)
    }
}

/// Handle on a running audio stream.
pub(crate) struct MediaStream {
    local: SocketAddr,
    control: mpsc::UnboundedSender<Control>,
    stats: Arc<Mutex<MediaStats>>,
    digits: mpsc::UnboundedReceiver<Digit>,
}

impl MediaStream {
    /// Binds an RTP socket on `ip` and starts the (idle) stream task that
    /// sends `source` and hands what it hears to `speaker` (if any) as well
    /// as to the recording.
    pub(crate) async fn start(
        ip: IpAddr,
        source: Source,
        speaker: Option<Pcm>,
        seed: u32,
    ) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .context("binding RTP socket")?;
        let local = socket.local_addr()?;
        let (control, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(MediaStats::default()));
        let (digit_tx, digits) = mpsc::unbounded_channel();
        let mut task = StreamTask::new(socket, source, seed, Arc::clone(&stats), digit_tx);
        task.speaker = speaker;
        tokio::spawn(task.run(rx));
        Ok(Self {
            local,
            control,
            stats,
            digits,
        })
    }

    /// The local RTP address (for SDP).
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Applies a (re-)negotiation: codec, destination, direction.
    pub(crate) fn update(&self, n: &Negotiated) {
        let _ = self.control.send(Control::Update(Params::from(n)));
    }

    /// Sends silence instead of the source while muted.
    pub(crate) fn mute(&self, on: bool) {
        let _ = self.control.send(Control::Mute(on));
    }

    /// Queues a DTMF digit (RFC 4733 events, 100 ms each).
    pub(crate) fn dtmf(&self, digit: Digit) {
        let _ = self.control.send(Control::Dtmf(digit));
    }

    /// The next DTMF digit received as RFC 4733 events (pending forever
    /// once the stream stopped). Cancel-safe.
    pub(crate) async fn next_digit(&mut self) -> Digit {
        match self.digits.recv().await {
            Some(d) => d,
            None => std::future::pending().await,
        }
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> MediaStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Stops the stream; returns the recording (8 kHz mono).
    pub(crate) async fn stop(self) -> Vec<i16> {
        let (tx, rx) = oneshot::channel();
        let _ = self.control.send(Control::Stop(tx));
        rx.await.unwrap_or_default()
    }
}

struct StreamTask {
    socket: UdpSocket,
    source: Source,
    position: usize,
    speaker: Option<Pcm>,
    params: Option<Params>,
    muted: bool,
    ssrc: Ssrc,
    seq: u16,
    timestamp: u32,
    marker: bool,
    digits: VecDeque<Digit>,
    dtmf: DtmfSender,
    gap: u8,
    /// First sequence number of the RFC 4733 event being received.
    te_event: Option<(u32, u16)>,
    dtmf_in: DtmfReceiver,
    digits_out: mpsc::UnboundedSender<Digit>,
    jitter: JitterBuffer,
    /// The SSRC being played: another one is a new stream (a B2BUA joined
    /// another party, RFC 3550 §8.2) and starts the jitter buffer over.
    remote_ssrc: Option<Ssrc>,
    /// Encoder and decoder of the negotiated codec (8 kHz PCM).
    coder: Option<(Codec, AudioEncoder, AudioDecoder)>,
    recording: Vec<i16>,
    stats: Arc<Mutex<MediaStats>>,
    counters: MediaStats,
}

impl StreamTask {
    fn new(
        socket: UdpSocket,
        source: Source,
        seed: u32,
        stats: Arc<Mutex<MediaStats>>,
        digits_out: mpsc::UnboundedSender<Digit>,
    ) -> Self {
        Self {
            socket,
            source,
            position: 0,
            speaker: None,
            params: None,
            muted: false,
            ssrc: Ssrc(seed | 1),
            seq: (seed >> 16) as u16,
            timestamp: seed.rotate_left(7),
            marker: true,
            digits: VecDeque::new(),
            dtmf: DtmfSender::new(FRAME as u16),
            gap: 0,
            te_event: None,
            dtmf_in: DtmfReceiver::new(),
            digits_out,
            jitter: JitterBuffer::new(JitterConfig::default()),
            remote_ssrc: None,
            coder: None,
            recording: Vec::new(),
            stats,
            counters: MediaStats::default(),
        }
    }

    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        let mut tick = tokio::time::interval(PTIME);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut buf = vec![0u8; 2048];
        loop {
            tokio::select! {
                _ = tick.tick() => self.on_tick(),
                r = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        self.on_packet(&buf[..n], from);
                    }
                }
                c = control.recv() => match c {
                    Some(Control::Update(p)) => self.update(p),
                    Some(Control::Mute(m)) => self.muted = m,
                    Some(Control::Dtmf(d)) => self.digits.push_back(d),
                    Some(Control::Stop(reply)) => {
                        let _ = reply.send(std::mem::take(&mut self.recording));
                        return;
                    }
                    None => return,
                },
            }
        }
    }

    /// A (re-)negotiation: a new codec gets a fresh coder and a jitter
    /// buffer on its RTP clock (Opus: 48 kHz whatever the audio rate,
    /// RFC 7587 §4.1).
    fn update(&mut self, p: Params) {
        if self.coder.as_ref().map(|c| c.0) != Some(p.codec) {
            let coder = AudioEncoder::new(p.codec, 8000)
                .and_then(|e| Ok((e, AudioDecoder::new(p.codec, 8000)?)));
            match coder {
                Ok((e, d)) => self.coder = Some((p.codec, e, d)),
                Err(e) => {
                    tracing::warn!(error = %e, "codec unavailable");
                    self.coder = None;
                }
            }
            self.jitter = JitterBuffer::new(JitterConfig {
                clock_rate: p.codec.clock_rate(),
                ..JitterConfig::default()
            });
        }
        self.params = Some(p);
    }

    /// RTP timestamp units per 20 ms frame.
    fn frame_ticks(params: Params) -> u32 {
        params.codec.clock_rate() / 50
    }

    fn on_packet(&mut self, data: &[u8], _from: SocketAddr) {
        // RTCP on the RTP port (rtcp-mux peers, RFC 5761 §4) is not audio
        if media::demux::classify(data) != media::demux::PacketKind::Rtp {
            return;
        }
        let Ok(pkt) = RtpPacket::parse(data) else {
            return;
        };
        let Some(params) = self.params else {
            return;
        };
        self.counters.received += 1;
        if self.remote_ssrc.replace(pkt.ssrc()) != Some(pkt.ssrc()) {
            self.jitter = JitterBuffer::new(JitterConfig {
                clock_rate: params.codec.clock_rate(),
                ..JitterConfig::default()
            });
        }
        if Some(pkt.payload_type()) == params.telephone_event {
            // RFC 4733 events take sequence numbers from the audio stream:
            // play silence in their place so they do not count as loss.
            for ev in self.dtmf_in.handle_packet(pkt.timestamp(), pkt.payload()) {
                if let Some(DtmfEvent::Began { digit, .. }) = ev {
                    let _ = self.digits_out.send(digit);
                }
            }
            // An empty payload plays as silence.
            let n = self.te_seen(pkt.timestamp(), pkt.sequence());
            let ts = pkt
                .timestamp()
                .wrapping_add(u32::from(n) * Self::frame_ticks(params));
            self.jitter.push(Instant::now(), pkt.sequence(), ts, &[]);
            return;
        }
        self.jitter.push(
            Instant::now(),
            pkt.sequence(),
            pkt.timestamp(),
            pkt.payload(),
        );
    }

    /// How many packets of the current RFC 4733 event came before this
    /// one (they all carry the event's start timestamp, §2.5.1.1).
    fn te_seen(&mut self, timestamp: u32, seq: u16) -> u16 {
        match self.te_event {
            Some((ts, first)) if ts == timestamp => seq.wrapping_sub(first),
            _ => {
                self.te_event = Some((timestamp, seq));
                0
            }
        }
    }

    /// One 20 ms step: send a frame (audio or DTMF) and play one out.
    fn on_tick(&mut self) {
        let Some(params) = self.params else {
            return;
        };
        self.send_frame(params);
        self.timestamp = self.timestamp.wrapping_add(Self::frame_ticks(params));
        let mut pcm = [0i16; FRAME];
        let decoded = match (self.jitter.pop(), self.coder.as_mut()) {
            (Playout::Frame { payload, .. }, Some((_, _, dec))) if !payload.is_empty() => {
                dec.decode(Some(payload), &mut pcm)
            }
            (Playout::Conceal { .. }, Some((_, _, dec))) => dec.decode(None, &mut pcm),
            _ => Ok(0),
        };
        if let Err(e) = decoded {
            tracing::debug!(error = %e, "undecodable frame");
            pcm = [0; FRAME];
        }
        self.recording.extend_from_slice(&pcm);
        if let Some(speaker) = &self.speaker {
            if let Ok(mut q) = speaker.lock() {
                q.extend(pcm);
            }
        }
        let js = self.jitter.stats();
        self.counters.lost = js.lost;
        self.counters.jitter_ms = self.jitter.jitter_ms();
        if let Ok(mut s) = self.stats.lock() {
            *s = self.counters;
        }
    }

    fn send_frame(&mut self, params: Params) {
        let mut pcm = [0i16; FRAME];
        match &self.source {
            Source::Samples(samples) => {
                let end = (self.position + FRAME).min(samples.len());
                if self.position < end {
                    pcm[..end - self.position].copy_from_slice(&samples[self.position..end]);
                }
                self.position = end;
            }
            Source::Device(mic) => {
                if let Ok(mut q) = mic.lock() {
                    // Only whole frames: a short capture is sent next tick.
                    if q.len() >= FRAME {
                        for (dst, src) in pcm.iter_mut().zip(q.drain(..FRAME)) {
                            *dst = src;
                        }
                    }
                }
            }
        }
        let (Some(remote), true) = (params.remote, params.sends) else {
            return;
        };
        let mut payload = [0u8; MAX_PAYLOAD];
        let mut header = RtpHeader {
            marker: false,
            payload_type: params.payload_type,
            sequence: self.seq,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        };
        let body: &[u8] = match (self.next_dtmf(params), params.telephone_event) {
            (Some(ev), Some(te)) => {
                header.marker = ev.marker;
                header.payload_type = te;
                header.timestamp = ev.timestamp;
                payload[..4].copy_from_slice(&ev.payload.to_bytes());
                &payload[..4]
            }
            _ => {
                if self.muted {
                    pcm = [0; FRAME];
                }
                header.marker = std::mem::take(&mut self.marker);
                let Some((_, enc, _)) = self.coder.as_mut() else {
                    return;
                };
                match enc.encode(&pcm, &mut payload) {
                    Ok(n) => &payload[..n],
                    Err(e) => {
                        tracing::debug!(error = %e, "encoding failed");
                        return;
                    }
                }
            }
        };
        let mut out = [0u8; 12 + MAX_PAYLOAD];
        if let Ok(n) = header.write(body, &mut out) {
            if self.socket.try_send_to(&out[..n], remote).is_ok() {
                self.counters.sent += 1;
            }
        }
        self.seq = self.seq.wrapping_add(1);
    }

    /// The DTMF event packet for this frame, if a digit is being sent.
    fn next_dtmf(&mut self, params: Params) -> Option<media::dtmf::rfc4733::EventPacket> {
        params.telephone_event?;
        if !self.dtmf.is_busy() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let digit = self.digits.pop_front()?;
            // 100 ms tone (800 units at 8 kHz), then a 100 ms pause.
            self.dtmf.start(digit, self.timestamp, 800);
            self.gap = 5;
        }
        self.dtmf.poll_packet()
    }
}
