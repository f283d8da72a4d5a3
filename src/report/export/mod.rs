//! Exports: the results written to files (or stdout) as JSON, CSV or Markdown. One trait, one
//! file per format. A file is created before the runs start (a bad path fails at once) and
//! rewritten after every measured run, so an interrupted run leaves the results it had. Files
//! are written through [`crate::outfile`]: a regular file is replaced by a rename, a device or
//! FIFO is written once at the end in place, a symbolic link is refused unless it is a trusted
//! link to a device or FIFO (`/dev/stdout`).

mod csv;
mod json;
mod markdown;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::outfile::{self, Kind};
use crate::results::Report;
use crate::results::SweepReport;

/// One output format.
pub trait Exporter {
    /// The flag that asks for it, for messages.
    fn flag(&self) -> &'static str;
    fn compare(&self, r: &Report) -> String;
    fn sweep(&self, s: &SweepReport) -> String;
}

/// The formats copylab exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Markdown,
}

impl Format {
    fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Json => Box::new(json::Json),
            Format::Csv => Box::new(csv::Csv),
            Format::Markdown => Box::new(markdown::Markdown),
        }
    }
}

/// Where one export goes.
struct Target {
    /// None: stdout, written once at the end.
    path: Option<PathBuf>,
    /// How `path` is written: rewritten after every run (a regular file) or once at the end
    /// (a device or FIFO, where every rewrite would add to what the reader already has).
    kind: Kind,
    exporter: Box<dyn Exporter>,
}

/// The exports asked for on the command line.
pub struct Exports(Vec<Target>);

/// Something an exporter can render.
pub enum Results<'a> {
    Compare(&'a Report),
    Sweep(&'a SweepReport),
}

impl Exports {
    /// Create every export file now (empty), so a bad path fails before any run.
    pub fn create(specs: &[(Format, String)]) -> Result<Exports> {
        let mut v = Vec::new();
        for (format, path) in specs {
            let exporter = format.exporter();
            let (path, kind) = if path == "-" {
                (None, Kind::InPlace { link: false })
            } else {
                let p = PathBuf::from(path);
                let kind = outfile::classify(exporter.flag(), &p)?;
                if kind == Kind::Replace {
                    outfile::replace(exporter.flag(), &p, b"")?;
                }
                (Some(p), kind)
            };
            v.push(Target {
                path,
                kind,
                exporter,
            });
        }
        Ok(Exports(v))
    }

    fn render(t: &Target, r: &Results) -> String {
        match r {
            Results::Compare(r) => t.exporter.compare(r),
            Results::Sweep(s) => t.exporter.sweep(s),
        }
    }

    /// Rewrite every regular-file export with the results so far.
    pub fn update(&self, r: &Results) -> Result<()> {
        for t in &self.0 {
            if let (Some(p), Kind::Replace) = (&t.path, t.kind) {
                outfile::replace(t.exporter.flag(), p, Self::render(t, r).as_bytes())?;
            }
        }
        Ok(())
    }

    /// Write the final results: files, devices and FIFOs, and the stdout exports.
    pub fn finish(&self, r: &Results) -> Result<()> {
        self.update(r)?;
        for t in &self.0 {
            let Kind::InPlace { link } = t.kind else {
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
        self.0.iter().any(|t| t.path.is_none())
    }
}
