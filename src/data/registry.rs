//! The data sets pretext knows, the one place that tells them apart: `data.dataset`
//! (`mnist|fashion-mnist|cifar10|folder:PATH`), and how each is found, downloaded and loaded.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::data::catalog::{self, CATALOG, DatasetSpec};
use crate::data::cifar::{CIFAR10, CifarSpec};
use crate::data::dataset::Dataset;
use crate::data::folder::{self, FolderOptions};
use crate::error::{Error, Result};

/// Where a data set comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// MNIST or Fashion-MNIST (IDX files).
    Idx(&'static DatasetSpec),
    /// CIFAR-10 (binary batches).
    Cifar(&'static CifarSpec),
    /// A folder of images in class sub-folders.
    Folder(PathBuf),
}

/// The `data.dataset` prefix of image folders.
const FOLDER_PREFIX: &str = "folder:";

impl DataSource {
    /// Reads a `data.dataset` value.
    pub fn parse(name: &str) -> Result<Self> {
        if let Some(path) = name.strip_prefix(FOLDER_PREFIX) {
            if path.is_empty() {
                return Err(Error::Config("`data.dataset` folder:PATH needs a path after 'folder:'".into()));
            }
            return Ok(DataSource::Folder(PathBuf::from(path)));
        }
        if let Some(spec) = CATALOG.iter().find(|s| s.name == name) {
            return Ok(DataSource::Idx(spec));
        }
        if name == CIFAR10.name {
            return Ok(DataSource::Cifar(&CIFAR10));
        }
        let known: Vec<&str> = CATALOG.iter().map(|s| s.name).chain([CIFAR10.name]).collect();
        Err(Error::Config(format!("unknown data set '{name}' (known: {}, folder:PATH)", known.join(", "))))
    }

    /// Loads the data set: a folder as it is, a named one from `data_dir`, the standard
    /// places, or (when it is nowhere and no `data_dir` was given) a download into the cache.
    pub fn load(&self, options: &FolderOptions, data_dir: Option<&Path>) -> Result<Dataset> {
        self.check(options)?;
        match self {
            DataSource::Folder(root) => Ok(folder::load(root, options)?.located_at(root)),
            DataSource::Idx(spec) => {
                let dir = self.locate(spec.resolve_dir(data_dir), data_dir)?;
                Ok(spec.load(&dir)?.located_at(&dir))
            }
            DataSource::Cifar(spec) => {
                let dir = self.locate(spec.resolve_dir(data_dir), data_dir)?;
                Ok(spec.load(&dir)?.located_at(&dir))
            }
        }
    }

    /// Refuses folder settings for a data set that is not a folder, naming the first.
    pub fn check(&self, options: &FolderOptions) -> Result<()> {
        match (self, options.changed().first()) {
            (DataSource::Folder(_), _) | (_, None) => Ok(()),
            (_, Some(key)) => Err(Error::Config(format!("`{key}` applies to image folders (`data.dataset` folder:PATH), not to {self}"))),
        }
    }

    /// `found`, or the cache after a download when the data set is nowhere else.
    fn locate(&self, found: Result<PathBuf>, data_dir: Option<&Path>) -> Result<PathBuf> {
        match found {
            Err(Error::DataNotFound { .. }) if data_dir.is_none() => {
                let cache = self.cache_dir();
                eprintln!("{self} not found locally; downloading it to {}", cache.display());
                self.fetch(&cache)?;
                Ok(cache)
            }
            other => other,
        }
    }

    /// Where a download puts the data set by default.
    pub fn cache_dir(&self) -> PathBuf {
        catalog::cache_dir(&self.to_string())
    }

    /// Downloads a named data set into `dest`, verifying its checksums.
    pub fn fetch(&self, dest: &Path) -> Result<()> {
        match self {
            DataSource::Idx(spec) => spec.fetch(dest),
            DataSource::Cifar(spec) => spec.fetch(dest),
            DataSource::Folder(root) => Err(Error::Config(format!("{} is a local folder; there is nothing to download", root.display()))),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Idx(spec) => f.write_str(spec.name),
            DataSource::Cifar(spec) => f.write_str(spec.name),
            DataSource::Folder(root) => write!(f, "{FOLDER_PREFIX}{}", root.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_their_sources_and_unknown_ones_list_the_known() {
        assert!(matches!(DataSource::parse("mnist").unwrap(), DataSource::Idx(s) if s.name == "mnist"));
        assert!(matches!(DataSource::parse("cifar10").unwrap(), DataSource::Cifar(_)));
        assert!(matches!(DataSource::parse("folder:/x/y").unwrap(), DataSource::Folder(p) if p == Path::new("/x/y")));
        assert_eq!(DataSource::parse("folder:/x/y").unwrap().to_string(), "folder:/x/y");
        let err = DataSource::parse("imagenet").unwrap_err().to_string();
        assert!(err.contains("mnist, fashion-mnist, cifar10, folder:PATH"), "{err}");
        assert!(DataSource::parse("folder:").is_err());
    }
}
