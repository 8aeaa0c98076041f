//! CIFAR-10 in its binary version (Krizhevsky 2009): 50,000 training and 10,000 test colour
//! images of 32x32, ten classes. Each batch file is a run of 3,073-byte records: one label
//! byte, then the red, green and blue planes of 1,024 bytes each, row-major: already the
//! planar layout of [`LabeledImages`].

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::data::catalog::{cache_dir, candidate_dirs};
use crate::data::dataset::Dataset;
use crate::data::download::{check_sha256, fetch_file, sha256_hex};
use crate::data::images::{ImageShape, LabeledImages};
use crate::error::{Error, Result};

/// Every CIFAR image: 3 planes of 32x32.
pub const SHAPE: ImageShape = ImageShape { channels: 3, height: 32, width: 32 };
/// Bytes of one record: the label, then the image.
const RECORD: usize = 1 + 3 * 32 * 32;

/// Where CIFAR-10's binary version comes from and what it holds.
#[derive(Debug, Clone, Copy)]
pub struct CifarSpec {
    /// Name used on the command line.
    pub name: &'static str,
    /// Class names in label order.
    pub classes: &'static [&'static str],
    /// The archive's file name.
    pub archive: &'static str,
    /// Hex SHA-256 of the archive.
    pub sha256: &'static str,
    /// Base addresses that serve the archive, tried in order.
    pub mirrors: &'static [&'static str],
    /// Training batch files, then the test batch file.
    pub train_files: &'static [&'static str],
    /// The test batch file.
    pub test_file: &'static str,
}

/// CIFAR-10. Its authors publish only the archive's MD5 (c32a1d4ab5d03f1284b67883e8d87530);
/// the SHA-256 is of that same archive.
pub const CIFAR10: CifarSpec = CifarSpec {
    name: "cifar10",
    classes: &["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    archive: "cifar-10-binary.tar.gz",
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    mirrors: &["https://www.cs.toronto.edu/~kriz/"],
    train_files: &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
    test_file: "test_batch.bin",
};

/// The folder inside the archive that holds the batch files.
const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

impl CifarSpec {
    fn files(&self) -> impl Iterator<Item = &'static str> {
        self.train_files.iter().copied().chain([self.test_file])
    }

    /// The first candidate folder (or its `cifar-10-batches-bin` sub-folder) that holds every
    /// batch file.
    pub fn resolve_dir(&self, explicit: Option<&Path>) -> Result<PathBuf> {
        let candidates: Vec<PathBuf> = candidate_dirs(self.name, explicit).into_iter().flat_map(|d| [d.join(ARCHIVE_FOLDER), d]).collect();
        candidates.iter().find(|dir| self.files().all(|f| dir.join(f).is_file())).cloned().ok_or_else(|| Error::DataNotFound {
            name: self.name.to_string(),
            searched: candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Where `pretext data fetch cifar10` puts the files by default.
    pub fn cache_dir(&self) -> PathBuf {
        cache_dir(self.name)
    }

    /// Loads the training and test batches from `dir`.
    pub fn load(&self, dir: &Path) -> Result<Dataset> {
        let read = |files: &[&str]| -> Result<LabeledImages> {
            let (mut pixels, mut labels) = (Vec::new(), Vec::new());
            for file in files {
                read_batch(&dir.join(file), self.classes.len(), &mut pixels, &mut labels)?;
            }
            Ok(LabeledImages::new(pixels, labels, SHAPE))
        };
        let classes = self.classes.iter().map(|c| c.to_string()).collect();
        Ok(Dataset::new(self.name, read(self.train_files)?, read(&[self.test_file])?, classes))
    }

    /// Downloads the archive into `dest` (checking its SHA-256 before it is kept) and unpacks
    /// the batch files next to it.
    pub fn fetch(&self, dest: &Path) -> Result<()> {
        let needed = format!("{} (or the batch files it holds: {})", self.archive, self.files().collect::<Vec<_>>().join(", "));
        let archive = fetch_file(self.mirrors, self.archive, &needed, dest, |path| self.verify_archive(path))?;
        self.unpack(&archive, dest)
    }

    /// Checks the archive against its published checksum.
    pub fn verify_archive(&self, path: &Path) -> Result<()> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        check_sha256(path, self.sha256, sha256_hex(BufReader::new(file), path)?)
    }

    /// Writes the archive's batch files into `dest` (each through a `.part` file).
    fn unpack(&self, archive: &Path, dest: &Path) -> Result<()> {
        let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
        let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
        let bad = |e: std::io::Error| Error::malformed(archive, format!("cannot be unpacked ({e})"));
        for entry in tar.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let path = entry.path().map_err(bad)?.into_owned();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| self.files().any(|f| f == *n)) else { continue };
            let target = dest.join(name);
            let part = target.with_extension("bin.part");
            let mut out = File::create(&part).map_err(|e| Error::io(&part, e))?;
            std::io::copy(&mut entry, &mut out).map_err(bad)?;
            std::fs::rename(&part, &target).map_err(|e| Error::io(&target, e))?;
        }
        match self.files().find(|f| !dest.join(f).is_file()) {
            Some(missing) => Err(Error::malformed(archive, format!("holds no {missing}; delete it and fetch again"))),
            None => Ok(()),
        }
    }
}

/// Appends the records of one batch file to `pixels` and `labels`.
fn read_batch(path: &Path, classes: usize, pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(Error::malformed(
            path,
            format!(
                "truncated or not a CIFAR batch: {} bytes is not a whole number of {RECORD}-byte records ({} records and {} bytes over)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    for (i, record) in bytes.chunks(RECORD).enumerate() {
        if record[0] as usize >= classes {
            return Err(Error::malformed(path, format!("record {i} has label {}, outside 0..{}", record[0], classes - 1)));
        }
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch file of `n` records whose label is `i % 10` and whose pixels are all `i`.
    fn batch(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| std::iter::once((i % 10) as u8).chain(std::iter::repeat_n(i as u8, RECORD - 1))).collect()
    }

    #[test]
    fn records_become_planar_rgb_images_with_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.bin");
        std::fs::write(&path, batch(3)).unwrap();
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        read_batch(&path, 10, &mut pixels, &mut labels).unwrap();
        let images = LabeledImages::new(pixels, labels, SHAPE);
        assert_eq!((images.len(), images.label(2), images.image(2).len()), (3, 2, 3072));
        assert!(images.image(1).iter().all(|&p| p == 1));
    }

    #[test]
    fn a_truncated_batch_or_a_bad_label_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data_batch_1.bin");
        let mut bytes = batch(2);
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        let err = read_batch(&path, 10, &mut pixels, &mut labels).unwrap_err().to_string();
        assert!(err.contains("data_batch_1.bin") && err.contains("1 records and 3072 bytes over"), "{err}");
        let mut bytes = batch(2);
        bytes[RECORD] = 10;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_batch(&path, 10, &mut pixels, &mut labels).unwrap_err().to_string();
        assert!(err.contains("record 1 has label 10"), "{err}");
    }
}
