//! Files copylab writes for the user (`--export-*`, `fetch --out`), written so that nobody else
//! can redirect them: temporaries are created exclusively under an unpredictable name beside the
//! target (never through a link), a regular file is replaced by one rename, a device or FIFO is
//! written in place and never replaced, and a symbolic link is followed only when it belongs to
//! root or to the user running copylab and leads to a character device or FIFO (`/dev/stdout`);
//! any other link is refused.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// How a target is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// A regular file, or nothing yet: written beside it under a temporary name, then renamed.
    Replace,
    /// A character device or FIFO (`/dev/null`, a named pipe), or a trusted link to one
    /// (`/dev/stdout`, then `link` is true): opened for writing as it is, never truncated,
    /// never replaced.
    InPlace { link: bool },
}

/// Decide how `path` may be written, or refuse with one line naming `flag` and the path.
///
/// A link planted where copylab is told to write must not let whoever planted it choose the
/// file that is written: links are followed only when root or the running user owns them, and
/// only to a character device or FIFO.
pub fn classify(flag: &str, path: &Path) -> Result<WriteMode> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WriteMode::Replace),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "{flag} {}: cannot look at the path (check the directory exists and is readable)",
                    crate::escape::path(path)
                )
            });
        }
    };
    let t = meta.file_type();
    let what = if t.is_symlink() {
        use std::os::unix::fs::MetadataExt;
        let trusted = meta.uid() == 0 || meta.uid() == nix::unistd::geteuid().as_raw();
        let leads = std::fs::metadata(path).map(|m| m.file_type()).ok();
        match leads {
            Some(l) if trusted && (l.is_char_device() || l.is_fifo()) => {
                return Ok(WriteMode::InPlace { link: true });
            }
            _ => {
                "is a symbolic link, which copylab writes through only to a device or FIFO (and only its owner's or root's); give the path it points to, or - for stdout"
            }
        }
    } else if t.is_dir() {
        "is a directory; give a file name"
    } else if t.is_file() {
        return Ok(WriteMode::Replace);
    } else if t.is_char_device() || t.is_fifo() {
        return Ok(WriteMode::InPlace { link: false });
    } else if t.is_block_device() {
        "is a block device, which copylab will not overwrite; give a regular file"
    } else {
        "is a socket; give a regular file, a character device or a FIFO"
    };
    bail!("{flag} {}: {what}", crate::escape::path(path))
}

/// The directory `path` lives in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// 64 unpredictable bits from the kernel (getrandom), for temporary names.
fn random_suffix() -> String {
    let mut b = [0u8; 8];
    // SAFETY: `b` is a live, writable buffer of `b.len()` bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // Without getrandom the name is guessable, but O_EXCL|O_NOFOLLOW still means a planted
        // file or link makes the create fail instead of being written through.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Create a new, empty file beside `path` named `.<name>.<tag>-<random>`: exclusively
/// (O_EXCL, never through a link), mode 0644 before the umask, close-on-exec.
pub fn create_temp_beside(flag: &str, path: &Path, tag: &str) -> Result<(File, PathBuf)> {
    let name = path
        .file_name()
        .with_context(|| format!("{flag} {}: not a file name", crate::escape::path(path)))?;
    let dir = parent_of(path);
    let mut last = None;
    for _ in 0..8 {
        let mut n = OsString::from(".");
        n.push(name);
        n.push(format!(".{tag}-{}", random_suffix()));
        let tmp = dir.join(n);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "{flag} {}: cannot create a file in {} (check the directory exists and is writable)",
                        crate::escape::path(path),
                        crate::escape::path(&dir)
                    )
                });
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
        .with_context(|| {
            format!(
                "{flag} {}: cannot create a temporary file in {}: every name tried exists",
                crate::escape::path(path),
                crate::escape::path(&dir)
            )
        })
}

