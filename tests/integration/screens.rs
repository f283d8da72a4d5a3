//! Output fits the screen it is shown on: every human output laid out at 80, 100 and 120
//! columns (COLUMNS), no line wider than that, no figure split across lines (the JSON's figures
//! appear whole in the text), and a plain-ASCII rendering for terminals without box characters.

use crate::util::*;

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

const WIDTHS: [usize; 3] = [80, 100, 120];

/// Every line of `text` fits `width` display columns.
fn assert_fits(text: &str, width: usize, what: &str) {
    for (i, l) in text.lines().enumerate() {
        assert!(
            l.width() <= width,
            "{what}: line {} is {} columns wide, more than {width}:\n{l}\n---\n{text}",
            i + 1,
            l.width()
        );
    }
}

/// copylab's ms figures as the tables print them (size::fmt_ms).
fn fmt_ms(ns: f64) -> String {
    let ms = ns / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Thousands separators, as the tables print counts.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figures of a compare's JSON that its default table shows, formatted as printed: each
/// method's name, its data syscalls ("pread64 2,048") and end-to-end CPU per GiB.
fn compare_figures(r: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for m in r["methods"].as_array().unwrap() {
        v.push(m["method"].as_str().unwrap().to_string());
        let med = &m["median"];
        for (name, n) in med["syscalls"]["by_name"].as_object().unwrap() {
            if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                v.push(format!("{name} {}", thousands(n)));
            }
        }
        let gib = num(&med["bytes"], "bytes") as f64 / (1u64 << 30) as f64;
        let e2e = ["user_ns", "sys_ns"]
            .iter()
            .map(|k| num(&med["cpu"][*k], k) as f64 + num(&med["receiver"]["cpu"][*k], k) as f64)
            .sum::<f64>();
        v.push(fmt_ms((e2e / gib).trunc()));
    }
    v
}

/// compare's default table at each width: fits, and every figure of the JSON it shows is whole
/// on one line (two methods, so the syscall column stays in at 80).
#[test]
fn compare_fits_80_100_and_120_columns_with_whole_figures() {
    let dir = tempdir();
    for width in WIDTHS {
        let json = dir.path().join(format!("r{width}.json"));
        let out = run_ok(
            &[
                "compare",
                "--size",
                "4M",
                "--methods",
                "read-write,sendfile",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--color",
                "never",
                "--export-json",
                path_str(&json),
            ],
            &[("COLUMNS", &width.to_string())],
        );
        assert_fits(&out.stdout, width, &format!("compare at {width}"));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        for f in compare_figures(&r) {
            assert!(
                out.stdout.lines().any(|l| l.contains(&f)),
                "at {width} columns, {f:?} is not whole on any line\n{}",
                out.dump()
            );
        }
    }
}

/// Every path at 80 columns: the least important columns go, whole, and the output says so;
/// the lesson's columns stay.
#[test]
fn compare_of_every_path_drops_columns_not_figures_at_80() {
    let out = run_ok(
        &[
            "compare",
            "--size",
            "2M",
            "--methods",
            "all",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--color",
            "never",
        ],
        &[("COLUMNS", "80")],
    );
    assert_fits(&out.stdout, 80, "compare --methods all at 80");
    let t = &out.stdout;
    assert!(t.contains("copy ms/GiB") && t.contains("textbook"), "{t}");
    if !t.contains("┆ syscalls") {
        assert!(t.contains("left out to fit 80 columns"), "{t}");
    }
}

/// `--wide` shows every column however wide, and never splits a cell.
#[test]
fn compare_wide_shows_every_column() {
    let out = run_ok(
        &[
            "compare", "--size", "2M", "--runs", "1", "--warmup", "0", "--wide", "--color", "never",
        ],
        &[("COLUMNS", "80")],
    );
    for h in [
        "wall ms",
        "ctx sw",
        "user / sys",
        "page faults",
        "data syscalls",
    ] {
        assert!(out.stdout.contains(h), "{h}\n{}", out.dump());
    }
}

