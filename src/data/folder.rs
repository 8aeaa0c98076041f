//! Image folders, the layout torchvision's `ImageFolder` reads: `PATH/<class>/*.png|jpg` for
//! labelled images; images directly in `PATH` (or in `data.folder.unlabeled_dir`) for unlabeled ones;
//! `PATH/test/<class>/` for test images when it exists, else a seeded split of the labelled
//! images. Every image is brought to one shape (grey or RGB, `data.folder.image_size` square).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::dataset::{Dataset, SkippedFile};
use crate::data::images::{ImageShape, LabeledImages};
use crate::error::{Error, Invalid, Result};
use crate::wording::worded;

/// File extensions read as images (case-insensitive).
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Seed of the test split and of the training images' order: fixed, so that every run over a
/// folder tests on the same images whatever its own seed.
const SPLIT_SEED: u64 = 0x5EED;

/// How an image of another size is brought to `data.folder.image_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Resize {
    /// Scale the shorter side to the size, then cut the centre square (torchvision's
    /// `Resize` + `CenterCrop`): no distortion, the edges of long images are lost.
    #[default]
    Crop,
    /// Scale each side to the size: the whole image, distorted if it was not square.
    Stretch,
}

/// What to do with a file that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unreadable {
    /// Leave it out, and name it (on stderr, in dataset.json and in the report).
    #[default]
    Skip,
    /// Stop with an error naming it.
    Fail,
}

/// Settings that only image folders use (`[data.folder]` in config.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderOptions {
    /// 1 (grey) or 3 (RGB); by default 3 when any image has colour, else 1.
    pub channels: Option<usize>,
    /// Side of the square images the model sees; by default the images' own size, which must
    /// then be square and the same for every image.
    pub image_size: Option<usize>,
    /// How images of another size are brought to `image_size`.
    pub resize: Resize,
    /// Fraction of the labelled images held out for testing when there is no `test/` folder.
    pub test_fraction: f64,
    /// Another folder of unlabeled images for the pretext phase.
    pub unlabeled_dir: Option<PathBuf>,
    /// What to do with files that cannot be decoded.
    pub unreadable: Unreadable,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self { channels: None, image_size: None, resize: Resize::Crop, test_fraction: 0.2, unlabeled_dir: None, unreadable: Unreadable::Skip }
    }
}

impl FolderOptions {
    /// Names the first setting that cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.channels.is_some_and(|c| c != 1 && c != 3) {
            return Err(Invalid::new("channels", format!("must be 1 (grey) or 3 (RGB), got {}", self.channels.unwrap_or(0))));
        }
        if self.image_size == Some(0) {
            return Err(Invalid::new("image_size", "must be at least 1"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Invalid::new("test_fraction", format!("must be in (0, 1), got {}", self.test_fraction)));
        }
        Ok(())
    }

    /// The keys of the settings that differ from their defaults, which a data set other than a
    /// folder refuses.
    pub fn changed(&self) -> Vec<&'static str> {
        let default = Self::default();
        let mut changed = Vec::new();
        let mut note = |is: bool, flag| {
            if is {
                changed.push(flag);
            }
        };
        note(self.channels != default.channels, "data.folder.channels");
        note(self.image_size != default.image_size, "data.folder.image_size");
        note(self.resize != default.resize, "data.folder.resize");
        note(self.test_fraction != default.test_fraction, "data.folder.test_fraction");
        note(self.unlabeled_dir != default.unlabeled_dir, "data.folder.unlabeled_dir");
        note(self.unreadable != default.unreadable, "data.folder.unreadable");
        changed
    }
}

