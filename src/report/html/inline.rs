//! inferno's flame graph SVG made fit to sit inside the HTML page: read with quick-xml and
//! written back without the XML declaration and doctype, without its script (the page runs
//! none) and its style sheet (the page's own applies), without the zoom and search controls
//! that need the script, with every id made unique on the page (`fg3-frames`) and the
//! references to them changed with it. Frames, titles (the hover text) and colours are
//! inferno's as rendered.

use anyhow::{Context, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

/// Text elements of inferno's interactive controls, left out with the script.
const CONTROLS: [&str; 4] = ["unzoom", "search", "matched", "details"];

/// `svg` rewritten for the page, its ids prefixed with `prefix`; a frame whose `<g>` has one of
/// `labels`' classes gets that label added to its hover text (`<title>`).
pub fn inline(svg: &str, prefix: &str, label: &str, labels: &[(String, &str)]) -> Result<String> {
    let mut reader = Reader::from_str(svg);
    let mut out = Writer::new(Vec::new());
    // Depth of an element being left out (with everything inside it), 0 when none.
    let mut skipping = 0usize;
    let mut root_done = false;
    // The label of the frame being written, until its title closes.
    let mut frame_label: Option<&str> = None;
    let mut in_title = false;
    loop {
        let ev = reader
            .read_event()
            .context("inferno's flame graph is not well-formed XML")?;
        if skipping > 0 {
            match ev {
                Event::Start(_) => skipping += 1,
                Event::End(_) => skipping -= 1,
                Event::Eof => break,
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Eof => break,
            Event::Decl(_) | Event::DocType(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) if skip(&e) => skipping = 1,
            Event::Empty(e) if skip(&e) => {}
            Event::Start(e) => {
                match e.name().as_ref() {
                    b"g" => frame_label = label_of_frame(&e, labels),
                    b"title" => in_title = true,
                    _ => {}
                }
                let e = rewrite(&e, prefix, !root_done, label)?;
                root_done = true;
                out.write_event(Event::Start(e))?;
            }
            Event::End(e) if in_title && e.name().as_ref() == b"title" => {
                in_title = false;
                if let Some(l) = frame_label.take() {
                    out.write_event(Event::Text(quick_xml::events::BytesText::new(&format!(
                        " · {l}"
                    ))))?;
                }
                out.write_event(Event::End(e))?;
            }
            Event::Empty(e) => {
                let e = rewrite(&e, prefix, false, label)?;
                out.write_event(Event::Empty(e))?;
            }
            other => out.write_event(other)?,
        }
    }
    String::from_utf8(out.into_inner()).context("the inlined flame graph is not UTF-8")
}

/// The label of a frame's `<g>`: the one `labels` gives its class, if any.
fn label_of_frame<'a>(e: &BytesStart<'_>, labels: &[(String, &'a str)]) -> Option<&'a str> {
    let class = e
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == b"class")?;
    labels
        .iter()
        .find(|(c, _)| c.as_bytes() == class.value.as_ref())
        .map(|(_, l)| *l)
}

/// The script, the style sheet and the controls are left out.
fn skip(e: &BytesStart<'_>) -> bool {
    match e.name().as_ref() {
        b"script" | b"style" => true,
        b"text" => e.attributes().flatten().any(|a| {
            a.key.as_ref() == b"id" && CONTROLS.iter().any(|c| a.value.as_ref() == c.as_bytes())
        }),
        _ => false,
    }
}

/// The element with its ids prefixed, `url(#x)` references with them, and on the root `svg`
/// no `onload`, no fixed size (the page sizes it), a class and an accessible name.
fn rewrite(
    e: &BytesStart<'_>,
    prefix: &str,
    root: bool,
    label: &str,
) -> Result<BytesStart<'static>> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut n = BytesStart::new(name);
    for a in e.attributes() {
        let a = a.context("inferno's flame graph has a malformed attribute")?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = String::from_utf8_lossy(a.value.as_ref()).into_owned();
        if root && matches!(key.as_str(), "onload" | "width" | "height") {
            continue;
        }
        let value = if key == "id" {
            format!("{prefix}-{value}")
        } else {
            value.replace("url(#", &format!("url(#{prefix}-"))
        };
        // The value is still escaped as it was read: push it unescaped-as-is.
        n.push_attribute(quick_xml::events::attributes::Attribute {
            key: quick_xml::name::QName(key.as_bytes()),
            value: std::borrow::Cow::Owned(value.into_bytes()),
        });
    }
    if root {
        n.push_attribute(("class", "flame"));
        n.push_attribute(("role", "img"));
        n.push_attribute(("aria-label", label));
    }
    Ok(n.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inferno_svg_inlines_without_script_and_with_unique_ids() {
        let lines = vec![
            ("m;t;entry_SYSCALL_64;_copy_to_iter".to_string(), 3),
            ("m;t;[user]".to_string(), 1),
        ];
        let cats = std::collections::HashMap::from([(
            "_copy_to_iter".to_string(),
            crate::counters::profile::Category::Copy,
        )]);
        let svg = crate::report::export::stacks::flame_svg(
            &lines,
            &cats,
            &["m".into(), "t".into()],
            "t <&> title",
            "sub",
        )
        .unwrap();
        assert!(svg.contains("<script"));
        let labels = vec![("cat-copy".to_string(), "copy")];
        let s = inline(&svg, "fg1", "a \"label\" & more", &labels).unwrap();
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("onload"));
        assert!(!s.contains("<?xml"));
        assert!(s.contains("id=\"fg1-frames\""));
        assert!(s.contains("url(#fg1-background)"));
        assert!(s.contains("class=\"cat-copy\""), "{s}");
        assert!(s.contains("_copy_to_iter"));
        assert!(s.contains("samples, 75.00%) · copy</title>"), "{s}");
        assert!(s.contains("t &lt;&amp;&gt; title"), "{s}");
        // Well-formed: read it back to the end.
        let mut r = Reader::from_str(&s);
        let mut depth = 0i32;
        loop {
            match r.read_event().unwrap() {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
    }
}
