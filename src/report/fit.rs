//! Tables that fit the screen they are printed on: each column says how much it matters, and
//! the least important are dropped, whole, until the table fits the width — a cell is never
//! wrapped, so a number is never split across lines. Drawn with box characters or plain ASCII.

use comfy_table::presets::{ASCII_FULL_CONDENSED, UTF8_FULL_CONDENSED};
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use unicode_width::UnicodeWidthStr;

use super::Screen;

/// How a column's cells are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How a column's cells are painted when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Plain,
    /// Bold cyan: the row's name.
    Name,
    /// Green: the headline figure.
    Figure,
}

/// `s` in the colour or weight of the SGR `code` (`"1"` bold, `"31"` red…) when the screen
/// takes colour, else as it is.
pub fn painted(s: &str, code: &str, screen: &Screen) -> String {
    if screen.color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// One column: its header (may hold a line break), its cells (each may hold line breaks), and
/// how much it matters: when the table is too wide, the column with the lowest `keep` goes
/// first.
pub struct Column {
    pub header: String,
    pub cells: Vec<String>,
    pub align: Align,
    pub paint: Paint,
    pub keep: u8,
}

impl Column {
    pub fn new(header: &str, keep: u8, align: Align) -> Column {
        Column {
            header: header.to_string(),
            cells: Vec::new(),
            align,
            paint: Paint::Plain,
            keep,
        }
    }

    pub fn paint(mut self, paint: Paint) -> Column {
        self.paint = paint;
        self
    }

    /// Display columns its widest line takes.
    fn width(&self) -> usize {
        std::iter::once(&self.header)
            .chain(&self.cells)
            .flat_map(|c| c.lines())
            .map(UnicodeWidthStr::width)
            .max()
            .unwrap_or(0)
    }
}

/// Display columns a table of columns this wide takes: one space of padding on each side of a
/// cell and one border character between and around them.
fn table_width(widths: &[usize]) -> usize {
    widths.iter().map(|w| w + 3).sum::<usize>() + 1
}

/// What [`fit`] made: the table, and the headers of the columns it left out.
pub struct Fitted {
    pub table: Table,
    pub dropped: Vec<String>,
}

impl Fitted {
    /// "left out to fit 80 columns: MiB/s, ctx sw" (None when every column fit), for a command
    /// without `--wide`.
    pub fn left_out(&self, width: usize) -> Option<String> {
        (!self.dropped.is_empty()).then(|| {
            format!(
                "left out to fit {width} columns: {}",
                self.dropped.join(", ")
            )
        })
    }

    /// [`Fitted::left_out`], and where to find the rest: "…; --wide shows every column."
    pub fn left_out_wide(&self, width: usize) -> Option<String> {
        self.left_out(width)
            .map(|s| format!("{s}; --wide shows every column."))
    }
}

/// Keep the columns that fit `screen.width` (all of them with `screen.wide`), most important
/// first to stay, and draw them in their given order.
pub fn fit(screen: &Screen, mut columns: Vec<Column>) -> Fitted {
    if !screen.unicode() {
        // Spelled out before measuring: "±" becomes "+/-", three columns wide.
        for c in &mut columns {
            c.header = super::text::to_ascii(&c.header);
            for cell in &mut c.cells {
                *cell = super::text::to_ascii(cell);
            }
        }
    }
    let mut dropped = Vec::new();
    if !screen.wide {
        loop {
            let widths: Vec<usize> = columns.iter().map(Column::width).collect();
            if table_width(&widths) <= screen.width || columns.len() <= 1 {
                break;
            }
            let Some(least) = columns
                .iter()
                .enumerate()
                .min_by_key(|(i, c)| (c.keep, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
            else {
                break;
            };
            dropped.push(columns.remove(least).header.replace('\n', " "));
        }
    }
    Fitted {
        table: draw(screen, &columns),
        dropped,
    }
}

/// The comfy table of `columns`, never wrapping a cell.
fn draw(screen: &Screen, columns: &[Column]) -> Table {
    let mut t = Table::new();
    t.load_style(if screen.unicode() {
        UTF8_FULL_CONDENSED
    } else {
        ASCII_FULL_CONDENSED
    });
    t.set_content_arrangement(ContentArrangement::Disabled);
    if screen.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(columns.iter().map(|c| {
        let cell = Cell::new(&c.header);
        if screen.color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    let rows = columns.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    for i in 0..rows {
        t.add_row(columns.iter().map(|c| {
            let text = c.cells.get(i).map_or("", String::as_str);
            let mut cell = Cell::new(text).set_alignment(match c.align {
                Align::Left => CellAlignment::Left,
                Align::Right => CellAlignment::Right,
            });
            if screen.color {
                cell = match c.paint {
                    Paint::Plain => cell,
                    Paint::Name => cell.add_attribute(Attribute::Bold).fg(Color::Cyan),
                    Paint::Figure => cell.fg(Color::Green),
                };
            }
            cell
        }));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::Charset;

    fn screen(width: usize, wide: bool) -> Screen {
        Screen {
            color: false,
            width,
            wide,
            charset: Charset::Unicode,
        }
    }

    fn columns() -> Vec<Column> {
        let mut name = Column::new("name", 9, Align::Left);
        name.cells = vec!["sendfile".into(), "read-write".into()];
        let mut big = Column::new("a rather wide column", 1, Align::Right);
        big.cells = vec!["1".into(), "22".into()];
        let mut lesson = Column::new("copy\nms/GiB", 8, Align::Right);
        lesson.cells = vec!["0.00 | 116".into(), "180 | 100".into()];
        vec![name, big, lesson]
    }

    #[test]
    fn drops_the_least_important_column_first_and_never_wraps() {
        let all = fit(&screen(200, false), columns());
        assert!(all.dropped.is_empty());
        let narrow = fit(&screen(32, false), columns());
        assert_eq!(narrow.dropped, ["a rather wide column"]);
        let text = narrow.table.to_string();
        for l in text.lines() {
            assert!(l.width() <= 32, "{l}");
        }
        assert!(text.contains("180 | 100"), "{text}");
        // --wide keeps everything, however wide.
        let wide = fit(&screen(32, true), columns());
        assert!(wide.dropped.is_empty());
        assert!(wide.table.to_string().contains("a rather wide column"));
    }

    #[test]
    fn ascii_draws_no_box_characters() {
        let mut s = screen(200, false);
        s.charset = Charset::Ascii;
        let text = fit(&s, columns()).table.to_string();
        assert!(text.is_ascii(), "{text}");
    }
}
