//! The pictures: `--export-stacks DIR` (folded stacks and inferno's flame graphs) and
//! `--export-html FILE` (one page), read by their content — every SVG parses as XML, every
//! method and thread is there, the figures equal the JSON's, the folded counts add up to the
//! JSON's samples — and written by the export rules: never through a link, nothing
//! half-written.

use crate::util::*;

use std::collections::BTreeMap;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// Parse `xml` to its end; the error names what is wrong.
fn parse_xml(xml: &str) -> Result<usize, String> {
    let mut r = Reader::from_str(xml);
    r.config_mut().check_end_names = true;
    let mut elements = 0;
    let mut depth = 0i64;
    loop {
        match r.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                elements += 1;
            }
            Ok(Event::Empty(_)) => elements += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("at {}: {e}", r.buffer_position())),
        }
    }
    if depth != 0 {
        return Err(format!("{depth} elements left open"));
    }
    Ok(elements)
}

/// Every outermost `<svg …>…</svg>` of the page.
fn svg_blocks(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = html[i..].find("<svg").map(|s| s + i) {
        let mut depth = 0i64;
        let mut j = start;
        loop {
            let open = html[j..].find("<svg").map(|s| s + j);
            let close = html[j..]
                .find("</svg>")
                .map(|s| s + j)
                .expect("unclosed svg");
            match open {
                Some(o) if o < close => {
                    depth += 1;
                    j = o + 4;
                }
                _ => {
                    depth -= 1;
                    j = close + 6;
                    if depth == 0 {
                        break;
                    }
                }
            }
        }
        out.push(&html[start..j]);
        i = j;
    }
    out
}

/// The value of `attr` in the tag at `tag_start`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// Every opening tag of `name` in `text` with its attributes.
fn tags<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    let mut v = Vec::new();
    let mut i = 0;
    while let Some(s) = text[i..].find(&open).map(|s| s + i) {
        let e = s + text[s..].find('>').unwrap();
        v.push(&text[s..=e]);
        i = e;
    }
    v
}

/// The JSON value at a dotted path (`median.syscalls.total`).
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn same_number(a: &str, b: &Value, what: &str) {
    if b.is_null() {
        assert_eq!(a, "null", "{what}");
        return;
    }
    let a: f64 = a
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {a} is no number"));
    let b = b
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {b} is no number"));
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: page {a}, JSON {b}"
    );
}

/// Folded lines: `frame;…;frame count`, frames non-empty and without spaces, root first.
fn folded_counts(text: &str, root: &[&str]) -> u64 {
    let mut sum = 0;
    assert!(text.ends_with('\n'), "the file is whole");
    for line in text.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("a count after a space");
        let n: u64 = count
            .parse()
            .unwrap_or_else(|_| panic!("count in {line:?}"));
        assert!(n > 0, "{line}");
        let frames: Vec<&str> = stack.split(';').collect();
        assert!(frames.len() >= root.len(), "{line}");
        assert_eq!(&frames[..root.len()], root, "root frames of {line}");
        for f in &frames {
            assert!(!f.is_empty() && !f.contains(' '), "frame {f:?} in {line:?}");
        }
        sum += n;
    }
    sum
}

fn no_temporaries(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains("copylab-tmp"), "left behind: {name}");
    }
}

/// A profile is taken here (root, perf allowing sampling): otherwise the pictures are empty.
fn profiled(r: &Value) -> bool {
    r["methods"][0]["profile"].is_object()
}

