//! Typed accessors over `toml_edit` tables that report positioned errors.
//!
//! Each getter returns `None` both when the key is absent and when its value
//! has the wrong type; in the latter case it has already recorded an error at
//! the value's span, so callers only decide what "absent" means.

use std::time::Duration;

use toml_edit::{Item, TableLike};

use crate::diag::{Diagnostics, Span};

/// Span of `key`'s name in `t`, else `fallback`.
pub(crate) fn key_span(t: &dyn TableLike, key: &str, fallback: &Span) -> Span {
    t.key(key)
        .and_then(|k| k.span())
        .unwrap_or_else(|| fallback.clone())
}

/// Span of an item's value, else `fallback`.
pub(crate) fn item_span(item: &Item, fallback: &Span) -> Span {
    item.span().unwrap_or_else(|| fallback.clone())
}

/// A table being read, with the span to blame when a key is missing.
pub(crate) struct Fields<'t> {
    pub(crate) table: &'t dyn TableLike,
    pub(crate) span: Span,
    pub(crate) what: String,
}

impl<'t> Fields<'t> {
    /// Reports every key not in `allowed`.
    pub(crate) fn reject_unknown(&self, allowed: &[&str], d: &mut Diagnostics<'_>) {
        for (k, _) in self.table.iter() {
            if !allowed.contains(&k) {
                d.error(
                    key_span(self.table, k, &self.span),
                    format!(
                        "unknown key `{k}` in {} (expected one of: {})",
                        self.what,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// The item and the span of its value.
    pub(crate) fn item(&self, key: &str) -> Option<(&'t Item, Span)> {
        let item = self.table.get(key)?;
        let span = item_span(item, &key_span(self.table, key, &self.span));
        Some((item, span))
    }

    /// Span of a key (or of the table when absent).
    pub(crate) fn key_span(&self, key: &str) -> Span {
        key_span(self.table, key, &self.span)
    }

    fn wrong(&self, d: &mut Diagnostics<'_>, span: Span, key: &str, expected: &str) {
        d.error(span, format!("`{key}` in {} must be {expected}", self.what));
    }

    /// A string value.
    pub(crate) fn str(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<(String, Span)> {
        let (item, span) = self.item(key)?;
        match item.as_str() {
            Some(s) => Some((s.to_owned(), span)),
            None => {
                self.wrong(d, span, key, "a string");
                None
            }
        }
    }

    /// A required string value.
    pub(crate) fn req_str(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<(String, Span)> {
        if self.table.get(key).is_none() {
            d.error(
                self.span.clone(),
                format!("{} is missing required key `{key}`", self.what),
            );
            return None;
        }
        self.str(key, d)
    }

    /// A boolean value.
    pub(crate) fn bool(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<bool> {
        let (item, span) = self.item(key)?;
        let b = item.as_bool();
        if b.is_none() {
            self.wrong(d, span, key, "true or false");
        }
        b
    }

    /// A non-negative integer up to `max`.
    pub(crate) fn uint(&self, key: &str, max: u32, d: &mut Diagnostics<'_>) -> Option<(u32, Span)> {
        let (item, span) = self.item(key)?;
        match item.as_integer() {
            Some(i) if (0..=i64::from(max)).contains(&i) => {
                u32::try_from(i).ok().map(|v| (v, span))
            }
            _ => {
                self.wrong(d, span, key, &format!("an integer from 0 to {max}"));
                None
            }
        }
    }

    /// A duration: integer or float seconds, or a string like `"5s"`,
    /// `"1500ms"`, `"2m"`; at most one hour.
    pub(crate) fn duration(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<Duration> {
        let (item, span) = self.item(key)?;
        let secs = if let Some(i) = item.as_integer() {
            Some(i as f64)
        } else if let Some(f) = item.as_float() {
            Some(f)
        } else {
            item.as_str().and_then(parse_duration_secs)
        };
        match secs {
            Some(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => {
                Some(Duration::from_secs_f64(s))
            }
            _ => {
                self.wrong(
                    d,
                    span,
                    key,
                    "a duration up to 1h (seconds, or a string like \"5s\", \"800ms\", \"2m\")",
                );
                None
            }
        }
    }

    /// One string or an array of strings, each with its span.
    pub(crate) fn str_list(
        &self,
        key: &str,
        d: &mut Diagnostics<'_>,
    ) -> Option<Vec<(String, Span)>> {
        let (item, span) = self.item(key)?;
        if let Some(s) = item.as_str() {
            return Some(vec![(s.to_owned(), span)]);
        }
        let Some(arr) = item.as_array() else {
            self.wrong(d, span, key, "a string or an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(arr.len());
        for v in arr.iter() {
            let vspan = v.span().unwrap_or_else(|| span.clone());
            match v.as_str() {
                Some(s) => out.push((s.to_owned(), vspan)),
                None => self.wrong(d, vspan, key, "a string or an array of strings"),
            }
        }
        Some(out)
    }

    /// A sub-table (`[a.b]` or inline `{ .. }`).
    pub(crate) fn table(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<Fields<'t>> {
        let (item, span) = self.item(key)?;
        match item.as_table_like() {
            Some(table) => Some(Fields {
                table,
                span: self.key_span(key),
                what: format!("`{key}` of {}", self.what),
            }),
            None => {
                self.wrong(d, span, key, "a table");
                None
            }
        }
    }
}

/// Parses `"5s"`, `"1500ms"`, `"2m"`, `"1.5s"`, `"10"` into seconds.
pub(crate) fn parse_duration_secs(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let num = num.trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    num.parse::<f64>().ok().map(|v| v * mult)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_secs;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("5s"), Some(5.0));
        assert_eq!(parse_duration_secs("1500ms"), Some(1.5));
        assert_eq!(parse_duration_secs("2m"), Some(120.0));
        assert_eq!(parse_duration_secs("7"), Some(7.0));
        assert_eq!(parse_duration_secs("-1s"), None);
        assert_eq!(parse_duration_secs("s"), None);
        assert_eq!(parse_duration_secs("5h"), None);
    }
}
