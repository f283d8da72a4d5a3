//! Printing a [`Report`] and every other command's output: tables and lines for people, JSON for
//! programs. Nothing here measures.

pub mod export;
mod profile;
pub mod serve;
mod sweep;
mod table;

pub use table::{bar_of, new_table};

use std::io::{IsTerminal, Write};

use anyhow::Result;

use crate::results::Report;

/// When to colour what people read: always, never, or (auto) when stdout is a terminal and
/// neither NO_COLOR nor TERM=dumb says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// How results are printed: a table for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table { color: Color },
    Json,
}

/// Whether to colour output going to stdout.
pub fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
                && std::io::stdout().is_terminal()
        }
    }
}

/// Write a sweep's results to `w` in the chosen format.
pub fn write_sweep(
    s: &crate::results::SweepReport,
    output: Output,
    w: &mut dyn Write,
) -> Result<()> {
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *w, s)?;
            writeln!(w)?;
        }
        Output::Table { color } => {
            w.write_all(sweep::render(s, use_color(color)).as_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Write `report` to `w` in the chosen format.
pub fn write(report: &Report, output: Output, w: &mut dyn Write) -> Result<()> {
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *w, report)?;
            writeln!(w)?;
        }
        Output::Table { color } => {
            w.write_all(table::render(report, use_color(color)).as_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}
