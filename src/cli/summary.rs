use clap::Args;

use crate::cli::args::ConfigArgs;
use crate::data::images::ImageShape;
use crate::error::Result;
use crate::methods::rotation::RotationModel;
use crate::model::classifier::Classifier;
use crate::model::heads::FeatureNorm;

/// Flags of `pretext summary` (the rotation pretext model and the downstream classifier).
#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Side of the square input images
    #[arg(long = "input-size", value_name = "N", default_value_t = 28)]
    pub input_size: usize,
    /// Channels of the input images: 1 (grey) or 3 (RGB)
    #[arg(long = "input-channels", value_name = "N", default_value_t = 1)]
    pub input_channels: usize,
    /// Classes of the downstream head
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub classes: usize,
}

pub fn execute(args: SummaryArgs) -> Result<()> {
    let config = args.config.resolve(None)?;
    let device = config.device.open()?;
    let shape = ImageShape::square(args.input_channels, args.input_size);
    let mut rng = rand::SeedableRng::seed_from_u64(config.seed);
    let pretext = RotationModel::init(&config.model, shape, &mut rng, &device);
    println!("{}\n", pretext.summary(shape));
    let classifier = Classifier {
        encoder: pretext.encoder,
        norm: config.standardize_features.then(|| FeatureNorm::identity(config.model.feature_dim(shape), &device)),
        head: config.model.head(shape, args.classes, &mut rng, &device),
    };
    println!("{}", classifier.summary(shape, config.fine_tune));
    Ok(())
}
