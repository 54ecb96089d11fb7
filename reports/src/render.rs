//! Tables as text: aligned terminal tables (numbers right-aligned), CSV
//! (RFC 4180 quoting; numbers without units, "—" for none) and JSON (one
//! object per row keyed by column; `null` for none).

use std::fmt::Write as _;

use crate::catalog::Table;
use crate::value::Cell;

/// A terminal table: the title, a header, a rule and the rows.
pub fn terminal(t: &Table) -> String {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(Cell::display).collect())
        .collect();
    let mut width: Vec<usize> = t.columns.iter().map(|c| c.label.chars().count()).collect();
    for r in &cells {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric: Vec<bool> = (0..t.columns.len())
        .map(|i| {
            t.rows
                .iter()
                .any(|r| !matches!(r.get(i), Some(Cell::Text(_))))
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "{}", t.title);
    let line = |out: &mut String, vals: Vec<&str>| {
        let parts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let pad = width[i].saturating_sub(v.chars().count());
                if numeric[i] {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, t.columns.iter().map(|c| c.label).collect());
    let rule: Vec<String> = width.iter().map(|w| "─".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("  "));
    for r in &cells {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    if t.rows.is_empty() {
        let _ = writeln!(out, "(no data in this range)");
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV with a header line of column keys.
pub fn csv(t: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = t.columns.iter().map(|c| csv_field(c.key)).collect();
    let _ = writeln!(out, "{}", header.join(","));
    for r in &t.rows {
        let row: Vec<String> = r.iter().map(|c| csv_field(&c.csv())).collect();
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}

/// JSON: `{"report", "title", "columns": [...], "rows": [{key: value}]}`.
pub fn json(t: &Table) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = t
        .rows
        .iter()
        .map(|r| {
            let obj: serde_json::Map<String, serde_json::Value> = t
                .columns
                .iter()
                .zip(r)
                .map(|(c, v)| (c.key.to_owned(), v.json()))
                .collect();
            serde_json::Value::Object(obj)
        })
        .collect();
    serde_json::json!({
        "report": t.report,
        "title": t.title,
        "columns": t.columns.iter().map(|c| serde_json::json!({"key": c.key, "label": c.label})).collect::<Vec<_>>(),
        "rows": rows,
    })
}
