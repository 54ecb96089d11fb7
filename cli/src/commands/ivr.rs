//! `pbx ivr validate|render|simulate`: the IVR designer's tool chain over flow files.

use std::path::PathBuf;
use std::process::ExitCode;

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
        /// Canned answers for http nodes (a TOML fixture, see fixtures/ivr/http/).
        #[arg(long)]
        http: Option<PathBuf>,
        /// Print the trajectory as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Dot,
    Mermaid,
}

pub(crate) fn run(cmd: IvrCmd) -> anyhow::Result<ExitCode> {
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
        } => {
            let mut script = ivr::SimScript::default();
            script.digits = ivr::SimScript::parse_digits(&digits)?;
            if let Some(at) = at {
                script.at = ivr::SimScript::parse_at(&at)?;
            }
            if let Some(caller) = caller {
                script.caller = caller;
            }
            if let Some(http) = http {
                script.http = ivr::SimScript::load_http_fixture(&http)?;
            }
            if json {
                ivr::cli::simulate_json_cmd(&flow, &script)
            } else {
                ivr::cli::simulate_cmd(&flow, &script)
            }
        }
    };
    if code == 0 {
        print!("{out}");
    } else {
        eprint!("{out}");
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