/// Reads the image folder at `root`.
pub fn load(root: &Path, options: &FolderOptions) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(Error::malformed(root, "is not a folder; `data.dataset` folder:PATH reads PATH/<class>/*.png|jpg"));
    }
    let train_root = if root.join("train").is_dir() { root.join("train") } else { root.to_path_buf() };
    let test_root = root.join("test");
    let listing = list(&train_root, &[test_root.clone(), root.join("train")])?;
    if listing.classes.is_empty() {
        return Err(Error::malformed(
            &train_root,
            "holds no class sub-folders; put labelled images in PATH/<class>/ (unlabeled ones may sit in PATH itself or in `data.folder.unlabeled_dir`)",
        ));
    }
    if let [(only, _)] = listing.classes.as_slice() {
        // A classifier of one class scores 1.0 on its own test images: a silent wrong result.
        return Err(Error::malformed(&train_root, format!("holds one class folder ({only}); a classifier needs two or more: add a sub-folder per class")));
    }
    let classes: Vec<String> = listing.classes.iter().map(|(name, _)| name.clone()).collect();
    let mut unlabeled_files = listing.unlabeled;
    if let Some(dir) = &options.unlabeled_dir {
        unlabeled_files.extend(list(dir, &[])?.unlabeled);
    }
    let test_listing = if test_root.is_dir() { Some(list(&test_root, &[])?) } else { None };

    let mut skipped = Vec::new();
    let mut decode_all = |files: &[(PathBuf, u8)]| decode(files, options, &mut skipped);
    let labelled = decode_all(&labelled_files(&listing.classes, &classes, &train_root)?)?;
    let unlabeled = decode_all(&unlabeled_files.into_iter().map(|p| (p, 0)).collect::<Vec<_>>())?;
    let test = match &test_listing {
        Some(test) => decode_all(&labelled_files(&test.classes, &classes, &test_root)?)?,
        None => Vec::new(),
    };
    let shape = shape_of(labelled.iter().chain(&unlabeled).chain(&test), options, &skipped)?;
    let to_images = |decoded: Vec<Decoded>| images(decoded, shape, options.resize);

    let mut labelled = labelled;
    labelled.shuffle(&mut ChaCha12Rng::seed_from_u64(SPLIT_SEED));
    let (train, test, test_source) = match test_listing {
        Some(_) if test.is_empty() => {
            return Err(Error::malformed(&test_root, "holds no readable test image; add images or remove the folder to split the labelled ones"));
        }
        Some(_) => (labelled, test, test_root.display().to_string()),
        None => hold_out(labelled, options.test_fraction, &train_root)?,
    };
    let name = format!("folder:{}", root.display());
    let unlabeled = to_images(unlabeled);
    Ok(Dataset::new(&name, to_images(train), to_images(test), classes).with_unlabeled(unlabeled).with_test_source(test_source).with_skipped(skipped))
}

/// Splits the (shuffled) labelled images into training and test images, `fraction` of them
/// for testing, and says so.
fn hold_out(mut labelled: Vec<Decoded>, fraction: f64, root: &Path) -> Result<(Vec<Decoded>, Vec<Decoded>, String)> {
    let held_out = ((labelled.len() as f64) * fraction).round() as usize;
    if held_out == 0 || held_out == labelled.len() {
        return Err(Error::malformed(
            root,
            format!("{} labelled images with `data.folder.test_fraction` {fraction} leave no test or no training image; add images or a test/ folder", labelled.len()),
        ));
    }
    let train = labelled.split_off(held_out);
    let source = worded(&format!("{held_out} of the labelled images, `data.folder.test_fraction` {fraction} drawn with split seed {SPLIT_SEED}"));
    Ok((train, labelled, source))
}

/// One folder's class sub-folders (name, image files) and loose image files, sorted by name.
struct Listing {
    classes: Vec<(String, Vec<PathBuf>)>,
    unlabeled: Vec<PathBuf>,
}

/// Lists `dir`, leaving out the sub-folders in `skip`; names files that are not images.
fn list(dir: &Path, skip: &[PathBuf]) -> Result<Listing> {
    let mut classes = Vec::new();
    let mut unlabeled = Vec::new();
    let mut ignored = Vec::new();
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            if skip.contains(&path) {
                continue;
            }
            let (images, other): (Vec<PathBuf>, Vec<PathBuf>) = sorted_entries(&path)?.into_iter().filter(|p| p.is_file()).partition(|p| is_image(p));
            ignored.extend(other);
            if images.is_empty() {
                return Err(Error::malformed(&path, "is a class folder without any .png or .jpg image; add images or remove it"));
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            classes.push((name, images));
        } else if is_image(&path) {
            unlabeled.push(path);
        } else {
            ignored.push(path);
        }
    }
    if let Some(first) = ignored.first() {
        eprintln!("note: ignored {} file(s) in {} that are not .png or .jpg, e.g. {}", ignored.len(), dir.display(), first.display());
    }
    if classes.len() > usize::from(u8::MAX) + 1 {
        return Err(Error::malformed(dir, format!("holds {} class folders; at most 256 are supported", classes.len())));
    }
    Ok(Listing { classes, unlabeled })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = entries.map(|e| e.map(|e| e.path())).collect::<std::io::Result<Vec<_>>>().map_err(|e| Error::io(dir, e))?;
    paths.sort();
    Ok(paths)
}

