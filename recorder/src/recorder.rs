//! The recorder: taps queue frames without blocking or allocating, one writer
//! thread aligns and writes every recording, one closer thread finalizes, fsyncs
//! and hashes closed files (so a slow fsync never stalls the writer).
//!
//! Frames and control messages share one bounded queue so a recording's
//! pause/stop are ordered after its frames. Frames use `try_send` (dropped and
//! counted when full); control messages block, which is fine off the media path.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::align::{place, Interleaver};
use crate::config::SpoolConfig;
use crate::frame::{Frame, Timestamp, MAX_FRAME_SAMPLES};
use crate::id::{CallId, SampleRate, Side};
use crate::meta::{Metadata, Parties, PausedSpan, RecordingState};
use crate::metrics::{Metrics, MetricsSnapshot, RecordingCounters};
use crate::spool::{RecoveryReport, Spool};
use crate::wav::{repair, sha256_file};
use crate::{Error, Result};

type Wav = hound::WavWriter<BufWriter<File>>;
type Hook = Box<dyn Fn(&Metadata) + Send + Sync>;

/// What starting a recording needs.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The call (one recording per call id).
    pub call_id: CallId,
    /// Parties, queue, agent, retention policy.
    pub parties: Parties,
    /// Rate of the PCM both sides will push.
    pub sample_rate: SampleRate,
    /// Wall-clock start, for the sidecar and the object key.
    pub started_at: DateTime<Utc>,
    /// Monotonic start: [`Timestamp::Instant`] frames are placed relative to it.
    pub now: Instant,
}

/// What [`RecordingTap::push`] did with the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// All queued.
    Queued,
    /// The queue was full: this many frames were dropped (and counted).
    Dropped(u32),
    /// The recorder has shut down.
    Closed,
}

// Frames travel inline (that is what makes a push allocation-free); the rare
// control messages are the small ones.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Frame(u64, Frame),
    Open(Box<Open>),
    Pause(u64, Instant),
    Resume(u64, Instant),
    Close(u64, Option<Instant>),
    Shutdown,
}

struct Open {
    slot: u64,
    wav: Wav,
    file: File,
    meta: Metadata,
    start: Instant,
    counters: Arc<RecordingCounters>,
}

struct Active {
    path: PathBuf,
    wav: Option<Wav>,
    file: File,
    meta: Metadata,
    start: Instant,
    rate: u64,
    il: Interleaver,
    /// Where each side's own audio ends (the interleaver may have padded past it).
    own_end: [u64; 2],
    paused_since: Option<Instant>,
    counters: Arc<RecordingCounters>,
    last_checkpoint: u64,
}

enum Job {
    Close(Box<Active>),
    StoreMeta(Box<Metadata>),
}

struct Shared {
    spool: Arc<Spool>,
    cfg: SpoolConfig,
    metrics: Metrics,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    active: Mutex<HashSet<CallId>>,
    next_slot: AtomicU64,
    hooks: Mutex<Vec<Hook>>,
}

impl Shared {
    fn fail_spool(&self, e: &Error) {
        self.metrics.write_errors.fetch_add(1, Relaxed);
        self.healthy.store(false, Relaxed);
        *self
            .last_error
            .lock()
            .expect("not poisoned: no panics under it") = Some(e.to_string());
        tracing::error!(error = %e, spool = %self.spool.dir().display(), "recording write failed; refusing new recordings until space is free");
    }
}

