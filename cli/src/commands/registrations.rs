//! `pbx registrations`: the bindings in the store, one per line.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use pbx_core::server::unix_now;

pub(crate) fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let store = super::open_store(&config)?;
    let now = unix_now();
    let bindings = store.load_bindings(now)?;
    if bindings.is_empty() {
        crate::output::note!("no registrations (store {})", store.path().display());
    }
    crate::output::stdout(|out| {
        bindings.iter().try_for_each(|b| {
            writeln!(
                out,
                "{}\t{}\texpires in {}s\tq={}\tvia {}\t{}",
                b.aor,
                b.uri,
                b.remaining(now),
                f32::from(b.q) / 1000.0,
                b.source_text(),
                b.user_agent.as_deref().unwrap_or("-")
            )
        })
    })?;
    Ok(ExitCode::SUCCESS)
}
