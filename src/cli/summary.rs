use clap::Args;

use crate::cli::args::ConfigArgs;
use crate::error::Result;
use crate::methods::rotation::RotationModel;
use crate::model::heads::FeatureNorm;
use crate::pipeline::training_device;

/// Flags of `pretext summary` (the rotation pretext model and the downstream classifier).
#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Side of the square input images
    #[arg(long, default_value_t = 28)]
    pub image_size: usize,
}

pub fn execute(args: SummaryArgs) -> Result<()> {
    let config = args.config.resolve(None)?;
    let device = training_device();
    let mut rng = rand::SeedableRng::seed_from_u64(config.seed);
    let pretext = RotationModel::init(&config.model, args.image_size, &mut rng, &device);
    println!("{}\n", pretext.summary(args.image_size, &device));
    let classifier = crate::model::encoder::Classifier {
        encoder: pretext.encoder,
        norm: config.standardize_features.then(|| FeatureNorm::identity(config.model.feature_dim(args.image_size), &device)),
        head: config.model.head(args.image_size, 10, &mut rng, &device),
    };
    println!("{}", classifier.summary(args.image_size, config.fine_tune, &device));
    Ok(())
}
