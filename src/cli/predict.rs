use std::path::{Path, PathBuf};

use clap::Args;
use image::{ColorType, GenericImageView};

use crate::cli::args::DeviceArg;
use crate::data::dataset::DatasetInfo;
use crate::data::folder::{Resize, images_under, open_image, planar};
use crate::data::images::LabeledImages;
use crate::error::{Error, Result};
use crate::pipeline;
use crate::report::artifacts::RunFolder;

/// Flags of `pretext predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// PNG or JPEG images like the training images (for MNIST: a light digit on a dark
    /// background), or folders of them (sub-folders included); converted to the run's grey or
    /// RGB, and an image of another size is resized to the run's as its image folder was
    /// (--resize). A file that cannot be read is named and skipped; the exit status is then 6
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Invert the grey levels (255 - v) first: for a dark digit on white paper, when the run
    /// learned light digits on a dark background as MNIST's are (default false)
    #[arg(long)]
    pub invert: bool,
    /// Also print each image's logits (class scores before softmax, in class order): what an
    /// exported model (`pretext export`) outputs for the same pixels (default false)
    #[arg(long)]
    pub logits: bool,
    #[command(flatten)]
    pub device: DeviceArg,
}

/// How far from the training images' mean grey level (0..255) an image's must be, on the other
/// side of mid-grey, to be taken for an inverted one.
const INVERTED_BEYOND: f64 = 64.0;

pub fn execute(args: PredictArgs) -> Result<()> {
    let run = RunFolder::open_finished(&args.run)?;
    let weights = run.classifier_weights()?;
    let mut config = run.read_config()?;
    args.device.apply(&mut config);
    let device = config.device.open()?.without_autodiff();
    let dataset = run.read_dataset()?;
    let classes = &dataset.classes;
    let model = pipeline::load_classifier(&config, dataset.shape, classes.len(), &weights, &device)?;
    let images = image_files(&args.images)?;
    let mut pixels = Vec::with_capacity(images.len() * dataset.shape.len());
    let mut read = Vec::new();
    let mut unreadable = Vec::new();
    for path in &images {
        match read_image(path, &dataset, config.data.folder.resize, args.invert) {
            Ok(image) => {
                pixels.extend(image);
                read.push(path);
            }
            Err(e) => {
                eprintln!("error: {e}");
                unreadable.push(path);
            }
        }
    }
    if !read.is_empty() {
        let images = LabeledImages::new(pixels, vec![0; read.len()], dataset.shape);
        let predictions = pipeline::evaluate(&model, &images, classes.len(), config.data.pixel_map()?);
        let logits = predictions.logits.chunks(classes.len());
        for (i, ((path, class), logits)) in read.iter().zip(predictions.predicted()).zip(logits).enumerate() {
            let logits = if args.logits { format!(" logits {}", logits.iter().map(f32::to_string).collect::<Vec<_>>().join(" ")) } else { String::new() };
            println!("{}: {} (probability {:.3}){logits}", path.display(), classes[class], predictions.probability(i, class));
        }
    }
    match unreadable.first() {
        None => Ok(()),
        Some(first) => {
            let (failed, total) = (unreadable.len(), images.len());
            let others = if failed == total { "" } else { "; the others were classified" };
            Err(Error::Image { path: first.to_path_buf(), problem: format!("{failed} of {total} images could not be read (each is named above){others}") })
        }
    }
}

/// The files to classify: each argument, or the images in a folder argument and its
/// sub-folders.
fn image_files(arguments: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in arguments {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let images = images_under(path)?;
        if images.is_empty() {
            return Err(Error::malformed(path, "is a folder without any .png or .jpg image (in it or its sub-folders)"));
        }
        files.extend(images);
    }
    Ok(files)
}

/// The image's pixels in the run's shape; each conversion (resize, colour to grey, grey to
/// colour) is said on stderr, and so is an image that looks inverted against the training
/// images.
fn read_image(path: &Path, dataset: &DatasetInfo, resize: Resize, invert: bool) -> Result<Vec<u8>> {
    let shape = dataset.shape;
    let mut image = open_image(path).map_err(|problem| Error::Image { path: path.to_path_buf(), problem })?;
    let (w, h) = image.dimensions();
    if (h as usize, w as usize) != shape.dims() {
        eprintln!("note: {} is {w}x{h}; resized to the model's {}x{}", path.display(), shape.width, shape.height);
    }
    if let Some(conversion) = conversion(image.color(), shape.channels) {
        eprintln!("note: {} is {conversion}", path.display());
    }
    if invert {
        image.invert();
    }
    let pixels = planar(image, shape, resize);
    let trained = dataset.stats.mean.iter().sum::<f64>() / dataset.stats.mean.len().max(1) as f64;
    let mean = pixels.iter().map(|&p| p as f64).sum::<f64>() / pixels.len().max(1) as f64;
    let (dark, light) = (127.5 - INVERTED_BEYOND, 127.5 + INVERTED_BEYOND);
    if (trained < dark && mean > light) || (trained > light && mean < dark) {
        let flag = if invert { "drop --invert" } else { "pass --invert" };
        eprintln!(
            "warning: {} looks inverted: its mean grey level is {mean:.0} where the training images' is {trained:.0} (a dark digit on white?); {flag} to flip it",
            path.display()
        );
    }
    Ok(pixels)
}

/// How an image of `color` is converted to the run's `channels`, when it is.
fn conversion(color: ColorType, channels: usize) -> Option<&'static str> {
    match (color.has_color(), color.has_alpha(), channels) {
        (true, _, 1) => Some("in colour; converted to grey (luma) as the run's images are"),
        (false, true, 1) => Some("grey with transparency; the transparency is dropped"),
        (false, _, 3) => Some("grey; its grey level is copied to red, green and blue as the run's images are RGB"),
        (true, true, 3) => Some("RGBA; the transparency is dropped"),
        _ => None,
    }
}
