//! Text for people in more than one language: the languages copylab speaks, and wrapping that
//! keeps Chinese line-break rules (used by explain and quiz alike).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Widest line of explain's texts and diagrams, and quiz's, in display columns.
pub const MAX_WIDTH: usize = 100;

/// The languages copylab's texts are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// From LC_ALL, LC_MESSAGES or LANG (the first set): Chinese when it starts with `zh`.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var)
                && !v.is_empty()
            {
                return if v.starts_with("zh") {
                    Lang::Zh
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }
}

/// Full-width punctuation a line may not start with (it closes or follows what precedes it).
const NO_LINE_START: &str = "，。、；：？！）》」』”’…";
/// Full-width punctuation a line may not end with (it opens what follows).
const NO_LINE_END: &str = "（《「『“‘";

/// Wrap `text` to `width` display columns, indenting continuation lines by `indent` spaces.
/// Lines break at spaces (which are dropped) or beside a wide (CJK) character, never inside a
/// word, never before a closing full-width mark nor after an opening one (the kinsoku rules a
/// Chinese reader expects).
pub fn wrap(text: &str, width: usize, first: &str, indent: usize) -> String {
    // Units that may not be split: (text, spaces before it).
    let mut units: Vec<(String, usize)> = Vec::new();
    let mut space = 0usize;
    let mut glue_next = false;
    for ch in text.chars() {
        if ch == ' ' {
            space += 1;
            continue;
        }
        let wide = ch.width().unwrap_or(0) == 2;
        let extend = match units.last() {
            None => false,
            Some(_) if space > 0 => false,
            Some(_) if glue_next || NO_LINE_START.contains(ch) => true,
            Some((last, _)) => {
                let last_wide = last.chars().last().is_some_and(|c| c.width() == Some(2));
                !wide && !last_wide
            }
        };
        match units.last_mut() {
            Some((u, _)) if extend => u.push(ch),
            _ => units.push((ch.to_string(), space)),
        }
        glue_next = NO_LINE_END.contains(ch);
        space = 0;
    }
    let mut out = String::new();
    let mut line = first.to_string();
    let mut w = first.width();
    let mut empty = true;
    for (u, spaces) in units {
        let uw = u.width();
        let sep = if empty { 0 } else { spaces };
        if !empty && w + sep + uw > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            w = indent;
        } else {
            line.push_str(&" ".repeat(sep));
            w += sep;
        }
        line.push_str(&u);
        w += uw;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}
