//! Printing `copylab doctor`: one line per check with its fix, the columns, the verdict.

use std::io::Write;

use anyhow::Result;

use crate::results::doctor::Diagnosis;

/// Print the diagnosis: lines for people, or `--json`.
pub fn write_doctor(d: &Diagnosis, json: bool, w: &mut dyn Write) -> Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *w, d)?;
        writeln!(w)?;
        return Ok(());
    }
    for c in &d.checks {
        writeln!(w, "{:<8} {:<19} {}", c.level.word(), c.name, c.found)?;
        if let Some(fix) = &c.fix {
            writeln!(w, "{:<8} {:<19} fix: {fix}", "", "")?;
        }
    }
    writeln!(w)?;
    writeln!(w, "compare's columns on this machine:")?;
    for c in &d.columns {
        writeln!(w, "  {:<13} {:<54} {}", c.verdict, c.column, c.source)?;
    }
    writeln!(w)?;
    if d.full_table {
        writeln!(w, "verdict: the full table is available (counters: perf)")?;
    } else {
        writeln!(
            w,
            "verdict: compare will run with counters: {} — apply the fixes above for the full table",
            d.counter_source
        )?;
    }
    w.flush()?;
    Ok(())
}