/// `--style ascii`, or a locale that is not UTF-8, prints plain ASCII and still fits.
#[test]
fn ascii_style_and_non_utf8_locale_print_plain_ascii() {
    let args = [
        "compare",
        "--size",
        "2M",
        "--methods",
        "all",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--color",
        "never",
    ];
    let mut with_flag = args.to_vec();
    with_flag.extend(["--style", "ascii"]);
    for (out, what) in [
        (run_ok(&with_flag, &[]), "--style ascii"),
        (run_ok(&args, &[("LANG", "C")]), "LANG=C"),
    ] {
        assert!(
            out.stdout.is_ascii(),
            "{what}: non-ASCII output:\n{}",
            out.stdout
                .lines()
                .filter(|l| !l.is_ascii())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_fits(&out.stdout, 80, what);
        assert!(
            out.stdout.contains("+---"),
            "{what}: an ASCII table\n{}",
            out.stdout
        );
    }
    // A UTF-8 locale keeps the box characters.
    let out = run_ok(&args, &[("LANG", "en_US.UTF-8")]);
    assert!(out.stdout.contains('┌'), "{}", out.stdout);
}

/// At 100 × 30, the table, the conclusion and the footnotes of a default compare fit one
/// screen: the last 30 lines hold the whole table.
#[test]
fn compare_table_and_conclusion_fit_a_100_by_30_screen() {
    let out = run_ok(
        &[
            "compare", "--size", "8M", "--runs", "2", "--warmup", "0", "--color", "never",
        ],
        &[("COLUMNS", "100")],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    // The noise warning depends on what else this machine does: it is not counted.
    let end = lines
        .iter()
        .position(|l| l.starts_with("warning: noisy machine"))
        .unwrap_or(lines.len());
    let top = lines
        .iter()
        .position(|l| l.starts_with('┌'))
        .unwrap_or_else(|| panic!("no table\n{}", out.stdout));
    assert!(
        end - top <= 29,
        "table to the end is {} lines, more than a 30-line screen holds:\n{}",
        end - top,
        out.stdout
    );
    let conclusion = &lines[top..end].join("\n");
    assert!(
        conclusion.contains("CPU per GiB, both threads"),
        "{conclusion}"
    );
}

/// sweep's chart and table fit too.
#[test]
fn sweep_fits_80_100_and_120_columns() {
    for width in WIDTHS {
        let out = run_ok(
            &[
                "sweep", "--sizes", "4K,1M", "--runs", "1", "--warmup", "0", "--color", "never",
            ],
            &[("COLUMNS", &width.to_string())],
        );
        assert_fits(&out.stdout, width, &format!("sweep at {width}"));
    }
}

/// doctor's lines wrap under their column, never past the width.
#[test]
fn doctor_fits_80_100_and_120_columns() {
    for width in WIDTHS {
        let out = run(&["doctor"], &[("COLUMNS", &width.to_string())]);
        assert!(matches!(out.code, Some(0 | 1)), "{}", out.dump());
        assert_fits(&out.stdout, width, &format!("doctor at {width}"));
    }
}

/// copylab's byte sizes as the tables print them (size::fmt_bytes).
fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let exact = n.is_multiple_of(1u64 << (10 * i));
    if i == 0 || (!exact && n < 10 << 10) {
        format!("{n} B")
    } else if exact {
        format!("{:.0} {}", v, UNITS[i])
    } else {
        format!("{:.2} {}", v, UNITS[i])
    }
}

/// Every "figure unit" pair of `words` ("2 calls", "3 MiB"): what must never be split.
fn figures_in(words: &str) -> Vec<String> {
    let tokens: Vec<&str> = words.split_whitespace().collect();
    tokens
        .windows(2)
        .filter(|w| {
            w[0].ends_with(|c: char| c.is_ascii_digit())
                && w[1].starts_with(|c: char| c.is_alphabetic())
        })
        .map(|w| format!("{} {}", w[0], w[1].trim_end_matches([',', ';', ':', ')'])))
        .collect()
}

/// A receiver on 127.0.0.1 for `n` connections, each read to its end: its port.
fn receiver(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            std::io::copy(&mut s, &mut std::io::sink()).unwrap();
        }
    });
    (port, h)
}

