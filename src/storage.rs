//! Where copylab puts files and how much room it leaves: the temp directory (`TMPDIR`, with an
//! empty value meaning unset) and the free-space margin every file copylab writes must leave on
//! its file system (compare's generated file, fetch's `--out`).

use std::path::{Path, PathBuf};

use crate::size::fmt_bytes;

/// The directory for temporary files: `$TMPDIR` when it is set to something, else `/tmp`.
///
/// `std::env::temp_dir()` returns an empty path for `TMPDIR=""`, which would put files in the
/// current directory (or fail with a baffling ENOENT); POSIX says an empty value means unset.
pub fn temp_dir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("/tmp"),
    }
}

/// The smallest margin: a file never leaves its file system with less than this free.
const MIN_MARGIN: u64 = 1 << 30;
/// The margin as a share of the file system's size, in percent (when that is more than 1 GiB).
const MARGIN_PERCENT: u64 = 5;

/// Free space a file system of `total` bytes keeps after copylab's file: max(1 GiB, 5 %).
pub fn margin(total: u64) -> u64 {
    (total / 100).saturating_mul(MARGIN_PERCENT).max(MIN_MARGIN)
}

/// Why a file of some size does not fit: what is free, the margin kept and the file system's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom {
    pub free: u64,
    pub margin: u64,
    pub total: u64,
}

impl std::fmt::Display for NoRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} free, and copylab leaves at least {} free (the larger of 1 GiB and 5% of the {} file system)",
            fmt_bytes(self.free),
            fmt_bytes(self.margin),
            fmt_bytes(self.total)
        )
    }
}

/// Whether `len` more bytes fit in `dir`'s file system with [`margin`] left over. `Ok` too when
/// the free space cannot be read (statvfs refused): the write itself will then say what failed.
pub fn check_room(dir: &Path, len: u64) -> Result<(), NoRoom> {
    let Ok(vfs) = nix::sys::statvfs::statvfs(dir) else {
        return Ok(());
    };
    let frag = vfs.fragment_size();
    let free = vfs.blocks_available().saturating_mul(frag);
    let total = vfs.blocks().saturating_mul(frag);
    let margin = margin(total);
    if len.saturating_add(margin) > free {
        return Err(NoRoom {
            free,
            margin,
            total,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_the_larger_of_1_gib_and_5_percent() {
        assert_eq!(margin(0), 1 << 30);
        assert_eq!(margin(10 << 30), 1 << 30);
        assert_eq!(margin(100 << 30), 5 << 30);
    }

    #[test]
    fn a_file_larger_than_the_free_space_has_no_room() {
        let e = check_room(Path::new("/"), u64::MAX).unwrap_err();
        assert!(e.to_string().contains("leaves at least"), "{e}");
    }
}
