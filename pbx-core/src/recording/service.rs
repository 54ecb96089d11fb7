//! The recorder thread and the driver's side of it. The driver notes what
//! the engine and the ACD report ([`RecordingHook::note_event`],
//! [`RecordingHook::note_queue_event`]) and, once the step's records are
//! queued, sends the starts and stops ([`RecordingHook::flush`]) to the
//! recorder thread, which does the blocking work: `Recorder::start`
//! (fsyncs), `RelayRecording::finish` (may wait for queue room).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use recorder::{
    Index, Parties, Recorder, RelayRecording, RoomRecording, SampleRate, StartRequest, Store,
};

use super::access::RecordingAccess;
use super::hook::RecordingHook;
use super::upload::{UploadLoop, UploadStop};
use super::RecordingConfig;
use crate::b2bua::CallId;
use crate::media_anchor::{MediaAnchor, RecordStopped};
use crate::store::CdrQueue;

/// What the recorder thread is asked to do.
pub(super) enum Cmd {
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
    /// Record a conference room's mix (SPEC §22).
    StartRoom {
        room: String,
    },
    /// Its session ended.
    StopRoom {
        room: String,
        now: Instant,
    },
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
    #[error("recording (recording.mode = \"{0}\" or a recording policy) needs media.anchor = \"always\" or \"nat\"")]
    NoRelay(&'static str),
    /// The signed-link secret could not be read or made.
    #[error("recording: the link key {0}: {1}")]
    LinkKey(String, std::io::Error),
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
        endpoints: Option<Arc<crate::b2bua::media::EndpointService>>,
        records: CdrQueue,
        dialplan: crate::routing::SharedDialplan,
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
        let link = super::LinkKey::load_or_create(&config.link_key)
            .map_err(|e| StartError::LinkKey(config.link_key.display().to_string(), e))?;
        let access = Arc::new(RecordingAccess::serving(index, spool, store.clone(), link));
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = RecorderThread {
            recorder: Some(recorder),
            anchor,
            records,
            store,
            active: HashMap::new(),
            endpoints,
            rooms: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("pbx-recorder".into())
            .spawn(move || thread.run(&rx, &stop, upload_stop))
            .map_err(StartError::Thread)?;
        tracing::info!(mode = config.mode.as_str(), spool = %config.spool.dir.display(), "call recording on");
        let hook = RecordingHook::new(
            config.mode,
            config.policy.clone(),
            dialplan,
            config.pause_code.clone(),
            tx,
        );
        Ok((Self { thread, access }, hook))
    }
}

struct RecorderThread {
    recorder: Option<Recorder>,
    anchor: Arc<MediaAnchor>,
    records: CdrQueue,
    store: Store,
    active: HashMap<CallId, Active>,
    /// pbx's media endpoints, whose mixer has the conference rooms.
    endpoints: Option<Arc<crate::b2bua::media::EndpointService>>,
    /// Rooms recorded now.
    rooms: HashMap<String, Arc<RoomRecording>>,
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
        for room in self.rooms.keys().cloned().collect::<Vec<_>>() {
            self.stop_room(&room, now);
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
            Cmd::StartRoom { room } => self.start_room(room),
            Cmd::StopRoom { room, now } => self.stop_room(&room, now),
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

    /// One mixed recording of the room's session, `room-<room>-<start>`.
    fn start_room(&mut self, room: String) {
        let (Some(recorder), Some(endpoints)) = (&self.recorder, &self.endpoints) else {
            tracing::debug!(room, "no media endpoints: conference not recorded");
            return;
        };
        if self.rooms.contains_key(&room) {
            return;
        }
        let started_at = chrono::Utc::now();
        let id = recorder::CallId::sanitized(&format!(
            "room-{room}-{}",
            started_at.format("%Y%m%dT%H%M%S%3f")
        ));
        let req = StartRequest {
            call_id: id.clone(),
            parties: Parties {
                caller: Some("conference".to_owned()),
                callee: Some(room.clone()),
                ..Parties::default()
            },
            sample_rate: SampleRate::Hz8000,
            started_at,
            now: Instant::now(),
        };
        match recorder.start(req) {
            Ok(tap) => {
                let rec = Arc::new(RoomRecording::new(tap));
                endpoints.host().record_room(&room, Some(rec.clone()));
                tracing::info!(room, recording = %id, "conference room recorded");
                self.rooms.insert(room, rec);
            }
            Err(e) => tracing::warn!(room, error = %e, "conference room not recorded"),
        }
    }

    fn stop_room(&mut self, room: &str, now: Instant) {
        let Some(rec) = self.rooms.remove(room) else {
            return;
        };
        if let Some(endpoints) = &self.endpoints {
            endpoints.host().record_room(room, None);
        }
        if let Err(e) = rec.finish(now) {
            tracing::warn!(room, error = %e, "room recording not finished");
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
