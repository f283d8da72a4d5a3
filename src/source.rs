//! The file being served: opened once and validated (regular files only), or generated as an
//! unlinked random temp file; its size and content hash taken at start; page-cache residency.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use nix::sys::statfs::{PROC_SUPER_MAGIC, SYSFS_MAGIC, fstatfs};

use crate::size::fmt_bytes;

/// An open file ready to be served by any method, from any number of threads at once.
///
/// Methods read it only with explicit offsets (`pread`, `sendfile`/`splice` offset pointers,
/// `mmap` offsets), never through the shared file position.
pub struct Source {
    pub file: File,
    /// Size at open time: exactly this many bytes are sent.
    pub len: u64,
    /// The user's path, or `None` for a generated file.
    pub path: Option<PathBuf>,
    /// Directory holding a generated (already unlinked) file.
    pub generated_in: Option<PathBuf>,
    /// XXH3-64 of the content at start, when it was hashed.
    pub hash: Option<u64>,
}

/// Whether opening a file reads it once to take its content hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// Read it and take its XXH3 (which also warms the page cache).
    Take,
    /// Leave the content unread.
    Skip,
}

impl Source {
    /// Open a user's file for serving. Only regular files with a known size are accepted.
    /// With [`Hash::Take`], the content is read once to take its XXH3.
    pub fn open(path: &Path, hash: Hash) -> Result<Source> {
        let shown = path.display();
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .with_context(|| format!("cannot open '{shown}'"))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot stat '{shown}'"))?;
        let ft = meta.file_type();
        let what = if ft.is_dir() {
            Some("a directory")
        } else if ft.is_fifo() {
            Some("a FIFO (named pipe)")
        } else if ft.is_char_device() {
            Some("a character device")
        } else if ft.is_block_device() {
            Some("a block device")
        } else if ft.is_socket() {
            Some("a socket")
        } else {
            None
        };
        if let Some(what) = what {
            bail!("'{shown}' is {what}, not a regular file: give copylab a regular file to serve");
        }
        if let Ok(fs) = fstatfs(&file) {
            let t = fs.filesystem_type();
            if t == PROC_SUPER_MAGIC || t == SYSFS_MAGIC {
                bail!(
                    "'{shown}' is a kernel pseudo-file whose size is not known in advance: copy it to a regular file first"
                );
            }
        }
        // Back to blocking reads (a no-op for regular files, but say what we mean).
        set_blocking(&file).with_context(|| format!("cannot set flags on '{shown}'"))?;
        let len = meta.len();
        let hash = if hash == Hash::Take {
            Some(hash_file(&file, len).with_context(|| format!("cannot read '{shown}'"))?)
        } else {
            None
        };
        Ok(Source {
            file,
            len,
            path: Some(path.to_path_buf()),
            generated_in: None,
            hash,
        })
    }

    /// Create a file of `len` random bytes in `dir`, unlinked at once so that nothing is left
    /// behind whatever happens to the process.
    pub fn generate(dir: &Path, len: u64) -> Result<Source> {
        let shown = dir.display();
        nix::sys::statvfs::statvfs(dir).with_context(|| {
            format!("cannot use temp directory '{shown}' (set TMPDIR to a writable directory)")
        })?;
        // Keep a margin: a test file never fills the disk to its last gigabytes.
        if let Err(room) = crate::storage::check_room(dir, len) {
            bail!(
                "--size {}: not enough space in '{shown}' for the test file: {room}; use a smaller --size or set TMPDIR to a directory on a larger file system",
                fmt_bytes(len)
            );
        }
        let mut file = create_unlinked(dir)?;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill(&mut buf[..n]);
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .with_context(|| format!("cannot write the test file in '{shown}'"))?;
            left -= n as u64;
        }
        Ok(Source {
            file,
            len,
            path: None,
            generated_in: Some(dir.to_path_buf()),
            hash: Some(hasher.digest()),
        })
    }
}

/// The bytes one transfer sends: `len` bytes of a source's file from `start` (the whole file,
/// or one HTTP byte range), and where the sender publishes how many it has sent so far.
///
/// Methods address the file only through this view: byte `i` of the part is at file offset
/// `start + i` ([`Part::at`]), and every count they return is in bytes of the part. They publish
/// how far they got after each chunk ([`Part::reached`]); `transfer` publishes 0 as the
/// measured window opens, so a watcher that set `u64::MAX` knows when sending began.
#[derive(Clone, Copy)]
pub struct Part<'a> {
    pub file: &'a File,
    /// File offset of the first byte to send.
    pub start: u64,
    /// Bytes to send.
    pub len: u64,
    progress: Option<&'a AtomicU64>,
}

