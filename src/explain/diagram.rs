//! Drawing a path as a terminal picture, for any width: the serving thread's [`Model`] on top
//! (user space, kernel space, hardware), and below the hardware the receiving thread's — the
//! wire (or loopback) into its socket buffer and its way out of it, the copy the textbook leaves
//! out. Each place is a box, each step an arrow numbered and marked with its kind, each syscall
//! written where it crosses the user/kernel line, and a run's [`Figures`] written beside the
//! arrows they measure. [`draw`] returns the lines for a given width and figures, so any output
//! (the terminal, an HTML report) can reuse it. Unicode box drawing or plain ASCII; wide (CJK)
//! characters are measured, not counted; no line is wider than asked.

use unicode_width::UnicodeWidthStr;

use super::Lang;
use crate::method::Call as ModelCall;
use crate::method::{Band, Model, Place, Step, StepKind};
use crate::report::lesson::{self, CallName, Msg, Side};

/// What one picture shows: a sending path above a receiving path, or either alone.
#[derive(Clone, Copy)]
pub struct Picture<'a> {
    pub sender: Option<&'a Model>,
    pub receiver: Option<&'a Model>,
}

/// A run's figures to write on the picture, already in words.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Beside each step of the sender's model, in its order (None: nothing for that step).
    pub sender: Vec<Option<String>>,
    /// Beside each step of the receiver's model.
    pub receiver: Vec<Option<String>>,
    /// After a call on the user/kernel line: (the model's call, e.g. read, what follows it,
    /// e.g. "×64").
    pub calls: Vec<(ModelCall, String)>,
}

impl Figures {
    fn call(&self, call: ModelCall) -> Option<&str> {
        self.calls
            .iter()
            .find(|(c, _)| *c == call)
            .map(|(_, f)| f.as_str())
    }
}

/// The number of a step: ① … ⑳, or (1) … in ASCII.
pub fn number(n: usize, unicode: bool) -> String {
    if unicode {
        circled(n).to_string()
    } else {
        format!("({n})")
    }
}

/// The circled step number: ①…⑳.
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
        StepKind::Drop => "drop",
    }
}

/// The characters a picture is drawn with.
struct Glyphs {
    unicode: bool,
    heavy: &'static str,
    light: &'static str,
    wire: &'static str,
    right: &'static str,
    up: &'static str,
    down: &'static str,
    /// A light vertical crossing the heavy user/kernel line.
    cross: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    unicode: true,
    heavy: "━",
    light: "─",
    wire: "═",
    right: "▶",
    up: "▲",
    down: "▼",
    cross: "┿",
};

const ASCII: Glyphs = Glyphs {
    unicode: false,
    heavy: "=",
    light: "-",
    wire: "~",
    right: ">",
    up: "^",
    down: "v",
    cross: "+",
};

// Directions a light line leaves a cell in.
const L: u8 = 1;
const R: u8 = 2;
const U: u8 = 4;
const D: u8 = 8;

/// The light box-drawing glyphs and the directions each one joins.
const LIGHT: [(&str, u8); 11] = [
    ("─", L | R),
    ("│", U | D),
    ("┌", R | D),
    ("┐", L | D),
    ("└", R | U),
    ("┘", L | U),
    ("┬", L | R | D),
    ("┴", L | R | U),
    ("├", U | D | R),
    ("┤", U | D | L),
    ("┼", L | R | U | D),
];

/// A grid of terminal cells, `width` wide; a wide character fills its cell and blanks the next
/// (`None`). Text never runs past the width: what would is cut.
struct Canvas {
    width: usize,
    /// The language of the words written on it (how they are shown without Unicode).
    lang: Lang,
    cells: Vec<Vec<Option<String>>>,
    /// Directions of the light lines in a cell (0: none), so crossing arrows join.
    joins: Vec<Vec<u8>>,
    g: &'static Glyphs,
}

impl Canvas {
    fn new(width: usize, g: &'static Glyphs, lang: Lang) -> Canvas {
        Canvas {
            width,
            lang,
            cells: Vec::new(),
            joins: Vec::new(),
            g,
        }
    }

    fn grow(&mut self, y: usize) {
        while self.cells.len() <= y {
            self.cells.push(vec![Some(" ".to_string()); self.width]);
            self.joins.push(vec![0; self.width]);
        }
    }

    fn put(&mut self, x: usize, y: usize, text: &str) {
        self.grow(y);
        let mut x = x;
        for ch in text.chars() {
            let s = ch.to_string();
            let w = s.width().max(1);
            if x + w > self.width {
                return;
            }
            // A wide character cut in half by this one leaves a blank, not half a glyph.
            if self.cells[y][x].is_none() && x > 0 {
                self.cells[y][x - 1] = Some(" ".into());
            }
            self.cells[y][x] = Some(s);
            self.joins[y][x] = 0;
            for i in 1..w {
                self.cells[y][x + i] = None;
                self.joins[y][x + i] = 0;
            }
            x += w;
        }
    }

