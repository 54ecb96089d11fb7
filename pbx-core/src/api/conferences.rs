//! The conference admin API on the local HTTP endpoint (SPEC §20, §21),
//! read and driven by `pbx conference`:
//!
//! - `GET /conferences`: `{"rooms": [{"room", "participants"}]}` — rooms
//!   with participants now;
//! - `GET /conferences/ROOM`: `{"room", "participants": [{"id", "role",
//!   "name", "self_muted", "moderator_muted", "unmute_request_pending",
//!   "presenter", "featured", "talking", "level_rms"}]}`, featured first;
//! - `GET /conferences/ROOM/ID/quality`: the quality window of one
//!   participant, one sample per 10 s for the last 10 minutes, both
//!   directions: `{"room", "participant", "inbound": [...], "outbound":
//!   [...]}` with `{"age_s", "packets_per_s", "bitrate_kbps", "loss_pct",
//!   "jitter_ms", "rtt_ms", "mos"}` per sample, oldest first;
//! - `POST /conferences/ROOM/OP` with OP `lock`, `unlock`, `end`,
//!   `mute-guests`, `unmute-guests`;
//! - `POST /conferences/ROOM/ID/OP` with OP `mute` (immediate), `unmute`
//!   (a request: the participant stays muted until it accepts, SPEC §20),
//!   `kick`, `ban` (kick and refuse a rejoin), and the participant's own
//!   answer to a request, `accept-unmute` / `decline-unmute`.
//!
//! The administrator has a moderator's rights in every room. Operations
//! answer `{"ok": true}` once handed to the mixer; an unknown room or
//! participant is 404, an unknown operation 400, no media runtime 503 —
//! each with a JSON `error`.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use media::dtmf::Digit;
use media::endpoint::{EndpointError, EndpointHost, EndpointId, RoomOp};
use media::mixer::thread::RosterEntry;
use media::mixer::Role;
use media::quality::QualitySample;
use serde_json::{json, Value};

use super::errors::json_response;
use super::ApiState;

/// Runs `f` on the endpoint runtime off the async threads (its queries wait
/// for the mixer's next tick).
async fn with_host<F>(s: ApiState, f: F) -> Response
where
    F: FnOnce(&EndpointHost) -> Result<Value, ApiError> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || {
        let host = s
            .b2bua
            .as_ref()
            .and_then(|b| b.endpoints.as_ref())
            .ok_or(ApiError::NoMedia)?;
        f(host.host())
    })
    .await;
    match joined {
        Ok(Ok(body)) => json_response(StatusCode::OK, &body),
        Ok(Err(e)) => e.response(),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": format!("conference request failed: {e}") }),
        ),
    }
}

/// Why a conference request failed.
#[derive(Debug)]
enum ApiError {
    NoMedia,
    Endpoint(EndpointError),
    UnknownOp(String),
    BadId(String),
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        Self::Endpoint(e)
    }
}

