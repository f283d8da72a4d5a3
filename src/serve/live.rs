//! `serve --live`: the projector view. While clients fetch, one bar per connection in progress
//! (bytes, rate, syscalls and sys CPU so far, read from the running counters), finished
//! connections as their ordinary lines above the bars, and the method's running totals under
//! them. Drawn on stdout — it replaces the lines people read there — and only when stdout is a
//! terminal: otherwise `serve --live` prints exactly what `serve` prints.
//!
//! The bars are redrawn by moving the cursor up over the lines drawn last time, so the screen
//! must hold exactly the lines the bars think they drew; a line more leaves a stale bar above
//! the view, on screen after exit. Every line is therefore fitted to the terminal's width (read
//! again at each redraw), whole values dropped rather than wrapped. And while the view is
//! drawn the terminal neither echoes what is typed (ECHO off: the `^C` of Ctrl-C, echoed after
//! the last line, which the bars fill to the last column, would start a line of its own) nor
//! discards output at Ctrl-C (NOFLSH: a redraw cut in half keeps its lines and loses its
//! cursor movement). Both are put back when the view ends; Ctrl-C still stops the server.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Shared, lock, records};
use crate::counters::{Peek, clock_tick_ns, thread_sys_ns};
use crate::report::serve::{progress_line, totals_line};
use crate::results::serve::InProgress;

/// How often the bars are read and redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// Columns every redrawn line leaves free at its end: room for the `^C` the terminal echoes
/// after the last line, and never a line that ends in the last column.
const SPARE: usize = 3;

/// The bar's width on a screen `width` columns wide: narrower below 100 columns, so the
/// figures beside it fit.
fn bar_width(width: usize) -> usize {
    if width >= 100 { 24 } else { 12 }
}

/// The terminal flags the view changes: ECHO off, NOFLSH on.
const QUIET: libc::tcflag_t = libc::ECHO | libc::NOFLSH;

/// Stdout's terminal with ECHO off and NOFLSH on while the view is drawn; those two flags put
/// back as they were when dropped.
struct QuietTerminal {
    saved: libc::tcflag_t,
}

impl QuietTerminal {
    /// Change the flags (nothing when the terminal cannot be read or set).
    fn set() -> Option<QuietTerminal> {
        // SAFETY: termios is plain data; zeroed is a valid value for tcgetattr to overwrite.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios into `t`, which lives for the call.
        if unsafe { libc::tcgetattr(libc::STDOUT_FILENO, &mut t) } != 0 {
            return None;
        }
        let saved = t.c_lflag & QUIET;
        t.c_lflag = (t.c_lflag & !libc::ECHO) | libc::NOFLSH;
        // SAFETY: tcsetattr reads the termios `t` points to, which lives for the call.
        (unsafe { libc::tcsetattr(libc::STDOUT_FILENO, libc::TCSANOW, &t) } == 0)
            .then_some(QuietTerminal { saved })
    }
}

impl Drop for QuietTerminal {
    fn drop(&mut self) {
        // Only the two flags go back: anything else changed meanwhile is left as it is now.
        // SAFETY: termios is plain data, zeroed then written by tcgetattr into a local that
        // lives for both calls; tcsetattr only reads it.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDOUT_FILENO, &mut t) == 0 {
                t.c_lflag = (t.c_lflag & !QUIET) | self.saved;
                libc::tcsetattr(libc::STDOUT_FILENO, libc::TCSANOW, &t);
            }
        }
    }
}

/// The bars, and the transfers they show.
pub(super) struct Live {
    mp: MultiProgress,
    totals: ProgressBar,
    flights: Mutex<BTreeMap<u64, Arc<Flight>>>,
    done: AtomicBool,
    /// TCP: what the client acknowledged counts as sent too (methods that send a whole file in
    /// one blocking call, sendfile and mmap, publish nothing until it returns).
    tcp: bool,
    /// ECHO off and NOFLSH on while the view is drawn.
    quiet: Mutex<Option<QuietTerminal>>,
}

/// One connection's transfer, as its worker publishes it for the view.
pub(super) struct Flight {
    id: u64,
    peer: String,
    expected: u64,
    /// Bytes of the file handed to the socket; `u64::MAX` until the measured window opens.
    pub sent: AtomicU64,
    /// Response head bytes sent before the file (TCP acknowledges them too).
    head_len: u64,
    /// The connection's socket: registered only while its worker holds it open.
    fd: RawFd,
    peek: Option<Arc<Peek>>,
    tid: i32,
    sys_before: Option<u64>,
    opened: Instant,
}

impl Flight {
    /// Called on the serving thread just before its measured window (reading its own /proc
    /// stat here is outside the window).
    pub fn new(
        id: u64,
        peer: &str,
        expected: u64,
        head_len: u64,
        fd: RawFd,
        peek: Option<Arc<Peek>>,
    ) -> Flight {
        let tid = nix::unistd::gettid().as_raw();
        Flight {
            id,
            peer: peer.to_string(),
            expected,
            sent: AtomicU64::new(u64::MAX),
            head_len,
            fd,
            peek,
            tid,
            sys_before: thread_sys_ns(tid),
            opened: Instant::now(),
        }
    }

