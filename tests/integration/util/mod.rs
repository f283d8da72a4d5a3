//! The helpers every test module uses, in one place (`use crate::util::*;`):
//!
//! - [`cmd`]: run copylab or any program to its end ([`Cmd`], [`run`], [`run_ok`],
//!   [`run_json`]) and read what it left ([`Out`]), with the checks of every error exit.
//! - [`need`]: what a test needs from the machine ([`Need`], `require!`) and the one rule when it
//!   is missing: reported as skipped in the test output, never a silent pass.
//! - [`methods`]: the copy paths by name and `per_method!`, one test per path from one check.
//! - [`files`]: pseudo-random files, their hashes, temporary directories of every kind.
//! - [`report`]: reading copylab's JSON reports.
//! - [`privilege`]: copylab as an unprivileged user, and the lock on system-wide state.
//! - [`server`]: a running `copylab serve`, the clients that fetch from it, HTTP by hand.

pub mod cmd;
pub mod files;
pub mod methods;
pub mod need;
pub mod privilege;
pub mod report;
pub mod server;

pub use cmd::*;
pub use files::*;
pub use methods::*;
pub use need::*;
pub use privilege::*;
pub use report::*;
pub use server::*;
