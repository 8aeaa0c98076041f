//! Wall-clock seconds of each step of a run, written to `timings.json`: kept out of
//! `metrics.json` so that file stays byte-identical for a given seed.

use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::report::artifacts::write_json;

/// A stopwatch that records one lap per step.
#[derive(Debug)]
pub struct Timings {
    start: Instant,
    last: Instant,
    steps: Map<String, Value>,
}

impl Timings {
    /// Starts the clock.
    pub fn start() -> Self {
        let now = Instant::now();
        Self { start: now, last: now, steps: Map::new() }
    }

    /// Records the seconds since the previous lap (or the start) as `<step>_s`.
    pub fn lap(&mut self, step: &str) {
        let now = Instant::now();
        self.steps.insert(format!("{step}_s"), json!((now - self.last).as_secs_f64()));
        self.last = now;
    }

    /// Seconds since the start.
    pub fn total(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Writes the laps and `total_s` as a JSON object.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut steps = self.steps.clone();
        steps.insert("total_s".into(), json!(self.total()));
        write_json(path, &Value::Object(steps))
    }
}
