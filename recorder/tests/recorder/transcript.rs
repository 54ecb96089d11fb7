//! Transcripts with the real pocketsphinx CLI: an espeak-ng sentence in the
//! caller channel comes back as words with plausible times; edits and learn
//! state persist in the index.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recorder::transcript::{Job, JobSource, LearnState, Pocketsphinx, TranscriptPool};
use recorder::{CallId, Index, Recorder, SampleRate, Side, Timestamp};

use crate::common::*;

const SENTENCE: &str = "hello world. please call me back tomorrow morning.";
const WORDS: [&str; 7] = [
    "hello", "world", "please", "call", "back", "tomorrow", "morning",
];

/// espeak-ng → sox → 16 kHz mono samples, or `None` (skipped) when the tools are missing.
fn speech_16k(dir: &std::path::Path) -> Option<Vec<i16>> {
    let raw = dir.join("say.wav");
    let out = dir.join("say16.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "130", "-w"])
        .arg(&raw)
        .arg(SENTENCE)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("sox")
            .arg(&raw)
            .args(["-r", "16000", "-c", "1", "-b", "16"])
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        skip_or_fail("espeak-ng or sox missing (scripts/deps.sh installs them)");
        return None;
    }
    let r = hound::WavReader::open(&out).unwrap();
    Some(r.into_samples::<i16>().map(Result::unwrap).collect())
}

#[test]
fn espeak_sentence_is_transcribed_with_times_and_edits_persist() {
    let ps = Pocketsphinx::default();
    if !ps.available() {
        skip_or_fail("pocketsphinx_continuous missing (Debian pocketsphinx, pocketsphinx-en-us)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = speech_16k(dir.path()) else {
        return;
    };
    let speech_ms = speech.len() as u64 * 1000 / 16000;
    // The sentence starts 1 s into the call on the caller side; the agent is silent.
    let (rec, _) = Recorder::open(spool_cfg(&dir.path().join("spool"))).unwrap();
    let t0 = Instant::now();
    let tap = rec
        .start(start_req("asr", SampleRate::Hz16000, t0))
        .unwrap();
    for (i, chunk) in speech.chunks(320).enumerate() {
        tap.push(
            Side::Caller,
            Timestamp::Sample(16000 + i as u64 * 320),
            chunk,
        );
    }
    tap.push(
        Side::Agent,
        Timestamp::Sample(16000 + speech.len() as u64 + 8000),
        &[0; 320],
    );
    tap.stop(t0).unwrap();
    let meta = wait_closed(&dir.path().join("spool"), "asr");
    assert!(meta.duration_ms >= 1000 + speech_ms);

    let index = Arc::new(Index::open(&dir.path().join("index.sqlite")).unwrap());
    let pool = TranscriptPool::new(2, 4, Arc::new(ps), Arc::clone(&index)).unwrap();
    let id = CallId::new("asr").unwrap();
    pool.submit(Job {
        call_id: id.clone(),
        wav: JobSource::File(dir.path().join("spool/asr.wav")),
    })
    .unwrap();
    wait_for(Duration::from_secs(60), || {
        (pool.counts().0 + pool.counts().1 > 0).then_some(())
    });
    assert_eq!(pool.counts(), (1, 0));
    let segs = index.transcript(&id).unwrap();
    eprintln!("transcript: {segs:?}");
    assert!(!segs.is_empty());
    assert!(
        segs.iter().all(|s| s.channel == 0),
        "the silent agent channel yields nothing"
    );
    let text = segs
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let hits: Vec<&str> = WORDS
        .iter()
        .copied()
        .filter(|w| text.split(' ').any(|t| t == *w))
        .collect();
    assert!(!hits.is_empty(), "none of {WORDS:?} in {text:?}");
    for s in &segs {
        assert!(
            s.start_ms >= 800 && s.end_ms <= 1000 + speech_ms + 300 && s.start_ms < s.end_ms,
            "segment outside the speech: {s:?}"
        );
    }

    // Edits persist, survive a re-run of recognition, and learn goes none → pending → learned.
    let first = &segs[0];
    index
        .edit_segment(&id, first.channel, first.seq, "hello world")
        .unwrap();
    index.put_transcript(&id, &segs).unwrap();
    let again = index.transcript(&id).unwrap();
    assert!(again.iter().any(|s| s.text == "hello world" && s.edited));
    assert!(matches!(
        index.edit_segment(&id, 1, 99, "x"),
        Err(recorder::Error::NotFound(_))
    ));
    assert_eq!(index.learn_state(&id).unwrap(), LearnState::None);
    let now = chrono::Utc::now();
    index.set_learn(&id, LearnState::Pending, now).unwrap();
    assert_eq!(index.pending_learn().unwrap(), vec![id.clone()]);
    index.set_learn(&id, LearnState::Learned, now).unwrap();
    assert_eq!(index.learn_state(&id).unwrap(), LearnState::Learned);
    assert!(index.pending_learn().unwrap().is_empty());

    // An 8 kHz recording goes through sox resampling without error.
    let pcm8: Vec<i16> = speech.iter().step_by(2).copied().collect();
    let segs8 =
        recorder::transcript::Recognizer::recognize(&Pocketsphinx::default(), &pcm8, 8000).unwrap();
    assert!(
        segs8.iter().all(|s| s.end_ms <= speech_ms + 300),
        "{segs8:?}"
    );
}