    /// Add light-line directions to a cell, drawing the glyph that joins them all.
    fn join(&mut self, x: usize, y: usize, dirs: u8) {
        self.grow(y);
        if x >= self.width {
            return;
        }
        let bits = self.joins[y][x] | dirs;
        let glyph = if self.g.unicode {
            LIGHT
                .iter()
                .find(|(_, b)| *b == bits)
                .map(|(s, _)| *s)
                .unwrap_or(if bits & (U | D) == 0 { "─" } else { "│" })
        } else if bits & (U | D) == 0 {
            "-"
        } else if bits & (L | R) == 0 {
            "|"
        } else {
            "+"
        };
        self.put(x, y, glyph);
        self.joins[y][x] = bits;
    }

    fn hline(&mut self, x0: usize, x1: usize, y: usize) {
        for x in x0..x1 {
            self.join(x, y, L | R);
        }
    }

    fn fill(&mut self, x0: usize, x1: usize, y: usize, glyph: &str) {
        for x in x0..x1.min(self.width) {
            self.put(x, y, glyph);
        }
    }

    fn cell(&self, x: usize, y: usize) -> Option<&str> {
        self.cells.get(y)?.get(x)?.as_deref()
    }

    /// Whether `w` cells from (x, y) hold only what `ok` allows (a blank, or a line's glyph
    /// that text may be written over) and are inside the width.
    fn free(&self, x: usize, y: usize, w: usize, ok: &[&str]) -> bool {
        x + w <= self.width
            && (x..x + w).all(|i| match self.cells.get(y).and_then(|r| r.get(i)) {
                None => true,
                Some(Some(c)) => c == " " || ok.contains(&c.as_str()),
                Some(None) => false,
            })
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

/// Where one half's bands are: the rows of its user and kernel boxes (their top line) and of
/// its user/kernel line.
#[derive(Clone, Copy)]
struct Rows {
    user: usize,
    kernel: usize,
    boundary: usize,
}

impl Rows {
    /// The middle row of a band's boxes.
    fn mid(&self, b: Band) -> usize {
        if b == Band::User {
            self.user + 1
        } else {
            self.kernel + 1
        }
    }
}

/// The columns of one half: its kernel and user places in order of first appearance, each box's
/// width and left edge.
struct Columns {
    places: Vec<Place>,
    widths: Vec<usize>,
    xs: Vec<usize>,
}

impl Columns {
    fn of(&self, p: Place) -> Option<usize> {
        self.places.iter().position(|q| *q == p)
    }

    fn right(&self, i: usize) -> usize {
        self.xs[i] + self.widths[i]
    }

    fn mid(&self, i: usize) -> usize {
        self.xs[i] + self.widths[i] / 2
    }

    /// The vertical of an arrow that crosses into column `j`: in the gap before it.
    fn vertical(&self, j: usize) -> usize {
        let left = if j == 0 { 0 } else { self.right(j - 1) };
        left + (self.xs[j] - left) / 2
    }
}

/// One half of the picture: a model, the number of its first step, its rows and columns.
struct Half<'a> {
    model: &'a Model,
    first: usize,
    rows: Rows,
    cols: Columns,
    figures: Vec<Option<String>>,
}

/// The words of a language, as a picture needs them.
struct Words {
    lang: Lang,
}

impl Words {
    fn place(&self, p: Place) -> String {
        lesson::say(self.lang, &Msg::Place(p))
    }
    fn band(&self, b: Band, label: Label) -> String {
        lesson::say(
            self.lang,
            &match label {
                Label::Short => Msg::BandShort(b),
                Label::Whole => Msg::Band(b),
            },
        )
    }
    fn side(&self, s: Side) -> String {
        lesson::say(self.lang, &Msg::Thread(s))
    }
}

/// Text as the glyphs can show it, in `lang`.
fn shown(text: &str, g: &Glyphs, lang: Lang) -> String {
    if g.unicode {
        text.to_string()
    } else {
        crate::report::text::plain(text, lang)
    }
}

/// The label of a step: number and kind ("②CPU*").
fn label(n: usize, kind: StepKind, g: &Glyphs) -> String {
    format!("{}{}", number(n, g.unicode), tag(kind))
}

/// The kernel and user places of `model`, in order of first appearance.
fn places_of(model: &Model) -> Vec<Place> {
    let mut places: Vec<Place> = Vec::new();
    for s in model.steps {
        for p in [s.from, s.to] {
            if p.band() != Band::Hardware && !places.contains(&p) {
                places.push(p);
            }
        }
    }
    places
}

/// The call written on the user/kernel line for a step, if it has one: "read()", or with the
/// run's figure, "read() ×64".
fn call_text(s: &Step, figures: Option<&Figures>) -> Option<String> {
    let c = s.call?;
    let call = CallName::from(c);
    Some(match (call, figures.and_then(|f| f.call(c))) {
        (CallName::Syscall(_), Some(n)) => format!(" {call} {n} "),
        _ => format!(" {call} "),
    })
}

/// A call label on the user/kernel line: its text and the span of arrows it sits over.
struct CallLabel {
    text: String,
    /// Where it is centred.
    anchor: usize,
    /// The gap (column index of the arrow's target) the first arrow under it ends in.
    gap: usize,
}

/// The least gap before each column (the first is the margin's): room for the arrows into it.
fn min_gaps(model: &Model, places: &[Place], g: &Glyphs) -> Vec<usize> {
    let mut gaps = vec![4usize; places.len()];
    if let Some(first) = gaps.first_mut() {
        *first = 0;
    }
    for (n, s) in model.steps.iter().enumerate() {
        let (Some(i), Some(j)) = (
            places.iter().position(|p| *p == s.from),
            places.iter().position(|p| *p == s.to),
        ) else {
            continue;
        };
        if j > i && s.from.band() == s.to.band() {
            // ─②CPU*─▶ on the line itself.
            let w = label(n + 1, s.kind, g).width() + 4;
            gaps[j] = gaps[j].max(w);
        }
    }
    gaps
}

/// The call labels of a half laid out at `xs`, merged where consecutive steps make the same
/// call (splice's two halves under one "splice()").
fn call_labels(h: &Half, figures: Option<&Figures>) -> Vec<CallLabel> {
    let mut out: Vec<(CallLabel, Option<ModelCall>, usize)> = Vec::new();
    for s in h.model.steps {
        let (Some(i), Some(j)) = (h.cols.of(s.from), h.cols.of(s.to)) else {
            continue;
        };
        let Some(text) = call_text(s, figures) else {
            continue;
        };
        let anchor = if s.from.band() == s.to.band() {
            (h.cols.right(i) + h.cols.xs[j]) / 2
        } else {
            h.cols.vertical(j)
        };
        let call = s.call;
        if let Some((last, c, first_anchor)) = out.last_mut()
            && *c == call
        {
            last.anchor = (*first_anchor + anchor) / 2;
            continue;
        }
        out.push((
            CallLabel {
                text,
                anchor,
                gap: j,
            },
            call,
            anchor,
        ));
    }
    out.into_iter().map(|(l, _, _)| l).collect()
}

/// Left edge of a label of `w` columns centred on `anchor`.
fn centred(anchor: usize, w: usize) -> usize {
    anchor.saturating_sub(w / 2)
}

/// Lay out the columns from `margin` with at least `gaps`, spreading what the width leaves over
/// the gaps (up to a comfortable stride). Returns each box's left edge.
fn spread(margin: usize, widths: &[usize], gaps: &[usize], width: usize) -> Vec<usize> {
    const MOST: usize = 14;
    let need: usize = margin + widths.iter().sum::<usize>() + gaps.iter().skip(1).sum::<usize>();
    let inner = gaps.len().saturating_sub(1);
    let extra = width.saturating_sub(need + 1);
    let each = extra.checked_div(inner).unwrap_or(0);
    let mut xs = Vec::with_capacity(widths.len());
    let mut x = margin;
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            x += gaps[i].max((gaps[i] + each).min(MOST.max(gaps[i])));
        }
        xs.push(x);
        x += w;
    }
    xs
}