/// Check that a file can be made beside `path` (written later, in one step, by [`replace`]):
/// make a temporary there and remove it again. Nothing is left behind.
pub fn check_writable_beside(flag: &str, path: &Path) -> Result<()> {
    let (f, tmp) = create_temp_beside(flag, path, "copylab-check")?;
    drop(f);
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// Open a character device or FIFO for writing as it is (no create, no truncate; a link only
/// when [`classify`] accepted one), checking that what was opened is still one.
///
/// The open never blocks: it is made with O_NONBLOCK (then cleared for the writes). A FIFO
/// that no one reads yet (ENXIO) is waited for in a loop that looks at Ctrl-C every 50 ms, so
/// waiting for a reader can always be stopped (a plain blocking open would retry EINTR and
/// ignore Ctrl-C).
pub fn open_in_place(flag: &str, path: &Path, link: bool) -> Result<File> {
    let nofollow = if link { 0 } else { libc::O_NOFOLLOW };
    let shown = crate::escape::path(path);
    let mut said = false;
    let f = loop {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(nofollow | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path);
        let e = match opened {
            Ok(f) => break f,
            Err(e) => e,
        };
        let fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
        let waits = e.raw_os_error() == Some(libc::ENXIO) && fifo
            || e.kind() == std::io::ErrorKind::Interrupted;
        if !waits {
            return Err(e).with_context(|| format!("{flag} {shown}: cannot open it for writing"));
        }
        if crate::signals::stop_requested() {
            return Err(anyhow::Error::new(crate::signals::Interrupted)
                .context(format!("{flag} {shown}: no reader opened the FIFO")));
        }
        if !said {
            // A closed stderr is no reason to stop waiting (eprintln! would panic on EPIPE).
            let _ = writeln!(
                std::io::stderr(),
                "copylab: {flag} {shown}: waiting for a reader to open the FIFO (Ctrl-C to stop)"
            );
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Writes block as usual from here on.
    let fl = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFL)
        .map(nix::fcntl::OFlag::from_bits_truncate)
        .and_then(|fl| {
            nix::fcntl::fcntl(
                &f,
                nix::fcntl::FcntlArg::F_SETFL(fl & !nix::fcntl::OFlag::O_NONBLOCK),
            )
        });
    fl.with_context(|| format!("{flag} {shown}: cannot make it blocking again"))?;
    let t = f
        .metadata()
        .with_context(|| format!("{flag} {shown}: cannot look at it"))?
        .file_type();
    if !(t.is_char_device() || t.is_fifo()) {
        bail!(
            "{flag} {shown}: changed while copylab was running (no longer a device or FIFO); nothing written"
        );
    }
    Ok(f)
}

/// Write all of `text` to a device or FIFO opened with [`open_in_place`].
pub fn write_in_place(flag: &str, path: &Path, link: bool, text: &[u8]) -> Result<()> {
    let mut f = open_in_place(flag, path, link)?;
    f.write_all(text)
        .and_then(|()| f.flush())
        .with_context(|| format!("{flag} {}: cannot write", crate::escape::path(path)))
}

/// Replace the regular file (or nothing) at `path` with `text` in one step: a fresh temporary
/// beside it, then rename. On any failure the temporary is removed and `path` is untouched.
pub fn replace(flag: &str, path: &Path, text: &[u8]) -> Result<()> {
    let (mut f, tmp) = create_temp_beside(flag, path, "copylab-tmp")?;
    let r = f
        .write_all(text)
        .and_then(|()| f.flush())
        .with_context(|| format!("{flag} {}: cannot write", crate::escape::path(path)))
        .and_then(|()| {
            std::fs::rename(&tmp, path).with_context(|| {
                format!(
                    "{flag} {}: cannot rename the new file into place",
                    crate::escape::path(path)
                )
            })
        });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// A directory copylab writes several files into (`--export-stacks DIR`), held open: every
/// file is made inside the directory that was checked, whatever happens to its path later.
pub struct OutDir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
    flag: &'static str,
}

/// Check before any run that `path` can become an output directory: absent (it is made when
/// the files are written, in an existing parent), or a real directory — never a symbolic
/// link, whoever owns it (a link to a directory would let its owner choose where the files
/// go).
pub fn check_dir(flag: &'static str, path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => bail!(
            "{flag} {}: is a symbolic link, which copylab does not write through; give the directory it points to",
            crate::escape::path(path)
        ),
        Ok(_) => bail!(
            "{flag} {}: exists and is not a directory; give a directory (it is made if missing)",
            crate::escape::path(path)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_of(path);
            if !parent.is_dir() {
                bail!(
                    "{flag} {}: its parent {} is not a directory (create it or choose another path)",
                    crate::escape::path(path),
                    crate::escape::path(&parent)
                );
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "{flag} {}: cannot look at the path (check the directory exists and is readable)",
                crate::escape::path(path)
            )
        }),
    }
}

