//! Drawing a path's [`Model`] as a terminal picture: user space, kernel space and hardware as
//! three bands, each place a box, each step an arrow numbered and marked with its kind, each
//! syscall written where it crosses the user/kernel line. Plain text, ≤ 100 columns, readable
//! without colour; wide (CJK) characters are measured, not counted.

use unicode_width::UnicodeWidthStr;

use super::Lang;
use crate::method::{Band, Model, Place, Step, StepKind};
use crate::report::lesson::{self, Call, Msg};

use crate::report::text::MAX_WIDTH;

const MARGIN: usize = 16;
const COLUMN: usize = 28;
// Rows of the canvas.
const USER_BOX: usize = 1;
const BOUNDARY: usize = 4;
const KERNEL_BOX: usize = 5;
const HW_LINE: usize = 8;
const HW_BOX: usize = 9;
const ROWS: usize = 12;

/// A grid of terminal cells; a wide character fills its cell and blanks the next.
struct Canvas {
    cells: Vec<Vec<Option<String>>>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            cells: vec![vec![Some(" ".to_string()); MAX_WIDTH]; ROWS],
        }
    }

    fn put(&mut self, x: usize, y: usize, text: &str) {
        let mut x = x;
        for ch in text.chars() {
            let s = ch.to_string();
            let w = s.width().max(1);
            if x + w > MAX_WIDTH {
                return;
            }
            self.cells[y][x] = Some(s);
            for i in 1..w {
                self.cells[y][x + i] = None;
            }
            x += w;
        }
    }

    fn hline(&mut self, x0: usize, x1: usize, y: usize, ch: &str) {
        for x in x0..x1 {
            self.put(x, y, ch);
        }
    }

    fn render(&self) -> Vec<String> {
        self.cells
            .iter()
            .map(|row| {
                row.iter()
                    .flatten()
                    .cloned()
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }
}

/// The circled step number: ①…⑩.
pub fn circled(n: usize) -> char {
    char::from_u32(0x2460 + (n as u32).saturating_sub(1).min(19)).unwrap_or('#')
}

/// The short tag of a step kind, drawn on the arrow (the legend explains it).
pub fn tag(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Dma => "DMA",
        StepKind::Cpu => "CPU",
        StepKind::CpuUnlessSg => "CPU*",
        StepKind::Reference => "ref",
        StepKind::Map => "map",
        StepKind::Pin => "pin",
    }
}

fn draw_box(c: &mut Canvas, x: usize, y: usize, name: &str) -> usize {
    let w = name.width() + 4;
    c.put(x, y, &format!("┌{}┐", "─".repeat(w - 2)));
    c.put(x, y + 1, &format!("│ {name} │"));
    c.put(x, y + 2, &format!("└{}┘", "─".repeat(w - 2)));
    w
}

/// Where the boxes of one diagram are: the kernel and user places in order of first
/// appearance, one column each, and each box's width.
struct Columns {
    places: Vec<Place>,
    column: usize,
    widths: Vec<usize>,
}

impl Columns {
    fn of(&self, p: Place) -> Option<usize> {
        self.places.iter().position(|q| *q == p)
    }

    fn x(&self, i: usize) -> usize {
        MARGIN + i * self.column
    }
}

/// The row of a band's boxes (their middle line).
fn row_of(b: Band) -> usize {
    if b == Band::User {
        USER_BOX + 1
    } else {
        KERNEL_BOX + 1
    }
}

