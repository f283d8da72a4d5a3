//! Kernel addresses to function names: `/proc/kallsyms` read once per process and searched by
//! address.
//!
//! Only text symbols (`t T w W`) are names a sample can land in; every other symbol still ends
//! the one before it, and `_etext` ends the core kernel's text. Module symbols (`[veth]`) are
//! kept: they sit above the kernel and end at the next symbol. Without CAP_SYSLOG (or with
//! `kernel.kptr_restrict`) the kernel shows every address as zero; that is reported, not
//! guessed around.
//!
//! `COPYLAB_KALLSYMS=FILE` reads FILE instead (tests point it at a zeroed or missing file).

use std::path::Path;
use std::sync::OnceLock;

use super::NoProfile;

/// Why the kernel hides the addresses, and what to do.
const HIDDEN_REASON: &str = "kernel symbols hidden: /proc/kallsyms shows zero addresses (kernel.kptr_restrict or no CAP_SYSLOG)";
const HIDDEN_FIX: &str = "run as root, or `sudo sysctl kernel.kptr_restrict=0`";
const UNREADABLE_FIX: &str =
    "run as root so copylab can read /proc/kallsyms (or point COPYLAB_KALLSYMS at a readable copy)";

/// Largest distance past the last known symbol still taken as inside it (no kernel function is
/// this long; beyond it the address is unknown).
const LAST_SYMBOL_SPAN: u64 = 1 << 20;

/// The kernel's symbols by address.
#[derive(Debug)]
pub struct Kallsyms {
    /// Every symbol's start, sorted; `name` is `None` for symbols that are not text (they only
    /// end the previous one) and for `_etext`.
    entries: Vec<(u64, Option<Box<str>>)>,
    /// End of the core kernel's text (`_etext`), when the file has it.
    text_end: Option<u64>,
}

/// One resolved symbol: its index (stable for the life of the process) and its name, compiler
/// suffixes stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub index: usize,
    pub name: &'a str,
}

/// A quick look at the symbols, without reading them all: the file opens and its first lines
/// have addresses (not the zeros kptr_restrict shows), and the full read is started in the
/// background ([`preload`]).
pub fn check() -> Result<(), NoProfile> {
    use std::io::Read;
    let path = path();
    let mut head = vec![0u8; 16 << 10];
    let n = std::fs::File::open(&path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| unreadable(&path, e))?;
    let text = String::from_utf8_lossy(&head[..n]);
    // The last line may be cut short: parse whole lines only.
    let whole = text.rfind('\n').map_or("", |i| &text[..i]);
    Kallsyms::parse(whole).map_err(|u| naming(&path, u))?;
    preload();
    Ok(())
}

/// The file the symbols are read from: `/proc/kallsyms`, or `COPYLAB_KALLSYMS`.
fn path() -> std::path::PathBuf {
    std::env::var_os("COPYLAB_KALLSYMS")
        .map_or_else(|| "/proc/kallsyms".into(), std::path::PathBuf::from)
}

/// The file could not be read.
fn unreadable(path: &Path, e: std::io::Error) -> NoProfile {
    NoProfile {
        reason: format!("kernel symbols unreadable: {}: {e}", path.display()),
        fix: UNREADABLE_FIX,
    }
}

/// A parse failure, with the file named (the hidden-symbols reason stands alone).
fn naming(path: &Path, mut u: NoProfile) -> NoProfile {
    if u.fix != HIDDEN_FIX {
        u.reason = format!("{}: {}", path.display(), u.reason);
    }
    u
}

/// Start reading the symbols on a thread of their own, so the read (about 70 ms of kernel time
/// for 120,000 symbols on the machines here) overlaps other set-up, such as generating the test
/// file, instead of delaying the first window; [`get`] waits for it if it is still running.
pub fn preload() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // A thread that cannot start only means get() reads the file itself.
        let _ = std::thread::Builder::new()
            .name("copylab-kallsyms".into())
            .spawn(|| {
                let _ = get();
            });
    });
}