/// The recorder of one spool directory. Dropping it closes every recording.
pub struct Recorder {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("spool", &self.shared.spool.dir())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Opens (and locks) the spool, recovers what a crash left, starts the threads.
    pub fn open(cfg: SpoolConfig) -> Result<(Self, RecoveryReport)> {
        cfg.validate()?;
        let spool = Arc::new(Spool::open(&cfg.dir)?);
        let report = spool.recover()?;
        let (tx, rx) = crossbeam_channel::bounded(cfg.queue_frames);
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            spool,
            cfg,
            metrics: Metrics::default(),
            healthy: AtomicBool::new(true),
            last_error: Mutex::new(None),
            active: Mutex::new(HashSet::new()),
            next_slot: AtomicU64::new(1),
            hooks: Mutex::new(Vec::new()),
        });
        shared
            .metrics
            .recovered
            .store(report.recovered.len() as u64, Relaxed);
        let s1 = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("rec-writer".into())
            .spawn(move || writer_loop(&s1, &rx, &jobs_tx))
            .map_err(|e| Error::io("spawn writer", "rec-writer", e))?;
        let s2 = Arc::clone(&shared);
        let closer = std::thread::Builder::new()
            .name("rec-closer".into())
            .spawn(move || closer_loop(&s2, &jobs_rx))
            .map_err(|e| Error::io("spawn closer", "rec-closer", e))?;
        Ok((
            Self {
                shared,
                tx,
                threads: vec![writer, closer],
            },
            report,
        ))
    }

    /// The spool (shared with an [`crate::Uploader`] in the same process).
    pub fn spool(&self) -> Arc<Spool> {
        Arc::clone(&self.shared.spool)
    }

    /// Counters for metrics export.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut m = self.shared.metrics.snapshot();
        m.active = self.shared.active.lock().expect("not poisoned").len() as u64;
        m
    }

    /// Calls `f` with the sidecar of every recording that reaches the spool
    /// (closed or failed), from the closer thread. The uploader's waker goes here.
    pub fn on_spooled(&self, f: impl Fn(&Metadata) + Send + Sync + 'static) {
        self.shared
            .hooks
            .lock()
            .expect("not poisoned")
            .push(Box::new(f));
    }

    /// Starts a recording: writes its sidecar and creates its WAV now (so a full
    /// disk is an error here, not later), then hands it to the writer.
    pub fn start(&self, req: StartRequest) -> Result<RecordingTap> {
        let sh = &self.shared;
        let refuse = |e: Error| {
            sh.metrics.refused.fetch_add(1, Relaxed);
            tracing::warn!(call_id = %req.call_id, error = %e, "recording refused");
            e
        };
        let free = sh.spool.free_bytes().map_err(refuse)?;
        if free < sh.cfg.min_free_bytes {
            sh.healthy.store(false, Relaxed);
            return Err(refuse(self.spool_full(free)));
        }
        if !sh.healthy.swap(true, Relaxed) {
            tracing::info!(
                free_bytes = free,
                "spool has free space again; accepting recordings"
            );
        }
        let wav_path = sh.spool.wav_path(&req.call_id);
        let meta_path = sh.spool.meta_path(&req.call_id);
        {
            let mut active = sh.active.lock().expect("not poisoned");
            if active.contains(&req.call_id) || meta_path.exists() {
                return Err(refuse(Error::AlreadyRecording(req.call_id.to_string())));
            }
            active.insert(req.call_id.clone());
        }
        let unmark = || {
            sh.active.lock().expect("not poisoned").remove(&req.call_id);
        };
        let meta = Metadata::new(
            req.call_id.clone(),
            req.parties.clone(),
            req.started_at,
            req.sample_rate,
        );
        let created = meta.store(&meta_path).and_then(|()| {
            let file = File::create(&wav_path).map_err(|e| Error::io("create", &wav_path, e))?;
            let dup = file
                .try_clone()
                .map_err(|e| Error::io("dup", &wav_path, e))?;
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: req.sample_rate.hz(),
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let wav = hound::WavWriter::new(BufWriter::with_capacity(64 * 1024, file), spec)
                .map_err(|source| Error::Wav {
                    path: wav_path.clone(),
                    source,
                })?;
            Ok((wav, dup))
        });
        let (wav, file) = match created {
            Ok(v) => v,
            Err(e) => {
                unmark();
                let _ = std::fs::remove_file(&wav_path);
                let _ = std::fs::remove_file(&meta_path);
                if e.is_disk_full() {
                    sh.fail_spool(&e);
                }
                return Err(refuse(e));
            }
        };
        let slot = sh.next_slot.fetch_add(1, Relaxed);
        let counters = Arc::new(RecordingCounters::default());
        let open = Open {
            slot,
            wav,
            file,
            meta,
            start: req.now,
            counters: Arc::clone(&counters),
        };
        if self.tx.send(Msg::Open(Box::new(open))).is_err() {
            unmark();
            return Err(Error::WriterStopped);
        }
        sh.metrics.started.fetch_add(1, Relaxed);
        tracing::info!(call_id = %req.call_id, rate = req.sample_rate.hz(), "recording started");
        Ok(RecordingTap {
            slot,
            call_id: req.call_id,
            rate: u64::from(req.sample_rate.hz()),
            tx: self.tx.clone(),
            counters,
            shared: Arc::clone(sh),
            start: req.now,
            closed: AtomicBool::new(false),
        })
    }

    fn spool_full(&self, free: u64) -> Error {
        let sh = &self.shared;
        Error::SpoolFull {
            path: sh.spool.dir().to_path_buf(),
            free_bytes: free,
            min_free_bytes: sh.cfg.min_free_bytes,
            last_error: sh.last_error.lock().expect("not poisoned").clone(),
        }
    }

    /// Closes every open recording, waits until they are fsynced and spooled, and
    /// stops the threads.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// The producer side of one recording, held by the media path. `push` never
