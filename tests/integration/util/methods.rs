//! The copy paths by name, and `per_method!`, which makes one test per path from one check.

/// The four classic paths: the default set.
pub const METHODS: [&str; 4] = ["read-write", "mmap", "sendfile", "splice"];

/// Every path, in table order (`--methods all`).
pub const ALL_METHODS: [&str; 8] = [
    "read-write",
    "mmap",
    "sendfile",
    "splice",
    "vmsplice",
    "msg-zerocopy",
    "io-uring-splice",
    "io-uring-send-zc",
];

/// The paths the kernel allows on TCP only (zero-copy sends).
pub const TCP_ONLY: [&str; 2] = ["msg-zerocopy", "io-uring-send-zc"];

/// One `#[test]` per copy path, each calling the same check with the path's name: a module
/// `$group` holding one test named after each path, so `cargo test --test integration
/// serve::raw::no_fd_leak` runs all of them and `cargo test --test integration -- ::splice`
/// every test made for splice.
///
/// ```ignore
/// per_method!(no_fd_leak, every_path, no_fd_leak);
/// per_method!(raw_over_unix, unix_paths, |m| raw_delivery(m, Transport::Unix));
/// per_method!(stalled_client, [io_uring_splice, io_uring_send_zc], stalled_client_count);
/// ```
///
/// The sets (`path_set!`): `every_path` ([`ALL_METHODS`]), `classic` ([`METHODS`]),
/// `unix_paths` (every path but the TCP-only ones, [`TCP_ONLY`]), or a list of paths in
/// brackets. A path is written as an identifier, its name with `_` for `-`. The check is anything
/// callable with a `&str`; it sees the enclosing module's items.
macro_rules! per_method {
    ($group:ident, [$($method:ident),+ $(,)?], $check:expr) => {
        $crate::util::per_method!(@make $group, $check, [$($method),+]);
    };
    ($group:ident, $set:ident, $check:expr) => {
        $crate::util::path_set! { $set => per_method!(@make $group, $check,) }
    };
    (@make $group:ident, $check:expr, [$($method:ident),+]) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $method() {
                    let check = $check;
                    let name = stringify!($method).replace('_', "-");
                    check(name.as_str());
                }
            )+
        }
    };
}
pub(crate) use per_method;

/// The named sets of paths of [`per_method!`], handed to `$mac!($args… [paths])`.
macro_rules! path_set {
    (every_path => $mac:ident!($($args:tt)*)) => {
        $crate::util::$mac! {
            $($args)* [read_write, mmap, sendfile, splice, vmsplice, msg_zerocopy, io_uring_splice, io_uring_send_zc]
        }
    };
    (classic => $mac:ident!($($args:tt)*)) => {
        $crate::util::$mac! { $($args)* [read_write, mmap, sendfile, splice] }
    };
    (unix_paths => $mac:ident!($($args:tt)*)) => {
        $crate::util::$mac! {
            $($args)* [read_write, mmap, sendfile, splice, vmsplice, io_uring_splice]
        }
    };
}
pub(crate) use path_set;

/// The names of the paths in a list of [`path_set!`].
macro_rules! path_names {
    ([$($method:ident),+]) => {
        [$(stringify!($method).replace('_', "-")),+]
    };
}
pub(crate) use path_names;

/// The named sets of `per_method!` are the lists of paths the other tests use, so a path added
/// to copylab and to [`ALL_METHODS`] gets its per-method tests too.
#[test]
fn per_method_sets_are_the_path_lists() {
    let every = path_set!(every_path => path_names!());
    assert_eq!(every, ALL_METHODS);
    let classic = path_set!(classic => path_names!());
    assert_eq!(classic, METHODS);
    let unix = path_set!(unix_paths => path_names!());
    let expected: Vec<&str> = ALL_METHODS
        .into_iter()
        .filter(|m| !TCP_ONLY.contains(m))
        .collect();
    assert_eq!(unix.to_vec(), expected);
}