/// The symbols of this kernel, read once per process from `/proc/kallsyms` (or
/// `COPYLAB_KALLSYMS`).
pub fn get() -> Result<&'static Kallsyms, NoProfile> {
    static KALLSYMS: OnceLock<Result<Kallsyms, NoProfile>> = OnceLock::new();
    KALLSYMS
        .get_or_init(|| Kallsyms::load(&path()))
        .as_ref()
        .map_err(Clone::clone)
}

impl Kallsyms {
    /// Read and parse a kallsyms file.
    pub fn load(path: &Path) -> Result<Kallsyms, NoProfile> {
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
        Kallsyms::parse(&text).map_err(|u| naming(path, u))
    }

    /// Parse kallsyms text: `ADDRESS TYPE NAME [MODULE]` per line.
    pub fn parse(text: &str) -> Result<Kallsyms, NoProfile> {
        let mut entries = Vec::new();
        let mut text_end = None;
        let mut nonzero = false;
        for line in text.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(addr), Some(ty), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            nonzero |= addr != 0;
            if name == "_etext" {
                text_end = Some(addr);
                entries.push((addr, None));
                continue;
            }
            let is_text = matches!(ty, "t" | "T" | "w" | "W");
            entries.push((addr, is_text.then(|| Box::from(strip_suffixes(name)))));
        }
        if entries.is_empty() {
            return Err(NoProfile {
                reason: "kernel symbols unreadable: no symbols in the file".into(),
                fix: UNREADABLE_FIX,
            });
        }
        if !nonzero {
            return Err(NoProfile {
                reason: HIDDEN_REASON.into(),
                fix: HIDDEN_FIX,
            });
        }
        // Several names at one address (`memcpy`, `__memcpy`): keep the first text one listed
        // (the sort is stable and puts text first), so every address has one entry.
        entries.sort_by_key(|(a, name)| (*a, name.is_none()));
        entries.dedup_by_key(|(a, _)| *a);
        Ok(Kallsyms { entries, text_end })
    }

    /// Number of symbols (every kind), for sizing per-symbol tables.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The name of the symbol at `index` (from [`Symbol::index`]).
    pub fn name(&self, index: usize) -> Option<&str> {
        self.entries.get(index).and_then(|(_, n)| n.as_deref())
    }

    /// The text symbol containing `addr`: the last symbol starting at or below it, if it is a
    /// text symbol and `addr` is before the next symbol (and before `_etext` for core text).
    pub fn lookup(&self, addr: u64) -> Option<Symbol<'_>> {
        // Index of the first entry starting above addr.
        let above = self.entries.partition_point(|(a, _)| *a <= addr);
        let index = above.checked_sub(1)?;
        let (start, name) = &self.entries[index];
        let (start, name) = (*start, name.as_deref()?);
        if above == self.entries.len() && addr - start >= LAST_SYMBOL_SPAN {
            return None;
        }
        if self.text_end.is_some_and(|end| start < end && addr >= end) {
            return None;
        }
        Some(Symbol { index, name })
    }
}

