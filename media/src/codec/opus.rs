//! Opus (RFC 6716, RTP payload RFC 7587) through `audiopus` (libopus).
//! Mono, VoIP application, in-band FEC on; decoding `None` runs libopus PLC.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate};

use super::CodecError;

fn rate(hz: u32) -> Result<SampleRate, CodecError> {
    match hz {
        8000 => Ok(SampleRate::Hz8000),
        16000 => Ok(SampleRate::Hz16000),
        48000 => Ok(SampleRate::Hz48000),
        other => Err(CodecError::Rate(other)),
    }
}

fn err(e: audiopus::Error) -> CodecError {
    CodecError::Opus(e.to_string())
}

/// Opus encoder.
pub struct OpusEncoder {
    enc: Encoder,
    rate: u32,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .finish()
    }
}

impl OpusEncoder {
    /// Mono VoIP encoder at `hz` (8000, 16000 or 48000).
    pub fn new(hz: u32) -> Result<Self, CodecError> {
        let mut enc = Encoder::new(rate(hz)?, Channels::Mono, Application::Voip).map_err(err)?;
        // OPUS_SET_INBAND_FEC_REQUEST = 4012, OPUS_SET_PACKET_LOSS_PERC_REQUEST = 4014
        enc.set_encoder_ctl_request(4012, 1).map_err(err)?;
        enc.set_encoder_ctl_request(4014, 5).map_err(err)?;
        Ok(Self { enc, rate: hz })
    }
    /// PCM rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }
    /// Encodes one frame (2.5-60 ms of samples).
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        self.enc.encode(pcm, out).map_err(err)
    }
}

/// Opus decoder.
pub struct OpusDecoder {
    dec: Decoder,
    rate: u32,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish()
    }
}

impl OpusDecoder {
    /// Mono decoder at `hz` (8000, 16000 or 48000).
    pub fn new(hz: u32) -> Result<Self, CodecError> {
        Ok(Self {
            dec: Decoder::new(rate(hz)?, Channels::Mono).map_err(err)?,
            rate: hz,
        })
    }
    /// PCM rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }
    /// Decodes; `None` conceals one 20 ms frame with libopus PLC.
    pub fn decode(&mut self, payload: Option<&[u8]>, out: &mut [i16]) -> Result<usize, CodecError> {
        let frame = (self.rate / 50) as usize;
        let packet = match payload {
            Some(p) => Some(Packet::try_from(p).map_err(err)?),
            None => None,
        };
        let len = if packet.is_none() {
            frame.min(out.len())
        } else {
            out.len()
        };
        let signals = MutSignals::try_from(&mut out[..len]).map_err(err)?;
        self.dec.decode(packet, signals, false).map_err(err)
    }
}
