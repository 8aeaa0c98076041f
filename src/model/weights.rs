//! Weights as safetensors, written atomically (temporary file, fsync, rename) and checked
//! tensor by tensor when loaded.

use std::path::Path;

use burn::module::Module;
use burn_store::{ApplyError, ModuleSnapshot, SafetensorsStore};

use crate::error::{Error, Result};
use crate::files::write_atomically;

/// Writes `module`'s parameters to `path` so that a crash never leaves a partial file.
pub fn save<M: Module>(module: &M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_bytes(None).skip_enum_variants(true);
    module
        .save_into(&mut store)
        .map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    let bytes = store.get_bytes().map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    write_atomically(path, &bytes)
}

/// Loads parameters from `path` into `module`, refusing missing, extra or mis-shaped tensors.
pub fn load<M: Module>(mut module: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // Not `validate(true)`: its error lists every mismatch in Debug form; ours names the first.
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true).validate(false).allow_partial(true);
    let result = module
        .load_from(&mut store)
        .map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    let problems: Vec<String> = result
        .errors
        .iter()
        .map(describe)
        .chain(result.missing.iter().map(|(name, _)| format!("tensor '{name}' is missing")))
        .chain(result.unused.iter().map(|name| format!("tensor '{name}' is not part of the model")))
        .collect();
    match problems.as_slice() {
        [] => Ok(module),
        [first, rest @ ..] => {
            let more = if rest.is_empty() { String::new() } else { format!(" (and {} more)", rest.len()) };
            let problem = format!("{first}{more}; these weights belong to another model (other model settings, or another file)");
            Err(Error::Weights { path: path.to_path_buf(), problem })
        }
    }
}

/// One line for one tensor that does not fit.
fn describe(error: &ApplyError) -> String {
    match error {
        ApplyError::ShapeMismatch { path, expected, found } => {
            format!("tensor '{path}' has shape {:?}, the model expects {:?}", found.as_slice(), expected.as_slice())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::rotation::RotationModel;
    use crate::model::encoders::notebook::NotebookConfig;
    use crate::model::encoders::{EncoderConfig, ModelConfig};
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha12Rng;

    fn pretext_model(filters: [usize; 3]) -> RotationModel {
        let config = ModelConfig { encoder: EncoderConfig::Notebook(NotebookConfig { filters, ..NotebookConfig::default() }), ..ModelConfig::default() };
        RotationModel::init(&config, crate::data::images::ImageShape::square(1, 28), &mut ChaCha12Rng::seed_from_u64(0), &Device::flex())
    }

    #[test]
    fn weights_round_trip_and_mismatches_name_the_tensor_and_both_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pretext.safetensors");
        save(&pretext_model([8, 4, 2]), &path).unwrap();
        assert!(load(pretext_model([8, 4, 2]), &path).is_ok());

        let err = load(pretext_model([64, 32, 16]), &path).unwrap_err().to_string();
        assert!(err.contains("tensor 'encoder.conv1.weight' has shape [8, 1, 3, 3], the model expects [64, 1, 3, 3]"), "{err}");
        assert!(err.contains("(and 6 more)") && err.lines().count() == 1, "{err}");

        std::fs::write(&path, b"not safetensors").unwrap();
        let err = load(pretext_model([8, 4, 2]), &path).unwrap_err();
        assert!(matches!(err, Error::Weights { .. }), "{err}");
    }
}