/// `name` without the suffixes compilers add to specialised copies of a function: `.isra.N`,
/// `.constprop.N`, `.part.N`, `.llvm.N`, `.cold` (`.cold.N`), in any combination.
pub fn strip_suffixes(mut name: &str) -> &str {
    loop {
        let Some(dot) = name.rfind('.') else {
            return name;
        };
        let (head, last) = (&name[..dot], &name[dot + 1..]);
        if last == "cold" {
            name = head;
            continue;
        }
        if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
            return name;
        }
        // A number: strip it with the word before it, if that is a known suffix.
        let Some(dot2) = head.rfind('.') else {
            return name;
        };
        match &head[dot2 + 1..] {
            "isra" | "constprop" | "part" | "llvm" | "cold" => name = &head[..dot2],
            _ => return name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
ffffffff81000000 T startup_64
ffffffff81000000 T _stext
ffffffff81000100 t secondary_startup_64
ffffffff81001000 T _copy_to_iter
ffffffff81001400 t filemap_read.isra.0
ffffffff81001800 D some_data
ffffffff81002000 T tcp_sendmsg_locked.cold
ffffffff81003000 T _etext
ffffffff82000000 D init_task
ffffffffc0001000 t veth_xmit\t[veth]
ffffffffc0001200 t veth_poll\t[veth]
";

    #[test]
    fn lookups_at_and_between_symbols() {
        let k = Kallsyms::parse(SAMPLE).unwrap();
        let name = |a| k.lookup(a).map(|s| s.name);
        assert_eq!(name(0xffffffff80000000), None, "below the kernel");
        assert_eq!(name(0xffffffff81000000), Some("startup_64"));
        assert_eq!(name(0xffffffff81000fff), Some("secondary_startup_64"));
        assert_eq!(name(0xffffffff81001000), Some("_copy_to_iter"));
        assert_eq!(name(0xffffffff810013ff), Some("_copy_to_iter"));
        assert_eq!(name(0xffffffff81001401), Some("filemap_read"));
        assert_eq!(name(0xffffffff81001900), None, "inside a data symbol");
        assert_eq!(name(0xffffffff81002fff), Some("tcp_sendmsg_locked"));
        assert_eq!(name(0xffffffff81003000), None, "past _etext");
        assert_eq!(name(0xffffffffc0001100), Some("veth_xmit"));
        assert_eq!(name(0xffffffffc0001300), Some("veth_poll"));
        assert_eq!(name(0xffffffffc1001300), None, "far past the last symbol");
        let a = k.lookup(0xffffffff81001000).unwrap();
        let b = k.lookup(0xffffffff810013ff).unwrap();
        assert_eq!(a.index, b.index);
    }

    #[test]
    fn zeroed_file_is_unavailable() {
        let zeroed: String = SAMPLE
            .lines()
            .map(|l| format!("0000000000000000{}\n", &l[16..]))
            .collect();
        let u = Kallsyms::parse(&zeroed).unwrap_err();
        assert_eq!(u.reason, HIDDEN_REASON);
        assert_eq!(u.fix, HIDDEN_FIX);
    }

    #[test]
    fn files_through_load() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("kallsyms");
        std::fs::write(&good, SAMPLE).unwrap();
        let k = Kallsyms::load(&good).unwrap();
        assert!(k.len() >= 10);
        let missing = dir.path().join("missing");
        let u = Kallsyms::load(&missing).unwrap_err();
        assert!(u.reason.contains("missing"), "{}", u.reason);
        assert!(u.reason.contains("unreadable"), "{}", u.reason);
        let zero = dir.path().join("zero");
        std::fs::write(&zero, "0000000000000000 T _stext\n0000000000000000 t foo\n").unwrap();
        assert_eq!(Kallsyms::load(&zero).unwrap_err().reason, HIDDEN_REASON);
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert!(Kallsyms::load(&empty).is_err());
    }

    #[test]
    fn suffixes_stripped() {
        for (raw, want) in [
            ("foo.isra.0", "foo"),
            ("foo.constprop.12", "foo"),
            ("foo.part.3", "foo"),
            ("foo.cold", "foo"),
            ("foo.cold.7", "foo"),
            ("foo.llvm.1234567890", "foo"),
            ("foo.constprop.0.isra.0", "foo"),
            ("foo.part.0.cold", "foo"),
            ("foo.isra.0.cold", "foo"),
            ("foo.constprop.0.isra.0.cold", "foo"),
            ("foo", "foo"),
            ("foo.slowpath", "foo.slowpath"),
            ("foo.7", "foo.7"),
            ("foo.isra", "foo.isra"),
        ] {
            assert_eq!(strip_suffixes(raw), want, "{raw}");
        }
    }

    #[test]
    fn this_kernel_when_readable() {
        match Kallsyms::load(Path::new("/proc/kallsyms")) {
            Err(u) => eprintln!("skipped: {} ({})", u.reason, u.fix),
            Ok(k) => {
                let f = this_kernel_function as *const () as usize as u64;
                assert!(k.lookup(f).is_none(), "a user address is no kernel symbol");
                assert!(k.len() > 1000);
            }
        }
    }

    fn this_kernel_function() {}
}
