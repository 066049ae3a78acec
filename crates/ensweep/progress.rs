//! Progress of a running sweep, for a person at a terminal, a batch job's log, or a tool.
//!
//! * On a terminal: a bar with counts that add up to the sweep (`running` is capped at the
//!   slots: a worker leases ahead of its slots, and those prefetched cells are queued, not
//!   running) and an ETA that is only shown once a cell has finished.
//! * Off a terminal (a log file, a batch job): one line per finished or failed cell and a
//!   summary line every `--progress-every` seconds and at the end, so a log shows progress.
//! * `--json`: one JSON object per line and event, for tools that watch a sweep.
//!
//! The ETA is the mean wall time of the cells finished in this run times the cells left,
//! divided by the slots those cells can use; it counts down between finished cells. Before the
//! first cell finishes there is no basis, and none is shown, unless every cell left is running
//! and reports its epochs (a long one-cell study): then the slowest cell's epochs per second
//! since it was first seen give it. Running cells that report epochs show them
//! (`running 1 (epoch 23/200)`).

use ensweep_coordinator::{CellEvent, CellProgress, SweepStatus};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How progress is shown, and how often a summary line is written.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Bar, lines, JSON or nothing.
    pub mode: Mode,
    /// Interval of summary lines (lines and JSON modes).
    pub every: Duration,
}

impl Settings {
    /// No progress at all (benchmarks).
    pub const OFF: Settings = Settings {
        mode: Mode::Off,
        every: Duration::MAX,
    };
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Off,
    /// A bar on stderr.
    Bar,
    /// Plain lines on stdout.
    Lines,
    /// JSON lines on stdout.
    Json,
}

impl Mode {
    /// The bar needs a terminal on both streams (it is drawn on stderr, and a redirected stdout
    /// means a log that wants lines).
    pub fn choose(no_progress: bool, json: bool) -> Mode {
        if json {
            Mode::Json
        } else if no_progress {
            Mode::Off
        } else if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// The state of a sweep as the user reads it: every cell in exactly one count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Cells in the sweep.
    pub total: u64,
    /// With a result (including results of earlier runs).
    pub done: u64,
    /// Failed for good.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Training now: leased cells, at most one per slot.
    pub running: u64,
    /// Waiting: pending at the coordinator, or leased ahead by a worker with no free slot.
    pub queued: u64,
}

impl Counts {
    /// Counts of `s` with `slots` training slots in all.
    pub fn of(s: &SweepStatus, slots: u64) -> Counts {
        let running = s.leased.min(slots);
        Counts {
            total: s.total,
            done: s.done,
            failed: s.failed,
            cancelled: s.cancelled,
            running,
            queued: s.pending + s.leased - running,
        }
    }

    /// Cells still to finish.
    pub fn remaining(&self) -> u64 {
        self.running + self.queued
    }
}

/// `n` and `noun`, plural unless `n` is 1 ("1 slot", "2 slots").
fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The ETA's basis: wall times of cells finished in this run.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    finished: u64,
    seconds: f64,
}

impl Rate {
    /// A cell finished after `seconds` of training.
    pub fn record(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            self.finished += 1;
            self.seconds += seconds;
        }
    }

    /// Time to finish `remaining` cells on `slots` slots; `None` before any cell finished.
    pub fn eta(&self, remaining: u64, slots: u64) -> Option<Duration> {
        if self.finished == 0 {
            return None;
        }
        let mean = self.seconds / self.finished as f64;
        let parallel = slots.min(remaining).max(1) as f64;
        Some(Duration::from_secs_f64(mean * remaining as f64 / parallel))
    }
}

/// The ETA of a sweep watched from outside (`ensweep status --follow`), where cell times and
/// slots are unknown: cells finished per second since watching began.
#[derive(Clone, Debug)]
pub struct Throughput {
    since: Instant,
    first: u64,
}

impl Throughput {
    /// Starts counting from `finished` cells (done, failed or cancelled) now.
    pub fn new(finished: u64) -> Throughput {
        Throughput {
            since: Instant::now(),
            first: finished,
        }
    }

    /// Time to finish `remaining` cells at the rate seen since [`Throughput::new`]; `None`
    /// until a cell has finished while watching.
    pub fn eta(&self, finished: u64, remaining: u64) -> Option<Duration> {
        eta_at_rate(
            finished.saturating_sub(self.first),
            self.since.elapsed(),
            remaining,
        )
    }
}

