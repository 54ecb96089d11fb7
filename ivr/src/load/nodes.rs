//! Per-type node parameters: keys, defaults and semantic checks that only need
//! the node itself (digit maps, regexes, time ranges, transfer targets).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use regex::Regex;
use toml_edit::Item;

use super::fields::Fields;
use crate::diag::{Diagnostics, Span};
use crate::model::{
    Cmp, Collect, Condition, Digit, Exit, Hangup, Http, Menu, NodeKind, NodeType, Play, Prompt,
    Record, Rule, Set, Template, TemplatePart, Test, Transfer, TransferTarget, WeekdayKey,
};

const COMMON: [&str; 3] = ["type", "name", "exits"];
const DEFAULT_MENU_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 2;
/// Compiled-size cap so a hostile pattern cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(extra).copied().collect()
}

pub(super) fn read_kind(
    ty: NodeType,
    f: &Fields<'_>,
    exits: &[Exit],
    dir: &Path,
    d: &mut Diagnostics<'_>,
) -> Option<NodeKind> {
    Some(match ty {
        NodeType::Play => {
            f.reject_unknown(&allowed(&["prompts", "barge_in"]), d);
            let prompts = prompts(f, "prompts", dir, d);
            if prompts.is_empty() {
                d.error(
                    f.span.clone(),
                    "play node needs at least one prompt in `prompts`",
                );
            }
            NodeKind::Play(Play {
                prompts,
                barge_in: f.bool("barge_in", d).unwrap_or(false),
            })
        }
        NodeType::Menu => NodeKind::Menu(menu(f, exits, dir, d)),
        NodeType::Collect => NodeKind::Collect(collect(f, dir, d)?),
        NodeType::Condition => {
            f.reject_unknown(&allowed(&["rules"]), d);
            NodeKind::Condition(Condition { rules: rules(f, d) })
        }
        NodeType::Http => NodeKind::Http(http(f, d)?),
        NodeType::Set => {
            f.reject_unknown(&allowed(&["vars"]), d);
            NodeKind::Set(set(f, d))
        }
        NodeType::Transfer => {
            f.reject_unknown(&allowed(&["target"]), d);
            let (raw, span) = f.req_str("target", d)?;
            match parse_transfer_target(&raw) {
                Ok(target) => NodeKind::Transfer(Transfer {
                    target,
                    target_span: span,
                }),
                Err(msg) => {
                    d.error(span, format!("invalid transfer target `{raw}`: {msg}"));
                    return None;
                }
            }
        }
        NodeType::Record => {
            f.reject_unknown(
                &allowed(&["prompts", "beep", "max_duration", "terminator", "variable"]),
                d,
            );
            NodeKind::Record(Record {
                prompts: prompts(f, "prompts", dir, d),
                beep: f.bool("beep", d).unwrap_or(true),
                max_duration: f
                    .duration("max_duration", d)
                    .unwrap_or(Duration::from_secs(120)),
                terminator: terminator(f, d),
                variable: variable(f, "variable", d).map(|(v, _)| v),
            })
        }
        NodeType::Hangup => {
            f.reject_unknown(&allowed(&["reason"]), d);
            NodeKind::Hangup(Hangup {
                reason: f.str("reason", d).map(|(s, _)| s),
            })
        }
    })
}

fn prompts(f: &Fields<'_>, key: &str, dir: &Path, d: &mut Diagnostics<'_>) -> Vec<Prompt> {
    let list = f.str_list(key, d).unwrap_or_default();
    let mut out = Vec::with_capacity(list.len());
    for (name, span) in list {
        if name.trim().is_empty() {
            d.error(span, "empty prompt name");
            continue;
        }
        let file = if name.ends_with(".wav") {
            name.clone()
        } else {
            format!("{name}.wav")
        };
        out.push(Prompt {
            path: dir.join(file),
            name,
            span,
        });
    }
    out
}

