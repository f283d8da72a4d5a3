//! `--export-stacks DIR`: every sampled callchain of a method's thread as folded stacks (the
//! format of FlameGraph's `stackcollapse-*` and `inferno-collapse-*`: `root;…;leaf count`, one
//! line per distinct stack, root first) and the same stacks as a flame graph SVG rendered by
//! inferno, each frame coloured by copylab's category. One pair of files per method × thread
//! (compare, serve) or per traced thread (trace).
//!
//! The two root frames name what was sampled: `sendfile;receiver;…` (method, thread) for
//! compare and serve, `nginx-4121;nginx-4122;…` (process, thread, each with its id) for trace.
//! Kernel frames are kallsyms names with compiler suffixes stripped; user-space samples are one
//! `[user]` frame (copylab records kernel callchains only).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};

use crate::counters::profile::Category;
use crate::counters::profile::kallsyms::{self, Kallsyms};
use crate::counters::profile::stacks::{self, FrameId, Stacks};

/// One graph's stacks with their root frames and words.
pub struct Graph<'a> {
    /// Root frames, outermost first (`["sendfile", "receiver"]`).
    pub root: Vec<String>,
    pub stacks: &'a Stacks,
    /// The flame graph's title and the line under it.
    pub title: String,
    pub subtitle: String,
}

/// A frame name from outside copylab (a thread or process name) made safe for the folded
/// format: `;` separates frames and whitespace ends them (a name ending in a number would read
/// as a second count), so both become `_`, as do control characters.
pub fn safe_frame(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c == ';' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// A name from outside made safe for a file name: ASCII letters, digits, `-` and `_` only.
pub fn safe_file_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// The stacks with every frame whose subtree holds fewer than `min_share` of all samples
/// merged into its caller (the stack ends at the caller, which keeps the samples): what the
/// HTML report draws, small enough for a page. `min_share` 0 keeps every stack as it is.
pub fn thinned(s: &Stacks, min_share: f64) -> Vec<(Vec<FrameId>, u64)> {
    let total = s.samples();
    let min = (total as f64 * min_share).ceil() as u64;
    if min <= 1 {
        return s.iter().map(|(k, n)| (k.to_vec(), n)).collect();
    }
    // Samples under every prefix.
    let mut under: HashMap<&[FrameId], u64> = HashMap::new();
    for (k, n) in s.iter() {
        for d in 1..=k.len() {
            *under.entry(&k[..d]).or_insert(0) += n;
        }
    }
    let mut out: HashMap<Vec<FrameId>, u64> = HashMap::new();
    for (k, n) in s.iter() {
        let keep = (1..=k.len())
            .take_while(|d| under.get(&k[..*d]).copied().unwrap_or(0) >= min)
            .last()
            .unwrap_or(0);
        *out.entry(k[..keep].to_vec()).or_insert(0) += n;
    }
    out.into_iter().collect()
}

/// Folded lines (`root;…;leaf count`), sorted as stackcollapse sorts them.
pub fn folded(k: &Kallsyms, root: &[String], stacks: &[(Vec<FrameId>, u64)]) -> Vec<(String, u64)> {
    let mut lines: Vec<(String, u64)> = stacks
        .iter()
        .map(|(frames, n)| {
            let mut s = root.join(";");
            for f in frames {
                s.push(';');
                s.push_str(stacks::frame_name(k, *f));
            }
            (s, *n)
        })
        .collect();
    lines.sort();
    lines
}

/// The folded lines as the file holds them.
pub fn folded_text(lines: &[(String, u64)]) -> String {
    let mut out = String::new();
    for (s, n) in lines {
        let _ = writeln!(out, "{s} {n}");
    }
    out
}

/// Each frame name's category for colouring: the table's, or for a function the table does not
/// name (a spin lock, RCU) the category of its nearest caller with one other than syscall —
/// the rule that puts an unnamed leaf's samples in a category — by most samples where it
/// differs between places. Root frames have none.
pub fn name_categories(k: &Kallsyms, stacks: &[(Vec<FrameId>, u64)]) -> HashMap<String, Category> {
    let mut own: HashMap<FrameId, Option<Category>> = HashMap::new();
    let mut votes: HashMap<(FrameId, Category), u64> = HashMap::new();
    for (frames, n) in stacks {
        let mut inherited = None;
        for f in frames {
            let c = *own
                .entry(*f)
                .or_insert_with(|| stacks::frame_category(stacks::frame_name(k, *f)));
            *votes
                .entry((*f, passed_down(c, &mut inherited)))
                .or_insert(0) += n;
        }
    }
    let mut best: HashMap<FrameId, (Category, u64)> = HashMap::new();
    for ((f, c), n) in votes {
        let e = best.entry(f).or_insert((c, 0));
        if n > e.1 || (n == e.1 && c < e.0) {
            *e = (c, n);
        }
    }
    best.into_iter()
        .map(|(f, (c, _))| (stacks::frame_name(k, f).to_string(), c))
        .collect()
}

/// A frame's category on the way down its stack, root first: its own `c` (which, unless it is
/// syscall, the frames below it inherit), else what it inherits from the frames above it, else
/// other.
fn passed_down(c: Option<Category>, inherited: &mut Option<Category>) -> Category {
    match c {
        Some(c) => {
            if c != Category::Syscall {
                *inherited = Some(c);
            }
            c
        }
        None => inherited.unwrap_or(Category::Other),
    }
}

/// Each category's colour (Okabe–Ito, readable by the colour-blind; the HTML report adds a
/// pattern per category as well), as RGB.
pub fn colour(c: Category) -> (u8, u8, u8) {
    match c {
        Category::Copy => (0xD5, 0x5E, 0x00),
        Category::Network => (0x00, 0x72, 0xB2),
        Category::PageCache => (0x00, 0x9E, 0x73),
        Category::Memory => (0xF0, 0xE4, 0x42),
        Category::Scheduler => (0xCC, 0x79, 0xA7),
        Category::Softirq => (0xE6, 0x9F, 0x00),
        Category::Syscall => (0x56, 0xB4, 0xE9),
        Category::User => (0x99, 0x99, 0x99),
        Category::Other => (0xDD, 0xDD, 0xDD),
    }
}

/// The colour of root frames (method, thread, inferno's `all`).
const ROOT_COLOUR: (u8, u8, u8) = (0xF4, 0xF4, 0xF4);

/// The CSS class a frame of this category carries in the SVG (`cat-page_cache`).
pub fn class_of(c: Category) -> String {
    format!("cat-{}", c.name())
}

/// Render `lines` (from [`folded`]) as a flame graph SVG with inferno: frames coloured by
/// `cats` through inferno's palette map, each frame's `<g>` carrying its category as a class
/// (inferno's per-function attributes). Interactive (zoom, search) when opened on its own.
pub fn flame_svg(
    lines: &[(String, u64)],
    cats: &HashMap<String, Category>,
    root: &[String],
    title: &str,
    subtitle: &str,
) -> Result<String> {
    use inferno::flamegraph::{self, FuncFrameAttrsMap, Options, color::PaletteMap};
    let rgb = |(r, g, b): (u8, u8, u8)| flamegraph::color::Color { r, g, b };
    let mut palette = PaletteMap::default();
    let mut attrs = String::new();
    for (name, c) in cats {
        palette.insert(name, rgb(colour(*c)));
        let _ = writeln!(attrs, "{name}\tclass={}", class_of(*c));
    }
    for r in root.iter().map(String::as_str).chain([""]) {
        palette.insert(r, rgb(ROOT_COLOUR));
        if !r.is_empty() {
            let _ = writeln!(attrs, "{r}\tclass=root");
        }
    }
    let mut opt = Options::default();
    opt.title = title.to_string();
    opt.subtitle = Some(subtitle.to_string());
    opt.count_name = "samples".into();
    opt.image_width = Some(1200);
    opt.font_type = "sans-serif".into();
    opt.bgcolors = Some(flamegraph::color::BackgroundColor::Flat(rgb((
        0xFF, 0xFF, 0xFF,
    ))));
    opt.palette_map = Some(&mut palette);
    opt.func_frameattrs = FuncFrameAttrsMap::from_reader(attrs.as_bytes())
        .context("cannot set the flame graph's frame classes")?;
    let text: Vec<String> = lines.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opt, text.iter().map(String::as_str), &mut out)
        .context("inferno could not render the flame graph")?;
    String::from_utf8(out).context("inferno wrote a flame graph that is not UTF-8")
}

