//! The flag of each setting that has one: the method's and encoder's flags are aliases of
//! these keys, and an error naming a key (`data.labels`) is shown with the flag the user
//! typed (`--labels`); the library names keys only.

use crate::error::{Error, Invalid};

/// `(key, flag)` for every setting a flag sets. Keys without a flag (`model.encoder.kernel_size`)
/// are shown as keys, which `--set` takes.
const FLAGS: &[(&str, &str)] = &[
    ("data.unlabeled_size", "--unlabeled"),
    ("data.labels", "--labels"),
    ("data.test_size", "--test-size"),
    ("data.validation_split", "--validation-split"),
    ("data.folder.channels", "--channels"),
    ("data.folder.image_size", "--image-size"),
    ("data.folder.test_fraction", "--test-fraction"),
    ("model.init_std", "--init-std"),
    ("model.encoder.filters", "--filters"),
    ("model.encoder.width", "--resnet-width"),
    ("model.encoder.blocks", "--resnet-blocks"),
    ("monitor.images", "--monitor-images"),
    ("knn.k", "--knn-k"),
    ("knn.temperature", "--knn-temperature"),
    ("downstream.early_stopping.patience", "--patience"),
    ("method.temperature", "--temperature"),
    ("method.projector.hidden", "--projector-hidden"),
    ("method.projector.output", "--projector-dim"),
    ("method.projector.batch_norm", "--projector-batch-norm"),
    ("method.predictor_hidden", "--predictor-hidden"),
    ("method.base_momentum", "--base-momentum"),
    ("method.invariance_weight", "--invariance-weight"),
    ("method.variance_weight", "--variance-weight"),
    ("method.covariance_weight", "--covariance-weight"),
    ("method.lambda", "--barlow-lambda"),
    ("method.augment.crop_scale", "--crop-scale"),
    ("method.augment.rotation_degrees", "--rotation-degrees"),
    ("method.augment.shear_degrees", "--shear-degrees"),
    ("method.augment.translate", "--translate"),
    ("method.augment.horizontal_flip", "--horizontal-flip"),
    ("method.augment.brightness", "--brightness"),
    ("method.augment.contrast", "--contrast"),
    ("method.augment.jitter_probability", "--jitter-probability"),
    ("method.augment.blur_probability", "--blur-probability"),
    ("method.augment.blur_sigma", "--blur-sigma"),
    ("method.augment.noise_std", "--noise-std"),
    ("method.augment.erase_probability", "--erase-probability"),
    ("method.augment.erase_scale", "--erase-scale"),
    ("semi.threshold", "--threshold"),
    ("semi.unlabeled_ratio", "--unlabeled-ratio"),
    ("semi.unlabeled_weight", "--unlabeled-weight"),
    ("semi.temperature", "--distill-temperature"),
    ("semi.strong.magnitude", "--strong-magnitude"),
    ("semi.strong.cutout", "--cutout"),
];

/// The settings every training phase has, as `<phase>.<key>` and `--<phase>-<flag>`.
const PHASE_FLAGS: &[(&str, &str)] =
    &[("batch_size", "batch-size"), ("epochs", "epochs"), ("learning_rate", "lr"), ("momentum", "momentum"), ("weight_decay", "weight-decay")];

/// The flag that sets `key`, where one does.
pub fn flag_of(key: &str) -> Option<String> {
    if let Some((_, flag)) = FLAGS.iter().find(|(k, _)| *k == key) {
        return Some((*flag).to_owned());
    }
    let (phase, setting) = key.strip_prefix("semi.training.").map(|s| ("semi", s)).or_else(|| key.split_once('.'))?;
    let (_, flag) = PHASE_FLAGS.iter().find(|(k, _)| *k == setting)?;
    ["pretext", "downstream", "semi"].contains(&phase).then(|| format!("--{phase}-{flag}"))
}

/// The key that `flag`, an alias of a method's or an encoder's key, sets.
pub fn key_of(flag: &str) -> &'static str {
    FLAGS.iter().find(|(_, f)| *f == flag).map(|(key, _)| *key).unwrap_or_else(|| panic!("{flag} is in the table of flags"))
}

/// The error as the command line shows it: a setting by its flag, with its key for config
/// files.
pub fn describe(error: &Error) -> String {
    match error {
        Error::Invalid(Invalid { key, problem }) => match flag_of(key) {
            Some(flag) => format!("invalid configuration: {flag} (`{key}` in a config file) {problem}"),
            None => error.to_string(),
        },
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command};

    use super::*;
    use crate::cli::args::ConfigArgs;
    use crate::config::{Preset, RunConfig};
    use crate::methods::MethodName;
    use crate::model::encoders::EncoderName;

    /// Every key of the table is a setting of some method and encoder, and every flag one that
    /// the settings flags have.
    #[test]
    fn every_flag_of_the_table_exists_and_sets_a_real_key() {
        let command = ConfigArgs::augment_args(Command::new("pretext"));
        let flags: Vec<String> = command.get_arguments().filter_map(|a| a.get_long().map(|l| format!("--{l}"))).collect();
        let configs = MethodName::ALL.iter().flat_map(|&method| {
            EncoderName::ALL.iter().map(move |&encoder| {
                let mut config = RunConfig::preset(Preset::Default).with_method(method);
                // The folder settings that are unset by default, and so not written.
                (config.data.folder.channels, config.data.folder.image_size) = (Some(1), Some(28));
                RunConfig { model: config.model.clone().with_encoder(encoder), ..config }
            })
        });
        let tables: Vec<toml::Value> = configs.map(|c| toml::Value::try_from(c).unwrap()).collect();
        let phases = ["pretext", "downstream", "semi.training"].iter().flat_map(|phase| PHASE_FLAGS.iter().map(move |(key, _)| format!("{phase}.{key}")));
        let keys = FLAGS.iter().map(|(key, _)| key.to_string()).chain(phases);
        for key in keys {
            let flag = flag_of(&key).unwrap();
            assert!(flags.contains(&flag), "{flag} (for {key}) is not a flag");
            let found = tables.iter().any(|table| key.split('.').try_fold(table, |value, part| value.get(part)).is_some());
            assert!(found, "{key} (of {flag}) is no setting");
        }
    }

    #[test]
    fn a_refused_setting_is_named_by_its_flag_and_its_key() {
        let error = Error::from(Invalid::new("semi.training.learning_rate", "must be positive, got 0"));
        assert_eq!(describe(&error), "invalid configuration: --semi-lr (`semi.training.learning_rate` in a config file) must be positive, got 0");
        let error = Error::from(Invalid::new("model.encoder.kernel_size", "must be at least 1"));
        assert_eq!(describe(&error), "invalid configuration: model.encoder.kernel_size must be at least 1");
    }
}
