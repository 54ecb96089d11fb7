//! What the commands print, for readers that may leave early.
//!
//! Rust starts programs with SIGPIPE ignored, so a write to a pipe whose
//! reader has gone (`pbx users list | head -1`) fails with `EPIPE`
//! ([`io::ErrorKind::BrokenPipe`]) instead of killing the process, and
//! `println!`/`eprintln!` turn that failure into a panic. Every command writes
//! through this module instead: a reader that left ends the output quietly
//! and the command keeps its exit status; any other write error is an error.
//! (Restoring SIGPIPE would need `unsafe` and would also kill `pbx serve` on a
//! closed socket write.)

use std::fmt;
use std::io::{self, StdoutLock, Write};

/// A reader that left is not a failure of the command: `Ok`.
fn reader_left_is_ok(written: io::Result<()>) -> io::Result<()> {
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Runs `write` on locked standard output and flushes it. A reader that left
/// early ends the output quietly (`Ok`); other errors are returned.
pub(crate) fn stdout(
    write: impl FnOnce(&mut StdoutLock<'static>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = write(&mut out).and_then(|()| out.flush());
    Ok(reader_left_is_ok(written)?)
}

/// Writes `text` to standard output (see [`stdout`]).
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    stdout(|out| out.write_all(text.as_bytes()))
}

/// Writes one line to standard error for a command that keeps running (the
/// phone's progress notes, `pbx: error`): a closed or failing standard error
/// loses the note but never stops the command.
pub(crate) fn note_args(args: fmt::Arguments<'_>) {
    // Nothing sensible is left to report a failure of standard error on.
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Writes `text` as it is to standard error (see [`note_args`]).
pub(crate) fn note_raw(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// `eprintln!` that never panics: a line on standard error through [`note_args`].
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note_args(format_args!($($arg)*))
    };
}
pub(crate) use note;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_is_quiet() {
        assert!(reader_left_is_ok(Err(io::ErrorKind::BrokenPipe.into())).is_ok());
        let full = reader_left_is_ok(Err(io::ErrorKind::PermissionDenied.into()));
        assert_eq!(
            full.map_err(|e| e.kind()),
            Err(io::ErrorKind::PermissionDenied)
        );
        assert!(reader_left_is_ok(Ok(())).is_ok());
    }
}