/// The .png and .jpg files in `dir` and its sub-folders, each folder's in name order.
pub fn images_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            images.extend(images_under(&path)?);
        } else if is_image(&path) {
            images.push(path);
        }
    }
    Ok(images)
}

fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every file of `found` classes with its label among `classes` (the training classes).
fn labelled_files(found: &[(String, Vec<PathBuf>)], classes: &[String], root: &Path) -> Result<Vec<(PathBuf, u8)>> {
    let mut files = Vec::new();
    for (name, paths) in found {
        let label = classes.iter().position(|c| c == name).ok_or_else(|| {
            Error::malformed(&root.join(name), format!("is a test class that the training images lack (their classes: {})", classes.join(", ")))
        })?;
        files.extend(paths.iter().map(|p| (p.clone(), label as u8)));
    }
    Ok(files)
}

/// A decoded image with its file and label.
struct Decoded {
    path: PathBuf,
    label: u8,
    image: DynamicImage,
}

/// Decodes `files` on every core; an unreadable one is added to `skipped` or refused. With
/// `data.folder.image_size`, each image is brought to its size at once, so that a folder of large photos
/// never sits in memory at full size.
fn decode(files: &[(PathBuf, u8)], options: &FolderOptions, skipped: &mut Vec<SkippedFile>) -> Result<Vec<Decoded>> {
    let results: Vec<_> = files
        .par_iter()
        .map(|(path, label)| {
            let image = open_image(path).map(|image| match options.image_size {
                    Some(side) => fit(image, (side as u32, side as u32), options.resize),
                    None => image,
                });
            (path, *label, image)
        })
        .collect();
    let mut decoded = Vec::with_capacity(results.len());
    for (path, label, image) in results {
        match (image, options.unreadable) {
            (Ok(image), _) => decoded.push(Decoded { path: path.clone(), label, image }),
            (Err(problem), Unreadable::Skip) => skipped.push(SkippedFile { path: path.clone(), problem }),
            (Err(problem), Unreadable::Fail) => {
                return Err(Error::Image { path: path.clone(), problem: format!("cannot be read as an image ({problem}); pass `data.folder.unreadable` skip to leave such files out") });
            }
        }
    }
    Ok(decoded)
}

/// The image in the file at `path`, whatever its extension says: the format is guessed from
/// its first bytes. The error is the problem in one line (the decoders' messages may hold line
/// breaks), for the caller to name the file.
pub fn open_image(path: &Path) -> std::result::Result<DynamicImage, String> {
    let one_line = |e: &dyn std::fmt::Display| e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
    image::ImageReader::open(path)
        .map_err(|e| one_line(&e))
        .and_then(|r| r.with_guessed_format().map_err(|e| one_line(&e)))
        .and_then(|r| r.decode().map_err(|e| one_line(&e)))
}

/// The shape every image is brought to: the options', else the images' own (which must then
/// agree, and be square).
fn shape_of<'a>(mut images: impl Iterator<Item = &'a Decoded> + Clone, options: &FolderOptions, skipped: &[SkippedFile]) -> Result<ImageShape> {
    let first = images.clone().next().ok_or_else(|| {
        let first = skipped.first().map_or_else(String::new, |file| format!(", the first: {file}"));
        Error::Config(format!("the folder holds no readable image ({} file(s) could not be read as images{first})", skipped.len()))
    })?;
    let channels = options.channels.unwrap_or(if images.clone().any(|d| d.image.color().has_color()) { 3 } else { 1 });
    let side = match options.image_size {
        Some(side) => side,
        None => {
            let (w, h) = first.image.dimensions();
            if let Some(other) = images.find(|d| d.image.dimensions() != (w, h)) {
                let (ow, oh) = other.image.dimensions();
                return Err(Error::Config(format!(
                    "images differ in size ({} is {w}x{h}, {} is {ow}x{oh}); pass `data.folder.image_size` N to bring them all to NxN",
                    first.path.display(),
                    other.path.display()
                )));
            }
            if w != h {
                return Err(Error::Config(format!("images are {w}x{h}, not square; pass `data.folder.image_size` N to bring them to NxN")));
            }
            w as usize
        }
    };
    Ok(ImageShape::square(channels, side))
}