    /// What the view shows of this transfer now; `acked` is what TCP says the client has.
    fn now(&self, acked: Option<u64>) -> InProgress {
        let sent = self.sent.load(Ordering::Relaxed);
        let started = sent != u64::MAX;
        let bytes = started.then(|| {
            let acked = acked.map_or(0, |a| a.saturating_sub(self.head_len));
            sent.max(acked).min(self.expected)
        });
        InProgress {
            id: self.id,
            peer: self.peer.clone(),
            bytes,
            expected: self.expected,
            elapsed_ns: self.opened.elapsed().as_nanos() as u64,
            syscalls: if started {
                self.peek.as_ref().and_then(|p| p.syscalls())
            } else {
                None
            },
            sys_ns: match (self.sys_before, thread_sys_ns(self.tid)) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
            sys_tick_ns: clock_tick_ns(),
        }
    }
}

impl Live {
    /// The view, or `None` when stdout is not a terminal.
    pub fn start(transport: crate::transport::Transport) -> Option<Live> {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        if mp.is_hidden() {
            return None;
        }
        let totals = mp.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{msg}") {
            totals.set_style(style);
        }
        Some(Live {
            mp,
            totals,
            flights: Mutex::new(BTreeMap::new()),
            done: AtomicBool::new(false),
            tcp: transport == crate::transport::Transport::Tcp,
            quiet: Mutex::new(QuietTerminal::set()),
        })
    }

    /// Show `flight` until [`Live::end`].
    pub fn begin(&self, flight: Flight) -> Arc<Flight> {
        let f = Arc::new(flight);
        lock(&self.flights).insert(f.id, Arc::clone(&f));
        f
    }

    /// The transfer of connection `id` is over (called before its socket is closed).
    pub fn end(&self, id: u64) {
        lock(&self.flights).remove(&id);
    }

    /// A finished connection's line, above the bars.
    pub fn println(&self, line: &str) {
        // The terminal gone: nothing to show it on.
        let _ = self.mp.println(line);
    }

    /// Stop redrawing ([`Live::draw_until_done`] returns and clears the bars).
    pub fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
    }

    /// Redraw every [`REDRAW`] until [`Live::finish`]: read each transfer in progress, add and
    /// remove bars as connections come and go, and update the totals.
    pub fn draw_until_done(&self, sh: &Shared) {
        let style = |width: usize| {
            ProgressStyle::with_template(&format!("{{bar:{}}} {{msg}}", bar_width(width))).ok()
        };
        let mut shown_width = crate::report::serve::width();
        let mut bar_style = style(shown_width);
        let mut bars: HashMap<u64, ProgressBar> = HashMap::new();
        while !self.done.load(Ordering::SeqCst) {
            let width = crate::report::serve::width();
            if width != shown_width {
                shown_width = width;
                bar_style = style(width);
                for bar in bars.values() {
                    if let Some(s) = &bar_style {
                        bar.set_style(s.clone());
                    }
                }
            }
            let room = width.saturating_sub(bar_width(width) + 1 + SPARE);
            let now: Vec<InProgress> = {
                let flights = lock(&self.flights);
                flights
                    .values()
                    .map(|f| {
                        let acked = if self.tcp {
                            // SAFETY: a flight is registered only while its worker holds the
                            // socket open, and is removed (under this lock) before it closes.
                            crate::sys::tcp_bytes_acked(unsafe { BorrowedFd::borrow_raw(f.fd) })
                        } else {
                            None
                        };
                        f.now(acked)
                    })
                    .collect()
            };
            bars.retain(|id, bar| {
                let keep = now.iter().any(|p| p.id == *id);
                if !keep {
                    bar.finish_and_clear();
                    self.mp.remove(bar);
                }
                keep
            });
            for p in &now {
                let bar = bars.entry(p.id).or_insert_with(|| {
                    let b = self
                        .mp
                        .insert_before(&self.totals, ProgressBar::new(p.expected.max(1)));
                    if let Some(s) = &bar_style {
                        b.set_style(s.clone());
                    }
                    b
                });
                bar.set_position(p.bytes.unwrap_or(0));
                bar.set_message(progress_line(p, room));
            }
            let totals = records::summarize(&lock(&sh.records), sh.opts.method);
            self.totals
                .set_message(totals_line(&totals, width.saturating_sub(SPARE)));
            std::thread::sleep(REDRAW);
        }
        for bar in bars.values() {
            bar.finish_and_clear();
        }
        self.totals.finish_and_clear();
        let _ = self.mp.clear();
        // The view is gone: the terminal echoes again.
        lock(&self.quiet).take();
    }
}
