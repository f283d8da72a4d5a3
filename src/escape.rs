//! Text from outside copylab (thread and process names, paths, request lines, headers, reason
//! phrases, answer lines), made safe to print on a terminal or in a log line: one function,
//! [`escape`], used everywhere such text is printed. Imports nothing of the crate.
//!
//! Control characters — C0 (`\x00`–`\x1f`), DEL (`\x7f`), C1 (U+0080–U+009F) — become visible
//! escapes (`\x1b`, `\t`, `\n`, `\u{9b}`), so no escape sequence (ESC, CSI, OSC, a bell, a
//! carriage return that overwrites the line) reaches the terminal; so do the Unicode controls
//! that reorder what is shown (bidirectional overrides and isolates, `\u{202e}`). Bytes that are
//! not UTF-8 become `\xff`. Everything else, ordinary UTF-8 of any script (中文 included), is
//! left as it is. A backslash is left alone too, so escaping twice changes nothing: a string
//! already escaped (an error chain built from escaped parts) can be escaped again safely. JSON
//! output needs none of this (serde_json escapes control characters itself).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character written as a visible escape (see the module doc);
/// borrowed unchanged when there is nothing to escape. Takes `&str`, `String`, bytes (`&[u8]`,
/// `Vec<u8>`) and, through `as_bytes()`, OS strings and paths.
pub fn escape<T: AsRef<[u8]> + ?Sized>(text: &T) -> Cow<'_, str> {
    let bytes = text.as_ref();
    if let Ok(s) = std::str::from_utf8(bytes)
        && !s.chars().any(needs_escape)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// A path as [`escape`] prints it (its bytes, so a name that is not UTF-8 shows which bytes).
pub fn path(p: &std::path::Path) -> Cow<'_, str> {
    use std::os::unix::ffi::OsStrExt;
    escape(p.as_os_str().as_bytes())
}

/// Whether `c` must not reach a terminal as it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// The invisible characters that reorder the text around them (Unicode's bidirectional
/// embeddings, overrides and isolates, and the marks): text could then show as something else.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\t' => write!(out, "\\t"),
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(
            escape("\u{1b}]2;PWN\u{7}\u{1b}[2J"),
            "\\x1b]2;PWN\\x07\\x1b[2J"
        );
        assert_eq!(escape("a\tb\nc\rd\0e\u{7f}"), "a\\tb\\nc\\rd\\x00e\\x7f");
        // C1 controls (CSI as one character) and a bidirectional override.
        assert_eq!(escape("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
    }

    #[test]
    fn ordinary_text_is_left_alone_and_borrowed() {
        for s in [
            "java",
            "copylab-worker-1",
            "零拷贝 sendfile",
            "café ✓",
            "back\\slash",
            "",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_hex() {
        assert_eq!(escape(b"ok\xff\xfe\x1b"), "ok\\xff\\xfe\\x1b");
        assert_eq!(escape("中".as_bytes()), "中");
        // A multi-byte character cut short is invalid, the rest is kept.
        assert_eq!(escape(&b"\xe4\xb8x"[..]), "\\xe4\\xb8x");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        for s in ["\u{1b}[31mred", "tab\there", "\u{9b}", "bytes \\xff"] {
            let once = escape(s).into_owned();
            assert_eq!(escape(&once), once);
            assert!(!once.chars().any(needs_escape), "{once}");
        }
    }

    #[test]
    fn paths_are_escaped_by_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\x1b[2J\xff"));
        assert_eq!(path(p), "/tmp/a\\x1b[2J\\xff");
    }
}
