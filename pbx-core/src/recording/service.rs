//! The recorder thread and the driver's side of it. The driver notes what
//! the engine and the ACD report ([`RecordingHook::note_event`],
//! [`RecordingHook::note_queue_event`]) and, once the step's records are
//! queued, sends the starts and stops ([`RecordingHook::flush`]) to the
//! recorder thread, which does the blocking work: `Recorder::start`
//! (fsyncs), `RelayRecording::finish` (may wait for queue room).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use recorder::{Index, Parties, Recorder, RelayRecording, SampleRate, StartRequest, Store};

use super::access::RecordingAccess;
use super::upload::{UploadLoop, UploadStop};
use super::{RecordingConfig, RecordingMode};
use crate::b2bua::{CallEventKind, CallId, Engine, EngineEvent, EngineEventKind};
use crate::media_anchor::{MediaAnchor, RecordStopped};
use crate::store::CdrQueue;

/// What the recorder thread is asked to do.
enum Cmd {
    Start {
        call: CallId,
        relay: u64,
        parties: Parties,
    },
    Stop {
        call: CallId,
        now: Instant,
    },
    /// Pause (true) or resume the call's recording.
    Pause {
        call: CallId,
        paused: bool,
        now: Instant,
    },
    Stopped(RecordStopped),
}

/// A recording in progress.
struct Active {
    rec: Arc<RelayRecording>,
    relay: u64,
    key: String,
}

