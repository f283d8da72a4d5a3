//! Where `copylab trace`'s results go: stderr (no `-o`: like `perf stat`, `strace` and `time`,
//! so the traced program's stdout stays its own), stdout (`-o -`), or the file `-o FILE` names.
//! The file is made ready before the traced command starts — a regular file as an exclusive
//! temporary beside it, a device or FIFO opened as it is (waiting for a FIFO's reader can be
//! stopped with Ctrl-C) — so an output that cannot be written is found before anything runs,
//! never after the command ran and its results were measured. At the end the results are
//! written and the temporary renamed over the file; on any failure it is removed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::escape;
use crate::outfile::{self, WriteMode};

/// The flag the errors name.
const FLAG: &str = "--output";

/// An output made ready before the run.
pub enum Dest {
    Stderr,
    Stdout,
    /// A regular file (or nothing yet): its temporary, renamed over it by [`Dest::finish`].
    Replace {
        path: PathBuf,
        tmp: PathBuf,
        file: File,
        done: bool,
    },
    /// A device or FIFO, already open for writing.
    InPlace {
        path: PathBuf,
        file: File,
    },
}

impl Dest {
    /// Make `path` ready to receive the results (`None`: stderr, `-`: stdout), or refuse in one
    /// line.
    pub fn open(path: Option<&Path>) -> Result<Dest> {
        let Some(p) = path else {
            return Ok(Dest::Stderr);
        };
        if p.as_os_str() == "-" {
            return Ok(Dest::Stdout);
        }
        match outfile::classify(FLAG, p)? {
            WriteMode::InPlace { link } => Ok(Dest::InPlace {
                path: p.to_path_buf(),
                file: outfile::open_in_place(FLAG, p, link)?,
            }),
            WriteMode::Replace => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                if dir.is_some_and(|d| !d.is_dir()) {
                    bail!(
                        "{FLAG} {}: its directory does not exist (create it or choose another path)",
                        escape::path(p)
                    );
                }
                let (file, tmp) = outfile::create_temp_beside(FLAG, p, "copylab-tmp")?;
                crate::signals::unlink_on_abort(&tmp);
                Ok(Dest::Replace {
                    path: p.to_path_buf(),
                    tmp,
                    file,
                    done: false,
                })
            }
        }
    }

    /// What the results are laid out for: the stream's terminal, or none for a file.
    pub fn stream(&self) -> crate::report::Stream {
        match self {
            Dest::Stderr => crate::report::Stream::Stderr,
            Dest::Stdout => crate::report::Stream::Stdout,
            Dest::Replace { .. } | Dest::InPlace { .. } => crate::report::Stream::File,
        }
    }

    /// Write `text` there: stderr, stdout, the device or FIFO, or the temporary renamed over the
    /// file.
    pub fn finish(mut self, text: &[u8]) -> Result<()> {
        match &mut self {
            Dest::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(text)?;
                err.flush()?;
            }
            Dest::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text)?;
                out.flush()?;
            }
            Dest::InPlace { path, file } => file
                .write_all(text)
                .and_then(|()| file.flush())
                .with_context(|| format!("{FLAG} {}: cannot write", escape::path(path)))?,
            Dest::Replace {
                path,
                tmp,
                file,
                done,
            } => {
                file.write_all(text)
                    .and_then(|()| file.flush())
                    .with_context(|| format!("{FLAG} {}: cannot write", escape::path(path)))?;
                std::fs::rename(&*tmp, &*path).with_context(|| {
                    format!(
                        "{FLAG} {}: cannot rename the new file into place",
                        escape::path(path)
                    )
                })?;
                *done = true;
            }
        }
        Ok(())
    }
}

impl Drop for Dest {
    fn drop(&mut self) {
        if let Dest::Replace {
            tmp, done: false, ..
        } = self
        {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
