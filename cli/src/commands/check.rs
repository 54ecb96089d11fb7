//! `pbx check`: validate a configuration.

use std::path::Path;
use std::process::ExitCode;

use pbx_core::config::Config;

pub(crate) fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = match path {
        Some(p) => Config::from_file(p),
        None => Ok(Config::embedded()),
    };
    match config {
        Ok(c) => {
            crate::output::print(&format!(
                "{}: ok ({} listener(s), domain {}, {} user(s), data in {})\n",
                c.source,
                c.listen.len(),
                c.domain,
                c.users.len(),
                c.data_dir.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            crate::output::note!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}
