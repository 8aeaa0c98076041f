//! Checkpoints of a training phase: everything needed to continue exactly where it stopped.
//!
//! A phase's folder holds `state.json` and the files it names: weights, optimizer state and,
//! with `restore_best`, the best weights so far. Every file is written atomically and
//! `state.json` last, so whenever the process dies, `state.json` names a complete set of
//! files; files it no longer names are removed after it is written.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamId, list_param_ids};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Bytes, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{remove_folder, write_atomically};
use crate::model::weights;
use crate::train::early_stopping::EarlyStopping;
use crate::train::history::EpochRecord;
use crate::train::optimizer::TrainConfig;
use crate::train::step::Tallies;

const STATE: &str = "state.json";

/// Where checkpoints go, how often, and how a user continues from them.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    every: usize,
    resume_command: String,
}

/// How far a phase got, and the counters of its unfinished epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Steps already taken in the next epoch (non-zero only after an interruption).
    pub steps_done: usize,
    /// Sum of the per-sample losses of those steps.
    pub loss_sum: f64,
    /// What those steps counted, by name (accuracy, pseudo-labels).
    #[serde(flatten)]
    pub tallies: Tallies,
    /// Learning rate of the last step.
    pub learning_rate: f64,
    /// The phase ended (all epochs run, or early stopping).
    pub finished: bool,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
    /// Early-stopping counters, when the phase uses early stopping.
    pub stopping: Option<EarlyStopping>,
}

/// Everything a training phase needs to continue.
pub struct PhaseState<M> {
    /// Current weights.
    pub model: M,
    /// Optimizer with its per-parameter state (momentum, Adam moments).
    pub optimizer: ModuleOptimizer,
    /// Weights of the best epoch so far (kept only with `restore_best`).
    pub best: Option<M>,
    /// Where the phase stands.
    pub progress: Progress,
    /// Generator of the augmentation draws, as it is now. (The shuffle generator is not
    /// saved: the trainer replays the shuffles, which also rebuilds the sample order.)
    pub augment_rng: ChaCha12Rng,
}

/// What a checkpoint was trained with: resuming under other settings would not continue
/// the same run, so it is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The phase's training settings.
    pub config: TrainConfig,
    /// Number of training samples.
    pub samples: usize,
}

/// The contents of `state.json`.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    settings: Settings,
    progress: Progress,
    augment_rng: ChaCha12Rng,
    /// Parameter ids in module order: the optimizer state is keyed by them.
    param_ids: Vec<u64>,
    model: String,
    optimizer: String,
    best: Option<String>,
}

impl Checkpoints {
    /// Checkpoints under `dir` every `every` epochs (0: only when interrupted and when a
    /// phase ends); `resume_command` is what the user types to continue.
    pub fn new(dir: PathBuf, every: usize, resume_command: String) -> Self {
        Self { dir, every, resume_command }
    }