/// trace's text (on stderr) at each width: fits, leads with the verdict, and every figure of
/// the JSON it shows (the path in words, sendfile's calls and bytes) is whole on one line; in
/// plain ASCII with `--style ascii`.
#[test]
fn trace_fits_80_100_and_120_columns_with_whole_figures() {
    require!(Need::tool("python3"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 4 << 20, 11);
    let (port, received) = receiver(5);
    let script = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\nwith open({:?}, 'rb') as f:\n    s.sendfile(f)\ns.close()\n",
        path_str(&file)
    );
    let json = dir.path().join("trace.json");
    run_ok(
        &[
            "trace",
            "--json",
            "-o",
            path_str(&json),
            "--",
            "python3",
            "-c",
            &script,
        ],
        &[],
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let sendfile = &r["syscalls"]["sendfile64"];
    let calls = num(&sendfile["calls"], "sendfile64.calls");
    let bytes = fmt_bytes(num(&sendfile["bytes"], "sendfile64.bytes"));
    let words = r["path"]["words"].as_str().unwrap().to_string();
    assert!(words.starts_with("sendfile, "), "{words}");
    let mut runs: Vec<(String, Out)> = WIDTHS
        .iter()
        .map(|w| {
            let out = run_ok(
                &["trace", "--", "python3", "-c", &script],
                &[("COLUMNS", &w.to_string())],
            );
            (format!("trace at {w}"), out)
        })
        .collect();
    runs.push((
        "trace --style ascii".into(),
        run_ok(
            &["trace", "--style", "ascii", "--", "python3", "-c", &script],
            &[],
        ),
    ));
    received.join().unwrap();
    for (what, out) in &runs {
        let width = what
            .rsplit(' ')
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(80);
        let text = &out.stderr;
        assert_fits(text, width, what);
        let lines: Vec<&str> = text.lines().collect();
        let row = lines.iter().find(|l| l.contains("sendfile64"));
        assert!(
            row.is_some_and(|l| l.contains(&format!(" {calls} ")) && l.contains(&bytes)),
            "{what}: sendfile64's {calls} calls and {bytes} are not whole on its row\n{text}"
        );
        let figures = figures_in(&words);
        assert!(figures.len() >= 2, "{words}");
        for f in figures {
            assert!(
                lines.iter().any(|l| l.contains(&f)),
                "{what}: {f:?} is split across lines\n{text}"
            );
        }
        if what.contains("ascii") {
            assert!(text.is_ascii(), "{what}\n{text}");
            continue;
        }
        // The verdict comes before the tables, and says the path as the JSON does.
        let verdict = lines.iter().position(|l| l.starts_with("python3 (pid "));
        let table = lines.iter().position(|l| l.starts_with('┌'));
        assert!(
            matches!((verdict, table), (Some(v), Some(t)) if v < t),
            "{what}: the verdict must lead\n{text}"
        );
        assert!(unwrapped(text).contains(&words), "{what}: {words}\n{text}");
    }
}

/// `copylab serve FILE --http --method read-write --count 2 ARGS` with `envs`, two GETs (the
/// whole file, then a range) from a client of the test's own: serve's stdout.
fn serve_two_gets(file: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Cmd::copylab(&["serve", path_str(file), "--http", "--method", "read-write"])
        .args(&["--listen", "127.0.0.1:0", "--count", "2"])
        .args(args)
        .envs(envs)
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start copylab serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut text = String::new();
    // The address: from the listening JSON line, or the text's "… over tcp on ADDR".
    let addr = loop {
        assert!(out.read_line(&mut text).expect("read") > 0, "{text}");
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            break v["address"].as_str().expect("address").to_string();
        }
        if text.contains("try: ") {
            break unwrapped(&text)
                .split(" over tcp on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_else(|| panic!("no address: {text}"))
                .to_string();
        }
    };
    for range in ["", "Range: bytes=100-2000000\r\n"] {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: x\r\n{range}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut body = Vec::new();
        s.read_to_end(&mut body).expect("read the answer");
        assert!(body.len() > 2_000_000, "{}", body.len());
    }
    out.read_to_string(&mut text).expect("read the rest");
    assert!(child.wait().expect("wait").success(), "{text}");
    text
}

/// serve's lines at each width: the listening lines, one line per connection wrapped between
/// its values (never inside one: the JSON's figures — bytes, HTTP status, the range, the
/// syscalls by name — are whole on a line), and the summary table, which drops columns whole.
#[test]
fn serve_lines_fit_80_100_and_120_columns_with_whole_figures() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 8 << 20, 12);
    // The figures, from the JSON of the same two requests (read-write's are exact).
    let json = serve_two_gets(&file, &["--json"], &[]);
    let events: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut figures = Vec::new();
    for c in events.iter().filter(|e| e["event"] == "connection") {
        figures.push(format!("HTTP {}", c["http_status"]));
        figures.push(fmt_bytes(num(&c["bytes"], "bytes")));
        let by_name = c["cost"]["syscalls"]["by_name"]
            .as_object()
            .expect("by_name");
        let named: Vec<String> = by_name
            .iter()
            .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| format!("{k} {n}")))
            .collect();
        figures.push(format!(
            "syscalls {} ({})",
            num(&c["cost"]["syscalls"]["total"], "total"),
            named.join(", ")
        ));
        if let Some(a) = c["range_start"].as_u64() {
            figures.push(format!("range {a}-{} (from offset {a})", c["range_end"]));
        }
    }
    assert_eq!(figures.len(), 7, "{figures:?}");
    for width in WIDTHS {
        let what = format!("serve at {width}");
        let text = serve_two_gets(&file, &[], &[("COLUMNS", &width.to_string())]);
        assert_fits(&text, width, &what);
        for f in &figures {
            assert!(
                text.lines().any(|l| l.contains(f.as_str())),
                "{what}: {f:?} is not whole on any line\n{text}"
            );
        }
        // A connection's line continues only after a separator, indented.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate().skip(1) {
            if l.starts_with("    ") && lines[i - 1].starts_with('#') {
                assert!(lines[i - 1].ends_with(" ·"), "{what}:\n{text}");
            }
        }
        assert!(text.contains("2 (2 complete)"), "{what}\n{text}");
        if width < 120 {
            assert!(text.contains("left out to fit"), "{what}\n{text}");
        }
        // --wide keeps every column of the summary.
        if width == 80 {
            let wide = serve_two_gets(&file, &["--wide"], &[("COLUMNS", "80")]);
            assert!(wide.contains("ctx sw median"), "{wide}");
        }
    }
}

