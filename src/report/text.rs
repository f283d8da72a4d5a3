//! Text for people in more than one language and on any screen: the languages copylab speaks,
//! wrapping that keeps Chinese line-break rules, the width of the screen output is drawn for,
//! and whether it can show box-drawing characters.

use std::io::IsTerminal;
use std::os::fd::{AsRawFd, BorrowedFd};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Width assumed when neither `COLUMNS` nor a terminal says: the classic terminal.
pub const DEFAULT_WIDTH: usize = 80;
/// Narrowest width copylab lays out for; anything narrower is drawn at this width.
pub const MIN_WIDTH: usize = 60;

/// The width, in display columns, output written to `fd` is laid out for: `COLUMNS` when set
/// to a number (so `COLUMNS=100 copylab … | less` lays out for 100), else the terminal `fd` is
/// on, else (a file, a pipe, or `None`) [`DEFAULT_WIDTH`]. Never below [`MIN_WIDTH`].
pub fn width_on(fd: Option<BorrowedFd<'_>>) -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    from_env
        .or_else(|| fd.and_then(terminal_width))
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The width of the terminal `fd` is on (TIOCGWINSZ), if it is one.
fn terminal_width(fd: BorrowedFd<'_>) -> Option<usize> {
    if !fd.is_terminal() {
        return None;
    }
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `ws`, which lives for the call; `fd` is an
    // open descriptor (borrowed for the call) on a terminal (checked above).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
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
    spell(text, Unnamed::Question)
}

/// `text` with copylab's drawing characters and symbols spelled out in ASCII as [`to_ascii`]
/// does, but words kept: Chinese stays Chinese for a reader who asked for it (`--lang zh
/// --style ascii`: a font without box drawing, not a terminal without Unicode).
pub fn to_plain(text: &str) -> String {
    spell(text, Unnamed::Kept)
}

/// `text` for a screen without box drawing, in `lang`: all ASCII in English, symbols spelled
/// out and words kept in Chinese.
pub fn plain(text: &str, lang: Lang) -> String {
    match lang {
        Lang::En => to_ascii(text),
        Lang::Zh => to_plain(text),
    }
}

/// What [`spell`] makes of a character its table does not name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unnamed {
    /// `?`: the text must be ASCII.
    Question,
    /// The character itself: words stay in their language.
    Kept,
}

/// The one table behind [`to_ascii`] and [`to_plain`]; `unnamed` says what becomes of a
/// character it does not name.
fn spell(text: &str, unnamed: Unnamed) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let s: &str = match c {
            c if c.is_ascii() || c == NBSP => {
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
            _ if unnamed == Unnamed::Question => "?",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(s);
    }
    out
}

/// A space [`wrap`] never breaks a line at, printed as a plain space: it joins a figure to its
/// unit ("6 MiB", "2 calls") so that a line never ends between them. See [`keep_figures`].
pub const NBSP: char = '\u{a0}';

/// `text` with each space that follows a digit and precedes a letter or `%` made a [`NBSP`]:
/// wrapped, "3 MiB per call" may break before "per", never between "3" and "MiB".
pub fn keep_figures(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let joins = c == ' '
                && i > 0
                && chars[i - 1].is_ascii_digit()
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_alphabetic() || *n == '%');
            if joins { NBSP } else { c }
        })
        .collect()
}

/// How far [`wrap_values`] indents a line's continuation.
pub const INDENT: usize = 4;

/// `parts` joined by " · " and wrapped to `width` between them: the "·" ends a line, the next
/// value starts the indented continuation. A value is never split, unless it is wider than a
/// line by itself (a long sentence): then it wraps at its spaces, figures kept with their units.
/// Lines joined by `\n`, no newline at the end.
pub fn wrap_values(parts: &[String], width: usize) -> String {
    let glued: Vec<String> = parts
        .iter()
        .map(|p| {
            if p.width() + INDENT + 2 <= width {
                p.replace(' ', &NBSP.to_string())
            } else {
                keep_figures(p)
            }
        })
        .collect();
    let joined = glued.join(&format!("{NBSP}· "));
    wrap(&joined, width, "", INDENT).trim_end().to_string()
}

/// Full-width punctuation a line may not start with (it closes or follows what precedes it).
const NO_LINE_START: &str = "，。、；：？！）》」』”’…";
/// Full-width punctuation a line may not end with (it opens what follows).
const NO_LINE_END: &str = "（《「『“‘";

/// Wrap `text` to `width` display columns, indenting continuation lines by `indent` spaces.
/// Lines break at spaces (which are dropped) or beside a wide (CJK) character, never inside a
/// word (but after a slash of a path too long for any line), never at a [`NBSP`] (printed as a
/// space), never before a closing full-width mark nor after an opening one (the kinsoku rules a
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
    out.replace(NBSP, " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_stays_with_its_unit_when_wrapped() {
        let text = keep_figures("sendfile, 2 calls, 3 MiB per call, 45% of it");
        assert!(
            text.contains("3\u{a0}MiB") && text.contains("45%"),
            "{text}"
        );
        for width in 10..40 {
            let w = wrap(&text, width, "", 2);
            assert!(!w.contains(NBSP), "{w:?}");
            for l in w.lines() {
                assert!(!l.trim_end().ends_with(|c: char| c.is_ascii_digit()), "{w}");
            }
            assert!(w.lines().any(|l| l.contains("3 MiB")), "{w}");
        }
        // Plain ASCII keeps the join too.
        assert_eq!(to_ascii(&text), text);
    }
}
