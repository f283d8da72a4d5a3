//! The copy paths by name.

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
