//! Transcoding one RTP payload stream into another codec: decode (with PLC
//! for lost frames), resample when the rates differ, encode. Buffers are
//! sized at construction; G.711↔G.711 never allocates.

use super::resample::Resampler;
use super::{AudioDecoder, AudioEncoder, CodecError};
use crate::sdp::Codec;

/// Largest PCM frame handled (60 ms at 48 kHz).
const MAX_PCM: usize = 2880;

/// Converts payloads from one codec to another.
#[derive(Debug)]
pub struct Transcoder {
    dec: AudioDecoder,
    enc: AudioEncoder,
    resampler: Option<Resampler>,
    pcm: Vec<i16>,
    pcm_out: Vec<i16>,
}

impl Transcoder {
    /// From `from` to `to`; Opus sides run at `opus_rate` Hz.
    pub fn new(from: Codec, to: Codec, opus_rate: u32) -> Result<Self, CodecError> {
        let dec = AudioDecoder::new(from, opus_rate)?;
        let enc = AudioEncoder::new(to, opus_rate)?;
        let resampler = if dec.sample_rate() != enc.sample_rate() {
            Some(Resampler::new(
                dec.sample_rate(),
                enc.sample_rate(),
                MAX_PCM,
            )?)
        } else {
            None
        };
        Ok(Self {
            dec,
            enc,
            resampler,
            pcm: vec![0; MAX_PCM],
            pcm_out: vec![0; MAX_PCM],
        })
    }

    /// Transcodes one payload (`None`: the frame was lost, conceal it).
    pub fn transcode(
        &mut self,
        payload: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        let n = self.dec.decode(payload, &mut self.pcm)?;
        match &mut self.resampler {
            Some(r) => {
                let m = r.process(&self.pcm[..n], &mut self.pcm_out)?;
                self.enc.encode(&self.pcm_out[..m], out)
            }
            None => self.enc.encode(&self.pcm[..n], out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::{snr_db, Law};

    fn sine(n: usize, rate: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * 800.0 * i as f64 / rate).sin()) as i16)
            .collect()
    }

    #[test]
    fn pcmu_to_pcma_preserves_audio() {
        let pcm = sine(1600, 8000.0);
        let mut t = Transcoder::new(Codec::Pcmu, Codec::Pcma, 48000).unwrap();
        let mut decoded = Vec::new();
        for f in pcm.chunks(160) {
            let mut mu = [0u8; 160];
            Law::Ulaw.encode(f, &mut mu);
            let mut a = [0u8; 160];
            assert_eq!(t.transcode(Some(&mu), &mut a).unwrap(), 160);
            let mut d = [0i16; 160];
            Law::Alaw.decode(&a, &mut d);
            decoded.extend_from_slice(&d);
        }
        assert!(snr_db(&pcm, &decoded) > 30.0);
        // a lost frame is concealed, not an error
        let mut a = [0u8; 160];
        assert_eq!(t.transcode(None, &mut a).unwrap(), 160);
    }

    #[cfg(not(feature = "opus"))]
    #[test]
    fn opus_unavailable_without_feature() {
        assert_eq!(
            Transcoder::new(Codec::Pcmu, Codec::Opus, 48000).unwrap_err(),
            CodecError::Unavailable(Codec::Opus)
        );
    }

    #[cfg(feature = "opus")]
    #[test]
    fn pcmu_opus_round_trip_all_rates() {
        use crate::dtmf::goertzel::goertzel_power;
        for rate in [8000u32, 16000, 48000] {
            let pcm = sine(8000, 8000.0);
            let mut to_opus = Transcoder::new(Codec::Pcmu, Codec::Opus, rate).unwrap();
            let mut back = Transcoder::new(Codec::Opus, Codec::Pcmu, rate).unwrap();
            let mut out = Vec::new();
            for (i, f) in pcm.chunks(160).enumerate() {
                let mut mu = [0u8; 160];
                Law::Ulaw.encode(f, &mut mu);
                let mut op = [0u8; 400];
                let n = to_opus.transcode(Some(&mu), &mut op).unwrap();
                assert!(n > 0 && n < 400);
                let mut mu2 = [0u8; 160];
                // lose every 10th packet: PLC fills it
                let m = if i % 10 == 5 {
                    back.transcode(None, &mut mu2)
                } else {
                    back.transcode(Some(&op[..n]), &mut mu2)
                }
                .unwrap();
                assert_eq!(m, 160, "rate {rate}");
                let mut d = [0i16; 160];
                Law::Ulaw.decode(&mu2, &mut d);
                out.extend_from_slice(&d);
            }
            let tail = &out[1600..];
            let tone = goertzel_power(tail, 800.0, 8000.0);
            let off = goertzel_power(tail, 2000.0, 8000.0);
            assert!(tone > 1000.0 * off, "rate {rate}: {tone} vs {off}");
        }
    }
}