/// blocks and never allocates. Dropping the tap stops the recording.
pub struct RecordingTap {
    slot: u64,
    call_id: CallId,
    rate: u64,
    tx: Sender<Msg>,
    counters: Arc<RecordingCounters>,
    shared: Arc<Shared>,
    start: Instant,
    closed: AtomicBool,
}

impl std::fmt::Debug for RecordingTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingTap")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl RecordingTap {
    /// The call id.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// This recording's queue counters.
    pub fn counters(&self) -> &RecordingCounters {
        &self.counters
    }

    /// Queues decoded PCM of `side` captured at `at`, split into frames of at
    /// most [`MAX_FRAME_SAMPLES`]. Never blocks: on a full queue the frames are
    /// dropped and counted (here and in the recorder's metrics).
    pub fn push(&self, side: Side, at: Timestamp, pcm: &[i16]) -> Push {
        if self.closed.load(Relaxed) {
            return Push::Closed;
        }
        let mut dropped = 0u32;
        for (i, chunk) in pcm.chunks(MAX_FRAME_SAMPLES).enumerate() {
            let off = (i * MAX_FRAME_SAMPLES) as u64;
            let at = match at {
                Timestamp::Instant(t) => {
                    Timestamp::Instant(t + Duration::from_nanos(off * 1_000_000_000 / self.rate))
                }
                Timestamp::Sample(s) => Timestamp::Sample(s + off),
            };
            match self
                .tx
                .try_send(Msg::Frame(self.slot, Frame::new(side, at, chunk)))
            {
                Ok(()) => {
                    self.counters.queued.fetch_add(1, Relaxed);
                    self.shared.metrics.frames_queued.fetch_add(1, Relaxed);
                }
                Err(TrySendError::Full(_)) => {
                    dropped += 1;
                    self.counters.dropped.fetch_add(1, Relaxed);
                    self.shared.metrics.frames_dropped.fetch_add(1, Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return Push::Closed,
            }
        }
        if dropped > 0 {
            Push::Dropped(dropped)
        } else {
            Push::Queued
        }
    }

    /// Pauses: frames until [`Self::resume`] are discarded, the file gets silence
    /// there, and the sidecar lists the span.
    pub fn pause(&self, now: Instant) -> Result<()> {
        self.tx
            .send(Msg::Pause(self.slot, now))
            .map_err(|_| Error::WriterStopped)
    }

    /// Resumes after [`Self::pause`].
    pub fn resume(&self, now: Instant) -> Result<()> {
        self.tx
            .send(Msg::Resume(self.slot, now))
            .map_err(|_| Error::WriterStopped)
    }

    /// Ends the recording at `now`; it is then finalized, fsynced, hashed and
    /// spooled for upload in the background.
    pub fn stop(self, now: Instant) -> Result<()> {
        self.finish(now)
    }

    /// Like [`Self::stop`] through a shared reference (a tap shared with the
    /// media path): later pushes return [`Push::Closed`], and dropping the
    /// tap afterwards sends nothing. A second call does nothing.
    pub fn finish(&self, now: Instant) -> Result<()> {
        if self.closed.swap(true, Relaxed) {
            return Ok(());
        }
        self.tx
            .send(Msg::Close(self.slot, Some(now)))
            .map_err(|_| Error::WriterStopped)
    }

    /// The monotonic start of the recording ([`StartRequest::now`]): sample
    /// position 0 of [`Timestamp::Sample`].
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The recording's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate as u32
    }
}

