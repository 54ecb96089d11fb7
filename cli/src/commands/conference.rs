//! `pbx conference`: the conference rooms of the running server (SPEC §20,
//! §21) through its local HTTP endpoint (`/conferences` on
//! metrics.listen): the live rooms, a room's roster, a participant's
//! quality window, and the moderator's operations with the administrator's
//! rights (mute, unmute request, kick, ban, lock, end).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use serde_json::Value;

use super::admin_http;

/// What to do with a room.
#[derive(Subcommand, Debug)]
pub(crate) enum ConferenceCmd {
    /// The room's participants: id, role, name, mute state, talking.
    Show,
    /// A participant's quality window: a sample per 10 s of the last 10
    /// minutes, both directions (packets/s, kbit/s, loss, jitter, RTT, MOS).
    Quality {
        /// Participant id (from the roster).
        id: u32,
    },
    /// Mute a participant at once.
    Mute {
        /// Participant id.
        id: u32,
    },
    /// Ask a muted participant to unmute (it stays muted until it accepts
    /// with key 1, or `accept-unmute`).
    Unmute {
        /// Participant id.
        id: u32,
    },
    /// The participant's own answer to an unmute request: yes.
    AcceptUnmute {
        /// Participant id.
        id: u32,
    },
    /// The participant's own answer to an unmute request: no.
    DeclineUnmute {
        /// Participant id.
        id: u32,
    },
    /// Remove a participant (its call ends).
    Kick {
        /// Participant id.
        id: u32,
        /// Also refuse its rejoining this room.
        #[arg(long)]
        ban: bool,
    },
    /// Mute every speaking guest.
    MuteGuests,
    /// Ask every muted guest to unmute.
    UnmuteGuests,
    /// Lock the room: nobody else joins.
    Lock,
    /// Unlock the room.
    Unlock,
    /// End the room: every participant's call ends.
    End,
}

