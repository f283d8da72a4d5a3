//! `copylab serve --http` and `Range` (RFC 9110 §14), for every method: byte-exact 206 bodies
//! for `a-b`, `a-` and `-n` (offsets off the page grid, ranges crossing the end), 416 for what
//! no byte satisfies, the whole file (200) for several ranges, a malformed header and HEAD, the
//! empty file's edge cases, `curl -C -` resuming a truncated download to the exact file, and
//! `copylab fetch --range`.

use crate::util::*;

use std::path::Path;

use serde_json::Value;

/// Not a multiple of the page size, so the last page is partial too.
const SIZE: u64 = MIB + 54_321;

fn request(method: &str, range: &str) -> Vec<u8> {
    format!("{method} / HTTP/1.1\r\nHost: test\r\nRange: {range}\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// A 206 for file bytes `start..=end`: status, Content-Range, Content-Length, the exact bytes,
/// and a record that says where sending started and that it sent just those bytes.
fn assert_partial(
    srv: &mut Server,
    data: &[u8],
    method: &str,
    range: &str,
    (start, end): (u64, u64),
) {
    let ctx = format!("{method} Range: {range}");
    let r = http_exchange(&srv.addr, &request("GET", range));
    assert_eq!(r.status, 206, "{ctx}: {:?}", r.status_line);
    assert_eq!(r.status_line, "HTTP/1.1 206 Partial Content", "{ctx}");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes {start}-{end}/{SIZE}").as_str()),
        "{ctx}"
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"), "{ctx}");
    let want = &data[start as usize..=end as usize];
    assert_eq!(r.content_length(), want.len() as u64, "{ctx}");
    assert_eq!(r.body.len(), want.len(), "{ctx}: body length");
    assert_eq!(sha256_hex(&r.body), sha256_hex(want), "{ctx}: other bytes");
    let rec = srv.connection();
    let n = end - start + 1;
    assert_complete(&rec, method, n, &ctx);
    assert_eq!(rec["http_status"].as_u64(), Some(206), "{ctx}: {rec}");
    assert_eq!(rec["range_start"].as_u64(), Some(start), "{ctx}: {rec}");
    assert_eq!(rec["range_end"].as_u64(), Some(end), "{ctx}: {rec}");
    assert_syscall_shape(&rec, method, n, &ctx);
    // The chunking follows the bytes of the range, not the file: exact where the model is.
    match method {
        "sendfile" => assert_eq!(syscalls(&rec, "sendfile64"), 1, "{ctx}: {rec}"),
        "mmap" => {
            assert_eq!(syscalls(&rec, "mmap"), 1, "{ctx}: {rec}");
            assert_eq!(syscalls(&rec, "munmap"), 1, "{ctx}: {rec}");
        }
        _ => {}
    }
}

/// A 200 with the whole file (what several ranges, a malformed Range and HEAD get).
fn assert_whole(srv: &mut Server, data: &[u8], method: &str, verb: &str, range: &str) {
    let ctx = format!("{method} {verb} Range: {range}");
    let r = http_exchange(&srv.addr, &request(verb, range));
    assert_eq!(r.status, 200, "{ctx}: {:?}", r.status_line);
    assert_eq!(r.header("content-range"), None, "{ctx}");
    assert_eq!(r.header("accept-ranges"), Some("bytes"), "{ctx}");
    assert_eq!(r.content_length(), SIZE, "{ctx}");
    let rec = srv.connection();
    assert_eq!(rec["http_status"].as_u64(), Some(200), "{ctx}: {rec}");
    assert!(rec["range_start"].is_null(), "{ctx}: {rec}");
    assert!(rec["range_end"].is_null(), "{ctx}: {rec}");
    if verb == "HEAD" {
        assert!(r.body.is_empty(), "{ctx}: HEAD has no body");
        assert_eq!(rec["bytes"].as_u64(), Some(0), "{ctx}: {rec}");
    } else {
        assert_eq!(sha256_hex(&r.body), sha256_hex(data), "{ctx}: other bytes");
        assert_complete(&rec, method, SIZE, &ctx);
    }
}

/// A 416 naming the file's length, and a rejected record.
fn assert_unsatisfiable(srv: &mut Server, method: &str, range: &str, len: u64) {
    let ctx = format!("{method} Range: {range}");
    let r = http_exchange(&srv.addr, &request("GET", range));
    assert_eq!(r.status, 416, "{ctx}: {:?}", r.status_line);
    assert_eq!(r.status_line, "HTTP/1.1 416 Range Not Satisfiable", "{ctx}");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str()),
        "{ctx}"
    );
    assert_eq!(r.content_length(), r.body.len() as u64, "{ctx}");
    let rec = srv.connection();
    assert_eq!(rec["http_status"].as_u64(), Some(416), "{ctx}: {rec}");
    assert_eq!(rec["outcome"], "rejected", "{ctx}: {rec}");
    assert_eq!(rec["bytes"].as_u64(), Some(0), "{ctx}: {rec}");
}