    /// The checkpoints of one phase, in a sub-folder `name`.
    pub fn phase(&self, name: &str) -> Self {
        Self { dir: self.dir.join(name), ..self.clone() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the user types to continue.
    pub fn resume_command(&self) -> &str {
        &self.resume_command
    }

    /// Whether a checkpoint is due after `epoch` (1-based).
    pub fn due_after(&self, epoch: usize) -> bool {
        self.every > 0 && epoch % self.every == 0
    }

    /// Deletes every checkpoint (the run is complete).
    pub fn remove(&self) -> Result<()> {
        remove_folder(&self.dir)
    }

    /// Whether the phase has a checkpoint to continue from.
    pub fn saved(&self) -> bool {
        self.dir.join(STATE).is_file()
    }

    /// Saves `state`; the previous checkpoint's files go once the new one is complete.
    pub fn save<M: Module>(&self, state: &PhaseState<M>, settings: &Settings) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let progress = &state.progress;
        let tag = format!("e{:04}-s{:05}", progress.epochs_done, progress.steps_done);
        let file = StateFile {
            settings: settings.clone(),
            progress: progress.clone(),
            augment_rng: state.augment_rng.clone(),
            param_ids: list_param_ids(&state.model).iter().map(ParamId::val).collect(),
            model: format!("model-{tag}.safetensors"),
            optimizer: format!("optimizer-{tag}.bpk"),
            best: state.best.as_ref().map(|_| format!("best-{tag}.safetensors")),
        };
        weights::save(&state.model, &self.dir.join(&file.model))?;
        let optimizer = state.optimizer.into_bytes().map_err(|e| self.problem(&file.optimizer, e))?;
        write_atomically(&self.dir.join(&file.optimizer), &optimizer)?;
        if let (Some(best), Some(name)) = (&state.best, &file.best) {
            weights::save(best, &self.dir.join(name))?;
        }
        let json = serde_json::to_string_pretty(&file).expect("checkpoint state serialises");
        write_atomically(&self.dir.join(STATE), json.as_bytes())?;
        // The rename of state.json must be on disk before the files it replaced are deleted.
        std::fs::File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(|e| Error::io(&self.dir, e))?;
        let mut keep = vec![STATE, file.model.as_str(), file.optimizer.as_str()];
        keep.extend(file.best.as_deref());
        self.remove_all_but(&keep)
    }

    /// The saved state, loaded into `model` and `optimizer` (fresh ones of the same shape);
    /// `None` when the phase has no checkpoint yet.
    pub fn load<M: Module>(&self, model: M, optimizer: ModuleOptimizer, settings: &Settings) -> Result<Option<PhaseState<M>>> {
        let path = self.dir.join(STATE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let file: StateFile = serde_json::from_str(&text).map_err(|e| self.problem(STATE, e))?;
        if file.settings != *settings {
            return Err(self.problem(STATE, "it was written with other training settings or data"));
        }
        let model = with_param_ids(weights::load(model, &self.dir.join(&file.model))?, &file.param_ids)
            .ok_or_else(|| self.problem(&file.model, "the model has another number of parameters"))?;
        let optimizer_path = self.dir.join(&file.optimizer);
        let bytes = std::fs::read(&optimizer_path).map_err(|e| Error::io(&optimizer_path, e))?;
        let optimizer = optimizer.from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| self.problem(&file.optimizer, e))?;
        let best = match &file.best {
            Some(name) => Some(weights::load(model.clone(), &self.dir.join(name))?),
            None => None,
        };
        Ok(Some(PhaseState { model, optimizer, best, progress: file.progress, augment_rng: file.augment_rng }))
    }

    fn remove_all_but(&self, keep: &[&str]) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            let kept = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| keep.contains(&n));
            if !kept {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }

    fn problem(&self, file: &str, problem: impl ToString) -> Error {
        Error::Checkpoint { path: self.dir.join(file), problem: problem.to_string() }
    }
}

/// `model` with its parameters' ids set to `ids` (in module order); `None` if the counts differ.
fn with_param_ids<M: Module>(model: M, ids: &[u64]) -> Option<M> {
    if list_param_ids(&model).len() != ids.len() {
        return None;
    }
    Some(model.map(&mut IdSetter { ids: ids.iter() }))
}

struct IdSetter<'a> {
    ids: std::slice::Iter<'a, u64>,
}

