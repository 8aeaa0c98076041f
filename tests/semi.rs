//! Semi-supervised training on real MNIST: FixMatch lifts the classifier it starts from,
//! distillation scores its teacher's pseudo-labels, a run shows the diagnostics, and bad
//! settings are refused by name.

mod common;

use burn::tensor::Device;
use pretext::config::{Count, Preset, RunConfig};
use pretext::eval::protocols::Protocol;
use pretext::pipeline::{self, Probed, RunData, Session};
use pretext::semi::SemiMethod;
use pretext::semi::pseudo_labels::{MASK_RATE, PSEUDO_LABEL_ACCURACY};
use pretext::train::history::VAL_ACCURACY;

use common::{assert_success, pretext, stderr};

/// 100 balanced labels to train and 100 to validate, 4,000 unlabeled images, 1,000 test
/// images; a classifier from scratch to start from.
fn setup() -> (RunConfig, RunData, Probed) {
    let mut config = RunConfig::preset(Preset::Default);
    config.data.unlabeled_size = Count::N(4000);
    config.data.labels = Count::N(200);
    config.data.balanced_labels = true;
    config.data.validation_split = 0.5;
    config.data.test_size = Count::N(1000);
    config.downstream.epochs = 30;
    config.downstream.early_stopping = None;
    config.semi.training.epochs = 4;
    config.validate().unwrap();
    let full = pipeline::load_dataset(&mut config, Some(&common::data_dir())).unwrap();
    let data = pipeline::select(&config, &full).unwrap();
    let encoder = pipeline::initial_encoder(&config, data.shape(), &Device::flex());
    let scratch = pipeline::train_protocol(&config, Protocol::Scratch, &encoder, &data, &mut Vec::new(), &Session::default()).unwrap();
    (config, data, scratch)
}

fn test_accuracy(probed: &Probed, data: &RunData) -> f64 {
    pipeline::evaluate(&probed.model, &data.test, data.num_classes(), data.pixels).evaluation().accuracy
}

#[test]
fn fixmatch_and_distillation_on_real_mnist() {
    let (config, data, scratch) = setup();
    let encoder = pipeline::initial_encoder(&config, data.shape(), &Device::flex());
    let start = test_accuracy(&scratch, &data);

    let fixmatch = pipeline::semi_supervise(&config, SemiMethod::Fixmatch, scratch.model.clone(), &encoder, &data, &Session::default()).unwrap();
    let history = &fixmatch.history;
    assert_eq!(history.len(), 4);
    assert!(common::parameter_values(&fixmatch.model).iter().all(|v| v.is_finite()), "non-finite weights");
    let (first, last) = (history[0].get(VAL_ACCURACY).unwrap(), history[3].get(VAL_ACCURACY).unwrap());
    assert!(last > first, "validation accuracy {first} -> {last}");
    let end = test_accuracy(&fixmatch, &data);
    assert!(end > start + 0.02, "test accuracy {start} -> {end}");
    for record in history {
        let (mask, right) = (record.get(MASK_RATE).unwrap(), record.get(PSEUDO_LABEL_ACCURACY).unwrap());
        assert!(mask > 0.0 && mask < 1.0 && right > 0.8, "epoch {}: mask rate {mask}, pseudo-label accuracy {right}", record.epoch);
    }

    // Distillation: every unlabeled image gets the teacher's class, scored against the truth.
    let distilled = pipeline::semi_supervise(&config, SemiMethod::Distill, scratch.model.clone(), &encoder, &data, &Session::default()).unwrap();
    let teacher = pipeline::evaluate(&scratch.model, &data.unlabeled, data.num_classes(), data.pixels).evaluation().accuracy;
    for record in &distilled.history {
        assert_eq!(record.get(MASK_RATE), Some(1.0));
        let right = record.get(PSEUDO_LABEL_ACCURACY).unwrap();
        assert!((right - teacher).abs() < 1e-12, "{right} vs the teacher's {teacher}");
    }
    let student = test_accuracy(&distilled, &data);
    // Four epochs from a fresh head on a random encoder (0.1 by chance) come close to the teacher.
    assert!(student > start - 0.1, "the student ({student}) learns what its teacher ({start}) knows");
}

#[test]
fn a_fixmatch_run_reports_its_pseudo_labels_and_keeps_the_semi_supervised_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = pretext(&[
        "run", "--unlabeled", "1000", "--labels", "100", "--balanced-labels", "true", "--validation-split", "0", "--no-early-stopping",
        "--test-size", "200", "--pretext-epochs", "1", "--downstream-epochs", "5", "--semi-supervised", "fixmatch", "--semi-epochs", "2",
        "--baselines", "false", "--quiet", "--out", out.to_str().unwrap(),
    ]);
    assert_success(&output);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("| SSL encoder, fine-tuned |") && table.contains("| SSL encoder + FixMatch |"), "{table}");
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["semi"]["method"], "fixmatch");
    assert_eq!(metrics["semi"]["per_epoch"].as_array().unwrap().len(), 2);
    let fixmatch = metrics["protocols"].as_array().unwrap().iter().find(|p| p["protocol"] == "ssl_fixmatch").unwrap();
    assert_eq!(fixmatch["test_accuracy"], metrics["test"]["accuracy"], "the run keeps the FixMatch classifier");
    let csv = std::fs::read_to_string(out.join("history_semi.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("mask_rate,pseudo_label_accuracy"), "{csv}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Semi-supervised: fixmatch") && report.contains("pseudo-label accuracy"));
}

#[test]
fn bad_semi_supervised_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let refused = |flags: &[&str], named: &str| {
        let mut args = vec!["run", "--out", out.to_str().unwrap()];
        args.extend(flags);
        let output = pretext(&args);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(named), "{flags:?}: {}", stderr(&output));
        assert!(!out.exists(), "{flags:?}: refused before a run folder is made");
    };
    refused(&["--semi-supervised", "fixmatch", "--threshold", "0"], "--threshold (`semi.threshold` in a config file) must be in (0, 1], got 0");
    refused(&["--semi-supervised", "fixmatch", "--threshold", "1.5"], "--threshold (`semi.threshold` in a config file) must be in (0, 1], got 1.5");
    refused(&["--semi-supervised", "fixmatch", "--unlabeled-ratio", "0"], "--unlabeled-ratio");
    refused(&["--semi-supervised", "fixmatch,distill"], "`pretext sweep` takes several");

    // A folder from `pretrain` has no classifier to teach a student.
    let pretrained = dir.path().join("pretrained");
    assert_success(&pretext(&["pretrain", "--unlabeled", "256", "--pretext-epochs", "1", "--quiet", "--out", pretrained.to_str().unwrap()]));
    let output = pretext(&["probe", "--run", pretrained.to_str().unwrap(), "--semi-supervised", "distill"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("needs a classifier to teach") && stderr(&output).contains("pretext probe --run"), "{}", stderr(&output));
}
