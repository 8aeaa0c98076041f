//! The flag of each setting that has one: the method's and encoder's flags are aliases of
//! these keys, and an error naming a key (`data.labels`) is shown with the flag the user
//! typed (`--labels`); the library names keys only.

use std::path::Path;

use crate::error::{Error, Invalid, RunState};
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, CONFIG, DATASET};

/// `(key, flag)` for every setting a flag sets. Keys without a flag (`model.encoder.kernel_size`)
/// are shown as keys, which `--set` takes.
const FLAGS: &[(&str, &str)] = &[
    ("device", "--device"),
    ("data.dataset", "--dataset"),
    ("data.unlabeled_size", "--unlabeled"),
    ("data.labels", "--labels"),
    ("data.test_size", "--test-size"),
    ("data.validation_split", "--validation-split"),
    ("data.folder.channels", "--channels"),
    ("data.folder.image_size", "--image-size"),
    ("data.folder.test_fraction", "--test-fraction"),
    ("data.folder.resize", "--resize"),
    ("data.folder.unlabeled_dir", "--unlabeled-dir"),
    ("data.folder.unreadable", "--unreadable"),
    ("method.name", "--method"),
    ("semi.method", "--semi-supervised"),
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

/// `(argument, flag)` for the commands' inputs that are no setting, named in the library's
/// messages as the parameter that takes them (`RunFolder::create(dir, force)`).
const ARGUMENTS: &[(&str, &str)] = &[("out", "--out"), ("force", "--force"), ("data_dir", "--data-dir")];

/// `(module, command)` for the library's modules that a command runs, named in its advice.
const COMMANDS: &[(&str, &str)] = &[("eval::sweep", "`pretext sweep --methods rotation,simclr,vicreg --labels N`")];

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

/// `text` (the library's error or advice, which names a setting by its key in backticks:
/// `pretext.learning_rate`) as the command line says it: each key that a flag sets, and each
/// command argument, becomes its flag, and a module its command; other backticked text stays
/// as it is.
pub fn render(text: &str) -> String {
    let pieces: Vec<&str> = text.split('`').collect();
    let mut rendered = String::with_capacity(text.len());
    for (i, piece) in pieces.iter().enumerate() {
        let quoted = i % 2 == 1 && i + 1 < pieces.len();
        let named = |table: &[(&str, &str)]| table.iter().find(|(name, _)| name == piece).map(|(_, said)| (*said).to_owned());
        match flag_of(piece).or_else(|| named(ARGUMENTS)).or_else(|| named(COMMANDS)).filter(|_| quoted) {
            Some(flag) => rendered.push_str(&flag),
            None if quoted => rendered.push_str(&format!("`{piece}`")),
            // A backtick that no other closes stays.
            None if i % 2 == 1 => rendered.push_str(&format!("`{piece}")),
            None => rendered.push_str(piece),
        }
    }
    rendered
}

/// The error as the command line shows it: a setting by its flag, with its key for config
/// files, and a run folder with the command that makes it usable.
pub fn describe(error: &Error) -> String {
    match error {
        Error::Invalid(Invalid { key, problem }) => match flag_of(key) {
            Some(flag) => format!("invalid configuration: {flag} (`{key}` in a config file) {}", render(problem)),
            None => render(&error.to_string()),
        },
        Error::RunFolder { dir, state } => run_folder(dir, *state),
        _ => render(&error.to_string()),
    }
}

/// What a run folder without a classifier lacks, and the command that trains one.
pub fn no_classifier(dir: &Path) -> String {
    let dir = dir.display();
    format!("missing: {dir} holds a pretrained encoder but no classifier; train one with `pretext probe --run {dir}` first")
}

/// Why `dir` cannot serve the command, with the command that makes it usable.
pub fn run_folder(dir_path: &Path, state: RunState) -> String {
    let dir = dir_path.display();
    match state {
        RunState::NotARun => format!("invalid configuration: {dir} is not a run folder (no {CONFIG}); run `pretext run` or `pretext pretrain` first"),
        RunState::Unfinished => format!(
            "invalid configuration: {dir} holds a run that did not finish (interrupted, or still running); continue it with `pretext run --resume {dir}` (or `pretext pretrain --resume {dir}`, which stops after the pretext phase)"
        ),
        RunState::NoClassifier => format!("weights {}: {}", dir_path.join(CLASSIFIER_WEIGHTS).display(), no_classifier(dir_path)),
        RunState::NoDatasetRecord => {
            format!("invalid configuration: {dir} has no {DATASET} (written by pretext before it knew image shapes); run `pretext eval --run {dir}` once to record it")
        }
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
                let folder = &mut config.data.folder;
                (folder.channels, folder.image_size, folder.unlabeled_dir) = (Some(1), Some(28), Some("unlabeled".into()));
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
    fn keys_and_arguments_in_backticks_become_flags_and_other_quotes_stay() {
        let advice = "a smaller `semi.training.learning_rate` and `force`; `data.dataset` folder:PATH; `eval::sweep`; `pretext eval --run x`; `model.encoder.kernel_size`; a ` stray";
        let expected = "a smaller --semi-lr and --force; --dataset folder:PATH; `pretext sweep --methods rotation,simclr,vicreg --labels N`; `pretext eval --run x`; `model.encoder.kernel_size`; a ` stray";
        assert_eq!(render(advice), expected);
    }

    #[test]
    fn a_refused_setting_is_named_by_its_flag_and_its_key() {
        let error = Error::from(Invalid::new("semi.training.learning_rate", "must be positive, got 0"));
        assert_eq!(describe(&error), "invalid configuration: --semi-lr (`semi.training.learning_rate` in a config file) must be positive, got 0");
        let error = Error::from(Invalid::new("model.encoder.kernel_size", "must be at least 1"));
        assert_eq!(describe(&error), "invalid configuration: model.encoder.kernel_size must be at least 1");
    }
}