impl ApiError {
    fn response(&self) -> Response {
        let (status, error) = match self {
            Self::NoMedia => (
                StatusCode::SERVICE_UNAVAILABLE,
                "no conference rooms here (calls.engine is not \"b2bua\", or the media runtime did not start)".to_owned(),
            ),
            Self::Endpoint(
                e @ (EndpointError::UnknownRoom(_) | EndpointError::UnknownParticipant(..)),
            ) => (StatusCode::NOT_FOUND, e.to_string()),
            Self::Endpoint(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Self::UnknownOp(why) | Self::BadId(why) => (StatusCode::BAD_REQUEST, why.clone()),
        };
        json_response(status, &json!({ "error": error }))
    }
}

pub(super) async fn list(State(s): State<ApiState>) -> Response {
    with_host(s, |host| {
        let rooms: Vec<Value> = host
            .rooms()
            .into_iter()
            .map(|room| {
                let n = host.roster(&room).map_or(0, |r| r.len());
                json!({ "room": room, "participants": n })
            })
            .collect();
        Ok(json!({ "rooms": rooms }))
    })
    .await
}

pub(super) async fn roster(State(s): State<ApiState>, Path(room): Path<String>) -> Response {
    with_host(s, move |host| {
        let people: Vec<Value> = host.roster(&room)?.iter().map(roster_json).collect();
        Ok(json!({ "room": room, "participants": people }))
    })
    .await
}

pub(super) async fn quality(
    State(s): State<ApiState>,
    Path((room, id)): Path<(String, String)>,
) -> Response {
    with_host(s, move |host| {
        let id = participant_id(&id)?;
        let (inbound, outbound) = host.quality(&room, EndpointId(id))?;
        let now = Instant::now();
        let samples =
            |v: &[QualitySample]| -> Vec<Value> { v.iter().map(|q| sample_json(now, q)).collect() };
        Ok(json!({
            "room": room,
            "participant": id,
            "inbound": samples(&inbound),
            "outbound": samples(&outbound),
        }))
    })
    .await
}

/// `POST /conferences/ROOM/OP`: an operation on the room.
pub(super) async fn room_op(
    State(s): State<ApiState>,
    Path((room, op)): Path<(String, String)>,
) -> Response {
    with_host(s, move |host| {
        let op = match op.as_str() {
            "lock" => RoomOp::Lock(true),
            "unlock" => RoomOp::Lock(false),
            "end" => RoomOp::End,
            "mute-guests" => RoomOp::MuteGuests,
            "unmute-guests" => RoomOp::RequestUnmuteGuests,
            other => {
                return Err(ApiError::UnknownOp(format!(
                    "unknown room operation `{other}`; use lock, unlock, end, mute-guests or unmute-guests"
                )))
            }
        };
        host.admin(&room, op)?;
        Ok(json!({ "ok": true }))
    })
    .await
}

/// `POST /conferences/ROOM/ID/OP`: an operation on one participant.
pub(super) async fn participant_op(
    State(s): State<ApiState>,
    Path((room, id, op)): Path<(String, String, String)>,
) -> Response {
    with_host(s, move |host| {
        let id = participant_id(&id)?;
        let target = EndpointId(id);
        if !host.roster(&room)?.iter().any(|p| p.id.0 == id) {
            return Err(EndpointError::UnknownParticipant(room, target).into());
        }
        match op.as_str() {
            "mute" => host.admin(&room, RoomOp::Mute(target))?,
            "unmute" => host.admin(&room, RoomOp::RequestUnmute(target))?,
            "kick" => host.admin(&room, RoomOp::Kick { target, ban: false })?,
            "ban" => host.admin(&room, RoomOp::Kick { target, ban: true })?,
            // the participant's own answer (as its keys 1 / 2 would give it)
            "accept-unmute" => host.room_op(target, RoomOp::Key(Digit::D1)),
            "decline-unmute" => host.room_op(target, RoomOp::Key(Digit::D2)),
            other => {
                return Err(ApiError::UnknownOp(format!(
                    "unknown participant operation `{other}`; use mute, unmute, kick, ban, accept-unmute or decline-unmute"
                )))
            }
        }
        Ok(json!({ "ok": true }))
    })
    .await
}

/// A participant id of the path (the `id` of the roster).
fn participant_id(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadId(format!(
            "`{text}` is no participant id (a number of the roster)"
        ))
    })
}

fn roster_json(p: &RosterEntry) -> Value {
    json!({
        "id": p.id.0,
        "role": role_name(p.role),
        "name": p.display_name,
        "self_muted": p.self_muted,
        "moderator_muted": p.moderator_muted,
        "unmute_request_pending": p.unmute_request_pending,
        "presenter": p.presenter,
        "featured": p.featured,
        "talking": p.talking,
        "level_rms": p.level_rms,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Moderator => "moderator",
        Role::Speaker => "speaker",
        Role::Supervisor => "supervisor",
        Role::Attendee => "attendee",
    }
}

fn sample_json(now: Instant, q: &QualitySample) -> Value {
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "age_s": now.saturating_duration_since(q.at).as_secs(),
        "packets_per_s": round(q.packets_per_s),
        "bitrate_kbps": round(q.bitrate_kbps),
        "loss_pct": round(q.loss_pct),
        "jitter_ms": round(q.jitter_ms),
        "rtt_ms": round(q.rtt_ms),
        "mos": round(q.mos),
    })
}
