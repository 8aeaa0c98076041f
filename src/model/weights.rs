//! Weights as safetensors, written atomically (temporary file, fsync, rename) and checked
//! tensor by tensor when loaded.

use std::io::Write;
use std::path::Path;

use burn::module::Module;
use burn_store::{ModuleSnapshot, SafetensorsStore};

use crate::error::{Error, Result};

/// Writes `module`'s parameters to `path` so that a crash never leaves a partial file.
pub fn save<M: Module>(module: &M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    let bytes = store.get_bytes().map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    write_atomically(path, &bytes)
}

/// Loads parameters from `path` into `module`, refusing missing, extra or mis-shaped tensors.
pub fn load<M: Module>(mut module: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).validate(true).allow_partial(false);
    let result = module
        .load_from(&mut store)
        .map_err(|e| Error::Weights { path: path.to_path_buf(), problem: e.to_string() })?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        let problem = result
            .errors
            .iter()
            .map(|e| e.to_string())
            .chain(result.missing.iter().map(|(name, _)| format!("tensor '{name}' is missing")))
            .chain(result.unused.iter().map(|name| format!("tensor '{name}' is not part of the model")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Weights { path: path.to_path_buf(), problem });
    }
    Ok(module)
}

/// Writes `bytes` to a temporary sibling, syncs it, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
