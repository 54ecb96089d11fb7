//! `pbx ivr validate|render|simulate`: the IVR designer's tool chain over
//! flow files; `pbx ivr trace CALL_ID`: a call's stored path through the flows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};

#[derive(Subcommand)]
pub(crate) enum IvrCmd {
    /// Check flow files (or directories of them): errors as file:line:column, then warnings.
    Validate {
        /// Flow files or directories.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
    },
    /// Print a flow as a Graphviz DOT or Mermaid graph.
    Render {
        /// The flow file.
        flow: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Mermaid)]
        format: Format,
    },
    /// Run a flow against scripted input and print its trajectory step by step.
    Simulate {
        /// The flow file.
        flow: PathBuf,
        /// Keys pressed, one group per prompt/wait, e.g. `1,2#` or `7,8,1`.
        #[arg(long, default_value = "")]
        digits: String,
        /// Local start time of the call, e.g. `2026-11-26T10:00` or RFC 3339.
        #[arg(long)]
        at: Option<String>,
        /// Caller number.
        #[arg(long)]
        caller: Option<String>,
        /// Canned answers for http nodes (a TOML fixture, see fixtures/ivr/http/);
        /// nodes without one POST to their real `http://` URL.
        #[arg(long, alias = "http-fixture")]
        http: Option<PathBuf>,
        /// Print the trajectory as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also trust the CA certificates of this PEM file for `https://`
        /// http nodes (as `[ivr] http_ca_file` does for the server).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Print the stored trajectory of a call through the IVR (the call id as
    /// `pbx cdr` shows it). Flows reload by themselves when their files
    /// change; `kill -HUP` the server to reload them all at once.
    Trace {
        /// The call id (`c` + 16 hex digits).
        call_id: String,
        /// Print the stored JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Dot,
    Mermaid,
}

pub(crate) fn run(config: Option<&Path>, cmd: IvrCmd) -> anyhow::Result<ExitCode> {
    let (out, code) = match cmd {
        IvrCmd::Validate { flows } => ivr::cli::validate_cmd(&flows),
        IvrCmd::Render { flow, format } => {
            let f = match format {
                Format::Dot => "dot",
                Format::Mermaid => "mermaid",
            };
            ivr::cli::render_cmd(&flow, f)
        }
        IvrCmd::Simulate {
            flow,
            digits,
            at,
            caller,
            http,
            json,
            ca_file,
        } => {
            let mut script = ivr::SimScript {
                digits: ivr::SimScript::parse_digits(&digits)?,
                ..ivr::SimScript::default()
            };
            if let Some(at) = at {
                script.at = ivr::SimScript::parse_at(&at)?;
            }
            if let Some(caller) = caller {
                script.caller = caller;
            }
            if let Some(http) = http {
                script.http = ivr::SimScript::load_http_fixture(&http)?;
            }
            let answer = real_http(script.http.clone(), ca_file.as_deref())?;
            ivr::cli::simulate_with_cmd(&flow, &script, json, answer)
        }
        IvrCmd::Trace { call_id, json } => trace(config, &call_id, json)?,
    };
    if code == 0 {
        crate::output::print(&out)?;
    } else {
        crate::output::note_raw(&out);
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Answers http nodes from the fixture (by node id, then URL), else with a
/// real POST through the server's client; the measured latency becomes the
/// simulated one.
fn real_http(
    canned: HashMap<String, ivr::CannedHttp>,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<impl FnMut(&ivr::sim::SimRequest) -> ivr::CannedHttp> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ca_files: Vec<PathBuf> = ca_file.map(std::path::Path::to_owned).into_iter().collect();
    let client = runtime
        .block_on(async { pbx_core::http_client::HttpClient::with_ca_files(&ca_files) })
        .map_err(|e| anyhow::anyhow!("--ca-file: {e}"))?;
    Ok(move |req: &ivr::sim::SimRequest| {
        if let Some(c) = canned.get(&req.node).or_else(|| canned.get(&req.url)) {
            return c.clone();
        }
        let started = Instant::now();
        let outcome =
            runtime.block_on(client.post_json(&req.url, req.body_json.clone(), req.timeout));
        let delay = started.elapsed();
        use pbx_core::b2bua::app::HttpOutcome;
        match outcome {
            HttpOutcome::Response { status, body } => ivr::CannedHttp::Response {
                status,
                body,
                delay,
            },
            HttpOutcome::TimedOut => ivr::CannedHttp::Timeout,
            HttpOutcome::Failed(reason) => ivr::CannedHttp::Fail { reason, delay },
            other => ivr::CannedHttp::Fail {
                reason: format!("{other:?}"),
                delay,
            },
        }
    })
}

/// `pbx ivr trace CALL_ID`.
fn trace(config: Option<&Path>, call_id: &str, json: bool) -> anyhow::Result<(String, i32)> {
    let config = super::load_config(config)?;
    let store = super::open_store(&config)?;
    let parts = store.trajectories_of(call_id)?;
    if parts.is_empty() {
        let days = config.ivr.trajectory_retention.as_secs() / 86_400;
        return Ok((
            format!(
                "no IVR trajectory for call {call_id} (not an IVR call, unknown, or older than {days} days)\n"
            ),
            1,
        ));
    }
    if json {
        let all: Vec<&ivr::Trajectory> = parts.iter().map(|p| &p.record.trajectory).collect();
        return Ok((serde_json::to_string_pretty(&all)? + "\n", 0));
    }
    let mut out = String::new();
    for p in &parts {
        let t = &p.record.trajectory;
        out.push_str(&format!(
            "call {} flow {} (part {}) started {}\n",
            p.record.call_id,
            t.flow,
            p.record.part,
            t.started_at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ));
        // Ends with `keys: 1>3` when keys were pressed (the stored key path).
        out.push_str(&t.render_text());
    }
    Ok((out, 0))
}