/// Columns for a half at `margin` whose call labels do not overlap, widening the gaps where
/// they would (a few rounds: each round only widens).
fn columns(
    model: &Model,
    margin: usize,
    width: usize,
    words: &Words,
    g: &Glyphs,
    figures: Option<&Figures>,
) -> Columns {
    let places = places_of(model);
    let widths: Vec<usize> = places
        .iter()
        .map(|p| shown(&words.place(*p), g, words.lang).width() + 4)
        .collect();
    let mut gaps = min_gaps(model, &places, g);
    let mut cols = Columns {
        xs: spread(margin, &widths, &gaps, width),
        places,
        widths,
    };
    for _ in 0..6 {
        let probe = Half {
            model,
            first: 1,
            rows: Rows {
                user: 0,
                kernel: 0,
                boundary: 0,
            },
            cols,
            figures: Vec::new(),
        };
        let labels = call_labels(&probe, figures);
        cols = probe.cols;
        let mut widened = false;
        for pair in labels.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let a_end = centred(a.anchor, a.text.width()) + a.text.width();
            let b_start = centred(b.anchor, b.text.width());
            // At least one stroke of the line between two labels.
            if a_end + 1 > b_start && b.gap < gaps.len() {
                // Widening a gap moves the later anchor by about half of it.
                gaps[b.gap] += 2 * (a_end + 1 - b_start);
                widened = true;
            }
        }
        if !widened {
            break;
        }
        cols.xs = spread(margin, &cols.widths, &gaps, width);
    }
    cols
}