impl ModuleMapper for IdSetter<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        let id = *self.ids.next().expect("counted before mapping");
        Param::from_mapped_value(ParamId::from(id), value, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, TensorData};
    use rand::SeedableRng;

    use crate::train::optimizer::OptimizerKind;
    use crate::train::step::Tally;

    fn settings() -> Settings {
        let config = TrainConfig { optimizer: OptimizerKind::Sgd, learning_rate: 0.1, momentum: 0.9, batch_size: 2, epochs: 3, ..TrainConfig::default() };
        Settings { config, samples: 2 }
    }

    /// One SGD step on a fixed input: with momentum, its result depends on the optimizer state.
    fn step(model: Linear, optimizer: &mut ModuleOptimizer) -> Linear {
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5, 3.0, 0.0, -1.0], [2, 3]), &model.weight.device());
        let grads = GradientsParams::from_grads(model.forward(x).sum().backward(), &model);
        optimizer.step(0.1, model, grads)
    }

    fn fresh() -> (Linear, ModuleOptimizer) {
        (LinearConfig::new(3, 2).init(&Device::flex().autodiff()), settings().config.optimizer())
    }

    fn state_after_one_step() -> PhaseState<Linear> {
        let (model, mut optimizer) = fresh();
        let model = step(model, &mut optimizer);
        let mut progress = Progress { epochs_done: 1, loss_sum: 0.1 + 0.2, ..Progress::default() };
        progress.tallies.add("accuracy", Tally { hits: 3, of: 4 });
        PhaseState { model, optimizer, best: None, progress, augment_rng: ChaCha12Rng::seed_from_u64(4) }
    }

    fn weights(model: &Linear) -> Vec<f32> {
        model.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn a_loaded_checkpoint_continues_exactly_like_the_saved_state() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = Checkpoints::new(dir.path().to_path_buf(), 1, "resume".into());
        let saved = state_after_one_step();
        checkpoints.save(&saved, &settings()).unwrap();
        let (model, optimizer) = fresh();
        let mut loaded = checkpoints.load(model, optimizer, &settings()).unwrap().expect("a checkpoint");

        assert_eq!(weights(&loaded.model), weights(&saved.model));
        assert_eq!(list_param_ids(&loaded.model), list_param_ids(&saved.model));
        assert_eq!((loaded.progress.epochs_done, loaded.progress.loss_sum), (1, 0.1 + 0.2));
        assert_eq!(loaded.progress.tallies, saved.progress.tallies);
        assert_eq!(loaded.augment_rng, saved.augment_rng);
        // The momentum buffers came back: the next step matches the uninterrupted one, and
        // differs from a step with a fresh optimizer.
        let mut original = saved.optimizer.clone();
        let continued = step(saved.model.clone(), &mut original);
        let resumed = step(loaded.model.clone(), &mut loaded.optimizer);
        assert_eq!(weights(&resumed), weights(&continued));
        assert_ne!(weights(&step(saved.model, &mut settings().config.optimizer())), weights(&continued));
    }

    #[test]
    fn a_new_checkpoint_replaces_the_files_of_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = Checkpoints::new(dir.path().to_path_buf(), 1, "resume".into());
        let mut state = state_after_one_step();
        checkpoints.save(&state, &settings()).unwrap();
        state.progress.epochs_done = 2;
        state.best = Some(state.model.clone());
        checkpoints.save(&state, &settings()).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        assert_eq!(files, ["best-e0002-s00000.safetensors", "model-e0002-s00000.safetensors", "optimizer-e0002-s00000.bpk", "state.json"]);
    }

    #[test]
    fn checkpoints_of_other_settings_or_damaged_ones_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = Checkpoints::new(dir.path().to_path_buf(), 1, "resume".into());
        let (model, optimizer) = fresh();
        assert!(checkpoints.load(model.clone(), optimizer.clone(), &settings()).unwrap().is_none());
        checkpoints.save(&state_after_one_step(), &settings()).unwrap();

        let other = Settings { samples: 3, ..settings() };
        let err = checkpoints.load(model.clone(), optimizer.clone(), &other).err().expect("refused");
        assert!(matches!(err, Error::Checkpoint { .. }) && err.to_string().contains("other training settings"), "{err}");

        let optimizer_file = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "bpk")).unwrap();
        std::fs::write(&optimizer_file, b"garbage").unwrap();
        let err = checkpoints.load(model.clone(), optimizer.clone(), &settings()).err().expect("refused");
        assert!(matches!(err, Error::Checkpoint { ref path, .. } if *path == optimizer_file), "{err}");

        std::fs::write(dir.path().join(STATE), b"{ not json").unwrap();
        let err = checkpoints.load(model, optimizer, &settings()).err().expect("refused");
        assert!(matches!(err, Error::Checkpoint { ref path, .. } if path.ends_with(STATE)), "{err}");
    }
}