/// Why recording could not start (the server does not start either: a
/// configured component that fails stops the process).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The spool, index or store could not be opened.
    #[error("recording: {0}")]
    Recorder(#[from] recorder::Error),
    /// `[recording]` needs the media relay (`media.anchor`).
    #[error("recording.mode = \"{0}\" needs media.anchor = \"always\" or \"nat\"")]
    NoRelay(&'static str),
    /// The recorder thread could not be spawned.
    #[error("recording: cannot spawn the recorder thread: {0}")]
    Thread(std::io::Error),
    /// `recording.transcribe` is on but cannot run.
    #[error(transparent)]
    Transcriber(#[from] super::transcripts::TranscriberError),
}

/// The running recording service: the recorder thread (its handle joins
/// it after the server's stop flag) and the access for the HTTP API.
pub struct Recordings {
    /// The recorder thread: ends after the stop flag, once every recording
    /// is spooled and the uploads in flight are done.
    pub thread: JoinHandle<()>,
    /// Listing and downloads (`GET /recordings/ID`).
    pub access: Arc<RecordingAccess>,
}

impl Recordings {
    /// Opens the spool (recovering what a crash left), the index and the
    /// store, starts the uploader task (inside a tokio runtime) and the
    /// recorder thread, which ends once `stop` is set. Returns the service
    /// and the hook for the engine's driver.
    pub fn start(
        config: &RecordingConfig,
        anchor: Option<Arc<MediaAnchor>>,
        records: CdrQueue,
        stop: Arc<AtomicBool>,
    ) -> Result<(Self, RecordingHook), StartError> {
        let anchor = anchor.ok_or(StartError::NoRelay(config.mode.as_str()))?;
        let (recorder, recovered) = Recorder::open(config.spool.clone())?;
        if !recovered.recovered.is_empty() || !recovered.failed.is_empty() {
            tracing::warn!(
                recovered = recovered.recovered.len(),
                failed = recovered.failed.len(),
                "recordings recovered after a crash"
            );
        }
        let index = Arc::new(Index::open(&config.index)?);
        let store = Store::from_config(&config.upload)?;
        let spool = recorder.spool();
        let uploads = UploadLoop::new(
            config,
            spool.clone(),
            store.clone(),
            index.clone(),
            records.clone(),
        )?;
        let transcriber = config
            .transcribe_workers
            .map(|w| super::transcripts::Transcriber::start(w, index.clone()))
            .transpose()?;
        {
            let (store, records, uploads) = (store.clone(), records.clone(), uploads.notifier());
            let spool = spool.clone();
            recorder.on_spooled(move |meta| {
                let key = store.wav_key(meta.started_at, &meta.call_id).to_string();
                records.recording_state(meta.call_id.as_str(), meta.state.as_str(), Some(key));
                // Read for the transcript before the uploader may delete it.
                if let (Some(t), recorder::RecordingState::Spooled) = (&transcriber, meta.state) {
                    t.spooled(&meta.call_id, &spool.wav_path(&meta.call_id));
                }
                uploads.spooled(&meta.call_id, meta.state);
            });
        }
        let upload_stop = uploads.spawn();
        let access = Arc::new(RecordingAccess::serving(index, spool, store.clone()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = RecorderThread {
            recorder: Some(recorder),
            anchor,
            records,
            store,
            active: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("pbx-recorder".into())
            .spawn(move || thread.run(&rx, &stop, upload_stop))
            .map_err(StartError::Thread)?;
        tracing::info!(mode = config.mode.as_str(), spool = %config.spool.dir.display(), "call recording on");
        let hook = RecordingHook {
            mode: config.mode,
            tx,
            parties: HashMap::new(),
            started: HashSet::new(),
            to_start: Vec::new(),
            to_stop: Vec::new(),
            paused: HashSet::new(),
            pause_code: config.pause_code.clone(),
            keys: HashMap::new(),
        };
        Ok((Self { thread, access }, hook))
    }
}

struct RecorderThread {
    recorder: Option<Recorder>,
    anchor: Arc<MediaAnchor>,
    records: CdrQueue,
    store: Store,
    active: HashMap<CallId, Active>,
}

impl RecorderThread {
    fn run(mut self, rx: &Receiver<Cmd>, stop: &AtomicBool, uploads: UploadStop) {
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stop.load(Ordering::Relaxed) {
                // The engine's driver has stopped (it is joined before the
                // stop flag is set): its last stops are queued.
                while let Ok(cmd) = rx.try_recv() {
                    self.handle(cmd);
                }
                break;
            }
        }
        let now = Instant::now();
        for (call, a) in std::mem::take(&mut self.active) {
            self.stop(call, a, now);
        }
        if let Some(r) = self.recorder.take() {
            // Closes, fsyncs and spools what is open (the hooks mark the records).
            r.shutdown();
        }
        uploads.stop_and_wait(Duration::from_secs(30));
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Start {
                call,
                relay,
                parties,
            } => self.start(call, relay, parties),
            Cmd::Stop { call, now } => {
                if let Some(a) = self.active.remove(&call) {
                    self.stop(call, a, now);
                }
            }
            Cmd::Pause { call, paused, now } => {
                let Some(a) = self.active.get(&call) else {
                    return;
                };
                let done = if paused {
                    a.rec.tap().pause(now)
                } else {
                    a.rec.tap().resume(now)
                };
                match done {
                    Ok(()) => tracing::info!(%call, paused, "recording paused / resumed"),
                    Err(e) => tracing::warn!(%call, error = %e, "recording not paused / resumed"),
                }
            }
            Cmd::Stopped(s) => {
                tracing::debug!(relay = s.relay_id, stats = ?s.stats, "relay stopped feeding a recording");
            }
        }
    }

    fn start(&mut self, call: CallId, relay: u64, parties: Parties) {
        if let Some(a) = self.active.get_mut(&call) {
            // Bridged again (transfer, queue hand-over): one recording per
            // call; a new relay session continues it.
            if a.relay != relay {
                self.anchor.stop_record(a.relay);
                self.anchor.record(relay, a.rec.clone());
                a.relay = relay;
            }
            return;
        }
        let Some(recorder) = &self.recorder else {
            return;
        };
        let id = recorder::CallId::sanitized(&call.to_string());
        let started_at = chrono::Utc::now();
        let req = StartRequest {
            call_id: id.clone(),
            parties,
            sample_rate: SampleRate::Hz8000,
            started_at,
            now: Instant::now(),
        };
        match recorder.start(req) {
            Ok(tap) => {
                // Relay leg A is the caller: the left channel.
                let rec = Arc::new(RelayRecording::new(tap, media::relay::Side::A));
                self.anchor.record(relay, rec.clone());
                let key = self.store.wav_key(started_at, &id).to_string();
                self.active.insert(call, Active { rec, relay, key });
            }
            // Refused (disk full, already recorded): logged and counted by
            // the recorder; the call goes on unrecorded.
            Err(e) => tracing::warn!(%call, error = %e, "call not recorded"),
        }
    }

    fn stop(&self, call: CallId, a: Active, now: Instant) {
        self.anchor.stop_record(a.relay);
        // After the call's record (the driver sends the stop once the
        // step with the record is queued); the closer marks it spooled.
        self.records
            .recording_state(&call.to_string(), "recording", Some(a.key));
        if let Err(e) = a.rec.finish(now) {
            tracing::warn!(%call, error = %e, "recording not finished");
        }
    }
}

/// The driver's side: notes bridged calls and call ends, sends the
/// requests after each step. Never blocks.
pub struct RecordingHook {
    mode: RecordingMode,
    tx: Sender<Cmd>,
    /// Live calls' parties (caller, callee; queue and agent once connected).
    parties: HashMap<CallId, Parties>,
    /// Calls whose recording was requested.
    started: HashSet<CallId>,
    to_start: Vec<CallId>,
    to_stop: Vec<CallId>,
    /// Recordings paused now.
    paused: HashSet<CallId>,
    /// The in-call key sequence that pauses / resumes (`recording.pause_code`).
    pause_code: Option<String>,
    /// Per recorded call, the keys pressed toward the pause code so far.
    keys: HashMap<CallId, String>,
}

/// Why a pause or resume was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PauseError {
    /// The call is not being recorded.
    #[error("call {0} is not being recorded")]
    NotRecording(CallId),
    /// It is paused already (pause) or not paused (resume).
    #[error("the recording of call {0} is {1} already")]
    Already(CallId, &'static str),
}

impl RecordingHook {
    /// Pauses (true) or resumes the recording of `call` (the CLI, the API,
    /// the in-call pause code): the paused stretch is silence in the file
    /// and a span in the recording's metadata.
    pub fn set_paused(&mut self, call: CallId, paused: bool) -> Result<(), PauseError> {
        if !self.started.contains(&call) {
            return Err(PauseError::NotRecording(call));
        }
        let changed = if paused {
            self.paused.insert(call)
        } else {
            self.paused.remove(&call)
        };
        if !changed {
            return Err(PauseError::Already(
                call,
                if paused { "paused" } else { "running" },
            ));
        }
        let _ = self.tx.send(Cmd::Pause {
            call,
            paused,
            now: Instant::now(),
        });
        Ok(())
    }

    /// A key pressed in a recorded call: the pause code toggles the pause.
    fn note_key(&mut self, call: CallId, digit: char) {
        let Some(code) = self.pause_code.as_deref() else {
            return;
        };
        if !self.started.contains(&call) {
            return;
        }
        let typed = self.keys.entry(call).or_default();
        typed.push(digit);
        if !code.starts_with(typed.as_str()) {
            // Start again from this key if it begins the code.
            typed.clear();
            if code.starts_with(digit) {
                typed.push(digit);
            }
        }
        if typed == code {
            typed.clear();
            let pause = !self.paused.contains(&call);
            if let Err(e) = self.set_paused(call, pause) {
                tracing::debug!(%call, error = %e, "pause code ignored");
            }
        }
    }

    /// An engine event of this step.
    pub fn note_event(&mut self, ev: &EngineEvent) {
        let EngineEventKind::Call(call) = &ev.kind else {
            return;
        };
        match &call.kind {
            CallEventKind::Created { caller, callee } => {
                self.parties.insert(
                    call.call,
                    Parties {
                        caller: Some(caller.clone()),
                        callee: Some(callee.clone()),
                        ..Parties::default()
                    },
                );
            }
            CallEventKind::Bridged { .. } if self.mode == RecordingMode::Always => {
                self.to_start.push(call.call);
            }
            CallEventKind::Dtmf { digit, .. } => self.note_key(call.call, *digit),
            CallEventKind::Ended { .. } => self.to_stop.push(call.call),
            _ => {}
        }
    }

    /// A queue event of this step: a connected agent makes a queue call
    /// recordable (`mode = "queues"`) and names queue and agent.
    pub fn note_queue_event(&mut self, ev: &acd::QueueEvent) {
        let (acd::EventKind::Connect { .. }, Some(call)) = (&ev.kind, ev.call) else {
            return;
        };
        let call = CallId(call.0);
        let p = self.parties.entry(call).or_default();
        p.queue = ev.queue.as_ref().map(ToString::to_string);
        p.agent = ev.agent.as_ref().map(ToString::to_string);
        if self.mode != RecordingMode::Off {
            self.to_start.push(call);
        }
    }

    /// After the step's records are queued: starts the recordings of the
    /// calls bridged in it (on their relay sessions), then stops those of
    /// the calls that ended.
    pub fn flush(&mut self, engine: &Engine, now: Instant) {
        for call in std::mem::take(&mut self.to_start) {
            let Some(relay) = engine.relay_session(call) else {
                tracing::debug!(%call, "bridged call without relayed media: not recorded");
                continue;
            };
            self.started.insert(call);
            let parties = self.parties.get(&call).cloned().unwrap_or_default();
            let _ = self.tx.send(Cmd::Start {
                call,
                relay,
                parties,
            });
        }
        for call in std::mem::take(&mut self.to_stop) {
            self.parties.remove(&call);
            self.paused.remove(&call);
            self.keys.remove(&call);
            if self.started.remove(&call) {
                let _ = self.tx.send(Cmd::Stop { call, now });
            }
        }
    }

    /// A recording tap the relay removed: its sink goes to the recorder
    /// thread (never dropped on the driver's thread).
    pub fn record_stopped(&self, stopped: RecordStopped) {
        let _ = self.tx.send(Cmd::Stopped(stopped));
    }
}
