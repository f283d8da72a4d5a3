//! The `copylab doctor --json` format: each check, where each of compare's columns will come
//! from, and the verdict.

use serde::Serialize;

use super::words::words;

words! {
    /// How a check came out.
    Level {
        Ok => "ok",
        Limited => "limited",
        Missing => "missing",
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorCheck {
    pub name: &'static str,
    pub level: Level,
    /// What was found.
    pub found: String,
    /// The command (or step) that fixes it, when it is not ok.
    pub fix: Option<String>,
}

/// Where one column of the compare table will come from.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSource {
    pub column: &'static str,
    /// `real`, `self-counted` or `n/a`.
    pub verdict: &'static str,
    pub source: String,
}

/// The whole diagnosis (`--json` prints this).
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub checks: Vec<DoctorCheck>,
    pub columns: Vec<ColumnSource>,
    /// Everything the full compare table needs is there.
    pub full_table: bool,
    /// What compare will report as its counter source: "perf" or "rusage".
    pub counter_source: super::CounterSource,
}