#[test]
fn compare_page_and_stacks_say_what_the_json_says() {
    let dir = tempdir();
    let (html, json, stacks) = (
        dir.path().join("r.html"),
        dir.path().join("r.json"),
        dir.path().join("stacks"),
    );
    // 32 MiB: enough cpu-clock samples (at the 500 us floor) for every bar to be a figure.
    let out = run_ok(
        &[
            "compare",
            "--size",
            "32M",
            "--runs",
            "2",
            "--export-html",
            path_str(&html),
            "--export-json",
            path_str(&json),
            "--export-stacks",
            path_str(&stacks),
        ],
        &[],
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();

    // One self-contained page: nothing fetched, nothing run.
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert!(page.contains("<html lang=\"en\">"));
    for banned in [
        "<script", "<link", "<img", "<iframe", " src=", " href=", "@import", "url(http",
    ] {
        assert!(!page.contains(banned), "the page holds {banned}");
    }
    // The run's story in words, as the terminal ends with it.
    assert!(
        page.contains("<section id=\"conclusions\">"),
        "conclusion lines"
    );
    // Every SVG on the page parses as XML.
    let svgs = svg_blocks(&page);
    assert!(!svgs.is_empty());
    for (i, s) in svgs.iter().enumerate() {
        parse_xml(s).unwrap_or_else(|e| panic!("svg {i}: {e}\n{}", &s[..s.len().min(400)]));
    }

    // The table: a row per method, every numeric cell equal to the JSON's value.
    for m in r["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        let row_start = page
            .find(&format!("<tr data-method=\"{name}\">"))
            .unwrap_or_else(|| panic!("no row for {name}"));
        let row = &page[row_start..row_start + page[row_start..].find("</tr>").unwrap()];
        let cells = tags(row, "td");
        let fields: Vec<&str> = cells.iter().filter_map(|c| attr(c, "data-field")).collect();
        assert!(fields.len() >= 7, "{name}: {fields:?}");
        for c in &cells {
            let (Some(field), Some(v)) = (attr(c, "data-field"), attr(c, "data-v")) else {
                continue;
            };
            if field.ends_with("/GiB") {
                // The serving thread's sys CPU per GiB: derived, checked from its parts.
                let sys = at(m, "median.cpu.sys_ns").as_f64().unwrap();
                let gib = at(m, "median.bytes").as_f64().unwrap() / (1u64 << 30) as f64;
                same_number(
                    v,
                    &Value::from((sys / gib).round()),
                    &format!("{name} {field}"),
                );
            } else {
                same_number(v, at(m, field), &format!("{name} {field}"));
            }
        }
    }

    // Each path's diagram carries this run's figures: the receiver's syscalls as the JSON has them.
    for m in r["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        let Some(start) = page.find(&format!("<div class=\"path\" data-method=\"{name}\">")) else {
            continue; // no profile, no section for the path: checked below
        };
        let path = &page[start..];
        let pre = &path[path
            .find("<details class=\"diagram\"")
            .unwrap_or_else(|| panic!("{name}: no diagram"))..];
        let pre = &pre[..pre.find("</details>").unwrap()];
        let calls = at(m, "median.receiver.syscalls.total").as_u64().unwrap();
        let said: Vec<u64> = pre
            .split(" syscalls")
            .filter_map(|before| before.rsplit(' ').next()?.replace(',', "").parse().ok())
            .collect();
        assert_eq!(
            said,
            vec![calls],
            "{name}: the diagram's receiver syscalls\n{pre}"
        );
    }

    require!(Need::that(
        profiled(&r),
        format!(
            "no CPU profile here, the pictures are not checked ({:?})",
            r["warnings"]
        )
    ));
    // The bars: every method and thread, one scale, each part the JSON's pooled figure.
    let bars: Vec<&str> = tags(&page, "svg")
        .into_iter()
        .filter(|t| attr(t, "class") == Some("bar"))
        .collect();
    let scales: std::collections::BTreeSet<&str> =
        bars.iter().filter_map(|b| attr(b, "data-max")).collect();
    assert_eq!(scales.len(), 1, "one scale for every bar: {scales:?}");
    for m in r["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        for thread in ["serving", "receiver"] {
            let p = &m["profile"][thread];
            let open = format!("data-method=\"{name}\" data-thread=\"{thread}\"");
            let Some(at_bar) = page.find(&format!(
                "<svg class=\"bar\" viewBox=\"0 0 600 40\" role=\"img\" {open}"
            )) else {
                // Too few samples: said in words instead.
                assert_eq!(p["precision"], "too-few", "{name} {thread} has no bar");
                continue;
            };
            let bar = &page[at_bar..at_bar + page[at_bar..].find("</svg>").unwrap()];
            let mut parts: BTreeMap<String, u64> = BTreeMap::new();
            for rect in tags(bar, "rect") {
                let part = attr(rect, "data-part").unwrap();
                let ns: u64 = attr(rect, "data-ns").unwrap().parse().unwrap();
                *parts
                    .entry(part.replace("copy in softirq", "copy"))
                    .or_insert(0) += ns;
            }
            for (cat, ns) in p["ns"].as_object().unwrap() {
                assert_eq!(
                    parts.get(cat).copied(),
                    ns.as_u64(),
                    "{name} {thread} {cat}: page {parts:?}, JSON {ns}"
                );
            }
            let in_softirq: u64 = tags(bar, "rect")
                .iter()
                .filter(|r| attr(r, "data-part") == Some("copy in softirq"))
                .map(|r| attr(r, "data-ns").unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(
                in_softirq,
                p["copy_in_softirq_ns"].as_u64().unwrap(),
                "{name} {thread}"
            );

            // Its flame graph on the page, and its files, with the JSON's samples.
            let samples = p["samples"].as_u64().unwrap();
            let graph = format!("{name}.{thread}");
            assert!(
                page.contains(&format!(
                    "data-graph=\"{graph}\" data-samples=\"{samples}\""
                )),
                "flame graph of {graph} with {samples} samples"
            );
            let folded = std::fs::read_to_string(stacks.join(format!("{graph}.folded"))).unwrap();
            assert_eq!(
                folded_counts(&folded, &[name, thread]),
                samples,
                "{graph}.folded"
            );
            let svg = std::fs::read_to_string(stacks.join(format!("{graph}.svg"))).unwrap();
            let n = parse_xml(&svg).unwrap_or_else(|e| panic!("{graph}.svg: {e}"));
            assert!(n > 10, "{graph}.svg has {n} elements");
            assert!(svg.contains(&format!("{samples} samples")), "{graph}.svg");
        }
    }
    // The lesson is visible: a receiver copies (skb_copy_datagram_iter) and that frame is
    // coloured as a copy.
    let recv = std::fs::read_to_string(stacks.join("sendfile.receiver.folded")).unwrap();
    assert!(recv.contains("skb_copy_datagram_iter"), "{recv}");
    let svg = std::fs::read_to_string(stacks.join("sendfile.receiver.svg")).unwrap();
    assert!(
        svg.contains("<g class=\"cat-copy\"><title>skb_copy_datagram_iter"),
        "copy class"
    );
    assert!(svg.contains("fill=\"rgb(213,94,0)\""), "copy's colour");
    no_temporaries(&stacks);
    drop(out);
}

