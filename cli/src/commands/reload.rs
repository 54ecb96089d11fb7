//! `pbx reload`: asks the running server to reload what can change without
//! a restart (the dial plan, queues and agents of its configuration file,
//! the IVR flows of `[ivr] flows_dir`) through its local HTTP endpoint (POST /reload on
//! metrics.listen) and prints the per-file report.
//! Exits non-zero when a file was refused: its previous version stays in
//! service.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::Value;

/// One request to the server's admin endpoint: status and body.
fn admin_request(
    config_path: Option<&Path>,
    method: &str,
    path: &str,
) -> anyhow::Result<(u16, String)> {
    // The flows may be invalid right now: that is what a reload reports.
    let config = match config_path {
        Some(p) => pbx_core::config::Config::from_file_for_admin(p)?,
        None => pbx_core::config::Config::embedded(),
    };
    super::admin_http::request(&config, "reloads", method, path)
}

/// Writes the report of `POST /reload`; `Ok(true)` when every file loaded.
fn print_report(out: &mut impl Write, report: &Value) -> std::io::Result<bool> {
    let ok = report["ok"].as_bool().unwrap_or(false);
    let dialplan = &report["dialplan"];
    let file = dialplan["file"].as_str().unwrap_or("?");
    match dialplan["status"].as_str() {
        Some("ok") => writeln!(
            out,
            "ok     {file} (dial plan, {} entries)",
            dialplan["entries"]
        )?,
        Some(_) => writeln!(
            out,
            "error  {file}: dial plan refused, the previous one stays in service\n       {}",
            dialplan["error"].as_str().unwrap_or("")
        )?,
        None => {}
    }
    print_queues(out, &report["queues"])?;
    let ivr = &report["ivr"];
    if ivr.is_null() {
        if dialplan.is_null() {
            let note = report["note"].as_str().unwrap_or("nothing to reload");
            writeln!(out, "nothing reloaded: {note}")?;
        }
        return Ok(ok);
    }
    if let Some(e) = ivr["error"].as_str() {
        writeln!(out, "IVR flows: {e}")?;
    }
    for f in ivr["files"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let file = f["file"].as_str().unwrap_or("?");
        match (f["status"].as_str(), f["flow"].as_str()) {
            (Some("ok"), Some(flow)) => writeln!(out, "ok     {file} (flow {flow})")?,
            (Some("ok"), None) => writeln!(out, "ok     {file}")?,
            _ => writeln!(
                out,
                "error  {file}: refused, the previous version stays in service"
            )?,
        }
        for d in f["diagnostics"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            writeln!(
                out,
                "       {}:{}:{}: {}: {}",
                d["file"].as_str().unwrap_or(file),
                d["line"],
                d["column"],
                d["severity"].as_str().unwrap_or("error"),
                d["message"].as_str().unwrap_or("")
            )?;
        }
    }
    let flows: Vec<&str> = ivr["flows"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    writeln!(out, "flows in service: {}", flows.join(", "))?;
    Ok(ok)
}

/// The queues-and-agents part: what changed (nothing printed when the
/// server has no engine).
fn print_queues(out: &mut impl Write, q: &Value) -> std::io::Result<()> {
    match q["status"].as_str() {
        Some("ok") => {}
        Some(_) => {
            return writeln!(
                out,
                "error  queues and agents refused, the previous ones stay in service\n       {}",
                q["error"].as_str().unwrap_or("")
            )
        }
        None => return Ok(()),
    }
    let list = |key: &str| -> String {
        q[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => format!(
                            "{} ({} waiting, kept until served)",
                            other["queue"].as_str().unwrap_or("?"),
                            other["waiting"]
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    for (key, label) in [
        ("queues_added", "queues added"),
        ("queues_changed", "queues changed"),
        ("queues_removed", "queues removed"),
        ("agents_added", "agents added"),
        ("agents_changed", "agents changed"),
        ("agents_removed", "agents removed"),
        ("agents_kept", "agents kept until their queue call ends"),
    ] {
        let names = list(key);
        if !names.is_empty() {
            parts.push(format!("{label}: {names}"));
        }
    }
    if parts.is_empty() {
        writeln!(out, "ok     queues and agents (unchanged)")
    } else {
        writeln!(out, "ok     queues and agents ({})", parts.join("; "))
    }
}

pub(crate) fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (status, body) = admin_request(path, "POST", "/reload")?;
    let report: Value = serde_json::from_str(&body)
        .with_context(|| format!("the server answered {status} with a non-JSON body: {body}"))?;
    if status != 200 {
        let e = report["error"].as_str().unwrap_or("");
        bail!("server answered {status}: {e}");
    }
    // A reader that left early still gets the exit status of the reload.
    let mut all_loaded = false;
    crate::output::stdout(|out| {
        all_loaded = print_report(out, &report)?;
        Ok(())
    })?;
    Ok(if all_loaded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_file_fails_the_report() {
        let report = serde_json::json!({
            "ok": false,
            "ivr": {"dir": "/f", "flows": ["entry"], "files": [{
                "file": "/f/entry.toml", "flow": null, "status": "error",
                "diagnostics": [{"severity": "error", "file": "/f/entry.toml",
                                 "line": 4, "column": 8, "message": "unknown node type"}]
            }]}
        });
        let mut text = Vec::new();
        assert!(!print_report(&mut text, &report).unwrap());
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("/f/entry.toml:4:8: error: unknown node type"),
            "{text}"
        );
        assert!(text.ends_with("flows in service: entry\n"), "{text}");
        let good = serde_json::json!({"ok": true, "ivr": {"files": [], "flows": []}});
        assert!(print_report(&mut Vec::new(), &good).unwrap());
        let none = serde_json::json!({"ok": true, "ivr": null});
        assert!(print_report(&mut Vec::new(), &none).unwrap());
    }

    #[test]
    fn the_dial_plan_is_reported_first() {
        let report = serde_json::json!({
            "ok": false, "ivr": null,
            "dialplan": {"file": "/etc/pbx.toml", "status": "error",
                         "error": "/etc/pbx.toml:12:7: unknown route type `ivrr`"}
        });
        let mut text = Vec::new();
        assert!(!print_report(&mut text, &report).unwrap());
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "error  /etc/pbx.toml: dial plan refused, the previous one stays in service\n       \
             /etc/pbx.toml:12:7: unknown route type `ivrr`\n"
        );
        let good = serde_json::json!({
            "ok": true, "ivr": null,
            "dialplan": {"file": "/etc/pbx.toml", "status": "ok", "entries": 4}
        });
        let mut text = Vec::new();
        assert!(print_report(&mut text, &good).unwrap());
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "ok     /etc/pbx.toml (dial plan, 4 entries)\n"
        );
    }

    #[test]
    fn queue_changes_are_listed() {
        let report = serde_json::json!({
            "ok": true, "ivr": null,
            "dialplan": {"file": "/etc/pbx.toml", "status": "ok", "entries": 1},
            "queues": {"status": "ok", "queues_added": ["billing"], "queues_changed": [],
                       "queues_removed": [{"queue": "sales", "waiting": 2}],
                       "agents_added": ["cy"], "agents_changed": [], "agents_removed": [],
                       "agents_kept": []}
        });
        let mut text = Vec::new();
        assert!(print_report(&mut text, &report).unwrap());
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "ok     /etc/pbx.toml (dial plan, 1 entries)\n\
             ok     queues and agents (queues added: billing; queues removed: sales (2 waiting, kept until served); agents added: cy)\n"
        );
        let bad = serde_json::json!({"ok": false, "ivr": null,
            "queues": {"status": "error", "error": "agent ann: unknown queue nope"}});
        let mut text = Vec::new();
        assert!(!print_report(&mut text, &bad).unwrap());
        assert!(String::from_utf8(text)
            .unwrap()
            .contains("unknown queue nope"));
    }
}
