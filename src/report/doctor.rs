//! Printing `copylab doctor`: one line per check with its fix, the columns, the verdict —
//! wrapped to the screen, or JSON.

use std::io::Write;

use anyhow::Result;

use super::{Output, Screen};
use crate::results::doctor::Diagnosis;

/// Width of the level and name columns, before a check's finding.
const LEVEL_W: usize = 8;
const NAME_W: usize = 19;

/// Print the diagnosis as `output` says: lines for people, or JSON.
pub fn write_doctor(d: &Diagnosis, output: Output, w: &mut dyn Write) -> Result<()> {
    let Output::Table { color, layout } = output else {
        serde_json::to_writer_pretty(&mut *w, d)?;
        writeln!(w)?;
        return Ok(());
    };
    w.write_all(render(d, &Screen::of(color, layout)).as_bytes())?;
    w.flush()?;
    Ok(())
}

/// The diagnosis for people, every line within the screen's width.
fn render(d: &Diagnosis, screen: &Screen) -> String {
    let mut out = String::new();
    let indent = LEVEL_W + 1 + NAME_W + 1;
    for c in &d.checks {
        let first = format!("{:<LEVEL_W$} {:<NAME_W$} ", c.level.name(), c.name);
        out.push_str(&screen.wrap(&c.found, &first, indent));
        if let Some(fix) = &c.fix {
            let first = format!("{:<LEVEL_W$} {:<NAME_W$} ", "", "");
            out.push_str(&screen.wrap(&format!("fix: {fix}"), &first, indent + 5));
        }
    }
    out.push('\n');
    out.push_str("compare's columns on this machine:\n");
    for c in &d.columns {
        out.push_str(&screen.wrap(
            &format!("{}: {}", c.column, c.source),
            &format!("  {:<13} ", c.verdict),
            16,
        ));
    }
    out.push('\n');
    if d.full_table {
        out.push_str("verdict: the full table is available (counters: perf)\n");
    } else {
        out.push_str(&screen.wrap(
            &format!(
                "verdict: compare will run with counters: {} — apply the fixes above for the full table",
                d.counter_source
            ),
            "",
            2,
        ));
    }
    out
}
