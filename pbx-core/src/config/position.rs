//! Positions in the config text: every error names `file:line:column`.

use std::fmt;
use std::path::Path;

use toml::Spanned;

/// A configuration error with its position in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file (or `<embedded>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

/// Turns byte offsets of the config text into `file:line:column` errors.
pub(super) struct Positioner<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Positioner<'_> {
    /// An error at byte `offset` of the text.
    pub(super) fn error(&self, offset: usize, message: impl fmt::Display) -> ConfigError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.to_string(),
        }
    }

    /// An error at the start of a spanned value.
    pub(super) fn at<T>(&self, spanned: &Spanned<T>, message: impl fmt::Display) -> ConfigError {
        self.error(spanned.span().start, message)
    }
}

/// The text of a config file, or an error at 1:1 saying why not.
pub(super) fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message: format!("cannot read the file: {e}"),
    })
}
