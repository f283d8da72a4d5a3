//! The docs show what the binary prints: every compare table pasted in README.md and docs/*.md
//! (the blocks scripts/readme-figures.sh rewrites) has, for each path, the textbook cell the
//! binary prints today. A model that changes without the docs being regenerated fails here.

use crate::util::*;

use std::collections::BTreeMap;
use std::path::Path;

/// The cells of a table line drawn with box characters ("│ a ┆ b │"), trimmed.
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_start_matches('│')
        .trim_end_matches('│')
        .split('┆')
        .map(|c| c.trim().to_string())
        .collect()
}

/// In the text of one compare table: each method's textbook cell (the first line of it).
fn textbook_cells(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let Some(head) = lines
        .iter()
        .position(|l| l.starts_with('│') && l.contains("textbook"))
    else {
        return out;
    };
    let col = cells(lines[head])
        .iter()
        .position(|c| c.starts_with("textbook"))
        .expect("the header names the textbook column");
    for l in &lines[head + 1..] {
        if !l.starts_with('│') {
            continue;
        }
        let c = cells(l);
        if let (Some(name), Some(tb)) = (c.first(), c.get(col))
            && ALL_METHODS.contains(&name.as_str())
        {
            out.insert(name.clone(), tb.clone());
        }
    }
    out
}

/// The figures blocks of a Markdown file: (line number, command, text).
fn blocks(path: &Path) -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(rest) = lines[i].strip_prefix("<!-- figures")
            && let Some((_, cmd)) = rest.split_once(": ")
        {
            let cmd = cmd.trim_end_matches(" -->").to_string();
            let end = (i + 1..lines.len())
                .find(|&j| lines[j] == "<!-- /figures -->")
                .unwrap_or_else(|| panic!("{}:{}: unclosed figures block", path.display(), i + 1));
            out.push((i + 1, cmd, lines[i + 1..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    out
}

/// What the binary prints today in the textbook column, default view and --wide.
fn current(wide: bool) -> BTreeMap<String, String> {
    let mut args = vec![
        "compare",
        "--size",
        "4K",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--methods",
        "all",
        "--color",
        "never",
    ];
    if wide {
        args.push("--wide");
    }
    let out = run_ok(&args, &[("COLUMNS", "400")]);
    let t = textbook_cells(&out.stdout);
    assert_eq!(t.len(), ALL_METHODS.len(), "{}", out.dump());
    t
}

#[test]
fn every_pasted_compare_table_shows_the_textbook_the_binary_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    if let Ok(dir) = std::fs::read_dir(root.join("docs")) {
        files.extend(
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md")),
        );
    }
    let (lesson, wide) = (current(false), current(true));
    let mut checked = 0;
    for f in &files {
        for (line, cmd, text) in blocks(f) {
            let want = if cmd.contains("--wide") {
                &wide
            } else {
                &lesson
            };
            for (method, cell) in textbook_cells(&text) {
                assert_eq!(
                    Some(&cell),
                    want.get(&method),
                    "{}:{line} (`{cmd}`): {method}'s textbook reads {cell:?}, the binary prints {:?}: rerun scripts/readme-figures.sh",
                    f.display(),
                    want.get(&method)
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "no compare table found in the figures blocks of {files:?}"
    );
}
