//! `GET /trunks` (`pbx trunks`): the trunks' registration, health, load
//! and DNS state.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::ApiState;

/// Trunks, one per line: name, registration, expires in (s), health, last
/// probe RTT (ms), live calls, max calls, the addresses calls go to
/// (comma-separated, best first), seconds since the host name was resolved,
/// DNS state (`static`, `resolving`, `resolved`, `dns failed: <reason>`)
/// (tab-separated, `-` for none; read by `pbx trunks`).
pub(super) async fn list(State(s): State<ApiState>) -> impl IntoResponse {
    let now = s.clock.now();
    let mut text = String::new();
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    if let Some(b2bua) = &s.b2bua {
        for t in b2bua.trunks.lines(now.instant) {
            let targets = if t.targets.is_empty() {
                "-".to_owned()
            } else {
                let v: Vec<String> = t.targets.iter().map(ToString::to_string).collect();
                v.join(",")
            };
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                t.status.name,
                t.status.registration,
                opt(t.status.expires_in),
                t.status.health,
                opt(t.status.rtt_ms),
                t.calls,
                opt(t.max_calls.map(u64::from)),
                targets,
                opt(t.resolved_ago),
                t.dns,
            );
        }
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}