impl<'a> Part<'a> {
    /// All of `src`.
    pub fn whole(src: &'a Source) -> Part<'a> {
        Part::of(src, 0, src.len)
    }

    /// `len` bytes of `src` from `start` (the caller keeps them inside the file).
    pub fn of(src: &'a Source, start: u64, len: u64) -> Part<'a> {
        Part {
            file: &src.file,
            start,
            len,
            progress: None,
        }
    }

    /// Publish progress in `sent`, for whoever watches the transfer while it runs.
    pub fn with_progress(self, sent: &'a AtomicU64) -> Part<'a> {
        Part {
            progress: Some(sent),
            ..self
        }
    }

    /// The file offset of the part's byte `off`.
    pub fn at(&self, off: u64) -> u64 {
        self.start + off
    }

    /// The sender has handed `sent` bytes of the part to the socket (a relaxed store: one
    /// atomic write per chunk, nothing the measurement can see).
    pub fn reached(&self, sent: u64) {
        if let Some(p) = self.progress {
            p.store(sent, Ordering::Relaxed);
        }
    }
}

fn set_blocking(file: &File) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(file, FcntlArg::F_GETFL)?);
    fcntl(file, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

/// An anonymous file in `dir`: O_TMPFILE where the file system has it, else create + unlink.
fn create_unlinked(dir: &Path) -> Result<File> {
    let shown = dir.display();
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
    {
        Ok(f) => return Ok(f),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)
            ) => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot create a test file in '{shown}' (set TMPDIR to a writable directory)"
                )
            });
        }
    }
    for attempt in 0..100u32 {
        let name = dir.join(format!(".copylab-{}-{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&name)
        {
            Ok(f) => {
                std::fs::remove_file(&name)
                    .with_context(|| format!("cannot unlink temp file '{}'", name.display()))?;
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create a test file in '{shown}' (set TMPDIR to a writable directory)"));
            }
        }
    }
    bail!("cannot create a unique test file in '{shown}'")
}

/// XXH3-64 of the first `len` bytes of `file`, read with `pread` (the file offset is untouched).
pub fn hash_file(file: &File, len: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < len {
        let want = (len - off).min(buf.len() as u64) as usize;
        let n = file.read_at(&mut buf[..want], off)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("file shrank while being read (got {off} of {len} bytes)"),
            ));
        }
        hasher.update(&buf[..n]);
        off += n as u64;
    }
    Ok(hasher.digest())
}

/// Fraction (0.0–1.0) of the file's pages that are in the page cache now, from `mincore(2)`.
///
/// Maps the file a window at a time (never touching the pages, so nothing is faulted in).
/// `None` when it cannot be measured; an empty file counts as fully resident.
pub fn resident_fraction(file: &File, len: u64) -> Option<f64> {
    if len == 0 {
        return Some(1.0);
    }
    let page = page_size() as u64;
    let window: u64 = 1 << 30;
    let mut resident = 0u64;
    let mut pages = 0u64;
    let mut off = 0u64;
    let mut vec = Vec::new();
    while off < len {
        let wlen = (len - off).min(window);
        let npages = wlen.div_ceil(page) as usize;
        vec.resize(npages, 0u8);
        // SAFETY: a fresh private read-only mapping of our own file; we never dereference it,
        // only pass it to mincore, and unmap it before leaving the block.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                wlen as usize,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_fd().as_raw_fd(),
                off as libc::off_t,
            );
            if p == libc::MAP_FAILED {
                return None;
            }
            let r = libc::mincore(p, wlen as usize, vec.as_mut_ptr());
            libc::munmap(p, wlen as usize);
            if r != 0 {
                return None;
            }
        }
        resident += vec.iter().filter(|b| **b & 1 == 1).count() as u64;
        pages += npages as u64;
        off += wlen;
    }
    Some(resident as f64 / pages as f64)
}

/// Drop the file's pages from the page cache (write back dirty pages first): the next read comes
/// from the disk. Works unprivileged. Returns the fraction still resident afterwards (mincore),
/// since a file system may ignore the advice.
pub fn drop_cache(file: &File, len: u64) -> std::io::Result<Option<f64>> {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    nix::unistd::fdatasync(file).map_err(std::io::Error::from)?;
    posix_fadvise(file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .map_err(std::io::Error::from)?;
    Ok(resident_fraction(file, len))
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// xorshift64*: fast, reproducible filler for test files (not for cryptography).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}
