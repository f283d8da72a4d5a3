//! Text for people in more than one language and on any screen: the languages copylab speaks,
//! wrapping that keeps Chinese line-break rules, the width of the screen output is drawn for,
//! and whether it can show box-drawing characters.

use std::io::IsTerminal;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Width assumed when neither `COLUMNS` nor a terminal says: the classic terminal.
pub const DEFAULT_WIDTH: usize = 80;
/// Narrowest width copylab lays out for; anything narrower is drawn at this width.
pub const MIN_WIDTH: usize = 60;

/// The width, in display columns, human output is laid out for: `COLUMNS` when set to a
/// number (so `COLUMNS=100 copylab … | less` lays out for 100), else the terminal stdout is
/// on, else [`DEFAULT_WIDTH`]. Never below [`MIN_WIDTH`].
pub fn width() -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    from_env
        .or_else(terminal_width)
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The width of the terminal stdout is on (TIOCGWINSZ), if it is one.
fn terminal_width() -> Option<usize> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `ws`, which lives for the call; fd 1 is
    // stdout, a terminal (checked above).
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// The characters tables and bars are drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Box drawing and block elements (─ │ ┌ █ ▓).
    Unicode,
    /// Plain ASCII (- | + # =), for terminals and fonts without them.
    Ascii,
}

impl Charset {
    /// ASCII when the locale names a character set other than UTF-8 (`LANG=C`,
    /// `LC_ALL=en_US.ISO-8859-1`): the first of LC_ALL, LC_CTYPE and LANG that is set decides.
    /// No locale set at all: Unicode (terminals today are UTF-8; `--style ascii` says otherwise).
    pub fn from_env() -> Charset {
        for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
            if let Ok(v) = std::env::var(var)
                && !v.is_empty()
            {
                let v = v.to_ascii_lowercase();
                return if v.contains("utf-8") || v.contains("utf8") {
                    Charset::Unicode
                } else {
                    Charset::Ascii
                };
            }
        }
        Charset::Unicode
    }
}

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

/// `text` in plain ASCII, for a terminal whose locale is not UTF-8: the punctuation copylab's
/// texts use spelled out (– → -, × → x, ≈ → ~, µ → u, …), box and block characters as their
/// ASCII look-alikes, anything else as `?`.
pub fn to_ascii(text: &str) -> String {
    spell(text, true)
}

/// `text` with copylab's drawing characters and symbols spelled out in ASCII as [`to_ascii`]
/// does, but words kept: Chinese stays Chinese for a reader who asked for it (`--lang zh
/// --style ascii`: a font without box drawing, not a terminal without Unicode).
pub fn to_plain(text: &str) -> String {
    spell(text, false)
}

/// `text` for a screen without box drawing, in `lang`: all ASCII in English, symbols spelled
/// out and words kept in Chinese.
pub fn plain(text: &str, lang: Lang) -> String {
    match lang {
        Lang::En => to_ascii(text),
        Lang::Zh => to_plain(text),
    }
}

/// The one table behind [`to_ascii`] and [`to_plain`]; `unknown_as_question` says what becomes
/// of a character it does not name.
fn spell(text: &str, unknown_as_question: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let s: &str = match c {
            c if c.is_ascii() => {
                out.push(c);
                continue;
            }
            // ① … ⑳: the lesson's step numbers.
            '\u{2460}'..='\u{2473}' => {
                out.push_str(&format!("({})", c as u32 - 0x2460 + 1));
                continue;
            }
            '–' | '—' | '−' | '─' | '━' | '╌' | '┈' => "-",
            '│' | '┆' | '┃' | '║' => "|",
            '═' => "=",
            '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╞' | '╡' | '╪' | '┿' | '╔'
            | '╗' | '╚' | '╝' => "+",
            '▲' => "^",
            '▼' => "v",
            '◀' => "<",
            '•' => "*",
            '·' => "-",
            '×' => "x",
            '≈' => "~=",
            '±' => "+/-",
            'µ' => "u",
            '÷' => "/",
            '↔' => "<->",
            '→' => "->",
            '←' => "<-",
            '▶' => ">",
            '…' => "...",
            '≤' => "<=",
            '≥' => ">=",
            '“' | '”' => "\"",
            '‘' | '’' => "'",
            '█' | '▉' | '▊' | '▋' | '▌' | '▍' | '▎' | '▏' => "#",
            '▞' => "%",
            '▓' => "=",
            '▒' => ":",
            '░' => ".",
            _ if unknown_as_question => "?",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(s);
    }
    out
}

/// Full-width punctuation a line may not start with (it closes or follows what precedes it).
const NO_LINE_START: &str = "，。、；：？！）》」』”’…";
/// Full-width punctuation a line may not end with (it opens what follows).
const NO_LINE_END: &str = "（《「『“‘";

/// Wrap `text` to `width` display columns, indenting continuation lines by `indent` spaces.
/// Lines break at spaces (which are dropped) or beside a wide (CJK) character, never inside a
/// word (but after a slash of a path too long for any line), never before a closing full-width
/// mark nor after an opening one (the kinsoku rules a Chinese reader expects).
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
    // A path longer than a whole line (a source file's) may break after one of its slashes.
    let room = width.saturating_sub(indent);
    let units: Vec<(String, usize)> = units
        .into_iter()
        .flat_map(|(u, spaces)| {
            if u.width() <= room || !u.contains('/') {
                return vec![(u, spaces)];
            }
            u.split_inclusive('/')
                .enumerate()
                .map(|(i, part)| (part.to_string(), if i == 0 { spaces } else { 0 }))
                .collect()
        })
        .collect();
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
