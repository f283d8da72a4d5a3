//! Files and directories for tests: pseudo-random files of any size, their hashes computed
//! without copylab, and temporary directories of each kind a test needs (private, on the build's
//! disk, world-readable, a small tmpfs).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Need, require};

/// Deterministic pseudo-random bytes (64-bit LCG, high bytes), different per `seed`.
pub fn lcg_fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(4) {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let b = ((*state >> 32) as u32).to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Write `len` pseudo-random bytes to `dir/name`.
pub fn write_file(dir: &Path, name: &str, len: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).expect("create test file");
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15 ^ len;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        lcg_fill(&mut buf[..n], &mut state);
        f.write_all(&buf[..n]).expect("write test file");
        left -= n as u64;
    }
    f.sync_all().ok();
    path
}

/// XXH3-64 of a file, formatted as copylab reports it, computed independently of copylab.
pub fn xxh3_of(path: &Path) -> String {
    let data = std::fs::read(path).expect("read test file back");
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data))
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lowercase hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {} to hash it: {e}", path.display()));
    sha256_hex(&data)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create temp dir")
}

/// A fresh directory on the disk that holds the build (cargo's CARGO_TARGET_TMPDIR): for tests
/// that need a file system which really evicts pages, where /tmp may be a tmpfs (Debian 13's
/// default), whose pages are the files themselves and cannot be dropped.
pub fn disk_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("create CARGO_TARGET_TMPDIR");
    tempfile::tempdir_in(base).expect("create a temp dir under CARGO_TARGET_TMPDIR")
}

/// Whether `p` is on a tmpfs, which keeps files in memory.
pub fn in_memory_fs(p: &Path) -> bool {
    use nix::sys::statfs::{TMPFS_MAGIC, statfs};
    statfs(p).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC)
}

/// A fresh directory under /tmp that any user can enter and read (root's temp dirs are 0700).
pub fn world_readable_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("copylab-test-")
        .tempdir_in("/tmp")
        .expect("create /tmp dir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// A fresh /tmp directory anyone may write to (for TMPDIR of an unprivileged run).
pub fn world_writable_dir() -> tempfile::TempDir {
    let d = world_readable_dir();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// A tmpfs of `size` bytes mounted on a fresh temp dir, unmounted on drop: a small file system
/// to run out of space on without filling a disk.
pub struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    /// The tmpfs, or `None` with the test reported as skipped (it needs root, and a kernel that
    /// lets it mount one).
    pub fn mount(size: u64) -> Option<SmallTmpfs> {
        require!(else None; Need::root("to mount a tmpfs"));
        let dir = tempdir();
        let opts = format!("size={size},mode=0755");
        let mounted = nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        );
        require!(else None; Need::that(
            mounted.is_ok(),
            format!("cannot mount a tmpfs: {mounted:?}")
        ));
        Some(SmallTmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}
