use std::path::{Path, PathBuf};

use clap::Args;

use crate::data::catalog;
use crate::data::images::LabeledImages;
use crate::error::{Error, Result};
use crate::pipeline;
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, RunFolder};

/// Flags of `pretext predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Grey-scale PNG images the size of the training images (28x28 for MNIST), light
    /// digit on dark background as in MNIST
    #[arg(required = true, value_name = "IMAGE.png")]
    pub images: Vec<PathBuf>,
}

/// Side of the images the run was trained on (all catalog data sets are 28x28).
const IMAGE_SIZE: usize = 28;

pub fn execute(args: PredictArgs) -> Result<()> {
    let folder = RunFolder::open(&args.run)?;
    let config = folder.read_config()?;
    let classes = catalog::spec(&config.data.dataset)?.classes;
    let model = pipeline::load_classifier(&config, IMAGE_SIZE, classes.len(), &folder.path(CLASSIFIER_WEIGHTS))?;
    let mut pixels = Vec::with_capacity(args.images.len() * IMAGE_SIZE * IMAGE_SIZE);
    for path in &args.images {
        pixels.extend(read_grey(path)?);
    }
    let images = LabeledImages::new(pixels, vec![0; args.images.len()], IMAGE_SIZE, IMAGE_SIZE);
    let predictions = pipeline::evaluate(&model, &images, classes.len(), config.data.pixels);
    for (i, (path, class)) in args.images.iter().zip(predictions.predicted()).enumerate() {
        println!("{}: {} (probability {:.3})", path.display(), classes[class], predictions.probability(i, class));
    }
    Ok(())
}

/// The image's grey levels, refusing anything but the training image size.
fn read_grey(path: &Path) -> Result<Vec<u8>> {
    let image = image::open(path).map_err(|e| Error::Image { path: path.to_path_buf(), problem: e.to_string() })?;
    if (image.width() as usize, image.height() as usize) != (IMAGE_SIZE, IMAGE_SIZE) {
        return Err(Error::Image {
            path: path.to_path_buf(),
            problem: format!("is {}x{}, the model expects {IMAGE_SIZE}x{IMAGE_SIZE}", image.width(), image.height()),
        });
    }
    Ok(image.to_luma8().into_raw())
}
