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
        eprintln!("no registrations (store {})", store.path().display());
    }
    let mut out = std::io::stdout().lock();
    let written = bindings.iter().try_for_each(|b| {
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
    });
    match written.and_then(|()| out.flush()) {
        // `pbx registrations | head`: the reader left; that is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}
