//! Exit statuses for scripts, one per kind of failure; the library's errors carry none.

use crate::error::{Error, RunState};

/// The status when a device ran out of memory.
pub const OUT_OF_MEMORY: u8 = 8;

/// The status a command that failed with `error` exits with.
pub fn status(error: &Error) -> u8 {
    match error {
        Error::RunFolder { state: RunState::NoClassifier, .. } => 6,
        Error::Config(_) | Error::Invalid(_) | Error::RunFolder { .. } => 2,
        Error::MalformedData { .. } | Error::DataNotFound { .. } => 3,
        Error::Download { .. } | Error::Checksum { .. } => 4,
        Error::Diverged { .. } => 5,
        Error::OutOfMemory { .. } => OUT_OF_MEMORY,
        Error::Weights { .. } | Error::Image { .. } | Error::Checkpoint { .. } => 6,
        Error::Io { .. } | Error::Unwritable { .. } | Error::Plot { .. } => 7,
        Error::Interrupted { .. } => crate::train::interrupt::EXIT_CODE,
    }
}
