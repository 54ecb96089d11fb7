//! `pbx`: the one binary — `serve`, `check`, the admin subcommands and the `phone`.

mod commands;
mod output;
mod phone;

/// mimalloc: the SIP path allocates small, short-lived buffers on several threads,
/// where glibc malloc showed ~12 % of the server's CPU in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A telephony engine: SIP registrar and proxy (and, growing, a PBX).
#[derive(Parser)]
#[command(name = "pbx", version, about)]
struct Cli {
    /// Configuration file (TOML). Without it the embedded defaults (fixtures/pbx.toml) are used.
    #[arg(long, short, global = true, env = "PBX_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the phone's arguments is no cost.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server until SIGINT/SIGTERM.
    Serve,
    /// Validate the configuration and report errors as file:line:column.
    Check,
    /// Manage users (SIP accounts).
    Users {
        #[command(subcommand)]
        action: commands::users::UsersCmd,
    },
    /// API tokens of `/api/v1`: `create --name N --scope read,calls
    /// [--agent ID]` (printed once), `list`, `revoke NAME|ID`.
    Tokens {
        #[command(subcommand)]
        action: commands::tokens::TokensCmd,
    },
    /// List registration bindings, one per line.
    Registrations,
    /// Call-detail records (default: today), with filters and `--csv`;
    /// `export --format csv|xlsx -o FILE` writes the call records.
    Cdr(commands::cdr::CdrArgs),
    /// Call recordings: `list [--from --to --call ID]`, `get CALL_ID -o FILE`.
    Recordings {
        #[command(subcommand)]
        action: commands::recordings::RecordingsCmd,
    },
    /// Live calls of the running server (B2BUA engine); `hangup ID` ends one.
    Calls {
        #[command(subcommand)]
        action: Option<commands::calls::CallsCmd>,
    },
    /// SIP trunks of the running server: registration, health, calls.
    Trunks,
    /// Agents of the running server and their states; `login|logout|ready
    /// NAME`, `break NAME --reason R`.
    Agents {
        #[command(subcommand)]
        action: Option<commands::queues::AgentsCmd>,
    },
    /// Queues of the running server now; `stats QUEUE --from --to` from the
    /// stored queue events.
    Queues {
        #[command(subcommand)]
        action: Option<commands::queues::QueuesCmd>,
    },
    /// Missed calls (not connected to an agent), open ones by default.
    Missed {
        /// Only this skill group.
        #[arg(long)]
        queue: Option<String>,
        /// How far back (1-31 days).
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Resolved entries too.
        #[arg(long)]
        all: bool,
        #[command(subcommand)]
        action: Option<commands::missed::MissedCmd>,
    },
    /// Numbers that called more than once (exact match).
    RepeatCallers {
        /// The window: 1, 2, 3, 7 or 14 days.
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Only this number.
        #[arg(long)]
        number: Option<String>,
        /// Only calls of this skill group.
        #[arg(long)]
        queue: Option<String>,
        /// At least this many calls (default 2).
        #[arg(long)]
        min: Option<u32>,
        /// At most this many calls.
        #[arg(long)]
        max: Option<u32>,
    },
    /// Call reports (SPEC §13): `list`, `aggregate`, or NAME with `--from
    /// --to [--queue --agent --trunk --by --as] [--csv | --json | --chart FILE]`.
    Report(commands::report::ReportArgs),
    /// Reload the running server's IVR flows now; reports each file
    /// (file:line:column on errors), fails if one was refused.
    Reload,
    /// IVR flows: validate, render, simulate; trace a call's path.
    Ivr {
        #[command(subcommand)]
        action: commands::ivr::IvrCmd,
    },
    /// Conference rooms of the running server with participants now.
    Conferences,
    /// A conference room: its roster (default), a participant's quality
    /// window, and the moderator's operations with admin rights.
    Conference {
        /// The room (its dial-plan name, e.g. 800).
        room: String,
        #[command(subcommand)]
        action: Option<commands::conference::ConferenceCmd>,
    },
    /// CRM webhooks: `list` (state, cursor, pending, dead letters), `dead`,
    /// `replay --since TIME [--subscription ID]`, `enable ID`.
    Webhooks {
        #[command(subcommand)]
        action: commands::webhooks::WebhooksCmd,
    },
    /// Softphone: interactive console, or `call` / `answer` for scripts.
    Phone(commands::phone::PhoneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => commands::serve::run(cli.config.as_deref()),
        Command::Check => commands::check::run(cli.config.as_deref()),
        Command::Users { action } => commands::users::run(cli.config.as_deref(), action),
        Command::Tokens { action } => commands::tokens::run(cli.config.as_deref(), action),
        Command::Registrations => commands::registrations::run(cli.config.as_deref()),
        Command::Cdr(args) => commands::cdr::run(cli.config.as_deref(), args),
        Command::Calls { action } => commands::calls::run(cli.config.as_deref(), action),
        Command::Recordings { action } => commands::recordings::run(cli.config.as_deref(), action),
        Command::Trunks => commands::trunks::run(cli.config.as_deref()),
        Command::Agents { action } => commands::queues::run_agents(cli.config.as_deref(), action),
        Command::Queues { action } => commands::queues::run_queues(cli.config.as_deref(), action),
        Command::Missed {
            queue,
            days,
            all,
            action: Some(action),
        } => commands::missed::run(cli.config.as_deref(), action, queue, days, all),
        Command::Missed {
            queue, days, all, ..
        } => commands::queues::run_missed(cli.config.as_deref(), queue, days, all),
        Command::RepeatCallers {
            days,
            number,
            queue,
            min,
            max,
        } => commands::queues::run_repeat(cli.config.as_deref(), days, number, queue, min, max),
        Command::Report(args) => commands::report::run(cli.config.as_deref(), args),
        Command::Reload => commands::reload::run(cli.config.as_deref()),
        Command::Ivr { action } => commands::ivr::run(cli.config.as_deref(), action),
        Command::Conferences => commands::conference::run_list(cli.config.as_deref()),
        Command::Conference { room, action } => {
            commands::conference::run(cli.config.as_deref(), &room, action)
        }
        Command::Webhooks { action } => commands::webhooks::run(cli.config.as_deref(), action),
        Command::Phone(args) => commands::phone::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::output::note!("pbx: {e:#}");
            ExitCode::FAILURE
        }
    }
}