/// `pbx conferences`: the rooms with participants now.
pub(crate) fn run_list(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let v = call(config_path, "GET", "/conferences")?;
    let rooms = v["rooms"].as_array().map(Vec::as_slice).unwrap_or_default();
    if rooms.is_empty() {
        crate::output::note!("no conference rooms with participants");
        return Ok(ExitCode::SUCCESS);
    }
    crate::output::stdout(|out| {
        writeln!(out, "room\tparticipants")?;
        rooms.iter().try_for_each(|r| {
            writeln!(
                out,
                "{}\t{}",
                r["room"].as_str().unwrap_or("?"),
                r["participants"]
            )
        })
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `pbx conference ROOM [ACTION]`.
pub(crate) fn run(
    config_path: Option<&Path>,
    room: &str,
    action: Option<ConferenceCmd>,
) -> anyhow::Result<ExitCode> {
    let room_path = format!("/conferences/{}", path_segment(room)?);
    let (method, path) = match &action {
        None | Some(ConferenceCmd::Show) => ("GET", room_path.clone()),
        Some(ConferenceCmd::Quality { id }) => ("GET", format!("{room_path}/{id}/quality")),
        Some(ConferenceCmd::Mute { id }) => ("POST", format!("{room_path}/{id}/mute")),
        Some(ConferenceCmd::Unmute { id }) => ("POST", format!("{room_path}/{id}/unmute")),
        Some(ConferenceCmd::AcceptUnmute { id }) => {
            ("POST", format!("{room_path}/{id}/accept-unmute"))
        }
        Some(ConferenceCmd::DeclineUnmute { id }) => {
            ("POST", format!("{room_path}/{id}/decline-unmute"))
        }
        Some(ConferenceCmd::Kick { id, ban }) => {
            let op = if *ban { "ban" } else { "kick" };
            ("POST", format!("{room_path}/{id}/{op}"))
        }
        Some(ConferenceCmd::MuteGuests) => ("POST", format!("{room_path}/mute-guests")),
        Some(ConferenceCmd::UnmuteGuests) => ("POST", format!("{room_path}/unmute-guests")),
        Some(ConferenceCmd::Lock) => ("POST", format!("{room_path}/lock")),
        Some(ConferenceCmd::Unlock) => ("POST", format!("{room_path}/unlock")),
        Some(ConferenceCmd::End) => ("POST", format!("{room_path}/end")),
    };
    let v = call(config_path, method, &path)?;
    match action {
        None | Some(ConferenceCmd::Show) => crate::output::stdout(|out| print_roster(out, &v))?,
        Some(ConferenceCmd::Quality { .. }) => {
            crate::output::stdout(|out| print_quality(out, &v))?;
        }
        Some(_) => crate::output::note!("ok"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A room name as one path segment (room names are dial-plan numbers or
/// words: anything that would need escaping is refused).
fn path_segment(room: &str) -> anyhow::Result<&str> {
    let ok = !room.is_empty()
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if !ok {
        bail!("`{room}` is no room name (letters, digits, - _ . + only)");
    }
    Ok(room)
}

/// The JSON answer of a request; a non-200 answer is an error with the
/// server's reason.
fn call(config_path: Option<&Path>, method: &str, path: &str) -> anyhow::Result<Value> {
    let config = super::load_config(config_path)?;
    let (status, body) = admin_http::request(&config, "conference rooms", method, path)?;
    if status != 200 {
        bail!("{}", admin_http::error_of(&body));
    }
    Ok(serde_json::from_str(&body)?)
}

fn flag(p: &Value, key: &str, word: &'static str) -> Option<&'static str> {
    p[key].as_bool().unwrap_or(false).then_some(word)
}

fn print_roster(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    writeln!(out, "id\trole\tname\tstate")?;
    for p in v["participants"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let state: Vec<&str> = [
            flag(p, "moderator_muted", "muted"),
            flag(p, "unmute_request_pending", "unmute-requested"),
            flag(p, "self_muted", "self-muted"),
            flag(p, "talking", "talking"),
            flag(p, "presenter", "presenter"),
            flag(p, "featured", "featured"),
        ]
        .into_iter()
        .flatten()
        .collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            p["id"],
            p["role"].as_str().unwrap_or("?"),
            p["name"].as_str().unwrap_or(""),
            if state.is_empty() {
                "-".to_owned()
            } else {
                state.join(",")
            }
        )?;
    }
    Ok(())
}

fn print_quality(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    writeln!(
        out,
        "direction\tage_s\tpackets_per_s\tbitrate_kbps\tloss_pct\tjitter_ms\trtt_ms\tmos"
    )?;
    for dir in ["inbound", "outbound"] {
        for s in v[dir].as_array().map(Vec::as_slice).unwrap_or_default() {
            writeln!(
                out,
                "{dir}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                s["age_s"],
                s["packets_per_s"],
                s["bitrate_kbps"],
                s["loss_pct"],
                s["jitter_ms"],
                s["rtt_ms"],
                s["mos"]
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_rows_name_the_state() {
        let v = serde_json::json!({"room": "800", "participants": [
            {"id": 3, "role": "moderator", "name": "alice", "moderator_muted": false,
             "talking": true},
            {"id": 4, "role": "speaker", "name": "bob", "moderator_muted": true,
             "unmute_request_pending": true},
            {"id": 5, "role": "speaker", "name": ""},
        ]});
        let mut out = Vec::new();
        print_roster(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id\trole\tname\tstate\n3\tmoderator\talice\ttalking\n\
             4\tspeaker\tbob\tmuted,unmute-requested\n5\tspeaker\t\t-\n"
        );
    }

    #[test]
    fn room_names_that_need_escaping_are_refused() {
        assert_eq!(path_segment("800").unwrap(), "800");
        assert_eq!(path_segment("sales-room_1").unwrap(), "sales-room_1");
        for bad in ["", "a/b", "a b", "../x", "ä"] {
            assert!(path_segment(bad).is_err(), "{bad}");
        }
    }
}