/// The rightmost column a half's layout reaches.
fn extent(c: &Columns) -> usize {
    c.xs.last().map_or(0, |_| c.right(c.xs.len() - 1))
}

fn draw_box(c: &mut Canvas, x: usize, y: usize, name: &str) {
    let w = name.width() + 4;
    let (tl, tr, bl, br, h, v) = if c.g.unicode {
        ("┌", "┐", "└", "┘", "─", "│")
    } else {
        ("+", "+", "+", "+", "-", "|")
    };
    c.put(x, y, &format!("{tl}{}{tr}", h.repeat(w - 2)));
    c.put(x, y + 1, &format!("{v} {name} {v}"));
    c.put(x, y + 2, &format!("{bl}{}{br}", h.repeat(w - 2)));
}

/// Draw `pic` `width` columns wide with the words of `lang`, and `figures` beside the arrows.
/// Returns the lines (none wider than `width`, no trailing newline); a figure that finds no
/// room beside its arrow is written under the picture, after its step's number.
pub fn draw(
    pic: &Picture,
    lang: Lang,
    width: usize,
    unicode: bool,
    figures: Option<&Figures>,
) -> Vec<String> {
    let g: &'static Glyphs = if unicode { &UNICODE } else { &ASCII };
    let words = Words { lang };
    let width = width.max(20);
    // The calls' counts ride on the user/kernel line where they fit, else beside their steps.
    let folded = figures.map(|f| fold_counts(pic, f));
    // The margin holds the band labels: whole when the picture fits beside them, short when not.
    let tries = [
        (Label::Whole, figures),
        (Label::Short, figures),
        (Label::Whole, folded.as_ref()),
        (Label::Short, folded.as_ref()),
    ];
    let Some(arrangement) = choose_arrangement(pic, &words, g, width, tries) else {
        return Vec::new();
    };
    let mut sheet = Sheet {
        c: Canvas::new(width, g, lang),
        words,
        label: arrangement.label,
        figures: arrangement.figures,
        footnotes: Vec::new(),
    };
    let above = match (pic.sender, arrangement.sender) {
        (Some(model), Some(cols)) => Some(draw_sender(&mut sheet, model, cols)),
        _ => None,
    };
    if let (Some(model), Some(cols)) = (pic.receiver, arrangement.receiver) {
        draw_receiver(&mut sheet, model, cols, above);
    }
    sheet.finish()
}

/// How a picture is laid out: the band labels whole or short, the figures to write (the calls'
/// counts on the user/kernel line, or folded into their steps' figures), each half's columns.
struct Arrangement<'f> {
    label: Label,
    figures: Option<&'f Figures>,
    sender: Option<Columns>,
    receiver: Option<Columns>,
}

impl Arrangement<'_> {
    /// Whether either half reaches `width`.
    fn too_wide(&self, width: usize) -> bool {
        self.sender
            .as_ref()
            .map_or(0, extent)
            .max(self.receiver.as_ref().map_or(0, extent))
            >= width
    }
}

/// How long the band labels in the margin are.
#[derive(Clone, Copy)]
enum Label {
    Whole,
    Short,
}

/// One arrangement to try: the band labels' length, and the figures to write.
type Attempt<'f> = (Label, Option<&'f Figures>);

/// The first of `tries` whose halves fit in `width` beside the band labels' margin; the last
/// when none does.
fn choose_arrangement<'f>(
    pic: &Picture,
    words: &Words,
    g: &Glyphs,
    width: usize,
    tries: [Attempt<'f>; 4],
) -> Option<Arrangement<'f>> {
    let margin_of = |label: Label| {
        [Band::User, Band::Kernel, Band::Hardware]
            .iter()
            .map(|b| shown(&words.band(*b, label), g, words.lang).width())
            .max()
            .unwrap_or(0)
            + 3
    };
    let mut chosen = None;
    for (label, figures) in tries {
        let margin = margin_of(label);
        let half = |m: &Model| columns(m, margin, width, words, g, figures);
        let arrangement = Arrangement {
            label,
            figures,
            sender: pic.sender.map(half),
            receiver: pic.receiver.map(half),
        };
        let fits = !arrangement.too_wide(width);
        chosen = Some(arrangement);
        if fits {
            break;
        }
    }
    chosen
}

/// What the halves of one picture are drawn on and with: the canvas, the words, the band
/// labels' length, the run's figures, and the footnotes for figures that found no room.
struct Sheet<'f> {
    c: Canvas,
    words: Words,
    label: Label,
    figures: Option<&'f Figures>,
    footnotes: Vec<String>,
}

