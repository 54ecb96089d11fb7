//! Condition evaluation against the injected local time, calendar, caller
//! and variables.

use chrono::{Datelike, NaiveTime, Timelike};

use super::{Interpreter, Time};
use crate::model::{Cmp, Condition, Test, WeekdayKey};

impl Interpreter {
    /// The exit of the first rule whose tests all hold, else `default`.
    pub(super) fn evaluate<'c>(&self, now: Time, c: &'c Condition) -> &'c str {
        c.rules
            .iter()
            .find(|r| r.tests.iter().all(|t| self.holds(now, t)))
            .map_or("default", |r| r.exit.as_str())
    }

    fn holds(&self, now: Time, test: &Test) -> bool {
        let local = now.naive_local();
        match test {
            Test::Time { start, end } => {
                let t = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
                    .unwrap_or(NaiveTime::MIN);
                if start < end {
                    *start <= t && t < *end
                } else {
                    t >= *start || t < *end
                }
            }
            Test::Days(days) => days.contains(&WeekdayKey::from(local.weekday())),
            Test::Holiday(want) => {
                let date = local.date();
                let is = self.calendar.is_holiday(date) || self.flow.holidays.contains(&date);
                is == *want
            }
            Test::Dates(dates) => dates.contains(&local.date()),
            Test::CallerPrefix(prefixes) => {
                let caller = self.vars.get("caller").map_or("", String::as_str);
                prefixes.iter().any(|p| caller.starts_with(p.as_str()))
            }
            Test::Region(regions) => self
                .vars
                .get("caller_region")
                .is_some_and(|r| regions.iter().any(|x| x.eq_ignore_ascii_case(r))),
            Test::Var { name, cmp, .. } => {
                let v = self.vars.get(name);
                match cmp {
                    Cmp::Eq(s) => v.is_some_and(|v| v == s),
                    Cmp::Ne(s) => v.is_none_or(|v| v != s),
                    Cmp::Matches(re) => v.is_some_and(|v| re.is_match(v)),
                    Cmp::Lt(n) => v
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .is_some_and(|x| x < *n),
                    Cmp::Gt(n) => v
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .is_some_and(|x| x > *n),
                    Cmp::IsSet(want) => v.is_some() == *want,
                }
            }
        }
    }
}
