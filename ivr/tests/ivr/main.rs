//! Integration tests of the ivr crate: validator goldens, renderer,
//! simulator on the example flows, and property tests.

mod golden;
mod props;
mod render;
mod simulate;

use std::path::{Path, PathBuf};

/// `ivr/tests/data/NAME`, relative to the crate (cargo runs tests there), so
/// paths in diagnostics are short and machine-independent.
pub(crate) fn data(name: &str) -> PathBuf {
    Path::new("tests/data").join(name)
}

/// `fixtures/ivr/NAME` relative to the crate.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new("../fixtures/ivr").join(name)
}

/// Compares `actual` with the golden file `tests/data/NAME`; with
/// `UPDATE_GOLDEN=1` rewrites it instead.
pub(crate) fn golden(name: &str, actual: &str) {
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(
        actual, expected,
        "golden mismatch for {name} (UPDATE_GOLDEN=1 to accept)"
    );
}
