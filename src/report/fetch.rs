//! Printing `copylab fetch`: a line per connection, the spread over connections, or `--json`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::results::fetch::FetchReport;
use crate::size::fmt_bytes;

/// Print what a fetch received; `written_to` is the --out file when every connection finished.
pub fn write_fetch(
    r: &FetchReport<'_>,
    json: bool,
    written_to: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, r)?;
        writeln!(out)?;
        return Ok(());
    }
    let results = r.connections;
    for c in results {
        let sha = c
            .sha256
            .as_deref()
            .unwrap_or("n/a (--discard=truncate never sees the bytes)");
        match &c.error {
            None => writeln!(
                out,
                "{}{} bytes ({}) in {:.1} ms · {:.0} MiB/s · sha256 {sha}",
                if results.len() > 1 {
                    format!("#{} ", c.id)
                } else {
                    String::new()
                },
                c.bytes,
                fmt_bytes(c.bytes),
                c.wall_ns as f64 / 1e6,
                c.throughput_mib_s,
            )?,
            // With one connection, the error line on stderr says it all.
            Some(_) if results.len() == 1 => {}
            Some(e) => writeln!(
                out,
                "#{} failed after {} bytes: {}",
                c.id,
                c.bytes,
                crate::escape::escape(e)
            )?,
        }
    }
    if results.len() > 1 {
        let mut t: Vec<f64> = results
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.throughput_mib_s)
            .collect();
        t.sort_by(f64::total_cmp);
        if let (Some(min), Some(max)) = (t.first(), t.last()) {
            let med = crate::stats::median_f64(t.clone()).unwrap_or(*min);
            writeln!(
                out,
                "{} connections · MiB/s min {min:.0} · median {med:.0} · max {max:.0} · aggregate {:.0} MiB/s over {:.1} ms",
                results.len(),
                r.aggregate_mib_s,
                r.wall_ns as f64 / 1e6
            )?;
        }
        let shas: std::collections::BTreeSet<&str> =
            results.iter().filter_map(|c| c.sha256.as_deref()).collect();
        if shas.len() == 1 {
            writeln!(out, "all connections received the same bytes")?;
        } else if shas.len() > 1 {
            writeln!(out, "warning: the connections received different bytes")?;
        }
    }
    // One note per distinct cut (several connections asked for the same range).
    let notes: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|c| c.range_note.as_deref())
        .collect();
    for n in notes {
        writeln!(out, "note: {n}")?;
    }
    if let Some(p) = written_to {
        writeln!(out, "written to {}", crate::escape::path(p))?;
    }
    out.flush()?;
    Ok(())
}
