//! Audio codecs behind one interface: G.711 (always) and Opus (feature
//! `opus`, through `audiopus`/libopus), resampling ([`resample`]),
//! concealment ([`plc`]) and transcoding between any pair ([`transcode`]).

#[cfg(feature = "opus")]
pub mod opus;
pub mod plc;
pub mod resample;
pub mod transcode;

use crate::g711::Law;
use crate::sdp::Codec;
use plc::Plc;

/// Codec failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The codec is not compiled in (e.g. Opus without the `opus` feature).
    #[error("codec {0:?} is not available in this build")]
    Unavailable(Codec),
    /// Opus rejected the data or the settings.
    #[error("opus: {0}")]
    Opus(String),
    /// Output buffer too small.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// Sample rate not supported by the codec.
    #[error("sample rate {0} Hz not supported")]
    Rate(u32),
    /// Resampler failure.
    #[error(transparent)]
    Resample(#[from] resample::ResampleError),
}

/// The codecs this build can decode and encode (what the relay transcodes
/// between): G.711 always, Opus with the `opus` feature.
pub fn transcodable() -> &'static [Codec] {
    #[cfg(feature = "opus")]
    {
        &[Codec::Pcmu, Codec::Pcma, Codec::Opus]
    }
    #[cfg(not(feature = "opus"))]
    {
        &[Codec::Pcmu, Codec::Pcma]
    }
}

/// An encoder for one stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum AudioEncoder {
    /// G.711 at 8 kHz.
    G711(Law),
    /// Opus at 8/16/48 kHz.
    #[cfg(feature = "opus")]
    Opus(opus::OpusEncoder),
}

/// A decoder for one stream, with concealment.
#[derive(Debug)]
#[non_exhaustive]
pub enum AudioDecoder {
    /// G.711 plus repetition PLC.
    G711(Law, Plc),
    /// Opus with its built-in PLC.
    #[cfg(feature = "opus")]
    Opus(opus::OpusDecoder),
}

impl AudioEncoder {
    /// Encoder for `codec`; Opus runs at `rate` (8000/16000/48000).
    pub fn new(codec: Codec, rate: u32) -> Result<Self, CodecError> {
        match codec {
            Codec::Pcmu => Ok(Self::G711(Law::Ulaw)),
            Codec::Pcma => Ok(Self::G711(Law::Alaw)),
            #[cfg(feature = "opus")]
            Codec::Opus => Ok(Self::Opus(opus::OpusEncoder::new(rate)?)),
            #[allow(unreachable_patterns)]
            other => {
                let _ = rate;
                Err(CodecError::Unavailable(other))
            }
        }
    }
    /// Sample rate of the PCM this encoder takes.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::G711(_) => 8000,
            #[cfg(feature = "opus")]
            Self::Opus(e) => e.sample_rate(),
        }
    }
    /// Encodes one frame; returns payload bytes.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        match self {
            Self::G711(law) => {
                if out.len() < pcm.len() {
                    return Err(CodecError::BufferTooSmall);
                }
                Ok(law.encode(pcm, out))
            }
            #[cfg(feature = "opus")]
            Self::Opus(e) => e.encode(pcm, out),
        }
    }
}

impl AudioDecoder {
    /// Decoder for `codec`; Opus decodes at `rate`; `frame_len` sizes the PLC.
    pub fn new(codec: Codec, rate: u32) -> Result<Self, CodecError> {
        match codec {
            Codec::Pcmu => Ok(Self::G711(Law::Ulaw, Plc::new(160))),
            Codec::Pcma => Ok(Self::G711(Law::Alaw, Plc::new(160))),
            #[cfg(feature = "opus")]
            Codec::Opus => Ok(Self::Opus(opus::OpusDecoder::new(rate)?)),
            #[allow(unreachable_patterns)]
            other => {
                let _ = rate;
                Err(CodecError::Unavailable(other))
            }
        }
    }
    /// Sample rate of the PCM this decoder produces.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::G711(..) => 8000,
            #[cfg(feature = "opus")]
            Self::Opus(d) => d.sample_rate(),
        }
    }
    /// Decodes a payload, or conceals a lost frame when `payload` is `None`
    /// (the jitter buffer's [`crate::jitter::Playout::Conceal`]).
    pub fn decode(&mut self, payload: Option<&[u8]>, out: &mut [i16]) -> Result<usize, CodecError> {
        match self {
            Self::G711(law, plc) => match payload {
                Some(p) => {
                    if out.len() < p.len() {
                        return Err(CodecError::BufferTooSmall);
                    }
                    let n = law.decode(p, out);
                    plc.good(&out[..n]);
                    Ok(n)
                }
                None => Ok(plc.conceal(out)),
            },
            #[cfg(feature = "opus")]
            Self::Opus(d) => d.decode(payload, out),
        }
    }
}
