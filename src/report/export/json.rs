//! `--export-json`: the same documented structs `--json` prints (schema in results.rs).

use super::Exporter;
use crate::results::Report;
use crate::results::SweepReport;

pub struct Json;

impl Exporter for Json {
    fn flag(&self) -> &'static str {
        "--export-json"
    }

    fn compare(&self, r: &Report) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
    }

    fn sweep(&self, s: &SweepReport) -> String {
        serde_json::to_string_pretty(s).unwrap_or_default() + "\n"
    }
}
