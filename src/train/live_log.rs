//! A phase's epochs written as they end, so that a run can be watched (`tail -f`, pandas,
//! TensorBoard) and an interrupted one keeps its curves: the history CSV, one flushed row per
//! epoch, and optionally a TensorBoard event file.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::train::history::{EpochRecord, write_csv};
use crate::train::tensorboard::EventFile;

/// The event file's name in its folder: TensorBoard reads the files whose name holds
/// "tfevents", and a folder of its own makes each phase a run of its own in TensorBoard.
pub const EVENT_FILE: &str = "events.out.tfevents";

/// Where the phases of a run write their epochs: `history_<phase>.csv` in the run folder and,
/// when TensorBoard logging is on, an event file in `<tensorboard>/<phase>/`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLogs {
    /// The run folder.
    pub dir: PathBuf,
    /// The folder of the TensorBoard event files, when TensorBoard logging is on.
    pub tensorboard: Option<PathBuf>,
}

impl RunLogs {
    /// The files of the phase `phase` (`pretext`, `downstream`, `semi`).
    pub fn phase(&self, phase: &str) -> LiveLog {
        LiveLog { csv: self.dir.join(history_file(phase)), tensorboard: self.tensorboard.as_ref().map(|dir| dir.join(phase)) }
    }
}

/// The name of a phase's history CSV in a run folder.
pub fn history_file(phase: &str) -> String {
    format!("history_{phase}.csv")
}

/// Where one phase's epochs go.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveLog {
    /// The history CSV (`history_<phase>.csv` in a run folder).
    pub csv: PathBuf,
    /// The folder of the phase's TensorBoard event file, when TensorBoard logging is on.
    pub tensorboard: Option<PathBuf>,
}

/// A [`LiveLog`] open for writing.
#[derive(Debug)]
pub struct OpenLog {
    csv: PathBuf,
    history: Vec<EpochRecord>,
    events: Option<EventFile>,
}

impl LiveLog {
    /// Starts the files over with the epochs already run (`done`, from a checkpoint when a
    /// phase continues), so that they never hold an epoch twice.
    pub fn open(&self, done: &[EpochRecord]) -> Result<OpenLog> {
        let events = match &self.tensorboard {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                Some(EventFile::create(&dir.join(EVENT_FILE))?)
            }
            None => None,
        };
        let mut log = OpenLog { csv: self.csv.clone(), history: Vec::new(), events };
        done.iter().try_for_each(|record| log.append(record))?;
        Ok(log)
    }
}

impl OpenLog {
    /// Writes one epoch's row and scalars, so that they survive a kill. The CSV is written
    /// whole each time: an epoch can measure a value the ones before it did not (the k-NN
    /// monitor runs every few epochs), which adds a column.
    pub fn append(&mut self, record: &EpochRecord) -> Result<()> {
        self.history.push(record.clone());
        write_csv(&self.history, &self.csv)?;
        if let Some(events) = &mut self.events {
            events.write_scalars(record.epoch as i64, &record.scalars())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64) -> EpochRecord {
        EpochRecord { epoch, loss, measured: [("knn_accuracy", 0.5)].into_iter().collect(), learning_rate: 0.1, seconds: 2.0 }
    }

    #[test]
    fn each_epoch_is_on_disk_once_appended_and_a_reopened_log_starts_from_the_epochs_done() {
        let dir = tempfile::tempdir().unwrap();
        let log = LiveLog { csv: dir.path().join("history.csv"), tensorboard: Some(dir.path().join("tb")) };
        let mut open = log.open(&[]).unwrap();
        open.append(&record(1, 0.9)).unwrap();
        open.append(&record(2, 0.8)).unwrap();
        let header = "epoch,loss,knn_accuracy,learning_rate,seconds\n";
        assert_eq!(std::fs::read_to_string(&log.csv).unwrap(), format!("{header}1,0.9,0.5,0.1,2.0\n2,0.8,0.5,0.1,2.0\n"));

        // Continued from a checkpoint taken after epoch 1: epoch 2 is run again, not repeated.
        let mut open = log.open(&[record(1, 0.9)]).unwrap();
        open.append(&record(2, 0.7)).unwrap();
        assert_eq!(std::fs::read_to_string(&log.csv).unwrap(), format!("{header}1,0.9,0.5,0.1,2.0\n2,0.7,0.5,0.1,2.0\n"));
        let events = std::fs::read(dir.path().join("tb").join(EVENT_FILE)).unwrap();
        assert_eq!(events.windows(12).filter(|w| w == b"knn_accuracy").count(), 2);
    }
}