/// `remaining` cells at the rate of `finished` cells in `elapsed`; `None` without a finished
/// cell.
fn eta_at_rate(finished: u64, elapsed: Duration, remaining: u64) -> Option<Duration> {
    (finished > 0).then(|| {
        Duration::from_secs_f64(elapsed.as_secs_f64() * remaining as f64 / finished as f64)
    })
}

/// `1h 02m`, `3m 05s`, `12s`, `<1s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, 0) if !d.is_zero() => "<1s".to_owned(),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

/// Shows the progress of one sweep.
pub struct Progress {
    mode: Mode,
    sweep: String,
    slots: u64,
    bar: ProgressBar,
    rate: Rate,
    started: Instant,
    /// The last ETA and when it was computed; it counts down from there.
    eta: Option<(Instant, Duration)>,
    counts: Option<Counts>,
    epochs: Epochs,
    every: Duration,
    last_summary: Instant,
}

/// Epochs of this sweep's running cells, as their workers last reported them.
#[derive(Debug, Default)]
struct Epochs {
    /// (cell key, done, total) of each running cell that reported.
    now: Vec<(String, u32, u32)>,
    /// When each was first seen, and its epochs then.
    first: HashMap<String, (Instant, u32)>,
}

impl Epochs {
    /// The running cells of `sweep` in `running`.
    fn set(&mut self, sweep: &str, running: &[CellProgress]) {
        self.now = running
            .iter()
            .filter(|p| p.sweep == sweep)
            .map(|p| (p.cell_key.clone(), p.epochs_done, p.epochs_total))
            .collect();
        let now = &self.now;
        self.first
            .retain(|k, _| now.iter().any(|(key, ..)| key == k));
        for (key, done, _) in now {
            self.first
                .entry(key.clone())
                .or_insert((Instant::now(), *done));
        }
    }

    /// ` (epoch 23/200)`, ` (epochs 23/200, 5/200, +2 more)`, or nothing.
    fn text(&self) -> String {
        let shown: Vec<String> = self
            .now
            .iter()
            .take(3)
            .map(|(_, d, t)| {
                if *t > 0 {
                    format!("{d}/{t}")
                } else {
                    d.to_string()
                }
            })
            .collect();
        let more = self.now.len().saturating_sub(3);
        match (shown.len(), more) {
            (0, _) => String::new(),
            (1, _) => format!(" (epoch {})", shown[0]),
            (_, 0) => format!(" (epochs {})", shown.join(", ")),
            (_, m) => format!(" (epochs {}, +{m} more)", shown.join(", ")),
        }
    }

    /// The time the slowest running cell needs for its remaining epochs, at the rate seen since
    /// it was first seen; `None` until every cell has a total and has moved.
    fn eta(&self) -> Option<Duration> {
        let mut longest = Duration::ZERO;
        for (key, done, total) in &self.now {
            let (since, first) = self.first.get(key)?;
            let moved = done.checked_sub(*first).filter(|m| *m > 0 && *total > 0)?;
            let per_epoch = since.elapsed().as_secs_f64() / f64::from(moved);
            let left = f64::from(total.saturating_sub(*done)) * per_epoch;
            longest = longest.max(Duration::from_secs_f64(left));
        }
        (!self.now.is_empty()).then_some(longest)
    }
}

