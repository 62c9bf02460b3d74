//! What a run shows while it works, on stderr: progress bars on a terminal, otherwise a few
//! plain lines (a cron mail should stay short).
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures printed one by one; the rest are only in the failures file.
const MAX_FAILURE_LINES: u64 = 20;
/// Plain mode prints a progress line at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// How a run shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Bars, for a person at a terminal.
    Bars,
    /// A plain line every few seconds, for a log.
    Lines,
    /// Only failures (`--quiet`).
    Quiet,
}

impl Display {
    /// The display for a run with `--quiet` or not, on a terminal or not: `--quiet` wins.
    pub fn choose(quiet: bool, terminal: bool) -> Display {
        match (quiet, terminal) {
            (true, _) => Display::Quiet,
            (false, true) => Display::Bars,
            (false, false) => Display::Lines,
        }
    }
}

pub struct Progress {
    bars: Option<Bars>,
    /// Plain progress lines (not with bars, not with `--quiet`).
    lines: bool,
    pages_done: AtomicU64,
    pages_total: AtomicU64,
    sessions_done: AtomicU64,
    sessions_total: AtomicU64,
    failures: AtomicU64,
    last_line: Mutex<Instant>,
}

struct Bars {
    multi: MultiProgress,
    pages: ProgressBar,
    sessions: ProgressBar,
}

impl Progress {
    /// Progress shown as `display` says; failures are printed in every case.
    pub fn new(display: Display) -> Progress {
        let bars = (display == Display::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let pages = multi.add(ProgressBar::new(0));
            pages.set_style(bar_style("pages    {bar:30} {pos}/{len}"));
            let sessions = multi.add(ProgressBar::new(0));
            // No ETA while the total still grows (pages still listed, ids still queued).
            sessions.set_style(bar_style("sessions {bar:30} {pos}/{len} {rate} {msg}"));
            Bars {
                multi,
                pages,
                sessions,
            }
        });
        Progress {
            bars,
            lines: display == Display::Lines,
            pages_done: AtomicU64::new(0),
            pages_total: AtomicU64::new(0),
            sessions_done: AtomicU64::new(0),
            sessions_total: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// More listing pages became known.
    pub fn pages_expected(&self, n: u64) {
        self.pages_total.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bars {
            b.pages.inc_length(n);
        }
    }

    pub fn page_done(&self) {
        self.pages_done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &self.bars {
            b.pages.inc(1);
        }
        self.maybe_line();
    }

    /// More sessions to download.
    pub fn sessions_expected(&self, n: u64) {
        self.sessions_total.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bars {
            b.sessions.inc_length(n);
        }
    }

    pub fn session_done(&self) {
        self.sessions_done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &self.bars {
            b.sessions.inc(1);
        }
        self.maybe_line();
    }

    /// Every session to fetch is known: from now on the bar can tell how long is left.
    pub fn totals_known(&self) {
        if let Some(b) = &self.bars {
            b.sessions.set_style(bar_style(
                "sessions {bar:30} {pos}/{len} {rate} eta {eta} {msg}",
            ));
        }
    }

    /// A line that must be seen (a failure, the list moving while paging). Escaped and cut
    /// short: it may quote what came from the API. A closed stderr loses it, never panics.
    pub fn note(&self, line: &str) {
        let line = crate::text::shorten_for_terminal(line);
        let write = || {
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        };
        match &self.bars {
            Some(b) => b.multi.suspend(write),
            None => write(),
        }
    }

    /// A failed request: printed for the first few, then only counted.
    pub fn failure(&self, request: &str, reason: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= MAX_FAILURE_LINES {
            self.note(&format!("fetch: failed: {request}: {reason}"));
        } else if n == MAX_FAILURE_LINES + 1 {
            self.note("fetch: more failures: see the failures file");
        }
    }

    fn maybe_line(&self) {
        if let Some(line) = self.line_due() {
            self.note(&line);
        }
    }

    /// The plain progress line, when one is due: only in [`Display::Lines`], at most every
    /// [`PLAIN_EVERY`].
    fn line_due(&self) -> Option<String> {
        if !self.lines {
            return None;
        }
        let mut last = self
            .last_line
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.elapsed() < PLAIN_EVERY {
            return None;
        }
        *last = Instant::now();
        Some(format!(
            "fetch: {}/{} pages listed, {}/{} sessions fetched",
            self.pages_done.load(Ordering::Relaxed),
            self.pages_total.load(Ordering::Relaxed),
            self.sessions_done.load(Ordering::Relaxed),
            self.sessions_total.load(Ordering::Relaxed),
        ))
    }

    /// Removes the bars before the summary is printed.
    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.pages.finish_and_clear();
            b.sessions.finish_and_clear();
        }
    }
}

/// A bar style from `template`, where `{rate}` is the rate in whole sessions a second.
fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves `progress`'s last line back past the interval.
    fn let_the_interval_pass(progress: &Progress) {
        let long_ago = Instant::now()
            .checked_sub(PLAIN_EVERY + Duration::from_secs(1))
            .expect("the clock runs longer than the interval");
        *progress.last_line.lock().unwrap() = long_ago;
    }

    /// `display`'s progress after a session fetched and the interval passed.
    fn after_the_interval(display: Display) -> Progress {
        let progress = Progress::new(display);
        progress.sessions_expected(3);
        progress.sessions_done.fetch_add(1, Ordering::Relaxed);
        let_the_interval_pass(&progress);
        progress
    }

    #[test]
    fn plain_lines_come_once_per_interval() {
        let progress = after_the_interval(Display::Lines);
        assert_eq!(
            progress.line_due().as_deref(),
            Some("fetch: 0/0 pages listed, 1/3 sessions fetched")
        );
        // The interval starts again, and the next line comes when it has passed.
        assert_eq!(progress.line_due(), None);
        progress.page_done();
        let_the_interval_pass(&progress);
        assert_eq!(
            progress.line_due().as_deref(),
            Some("fetch: 1/0 pages listed, 1/3 sessions fetched")
        );
    }

    #[test]
    fn quiet_and_bars_print_no_progress_lines() {
        for display in [Display::Quiet, Display::Bars] {
            assert_eq!(after_the_interval(display).line_due(), None, "{display:?}");
        }
    }

    #[test]
    fn quiet_wins_over_the_terminal() {
        assert_eq!(Display::choose(true, true), Display::Quiet);
        assert_eq!(Display::choose(true, false), Display::Quiet);
        assert_eq!(Display::choose(false, true), Display::Bars);
        assert_eq!(Display::choose(false, false), Display::Lines);
    }
}