/// Draw `model` with the words of `lang`. Returns the lines (no trailing newline).
pub fn draw(model: &Model, lang: Lang) -> Vec<String> {
    let place = |p: Place| lesson::say(lang, &Msg::Place(p));
    let band = |b: Band| lesson::say(lang, &Msg::Band(b));
    let mut c = Canvas::new();
    // Band labels and lines.
    c.put(1, USER_BOX + 1, &band(Band::User));
    c.put(1, KERNEL_BOX + 1, &band(Band::Kernel));
    c.put(1, HW_BOX + 1, &band(Band::Hardware));
    c.hline(0, MAX_WIDTH - 2, BOUNDARY, "━");
    c.hline(0, MAX_WIDTH - 2, HW_LINE, "─");

    // Columns: kernel and user places in order of first appearance; hardware places sit under
    // the kernel place they feed or drain.
    let mut places: Vec<Place> = Vec::new();
    for s in model.steps {
        for p in [s.from, s.to] {
            if p.band() != Band::Hardware && !places.contains(&p) {
                places.push(p);
            }
        }
    }
    // Four places (vmsplice) squeeze the columns so the last box still fits the width.
    let last_width = places.last().map_or(0, |p| place(*p).width() + 4);
    let column = match places.len() {
        0 | 1 => COLUMN,
        n => COLUMN.min((MAX_WIDTH - 1 - MARGIN - last_width) / (n - 1)),
    };
    let mut cols = Columns {
        widths: vec![0usize; places.len()],
        places,
        column,
    };
    for i in 0..cols.places.len() {
        let p = cols.places[i];
        let y = if p.band() == Band::User {
            USER_BOX
        } else {
            KERNEL_BOX
        };
        cols.widths[i] = draw_box(&mut c, cols.x(i), y, &place(p));
    }

    for (n, s) in model.steps.iter().enumerate() {
        let label = format!("{}{}", circled(n + 1), tag(s.kind));
        if s.from.band() == Band::Hardware || s.to.band() == Band::Hardware {
            draw_device_step(&mut c, &cols, s, &label, &place);
        } else {
            draw_memory_step(&mut c, &cols, s, &label);
        }
    }
    c.render()
}

/// Up from the disk into the kernel, or down from the kernel to the NIC.
fn draw_device_step(
    c: &mut Canvas,
    cols: &Columns,
    s: &Step,
    label: &str,
    place: &dyn Fn(Place) -> String,
) {
    let (hw, other, up) = if s.from.band() == Band::Hardware {
        (s.from, s.to, true)
    } else {
        (s.to, s.from, false)
    };
    let Some(i) = cols.of(other) else { return };
    let mid = cols.x(i) + cols.widths[i] / 2;
    c.put(mid, HW_LINE, if up { "▲" } else { "▼" });
    c.put(mid + 2, HW_LINE, &format!(" {label} "));
    let name = format!("[ {} ]", place(hw));
    c.put(mid.saturating_sub(name.width() / 2), HW_BOX + 1, &name);
}

/// A step between two boxes: along one band, or across the user/kernel boundary, with the
/// syscall written where it crosses.
fn draw_memory_step(c: &mut Canvas, cols: &Columns, s: &Step, label: &str) {
    let (Some(i), Some(j)) = (cols.of(s.from), cols.of(s.to)) else {
        return;
    };
    let (lo, hi) = (i.min(j), i.max(j));
    let x0 = cols.x(lo) + cols.widths[lo];
    let x1 = cols.x(hi);
    // An io_uring operation is not a syscall: it rides on io_uring_enter.
    let call = s
        .syscall
        .map(|c| format!(" {} ", Call::of(c)))
        .unwrap_or_default();
    let (from_band, to_band) = (s.from.band(), s.to.band());
    if from_band == to_band {
        // Along one band: ──①ref──▶, the syscall written on the boundary above.
        let y = row_of(from_band);
        c.hline(x0, x1, y, "─");
        c.put(x0 + 1, y, label);
        if i < j {
            c.put(x1 - 1, y, "▶");
        } else {
            c.put(x0, y, "◀");
        }
        if !call.is_empty() {
            c.put((x0 + x1) / 2 - call.width() / 2, BOUNDARY, &call);
        }
        return;
    }
    // Across the boundary: right from the source, along a vertical that crosses the line where
    // the syscall is written, right into the target.
    let vx = x0 + (x1 - x0) / 2;
    let (ys, yt) = (row_of(from_band), row_of(to_band));
    let dst_side = if i < j { x1 } else { x0 };
    c.hline(x0, vx, ys, "─");
    c.hline(vx + 1, x1, yt, "─");
    for y in ys.min(yt)..=ys.max(yt) {
        c.put(vx, y, "│");
    }
    c.put(vx, ys, if ys < yt { "┐" } else { "┘" });
    c.put(vx, yt, if ys < yt { "└" } else { "┌" });
    c.put(dst_side - 1, yt, "▶");
    // The kind label sits in the band the source column leaves empty.
    let label_row = if from_band == Band::Kernel {
        USER_BOX + 2
    } else {
        KERNEL_BOX
    };
    c.put(vx.saturating_sub(label.width() + 1), label_row, label);
    if !call.is_empty() {
        c.put(vx.saturating_sub(call.width() / 2), BOUNDARY, &call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circled_numbers() {
        assert_eq!(circled(1), '①');
        assert_eq!(circled(4), '④');
    }
}
