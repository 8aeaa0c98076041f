//! What a user watches while a phase trains: after its first steps, what an epoch and the phase
//! will cost (time and memory), with a warning when that is a lot; then, on a terminal, a bar
//! per epoch with the time the phase has left; without one (a log file, `tee`, a batch job), a
//! plain line at least every ten seconds, so that a log shows that the run lives and how long
//! it has to go.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::phase_key;
use crate::train::memory;
use crate::wording::worded;

/// Time between progress lines without a terminal, unless `$PRETEXT_PROGRESS_SECONDS` holds
/// another number of seconds (one that is not a number of seconds is ignored).
const LINE_EVERY: Duration = Duration::from_secs(10);
/// The estimate is made after this many steps, or after [`ESTIMATE_WITHIN`], whichever comes
/// first.
const ESTIMATE_AFTER_STEPS: usize = 5;
/// See [`ESTIMATE_AFTER_STEPS`].
const ESTIMATE_WITHIN: Duration = Duration::from_secs(10);
/// A phase estimated to take less gets no estimate line (short phases, such as a probe's, would
/// only add noise).
const WORTH_AN_ESTIMATE: Duration = Duration::from_secs(30);
/// A phase estimated to take longer is warned about.
const LONG_PHASE: Duration = Duration::from_secs(3600);
/// A process holding more than this share of the machine's memory is warned about.
const MEMORY_SHARE: f64 = 0.5;

/// The progress of one training phase in this process, from its first step here (a resumed
/// phase's earlier steps do not count towards the pace).
#[derive(Debug)]
pub struct PhaseProgress {
    phase: &'static str,
    epochs: usize,
    steps_per_epoch: usize,
    verbose: bool,
    started: Instant,
    /// When the first step here ended: the pace is measured from then on, because the first
    /// step also pays for warming up (allocations, threads, caches) and can take twice as long.
    first_step_end: Option<Instant>,
    steps_taken: usize,
    /// How often plain lines go to stdout; `None` on a terminal or when quiet.
    lines: Option<Lines>,
    bar: ProgressBar,
    /// Whether the estimate has been printed.
    estimated: bool,
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
        Self { phase, epochs, steps_per_epoch, verbose, started: Instant::now(), first_step_end: None, steps_taken: 0, lines, bar: ProgressBar::hidden(), estimated: false }
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
        self.first_step_end.get_or_insert_with(Instant::now);
        let left = self.time_left(epoch, step);
        let measured = self.steps_taken >= ESTIMATE_AFTER_STEPS || (self.steps_taken >= 2 && self.started.elapsed() >= ESTIMATE_WITHIN);
        if self.verbose && !self.estimated && measured {
            self.estimated = true;
            let estimate = self.estimate(left);
            if estimate.whole >= WORTH_AN_ESTIMATE {
                self.bar.suspend(|| println!("{}", estimate.line()));
            }
            if let Some(warning) = estimate.warning() {
                self.bar.suspend(|| eprintln!("{warning}"));
            }
        }
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

    /// What an epoch and the phase cost at the pace so far, and the memory held.
    fn estimate(&self, left: Duration) -> Estimate {
        let took = self.started.elapsed();
        Estimate {
            phase: self.phase,
            steps: self.steps_taken,
            took,
            per_epoch: self.pace().mul_f64(self.steps_per_epoch as f64),
            whole: took + left,
            epochs: self.epochs,
            peak_memory: memory::peak(),
            machine_memory: memory::machine(),
        }
    }

    /// Clears the epoch's bar (before its summary line is printed).
    pub fn finish_epoch(&self) {
        self.bar.finish_and_clear();
    }

    /// The phase's remaining steps at this process's pace so far.
    fn time_left(&self, epoch: usize, step: usize) -> Duration {
        let steps_left = (self.epochs - epoch) * self.steps_per_epoch + (self.steps_per_epoch - step);
        self.pace().mul_f64(steps_left as f64)
    }

    /// Time per step: over the steps after the first once there are some, else over the first.
    fn pace(&self) -> Duration {
        match self.first_step_end {
            Some(end) if self.steps_taken >= 2 => end.elapsed() / (self.steps_taken - 1) as u32,
            _ => self.started.elapsed() / self.steps_taken.max(1) as u32,
        }
    }
}

/// What a phase will cost, measured on its first steps in this process.
#[derive(Debug, Clone, PartialEq)]
struct Estimate {
    phase: &'static str,
    steps: usize,
    took: Duration,
    per_epoch: Duration,
    /// The phase's time from its first step here to its end.
    whole: Duration,
    epochs: usize,
    peak_memory: Option<u64>,
    machine_memory: Option<u64>,
}

