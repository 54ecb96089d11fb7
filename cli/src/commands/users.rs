//! `pbx users add|import|list|remove`: SIP accounts in the store. The server
//! picks changes up within a second, also while it runs.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use pbx_core::auth::Credentials;
use pbx_core::server::unix_now;

use crate::output;

#[derive(Subcommand)]
pub(crate) enum UsersCmd {
    /// Add or update one user.
    Add {
        /// User name (the extension, e.g. 1001).
        name: String,
        /// Password.
        #[arg(long)]
        password: String,
    },
    /// Import users from a `user;password` file (a first line `SEQUENTIAL`, sipp's header, is skipped).
    Import {
        /// The file.
        file: PathBuf,
    },
    /// List users.
    List,
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
}

pub(crate) fn run(path: Option<&Path>, cmd: UsersCmd) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let mut store = super::open_store(&config)?;
    match cmd {
        UsersCmd::Add { name, password } => {
            check_name(&name)?;
            let creds = Credentials::from_password(&name, &config.realm, &password);
            store.upsert_users(&config.realm, &[(name.clone(), creds)], unix_now())?;
            output::print(&format!("user {name} saved (realm {})\n", config.realm))?;
        }
        UsersCmd::Import { file } => {
            let users = read_users_file(&file)?;
            let bar = ProgressBar::new(users.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})")
                    .expect("valid template"),
            );
            bar.set_message("hashing");
            let mut hashed = Vec::with_capacity(users.len());
            for (name, pw) in users {
                hashed.push((
                    name.clone(),
                    Credentials::from_password(&name, &config.realm, &pw),
                ));
                bar.inc(1);
            }
            bar.set_message("writing");
            let n = store.upsert_users(&config.realm, &hashed, unix_now())?;
            bar.finish_and_clear();
            output::print(&format!(
                "imported {n} users from {} (realm {})\n",
                file.display(),
                config.realm
            ))?;
        }
        UsersCmd::List => {
            let users = store.list_users()?;
            output::stdout(|out| {
                users.iter().try_for_each(|u| {
                    if u.realm == config.realm {
                        writeln!(out, "{}", u.name)
                    } else {
                        writeln!(
                            out,
                            "{}\t(realm {}: cannot authenticate here; add it again)",
                            u.name, u.realm
                        )
                    }
                })
            })?;
        }
        UsersCmd::Remove { name } => {
            if !store.delete_user(&name)? {
                bail!("no user {name}");
            }
            output::print(&format!("user {name} removed\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,?/".contains(c))
    {
        bail!("`{name}` is not a valid SIP user name (letters, digits and -_.!~*'()&=+$,?/)");
    }
    Ok(())
}

/// Reads `user;password` lines; reports the line of any bad entry.
fn read_users_file(file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", file.display(), i + 1))?;
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (i == 0 && line.eq_ignore_ascii_case("SEQUENTIAL"))
        {
            continue;
        }
        let Some((name, pw)) = line.split_once(';') else {
            bail!("{}:{}:1: expected `user;password`", file.display(), i + 1);
        };
        let pw = pw.split(';').next().unwrap_or(pw);
        check_name(name).with_context(|| format!("{}:{}:1", file.display(), i + 1))?;
        out.push((name.to_owned(), pw.to_owned()));
    }
    Ok(out)
}