impl Sheet<'_> {
    /// Text as the sheet's glyphs can show it.
    fn shown(&self, text: &str) -> String {
        shown(text, self.c.g, self.words.lang)
    }

    /// Write a band's label in the margin on `row`.
    fn label_band(&mut self, b: Band, row: usize) {
        let text = self.shown(&self.words.band(b, self.label));
        self.c.put(1, row, &text);
    }

    /// The picture's lines with no empty ones at the end, then the footnotes wrapped to its
    /// width.
    fn finish(self) -> Vec<String> {
        let mut lines = self.c.render();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        for f in self.footnotes {
            lines.extend(
                crate::report::text::wrap(&f, self.c.width, "  ", 6)
                    .lines()
                    .map(str::to_string),
            );
        }
        lines
    }
}

/// Where the sender's half left off for the receiver's below it.
struct SenderEnd {
    /// The sender's NIC's column, where the wire starts.
    nic_x: Option<usize>,
    /// The row under the hardware band: the wire's line.
    wire_row: usize,
    /// The number of the receiver's first step.
    next_step: usize,
}

/// Draw the serving thread's half from the top: its caption, the user band, the user/kernel
/// line, the kernel band, and below the kernel/hardware line the devices its steps reach.
fn draw_sender(s: &mut Sheet, model: &Model, cols: Columns) -> SenderEnd {
    let g = s.c.g;
    let rows = Rows {
        user: 1,
        boundary: 4,
        kernel: 5,
    };
    let caption = s.shown(&s.words.side(Side::Serving));
    s.c.put(1, 0, &caption);
    s.label_band(Band::User, rows.mid(Band::User));
    s.label_band(Band::Kernel, rows.mid(Band::Kernel));
    let hw_line = rows.kernel + 3;
    let hw_row = hw_line + 1;
    s.label_band(Band::Hardware, hw_row);
    s.c.fill(0, s.c.width, rows.boundary, g.heavy);
    s.c.fill(0, s.c.width, hw_line, g.light);
    let half = Half {
        model,
        first: 1,
        rows,
        cols,
        figures: s.figures.map(|f| f.sender.clone()).unwrap_or_default(),
    };
    let nic_x = draw_half(
        &mut s.c,
        &half,
        &s.words,
        s.figures,
        hw_line,
        &mut s.footnotes,
    );
    SenderEnd {
        nic_x,
        wire_row: hw_row + 1,
        next_step: 1 + model.steps.len(),
    }
}

/// Draw the receiving thread's half, below the sender's (`above`) or alone: the wire (the
/// separator line) from the NIC, the kernel band, the user/kernel line, the user band, and the
/// thread's caption on the wire's line.
fn draw_receiver(s: &mut Sheet, model: &Model, cols: Columns, above: Option<SenderEnd>) {
    let g = s.c.g;
    let wire_row = match &above {
        Some(a) => a.wire_row,
        None => {
            // Alone: a hardware row of its own, the NIC above the socket buffer.
            s.label_band(Band::Hardware, 0);
            1
        }
    };
    let rows = Rows {
        kernel: wire_row + 1,
        boundary: wire_row + 4,
        user: wire_row + 5,
    };
    s.c.fill(0, s.c.width, wire_row, g.light);
    s.label_band(Band::Kernel, rows.mid(Band::Kernel));
    s.label_band(Band::User, rows.mid(Band::User));
    s.c.fill(0, s.c.width, rows.boundary, g.heavy);
    let half = Half {
        model,
        first: above.as_ref().map_or(1, |a| a.next_step),
        rows,
        cols,
        figures: s.figures.map(|f| f.receiver.clone()).unwrap_or_default(),
    };
    let nic_x = match &above {
        Some(a) => a.nic_x,
        None => draw_lone_nic(s, &half),
    };
    draw_half(
        &mut s.c,
        &half,
        &s.words,
        s.figures,
        usize::MAX,
        &mut s.footnotes,
    );
    let (lo, hi) = draw_wire(&mut s.c, &half, nic_x, wire_row, &mut s.footnotes);
    draw_receiving_caption(s, wire_row, lo, hi);
}

/// The NIC on the top row, above a lone receiver's socket buffer; returns its column (none when
/// the half has no socket buffer).
fn draw_lone_nic(s: &mut Sheet, h: &Half) -> Option<usize> {
    let sb = h.cols.of(Place::SocketBuffer)?;
    let x = h.cols.mid(sb);
    let name = s.shown(&format!("[ {} ]", s.words.place(Place::Nic)));
    s.c.put(centred(x, name.width()), 0, &name);
    Some(x)
}

