//! Call records out of the API: the CSV export (`GET /records/export`,
//! same filters as the list, numbers masked without `numbers`; `pbx cdr
//! export` writes the same columns as CSV or XLSX) and the recording
//! (`GET /records/{id}/recording`, WAV with `Range`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use recorder::access::RangeReply;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, Q};
use super::records::{load, mask_record, RecordParams};
use super::state;
use crate::api::ApiState;
use crate::recording::AccessError;
use crate::store::{Note, RecordSummary};

/// The export's columns: every SPEC §3 CallRecord field (those the store
/// cannot know stay empty).
pub const EXPORT_COLUMNS: [&str; 36] = [
    "call_id",
    "pbx_id",
    "direction",
    "caller",
    "callee",
    "service_number",
    "trunk_id",
    "caller_region",
    "entry_skill_group",
    "skill_groups",
    "agent_id",
    "ring_at",
    "queue_enter_at",
    "answer_at",
    "end_at",
    "duration_s",
    "queue_wait_s",
    "talk_s",
    "hold_s",
    "after_call_s",
    "handle_s",
    "outcome",
    "disposition",
    "dial_status",
    "transfer_chain",
    "recording_ref",
    "transcript_ref",
    "tags",
    "notes",
    "qa_score",
    "survey_transferred",
    "satisfaction",
    "customer_id",
    "ticket_ids",
    "ivr_key_path",
    "hangup_cause",
];

/// `YYYY-MM-DD HH:MM:SS` of Unix ms at `offset_secs` east of UTC.
pub fn local_time(ms: u64, offset_secs: i32) -> String {
    let off = chrono::FixedOffset::east_opt(offset_secs)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is an offset"));
    chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
        .map(|t| {
            t.with_timezone(&off)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// One export row, in [`EXPORT_COLUMNS`] order (lists joined with `;`).
pub fn export_row(r: &RecordSummary, notes: &[Note], offset_secs: i32) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let time = |v: Option<u64>| v.map(|v| local_time(v, offset_secs)).unwrap_or_default();
    vec![
        r.call_id.clone(),
        String::new(),
        r.direction.clone(),
        r.caller.clone(),
        r.callee.clone(),
        opt(&r.service_number),
        opt(&r.trunk_id),
        String::new(),
        opt(&r.entry_skill_group),
        r.skill_groups.join(";"),
        opt(&r.agent_id),
        time(Some(r.ring_at_ms)),
        time(r.queue_enter_at_ms),
        time(r.answer_at_ms),
        time(Some(r.end_at_ms)),
        r.duration_s.to_string(),
        num(r.queue_wait_s),
        r.talk_s.to_string(),
        r.hold_s.to_string(),
        num(r.after_call_s),
        r.handle_s.to_string(),
        r.outcome.as_str().to_owned(),
        r.disposition.clone(),
        if r.direction == "outbound" {
            r.disposition.clone()
        } else {
            String::new()
        },
        r.transfer_chain.join(";"),
        opt(&r.recording_key),
        String::new(),
        r.tags.join(";"),
        notes
            .iter()
            .map(|n| n.text.replace(['\n', '\r'], " "))
            .collect::<Vec<_>>()
            .join(" | "),
        num(r.qa_score.map(u64::from)),
        String::new(),
        String::new(),
        opt(&r.customer_id),
        r.ticket_ids.join(";"),
        opt(&r.ivr_key_path),
        r.hangup_cause.clone(),
    ]
}

/// At most this many rows per API export (use `pbx cdr export` for more).
const EXPORT_MAX: usize = 100_000;

pub(super) async fn export(
    State(s): State<ApiState>,
    p: Principal,
    Q(params): Q<RecordParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let filter = params.resolve(&p, &v1)?;
    let masks = p.masks();
    let offset = v1.utc_offset_secs;
    let csv = v1
        .db
        .run_api(move |st| {
            let mut w = csv::Writer::from_writer(Vec::new());
            let io = |e: csv::Error| ApiError::internal(format!("csv: {e}"));
            w.write_record(EXPORT_COLUMNS).map_err(io)?;
            let mut after = None;
            let mut n = 0;
            loop {
                let page = st.query_records(&filter, after.as_ref(), 1000)?;
                for mut r in page.records {
                    let notes = st.annotations(&r.call_id)?.notes;
                    if masks {
                        mask_record(&mut r);
                    }
                    w.write_record(export_row(&r, &notes, offset)).map_err(io)?;
                    n += 1;
                }
                match page.next {
                    Some(c) if n < EXPORT_MAX => after = Some(c),
                    _ => break,
                }
            }
            w.into_inner()
                .map_err(|e| ApiError::internal(format!("csv: {e}")))
        })
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"call-records.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

pub(super) async fn recording(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let r = load(&v1, &p, &id).await?;
    if r.recording_state.is_none() {
        return Err(ApiError::not_found(format!("call {id} was not recorded")));
    }
    let Some(access) = &s.admin.recordings else {
        return Err(ApiError::not_found(
            "calls are not recorded here ([recording] is off)",
        ));
    };
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let body = access.fetch(&id, range).await.map_err(|e| match e {
        AccessError::NotFound(_) => ApiError::not_found(e.to_string()),
        _ => ApiError::unavailable(e.to_string()),
    })?;
    let (status, len) = match &body.reply {
        RangeReply::Full => (StatusCode::OK, body.len),
        RangeReply::Partial(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        RangeReply::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, 0),
    };
    let mut resp = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "audio/wav")
        .header(ACCEPT_RANGES, "bytes")
        .header(CONTENT_LENGTH, len);
    if let Some(cr) = body.reply.content_range(body.len) {
        resp = resp.header(CONTENT_RANGE, cr);
    }
    resp.body(Body::from_stream(body.stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}
