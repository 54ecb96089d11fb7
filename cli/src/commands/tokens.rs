//! `pbx tokens`: API tokens of `/api/v1` in the store. `create` prints the
//! secret once (only its SHA-256 is kept); `list` shows names, scopes,
//! agents and revocations; `revoke` ends a token at once.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

/// `pbx tokens` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokensCmd {
    /// Create a token and print it (once).
    Create {
        /// Unique name (letters, digits, `-`, `_`, `.`).
        #[arg(long)]
        name: String,
        /// Scopes, comma-separated: read, calls, agents, admin, numbers.
        #[arg(long)]
        scope: String,
        /// The agent (user name) the token acts as: its data scope.
        #[arg(long)]
        agent: Option<String>,
    },
    /// Every token (never the secrets).
    List,
    /// Revoke a token by name or id.
    Revoke {
        /// Name or id.
        token: String,
    },
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `pbx tokens ...`.
pub(crate) fn run(path: Option<&Path>, cmd: TokensCmd) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let store = super::open_store(&config)?;
    let now = pbx_core::server::unix_now() * 1000;
    match cmd {
        TokensCmd::Create { name, scope, agent } => {
            if !valid_name(&name) {
                bail!("--name `{name}`: 1 to 64 letters, digits, -, _ or .");
            }
            if agent.as_deref().is_some_and(|a| !valid_name(a)) {
                bail!("--agent: a user name");
            }
            let scopes = pbx_core::api::v1::parse_scopes(&scope)
                .map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            if store.list_tokens()?.iter().any(|t| t.name == name) {
                bail!("a token named `{name}` exists (revoked ones keep their name)");
            }
            let (row, secret) = store.create_token(&name, &scopes, agent.as_deref(), now)?;
            crate::output::stdout(|out| writeln!(out, "{secret}"))?;
            crate::output::note!(
                "token {} ({}) created with scopes {}; it is shown only now",
                row.id,
                row.name,
                row.scopes.join(",")
            );
            Ok(ExitCode::SUCCESS)
        }
        TokensCmd::List => {
            let rows = store.list_tokens()?;
            if rows.is_empty() {
                crate::output::note!("no API tokens (pbx tokens create --name N --scope read)");
                return Ok(ExitCode::SUCCESS);
            }
            let offset = i64::from(config.dialplan.utc_offset_secs);
            crate::output::stdout(|out| {
                writeln!(out, "id\tname\tscopes\tagent\tcreated\trevoked")?;
                for t in &rows {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.name,
                        t.scopes.join(","),
                        t.agent.as_deref().unwrap_or("-"),
                        super::cdr::format_local(t.created_ms, offset),
                        t.revoked_ms.map_or_else(
                            || "-".to_owned(),
                            |r| super::cdr::format_local(r, offset)
                        )
                    )?;
                }
                Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        TokensCmd::Revoke { token } => {
            if store.revoke_token(&token, now)? {
                crate::output::note!("token {token} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                bail!("no live token `{token}` (pbx tokens list)")
            }
        }
    }
}
