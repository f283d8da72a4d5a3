//! Files copylab is told to write (`--export-*`, `fetch --out`) cannot be redirected by
//! someone else: a link planted at the temporary name or at the target is never written
//! through, and a device node is written in place, never replaced by a regular file.

use crate::util::*;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

const VICTIM: &str = "precious contents that must survive\n";

/// A compare quick enough for a test, exporting with `export` (flag, path).
fn compare_exporting(file: &Path, flag: &str, target: &Path) -> Out {
    run(
        &[
            "compare",
            path_str(file),
            "--methods",
            "read-write",
            "--runs",
            "1",
            "--warmup",
            "0",
            flag,
            path_str(target),
        ],
        &[],
    )
}

/// A character device that behaves like /dev/null (1:3), made in `dir`.
fn null_node(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    nix::sys::stat::mknod(
        &p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod (tests run as root)");
    p
}

#[test]
fn a_link_planted_at_the_export_temporary_name_is_not_written_through() {
    require!(Need::tool("setpriv"), Need::root("to act as two users"));
    let data = tempdir();
    let file = write_file(data.path(), "data.bin", 256 << 10, 1);
    let victim = data.path().join("victim.txt");
    std::fs::write(&victim, VICTIM).unwrap();
    // A shared directory anyone may write to (not sticky): nobody plants a link at the name the
    // old code used for its temporary, pointing at root's file.
    let shared = world_readable_dir();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let link = shared.path().join(".res.csv.copylab-tmp");
    let planted = run_as_nobody(
        Path::new("/bin/ln"),
        &["-s", path_str(&victim), path_str(&link)],
        shared.path(),
    );
    assert!(planted.success(), "{}", planted.dump());
    let target = shared.path().join("res.csv");
    let out = compare_exporting(&file, "--export-csv", &target);
    assert!(out.success(), "{}", out.dump());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM);
    let csv = std::fs::read_to_string(&target).unwrap();
    assert!(csv.starts_with("method,"), "{csv}");
    assert!(
        std::fs::symlink_metadata(&target).unwrap().is_file(),
        "the export is a regular file"
    );
    let left: Vec<_> = std::fs::read_dir(shared.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copylab-tmp-"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

#[test]
fn an_export_target_that_is_a_link_to_a_file_is_refused_and_the_file_kept() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 256 << 10, 2);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, VICTIM).unwrap();
    let link = dir.path().join("res.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = compare_exporting(&file, "--export-json", &link);
    assert_clean_error(&out, &["--export-json", "symbolic link"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

#[test]
fn an_export_to_a_character_device_is_written_in_place_not_replaced() {
    require!(Need::that(is_root(), "mknod needs root"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 256 << 10, 3);
    let node = null_node(dir.path(), "null");
    let out = compare_exporting(&file, "--export-csv", &node);
    assert!(out.success(), "{}", out.dump());
    let t = std::fs::symlink_metadata(&node).unwrap().file_type();
    assert!(t.is_char_device(), "the device node was replaced: {t:?}");
}

#[test]
fn an_export_through_a_link_to_stdout_reaches_stdout() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 256 << 10, 4);
    // A link of our own like /dev/stdout (so a regression cannot replace the system's).
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = compare_exporting(&file, "--export-csv", &link);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link was replaced"
    );
    assert!(out.success(), "{}", out.dump());
    assert_eq!(
        out.stdout.matches("method,").count(),
        1,
        "the CSV once\n{}",
        out.dump()
    );
}

#[test]
fn fetch_out_onto_a_character_device_keeps_the_device() {
    require!(Need::that(is_root(), "mknod needs root"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 300_000, 5);
    let node = null_node(dir.path(), "null");
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "1"]);
    let r = run(
        &["fetch", &srv.addr.target(), "--out", path_str(&node)],
        &[],
    );
    r.assert_ok();
    srv.wait_exit(WAIT);
    let t = std::fs::symlink_metadata(&node).unwrap().file_type();
    assert!(t.is_char_device(), "the device node was replaced: {t:?}");
    assert!(r.stdout.contains(&sha256_file(&file)), "{}", r.dump());
}

#[test]
fn fetch_out_onto_a_link_is_refused() {
    let dir = tempdir();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, VICTIM).unwrap();
    let link = dir.path().join("got.bin");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let r = run(&["fetch", "127.0.0.1:9", "--out", path_str(&link)], &[]);
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(
        r.stderr.contains("--out") && r.stderr.contains("symbolic link"),
        "{}",
        r.dump()
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM);
}

/// A file name carrying terminal escape sequences, quoted in an error (a missing input, an
/// output whose directory does not exist), is printed escaped: a name made by someone else
/// cannot write to the terminal.
#[test]
fn a_file_name_with_escape_sequences_is_printed_escaped() {
    let dir = tempdir();
    let evil = "\u{1b}]2;PWN\u{7}\u{1b}[2J";
    let missing = dir.path().join(format!("{evil}.bin"));
    let input = run(&["compare", path_str(&missing), "--runs", "1"], &[]);
    assert_clean_error(&input, &[r"\x1b]2;PWN\x07\x1b[2J.bin"]);
    let no_dir = dir.path().join(evil).join("t.json");
    let file = write_file(dir.path(), "data.bin", 4096, 3);
    let out = compare_exporting(&file, "--export-json", &no_dir);
    assert_clean_error(&out, &[r"\x1b]2;PWN\x07\x1b[2J/t.json"]);
    let fetched = run(&["fetch", "127.0.0.1:9", "--out", path_str(&no_dir)], &[]);
    assert_clean_error(&fetched, &[r"\x1b]2;PWN\x07\x1b[2J/t.json"]);
    for o in [&input, &out, &fetched] {
        assert!(!o.stderr.contains(['\u{1b}', '\u{7}']), "{}", o.dump());
    }
}

/// The same name in the lines that quote it when nothing failed: compare's header and doctor's
/// file check.
#[test]
fn a_served_file_named_with_escape_sequences_is_printed_escaped() {
    let dir = tempdir();
    let evil = "\u{1b}]2;PWN\u{7}\u{1b}[2J";
    let file = write_file(dir.path(), &format!("{evil}.bin"), 64 << 10, 5);
    let compared = run_ok(
        &[
            "compare",
            path_str(&file),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--methods",
            "sendfile",
            "--color",
            "never",
        ],
        &[],
    );
    let doctor = run(&["doctor", path_str(&file)], &[("COLUMNS", "1000")]);
    for o in [&compared, &doctor] {
        assert!(
            o.stdout.contains(r"\x1b]2;PWN\x07\x1b[2J.bin"),
            "{}",
            o.dump()
        );
        assert!(!o.stdout.contains(['\u{1b}', '\u{7}']), "{}", o.dump());
    }
}
