//! A report request as the CLI and the HTTP API receive it (strings), and
//! what it becomes: a checked [`Query`] for the tenant's time zone.
//! `--from`/`--to` are local `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`; without
//! them the range is today (local midnight to the next).

use crate::catalog::{days_from_civil, Query};
use crate::db::Period;
use crate::settings::{ReportSettings, Viewer, DAY_MS};
use crate::{Error, Result};

/// The textual arguments of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Start (local time).
    pub from: Option<String>,
    /// End, exclusive (local time; default one day after the start).
    pub to: Option<String>,
    /// Only this skill group.
    pub queue: Option<String>,
    /// Only this agent.
    pub agent: Option<String>,
    /// Only this trunk.
    pub trunk: Option<String>,
    /// Trend grouping: `half-hour`, `hour`, `day` or `total`.
    pub by: Option<String>,
    /// Who asks: `admin` (default), `leader:ID`, `agent:ID`.
    pub viewer: Option<String>,
    /// Working hours `HH:MM-HH:MM` for this report.
    pub hours: Option<String>,
}

/// Parses local `YYYY-MM-DD[THH:MM]` at UTC offset `offset_secs` into Unix ms.
pub fn parse_local(text: &str, offset_secs: i32) -> Result<i64> {
    let bad = || {
        Error::Argument(format!(
            "bad time `{text}`: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ))
    };
    let (date, time) = match text.trim().split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text.trim(), None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let (h, mi) = t.split_once(':').ok_or_else(bad)?;
        let (h, mi): (i64, i64) = (
            h.parse().map_err(|_| bad())?,
            mi.parse().map_err(|_| bad())?,
        );
        if !(0..24).contains(&h) || !(0..60).contains(&mi) {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60;
    }
    Ok((secs - i64::from(offset_secs)) * 1000)
}

/// `half-hour`, `hour`, `day`, `total`.
pub fn parse_period(text: &str) -> Result<Period> {
    match text {
        "half-hour" | "slot" => Ok(Period::Slot),
        "hour" => Ok(Period::Hour),
        "day" => Ok(Period::Day),
        "total" => Ok(Period::Total),
        other => Err(Error::Argument(format!(
            "--by `{other}`: use half-hour, hour, day or total"
        ))),
    }
}

/// `admin`, `leader:ID`, `agent:ID`; the agent must be configured.
pub fn parse_viewer(text: &str, s: &ReportSettings) -> Result<Viewer> {
    let known = |id: &str| -> Result<String> {
        if s.is_agent(id) {
            Ok(id.to_owned())
        } else {
            Err(Error::Argument(format!(
                "viewer `{text}`: `{id}` is no configured agent ([[agents]])"
            )))
        }
    };
    match text.split_once(':') {
        None if text == "admin" => Ok(Viewer::Admin),
        Some(("leader", id)) => Ok(Viewer::Leader(known(id)?)),
        Some(("agent", id)) => Ok(Viewer::Agent(known(id)?)),
        _ => Err(Error::Argument(format!(
            "viewer `{text}`: use admin, leader:ID or agent:ID"
        ))),
    }
}

impl Request {
    /// The query for `now_ms`, and the settings with this request's
    /// working hours.
    pub fn query(&self, s: &ReportSettings, now_ms: i64) -> Result<(Query, ReportSettings)> {
        let off = s.utc_offset_secs;
        let from_ms = match &self.from {
            Some(f) => parse_local(f, off)?,
            None => s.local_day(now_ms) * DAY_MS - s.offset_ms(),
        };
        let to_ms = match &self.to {
            Some(t) => parse_local(t, off)?,
            None => from_ms + DAY_MS,
        };
        let mut settings = s.clone();
        if let Some(h) = &self.hours {
            settings.working_hours = ReportSettings::parse_hours(h)?;
        }
        let q = Query {
            from_ms,
            to_ms,
            queue: self.queue.clone(),
            agent: self.agent.clone(),
            trunk: self.trunk.clone(),
            by: self.by.as_deref().map(parse_period).transpose()?,
            viewer: self
                .viewer
                .as_deref()
                .map(|v| parse_viewer(v, s))
                .transpose()?
                .unwrap_or_default(),
        };
        q.validate()?;
        Ok((q, settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_and_defaults() {
        let day = days_from_civil(2026, 11, 2) * DAY_MS;
        assert_eq!(parse_local("2026-11-02", 0).unwrap(), day);
        assert_eq!(
            parse_local("2026-11-02T09:30", 3600).unwrap(),
            day + 8 * 3_600_000 + 1_800_000
        );
        for bad in [
            "2026-13-01",
            "2026-11",
            "x",
            "2026-11-02T25:00",
            "2026-11-02T09",
        ] {
            assert!(parse_local(bad, 0).is_err(), "{bad}");
        }
        let s = ReportSettings {
            utc_offset_secs: 3600,
            ..ReportSettings::default()
        };
        // 23:30 UTC on Nov 2 is Nov 3 locally: "today" starts Nov 2 23:00 UTC.
        let (q, _) = Request::default()
            .query(&s, day + 23 * 3_600_000 + 1_800_000)
            .unwrap();
        assert_eq!(
            (q.from_ms, q.to_ms),
            (day + 23 * 3_600_000, day + 47 * 3_600_000)
        );
        let r = Request {
            from: Some("2026-11-03".into()),
            to: Some("2026-11-02".into()),
            ..Request::default()
        };
        assert!(r.query(&s, 0).is_err(), "empty range");
        let r = Request {
            by: Some("week".into()),
            ..Request::default()
        };
        assert!(r
            .query(&s, day)
            .unwrap_err()
            .to_string()
            .contains("--by `week`"));
        let r = Request {
            viewer: Some("leader:zz".into()),
            ..Request::default()
        };
        assert!(r
            .query(&s, day)
            .unwrap_err()
            .to_string()
            .contains("no configured agent"));
        let r = Request {
            hours: Some("09:00-17:00".into()),
            viewer: Some("admin".into()),
            ..Request::default()
        };
        assert_eq!(r.query(&s, day).unwrap().1.working_hours, (540, 1020));
    }
}