/// The receiving thread's caption on the wire's line (`row`): left of the wire (which spans
/// `lo`..=`hi`), else right of it, else at the right edge.
fn draw_receiving_caption(s: &mut Sheet, row: usize, lo: usize, hi: usize) {
    let light = s.c.g.light;
    let caption = format!(" {} ", s.shown(&s.words.side(Side::Receiving)));
    let cw = caption.width();
    let x = if 1 + cw < lo {
        1
    } else if s.c.free(hi + 2, row, cw, &[light]) {
        hi + 2
    } else {
        s.c.width.saturating_sub(cw + 1)
    };
    s.c.put(x, row, &caption);
}

/// `f` with the calls' counts moved off the user/kernel line into the figure of the first step
/// that makes each call ("splice() ×16").
fn fold_counts(pic: &Picture, f: &Figures) -> Figures {
    let mut out = Figures {
        sender: f.sender.clone(),
        receiver: f.receiver.clone(),
        calls: Vec::new(),
    };
    for (call, count) in &f.calls {
        let halves = [
            (pic.sender, &mut out.sender),
            (pic.receiver, &mut out.receiver),
        ];
        for (model, figs) in halves {
            let Some(model) = model else { continue };
            // The first step that crosses the user/kernel line or runs along it (the disk's
            // DMA inside read() is not where the call is drawn).
            if let Some(i) = model.steps.iter().position(|s| {
                s.call == Some(*call)
                    && s.from.band() != Band::Hardware
                    && s.to.band() != Band::Hardware
            }) {
                if figs.len() <= i {
                    figs.resize(i + 1, None);
                }
                let text = format!("{} {count}", CallName::from(*call));
                figs[i] = Some(match &figs[i] {
                    Some(old) => format!("{text} · {old}"),
                    None => text,
                });
                break;
            }
        }
    }
    out
}

/// The receiver's first step: from the NIC at `nic_x` along the separator line and down into
/// its socket buffer.
/// Returns the columns the wire spans.
fn draw_wire(
    c: &mut Canvas,
    h: &Half,
    nic_x: Option<usize>,
    row: usize,
    footnotes: &mut Vec<String>,
) -> (usize, usize) {
    let g = c.g;
    let Some((n, s)) = h
        .model
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.from.band() == Band::Hardware)
    else {
        return (0, 0);
    };
    let Some(i) = h.cols.of(s.to) else {
        return (0, 0);
    };
    let to = h.cols.mid(i);
    let from = nic_x.unwrap_or(to);
    let (lo, hi) = (from.min(to), from.max(to));
    if lo == hi {
        c.put(lo, row, if g.unicode { "║" } else { "|" });
    } else {
        c.fill(lo + 1, hi, row, g.wire);
        let (a, b) = if g.unicode {
            if to < from {
                ("╔", "╝")
            } else {
                ("╚", "╗")
            }
        } else {
            ("+", "+")
        };
        c.put(lo, row, a);
        c.put(hi, row, b);
    }
    c.put(to, row + 1, g.down);
    let text = format!(" {} ", label(h.first + n, s.kind, g));
    let ok = [g.wire, g.light];
    let lx = lo + 2;
    // On the wire when it runs along the line, else on the line right of the straight drop.
    let lx = if lo == hi { lo + 1 } else { lx };
    let room = lo == hi || hi > lo + 2 + text.width();
    let placed = if room && c.free(lx, row, text.width(), &ok) {
        c.put(lx, row, &text);
        Some(lx + text.width())
    } else {
        None
    };
    if let Some(Some(fig)) = h.figures.get(n) {
        let fig = shown(fig, g, c.lang);
        let t = format!(" {fig} ");
        let spots = placed.into_iter().map(|x| (x, row)).chain([(hi + 2, row)]);
        let mut done = false;
        for (x, y) in spots {
            if c.free(x, y, t.width(), &ok) {
                c.put(x, y, &t);
                done = true;
                break;
            }
        }
        if !done {
            footnotes.push(format!("{} {fig}", number(h.first + n, g.unicode)));
        }
    }
    (lo, hi)
}

