//! How this process trains: device, printing, checkpoints and live logs.

use burn::tensor::Device;

use crate::error::Result;
use crate::train::checkpoint::Checkpoints;
use crate::train::live_log::RunLogs;
use crate::train::optimizer::TrainConfig;
use crate::train::trainer::Trainer;

/// How this process trains: on which device, printing progress or not, keeping checkpoints or
/// not.
#[derive(Debug, Clone)]
pub struct Session {
    /// The device training computes on, with autodiff (from [`crate::device::DeviceChoice::open`]);
    /// the models it trains come back on the same device without autodiff.
    pub device: Device,
    /// Print model summaries, progress bars and one line per epoch.
    pub verbose: bool,
    /// Where the next training phase keeps its checkpoint (see [`Session::phase`]).
    pub checkpoints: Option<Checkpoints>,
    /// Where the training phases write each epoch as it ends; `None` writes nothing while
    /// training.
    pub logs: Option<RunLogs>,
}

impl Default for Session {
    /// On the CPU, quiet, without checkpoints.
    fn default() -> Self {
        Self::new(crate::device::cpu(), false)
    }
}

impl Session {
    /// A session on `device` that keeps no checkpoints.
    pub fn new(device: Device, verbose: bool) -> Self {
        Self { device, verbose, checkpoints: None, logs: None }
    }

    /// The same session with checkpoints in the sub-folder `name`, for one phase.
    pub fn phase(&self, name: &str) -> Self {
        Self { checkpoints: self.checkpoints.as_ref().map(|c| c.phase(name)), ..self.clone() }
    }

    /// Deletes the checkpoints: the run they belong to is complete.
    pub fn remove_checkpoints(&self) -> Result<()> {
        self.checkpoints.as_ref().map_or(Ok(()), Checkpoints::remove)
    }

    pub(super) fn trainer<'a>(&self, phase: &'static str, config: &'a TrainConfig) -> Trainer<'a> {
        let log = self.logs.as_ref().map(|logs| logs.phase(phase));
        Trainer { phase, config, device: self.device.clone(), verbose: self.verbose, checkpoints: self.checkpoints.clone(), log }
    }
}