impl Progress {
    /// Starts showing `sweep`, trained on `slots` slots.
    pub fn new(settings: Settings, sweep: &str, slots: u64) -> Progress {
        let Settings { mode, every } = settings;
        let bar = if mode == Mode::Bar {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} cells  {msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        let now = Instant::now();
        Progress {
            mode,
            sweep: sweep.to_owned(),
            slots: slots.max(1),
            bar,
            rate: Rate::default(),
            started: now,
            eta: None,
            counts: None,
            epochs: Epochs::default(),
            every,
            last_summary: now,
        }
    }

    /// The sweep was submitted.
    pub fn submitted(&mut self, total: u64, to_run: u64) {
        match self.mode {
            Mode::Off | Mode::Bar => {}
            Mode::Json => self.json(serde_json::json!({
                "event": "start", "sweep": self.sweep, "total": total, "to_run": to_run,
                "already_done": total - to_run, "slots": self.slots,
            })),
            Mode::Lines => self.print(&format!(
                "start {}: {}, {to_run} to run, on {}",
                self.sweep,
                counted(total, "cell"),
                counted(self.slots, "slot")
            )),
        }
    }

    /// A cell of some sweep finished or failed.
    pub fn cell(&mut self, e: &CellEvent) {
        if e.sweep != self.sweep {
            return;
        }
        if let Some(s) = e.seconds {
            self.rate.record(s);
        }
        let kind = e.outcome.failure().map(|k| k.as_str());
        match self.mode {
            Mode::Off => {}
            Mode::Json => self.json(serde_json::json!({
                "event": "cell", "sweep": e.sweep, "key": &*e.key, "outcome": e.outcome.word(),
                "seconds": e.seconds, "failure": kind,
                "message": (!e.message.is_empty()).then_some(&e.message),
            })),
            Mode::Lines | Mode::Bar => {
                let mut line = format!("cell {} {}", e.key, e.outcome.word());
                if let Some(s) = e.seconds {
                    line.push_str(&format!(" {s:.2} s"));
                }
                if let Some(k) = kind {
                    line.push_str(&format!(" ({k})"));
                }
                if let Some(first) = e.message.lines().next().filter(|m| !m.is_empty()) {
                    line.push_str(&format!(": {first}"));
                }
                if self.mode == Mode::Lines {
                    self.print(&line);
                } else if kind.is_some() {
                    // Only failures interrupt the bar; results are what the bar counts.
                    self.bar.println(line);
                }
            }
        }
    }

    /// The sweep's counts changed (or time passed: call it on a timer too); `running` holds
    /// the epochs of running cells (of every sweep: this one's are picked).
    pub fn update(&mut self, s: &SweepStatus, running: &[CellProgress]) {
        self.epochs.set(&self.sweep, running);
        let counts = Counts::of(s, self.slots);
        if self.counts != Some(counts) {
            self.eta = self
                .rate
                .eta(counts.remaining(), self.slots)
                .map(|d| (Instant::now(), d));
            self.counts = Some(counts);
        }
        self.bar.set_length(counts.total);
        self.bar
            .set_position(counts.done + counts.failed + counts.cancelled);
        let cancelled = match counts.cancelled {
            0 => String::new(),
            n => format!("cancelled {n} | "),
        };
        self.bar.set_message(format!(
            "done {} | failed {} | {cancelled}running {}{} | queued {} | ETA {}",
            counts.done,
            counts.failed,
            counts.running,
            self.epochs.text(),
            counts.queued,
            self.eta_text()
        ));
        if self.last_summary.elapsed() >= self.every {
            self.summary("progress");
        }
    }

    /// The run ended (finished or interrupted): a last summary.
    pub fn finish(&mut self, s: &SweepStatus, interrupted: bool) {
        self.bar.finish_and_clear();
        self.counts = Some(Counts::of(s, self.slots));
        self.eta = if interrupted || s.finished() {
            None
        } else {
            self.eta
        };
        self.summary(if interrupted { "interrupted" } else { "end" });
    }

    fn eta_now(&self) -> Option<Duration> {
        let from_cells = self.eta.map(|(at, d)| d.saturating_sub(at.elapsed()));
        let all_running = self.counts.is_some_and(|c| c.queued == 0);
        from_cells.or_else(|| self.epochs.eta().filter(|_| all_running))
    }

    fn eta_text(&self) -> String {
        match (self.counts, self.eta_now()) {
            (Some(c), _) if c.remaining() == 0 => "0s".to_owned(),
            (_, Some(d)) => human(d),
            (_, None) => "-- (no cell finished yet)".to_owned(),
        }
    }

    fn summary(&mut self, event: &str) {
        self.last_summary = Instant::now();
        let Some(c) = self.counts else { return };
        let elapsed = self.started.elapsed();
        match self.mode {
            Mode::Off | Mode::Bar => {}
            Mode::Json => self.json(serde_json::json!({
                "event": event, "sweep": self.sweep, "total": c.total, "done": c.done,
                "failed": c.failed, "cancelled": c.cancelled, "running": c.running,
                "queued": c.queued, "elapsed_s": elapsed.as_secs_f64(),
                "eta_s": self.eta_now().map(|d| d.as_secs_f64()),
                "epochs": self.epochs.now.iter().map(|(k, d, t)| serde_json::json!({
                    "key": k, "done": d, "total": t,
                })).collect::<Vec<_>>(),
            })),
            Mode::Lines => {
                let line = format!(
                    "{event} {}: {}/{} done, {} failed, {} cancelled, {} running{}, {} queued; \
                     elapsed {}, ETA {}",
                    self.sweep,
                    c.done,
                    c.total,
                    c.failed,
                    c.cancelled,
                    c.running,
                    self.epochs.text(),
                    c.queued,
                    human(elapsed),
                    self.eta_text()
                );
                self.print(&line);
            }
        }
    }

    fn json(&self, value: serde_json::Value) {
        self.print(&value.to_string());
    }

    /// One line on stdout, flushed at once: a log must show it now, not when a buffer fills.
    fn print(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe must not stop the sweep; progress is best effort.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_when_workers_lease_ahead_of_their_slots() {
        // 2 slots, 4 leased (2 prefetched), 3 pending, 1 done: 2 run, 5 wait.
        let s = SweepStatus {
            total: 8,
            pending: 3,
            leased: 4,
            done: 1,
            ..SweepStatus::default()
        };
        let c = Counts::of(&s, 2);
        assert_eq!((c.running, c.queued), (2, 5));
        assert_eq!(
            c.done + c.failed + c.cancelled + c.running + c.queued,
            c.total
        );
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(counted(1, "slot"), "1 slot");
        assert_eq!(counted(0, "cell"), "0 cells");
        assert_eq!(counted(2, "slot"), "2 slots");
    }

    #[test]
    fn eta_needs_a_finished_cell_then_divides_by_the_slots_in_use() {
        let mut r = Rate::default();
        assert_eq!(r.eta(10, 2), None);
        r.record(4.0);
        r.record(2.0);
        // Mean 3 s; 10 cells on 2 slots: 15 s. 1 cell left uses 1 slot: 3 s.
        assert_eq!(r.eta(10, 2), Some(Duration::from_secs(15)));
        assert_eq!(r.eta(1, 2), Some(Duration::from_secs(3)));
        assert_eq!(r.eta(0, 2), Some(Duration::ZERO));
    }

    #[test]
    fn watched_eta_needs_a_cell_finished_while_watching() {
        assert_eq!(eta_at_rate(0, Duration::from_secs(60), 10), None);
        // 4 cells in 60 s: 10 more take 150 s.
        assert_eq!(
            eta_at_rate(4, Duration::from_secs(60), 10),
            Some(Duration::from_secs(150))
        );
    }

    #[test]
    fn running_epochs_are_shown_and_give_an_eta_once_they_move() {
        let cell = |key: &str, done, total| CellProgress {
            sweep: "s".into(),
            cell_key: key.into(),
            epochs_done: done,
            epochs_total: total,
        };
        let mut e = Epochs::default();
        e.set("s", &[cell("a", 3, 200), cell("b", 0, 0)]);
        assert_eq!(e.text(), " (epochs 3/200, 0)");
        assert_eq!(e.eta(), None, "b has no total yet");
        e.set("s", &[cell("a", 3, 200)]);
        assert_eq!(e.text(), " (epoch 3/200)");
        assert_eq!(e.eta(), None, "a has not moved since it was first seen");
        let other = CellProgress {
            sweep: "other".into(),
            ..cell("x", 1, 2)
        };
        e.set("s", &[cell("a", 5, 200), other]);
        assert_eq!(
            e.text(),
            " (epoch 5/200)",
            "another sweep's cell is not shown"
        );
        let eta = e.eta().expect("a moved 2 epochs");
        assert!(
            eta > Duration::ZERO && eta < Duration::from_secs(1),
            "{eta:?}"
        );
        e.set("s", &[]);
        assert_eq!((e.text(), e.eta()), (String::new(), None));
        assert!(e.first.is_empty(), "finished cells are forgotten");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_millis(300)), "<1s");
        assert_eq!(human(Duration::from_secs(12)), "12s");
        assert_eq!(human(Duration::from_secs(185)), "3m 05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h 02m");
    }
}
