//! End-to-end: shortened runs on the real MNIST files write every file, beat chance by far,
//! are reproducible, and the step commands (eval, predict, probe) agree with the run.

mod common;

use common::{assert_success, pretext};
use serde_json::Value;

const RUN_FILES: &[&str] = &[
    "config.toml",
    "dataset.json",
    "metrics.json",
    "timings.json",
    "history_pretext.csv",
    "history_downstream.csv",
    "pretext.safetensors",
    "classifier.safetensors",
    "rotations.png",
    "pretext_curves.png",
    "downstream_curves.png",
    "examples.png",
    "misclassified.png",
    "confusion_matrix.png",
    "embedding.png",
    "protocols.md",
    "report.html",
];

fn short_run(out: &std::path::Path, seed: &str) -> Value {
    let output = pretext(&[
        "run", "--preset", "seed", "--seed", seed, "--pretext-epochs", "4", "--downstream-epochs", "8",
        "--out", out.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn shortened_seed_run_writes_every_file_and_clears_an_accuracy_floor() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let metrics = short_run(&out, "0");
    for file in RUN_FILES {
        let len = std::fs::metadata(out.join(file)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{file} missing or empty");
    }
    assert_eq!(metrics["pretext"]["epochs_run"], 4);
    assert_eq!(metrics["test"]["n"], 300);
    assert_eq!(metrics["downstream"]["epochs_run"], 8);
    let pretext_acc = metrics["pretext"]["final_accuracy"].as_f64().unwrap();
    let test_acc = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(pretext_acc > 0.6, "pretext accuracy {pretext_acc} (chance is 0.25)");
    assert!(test_acc > 0.6, "test accuracy {test_acc} (chance is 0.1)");
    assert!(metrics["downstream"]["final_val_accuracy"].as_f64().is_some());

    // The baselines ran on the same images; the run's own method is one of them.
    let protocols: Vec<&str> = metrics["protocols"].as_array().unwrap().iter().map(|m| m["protocol"].as_str().unwrap()).collect();
    assert_eq!(protocols, ["random_frozen", "scratch", "ssl_probe", "ssl_fine_tune"]);
    assert_eq!(metrics["protocols"][2]["test_accuracy"], metrics["test"]["accuracy"]);
    for m in metrics["protocols"].as_array().unwrap() {
        let knn = m["knn_accuracy"].as_f64().unwrap();
        assert!(knn > 0.5, "k-NN accuracy {knn} of {}", m["protocol"]);
    }

    // The report opens without a server: every resource is embedded.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let sources: Vec<&str> = html.split("src=\"").skip(1).collect();
    assert_eq!(sources.len(), 7, "one embedded image per figure");
    assert!(sources.iter().all(|s| s.starts_with("data:image/png;base64,")));
    assert!(!html.contains("href=") && !html.contains("<link") && !html.contains("<script"));
    // It says where it came from: pretext's version and commit, the machine, the data files,
    // the settings, and the timings.
    let data = common::data_dir().join("mnist");
    let data = if data.is_dir() { data } else { common::data_dir() };
    for expected in [
        format!("by pretext {} (commit ", env!("CARGO_PKG_VERSION")),
        format!("read from <code>{}</code>", std::path::absolute(&data).unwrap().display()),
        "Pretext: <b>rotation</b> on the notebook encoder, 1000 unlabeled images, sgd at learning rate 0.001".into(),
        "<h2>Timings</h2>".into(),
    ] {
        assert!(html.contains(&expected), "{expected} not in the report");
    }

    // Whether self-supervision paid is judged on every run, and a run where it did not says so
    // in the report too (the judgement itself is tested on constructed cases in eval::payoff).
    let payoff = &metrics["ssl_payoff"];
    let signs = payoff["signs"].as_array().unwrap();
    assert_eq!(payoff["paying"].as_bool().unwrap(), signs.is_empty(), "{payoff}");
    assert_eq!(html.contains("Self-supervision is not paying on this run"), !signs.is_empty());

    // Timings live beside the metrics, one lap per step, summing to no more than the total.
    let timings: Value = serde_json::from_slice(&std::fs::read(out.join("timings.json")).unwrap()).unwrap();
    let laps: f64 = timings.as_object().unwrap().iter().filter(|(k, _)| *k != "total_s").map(|(_, v)| v.as_f64().unwrap()).sum();
    let total = timings["total_s"].as_f64().unwrap();
    assert!(timings["pretext_s"].as_f64().unwrap() > 0.0 && laps <= total, "{timings}");

    let history = std::fs::read_to_string(out.join("history_downstream.csv")).unwrap();
    assert!(history.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n"), "{history}");
    assert_eq!(history.lines().count(), 9);

    // The same seed again: byte-identical metrics.
    let again = dir.path().join("again");
    assert_eq!(short_run(&again, "0"), metrics);
    assert_eq!(
        std::fs::read(out.join("metrics.json")).unwrap(),
        std::fs::read(again.join("metrics.json")).unwrap()
    );

    // `eval` on the saved classifier reproduces the run's test accuracy, in a folder of its
    // own: the run's files stay as they were, and a second evaluation there needs --force.
    let run_files = |dir: &std::path::Path| RUN_FILES.iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect::<Vec<_>>();
    let before = run_files(&again);
    let output = pretext(&["eval", "--run", again.to_str().unwrap()]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("test accuracy {test_acc:.4} on 300")), "{stdout}");
    let output = pretext(&["eval", "--run", again.to_str().unwrap(), "--test-size", "100"]);
    assert_success(&output);
    assert!(run_files(&again) == before, "eval changed the run's files");
    let evaluated: Value = serde_json::from_slice(&std::fs::read(again.join("eval-100/metrics.json")).unwrap()).unwrap();
    assert_eq!(evaluated["test"]["n"], 100);
    assert!(again.join("eval-300/report.html").is_file() && again.join("eval-100/confusion_matrix.png").is_file());
    let output = pretext(&["eval", "--run", again.to_str().unwrap(), "--test-size", "100"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("eval-100 already holds files"), "{}", common::stderr(&output));
}

#[test]
fn predict_names_the_digit_of_a_test_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    short_run(&out, "1");
    // MNIST test image 0 is a 7; write it as a PNG the way a user would have it.
    let spec = pretext::data::catalog::MNIST;
    let data = spec.load(&spec.resolve_dir(Some(&common::data_dir())).unwrap()).unwrap();
    assert_eq!(data.test.label(0), 7);
    let png = dir.path().join("seven.png");
    image::GrayImage::from_raw(28, 28, data.test.image(0).to_vec()).unwrap().save(&png).unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), png.to_str().unwrap()]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("seven.png: 7 (probability"), "{stdout}");

    // Another size is resized, and said so; a file that is no image is refused by name.
    let big = dir.path().join("big.png");
    image::imageops::resize(&image::GrayImage::from_raw(28, 28, data.test.image(0).to_vec()).unwrap(), 56, 56, image::imageops::FilterType::Triangle)
        .save(&big)
        .unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), big.to_str().unwrap()]);
    assert_success(&output);
    assert!(common::stderr(&output).contains("big.png is 56x56; resized to the model's 28x28"), "{}", common::stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("big.png: 7 (probability"));
    // A JPEG photo of a dark digit on white paper, in colour: converted, said so, and flagged
    // as inverted until --invert flips it back.
    let paper = dir.path().join("paper.jpg");
    let inverted: Vec<u8> = data.test.image(0).iter().flat_map(|&v| [255 - v, 255 - v, 250 - v.min(250)]).collect();
    image::RgbImage::from_raw(28, 28, inverted).unwrap().save(&paper).unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), paper.to_str().unwrap()]);
    assert_success(&output);
    let err = common::stderr(&output);
    assert!(err.contains("paper.jpg is in colour; converted to grey") && err.contains("paper.jpg looks inverted") && err.contains("pass --invert"), "{err}");
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), "--invert", paper.to_str().unwrap()]);
    assert_success(&output);
    assert!(!common::stderr(&output).contains("looks inverted"), "{}", common::stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("paper.jpg: 7 (probability"), "{}", String::from_utf8_lossy(&output.stdout));

    // A file that is no image is named on its own line; the others are still classified, and
    // the exit status says that one failed.
    let not_an_image = dir.path().join("notes.png");
    std::fs::write(&not_an_image, "text").unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), png.to_str().unwrap(), not_an_image.to_str().unwrap(), big.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(6));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("seven.png: 7") && stdout.contains("big.png: 7"), "{stdout}");
    let err = common::stderr(&output);
    assert!(err.lines().any(|l| l.starts_with("error: image") && l.contains("notes.png")), "{err}");
    assert!(err.contains("1 of 3 images could not be read"), "{err}");

    // A folder stands for its images and its sub-folders', in name order; an empty one is refused.
    let folder = dir.path().join("photos");
    std::fs::create_dir_all(folder.join("more")).unwrap();
    std::fs::copy(&png, folder.join("a.png")).unwrap();
    std::fs::copy(&big, folder.join("more/b.png")).unwrap();
    std::fs::write(folder.join("readme.txt"), "not an image").unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), folder.to_str().unwrap()]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let classified: Vec<&str> = stdout.lines().map(|line| line.split(": ").next().unwrap()).collect();
    assert_eq!(classified, [folder.join("a.png").display().to_string(), folder.join("more/b.png").display().to_string()], "{stdout}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = pretext(&["predict", "--run", out.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("is a folder without any .png or .jpg image"), "{}", common::stderr(&output));
}

