//! Exports: the results written to files (or stdout) as JSON, CSV or Markdown. One trait, one
//! file per format. A file is created before the runs start (a bad path fails at once) and
//! rewritten after every measured run, so an interrupted run leaves the results it had.

mod csv;
mod json;
mod markdown;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::results::Report;
use crate::sweep::SweepReport;

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
            let path = if path == "-" {
                None
            } else {
                let p = PathBuf::from(path);
                File::create(&p).with_context(|| {
                    format!(
                        "{} {}: cannot create the file (check the directory exists and is writable)",
                        exporter.flag(),
                        p.display()
                    )
                })?;
                Some(p)
            };
            v.push(Target { path, exporter });
        }
        Ok(Exports(v))
    }

    fn render(t: &Target, r: &Results) -> String {
        match r {
            Results::Compare(r) => t.exporter.compare(r),
            Results::Sweep(s) => t.exporter.sweep(s),
        }
    }

    /// Rewrite every file export with the results so far.
    pub fn update(&self, r: &Results) -> Result<()> {
        for t in &self.0 {
            if let Some(p) = &t.path {
                write_atomically(p, &Self::render(t, r)).with_context(|| {
                    format!("{} {}: cannot write", t.exporter.flag(), p.display())
                })?;
            }
        }
        Ok(())
    }

    /// Write the final results: files, and the stdout exports.
    pub fn finish(&self, r: &Results) -> Result<()> {
        self.update(r)?;
        for t in self.0.iter().filter(|t| t.path.is_none()) {
            let mut out = std::io::stdout().lock();
            out.write_all(Self::render(t, r).as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }

    /// An export goes to stdout (then the table does not).
    pub fn uses_stdout(&self) -> bool {
        self.0.iter().any(|t| t.path.is_none())
    }
}

/// Replace `path`'s content in one step: write a temporary file beside it, then rename.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.copylab-tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