/// Draw one half's boxes and arrows (but the receiver's wire). `hw_line` is the sender's
/// kernel/hardware line (its device steps are drawn there). Returns the NIC's column.
fn draw_half(
    c: &mut Canvas,
    h: &Half,
    words: &Words,
    figures: Option<&Figures>,
    hw_line: usize,
    footnotes: &mut Vec<String>,
) -> Option<usize> {
    let g = c.g;
    for (i, p) in h.cols.places.iter().enumerate() {
        let y = if p.band() == Band::User {
            h.rows.user
        } else {
            h.rows.kernel
        };
        draw_box(c, h.cols.xs[i], y, &shown(&words.place(*p), g, words.lang));
    }
    // Arrows first, then the call labels on the line, then step labels, then figures: each
    // later one goes where the earlier left room.
    let mut nic_x = None;
    let mut labels: Vec<(usize, Spot)> = Vec::new();
    for (n, s) in h.model.steps.iter().enumerate() {
        if s.from.band() == Band::Hardware && hw_line == usize::MAX {
            continue; // the receiver's wire
        }
        let spot = if s.from.band() == Band::Hardware || s.to.band() == Band::Hardware {
            let (spot, x) = draw_device_step(c, h, s, hw_line, words);
            if s.to == Place::Nic {
                nic_x = x;
            }
            spot
        } else {
            draw_memory_arrow(c, h, s)
        };
        if let Some(spot) = spot {
            labels.push((n, spot));
        }
    }
    for l in call_labels(h, figures) {
        let x = centred(l.anchor, l.text.width()).min(c.width.saturating_sub(l.text.width()));
        c.put(x, h.rows.boundary, &shown(&l.text, g, words.lang));
    }
    let mut placed: Vec<(usize, Option<Placed>, Spot)> = Vec::new();
    for (n, spot) in labels {
        let text = label(h.first + n, h.model.steps[n].kind, g);
        let at = place_label(c, &spot, &text);
        placed.push((n, at, spot));
    }
    for (n, at, spot) in placed {
        let Some(Some(fig)) = h.figures.get(n) else {
            continue;
        };
        let fig = shown(fig, g, c.lang);
        if !place_figure(c, &spot, at, &fig) {
            footnotes.push(format!("{} {fig}", number(h.first + n, g.unicode)));
        }
    }
    nic_x
}

/// Where an arrow's label and figure may go.
enum Spot {
    /// A device step on the hardware line at `x` (the arrowhead), the device's name on the row
    /// below.
    Device {
        x: usize,
        line: usize,
        name_w: usize,
    },
    /// Along one band: the arrow from `x0` to `x1` on row `y`; `other` is the middle row of
    /// the half's other band (often empty above or below such an arrow).
    Along {
        x0: usize,
        x1: usize,
        y: usize,
        other: usize,
    },
    /// Across the user/kernel line: the vertical at `x` from row `from` (the source's middle)
    /// to `to` (the target's), the horizontal run from `x0`.
    Across {
        x: usize,
        x0: usize,
        from: usize,
        to: usize,
    },
}

/// Where a label went: column, row, width.
type Placed = (usize, usize, usize);

/// Put a step's label where its spot has room; returns where it went.
fn place_label(c: &mut Canvas, spot: &Spot, text: &str) -> Option<Placed> {
    let w = text.width();
    let g = c.g;
    let tries: Vec<(usize, usize, Vec<&str>)> = match *spot {
        Spot::Device { x, line, .. } => vec![(x + 2, line, vec![g.light])],
        Spot::Along { x0, x1, y, .. } => vec![
            (x0 + 1, y, vec![g.light, "-"]),
            (centred((x0 + x1) / 2, w), y - 1, vec![]),
            (centred((x0 + x1) / 2, w), y + 1, vec![]),
        ],
        Spot::Across { x, x0, from, to } => {
            let toward = |y: usize, toward: usize| if toward > y { y + 1 } else { y - 1 };
            let in_target = toward(to, from);
            let mut v = vec![(x.saturating_sub(w + 1), in_target, vec![])];
            // Along the run in the source's band, just before it turns.
            if x > x0 + w + 1 {
                v.push((x - w - 1, from + 1, vec![]));
                v.push((x - w - 1, from - 1, vec![]));
            }
            v.push((x + 2, in_target, vec![]));
            v
        }
    };
    for (x, y, ok) in tries {
        let pad_l = x.saturating_sub(1);
        let padded = if x == 0 { w + 1 } else { w + 2 };
        let fits = if ok.is_empty() {
            c.free(pad_l, y, padded, &[])
        } else {
            c.free(x, y, w, &ok)
        };
        if fits {
            let t = if matches!(spot, Spot::Device { .. }) {
                format!(" {text} ")
            } else {
                text.to_string()
            };
            c.put(x, y, &t);
            return Some((x, y, t.width()));
        }
    }
    None
}