#[test]
fn page_in_chinese_and_to_stdout() {
    let out = run_ok(
        &[
            "compare",
            "--size",
            "4M",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--export-html",
            "-",
            "--lang",
            "zh",
        ],
        &[],
    );
    assert!(out.stdout.starts_with("<!DOCTYPE html>"), "{}", out.dump());
    assert!(out.stdout.contains("<html lang=\"zh-Hans\">"));
    assert!(out.stdout.contains("对比表"));
    assert!(out.stdout.contains("<tr data-method=\"sendfile\">"));
    // The terminal's table does not go to stdout with it (the diagrams' boxes, in <pre>, are
    // the page's own).
    let mut outside = String::new();
    let mut rest = out.stdout.as_str();
    while let Some(i) = rest.find("<pre") {
        outside.push_str(&rest[..i]);
        rest = rest[i..]
            .split_once("</pre>")
            .map_or("", |(_, after)| after);
    }
    outside.push_str(rest);
    assert!(
        !outside.contains("┌"),
        "the table does not go to stdout with it"
    );
    assert!(
        out.stdout.contains("<pre lang=\"zh-Hans\">"),
        "the diagram, in Chinese"
    );
    for s in svg_blocks(&out.stdout) {
        parse_xml(s).unwrap();
    }
}

/// The figures of a sentence, in order: runs of digits with their separators, "~" and "×"
/// ("~12.3", "8,192", "0.53×"), whatever the words around them.
fn figures_of(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in sentence.chars().chain([' ']) {
        if c.is_ascii_digit()
            || (!cur.is_empty() && ".,×".contains(c))
            || (cur.is_empty() && c == '~')
        {
            cur.push(c);
        } else {
            let t = cur.trim_end_matches(['.', ',']).to_string();
            if t.chars().any(|c| c.is_ascii_digit()) {
                out.push(t);
            }
            cur.clear();
            if c == '~' {
                cur.push(c);
            }
        }
    }
    out
}

