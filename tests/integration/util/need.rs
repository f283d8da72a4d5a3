//! What a test needs from the machine beyond the build (root, a program, a kernel setting), and
//! the one rule when it is missing: the test is reported as skipped, on a line of its own in the
//! test output that names the test and the reason, and ends without checking anything; with
//! COPYLAB_TEST_NO_SKIP=1 in the environment it fails instead (for a machine meant to run
//! everything). Root and programs follow the same rule: `require!` at the top of the test.
//!
//! ```ignore
//! require!(Need::root("for perf syscall counters"), Need::tool("setpriv"));
//! ```

use std::io::Write;
use std::path::PathBuf;

/// Skip the test (see the module's rule) unless every [`Need`] is met, checked in order; the
/// first unmet one is the reason given. `require!(else VALUE; …)` returns `VALUE` instead of `()`,
/// for a helper that lets its test end.
macro_rules! require {
    (else $ret:expr; $($need:expr),+ $(,)?) => {
        $(
            if let Err(why) = $crate::util::Need::check($need) {
                $crate::util::skip(&why);
                return $ret;
            }
        )+
    };
    ($($need:expr),+ $(,)?) => {
        $crate::util::require!(else (); $($need),+)
    };
}
pub(crate) use require;

/// Something a test needs that a machine may not give it.
pub struct Need(Result<(), String>);

impl Need {
    /// Root, `to` do what (`"to switch to an unprivileged user"`).
    pub fn root(to: &str) -> Need {
        Need::that(is_root(), format!("needs root {to}"))
    }

    /// The program `name` on PATH.
    pub fn tool(name: &str) -> Need {
        Need::that(
            find_tool(name).is_some(),
            format!("`{name}` is not installed (scripts/test.sh installs it)"),
        )
    }

    /// perf closed to unprivileged users (kernel.perf_event_paranoid ≥ 2, the default), so that a
    /// run without privileges really is refused what root gets.
    pub fn perf_closed_to_users() -> Need {
        let p = perf_paranoid();
        Need::that(
            p.is_some_and(|p| p >= 2),
            format!("kernel.perf_event_paranoid is {p:?}: unprivileged users may use perf here"),
        )
    }

    /// Every one of `needs`: the first unmet one is the reason.
    pub fn all(needs: impl IntoIterator<Item = Need>) -> Need {
        Need(needs.into_iter().try_for_each(Need::check))
    }

    /// Any other condition of the machine, `met` or not, and `why` the test cannot run without it.
    pub fn that(met: bool, why: impl Into<String>) -> Need {
        Need(if met { Ok(()) } else { Err(why.into()) })
    }

    /// `Err(why)` when unmet.
    pub fn check(self) -> Result<(), String> {
        self.0
    }
}

/// Report the running test as skipped, `why` (see the module's rule). Written to the process's
/// stderr itself, which the test harness does not capture, so the line shows even for a test
/// that passes.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var_os("COPYLAB_TEST_NO_SKIP").is_some_and(|v| v != "0" && !v.is_empty()) {
        panic!("{test} cannot run here: {why} (COPYLAB_TEST_NO_SKIP is set: not skipped)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// kernel.perf_event_paranoid, if it can be read.
pub fn perf_paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The full path of the program `name`, which the test has required (`Need::tool`).
pub fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: this test must start with require!(Need::tool({name:?})), \
             so that it is skipped where it cannot run (scripts/test.sh installs it)"
        )
    })
}