fn retries(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> u32 {
    f.uint("retries", 10, d).map_or(DEFAULT_RETRIES, |(r, _)| r) + 1
}

fn terminator(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Option<Digit> {
    let (s, span) = f.str("terminator", d)?;
    let mut chars = s.chars();
    match (chars.next().and_then(Digit::from_char), chars.next()) {
        (Some(digit), None) => Some(digit),
        _ => {
            d.error(
                span,
                format!("terminator `{s}` must be one DTMF key (0-9, *, #, A-D)"),
            );
            None
        }
    }
}

fn menu(f: &Fields<'_>, exits: &[Exit], dir: &Path, d: &mut Diagnostics<'_>) -> Menu {
    f.reject_unknown(
        &allowed(&[
            "prompts",
            "invalid_prompts",
            "timeout_prompts",
            "timeout",
            "retries",
            "barge_in",
        ]),
        d,
    );
    let prompts_ = prompts(f, "prompts", dir, d);
    if prompts_.is_empty() {
        d.error(f.span.clone(), "menu node needs a prompt in `prompts`");
    }
    let mut options = BTreeMap::new();
    let mut seen: BTreeMap<Digit, Span> = BTreeMap::new();
    for exit in exits {
        if NodeType::Menu
            .required_exits()
            .contains(&exit.name.as_str())
            || NodeType::Menu
                .optional_exits()
                .contains(&exit.name.as_str())
        {
            continue;
        }
        for key in exit.name.split('|') {
            let mut chars = key.trim().chars();
            match (chars.next().and_then(Digit::from_char), chars.next()) {
                (Some(digit), None) => {
                    if seen.insert(digit, exit.name_span.clone()).is_some() {
                        d.error(
                            exit.name_span.clone(),
                            format!("duplicate digit `{digit}` in menu"),
                        );
                    } else {
                        options.insert(digit, exit.name.clone());
                    }
                }
                _ => d.error(
                    exit.name_span.clone(),
                    format!(
                        "invalid digit map key `{}`: menu exits are one DTMF key (0-9, *, #, A-D), \
                         keys joined by `|`, or default/timeout/invalid",
                        exit.name
                    ),
                ),
            }
        }
    }
    Menu {
        prompts: prompts_,
        invalid_prompts: prompts(f, "invalid_prompts", dir, d),
        timeout_prompts: prompts(f, "timeout_prompts", dir, d),
        timeout: f.duration("timeout", d).unwrap_or(DEFAULT_MENU_TIMEOUT),
        attempts: retries(f, d),
        options,
        barge_in: f.bool("barge_in", d).unwrap_or(true),
    }
}

fn collect(f: &Fields<'_>, dir: &Path, d: &mut Diagnostics<'_>) -> Option<Collect> {
    f.reject_unknown(
        &allowed(&[
            "prompts",
            "invalid_prompts",
            "min_digits",
            "max_digits",
            "terminator",
            "timeout",
            "inter_digit_timeout",
            "pattern",
            "variable",
            "retries",
        ]),
        d,
    );
    let prompts_ = prompts(f, "prompts", dir, d);
    if prompts_.is_empty() {
        d.error(f.span.clone(), "collect node needs a prompt in `prompts`");
    }
    let max = f.uint("max_digits", 64, d);
    let min = f.uint("min_digits", 64, d);
    let max_digits = max.as_ref().map_or(16, |(m, _)| *m);
    let min_digits = min.as_ref().map_or(1, |(m, _)| *m);
    if let Some((0, span)) = max {
        d.error(span, "`max_digits` must be at least 1");
    }
    if min_digits > max_digits {
        let span = min.map_or_else(|| f.span.clone(), |(_, s)| s);
        d.error(
            span,
            format!("`min_digits` ({min_digits}) is larger than `max_digits` ({max_digits})"),
        );
    }
    let pattern = f
        .str("pattern", d)
        .and_then(|(p, span)| compile_regex(&p, span, d).map(|_| p))
        // The pattern must match the whole input, so anchor it.
        .and_then(|p| {
            regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .ok()
        });
    // Read everything before giving up on a bad variable, so that all
    // problems of the node are reported at once.
    let invalid_prompts = prompts(f, "invalid_prompts", dir, d);
    let terminator = terminator(f, d);
    let timeout = f.duration("timeout", d).unwrap_or(Duration::from_secs(10));
    let inter_digit_timeout = f
        .duration("inter_digit_timeout", d)
        .unwrap_or(Duration::from_secs(3));
    let attempts = retries(f, d);
    let variable = variable(f, "variable", d);
    if variable.is_none() && f.table.get("variable").is_none() {
        d.error(
            f.span.clone(),
            "collect node is missing required key `variable`",
        );
    }
    let (variable, variable_span) = variable?;
    Some(Collect {
        prompts: prompts_,
        invalid_prompts,
        min_digits,
        max_digits,
        terminator,
        timeout,
        inter_digit_timeout,
        pattern,
        variable,
        variable_span,
        attempts,
    })
}

fn compile_regex(p: &str, span: Span, d: &mut Diagnostics<'_>) -> Option<Regex> {
    match regex::RegexBuilder::new(p)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(re) => Some(re),
        Err(e) => {
            let msg = e.to_string();
            let last = msg
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ")
                .to_owned();
            d.error(span, format!("bad regex `{p}`: {last}"));
            None
        }
    }
}

fn variable(f: &Fields<'_>, key: &str, d: &mut Diagnostics<'_>) -> Option<(String, Span)> {
    let (name, span) = f.str(key, d)?;
    if valid_var(&name) {
        Some((name, span))
    } else {
        d.error(span, format!("invalid variable name `{name}`"));
        None
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn valid_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn rules(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Vec<Rule> {
    let Some((item, span)) = f.item("rules") else {
        return Vec::new();
    };
    let tables: Vec<(&dyn toml_edit::TableLike, Span)> = match item {
        Item::ArrayOfTables(a) => a
            .iter()
            .map(|t| {
                (
                    t as &dyn toml_edit::TableLike,
                    t.span().unwrap_or_else(|| span.clone()),
                )
            })
            .collect(),
        Item::Value(toml_edit::Value::Array(a)) => a
            .iter()
            .filter_map(|v| match v.as_inline_table() {
                Some(t) => Some((
                    t as &dyn toml_edit::TableLike,
                    v.span().unwrap_or_else(|| span.clone()),
                )),
                None => {
                    d.error(
                        v.span().unwrap_or_else(|| span.clone()),
                        "each rule must be a table",
                    );
                    None
                }
            })
            .collect(),
        _ => {
            d.error(span, "`rules` must be an array of tables");
            return Vec::new();
        }
    };
    tables
        .into_iter()
        .filter_map(|(table, span)| {
            let rf = Fields {
                table,
                span,
                what: "a condition rule".into(),
            };
            rule(&rf, d)
        })
        .collect()
}

fn rule(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Option<Rule> {
    f.reject_unknown(
        &[
            "exit",
            "time",
            "days",
            "holiday",
            "dates",
            "caller_prefix",
            "region",
            "var",
            "eq",
            "ne",
            "matches",
            "lt",
            "gt",
            "is_set",
        ],
        d,
    );
    let (exit, exit_span) = f.req_str("exit", d)?;
    let mut tests = Vec::new();
    if let Some((s, span)) = f.str("time", d) {
        match parse_time_range(&s) {
            Some((start, end)) => tests.push(Test::Time { start, end }),
            None => d.error(
                span,
                format!("bad time range `{s}` (expected \"HH:MM-HH:MM\" with distinct ends)"),
            ),
        }
    }
    if let Some(list) = f.str_list("days", d) {
        let mut set = BTreeSet::new();
        for (s, span) in list {
            match parse_days(&s) {
                Some(days) => set.extend(days),
                None => d.error(
                    span,
                    format!("bad weekday `{s}` (expected mon..sun or a range like mon-fri)"),
                ),
            }
        }
        tests.push(Test::Days(set));
    }
    if let Some(h) = f.bool("holiday", d) {
        tests.push(Test::Holiday(h));
    }
    if let Some(dates) = super::date_list(f, "dates", d) {
        tests.push(Test::Dates(dates.into_iter().collect()));
    }
    if let Some(list) = f.str_list("caller_prefix", d) {
        tests.push(Test::CallerPrefix(
            list.into_iter().map(|(s, _)| s).collect(),
        ));
    }
    if let Some(list) = f.str_list("region", d) {
        tests.push(Test::Region(list.into_iter().map(|(s, _)| s).collect()));
    }
    var_test(f, &mut tests, d);
    Some(Rule {
        exit,
        exit_span,
        tests,
    })
}

fn var_test(f: &Fields<'_>, tests: &mut Vec<Test>, d: &mut Diagnostics<'_>) {
    let ops = ["eq", "ne", "matches", "lt", "gt", "is_set"];
    let present: Vec<&str> = ops
        .iter()
        .copied()
        .filter(|k| f.table.get(k).is_some())
        .collect();
    let var = variable(f, "var", d);
    match (var, present.as_slice()) {
        (None, []) => {}
        (None, [op, ..]) => {
            if f.table.get("var").is_none() {
                d.error(f.key_span(op), format!("`{op}` needs a `var` to compare"));
            }
        }
        (Some((_, span)), []) => d.error(
            span,
            "`var` needs one comparison: eq, ne, matches, lt, gt or is_set",
        ),
        (Some((name, span)), [op]) => {
            let cmp = match *op {
                "eq" => f.str("eq", d).map(|(s, _)| Cmp::Eq(s)),
                "ne" => f.str("ne", d).map(|(s, _)| Cmp::Ne(s)),
                "matches" => f
                    .str("matches", d)
                    .and_then(|(p, s)| compile_regex(&p, s, d))
                    .map(Cmp::Matches),
                "is_set" => f.bool("is_set", d).map(Cmp::IsSet),
                other => number(f, other, d).map(|n| {
                    if other == "lt" {
                        Cmp::Lt(n)
                    } else {
                        Cmp::Gt(n)
                    }
                }),
            };
            if let Some(cmp) = cmp {
                tests.push(Test::Var { name, span, cmp });
            }
        }
        (Some(_), [_, second, ..]) => d.error(
            f.key_span(second),
            "a rule may compare its `var` only once; use another rule",
        ),
    }
}

fn number(f: &Fields<'_>, key: &str, d: &mut Diagnostics<'_>) -> Option<f64> {
    let (item, span) = f.item(key)?;
    let n = item
        .as_integer()
        .map(|i| i as f64)
        .or_else(|| item.as_float());
    if n.is_none() {
        d.error(span, format!("`{key}` must be a number"));
    }
    n
}

/// Parses `"HH:MM-HH:MM"`.
pub(crate) fn parse_time_range(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    (start != end).then_some((start, end))
}

/// Parses `mon`, `monday`, `mon-fri` (wrapping ranges like `fri-mon` allowed).
pub(crate) fn parse_days(s: &str) -> Option<Vec<WeekdayKey>> {
    let day = |t: &str| Weekday::from_str(t.trim()).ok().map(WeekdayKey::from);
    match s.split_once('-') {
        None => day(s).map(|d| vec![d]),
        Some((a, b)) => {
            let (a, b) = (day(a)?, day(b)?);
            let mut out = vec![a];
            let mut cur = a.0;
            while cur != b.0 {
                cur = (cur + 1) % 7;
                out.push(WeekdayKey(cur));
            }
            Some(out)
        }
    }
}

fn http(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Option<Http> {
    f.reject_unknown(&allowed(&["url", "timeout", "map", "exit_var"]), d);
    let (url, span) = f.req_str("url", d)?;
    let url = template(&url, span.clone(), d)?;
    let literal = url.expand(|_| Some("x"));
    if !(literal.starts_with("http://") || literal.starts_with("https://"))
        || literal.contains(char::is_whitespace)
    {
        d.error(
            span,
            format!(
                "`url` must be an http:// or https:// URL, got `{}`",
                url.raw
            ),
        );
    }
    let mut map = Vec::new();
    if let Some(t) = f.table("map", d) {
        for (var, item) in t.table.iter() {
            let kspan = t.key_span(var);
            if !valid_var(var) {
                d.error(kspan.clone(), format!("invalid variable name `{var}`"));
            }
            match item.as_str() {
                Some(p) if p.is_empty() || p.starts_with('/') => {
                    map.push((var.to_owned(), p.to_owned()))
                }
                Some(p) => map.push((var.to_owned(), format!("/{}", p.replace('.', "/")))),
                None => d.error(
                    item.span().unwrap_or(kspan),
                    format!("map entry `{var}` must be a JSON pointer like \"/customer/vip\""),
                ),
            }
        }
    }
    Some(Http {
        url,
        timeout: f.duration("timeout", d).unwrap_or(Duration::from_secs(3)),
        map,
        exit_var: variable(f, "exit_var", d).map(|(v, _)| v),
    })
}

fn set(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Set {
    let mut assignments = Vec::new();
    match f.table("vars", d) {
        Some(t) => {
            for (var, item) in t.table.iter() {
                let kspan = t.key_span(var);
                if !valid_var(var) {
                    d.error(kspan.clone(), format!("invalid variable name `{var}`"));
                    continue;
                }
                let vspan = item.span().unwrap_or_else(|| kspan.clone());
                let text = match item.as_value() {
                    Some(toml_edit::Value::String(s)) => s.value().clone(),
                    Some(toml_edit::Value::Integer(i)) => i.value().to_string(),
                    Some(toml_edit::Value::Float(x)) => x.value().to_string(),
                    Some(toml_edit::Value::Boolean(b)) => b.value().to_string(),
                    _ => {
                        d.error(
                            vspan,
                            format!("value of `{var}` must be a string, number or boolean"),
                        );
                        continue;
                    }
                };
                if let Some(t) = template(&text, vspan, d) {
                    assignments.push((var.to_owned(), t));
                }
            }
        }
        None if f.table.get("vars").is_none() => {
            d.error(f.span.clone(), "set node is missing required table `vars`");
        }
        None => {}
    }
    Set { assignments }
}

/// Parses `${var}` references; `$$` is a literal `$`.
pub(crate) fn template(raw: &str, span: Span, d: &mut Diagnostics<'_>) -> Option<Template> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            text.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                d.error(span, format!("unclosed `${{` in `{raw}`"));
                return None;
            };
            let name = &inner[..end];
            if !valid_var(name) {
                d.error(span, format!("invalid variable reference `${{{name}}}`"));
                return None;
            }
            if !text.is_empty() {
                parts.push(TemplatePart::Text(std::mem::take(&mut text)));
            }
            parts.push(TemplatePart::Var(name.to_owned()));
            rest = &inner[end + 1..];
        } else {
            text.push('$');
            rest = after;
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Some(Template {
        raw: raw.to_owned(),
        parts,
        span,
    })
}

/// Syntax check of a transfer target.
pub(crate) fn parse_transfer_target(s: &str) -> Result<TransferTarget, String> {
    let ident = |v: &str| {
        !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let digits = |v: &str, min: usize, max: usize| {
        (min..=max).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit())
    };
    let Some((scheme, rest)) = s.split_once(':') else {
        return Err("expected ext:, queue:, tel:, flow:, sip: or sips:".into());
    };
    match scheme {
        "ext" if digits(rest, 1, 15) => Ok(TransferTarget::Extension(rest.to_owned())),
        "ext" => Err("an extension is 1 to 15 digits".into()),
        "queue" if ident(rest) => Ok(TransferTarget::Queue(rest.to_owned())),
        "flow" if ident(rest) => Ok(TransferTarget::Flow(rest.to_owned())),
        "queue" | "flow" => Err("a name of letters, digits, `_` and `-`".into()),
        "tel" => {
            let num = rest.strip_prefix('+').unwrap_or(rest);
            if digits(num, 3, 15) {
                Ok(TransferTarget::External(rest.to_owned()))
            } else {
                Err("a number is an optional `+` and 3 to 15 digits (E.164)".into())
            }
        }
        "sip" | "sips" => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let user_ok = rest.rsplit_once('@').is_none_or(|(u, _)| !u.is_empty());
            if user_ok
                && !host.is_empty()
                && !s.contains(char::is_whitespace)
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[];=".contains(c))
            {
                Ok(TransferTarget::Sip(s.to_owned()))
            } else {
                Err("a SIP URI is sip:user@host (RFC 3261 §19.1)".into())
            }
        }
        _ => Err("expected ext:, queue:, tel:, flow:, sip: or sips:".into()),
    }
}