/// Put a figure beside its step's label; false when nowhere beside it has room.
fn place_figure(c: &mut Canvas, spot: &Spot, label: Option<Placed>, fig: &str) -> bool {
    let g = c.g;
    let w = fig.width();
    let mut tries: Vec<(usize, usize, bool)> = Vec::new();
    match *spot {
        Spot::Device { x, line, name_w } => {
            if let Some((lx, ly, lw)) = label {
                tries.push((lx + lw, ly, true));
            }
            // Beside the device's name on its row: after it, then before it.
            let name_x = centred(x, name_w);
            tries.push((name_x + name_w + 2, line + 1, false));
            tries.push((name_x.saturating_sub(w + 2), line + 1, false));
        }
        Spot::Along { x0, x1, y, other } => {
            let mid = (x0 + x1) / 2;
            tries.extend([
                (centred(mid, w), y + 1, false),
                (centred(mid, w), y - 1, false),
                (x0 + 1, y + 1, false),
                (x0 + 1, y - 1, false),
            ]);
            // Across the user/kernel line, in the other band's rows nearest to it.
            let near = if other < y {
                [other + 1, other]
            } else {
                [other - 1, other]
            };
            for r in near {
                tries.push((centred(mid, w), r, false));
                tries.push((x0 + 1, r, false));
                tries.push((x1.saturating_sub(w + 1), r, false));
            }
        }
        Spot::Across { x, from, to, .. } => {
            let band_rows = |mid: usize| [mid - 1, mid, mid + 1];
            if let Some((lx, ly, _)) = label {
                tries.push((lx.saturating_sub(w + 1), ly, false));
            }
            for y in band_rows(to).into_iter().chain(band_rows(from)) {
                tries.push((x.saturating_sub(w + 2), y, false));
                tries.push((x + 2, y, false));
            }
        }
    }
    for (x, y, on_line) in tries {
        if on_line {
            let t = format!(" {fig} ");
            if c.free(x, y, t.width() + 1, &[g.light]) {
                c.put(x, y, &t);
                return true;
            }
        } else if c.free(x.saturating_sub(1), y, w + 2, &[]) {
            c.put(x, y, fig);
            return true;
        }
    }
    false
}

/// Up from the disk into the kernel, or down from the kernel to the NIC, on the hardware line;
/// the device's name below it. Returns the label's spot and the arrow's column.
fn draw_device_step(
    c: &mut Canvas,
    h: &Half,
    s: &Step,
    hw_line: usize,
    words: &Words,
) -> (Option<Spot>, Option<usize>) {
    let g = c.g;
    let (hw, other, up) = if s.from.band() == Band::Hardware {
        (s.from, s.to, true)
    } else {
        (s.to, s.from, false)
    };
    let Some(i) = h.cols.of(other) else {
        return (None, None);
    };
    let mid = h.cols.mid(i);
    c.put(mid, hw_line, if up { g.up } else { g.down });
    let name = shown(&format!("[ {} ]", words.place(hw)), g, words.lang);
    c.put(centred(mid, name.width()), hw_line + 1, &name);
    (
        Some(Spot::Device {
            x: mid,
            line: hw_line,
            name_w: name.width(),
        }),
        Some(mid),
    )
}

/// An arrow between two boxes: along one band, or across the user/kernel line (right from the
/// source, along a vertical in the gap before the target, right into it).
fn draw_memory_arrow(c: &mut Canvas, h: &Half, s: &Step) -> Option<Spot> {
    let g = c.g;
    let (i, j) = (h.cols.of(s.from)?, h.cols.of(s.to)?);
    if j <= i {
        return None; // every model flows left to right
    }
    let x0 = h.cols.right(i);
    let x1 = h.cols.xs[j];
    let (fb, tb) = (s.from.band(), s.to.band());
    if fb == tb {
        let y = h.rows.mid(fb);
        c.hline(x0, x1 - 1, y);
        c.put(x1 - 1, y, g.right);
        let other = h.rows.mid(if fb == Band::User {
            Band::Kernel
        } else {
            Band::User
        });
        return Some(Spot::Along { x0, x1, y, other });
    }
    let vx = h.cols.vertical(j);
    let (ys, yt) = (h.rows.mid(fb), h.rows.mid(tb));
    c.hline(x0, vx, ys);
    let down = yt > ys;
    c.join(vx, ys, L | if down { D } else { U });
    for y in ys.min(yt) + 1..ys.max(yt) {
        if y == h.rows.boundary {
            if c.cell(vx, y) == Some(g.heavy) {
                c.put(vx, y, g.cross);
            }
        } else {
            c.join(vx, y, U | D);
        }
    }
    c.join(vx, yt, R | if down { U } else { D });
    c.hline(vx + 1, x1 - 1, yt);
    c.put(x1 - 1, yt, g.right);
    Some(Spot::Across {
        x: vx,
        x0,
        from: ys,
        to: yt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circled_numbers() {
        assert_eq!(circled(1), '①');
        assert_eq!(circled(4), '④');
        assert_eq!(number(3, false), "(3)");
    }

    #[test]
    fn crossing_lines_join() {
        let mut c = Canvas::new(10, &UNICODE, Lang::En);
        c.hline(0, 5, 0);
        c.join(2, 0, D);
        c.join(2, 1, U | D);
        assert_eq!(c.render()[0], "──┬──");
        assert_eq!(c.render()[1], "  │");
    }

    #[test]
    fn nothing_runs_past_the_width() {
        let mut c = Canvas::new(6, &UNICODE, Lang::En);
        c.put(3, 0, "abcdef");
        c.put(4, 1, "页缓存");
        assert_eq!(c.render(), vec!["   abc", "    页"]);
    }
}