/// The numbers of `text` in order: each run of digits with the separators inside it ("2,048",
/// "0.69", "4096"). A number split across two lines shows as two runs.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let inside = matches!(c, ',' | '.')
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_ascii_digit() || inside {
            cur.push(*c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// No number of `wide` (the same output laid out too wide to wrap) is split in `text`.
fn assert_numbers_whole(text: &str, wide: &str, what: &str) {
    let (mut got, mut want) = (numbers(text), numbers(wide));
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "{what}: numbers differ from the unwrapped text\n{text}"
    );
}

/// `copylab explain ARGS` at `width` columns, in a neutral locale.
fn explain_at(args: &[&str], width: usize, envs: &[(&str, &str)]) -> Out {
    let mut full = vec!["explain"];
    full.extend_from_slice(args);
    let w = width.to_string();
    let mut env = vec![("COLUMNS", w.as_str()), ("LANG", "C.UTF-8")];
    env.extend_from_slice(envs);
    run_ok(&full, &env)
}

/// Every topic of explain — all the paths with the myths, each path alone, receive, kafka,
/// myths — in English and Chinese, at 80, 100 and 120 columns: no line wider (CJK counted
/// two), no number split, and the pictures drawn for the width (the widest line of all the
/// paths is near it).
#[test]
fn explain_fits_80_100_and_120_columns_in_both_languages() {
    let mut topics: Vec<Vec<&str>> = vec![vec![], vec!["receive"], vec!["kafka"], vec!["myths"]];
    for m in ALL_METHODS {
        topics.push(vec![m]);
    }
    for width in WIDTHS {
        for lang in ["en", "zh"] {
            for topic in &topics {
                let mut args = topic.clone();
                args.extend(["--lang", lang]);
                let out = explain_at(&args, width, &[]);
                let what = format!("COLUMNS={width} explain {}", args.join(" "));
                assert_fits(&out.stdout, width, &what);
                let wide = explain_at(&args, 1000, &[]);
                assert_numbers_whole(&out.stdout, &wide.stdout, &what);
                if topic.is_empty() {
                    let widest = out.stdout.lines().map(|l| l.width()).max().unwrap_or(0);
                    assert!(widest + 4 >= width, "{what}: widest line {widest}");
                }
            }
        }
    }
}

/// `explain PATH --measure` writes this run's figures on the picture's arrows — each call's
/// count on the user/kernel line (or beside its step), the receiver's copy on recv's arrow —
/// whole at every width, and the same figures the "Measured here" lines give.
#[test]
fn explain_measure_puts_whole_figures_on_the_arrows() {
    require!(Need::root("for perf syscall counters and sampling"));
    for (width, path) in [(80, "read-write"), (100, "sendfile"), (120, "mmap")] {
        let out = explain_at(
            &[path, "--measure", "--size", "8M", "--lang", "en"],
            width,
            &[],
        );
        let what = format!("COLUMNS={width} explain {path} --measure");
        let text = &out.stdout;
        assert_fits(text, width, &what);
        let (picture, rest) = text
            .split_once("  DMA = ")
            .unwrap_or_else(|| panic!("{what}: no legend\n{text}"));
        let measured = unwrapped(
            rest.split("Measured here:")
                .nth(1)
                .unwrap_or_else(|| panic!("{what}: no measured section\n{text}")),
        );
        // "(pread64 64, write 64)": each count appears after its call in the picture.
        let names = measured
            .split_once(" syscall")
            .and_then(|(_, r)| r.split_once('('))
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| panic!("{what}: no calls by name in {measured}"));
        for pair in names.split(", ") {
            let (name, n) = pair.rsplit_once(' ').unwrap();
            let call = match name {
                "pread64" => "read",
                "sendfile64" => "sendfile",
                other => other,
            };
            if name == "munmap" {
                continue; // not a step of the picture
            }
            let want = format!("{call}() ×{n}");
            assert!(picture.contains(&want), "{what}: {want:?}\n{picture}");
        }
        // The receiver's copy, as the measured sentence gives it (whole ms from 10 on).
        if let Some(r) = measured
            .split("the receiver ")
            .nth(1)
            .and_then(|r| r.split(" ms per GiB").next())
            .and_then(|r| r.parse::<f64>().ok())
            .filter(|r| *r >= 10.0)
        {
            let want = format!("copy {r:.0} ms/GiB");
            assert!(picture.contains(&want), "{what}: {want:?}\n{picture}");
        }
        assert!(picture.contains("lo: skb handed over"), "{picture}");
    }
}

