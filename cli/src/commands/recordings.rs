//! `pbx recordings`: the call recordings of this configuration — `list`
//! (from the recordings index and the spool) and `get CALL_ID -o FILE`
//! (from the spool while a recording waits there, else from the object
//! store: the local directory or S3). Works beside a running server.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pbx_core::recording::RecordingAccess;

/// `pbx recordings` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RecordingsCmd {
    /// Recordings, newest first: call, start, duration, state, parties, key.
    List {
        /// Started at or after (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, local
        /// time of `calls.utc_offset_minutes`).
        #[arg(long)]
        from: Option<String>,
        /// Started before (same forms).
        #[arg(long)]
        to: Option<String>,
        /// Only this call (`c` and 16 hex digits).
        #[arg(long)]
        call: Option<String>,
    },
    /// Writes a call's stereo WAV (caller left, agent right) to a file.
    Get {
        /// The call id.
        call_id: String,
        /// Output file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Pause a live call's recording (silence in the file until resumed;
    /// the span is in the recording's metadata).
    Pause {
        /// The call id (`pbx calls`).
        call_id: String,
    },
    /// Resume a paused recording.
    Resume {
        /// The call id.
        call_id: String,
    },
    /// A signed download link of a call's recording that works without the
    /// admin token until it expires (`GET /links/recordings/ID?…`).
    Link {
        /// The call id.
        call_id: String,
        /// How long the link works (`30m`, `1h`, `24h`; at most a week).
        #[arg(long, default_value = "1h", value_parser = crate::phone::parse_duration)]
        expires: std::time::Duration,
    },
    /// A call's transcript (`recording.transcribe`): one line per segment,
    /// start and end in the recording, the speaker (caller / agent), text.
    Transcript {
        /// The call id.
        call_id: String,
    },
}

/// `pbx recordings list|get`.
pub(crate) fn run(path: Option<&Path>, action: RecordingsCmd) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    if let RecordingsCmd::Pause { call_id } | RecordingsCmd::Resume { call_id } = &action {
        let op = if matches!(action, RecordingsCmd::Pause { .. }) {
            "pause"
        } else {
            "resume"
        };
        let (status, body) = super::admin_http::request(
            &config,
            "live calls",
            "POST",
            &format!("/recordings/{call_id}/{op}"),
        )?;
        if status != 200 {
            anyhow::bail!(
                "server answered {status}: {}",
                super::admin_http::error_of(&body)
            );
        }
        crate::output::note!("recording of {call_id}: {op}d");
        return Ok(ExitCode::SUCCESS);
    }
    if let RecordingsCmd::Link { call_id, expires } = &action {
        let secs = expires.as_secs().max(1);
        let (status, body) = super::admin_http::request(
            &config,
            "recording links",
            "POST",
            &format!("/recordings/{call_id}/link?expires_secs={secs}"),
        )?;
        if status != 200 {
            anyhow::bail!(
                "server answered {status}: {}",
                super::admin_http::error_of(&body)
            );
        }
        let v: serde_json::Value = serde_json::from_str(&body).context("the server's link")?;
        let url = v["url"].as_str().unwrap_or_default();
        let addr = config
            .metrics_listen
            .map_or_else(String::new, |a| format!("http://{a}"));
        crate::output::stdout(|out| writeln!(out, "{addr}{url}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let access = RecordingAccess::for_admin(&config.recording)
        .with_context(|| format!("opening the recordings of {}", config.source))?;
    let offset = i64::from(config.dialplan.utc_offset_secs);
    match action {
        RecordingsCmd::List { from, to, call } => {
            let from = from
                .map(|f| super::cdr::parse_local(&f, offset))
                .transpose()?;
            let to = to
                .map(|t| super::cdr::parse_local(&t, offset))
                .transpose()?;
            let filter = RecordingAccess::filter(from, to, call.as_deref())?;
            let rows = access.list(&filter)?;
            if rows.is_empty() {
                crate::output::note!("no recordings");
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(
                    out,
                    "call\tstart\tduration_s\tstate\tcaller\tcallee\tqueue\tagent\tkey"
                )?;
                for e in &rows {
                    let m = &e.meta;
                    let p = &m.parties;
                    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    writeln!(
                        out,
                        "{}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}\t{}",
                        m.call_id,
                        super::cdr::format_local(
                            m.started_at.timestamp_millis().max(0) as u64,
                            offset
                        ),
                        m.duration_ms as f64 / 1000.0,
                        e.state.as_str(),
                        or(&p.caller),
                        or(&p.callee),
                        or(&p.queue),
                        or(&p.agent),
                        or(&e.key),
                    )?;
                }
                Ok(())
            })?;
        }
        RecordingsCmd::Transcript { call_id } => {
            let segments = access
                .transcript(&call_id)
                .with_context(|| format!("reading the transcript of {call_id}"))?;
            if segments.is_empty() {
                crate::output::note!(
                    "no transcript of {call_id} (yet): recording.transcribe is off, the call was                      silent, or its recording waits for a worker"
                );
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(out, "start	end	speaker	text")?;
                for s in &segments {
                    let speaker = if s.channel == 0 { "caller" } else { "agent" };
                    let mark = if s.edited { " (edited)" } else { "" };
                    writeln!(
                        out,
                        "{:.1}	{:.1}	{speaker}	{}{mark}",
                        s.start_ms as f64 / 1000.0,
                        s.end_ms as f64 / 1000.0,
                        s.text
                    )?;
                }
                Ok(())
            })?;
        }
        RecordingsCmd::Pause { .. } | RecordingsCmd::Resume { .. } | RecordingsCmd::Link { .. } => {
        }
        RecordingsCmd::Get { call_id, output } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let size = runtime
                .block_on(access.download(&call_id, &output))
                .with_context(|| format!("getting the recording of {call_id}"))?;
            crate::output::note!("{} bytes written to {}", size, output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
