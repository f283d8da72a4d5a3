//! Printing `copylab fetch`: a line per connection, the spread over connections, or `--json`.
//! Lines wrap to the screen between their values (" · "), never inside one.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use super::text::{keep_figures, wrap, wrap_values};
use crate::results::fetch::{FetchReport, Fetched};
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
    let width = super::Screen::of(super::Color::Never, super::TableLayout::default()).width;
    for c in results {
        write_connection(c, results.len(), width, out)?;
    }
    if results.len() > 1 {
        write_spread(r, width, out)?;
    }
    // One note per distinct cut (several connections asked for the same range).
    let notes: BTreeSet<&str> = results
        .iter()
        .filter_map(|c| c.range_note.as_deref())
        .collect();
    for n in notes {
        write!(out, "{}", wrap(&keep_figures(n), width, "note: ", 2))?;
    }
    if let Some(p) = written_to {
        writeln!(out, "written to {}", crate::escape::path(p))?;
    }
    out.flush()?;
    Ok(())
}

/// One connection's line: its bytes, time, rate and SHA-256 (numbered when the fetch made
/// `count` > 1 connections), or why it failed — left to the error line on stderr when it was
/// the only connection.
fn write_connection(c: &Fetched, count: usize, width: usize, out: &mut dyn Write) -> Result<()> {
    let sha = c
        .sha256
        .as_deref()
        .unwrap_or("n/a (--discard=truncate never sees the bytes)");
    match &c.error {
        None => writeln!(
            out,
            "{}",
            wrap_values(
                &[
                    format!(
                        "{}{} bytes ({})",
                        if count > 1 {
                            format!("#{} ", c.id)
                        } else {
                            String::new()
                        },
                        c.bytes,
                        fmt_bytes(c.bytes),
                    ),
                    format!("in {:.1} ms", c.wall_ns as f64 / 1e6),
                    format!("{:.0} MiB/s", c.throughput_mib_s),
                    format!("sha256 {sha}"),
                ],
                width
            )
        )?,
        // With one connection, the error line on stderr says it all.
        Some(_) if count == 1 => {}
        Some(e) => write!(
            out,
            "{}",
            wrap(
                &keep_figures(&format!(
                    "#{} failed after {} bytes: {}",
                    c.id,
                    c.bytes,
                    crate::escape::escape(e)
                )),
                width,
                "",
                2
            )
        )?,
    }
    Ok(())
}

/// Over several connections: the spread of the finished ones' rates beside the aggregate, then
/// whether every hashed connection received the same bytes.
fn write_spread(r: &FetchReport<'_>, width: usize, out: &mut dyn Write) -> Result<()> {
    let results = r.connections;
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
            "{}",
            wrap_values(
                &[
                    format!("{} connections", results.len()),
                    format!("MiB/s min {min:.0}"),
                    format!("median {med:.0}"),
                    format!("max {max:.0}"),
                    format!(
                        "aggregate {:.0} MiB/s over {:.1} ms",
                        r.aggregate_mib_s,
                        r.wall_ns as f64 / 1e6
                    ),
                ],
                width
            )
        )?;
    }
    let shas: BTreeSet<&str> = results.iter().filter_map(|c| c.sha256.as_deref()).collect();
    if shas.len() == 1 {
        writeln!(out, "all connections received the same bytes")?;
    } else if shas.len() > 1 {
        writeln!(out, "warning: the connections received different bytes")?;
    }
    Ok(())
}