/// `curl -C -` on a partial download of `have` bytes fetches the rest with a Range request.
fn assert_resumes(srv: &mut Server, dir: &Path, file: &Path, data: &[u8], method: &str) {
    let have = 300_001usize;
    let partial = dir.join(format!("partial-{method}"));
    std::fs::write(&partial, &data[..have]).expect("write the partial download");
    let Addr::Tcp(a) = &srv.addr else {
        panic!("TCP only")
    };
    let url = format!("http://{a}/");
    Cmd::new(
        tool("curl"),
        &["-sS", "-C", "-", "-o", path_str(&partial), &url],
    )
    .timeout(WAIT)
    .run()
    .assert_ok();
    assert_eq!(
        sha256_file(&partial),
        sha256_file(file),
        "{method}: curl -C - did not rebuild the file"
    );
    let rec = srv.connection();
    assert_eq!(rec["http_status"].as_u64(), Some(206), "{method}: {rec}");
    assert_eq!(rec["range_start"].as_u64(), Some(have as u64), "{rec}");
    assert_eq!(rec["range_end"].as_u64(), Some(SIZE - 1), "{rec}");
    assert_complete(&rec, method, SIZE - have as u64, method);
}

fn ranges(method: &str) {
    require!(Need::tool("curl"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 0x5A5A ^ method.len() as u64);
    let data = std::fs::read(&file).expect("read the test file");
    let mut srv = Server::start(
        &file,
        &["--http", "--method", method, "--listen", "127.0.0.1:0"],
    );
    let last = SIZE - 1;
    // a-b, off the page grid on both ends, crossing several pages.
    assert_partial(
        &mut srv,
        &data,
        method,
        "bytes=4097-304096",
        (4097, 304_096),
    );
    // a-b inside one page, and one byte.
    assert_partial(&mut srv, &data, method, "bytes=8193-8199", (8193, 8199));
    assert_partial(&mut srv, &data, method, "bytes=0-0", (0, 0));
    // a-: to the end, from an odd offset.
    assert_partial(&mut srv, &data, method, "bytes=123457-", (123_457, last));
    // -n: the last n bytes; longer than the file means all of it.
    assert_partial(
        &mut srv,
        &data,
        method,
        "bytes=-70001",
        (SIZE - 70_001, last),
    );
    assert_partial(&mut srv, &data, method, "bytes=-99999999", (0, last));
    // a-b crossing the end is clamped to the last byte; the last byte alone.
    let near = SIZE - 100;
    let past = format!("bytes={near}-{}", SIZE + 5000);
    assert_partial(&mut srv, &data, method, &past, (near, last));
    let only_last = format!("bytes={last}-{last}");
    assert_partial(&mut srv, &data, method, &only_last, (last, last));
    // Unsatisfiable: starting at or past the end, and an empty suffix.
    assert_unsatisfiable(&mut srv, method, &format!("bytes={SIZE}-"), SIZE);
    assert_unsatisfiable(
        &mut srv,
        method,
        &format!("bytes={}-{}", SIZE + 1, SIZE + 9),
        SIZE,
    );
    assert_unsatisfiable(&mut srv, method, "bytes=-0", SIZE);
    // The whole file: several ranges, malformed headers, another unit, and HEAD.
    assert_whole(&mut srv, &data, method, "GET", "bytes=0-1,5-6");
    for malformed in ["bytes=5-1", "bytes=abc", "bytes=-", "items=0-9"] {
        assert_whole(&mut srv, &data, method, "GET", malformed);
    }
    assert_whole(&mut srv, &data, method, "HEAD", "bytes=0-9");
    assert_resumes(&mut srv, dir.path(), &file, &data, method);
    srv.stop();
}

per_method!(range_requests, every_path, ranges);

/// An empty file has no byte to range over: `a-b` is 416 with `bytes */0`, a suffix is the
/// whole (empty) file with 200.
#[test]
fn range_of_an_empty_file() {
    let dir = tempdir();
    let file = write_file(dir.path(), "empty.bin", 0, 1);
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    assert_unsatisfiable(&mut srv, "sendfile", "bytes=0-0", 0);
    assert_unsatisfiable(&mut srv, "sendfile", "bytes=0-", 0);
    let r = http_exchange(&srv.addr, &request("GET", "bytes=-10"));
    assert_eq!(r.status, 200, "{:?}", r.status_line);
    assert_eq!(r.content_length(), 0);
    assert!(r.body.is_empty());
    let rec: Value = srv.connection();
    assert_eq!(rec["http_status"].as_u64(), Some(200), "{rec}");
    assert!(rec["range_start"].is_null(), "{rec}");
    srv.stop();
}

/// The per-connection line says where sending started.
#[test]
fn the_line_shows_the_range_and_offset() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 10_000, 2);
    let mut srv = Server::start_text(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let r = http_exchange(&srv.addr, &request("GET", "bytes=1234-5677"));
    assert_eq!(r.status, 206);
    let line = (0..5)
        .filter_map(|_| srv.next_line(WAIT))
        .find(|l| l.starts_with("#1 "))
        .unwrap_or_else(|| panic!("no line for #1\n{}", srv.dump()));
    assert!(
        line.contains(" · HTTP 206 · range 1234-5677 (from offset 1234) · "),
        "{line}"
    );
    srv.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

/// `copylab fetch --range a-b` asks for one range and checks the 206 is that range; a range
/// past the end is clamped by the server and still accepted; bad ranges are usage errors.
#[test]
fn fetch_asks_for_a_range() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 7);
    let data = std::fs::read(&file).expect("read the test file");
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let target = srv.addr.target();
    for (range, (a, b)) in [
        ("4097-70000", (4097u64, 70_000u64)),
        (
            &*format!("{}-{}", SIZE - 10, SIZE + 10),
            (SIZE - 10, SIZE - 1),
        ),
    ] {
        let out = dir.path().join("piece");
        let v = fetch_json(
            &target,
            &["--http", "--range", range, "--out", path_str(&out)],
        );
        let c = &v["connections"][0];
        assert_eq!(c["http_status"].as_u64(), Some(206), "{v}");
        assert_eq!(c["bytes"].as_u64(), Some(b - a + 1), "{v}");
        let want = sha256_hex(&data[a as usize..=b as usize]);
        assert_eq!(c["sha256"], want.as_str(), "{v}");
        assert_eq!(sha256_file(&out), want, "--range {range}: the file written");
        let rec = srv.connection();
        assert_eq!(rec["range_start"].as_u64(), Some(a), "{rec}");
        assert_eq!(rec["range_end"].as_u64(), Some(b), "{rec}");
    }
    // Nothing of the file there: the server's 416 is a failed fetch, said in one line.
    let out = run(
        &[
            "fetch",
            &target,
            "--http",
            "--range",
            &format!("{SIZE}-{}", SIZE + 1),
            "--discard",
        ],
        &[],
    );
    assert_ne!(out.code, Some(0), "{}", out.dump());
    assert!(
        out.stdout.contains("416") || out.stderr.contains("416"),
        "{}",
        out.dump()
    );
    srv.connection();
    srv.stop();
    for bad in [
        &["--http", "--range", "9-1"][..],
        &["--range", "0-9"],
        &["--http", "--range", "x"],
    ] {
        let mut args = vec!["fetch", "127.0.0.1:9", "--discard"];
        args.extend_from_slice(bad);
        let out = run(&args, &[]);
        assert_eq!(out.code, Some(2), "{bad:?}: {}", out.dump());
        assert!(out.stderr.contains("--range"), "{bad:?}: {}", out.dump());
    }
}

