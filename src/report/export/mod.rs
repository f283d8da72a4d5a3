//! Exports: the results written to files (or stdout) as JSON, CSV, Markdown or one HTML page,
//! and the sampled callchains as folded stacks and flame graphs into a directory. One trait,
//! one file per format. A file is checked before the runs start (a bad path fails at once);
//! JSON, CSV and Markdown are created then and rewritten after every measured run, so an
//! interrupted run leaves the results it had; the HTML page and the stacks are written once,
//! at the end (they hold every run's samples). Files are written through [`crate::outfile`]: a
//! regular file is replaced by a rename, a device or FIFO is written once at the end in place,
//! a symbolic link is refused unless it is a trusted link to a device or FIFO (`/dev/stdout`).

mod csv;
mod json;
mod markdown;
pub mod stacks;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::outfile::{self, WriteMode};
use crate::report::text::Lang;
use crate::results::Report;
use crate::results::SweepReport;
use crate::results::TraceReport;

/// One output format.
pub trait Exporter {
    /// The flag that asks for it, for messages.
    fn flag(&self) -> &'static str;
    fn compare(&self, r: &Report) -> String;
    fn sweep(&self, s: &SweepReport) -> String;
    /// A trace's results, for the formats `trace` offers.
    fn trace(&self, _t: &TraceReport) -> Option<String> {
        None
    }
    /// Rewritten after every measured run (false: written once, at the end).
    fn each_run(&self) -> bool {
        true
    }
}

/// The formats copylab exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Markdown,
    /// One self-contained HTML page, in this language.
    Html(Lang),
}

impl Format {
    fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Json => Box::new(json::Json),
            Format::Csv => Box::new(csv::Csv),
            Format::Markdown => Box::new(markdown::Markdown),
            Format::Html(lang) => Box::new(crate::report::html::Html { lang }),
        }
    }
}

/// What the command line asked to export.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// Each format and its file (`-` for stdout).
    pub files: Vec<(Format, String)>,
    /// `--export-stacks DIR`.
    pub stacks_dir: Option<PathBuf>,
}

impl Specs {
    /// The runs must keep their callchains: stacks or an HTML page (its flame graphs) asked for.
    pub fn need_stacks(&self) -> bool {
        self.stacks_dir.is_some() || self.files.iter().any(|(f, _)| matches!(f, Format::Html(_)))
    }
}

/// The flag of `--export-stacks`.
pub const STACKS_FLAG: &str = "--export-stacks";

/// Where one export goes.
struct Destination {
    /// None: stdout, written once at the end.
    path: Option<PathBuf>,
    /// How `path` is written: rewritten after every run (a regular file) or once at the end
    /// (a device or FIFO, where every rewrite would add to what the reader already has).
    kind: WriteMode,
    exporter: Box<dyn Exporter>,
}

/// The exports asked for on the command line.
pub struct Exports {
    files: Vec<Destination>,
    stacks_dir: Option<PathBuf>,
}

/// Something an exporter can render.
pub enum Results<'a> {
    Compare(&'a Report),
    Sweep(&'a SweepReport),
    Trace(&'a TraceReport),
}

impl Exports {
    /// Create every export file rewritten after each run now (empty), and check the others'
    /// paths, so a bad path fails before any run.
    pub fn create(specs: &Specs) -> Result<Exports> {
        let mut v = Vec::new();
        for (format, path) in &specs.files {
            let exporter = format.exporter();
            let (path, kind) = if path == "-" {
                (None, WriteMode::InPlace { link: false })
            } else {
                let p = PathBuf::from(path);
                let kind = outfile::classify(exporter.flag(), &p)?;
                if kind == WriteMode::Replace {
                    if exporter.each_run() {
                        outfile::replace(exporter.flag(), &p, b"")?;
                    } else {
                        outfile::check_writable_beside(exporter.flag(), &p)?;
                    }
                }
                (Some(p), kind)
            };
            v.push(Destination {
                path,
                kind,
                exporter,
            });
        }
        if let Some(d) = &specs.stacks_dir {
            outfile::check_dir(STACKS_FLAG, d)?;
        }
        Ok(Exports {
            files: v,
            stacks_dir: specs.stacks_dir.clone(),
        })
    }

    fn render(t: &Destination, r: &Results) -> String {
        match r {
            Results::Compare(r) => t.exporter.compare(r),
            Results::Sweep(s) => t.exporter.sweep(s),
            Results::Trace(tr) => t.exporter.trace(tr).unwrap_or_default(),
        }
    }

    /// Rewrite every regular-file export that is rewritten after each run with the results so
    /// far.
    pub fn update(&self, r: &Results) -> Result<()> {
        self.write_files(r, |t| t.exporter.each_run())
    }

    /// Rewrite the regular-file exports that `which` picks with `r`.
    fn write_files(&self, r: &Results, which: impl Fn(&Destination) -> bool) -> Result<()> {
        for t in self.files.iter().filter(|t| which(t)) {
            if let (Some(p), WriteMode::Replace) = (&t.path, t.kind) {
                outfile::replace(t.exporter.flag(), p, Self::render(t, r).as_bytes())?;
            }
        }
        Ok(())
    }

    /// Write the final results: files, devices and FIFOs, the stdout exports, and the stacks.
    pub fn finish(&self, r: &Results) -> Result<()> {
        self.write_files(r, |_| true)?;
        if let Some(d) = &self.stacks_dir {
            write_stacks(d, r)?;
        }
        for t in &self.files {
            let WriteMode::InPlace { link } = t.kind else {
                continue;
            };
            let text = Self::render(t, r);
            match &t.path {
                Some(p) => outfile::write_in_place(t.exporter.flag(), p, link, text.as_bytes())?,
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
            }
        }
        Ok(())
    }

    /// An export goes to stdout (then the table does not).
    pub fn uses_stdout(&self) -> bool {
        self.files.iter().any(|t| t.path.is_none())
    }
}

/// Write the stacks of `r` into `dir` (made if missing): compare per method × thread, trace
/// per thread. With nothing sampled (the profile refused) nothing is written, and a warning
/// on stderr says so.
fn write_stacks(dir: &std::path::Path, r: &Results) -> Result<()> {
    let graphs = match r {
        Results::Compare(r) => crate::report::html::compare_graphs(r),
        Results::Trace(t) => crate::report::html::trace_graphs(t),
        Results::Sweep(_) => Vec::new(),
    };
    if graphs.is_empty() {
        eprintln!(
            "warning: {STACKS_FLAG} {}: nothing was sampled (the CPU profile is n/a: see the warnings), so no stacks were written",
            crate::escape::path(dir)
        );
        return Ok(());
    }
    let out = outfile::OutDir::open(STACKS_FLAG, dir)?;
    stacks::write_all(&out, &graphs)
}