impl Drop for RecordingTap {
    fn drop(&mut self) {
        if !self.closed.load(Relaxed) {
            let _ = self.tx.send(Msg::Close(self.slot, None));
        }
    }
}

fn writer_loop(sh: &Shared, rx: &Receiver<Msg>, jobs: &Sender<Job>) {
    let mut active: HashMap<u64, Active> = HashMap::new();
    let tol_of = |rate: u64| sh.cfg.jitter_tolerance.as_micros() as u64 * rate / 1_000_000;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Frame(slot, frame) => {
                sh.metrics.frames_written.fetch_add(1, Relaxed);
                if let Some(a) = active.get_mut(&slot) {
                    if let Err(e) = write_frame(a, &frame, tol_of(a.rate), sh) {
                        a.meta.write_error = Some(e.to_string());
                        sh.fail_spool(&e);
                        if let Some(a) = active.remove(&slot) {
                            let _ = jobs.send(Job::Close(Box::new(a)));
                        }
                    }
                }
            }
            Msg::Open(o) => {
                let rate = u64::from(o.meta.sample_rate.hz());
                let max_lag = sh.cfg.max_lag.as_millis() as u64 * rate / 1000;
                active.insert(
                    o.slot,
                    Active {
                        path: sh.spool.wav_path(&o.meta.call_id),
                        wav: Some(o.wav),
                        file: o.file,
                        meta: o.meta,
                        start: o.start,
                        rate,
                        il: Interleaver::new(max_lag),
                        own_end: [0; 2],
                        paused_since: None,
                        counters: o.counters,
                        last_checkpoint: 0,
                    },
                );
            }
            Msg::Pause(slot, now) => {
                if let Some(a) = active.get_mut(&slot) {
                    if a.paused_since.is_none() {
                        a.paused_since = Some(now);
                        let mut m = a.meta.clone();
                        m.paused.push(PausedSpan {
                            start_ms: ms_since(a.start, now),
                            end_ms: u64::MAX,
                        });
                        let _ = jobs.send(Job::StoreMeta(Box::new(m)));
                    }
                }
            }
            Msg::Resume(slot, now) => {
                if let Some(a) = active.get_mut(&slot) {
                    if let Some(since) = a.paused_since.take() {
                        a.meta.paused.push(PausedSpan {
                            start_ms: ms_since(a.start, since),
                            end_ms: ms_since(a.start, now),
                        });
                        let _ = jobs.send(Job::StoreMeta(Box::new(a.meta.clone())));
                    }
                }
            }
            Msg::Close(slot, now) => {
                if let Some(mut a) = active.remove(&slot) {
                    if let Some(since) = a.paused_since.take() {
                        // Clamped to the duration at close.
                        let end_ms = now.map_or(u64::MAX, |now| ms_since(a.start, now));
                        a.meta.paused.push(PausedSpan {
                            start_ms: ms_since(a.start, since),
                            end_ms,
                        });
                    }
                    let _ = jobs.send(Job::Close(Box::new(a)));
                }
            }
            Msg::Shutdown => break,
        }
    }
    for (_, a) in active.drain() {
        let _ = jobs.send(Job::Close(Box::new(a)));
    }
}

fn ms_since(start: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(start).as_millis() as u64
}

