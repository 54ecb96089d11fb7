//! `POST /reload` (`pbx reload`): the IVR flows of `[ivr] flows_dir` and
//! the dial plan of the configuration file, read again and put in service
//! when valid; the answer describes each file.

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::errors::json_response;
use super::ApiState;
use crate::b2bua::ivr_app::SharedFlows;
use crate::routing::SharedDialplan;

/// `POST /reload` (read by `pbx reload`): reloads what can change without a
/// restart — the IVR flows of `[ivr] flows_dir` (an invalid file keeps its
/// previous version in service; calls in progress keep theirs) and the
/// dial plan of the configuration file (an invalid file keeps the dial
/// plan in service; calls in progress keep their routes). Users need no
/// reload: the server picks up `pbx users` changes from the store. Answers
/// 200 with `{"ok": bool, "ivr": {dir, files: [{file, flow, status,
/// diagnostics: [{severity, file, line, column, message}]}], flows},
/// "dialplan": {file, status, entries | error}, "queues": {status,
/// queues_added, queues_changed, queues_removed: [{queue, waiting}],
/// agents_added, agents_changed, agents_removed, agents_kept} | {status,
/// error}}` (`ivr` is null when no flows are served, `dialplan` and
/// `queues` when the server runs on the embedded defaults or without the
/// B2BUA). Queues and agents follow `queues/reload.rs`'s rules: waiting
/// callers are never dropped.
pub(super) async fn reload(State(s): State<ApiState>) -> Response {
    let engine = s.b2bua.as_ref().map(|b| b.engine.clone());
    let joined = tokio::task::spawn_blocking(move || {
        let ivr = s
            .admin
            .flows
            .as_ref()
            .map(|(flows, dir)| reload_json(flows, dir));
        let dialplan = s
            .admin
            .config_file
            .as_deref()
            .zip(s.b2bua.as_ref())
            .map(|(file, b2bua)| reload_dialplan(&b2bua.dialplan, file));
        (ivr, dialplan)
    })
    .await;
    let (ivr, dialplan) = match joined {
        Ok(parts) => parts,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({ "ok": false, "error": format!("reload failed: {e}") }),
            )
        }
    };
    let (dialplan, config) = match dialplan {
        Some((ok, body, config)) => (Some((ok, body)), config),
        None => (None, None),
    };
    let queues = match (engine, config) {
        (Some(engine), Some(config)) => {
            Some(crate::queues::reload_json(&engine, config.acd_reload()).await)
        }
        _ => None,
    };
    let ok = ivr.as_ref().is_none_or(|r| r.0)
        && dialplan.as_ref().is_none_or(|r| r.0)
        && queues.as_ref().is_none_or(|r| r.0);
    let mut body = serde_json::json!({
        "ok": ok,
        "ivr": ivr.map(|r| r.1),
        "dialplan": dialplan.map(|r| r.1),
        "queues": queues.map(|r| r.1),
    });
    if body["ivr"].is_null() {
        body["note"] =
            "no IVR flows served ([ivr] flows_dir unset, or calls.engine is not \"b2bua\")".into();
    }
    json_response(StatusCode::OK, &body)
}

/// Reads the dial plan of `file` again and puts it in service if the
/// whole file is valid (IVR flow names are checked at call time, as the
/// flows reload on their own).
fn reload_dialplan(
    in_service: &SharedDialplan,
    file: &Path,
) -> (bool, serde_json::Value, Option<crate::config::Config>) {
    let shown = file.display().to_string();
    match crate::config::Config::from_file_for_admin(file) {
        Ok(config) => {
            let entries = config.dialplan.entries.len();
            *in_service.write() = Arc::new(config.dialplan.clone());
            tracing::info!(file = %shown, entries, "dial plan reloaded");
            let body = serde_json::json!({ "file": shown, "status": "ok", "entries": entries });
            (true, body, Some(config))
        }
        Err(e) => {
            tracing::warn!(file = %shown, error = %e, "dial plan not reloaded");
            let body =
                serde_json::json!({ "file": shown, "status": "error", "error": e.to_string() });
            (false, body, None)
        }
    }
}