impl Estimate {
    /// `pretext phase: 5 steps took 0:00:04: about 0:03:30 per epoch, 0:17:30 for the phase's
    /// 5 epochs; peak memory 9.0 GiB (of 23.4 GiB)`.
    fn line(&self) -> String {
        let memory = match (self.peak_memory, self.machine_memory) {
            (Some(peak), Some(machine)) => format!("; peak memory {} (of {})", memory::gib(peak), memory::gib(machine)),
            (Some(peak), None) => format!("; peak memory {}", memory::gib(peak)),
            _ => String::new(),
        };
        let steps = if self.steps == 1 { "1 step".to_string() } else { format!("{} steps", self.steps) };
        format!(
            "{} phase: {steps} took {}: about {} per epoch, {} for the phase's {} epochs{memory}",
            self.phase,
            clock(self.took),
            clock(self.per_epoch),
            clock(self.whole),
            self.epochs
        )
    }

    /// A warning when the phase will take more than [`LONG_PHASE`] or holds more than
    /// [`MEMORY_SHARE`] of the machine's memory, with the flags that bring it down.
    fn warning(&self) -> Option<String> {
        let long = self.whole > LONG_PHASE;
        let big = matches!((self.peak_memory, self.machine_memory), (Some(peak), Some(machine)) if peak as f64 > MEMORY_SHARE * machine as f64);
        let phase = self.phase;
        let what = match (long, big) {
            (false, false) => return None,
            (true, false) => format!("will take about {}", clock(self.whole)),
            (false, true) => format!("holds {} of memory, over half the machine's", memory::gib(self.peak_memory.unwrap_or(0))),
            (true, true) => format!("will take about {} and holds {} of memory, over half the machine's", clock(self.whole), memory::gib(self.peak_memory.unwrap_or(0))),
        };
        let (epochs, batch_size) = (phase_key(phase, "epochs"), phase_key(phase, "batch_size"));
        Some(worded(&format!(
            "warning: the {phase} phase {what}; a smaller encoder (`model.encoder.width` 16 `model.encoder.blocks` 1,1), fewer `{epochs}` or fewer images cost less, and a smaller `{batch_size}` less memory (Ctrl-C keeps a checkpoint)"
        )))
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

    fn estimate(whole_seconds: u64, peak_gib: u64) -> Estimate {
        Estimate {
            phase: "pretext",
            steps: 5,
            took: Duration::from_secs(4),
            per_epoch: Duration::from_secs(210),
            whole: Duration::from_secs(whole_seconds),
            epochs: 5,
            peak_memory: Some(peak_gib << 30),
            machine_memory: Some(16 << 30),
        }
    }

    #[test]
    fn the_estimate_names_epoch_phase_and_memory_and_warns_only_above_an_hour_or_half_the_memory() {
        let quick = estimate(1050, 2);
        assert_eq!(quick.line(), "pretext phase: 5 steps took 0:00:04: about 0:03:30 per epoch, 0:17:30 for the phase's 5 epochs; peak memory 2.0 GiB (of 16.0 GiB)");
        assert_eq!(quick.warning(), None);
        assert!(Estimate { steps: 1, ..quick }.line().starts_with("pretext phase: 1 step took 0:00:04: "));
        let slow = estimate(3 * 3600, 2).warning().unwrap();
        assert!(slow.starts_with("warning: the pretext phase will take about 3:00:00; a smaller encoder (`model.encoder.width` 16"), "{slow}");
        assert!(slow.contains("fewer `pretext.epochs`") && slow.contains("`pretext.batch_size`"), "{slow}");
        let big = estimate(1050, 9).warning().unwrap();
        assert!(big.starts_with("warning: the pretext phase holds 9.0 GiB of memory, over half the machine's;"), "{big}");
        assert!(estimate(3 * 3600, 9).warning().unwrap().contains("will take about 3:00:00 and holds 9.0 GiB"));
    }

    #[test]
    fn time_left_counts_the_remaining_steps_of_the_phase_at_the_pace_so_far() {
        let mut progress = PhaseProgress::new("pretext", 3, 10, false);
        progress.steps_taken = 5;
        progress.started = Instant::now() - Duration::from_secs(15);
        // A first step of 7 s (warming up), then 2 s per step.
        progress.first_step_end = Some(Instant::now() - Duration::from_secs(8));
        // Epoch 2, step 5 done: 5 steps of epoch 2 and 10 of epoch 3 left, at 2 s per step.
        let left = progress.time_left(2, 5).as_secs_f64();
        assert!((left - 30.0).abs() < 0.5, "{left}");
    }
}
