//! The data sets in MNIST's IDX layout (MNIST, Fashion-MNIST): their files and checksums,
//! where to download them; and the folders every named data set is searched in.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::data::download::{check_sha256, fetch_file, sha256_hex};
use crate::data::idx::{is_gzip, read_idx};
use crate::data::dataset::Dataset;
use crate::data::images::{ImageShape, LabeledImages};
use crate::error::{Error, Result};

/// Environment variable that points at a folder of data sets (one sub-folder per name) or
/// directly at a folder holding the IDX files.
pub const DATA_DIR_ENV: &str = "PRETEXT_DATA_DIR";

/// One IDX file of a data set and the SHA-256 of its uncompressed bytes.
#[derive(Debug, Clone, Copy)]
pub struct IdxFile {
    /// File name without `.gz`.
    pub name: &'static str,
    /// Hex SHA-256 of the uncompressed file.
    pub sha256: &'static str,
}

/// A data set in the IDX layout of MNIST: grey train/test images and labels.
#[derive(Debug, Clone, Copy)]
pub struct DatasetSpec {
    /// Name used on the command line.
    pub name: &'static str,
    /// Human names of the classes, in label order.
    pub classes: &'static [&'static str],
    /// Training images, training labels, test images, test labels.
    pub files: [IdxFile; 4],
    /// Base addresses that serve `<file>.gz`, tried in order.
    pub mirrors: &'static [&'static str],
}

/// MNIST handwritten digits.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    classes: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ],
    mirrors: &[
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ],
};

/// Zalando's Fashion-MNIST: same format, ten kinds of clothing.
///
/// Upstream publishes only MD5s of its gzip files; these SHA-256 values are of the
/// uncompressed files as Debian's `dataset-fashion-mnist` package ships them.
pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    classes: &[
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot",
    ],
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ],
    mirrors: &["https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
};

/// The data sets in the IDX layout.
pub const CATALOG: &[DatasetSpec] = &[MNIST, FASHION_MNIST];

/// Folders searched for the data set `name`, in order: the `data_dir` given (and its `<name>`
/// sub-folder), `$PRETEXT_DATA_DIR` (likewise), the user cache folder,
/// `/usr/share/datasets/<name>` (Debian packages).
pub fn candidate_dirs(name: &str, explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf(), dir.join(name)];
    }
    let mut dirs = Vec::new();
    if let Some(env) = std::env::var_os(DATA_DIR_ENV) {
        let env = PathBuf::from(env);
        dirs.push(env.join(name));
        dirs.push(env);
    }
    dirs.push(cache_dir(name));
    dirs.push(Path::new("/usr/share/datasets").join(name));
    dirs
}

/// Where `pretext data fetch` puts the data set `name` by default.
pub fn cache_dir(name: &str) -> PathBuf {
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("pretext").join(name)
}

impl DatasetSpec {
    /// The first candidate folder that holds all four files, raw or gzipped.
    pub fn resolve_dir(&self, explicit: Option<&Path>) -> Result<PathBuf> {
        let candidates = candidate_dirs(self.name, explicit);
        candidates
            .iter()
            .find(|dir| self.files.iter().all(|f| locate(dir, f.name).is_some()))
            .cloned()
            .ok_or_else(|| Error::DataNotFound {
                name: self.name.to_string(),
                searched: candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            })
    }

    /// Loads train and test halves from `dir`, checking that images and labels agree.
    /// A damaged file's error also says how to get a good copy.
    pub fn load(&self, dir: &Path) -> Result<Dataset> {
        let [train_images, train_labels, test_images, test_labels] = self.files;
        let load = || {
            Ok(Dataset::new(
                self.name,
                self.load_pair(dir, train_images, train_labels)?,
                self.load_pair(dir, test_images, test_labels)?,
                self.classes.iter().map(|c| c.to_string()).collect(),
            ))
        };
        load().map_err(|e| match e {
            Error::MalformedData { path, problem } => {
                let fix = format!("`pretext data fetch {}` downloads a copy with verified checksums", self.name);
                Error::MalformedData { path, problem: format!("{problem}; {fix}") }
            }
            other => other,
        })
    }

    fn load_pair(&self, dir: &Path, images: IdxFile, labels: IdxFile) -> Result<LabeledImages> {
        let image_path = locate(dir, images.name).unwrap_or_else(|| dir.join(images.name));
        let label_path = locate(dir, labels.name).unwrap_or_else(|| dir.join(labels.name));
        let images = read_idx(&image_path, 3)?;
        let labels = read_idx(&label_path, 1)?;
        let (n, height, width) = (images.dims[0], images.dims[1], images.dims[2]);
        if labels.dims[0] != n {
            return Err(Error::malformed(
                &label_path,
                format!("holds {} labels but {} holds {n} images", labels.dims[0], image_path.display()),
            ));
        }
        if let Some(pos) = labels.data.iter().position(|&l| l as usize >= self.classes.len()) {
            return Err(Error::malformed(
                &label_path,
                format!("label {} at index {pos} is outside 0..{}", labels.data[pos], self.classes.len() - 1),
            ));
        }
        Ok(LabeledImages::new(images.data, labels.data, ImageShape { channels: 1, height, width }))
    }

    /// Downloads the four files into `dest`, verifying each checksum before it is moved into
    /// place; a failed or corrupt transfer leaves only a `.part` file, never a complete-looking one.
    pub fn fetch(&self, dest: &Path) -> Result<()> {
        let needed = format!("its four files ({}, raw or .gz)", self.files.map(|f| f.name).join(", "));
        for file in &self.files {
            fetch_file(self.mirrors, &format!("{}.gz", file.name), &needed, dest, |path| verify_file(path, file))?;
        }
        Ok(())
    }

    /// Checks every local file against its published checksum.
    pub fn verify(&self, dir: &Path) -> Result<()> {
        for file in &self.files {
            let path = locate(dir, file.name).unwrap_or_else(|| dir.join(file.name));
            verify_file(&path, file)?;
        }
        Ok(())
    }
}

/// `dir/name` or `dir/name.gz`, whichever exists.
fn locate(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

/// Checks the SHA-256 of the uncompressed contents of a raw or gzipped file.
fn verify_file(path: &Path, file: &IdxFile) -> Result<()> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
    let actual = if is_gzip(&mut reader).map_err(|e| Error::io(path, e))? { sha256_hex(GzDecoder::new(reader), path)? } else { sha256_hex(reader, path)? };
    check_sha256(path, file.sha256, actual)
}