#[test]
fn without_a_terminal_training_prints_progress_lines_with_the_time_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("piped");
    // stdout and stderr are pipes here; a line is due after every step at 0 seconds.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pretext"))
        .args(["pretrain", "--preset", "seed", "--pretext-epochs", "2", "--unlabeled", "512", "--out", out.to_str().unwrap()])
        .env("PRETEXT_DATA_DIR", common::data_dir())
        .env("PRETEXT_PROGRESS_SECONDS", "0")
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // 512 images, four rotations each, in the seed preset's batches of 192: 11 steps per epoch.
    let lines: Vec<&str> = stdout.lines().filter(|line| line.starts_with("pretext epoch ")).collect();
    assert_eq!(lines.len(), 22, "{stdout}");
    assert!(lines[0].starts_with("pretext epoch 1/2: step 1/11, 0:00:0") && lines[0].contains(", phase done in about 0:0"), "{}", lines[0]);
    assert!(lines[21].starts_with("pretext epoch 2/2: step 11/11, ") && lines[21].ends_with("phase done in about 0:00:00"), "{}", lines[21]);
}

#[test]
fn a_two_view_method_runs_end_to_end_and_probe_reloads_its_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("simclr");
    let output = pretext(&[
        "run", "--method", "simclr", "--unlabeled", "2048", "--pretext-epochs", "2", "--labels", "200", "--balanced-labels", "true",
        "--test-size", "300", "--downstream-epochs", "10", "--baselines", "false", "--monitor-images", "500", "--out",
        out.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    assert!(std::fs::metadata(out.join("views.png")).is_ok_and(|m| m.len() > 0));
    assert!(!out.join("rotations.png").exists());
    let metrics: Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["pretext"]["method"], "simclr");
    assert_eq!(metrics["pretext"]["collapsed"], false);
    assert!(metrics["pretext"]["final_accuracy"].is_null(), "a two-view method classifies nothing");
    let knn = metrics["pretext"]["final_knn_accuracy"].as_f64().unwrap();
    assert!(knn > 0.6, "k-NN on the monitor images {knn}");
    let test = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(test > 0.6, "test accuracy {test}");
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("[method]\nname = \"simclr\"\ntemperature = 0.2"), "{config}");

    // The saved SimCLR model loads back for a linear probe, and the probe's classifier, with
    // its feature standardisation, loads back for `eval` with the same accuracy.
    // The run's own classifier is never replaced silently: the probe goes to --out.
    let probe = ["probe", "--run", out.to_str().unwrap(), "--fine-tune", "false", "--downstream-max-shift", "0"];
    let output = pretext(&probe);
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("already holds a classifier (classifier.safetensors); pass --out DIR"), "{}", common::stderr(&output));
    let linear = dir.path().join("linear");
    let output = pretext(&[&probe[..], &["--out", linear.to_str().unwrap()]].concat());
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let probed = stdout.lines().last().unwrap().to_string();
    // Which epoch's weights were kept is said, as Keras says it.
    let linear_metrics: Value = serde_json::from_slice(&std::fs::read(linear.join("metrics.json")).unwrap()).unwrap();
    let restored = linear_metrics["downstream"]["restored_epoch"].as_u64().unwrap();
    assert!(stdout.contains(&format!("Restoring model weights from the end of the best epoch: {restored}.")), "{stdout}");
    let accuracy = probed.split(" on 300 held-out images").next().unwrap();
    assert!(accuracy.starts_with("test accuracy ") && probed.contains("linear/classifier.safetensors"), "{probed}");
    let output = pretext(&["eval", "--run", linear.to_str().unwrap()]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with(accuracy), "{}", String::from_utf8_lossy(&output.stdout));
    let original: Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(original, metrics, "the run's metrics stay");

    // With --force in place, nothing of the replaced classifier stays behind, its
    // evaluations included.
    assert_success(&pretext(&["eval", "--run", out.to_str().unwrap(), "--test-size", "100"]));
    let output = pretext(&[&probe[..], &["--force"]].concat());
    assert_success(&output);
    assert!(!out.join("eval-100").exists(), "an evaluation of the replaced classifier stayed");
    let replaced: Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(replaced["protocols"].is_null() && !out.join("protocols.md").exists() && !out.join("embedding.png").exists(), "{replaced}");
    assert_eq!(replaced["pretext"], metrics["pretext"]);

    // Flags of the pretext phase do not apply to a probe.
    let output = pretext(&[&probe[..], &["--out", dir.path().join("x").to_str().unwrap(), "--pretext-epochs", "5"]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("unexpected argument '--pretext-epochs'"), "{}", common::stderr(&output));
}

/// Burn's standard conv, ReLU and pool (what a GPU runs) train the notebook encoder on the CPU
/// as our kernels do; `eval` reloads the run with the same ops.
#[test]
fn burns_standard_ops_train_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("burn");
    let output = pretext(&[
        "run", "--preset", "seed", "--kernels", "burn", "--pretext-epochs", "4", "--downstream-epochs", "8", "--baselines", "false",
        "--out", out.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("kernels = \"burn\""), "{config}");
    let metrics: Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let (pretext_acc, test_acc) = (metrics["pretext"]["final_accuracy"].as_f64().unwrap(), metrics["test"]["accuracy"].as_f64().unwrap());
    assert!(pretext_acc > 0.6 && test_acc > 0.6, "pretext accuracy {pretext_acc}, test accuracy {test_acc}");
    let output = pretext(&["eval", "--run", out.to_str().unwrap()]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("test accuracy {test_acc:.4} on 300")), "{}", String::from_utf8_lossy(&output.stdout));
}