impl OutDir {
    /// Make `path` (mode 0755 before the umask) unless it is already a directory, and open it
    /// without following a link: a link planted at `path` makes this fail, never redirects.
    pub fn open(flag: &'static str, path: &Path) -> Result<OutDir> {
        use std::ffi::CString;
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let c = CString::new(path.as_os_str().as_bytes()).with_context(|| {
            format!(
                "{flag} {}: the path holds a NUL byte",
                crate::escape::path(path)
            )
        })?;
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        let rc = unsafe { libc::mkdir(c.as_ptr(), 0o755) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e).with_context(|| {
                    format!(
                        "{flag} {}: cannot create the directory (check its parent exists and is writable)",
                        crate::escape::path(path)
                    )
                });
            }
        }
        // SAFETY: as above; O_NOFOLLOW|O_DIRECTORY refuse a link or anything but a directory.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            let what = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
            {
                "is a symbolic link, which copylab does not write through; give the directory it points to".to_string()
            } else {
                format!("cannot open it as a directory: {e}")
            };
            bail!("{flag} {}: {what}", crate::escape::path(path));
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(OutDir {
            fd,
            path: path.to_path_buf(),
            flag,
        })
    }

    /// Write `name` (a plain file name) in the directory in one step: a fresh temporary
    /// created exclusively beside it (never through a link), then a rename over it. On any
    /// failure the temporary is removed and an older `name` is left as it was.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        use std::ffi::CString;
        use std::os::fd::AsRawFd;
        let shown = self.path.join(name);
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!(
                "{} {}: not a plain file name",
                self.flag,
                crate::escape::path(&shown)
            );
        }
        let dir = self.fd.as_raw_fd();
        let target = CString::new(name).with_context(|| {
            format!(
                "{} {}: NUL in the name",
                self.flag,
                crate::escape::path(&shown)
            )
        })?;
        let (mut f, tmp) = self.create_temp(name, &shown)?;
        let r = f
            .write_all(bytes)
            .and_then(|()| f.flush())
            .and_then(|()| {
                // SAFETY: both names are valid NUL-terminated names inside our open directory.
                let rc = unsafe { libc::renameat(dir, tmp.as_ptr(), dir, target.as_ptr()) };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
            .with_context(|| {
                format!(
                    "{} {}: cannot write",
                    self.flag,
                    crate::escape::path(&shown)
                )
            });
        if r.is_err() {
            // SAFETY: a valid name inside our open directory; removes the temporary only.
            unsafe { libc::unlinkat(dir, tmp.as_ptr(), 0) };
        }
        r
    }

    /// A fresh temporary for `name` in the directory, created exclusively (never through a
    /// link) under an unpredictable name: the file, and its name. `shown` is the target as
    /// errors name it.
    fn create_temp(&self, name: &str, shown: &Path) -> Result<(File, std::ffi::CString)> {
        use std::ffi::CString;
        use std::os::fd::{AsRawFd, FromRawFd};
        let dir = self.fd.as_raw_fd();
        for _ in 0..8 {
            let tmp = format!(".{name}.copylab-tmp-{}", random_suffix());
            let Ok(c) = CString::new(tmp) else { continue };
            // SAFETY: `dir` is our open directory, `c` a valid NUL-terminated name.
            let fd = unsafe {
                libc::openat(
                    dir,
                    c.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_NOFOLLOW
                        | libc::O_CLOEXEC,
                    0o644 as libc::c_uint,
                )
            };
            if fd >= 0 {
                // SAFETY: `fd` was just opened and is owned by nothing else.
                return Ok((unsafe { File::from_raw_fd(fd) }, c));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e).with_context(|| {
                    format!(
                        "{} {}: cannot create a file in the directory (check it is writable)",
                        self.flag,
                        crate::escape::path(shown)
                    )
                });
            }
        }
        bail!(
            "{} {}: cannot create a temporary file: every name tried exists",
            self.flag,
            crate::escape::path(shown)
        )
    }
}
