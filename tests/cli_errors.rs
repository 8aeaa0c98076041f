//! Bad input gets one clear line and a distinct exit code, before any training starts.

mod common;

use common::{pretext, stderr};

#[test]
fn bad_flags_exit_2_with_the_problem_named() {
    let output = pretext(&["run", "--pretext-batch-size", "0", "--out", "/nonexistent/x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--pretext-batch-size (`pretext.batch_size` in a config file) must be at least 1"), "{}", stderr(&output));

    let output = pretext(&["run", "--validation-split", "1.5"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--validation-split (`data.validation_split` in a config file) must be in [0, 1)"));

    // Negative numbers reach the checks of the settings instead of reading as unknown flags.
    let output = pretext(&["run", "--pretext-lr", "-1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--pretext-lr (`pretext.learning_rate` in a config file) must be positive, got -1"), "{}", stderr(&output));
    let output = pretext(&["run", "--downstream-batch-size", "-3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid value '-3' for '--downstream-batch-size"), "{}", stderr(&output));

    // Sizes of 0 name their flag (and the TOML key).
    let output = pretext(&["run", "--labels", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--labels (`data.labels` in a config file) must be at least 1 image, or `all`; got 0"), "{}", stderr(&output));

    let output = pretext(&["run", "--preset", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid value 'nope'"));

    // A training setting without its phase names the phase flags, not the nearest spelling.
    let output = pretext(&["run", "--lr", "0.1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unexpected argument '--lr' found"), "{}", stderr(&output));
    assert!(stderr(&output).contains("tip: each training phase has its own: --pretext-lr, --downstream-lr, --semi-lr"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("--blur-sigma"), "{}", stderr(&output));
    let output = pretext(&["probe", "--epochs=3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("tip: each training phase has its own: --downstream-epochs"), "{}", stderr(&output));
    let output = pretext(&["run", "--learning-rate", "0.1"]);
    assert!(stderr(&output).contains("--pretext-lr"), "{}", stderr(&output));
}

#[test]
fn method_settings_that_cannot_work_exit_2_naming_the_flag() {
    let cases: [(&[&str], &str); 6] = [
        (&["--method", "simclr", "--temperature", "0"], "--temperature (`method.temperature` in a config file) must be > 0, got 0"),
        (&["--method", "simclr", "--projector-dim", "0"], "--projector-dim (`method.projector.output` in a config file) must be at least 1"),
        (&["--method", "vicreg", "--pretext-batch-size", "1"], "--pretext-batch-size (`pretext.batch_size` in a config file) must be at least 2 for vicreg, which compares images within a batch"),
        (&["--method", "byol", "--temperature", "0.5"], "--temperature does not apply to --method byol"),
        (&["--method", "rotation", "--crop-scale", "0.2,1"], "--crop-scale does not apply to --method rotation"),
        (&["--method", "barlow-twins", "--crop-scale", "0.9,0.2"], "--crop-scale (`method.augment.crop_scale` in a config file) must be two numbers 0 < low <= high <= 1"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "--out", "/nonexistent/never-created"];
        args.extend_from_slice(flags);
        let output = pretext(&args);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{flags:?}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "{flags:?}: one line");
    }
}

#[test]
fn asking_for_more_images_than_the_data_set_holds_exits_2_before_training() {
    let data = common::data_dir();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--labels", "70000"], "--labels (`data.labels` in a config file) 70000 asks for more than the 60000 labelled training images"),
        (&["--labels", "5", "--balanced-labels", "true"], "--labels (`data.labels` in a config file) 5 with balanced labels gives 0 per class with 10 classes; use at least 10"),
        (&["--test-size", "10001"], "--test-size (`data.test_size` in a config file) 10001 asks for more than the 10000 test images"),
        (&["--labels", "60000", "--balanced-labels", "true"], "needs 6000 images of every class"),
    ];
    for (i, (flags, message)) in cases.into_iter().enumerate() {
        let out = dir.path().join(i.to_string());
        let mut args = vec!["run", "--data-dir", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(flags);
        let output = pretext(&args);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{flags:?}: {}", stderr(&output));
        assert!(!out.exists(), "{flags:?} left a folder behind");
    }
}

#[test]
fn missing_data_exits_3_and_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = pretext(&["run", "--data-dir", dir.path().to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("data set 'mnist' not found") && err.contains("--data-dir"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.path().join("o").exists(), "a failed run leaves no folder (nor an empty checkpoints/) behind");
}

#[test]
fn data_info_verifies_the_checksums_and_measures_the_images() {
    let output = pretext(&["data", "info", "mnist", "--data-dir", common::data_dir().to_str().unwrap()]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("images:     28x28 grey\ntrain:      60000 labelled images\ntest:       10000 images (the data set's test split)"), "{stdout}");
    // MNIST's well-known normalisation, 0.1307 and 0.3081 of 255.
    assert!(stdout.contains("mean:       33.32 ") && stdout.contains("std:        78.57"), "{stdout}");
    assert!(stdout.contains("all four match the published SHA-256"), "{stdout}");
}

#[test]
fn summary_shows_the_keras_parameter_counts() {
    let output = pretext(&["summary", "--preset", "seed"]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in ["Total params: 23,988", "Total params: 21,994", "Trainable params: 2,890", "Non-trainable params: 19,104"] {
        assert!(stdout.contains(expected), "{expected} not in\n{stdout}");
    }
    // Fine-tuning (the default preset) trains the encoder too; the fixed standardisation of
    // its 288 features (a mean and a scale each) is not trained.
    let output = pretext(&["summary", "--preset", "default"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Trainable params: 21,994") && stdout.contains("Non-trainable params: 576"), "{stdout}");

    // A ResNet-18 on RGB 32x32 images, frozen for a linear probe: its 11,168,832 learned values
    // and 9,600 batch-norm running statistics are not trained; the 10-way head (5,130) is.
    let output = pretext(&["summary", "--preset", "seed", "--encoder", "resnet", "--input-channels", "3", "--input-size", "32"]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let downstream = stdout.split("Model: \"downstream\"").nth(1).unwrap();
    assert!(downstream.contains("residual_block_7 (ResidualBlock)") && downstream.contains("(None, 512)"), "{stdout}");
    assert!(downstream.contains("Trainable params: 5,130\nNon-trainable params: 11,178,432"), "{stdout}");
}

#[test]
fn resume_refuses_settings_flags_non_runs_and_damaged_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = pretext(&["run", "--resume", run.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is not a run folder (no config.toml)"), "{}", stderr(&output));

    let config = pretext::config::RunConfig::preset(pretext::config::Preset::Seed);
    std::fs::create_dir_all(run.join("checkpoints/pretext")).unwrap();
    std::fs::write(run.join("config.toml"), config.to_toml()).unwrap();
    let output = pretext(&["run", "--resume", run.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("drop the other settings flags"), "{}", stderr(&output));

    std::fs::write(run.join("checkpoints/pretext/state.json"), "{ cut off").unwrap();
    let output = pretext(&["run", "--resume", run.to_str().unwrap(), "--quiet"]);
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("checkpoints/pretext/state.json"), "{}", stderr(&output));
}

#[test]
fn an_existing_run_needs_force_and_an_unwritable_folder_is_named_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let config = pretext::config::RunConfig::preset(pretext::config::Preset::Seed);
    std::fs::write(run.join("config.toml"), config.to_toml()).unwrap();
    std::fs::write(run.join("timings.json"), "{}").unwrap();
    let output = pretext(&["run", "--out", run.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("already holds a run (config.toml, timings.json); choose another --out, or pass --force"), "{}", stderr(&output));

    // A run that did not finish: the same command again is pointed at --resume.
    std::fs::remove_file(run.join("timings.json")).unwrap();
    let output = pretext(&["pretrain", "--out", run.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!("holds a run that did not finish; continue it with `pretext pretrain --resume {}`, or pass --force", run.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    // A regular file where a folder must be created, or as the folder itself.
    let blocked = dir.path().join("file").join("run");
    std::fs::write(dir.path().join("file"), "").unwrap();
    let output = pretext(&["run", "--out", blocked.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).starts_with(&format!("error: {}: cannot create it", blocked.display())), "{}", stderr(&output));
    let output = pretext(&["run", "--out", dir.path().join("file").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).contains("file: it is a file, not a folder; choose another --out"), "{}", stderr(&output));
}

#[test]
fn commands_that_need_a_classifier_say_to_train_one_on_a_pretrain_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("encoder");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("config.toml"), pretext::config::RunConfig::preset(pretext::config::Preset::Seed).to_toml()).unwrap();
    std::fs::write(run.join("timings.json"), "{}").unwrap(); // written last: `pretrain` finished
    let expected = format!("holds a pretrained encoder but no classifier; train one with `pretext probe --run {}` first", run.display());
    for command in [vec!["eval", "--run", run.to_str().unwrap()], vec!["predict", "--run", run.to_str().unwrap(), "digit.png"]] {
        let output = pretext(&command);
        assert_eq!(output.status.code(), Some(6), "{command:?}");
        assert!(stderr(&output).contains(&expected), "{command:?}: {}", stderr(&output));
    }
    // A probe's --out cannot be the run folder, where --force would remove the encoder it reads.
    let output = pretext(&["probe", "--run", run.to_str().unwrap(), "--out", run.to_str().unwrap(), "--force"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is the run folder itself; choose another folder"), "{}", stderr(&output));
    assert!(run.join("config.toml").is_file());
}

#[test]
fn a_toml_value_of_the_wrong_type_names_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.toml");
    std::fs::write(&file, "seed = 1\n\n[pretext]\nlearning_rate = 0.01\nepochs = \"two\"\n").unwrap();
    let output = pretext(&["config", "--config", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!("{}, line 5: pretext.epochs: invalid type: string \"two\", expected usize", file.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

/// CI builds without the GPU backends, so `--device cuda` meets the "not built in" refusal.
#[cfg(not(feature = "cuda"))]
#[test]
fn a_device_not_built_in_or_misspelt_exits_2_before_any_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = pretext(&["run", "--device", "cuda:1", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--device cuda:1: this build has no cuda backend (it has: cpu"), "{}", stderr(&output));
    assert!(stderr(&output).contains("build with `cargo build --release --features cuda`"), "{}", stderr(&output));
    assert!(!out.exists(), "the refused run left {}", out.display());

    let output = pretext(&["run", "--device", "gpu"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown device 'gpu'; expected cpu, vulkan[:N], wgpu or cuda[:N]"), "{}", stderr(&output));

    let file = dir.path().join("settings.toml");
    std::fs::write(&file, "seed = 1\ndevice = \"tpu\"\n").unwrap();
    let output = pretext(&["config", "--config", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(&format!("{}, line 2: device: unknown device 'tpu'", file.display())), "{}", stderr(&output));
}

#[test]
fn config_prints_the_settings_that_config_reads_back() {
    let output = pretext(&["config", "--method", "byol", "--labels", "100", "--pretext-epochs", "3"]);
    common::assert_success(&output);
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(printed.contains("[method]\nname = \"byol\"") && printed.contains("labels = 100"), "{printed}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("byol.toml");
    std::fs::write(&file, &printed).unwrap();
    let output = pretext(&["config", "--config", file.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), printed);
}

#[test]
fn every_flag_of_every_command_has_help_and_pretext_flags_come_first() {
    use clap::CommandFactory;
    let mut command = pretext::cli::Cli::command();
    command.build();
    for sub in command.get_subcommands().flat_map(|s| std::iter::once(s).chain(s.get_subcommands())) {
        for arg in sub.get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(!help.trim().is_empty(), "`pretext {}` --{} has no help", sub.get_name(), arg.get_id());
        }
    }
    let help = String::from_utf8_lossy(&pretext(&["run", "--help"]).stdout).into_owned();
    let at = |flag: &str| help.find(flag).unwrap_or_else(|| panic!("{flag} not in run --help"));
    assert!(at("--pretext-lr") < at("--downstream-lr") && at("--downstream-lr") < at("--semi-lr"), "{help}");
    assert!(help.contains("--downstream-epochs <N>\n          Maximum epochs of the downstream phase (default: the preset's"), "{help}");
}

/// Benchmarks quote `--version`: the commit, and the SIMD level each kind of kernel runs at on
/// this machine (each decided at run time by what the CPU has).
#[cfg(target_arch = "x86_64")]
#[test]
fn version_names_the_commit_and_what_each_kernel_dispatched_to() {
    let output = pretext(&["--version"]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let widest = if std::arch::is_x86_feature_detected!("avx512f") { "AVX-512" } else { "AVX2+FMA" };
    assert!(text.starts_with("pretext 0.1.0 (commit ") && text.contains(&format!("GEMM {widest}")) && text.contains(&format!("conv/pool {widest}")), "{text}");
}

#[test]
fn a_sweep_resolves_the_set_keys_of_the_method_it_compares() {
    // The preset's method (VICReg) has no temperature: the shared settings take SimCLR's.
    let output = pretext(&["sweep", "--methods", "simclr", "--set", "method.temperature=0", "--out", "/nonexistent/never-created"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--temperature (`method.temperature` in a config file) must be > 0, got 0"), "{}", stderr(&output));
}