/// The images brought to `shape`, as planar bytes.
fn images(decoded: Vec<Decoded>, shape: ImageShape, resize: Resize) -> LabeledImages {
    let labels = decoded.iter().map(|d| d.label).collect();
    let pixels = decoded.into_par_iter().flat_map_iter(|d| planar(d.image, shape, resize)).collect();
    LabeledImages::new(pixels, labels, shape)
}

/// One image brought to `shape` (grey or RGB, resized by `resize` when its size differs), laid
/// out plane by plane.
pub fn planar(image: DynamicImage, shape: ImageShape, resize: Resize) -> Vec<u8> {
    let sized = fit(image, (shape.width as u32, shape.height as u32), resize);
    if shape.channels == 1 {
        return sized.to_luma8().into_raw();
    }
    let rgb = sized.to_rgb8().into_raw();
    (0..3).flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>()).collect()
}

/// `image` at `width`x`height`: as it is when it already is, else resized by `resize`.
fn fit(image: DynamicImage, (width, height): (u32, u32), resize: Resize) -> DynamicImage {
    match resize {
        _ if image.dimensions() == (width, height) => image,
        Resize::Stretch => image.resize_exact(width, height, FilterType::Triangle),
        Resize::Crop => image.resize_to_fill(width, height, FilterType::Triangle),
    }
}

/// Writes `images` as `root/<class>/<index>.png` (grey or RGB), the layout [`load`] reads;
/// a `/` in a class name becomes `-`.
pub fn export(images: &LabeledImages, classes: &[String], root: &Path) -> Result<()> {
    let shape = images.shape();
    let (w, h) = (shape.width as u32, shape.height as u32);
    for i in 0..images.len() {
        let dir = root.join(classes[images.label(i)].replace('/', "-"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("{i:05}.png"));
        let planes = images.image(i);
        let saved = if shape.channels == 1 {
            image::GrayImage::from_raw(w, h, planes.to_vec()).map(|img| img.save(&path))
        } else {
            let plane = shape.plane();
            let interleaved = (0..plane).flat_map(|p| (0..3).map(move |c| planes[c * plane + p])).collect();
            image::RgbImage::from_raw(w, h, interleaved).map(|img| img.save(&path))
        };
        saved.expect("buffer sized by the shape").map_err(|e| Error::Image { path: path.clone(), problem: e.to_string() })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, RgbImage};

    #[test]
    fn crop_keeps_the_centre_and_stretch_the_whole_image() {
        // 6x2: two black columns, two grey ones, two white ones.
        let wide = DynamicImage::ImageLuma8(GrayImage::from_fn(6, 2, |x, _| image::Luma([[0, 128, 255][x as usize / 2]])));
        let crop = planar(wide.clone(), ImageShape::square(1, 2), Resize::Crop);
        assert!(crop.iter().all(|&p| p == 128), "the centre 2x2 is grey: {crop:?}");
        let stretch = planar(wide, ImageShape::square(1, 2), Resize::Stretch);
        assert!(stretch[0] < 100 && stretch[1] > 155, "both ends survive: {stretch:?}");
    }

    #[test]
    fn rgb_pixels_become_planes_and_grey_becomes_three_equal_planes() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_fn(2, 1, |x, _| image::Rgb([10 + x as u8, 20, 30])));
        assert_eq!(planar(rgb, ImageShape { channels: 3, height: 1, width: 2 }, Resize::Crop), [10, 11, 20, 20, 30, 30]);
        let grey = DynamicImage::ImageLuma8(GrayImage::from_raw(1, 1, vec![7]).unwrap());
        assert_eq!(planar(grey, ImageShape::square(3, 1), Resize::Crop), [7, 7, 7]);
    }
}
