//! What a user watches while a phase trains: on a terminal, a bar per epoch with the time the
//! phase has left; without one (a log file, `tee`, a batch job), a plain line at least every
//! ten seconds, so that a log shows that the run lives and how long it has to go.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Time between progress lines without a terminal, unless `$PRETEXT_PROGRESS_SECONDS` holds
/// another number of seconds (one that is not a number of seconds is ignored).
const LINE_EVERY: Duration = Duration::from_secs(10);

/// The progress of one training phase in this process, from its first step here (a resumed
/// phase's earlier steps do not count towards the pace).
#[derive(Debug)]
pub struct PhaseProgress {
    phase: &'static str,
    epochs: usize,
    steps_per_epoch: usize,
    verbose: bool,
    started: Instant,
    steps_taken: usize,
    /// How often plain lines go to stdout; `None` on a terminal or when quiet.
    lines: Option<Lines>,
    bar: ProgressBar,
}

#[derive(Debug)]
struct Lines {
    every: Duration,
    last: Instant,
}

impl PhaseProgress {
    /// Progress of `phase`, of `epochs` epochs of `steps_per_epoch` steps; shows nothing
    /// unless `verbose`.
    pub fn new(phase: &'static str, epochs: usize, steps_per_epoch: usize, verbose: bool) -> Self {
        let seconds = std::env::var("PRETEXT_PROGRESS_SECONDS").ok().and_then(|s| s.parse::<f64>().ok());
        let every = seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()).unwrap_or(LINE_EVERY);
        let lines = (verbose && !std::io::stderr().is_terminal()).then(|| Lines { every, last: Instant::now() });
        Self { phase, epochs, steps_per_epoch, verbose, started: Instant::now(), steps_taken: 0, lines, bar: ProgressBar::hidden() }
    }

    /// Starts epoch `epoch` (1-based) at step `steps_done` of it (after a resume).
    pub fn start_epoch(&mut self, epoch: usize, steps_done: usize) {
        self.bar = if self.verbose && self.lines.is_none() { ProgressBar::new(self.steps_per_epoch as u64) } else { ProgressBar::hidden() };
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {elapsed_precise}{msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("{} epoch {epoch}/{}", self.phase, self.epochs));
        self.bar.set_position(steps_done as u64);
    }

    /// Records that step `step` (1-based) of epoch `epoch` is done.
    pub fn step_done(&mut self, epoch: usize, step: usize) {
        self.steps_taken += 1;
        let left = self.time_left(epoch, step);
        self.bar.set_message(format!(", phase done in about {}", clock(left)));
        self.bar.inc(1);
        if let Some(lines) = self.lines.as_mut().filter(|lines| lines.last.elapsed() >= lines.every) {
            lines.last = Instant::now();
            println!(
                "{} epoch {epoch}/{}: step {step}/{}, {} in, phase done in about {}",
                self.phase,
                self.epochs,
                self.steps_per_epoch,
                clock(self.started.elapsed()),
                clock(left)
            );
        }
    }

    /// Clears the epoch's bar (before its summary line is printed).
    pub fn finish_epoch(&self) {
        self.bar.finish_and_clear();
    }

    /// The phase's remaining steps at this process's pace so far.
    fn time_left(&self, epoch: usize, step: usize) -> Duration {
        let remaining = (self.epochs - epoch) * self.steps_per_epoch + (self.steps_per_epoch - step);
        self.started.elapsed().mul_f64(remaining as f64 / self.steps_taken.max(1) as f64)
    }
}

/// `h:mm:ss`.
fn clock(duration: Duration) -> String {
    let seconds = duration.as_secs();
    format!("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_hours_minutes_and_seconds() {
        assert_eq!(clock(Duration::from_secs(0)), "0:00:00");
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 7 * 60 + 5)), "3:07:05");
    }

    #[test]
    fn time_left_counts_the_remaining_steps_of_the_phase_at_the_pace_so_far() {
        let mut progress = PhaseProgress::new("pretext", 3, 10, false);
        progress.steps_taken = 5;
        progress.started = Instant::now() - Duration::from_secs(10);
        // Epoch 2, step 5 done: 5 steps of epoch 2 and 10 of epoch 3 left, at 2 s per step.
        let left = progress.time_left(2, 5).as_secs_f64();
        assert!((left - 30.0).abs() < 0.5, "{left}");
    }
}