/// The kernel symbols the stacks' frames index (loaded already when anything was sampled).
pub fn symbols() -> Result<&'static Kallsyms> {
    kallsyms::get().map_err(|e| anyhow::anyhow!("{} ({})", e.reason, e.fix))
}

/// Write `<name>.folded` and `<name>.svg` for each graph into `dir`.
pub fn write_all(dir: &crate::outfile::OutDir, graphs: &[(String, Graph<'_>)]) -> Result<()> {
    if graphs.is_empty() {
        return Ok(());
    }
    let k = symbols()?;
    for (name, g) in graphs {
        let all = thinned(g.stacks, 0.0);
        let lines = folded(k, &g.root, &all);
        dir.write(&format!("{name}.folded"), folded_text(&lines).as_bytes())?;
        let cats = name_categories(k, &all);
        let svg = flame_svg(&lines, &cats, &g.root, &g.title, &g.subtitle)?;
        dir.write(&format!("{name}.svg"), svg.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_merges_small_subtrees_into_their_caller() {
        let mut s = Stacks::default();
        s.add_root_first(&[1, 2, 3], 90);
        s.add_root_first(&[1, 2, 4], 9);
        s.add_root_first(&[1, 5], 1);
        let mut t = thinned(&s, 0.1);
        t.sort();
        assert_eq!(t, vec![(vec![1], 1), (vec![1, 2], 9), (vec![1, 2, 3], 90)]);
        assert_eq!(t.iter().map(|(_, n)| n).sum::<u64>(), 100);
        assert_eq!(thinned(&s, 0.0).len(), 3);
    }

    #[test]
    fn outside_names_are_made_safe() {
        assert_eq!(safe_frame("pool-1 thread;2\n"), "pool-1_thread_2_");
        assert_eq!(safe_frame(""), "_");
        assert_eq!(safe_file_part("../etc/passwd"), "___etc_passwd");
    }
}
