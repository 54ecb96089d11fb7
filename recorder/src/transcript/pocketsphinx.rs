//! [`Recognizer`] over the `pocketsphinx_continuous` CLI (Debian packages
//! `pocketsphinx`, `pocketsphinx-en-us`; the 0.8 "5prealpha" CLI). Its en-US
//! model is 16 kHz, so other rates are resampled with sox first (8 kHz by
//! spectral folding, which recognizes five times more telephone words).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Recognizer, Segment};
use crate::{Error, Result};

/// The pocketsphinx CLI recognizer.
#[derive(Debug, Clone)]
pub struct Pocketsphinx {
    /// The binary. Default `pocketsphinx_continuous` (from `PATH`).
    pub binary: PathBuf,
    /// Acoustic model dir (`-hmm`); `None` = the binary's default.
    pub hmm: Option<PathBuf>,
    /// Language model (`-lm`); `None` = default.
    pub lm: Option<PathBuf>,
    /// Dictionary (`-dict`); `None` = default.
    pub dict: Option<PathBuf>,
    /// Words closer than this (ms) stay in one segment. Default 700.
    pub max_pause_ms: u64,
}

impl Default for Pocketsphinx {
    fn default() -> Self {
        Self {
            binary: "pocketsphinx_continuous".into(),
            hmm: None,
            lm: None,
            dict: None,
            max_pause_ms: 700,
        }
    }
}

impl Pocketsphinx {
    /// True when the binary runs.
    pub fn available(&self) -> bool {
        Command::new(&self.binary)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    }
}

fn err(reason: impl Into<String>) -> Error {
    Error::Recognizer {
        engine: "pocketsphinx",
        reason: reason.into(),
    }
}

/// Parses `-time yes` output (`word start end confidence` lines) into segments,
/// splitting at fillers and pauses longer than `max_pause_ms`.
pub(crate) fn parse_times(out: &str, max_pause_ms: u64) -> Vec<Segment> {
    let mut segs: Vec<Segment> = Vec::new();
    let mut cur: Option<Segment> = None;
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [word, start, end, _conf] = f[..] else {
            continue;
        };
        let (Ok(start), Ok(end)) = (start.parse::<f64>(), end.parse::<f64>()) else {
            continue;
        };
        let (start_ms, end_ms) = (
            (start * 1000.0).round() as u64,
            (end * 1000.0).round() as u64,
        );
        let filler = word.starts_with('<') || word.starts_with('[') || word.starts_with("++");
        let word = word.split('(').next().unwrap_or(word);
        if filler || word.is_empty() {
            if word == "</s>" || word == "<s>" {
                segs.extend(cur.take());
            }
            continue;
        }
        match &mut cur {
            Some(s) if start_ms.saturating_sub(s.end_ms) <= max_pause_ms => {
                s.text.push(' ');
                s.text.push_str(word);
                s.end_ms = end_ms;
            }
            _ => {
                segs.extend(cur.take());
                cur = Some(Segment {
                    channel: 0,
                    seq: 0,
                    start_ms,
                    end_ms,
                    text: word.to_string(),
                    edited: false,
                });
            }
        }
    }
    segs.extend(cur);
    segs
}

impl Recognizer for Pocketsphinx {
    fn recognize(&self, pcm: &[i16], rate: u32) -> Result<Vec<Segment>> {
        let dir = tempdir()?;
        let raw = dir.join("in.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        {
            let mut w =
                hound::WavWriter::create(&raw, spec).map_err(|e| err(format!("temp wav: {e}")))?;
            let mut sw = w.get_i16_writer(pcm.len() as u32);
            for &s in pcm {
                sw.write_sample(s);
            }
            sw.flush()
                .and_then(|()| w.finalize())
                .map_err(|e| err(format!("temp wav: {e}")))?;
        }
        let input = if rate == 16000 {
            raw
        } else {
            let up = dir.join("in16.wav");
            let mut sox = Command::new("sox");
            sox.arg(&raw);
            if rate > 0 && 16000 % rate == 0 {
                // Telephone audio (8 kHz) has nothing above 4 kHz, where the
                // 16 kHz model expects fricatives: zero-stuffing without the
                // low-pass mirrors the band into 4-8 kHz (spectral folding,
                // a crude bandwidth extension). Measured on five espeak-ng
                // sentences through G.711: 14-21 of their 39 words
                // recognized (two voices), 3 of 39 with a clean resample.
                sox.args(["-r", "16000"])
                    .arg(&up)
                    .args(["upsample", &(16000 / rate).to_string()]);
            } else {
                sox.args(["-r", "16000"]).arg(&up);
            }
            let st = sox
                .stderr(Stdio::piped())
                .output()
                .map_err(|e| err(format!("sox: {e}")))?;
            if !st.status.success() {
                return Err(err(format!(
                    "sox resample: {}",
                    String::from_utf8_lossy(&st.stderr).trim()
                )));
            }
            up
        };
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-infile")
            .arg(&input)
            .args(["-time", "yes", "-logfn", "/dev/null"]);
        for (flag, v) in [
            ("-hmm", &self.hmm),
            ("-lm", &self.lm),
            ("-dict", &self.dict),
        ] {
            if let Some(v) = v {
                cmd.arg(flag).arg(v);
            }
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| err(format!("{}: {e}", self.binary.display())))?;
        let _ = std::fs::remove_dir_all(&dir);
        if !out.status.success() {
            let tail = String::from_utf8_lossy(&out.stderr);
            let tail: String = tail
                .chars()
                .rev()
                .take(300)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(err(format!("exit {}: {tail}", out.status)));
        }
        Ok(parse_times(
            &String::from_utf8_lossy(&out.stdout),
            self.max_pause_ms,
        ))
    }
}

fn tempdir() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "pbx-asr-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).map_err(|e| Error::io("create dir", &d, e))?;
    std::fs::File::create(d.join(".keep"))
        .and_then(|mut f| f.flush())
        .map_err(|e| Error::io("create", &d, e))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_word_times_into_segments() {
        let out = "please call me tomorrow\n<s> 0.000 0.290 0.99\nplease 0.300 0.580 0.9\ncall(2) 0.590 0.760 0.1\n<sil> 0.770 1.000 0.2\nme 1.010 1.200 0.5\n</s> 1.2 1.3 1.0\n<s> 3.000 3.100 1.0\n[NOISE] 3.1 3.2 0.1\ntomorrow 3.300 3.900 0.8\n</s> 3.9 4.0 1.0\ngarbage line\n";
        let s = parse_times(out, 700);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(
            (s[0].start_ms, s[0].end_ms, s[0].text.as_str()),
            (300, 1200, "please call me")
        );
        assert_eq!(
            (s[1].start_ms, s[1].end_ms, s[1].text.as_str()),
            (3300, 3900, "tomorrow")
        );
        let split = parse_times("a 0.0 0.5 1\nb 2.0 2.5 1\n", 700);
        assert_eq!(split.len(), 2);
    }
}
