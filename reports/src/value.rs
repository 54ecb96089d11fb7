//! Report cells and exact decimal arithmetic. Every figure is kept as
//! integers (a count, or a fraction `num / den`) until it is printed, so a
//! percentage or an average is rounded once, half-up, to 2 decimals — no
//! float rounding surprises (SPEC §13.3, §13.4). A fraction whose
//! denominator is 0 is `None`: printed "—", `null` in JSON, never 0.

use std::fmt;

pub use acd::stats::Ratio;

/// What "no value" (a division by zero) prints as.
pub const DASH: &str = "—";

/// An exact non-negative fraction `num / den` (den > 0), shown with 2
/// decimals rounded half-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frac {
    /// Numerator.
    pub num: u128,
    /// Denominator (never 0).
    pub den: u128,
}

impl Frac {
    /// `num / den`, or None when `den` is 0.
    pub fn new(num: u128, den: u128) -> Option<Self> {
        (den > 0).then_some(Self { num, den })
    }

    /// The value in hundredths, rounded half-up (12.345 → 1235).
    pub fn hundredths(&self) -> u128 {
        (2 * self.num * 100 + self.den) / (2 * self.den)
    }

    /// The rounded value as `f64` (exactly what is printed; for JSON and charts).
    pub fn rounded_f64(&self) -> f64 {
        self.hundredths() as f64 / 100.0
    }
}

impl fmt::Display for Frac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.hundredths();
        write!(f, "{}.{:02}", h / 100, h % 100)
    }
}

/// Seconds from a sum of milliseconds over `n` items (`Σ ms / 1000 / n`).
pub fn avg_seconds(sum_ms: i64, n: i64) -> Option<Frac> {
    Frac::new(sum_ms.max(0) as u128, n.max(0) as u128 * 1000)
}

/// A ratio of two counts, None when `den` is 0.
pub fn ratio(num: i64, den: i64) -> Option<Ratio> {
    Ratio::new(num.max(0) as u64, den.max(0) as u64)
}

/// The unit a decimal cell is shown with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// Seconds (`12.50 s`).
    Seconds,
    /// Calls per day (`3.50`).
    PerDay,
    /// A mean opinion score (`4.12`).
    Mos,
    /// Percent of packets (`1.50 %`).
    LossPercent,
    /// Milliseconds (`20.00 ms`).
    Millis,
    /// A survey score (`4.50`).
    Score,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Self::Seconds => " s",
            Self::LossPercent => " %",
            Self::Millis => " ms",
            Self::PerDay | Self::Mos | Self::Score => "",
        }
    }
}

/// One cell of a report table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cell {
    /// A label (a period, a queue, an agent, ...).
    Text(String),
    /// A count.
    Count(i64),
    /// A percentage (None: "—").
    Percent(Option<Ratio>),
    /// A decimal with a unit (None: "—").
    Decimal(Option<Frac>, Unit),
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    /// As printed in a terminal table (`70.00 %`, `12.50 s`, `—`).
    pub fn display(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Count(n) => n.to_string(),
            Self::Percent(Some(r)) => r.to_string(),
            Self::Decimal(Some(v), unit) => format!("{v}{}", unit.suffix()),
            Self::Percent(None) | Self::Decimal(None, _) => DASH.to_owned(),
        }
    }

    /// As written in CSV: the number without its unit (`70.00`), "—" for none.
    pub fn csv(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Count(n) => n.to_string(),
            Self::Percent(Some(r)) => {
                let h = r.percent_hundredths();
                format!("{}.{:02}", h / 100, h % 100)
            }
            Self::Decimal(Some(v), _) => v.to_string(),
            Self::Percent(None) | Self::Decimal(None, _) => DASH.to_owned(),
        }
    }

    /// As JSON: a string, an integer, a number rounded to 2 decimals, or null.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Self::Text(s) => serde_json::Value::String(s.clone()),
            Self::Count(n) => serde_json::Value::from(*n),
            Self::Percent(Some(r)) => {
                serde_json::Value::from(r.percent_hundredths() as f64 / 100.0)
            }
            Self::Decimal(Some(v), _) => serde_json::Value::from(v.rounded_f64()),
            Self::Percent(None) | Self::Decimal(None, _) => serde_json::Value::Null,
        }
    }

    /// The value plotted for this cell (None: no point).
    pub fn plot(&self) -> Option<f64> {
        match self {
            Self::Text(_) => None,
            Self::Count(n) => Some(*n as f64),
            Self::Percent(r) => r.map(|r| r.percent_hundredths() as f64 / 100.0),
            Self::Decimal(v, _) => v.map(|v| v.rounded_f64()),
        }
    }
}