/// The list items of the page's conclusion, unescaped.
fn conclusion_items(page: &str) -> Vec<String> {
    let Some(at) = page.find("<section id=\"conclusions\">") else {
        return Vec::new();
    };
    let section = &page[at..at + page[at..].find("</section>").unwrap()];
    section
        .split("<li>")
        .skip(1)
        .map(|li| {
            li[..li.find("</li>").unwrap()]
                .replace("&#39;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// `--lang zh`: the conclusion is said in Chinese, nothing on the page is left marked as
/// English, and each sentence carries the figures the English one (the Markdown export of the
/// same run) does.
#[test]
fn chinese_page_says_the_conclusion_in_chinese_with_the_same_figures() {
    let dir = tempdir();
    let (html, md) = (dir.path().join("r.html"), dir.path().join("r.md"));
    run_ok(
        &[
            "compare",
            "--size",
            "8M",
            "--methods",
            "read-write,sendfile,splice",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--lang",
            "zh",
            "--export-html",
            path_str(&html),
            "--export-markdown",
            path_str(&md),
        ],
        &[],
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<html lang=\"zh-Hans\">"));
    assert!(
        !page.contains("lang=\"en\""),
        "a block marked English is left"
    );
    let zh = conclusion_items(&page);
    let md = std::fs::read_to_string(&md).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    let last_row = lines.iter().rposition(|l| l.starts_with('|')).unwrap();
    let en: Vec<&str> = lines
        .iter()
        .copied()
        .skip(last_row + 1)
        .filter(|l| !l.is_empty())
        .collect();
    // At least the end-to-end sentence: it needs no profile and no perf.
    assert!(!en.is_empty(), "{md}");
    assert_eq!(zh.len(), en.len(), "{zh:#?}\n{en:#?}");
    let cjk = |t: &str| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for (z, e) in zh.iter().zip(&en) {
        assert!(cjk(z), "not Chinese: {z}");
        assert!(!cjk(e), "not English: {e}");
        assert_eq!(figures_of(z), figures_of(e), "\n{z}\n{e}");
    }
    assert!(
        zh.iter().any(|z| z.contains("两个线程合计每 GiB 的 CPU")),
        "{zh:#?}"
    );
}

#[test]
fn trace_writes_a_page_and_stacks_per_thread() {
    let dir = tempdir();
    let data = write_file(dir.path(), "data", 64 * MIB, 7);
    let (html, json, stacks) = (
        dir.path().join("t.html"),
        dir.path().join("t.json"),
        dir.path().join("stacks"),
    );
    let copy = dir.path().join("copy");
    let script = format!(
        "for i in 1 2 3 4; do cat '{}' > '{}'; done",
        data.display(),
        copy.display()
    );
    let out = run(
        &[
            "trace",
            "--json",
            "--output",
            path_str(&json),
            "--export-html",
            path_str(&html),
            "--export-stacks",
            path_str(&stacks),
            "--",
            "sh",
            "-c",
            &script,
        ],
        &[],
    );
    assert!(out.success(), "{}", out.dump());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("copylab trace"));
    for s in svg_blocks(&page) {
        parse_xml(s).unwrap();
    }
    require!(Need::that(
        r["profile_unavailable"].is_null(),
        format!(
            "no profile here, the stacks are not checked ({})",
            r["profile_unavailable"]
        )
    ));
    let mut files = 0;
    for th in r["threads"].as_array().unwrap() {
        let samples = th["cpu"]["samples"].as_u64().unwrap_or(0);
        if samples == 0 {
            continue;
        }
        let (tid, pid) = (th["tid"].as_u64().unwrap(), th["pid"].as_u64().unwrap());
        let found: Vec<_> = std::fs::read_dir(&stacks)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(&format!("-{pid}.")) && n.ends_with(&format!("-{tid}.folded")))
            .collect();
        assert_eq!(found.len(), 1, "tid {tid}: {found:?}");
        let text = std::fs::read_to_string(stacks.join(&found[0])).unwrap();
        let first = text.lines().next().unwrap();
        let root: Vec<&str> = first.split(';').take(2).collect();
        assert!(
            root[0].ends_with(&format!("-{pid}")) && root[1].ends_with(&format!("-{tid}")),
            "{first}"
        );
        assert_eq!(folded_counts(&text, &root), samples, "{}", found[0]);
        assert!(
            page.contains(&format!("data-samples=\"{samples}\"")),
            "tid {tid} on the page"
        );
        files += 1;
    }
    assert!(files >= 1, "some thread was sampled: {:#}", r["threads"]);
    no_temporaries(&stacks);
}

#[test]
fn stacks_dir_through_a_link_or_onto_a_file_is_refused_before_any_run() {
    let dir = tempdir();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "keep me\n").unwrap();
    for (target, needle) in [(&link, "symbolic link"), (&file, "not a directory")] {
        let t0 = std::time::Instant::now();
        let out = run(
            &[
                "compare",
                "--size",
                "64M",
                "--export-stacks",
                path_str(target),
            ],
            &[],
        );
        assert_clean_error(&out, &["--export-stacks", needle]);
        assert!(t0.elapsed().as_secs() < 20, "refused before the runs");
    }
    assert_eq!(
        std::fs::read_dir(&real).unwrap().count(),
        0,
        "nothing through the link"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me\n");
    // The HTML page follows the export rules: a link to a file is refused, the file kept.
    let html_link = dir.path().join("page.html");
    std::os::unix::fs::symlink(&file, &html_link).unwrap();
    let out = run(
        &[
            "compare",
            "--size",
            "64M",
            "--export-html",
            path_str(&html_link),
        ],
        &[],
    );
    assert_clean_error(&out, &["--export-html", "symbolic link"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me\n");
    // A directory where the page should go is refused too.
    let out = run(
        &["compare", "--size", "64M", "--export-html", path_str(&real)],
        &[],
    );
    assert_clean_error(&out, &["--export-html", "directory"]);
    // A link planted inside the directory is replaced, never written through.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let stacks = dir.path().join("stacks");
    std::fs::create_dir(&stacks).unwrap();
    std::os::unix::fs::symlink(&victim, stacks.join("sendfile.serving.folded")).unwrap();
    let out = run_ok(
        &[
            "compare",
            "--size",
            "8M",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--export-stacks",
            path_str(&stacks),
        ],
        &[],
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "{}",
        out.dump()
    );
    let planted = stacks.join("sendfile.serving.folded");
    if std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink()
    {
        // Nothing sampled here (no profile): nothing written, the link left alone.
        assert!(
            out.stderr.contains("no stacks were written"),
            "{}",
            out.dump()
        );
    }
}

#[test]
fn a_failed_stacks_write_leaves_no_half_written_file() {
    let dir = tempdir();
    let stacks = dir.path().join("stacks");
    std::fs::create_dir(&stacks).unwrap();
    // The flame graph's name is taken by a directory: its rename must fail.
    std::fs::create_dir(stacks.join("sendfile.receiver.svg")).unwrap();
    let out = run(
        &[
            "compare",
            "--size",
            "8M",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--export-stacks",
            path_str(&stacks),
        ],
        &[],
    );
    if out.success() {
        assert!(
            out.stderr.contains("no stacks were written"),
            "{}",
            out.dump()
        );
        return;
    }
    assert_clean_error(
        &out,
        &["--export-stacks", "sendfile.receiver.svg", "cannot write"],
    );
    no_temporaries(&stacks);
    // What was written before the failure is whole.
    let folded = std::fs::read_to_string(stacks.join("sendfile.receiver.folded")).unwrap();
    assert!(folded_counts(&folded, &["sendfile", "receiver"]) > 0);
}

/// Unprivileged: no profile, so no stacks; the page still comes, says n/a and why.
#[test]
fn unprivileged_page_says_the_profile_is_missing() {
    require!(Need::tool("setpriv"), Need::root("to drop privileges"));
    let bindir = world_readable_dir();
    let bin = copy_bin_to(bindir.path());
    let tmp = world_writable_dir();
    let html = tmp.path().join("page.html");
    let stacks = tmp.path().join("stacks");
    let out = run_as_nobody(
        &bin,
        &[
            "compare",
            "--size",
            "2M",
            "--methods",
            "read-write,sendfile",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--export-html",
            path_str(&html),
            "--export-stacks",
            path_str(&stacks),
        ],
        tmp.path(),
    );
    assert!(out.success(), "{}", out.dump());
    let page = std::fs::read_to_string(&html).unwrap();
    require!(Need::that(
        page.contains("no CPU profile"),
        "this machine lets anyone sample the kernel"
    ));
    assert!(
        page.contains("No callchains were sampled"),
        "flame graphs said missing"
    );
    assert!(page.contains("<tr data-method=\"sendfile\">"));
    assert!(
        out.stderr.contains("no stacks were written"),
        "{}",
        out.dump()
    );
    assert!(!stacks.exists(), "no directory made for nothing");
    for s in svg_blocks(&page) {
        parse_xml(s).unwrap();
    }
}

#[test]
fn serve_writes_the_serving_threads_stacks_at_exit() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data", 32 * MIB, 3);
    let stacks = dir.path().join("stacks");
    let mut srv = Server::start(
        &file,
        &[
            "--method",
            "sendfile",
            "--listen",
            "127.0.0.1:0",
            "--count",
            "3",
            "--export-stacks",
            path_str(&stacks),
        ],
    );
    for _ in 0..3 {
        let got = srv.addr.connect().read_to_eof();
        assert_eq!(got.len() as u64, 32 * MIB);
    }
    let status = srv.wait_exit(std::time::Duration::from_secs(60));
    assert!(status.success(), "serve exited {status:?}");
    let folded = stacks.join("sendfile.serving.folded");
    require!(Need::that(
        folded.exists(),
        "no profile here (nothing sampled)"
    ));
    let text = std::fs::read_to_string(&folded).unwrap();
    assert!(folded_counts(&text, &["sendfile", "serving"]) > 0);
    assert!(text.contains("do_sendfile"), "{text}");
    parse_xml(&std::fs::read_to_string(stacks.join("sendfile.serving.svg")).unwrap()).unwrap();
    no_temporaries(&stacks);
}
