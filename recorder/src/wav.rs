//! WAV files on disk: header repair after a crash and file hashing.
//!
//! hound writes a 44-byte PCM header with zero sizes and fills them in on
//! `flush`/`finalize`. A writer killed in between leaves sizes that are stale
//! (last checkpoint) or zero; [`repair`] recomputes both from the file length,
//! cutting a trailing partial sample frame, so the file plays to its last byte.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What [`repair`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repair {
    /// Bytes of audio in the data chunk after repair.
    pub data_bytes: u64,
    /// Offset of the first audio byte.
    pub data_offset: u64,
    /// Bytes per sample frame (channels × bytes per sample).
    pub block_align: u16,
    /// Sample rate from the fmt chunk.
    pub sample_rate: u32,
    /// Whether the header or length had to change.
    pub changed: bool,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Rewrites the RIFF and data chunk sizes of the WAV at `path` from its length.
pub fn repair(path: &Path) -> Result<Repair> {
    let bad = |reason| Error::BadWav {
        path: path.to_path_buf(),
        reason,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    let mut head = vec![0u8; len.min(4096) as usize];
    f.read_exact(&mut head)
        .map_err(|e| Error::io("read", path, e))?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE signature"));
    }
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u32)> = None;
    loop {
        if pos + 8 > head.len() {
            return Err(bad("no data chunk in the first 4 KiB"));
        }
        let id = &head[pos..pos + 4];
        let size = u32_at(&head, pos + 4) as usize;
        if id == b"data" {
            break;
        }
        if id == b"fmt " {
            if size < 16 || pos + 8 + 16 > head.len() {
                return Err(bad("short fmt chunk"));
            }
            let b = &head[pos + 8..];
            let rate = u32_at(b, 4);
            let align = u16::from_le_bytes([b[12], b[13]]);
            fmt = Some((align, rate));
        }
        pos += 8 + size + (size & 1);
    }
    let (block_align, sample_rate) = fmt.ok_or_else(|| bad("data chunk before fmt chunk"))?;
    if block_align == 0 {
        return Err(bad("block align 0"));
    }
    let data_offset = (pos + 8) as u64;
    let raw = len.saturating_sub(data_offset);
    let data_bytes = (raw - raw % u64::from(block_align)).min(u64::from(u32::MAX) - data_offset);
    let riff =
        u32::try_from(data_offset + data_bytes - 8).map_err(|_| bad("file too large for RIFF"))?;
    let data = data_bytes as u32;
    let changed = u32_at(&head, 4) != riff || u32_at(&head, pos + 4) != data || raw != data_bytes;
    if changed {
        if raw != data_bytes {
            f.set_len(data_offset + data_bytes)
                .map_err(|e| Error::io("truncate", path, e))?;
        }
        f.seek(SeekFrom::Start(4))
            .map_err(|e| Error::io("seek", path, e))?;
        f.write_all(&riff.to_le_bytes())
            .map_err(|e| Error::io("write", path, e))?;
        f.seek(SeekFrom::Start(pos as u64 + 4))
            .map_err(|e| Error::io("seek", path, e))?;
        f.write_all(&data.to_le_bytes())
            .map_err(|e| Error::io("write", path, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", path, e))?;
    }
    Ok(Repair {
        data_bytes,
        data_offset,
        block_align,
        sample_rate,
        changed,
    })
}

/// The sha256 (hex) and length of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// fsyncs a directory so a rename or create inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync dir", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, frames: usize) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * 2 {
            w.write_sample(i as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn repairs_zero_sizes_and_partial_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        write_wav(&p, 1000);
        let good = std::fs::read(&p).unwrap();
        assert!(!repair(&p).unwrap().changed);
        // Crash state: sizes zero, 3 stray bytes of an unfinished frame.
        let mut b = good.clone();
        b[4..8].copy_from_slice(&[0; 4]);
        b[40..44].copy_from_slice(&[0; 4]);
        b.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&p, &b).unwrap();
        let r = repair(&p).unwrap();
        assert!(r.changed);
        assert_eq!(r.data_bytes, 4000);
        assert_eq!((r.block_align, r.sample_rate, r.data_offset), (4, 8000, 44));
        assert_eq!(std::fs::read(&p).unwrap(), good);
        let rd = hound::WavReader::open(&p).unwrap();
        assert_eq!(rd.duration(), 1000);
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        std::fs::write(&p, b"not a wav file at all").unwrap();
        assert!(matches!(repair(&p), Err(Error::BadWav { .. })));
        std::fs::write(&p, b"RIFF\0\0\0\0WAVEdata\0\0\0\0").unwrap();
        assert!(matches!(repair(&p), Err(Error::BadWav { .. })));
        let mut b = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        b.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(repair(&p), Err(Error::BadWav { .. })));
    }
}
