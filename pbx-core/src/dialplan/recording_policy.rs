//! A call's recording policy, the word a `[[dialplan]]` entry's
//! `recording = "…"` (and `[recording]`'s users, trunks, queues) gives;
//! how the levels combine is `recording/policy.rs`.

/// A recording policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingPolicy {
    /// Recorded from the bridge.
    Always,
    /// Never recorded (wins over every other level).
    Never,
    /// Recorded once a party presses `recording.start_code`.
    OnDemand,
}

impl RecordingPolicy {
    /// Reads `always`, `never` or `on_demand` (also `on-demand`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "always" => Self::Always,
            "never" => Self::Never,
            "on_demand" | "on-demand" => Self::OnDemand,
            _ => return None,
        })
    }

    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::OnDemand => "on_demand",
        }
    }
}