/// `--style ascii`, or a locale that is not UTF-8, draws explain's pictures in plain ASCII,
/// still fitted to the width.
#[test]
fn explain_in_ascii_style_and_a_non_utf8_locale() {
    for (args, env) in [
        (vec!["sendfile", "--style", "ascii"], vec![]),
        (vec!["receive"], vec![("LANG", "C")]),
        (vec!["vmsplice"], vec![("LC_ALL", "en_US.ISO-8859-1")]),
    ] {
        let mut full = vec!["explain"];
        full.extend(&args);
        let mut envs = vec![("COLUMNS", "80")];
        envs.extend(env);
        let out = run_ok(&full, &envs);
        let what = format!("{envs:?} explain {}", args.join(" "));
        assert!(
            out.stdout.is_ascii(),
            "{what}: not ASCII:\n{}",
            out.stdout
                .lines()
                .filter(|l| !l.is_ascii())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_fits(&out.stdout, 80, &what);
        assert!(
            out.stdout.contains("+-----"),
            "{what}: boxes\n{}",
            out.stdout
        );
        assert!(out.stdout.contains("recv()"), "{what}\n{}", out.stdout);
    }
    // Chinese keeps its words, but no box drawing.
    let out = run_ok(
        &["explain", "sendfile", "--lang", "zh", "--style", "ascii"],
        &[("COLUMNS", "80")],
    );
    assert!(out.stdout.contains("页缓存"), "{}", out.stdout);
    assert!(!out.stdout.contains(['─', '┌', '━', '①']), "{}", out.stdout);
    assert_fits(&out.stdout, 80, "explain sendfile --lang zh --style ascii");
}

/// The quiz's questions, choices, answers and explanations fit 80, 100 and 120 columns in both
/// languages (the teacher's list shows every line a student sees, and more), and every question
/// reads whole, numbers and all, as the JSON of the same seed states it.
#[test]
fn quiz_questions_fit_80_100_and_120_columns() {
    // Seed 4 asks about splice's and read-write's calls, the most syscalls, the receive side
    // and the cold cache: no 64 MiB copy run, so the quiz is quick.
    let _shared = system_state(false);
    let squash = |t: &str| -> String { t.chars().filter(|c| !c.is_whitespace()).collect() };
    for lang in ["en", "zh"] {
        let json = run_ok(
            &[
                "quiz", "--seed", "4", "--list", "--json", "--size", "4M", "--lang", lang,
            ],
            &[],
        );
        let r: Value = serde_json::from_str(&json.stdout).unwrap();
        for width in WIDTHS {
            let w = width.to_string();
            let out = run_ok(
                &[
                    "quiz", "--seed", "4", "--list", "--size", "4M", "--lang", lang,
                ],
                &[("COLUMNS", &w)],
            );
            let what = format!("COLUMNS={width} quiz --seed 4 --list --lang {lang}");
            assert_fits(&out.stdout, width, &what);
            // The questions are the seed's, whatever the run measured: each one whole.
            let flat = squash(&out.stdout);
            for q in r["questions"].as_array().unwrap() {
                let text = q["text"].as_str().unwrap();
                assert!(
                    flat.contains(&squash(text)),
                    "{what}: {text:?}\n{}",
                    out.stdout
                );
                for n in numbers(text) {
                    assert!(
                        numbers(&out.stdout).contains(&n),
                        "{what}: {n} split\n{}",
                        out.stdout
                    );
                }
            }
        }
    }
}