/// `fetch --range a-b` past the end of the file: the server cuts it at the last byte (RFC 9110
/// §14.1.2); fetch accepts that and says so, in the JSON (`range_note`) and in a note line.
#[test]
fn a_range_cut_at_the_end_of_the_file_is_accepted_and_said() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 5000, 8);
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let target = srv.addr.target();
    let v = fetch_json(&target, &["--http", "--range", "4096-8191", "--discard"]);
    let c = &v["connections"][0];
    assert_eq!(c["bytes"], 904, "{v}");
    let note = c["range_note"].as_str().unwrap_or("");
    assert!(
        note.contains("the server sent 4096-4999") && note.contains("cut at the file's last byte"),
        "{v}"
    );
    srv.connection();
    let out = run(
        &[
            "fetch",
            &target,
            "--http",
            "--range",
            "4096-8191",
            "--discard",
        ],
        &[],
    );
    out.assert_ok();
    assert!(
        out.stdout.contains("note: --range 4096-8191"),
        "{}",
        out.dump()
    );
    // Exactly the range asked for: no note.
    let v = fetch_json(&target, &["--http", "--range", "0-99", "--discard"]);
    assert!(v["connections"][0]["range_note"].is_null(), "{v}");
    srv.connection();
    srv.connection();
    srv.stop();
}