fn write_frame(a: &mut Active, f: &Frame, tol: u64, sh: &Shared) -> Result<()> {
    if a.paused_since.is_some() || a.meta.truncated {
        return Ok(());
    }
    let (raw, tol) = match f.at {
        Timestamp::Instant(t) => (
            (t.saturating_duration_since(a.start).as_nanos() * u128::from(a.rate) / 1_000_000_000)
                as u64,
            tol,
        ),
        Timestamp::Sample(s) => (s, 0),
    };
    let side = f.side.channel();
    let pcm = f.pcm();
    let Some(p) = place(a.own_end[side], a.il.end(side), raw, pcm.len(), tol) else {
        a.meta.late_frames += 1;
        sh.metrics.frames_late.fetch_add(1, Relaxed);
        return Ok(());
    };
    if p.skip > 0 {
        a.meta.late_frames += 1;
        sh.metrics.frames_late.fetch_add(1, Relaxed);
    }
    let max = sh.cfg.max_duration.as_secs() * a.rate;
    let mut pcm = &pcm[p.skip..];
    if p.start + pcm.len() as u64 > max {
        a.meta.truncated = true;
        pcm = &pcm[..max.saturating_sub(p.start).min(pcm.len() as u64) as usize];
        if pcm.is_empty() {
            return Ok(());
        }
    }
    let path = &a.path;
    let wav = a.wav.as_mut().expect("wav present while active");
    let mut sink = |b: &[i16]| -> Result<()> {
        let mut w = wav.get_i16_writer(b.len() as u32);
        for &s in b {
            w.write_sample(s);
        }
        w.flush().map_err(|source| Error::Wav {
            path: path.to_path_buf(),
            source,
        })
    };
    a.own_end[side] = p.start + pcm.len() as u64;
    a.il.push(side, p.start, pcm, &mut sink)?;
    let every = sh.cfg.checkpoint_every.as_millis() as u64 * a.rate / 1000;
    if a.il.written() - a.last_checkpoint >= every {
        a.last_checkpoint = a.il.written();
        wav.flush().map_err(|source| Error::Wav {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

fn closer_loop(sh: &Shared, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::StoreMeta(m) => {
                if let Err(e) = m.store(&sh.spool.meta_path(&m.call_id)) {
                    tracing::warn!(call_id = %m.call_id, error = %e, "sidecar update failed");
                }
            }
            Job::Close(a) => {
                let id = a.meta.call_id.clone();
                let meta = close(sh, *a);
                sh.active.lock().expect("not poisoned").remove(&id);
                sh.metrics.spooled.fetch_add(1, Relaxed);
                for h in sh.hooks.lock().expect("not poisoned").iter() {
                    h(&meta);
                }
            }
        }
    }
}

/// Finalizes, fsyncs and hashes a recording and writes its closed sidecar.
fn close(sh: &Shared, mut a: Active) -> Metadata {
    let path = a.path.clone();
    let mut wav = a.wav.take().expect("wav present until close");
    if a.meta.write_error.is_none() {
        let mut sink = |b: &[i16]| -> Result<()> {
            let mut w = wav.get_i16_writer(b.len() as u32);
            for &s in b {
                w.write_sample(s);
            }
            w.flush().map_err(|source| Error::Wav {
                path: path.clone(),
                source,
            })
        };
        if let Err(e) = a.il.drain(true, &mut sink).and_then(|()| {
            wav.finalize().map_err(|source| Error::Wav {
                path: path.clone(),
                source,
            })
        }) {
            a.meta.write_error = Some(e.to_string());
            sh.fail_spool(&e);
        }
    } else {
        // After a write error finalizing would only fail again (its errors are
        // ignored on drop); repair below sets the header from what reached the file.
        drop(wav);
    }
    let mut meta = a.meta;
    meta.dropped_frames = a.counters.dropped();
    let done = a
        .file
        .sync_all()
        .map_err(|e| Error::io("fsync", &path, e))
        .and_then(|()| repair(&path))
        .and_then(|r| {
            meta.duration_ms =
                r.data_bytes / u64::from(r.block_align) * 1000 / u64::from(r.sample_rate);
            sha256_file(&path)
        });
    match done {
        Ok((sha, size)) => {
            meta.sha256 = Some(sha);
            meta.size = Some(size);
            meta.state = RecordingState::Spooled;
        }
        Err(e) => {
            tracing::error!(call_id = %meta.call_id, error = %e, "closing recording failed");
            meta.write_error.get_or_insert_with(|| e.to_string());
            meta.state = RecordingState::Failed;
        }
    }
    for p in &mut meta.paused {
        p.end_ms = p.end_ms.min(meta.duration_ms);
    }
    if let Err(e) = meta.store(&sh.spool.meta_path(&meta.call_id)) {
        // The sidecar still says `recording`: recovery closes it at the next start.
        tracing::error!(call_id = %meta.call_id, error = %e, "writing closed sidecar failed");
    } else {
        tracing::info!(call_id = %meta.call_id, duration_ms = meta.duration_ms, dropped = meta.dropped_frames, state = meta.state.as_str(), "recording spooled");
    }
    meta
}
