//! Positioned diagnostics for flow files.
//!
//! Every problem the loader or the validator finds is a [`Diagnostic`]: a
//! severity, a byte span into the flow's [`SourceFile`] and a message. The
//! plain rendering is the compiler-style `file:line:column: error: message`
//! line that editors and CI understand; [`Diagnostic::render_snippet`] adds the
//! offending source line with a caret underneath.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range into a flow's source text.
pub type Span = Range<usize>;

/// The text of one flow file together with its line index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text` read from `path` (the path is only used for messages and
    /// for resolving relative prompt directories).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The path the text came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The full text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset. Offsets past
    /// the end clamp to the end; offsets inside a UTF-8 sequence round down.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let mut end = offset;
        while end > start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text.get(start..end).map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of the 1-based line `line` without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The flow still loads and runs, but probably not as intended.
    Warning,
    /// The flow is rejected.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One problem in one flow file, with its position already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The flow file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte span in the file.
    pub span: Span,
    /// What is wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    /// Builds a diagnostic at `span` of `source`.
    pub fn new(
        source: &SourceFile,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = source.line_col(span.start);
        Self {
            severity,
            file: source.path().to_path_buf(),
            line,
            column,
            span,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The plain line plus the source line and a caret marker.
    pub fn render_snippet(&self, source: &SourceFile) -> String {
        let text = source.line_text(self.line);
        let width = source.text().get(self.span.clone()).map_or(1, |s| {
            s.lines().next().map_or(1, |l| l.chars().count().max(1))
        });
        let gutter = self.line.to_string().len();
        format!(
            "{self}\n{:gutter$} |\n{} | {text}\n{:gutter$} | {}{}\n",
            "",
            self.line,
            "",
            " ".repeat(self.column - 1),
            "^".repeat(width),
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity,
            self.message
        )
    }
}

/// Collects diagnostics for one file.
#[derive(Debug, Clone)]
pub struct Diagnostics<'a> {
    source: &'a SourceFile,
    items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    /// An empty collector for `source`.
    pub fn new(source: &'a SourceFile) -> Self {
        Self {
            source,
            items: Vec::new(),
        }
    }

    /// Records an error at `span`.
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.items
            .push(Diagnostic::new(self.source, Severity::Error, span, message));
    }

    /// Records a warning at `span`.
    pub fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.items.push(Diagnostic::new(
            self.source,
            Severity::Warning,
            span,
            message,
        ));
    }

    /// True if any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics sorted by position (stable for equal positions).
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| (d.span.start, d.line, d.column));
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = SourceFile::new("f.toml", "ab\nçd = 1\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(src.line_col(5), (2, 2));
        assert_eq!(src.line_col(4), (2, 1));
        assert_eq!(src.line_col(999), (3, 1));
        assert_eq!(src.line_text(2), "çd = 1");
    }

    #[test]
    fn snippet_points_at_span() {
        let src = SourceFile::new("f.toml", "a = 1\nbad = 2\n");
        let d = Diagnostic::new(&src, Severity::Error, 6..9, "nope");
        assert_eq!(d.to_string(), "f.toml:2:1: error: nope");
        assert!(d.render_snippet(&src).contains("2 | bad = 2\n  | ^^^"));
    }
}