/// Reloads every flow of `dir` for the admin `POST /reload` (logged like
/// the server's `load_flows`) and describes each file: `ok` is false when a file was
/// refused (its previous version stays in service) or the directory could
/// not be read.
fn reload_json(flows: &SharedFlows, dir: &Path) -> (bool, serde_json::Value) {
    let result = flows.write().reload_dir(dir);
    let names: Vec<String> = flows.read().names().map(str::to_owned).collect();
    let reports = match result {
        Ok(reports) => reports,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "IVR flows not reloaded");
            let body = serde_json::json!({
                "dir": dir.display().to_string(),
                "error": format!("cannot read {}: {e}", dir.display()),
                "files": [],
                "flows": names,
            });
            return (false, body);
        }
    };
    let mut ok = true;
    let files: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            log_report(r);
            ok &= r.applied;
            let diagnostics: Vec<serde_json::Value> = r
                .diagnostics
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "severity": d.severity.to_string(),
                        "file": d.file.display().to_string(),
                        "line": d.line,
                        "column": d.column,
                        "message": d.message,
                    })
                })
                .collect();
            serde_json::json!({
                "file": r.path.display().to_string(),
                "flow": r.flow,
                "status": if r.applied { "ok" } else { "error" },
                "diagnostics": diagnostics,
            })
        })
        .collect();
    tracing::info!(dir = %dir.display(), ?names, ok, "IVR flows reloaded (admin)");
    let body = serde_json::json!({
        "dir": dir.display().to_string(),
        "files": files,
        "flows": names,
    });
    (ok, body)
}

/// Logs what a flow file's reload did (shared with the server's watcher).
pub(crate) fn log_report(r: &ivr::ReloadReport) {
    if r.applied {
        tracing::debug!(file = %r.path.display(), flow = ?r.flow, "IVR flow loaded");
        return;
    }
    for d in r.diagnostics.iter().filter(|d| d.is_error()) {
        tracing::warn!(file = %r.path.display(), line = d.line, column = d.column, message = %d.message, "IVR flow refused; the previous version stays in service");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn write(path: &Path, text: &str, mtime_secs: u64) {
        std::fs::write(path, text).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_secs))
            .unwrap();
    }

    fn reason(flows: &SharedFlows) -> Option<String> {
        let flow = flows.read().get("f")?;
        match &flow.nodes[0].kind {
            ivr::NodeKind::Hangup(h) => h.reason.clone(),
            _ => None,
        }
    }

    #[test]
    fn admin_reload_reports_positioned_errors_and_keeps_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        let v1 = "[flow]\nname = \"f\"\n[nodes.a]\ntype = \"hangup\"\nreason = \"v1\"\n";
        write(&path, v1, 1_000);
        let flows: SharedFlows = Arc::default();
        let (ok, body) = reload_json(&flows, dir.path());
        assert!(ok, "{body}");
        assert_eq!(body["files"][0]["status"], "ok");
        assert_eq!(body["files"][0]["flow"], "f");
        assert_eq!(body["flows"], serde_json::json!(["f"]));

        write(
            &path,
            "[flow]\nname = \"f\"\n[nodes.a]\ntype = \"nope\"\n",
            2_000,
        );
        let (ok, body) = reload_json(&flows, dir.path());
        assert!(!ok, "{body}");
        let file = &body["files"][0];
        assert_eq!(file["status"], "error");
        assert_eq!(file["diagnostics"][0]["severity"], "error");
        assert_eq!(file["diagnostics"][0]["line"], 4);
        assert_eq!(file["diagnostics"][0]["column"], 8);
        assert_eq!(reason(&flows).as_deref(), Some("v1"), "v1 stays in service");

        let (ok, body) = reload_json(&flows, &dir.path().join("missing"));
        assert!(!ok);
        assert!(
            body["error"].as_str().unwrap().contains("cannot read"),
            "{body}"
        );
        assert_eq!(reason(&flows).as_deref(), Some("v1"));
    }
}
