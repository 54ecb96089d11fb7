//! Call reports over HTTP (SPEC §13): `GET /api/v1/reports` lists them,
//! `GET /api/v1/reports/NAME?from=&to=&queue=&agent=&trunk=&by=&viewer=&hours=`
//! answers one as JSON, or as CSV with `format=csv` — the same tables as
//! `pbx report NAME` (the `reports` crate). Behind the admin token; the
//! `viewer` parameter (`admin`, `leader:ID`, `agent:ID`) narrows the agent
//! rows to a leader's or an agent's scope (SPEC §2). Errors: 400 for bad
//! parameters, 404 for an unknown report, 503 without the store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::json_response;
use super::ApiState;
use crate::config::Config;

/// Where the reports read from, and their settings.
#[derive(Debug, Clone)]
pub struct ReportsAccess {
    /// The store file.
    pub db: PathBuf,
    /// Time zone, thresholds, hierarchy, regions.
    pub settings: ::reports::ReportSettings,
}

/// The report settings of a configuration: the dial plan's UTC offset,
/// each queue's service-level threshold, the agents' leaders and
/// departments, and the caller-region prefixes (`<data_dir>/regions.csv`,
/// else the shipped `fixtures/regions.csv`).
pub fn settings_of(config: &Config) -> Result<::reports::ReportSettings, ::reports::Error> {
    Ok(::reports::ReportSettings {
        utc_offset_secs: config.dialplan.utc_offset_secs,
        service_level_s: config
            .queues
            .iter()
            .map(|q| (q.name.to_string(), u64::from(q.service_level_s)))
            .collect(),
        agents: config.agent_org.clone(),
        regions: ::reports::settings::Regions::load(&config.data_dir)?,
        ..::reports::ReportSettings::default()
    })
}

/// The access of a server (None when its settings cannot be built: the
/// aggregator, started first, has already refused to start then).
pub fn access(config: &Config) -> Option<Arc<ReportsAccess>> {
    let settings = settings_of(config).ok()?;
    Some(Arc::new(ReportsAccess {
        db: config.db_path(),
        settings,
    }))
}

fn error(status: StatusCode, why: impl std::fmt::Display) -> Response {
    json_response(status, &serde_json::json!({ "error": why.to_string() }))
}

pub(super) async fn list() -> Response {
    let list: Vec<serde_json::Value> = ::reports::REPORTS
        .iter()
        .map(|r| serde_json::json!({ "name": r.name, "about": r.about, "path": format!("/api/v1/reports/{}", r.name) }))
        .collect();
    json_response(StatusCode::OK, &serde_json::json!({ "reports": list }))
}

/// The request of a query string (unknown parameters are an error, so a
/// typo does not silently widen a report).
fn request(params: &HashMap<String, String>) -> Result<(::reports::Request, bool), String> {
    let mut r = ::reports::Request::default();
    let mut csv = false;
    for (k, v) in params {
        let v = Some(v.clone());
        match k.as_str() {
            "from" => r.from = v,
            "to" => r.to = v,
            "queue" => r.queue = v,
            "agent" => r.agent = v,
            "trunk" => r.trunk = v,
            "by" => r.by = v,
            "viewer" => r.viewer = v,
            "hours" => r.hours = v,
            "format" => match v.as_deref() {
                Some("csv") => csv = true,
                Some("json") => csv = false,
                _ => return Err("format: use json or csv".into()),
            },
            other => return Err(format!("unknown parameter `{other}`: use from, to, queue, agent, trunk, by, viewer, hours, format")),
        }
    }
    Ok((r, csv))
}

pub(super) async fn report(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(access) = s.admin.reports.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "reports are not available on this server",
        );
    };
    if !::reports::REPORTS.iter().any(|r| r.name == name) {
        return error(StatusCode::NOT_FOUND, ::reports::Error::UnknownReport(name));
    }
    let (req, csv) = match request(&params) {
        Ok(r) => r,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (query, settings) = match req.query(&access.settings, now_ms) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let db = access.db.clone();
    let run = tokio::task::spawn_blocking(move || {
        let db = ::reports::ReportDb::open(&db)?;
        ::reports::catalog::run(&name, &query, &settings, &db)
    })
    .await;
    match run {
        Ok(Ok(table)) if csv => {
            let mut resp = ::reports::render::csv(&table).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            resp
        }
        Ok(Ok(table)) => json_response(StatusCode::OK, &::reports::render::json(&table)),
        Ok(Err(e @ ::reports::Error::Argument(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
