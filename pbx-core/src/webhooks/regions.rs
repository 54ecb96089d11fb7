//! Caller regions (SPEC §7): a number-prefix table read from a CSV file
//! (`prefix,region` per line, `#` comments; `fixtures/regions.csv`), looked
//! up by longest prefix.

use std::collections::HashMap;
use std::path::Path;

use super::WebhookError;

/// Prefix → region, matched by longest prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionTable {
    by_prefix: HashMap<String, String>,
    longest: usize,
}

impl RegionTable {
    /// Parses the CSV text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, WebhookError> {
        let mut table = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            // The header line (`prefix,region`, as the reports read it).
            let header = i == 0 && line.eq_ignore_ascii_case("prefix,region");
            if header || line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &'static str| WebhookError::Regions {
                file: file.to_owned(),
                line: i + 1,
                why,
            };
            let (prefix, region) = line
                .split_once(',')
                .ok_or_else(|| bad("expected `prefix,region`"))?;
            let (prefix, region) = (prefix.trim(), region.trim().trim_matches('"'));
            if !super::mask::is_phone_number(prefix) {
                return Err(bad("the prefix must be digits, optionally after `+`"));
            }
            if region.is_empty() {
                return Err(bad("empty region"));
            }
            table.longest = table.longest.max(prefix.len());
            table.by_prefix.insert(prefix.to_owned(), region.to_owned());
        }
        Ok(table)
    }

    /// Reads a CSV file.
    pub fn load(path: &Path) -> Result<Self, WebhookError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebhookError::RegionsFile {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// How many prefixes the table has.
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }

    /// The region of the longest prefix of `number` (None: no prefix matches).
    pub fn region_of(&self, number: &str) -> Option<&str> {
        let mut n = number.len().min(self.longest);
        while n > 0 {
            if let Some(r) = number.get(..n).and_then(|p| self.by_prefix.get(p)) {
                return Some(r);
            }
            n -= 1;
        }
        None
    }

    /// The region of a caller: its number as received, else its E.164 form.
    pub fn region_of_any(&self, number: &str, e164: Option<&str>) -> Option<&str> {
        self.region_of(number)
            .or_else(|| e164.and_then(|e| self.region_of(e)))
    }
}
