use std::path::{Path, PathBuf};

use clap::Args;
use image::GenericImageView;

use crate::data::folder::{Resize, open_image, planar};
use crate::data::images::{ImageShape, LabeledImages};
use crate::error::{Error, Result};
use crate::pipeline;
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, RunFolder};

/// Flags of `pretext predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// PNG or JPEG images like the training images (for MNIST: a light digit on a dark
    /// background); converted to the run's grey or RGB, and an image of another size is
    /// resized to the run's as its image folder was (--resize)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

pub fn execute(args: PredictArgs) -> Result<()> {
    let folder = RunFolder::open(&args.run)?;
    let config = folder.read_config()?;
    let dataset = folder.read_dataset()?;
    let (shape, classes) = (dataset.shape, &dataset.classes);
    let model = pipeline::load_classifier(&config, shape, classes.len(), &folder.path(CLASSIFIER_WEIGHTS))?;
    let mut pixels = Vec::with_capacity(args.images.len() * shape.len());
    for path in &args.images {
        pixels.extend(read_image(path, shape, config.data.folder.resize)?);
    }
    let images = LabeledImages::new(pixels, vec![0; args.images.len()], shape);
    let predictions = pipeline::evaluate(&model, &images, classes.len(), config.data.pixel_map()?);
    for (i, (path, class)) in args.images.iter().zip(predictions.predicted()).enumerate() {
        println!("{}: {} (probability {:.3})", path.display(), classes[class], predictions.probability(i, class));
    }
    Ok(())
}

/// The image's pixels in the run's `shape`, resized (and said so) when its size differs.
fn read_image(path: &Path, shape: ImageShape, resize: Resize) -> Result<Vec<u8>> {
    let image = open_image(path).map_err(|problem| Error::Image { path: path.to_path_buf(), problem })?;
    let (w, h) = image.dimensions();
    if (h as usize, w as usize) != shape.dims() {
        eprintln!("note: {} is {w}x{h}; resized to the model's {}x{}", path.display(), shape.width, shape.height);
    }
    Ok(planar(image, shape, resize))
}
