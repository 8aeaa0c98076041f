//! `pretext export`: the ONNX and PyTorch exports of a trained classifier give `pretext
//! predict`'s classes and logits (within 1e-4) on 1,000 MNIST test images, checked outside
//! Rust by onnxruntime and NumPy (tests/python/check_export.py), for the default recipe's
//! notebook encoder and for a ResNet; and the command's refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_success, pretext, stderr};
use image::GrayImage;
use pretext::data::catalog::MNIST;

const IMAGES: usize = 1000;

/// The Python with NumPy and onnxruntime: `$PRETEXT_EXPORT_PYTHON` (one that also has PyTorch
/// runs model.py too), else tests/python/venv.sh's, which it makes when missing.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("PRETEXT_EXPORT_PYTHON") {
        return python.into();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/venv.sh");
    let output = Command::new(&script).output().expect("bash runs tests/python/venv.sh");
    assert!(output.status.success(), "tests/python/venv.sh failed (python3 with venv and pip, and PyPI, are needed):\n{}", stderr(&output));
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Writes the first [`IMAGES`] MNIST test images as PNGs, and their bytes in the same order as
/// `pixels.bin`.
fn mnist_test_pngs(dir: &Path) -> Vec<PathBuf> {
    let test = MNIST.load(&MNIST.resolve_dir(Some(&common::data_dir())).unwrap()).unwrap().test.head(IMAGES);
    std::fs::create_dir_all(dir.join("png")).unwrap();
    let mut pixels = Vec::new();
    let files = (0..test.len())
        .map(|i| {
            let path = dir.join("png").join(format!("{i:04}.png"));
            GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap().save(&path).unwrap();
            pixels.extend_from_slice(test.image(i));
            path
        })
        .collect();
    std::fs::write(dir.join("pixels.bin"), pixels).unwrap();
    files
}

/// Exports the run's classifier both ways and checks both against `pretext predict --logits`.
fn assert_exports_reproduce_predict(run: &Path, dir: &Path) {
    let (onnx, torch) = (dir.join("onnx"), dir.join("torch"));
    for (format, out) in [("onnx", &onnx), ("torch", &torch)] {
        assert_success(&pretext(&["export", "--run", run.to_str().unwrap(), "--format", format, "--out", out.to_str().unwrap()]));
    }
    let files = mnist_test_pngs(dir);
    let mut args = vec!["predict".to_string(), "--run".into(), run.display().to_string(), "--logits".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let predicted = pretext(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_success(&predicted);
    std::fs::write(dir.join("predictions.txt"), &predicted.stdout).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_export.py");
    let check = Command::new(python()).arg(script).args([dir.join("pixels.bin"), dir.join("predictions.txt"), onnx, torch]).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&check.stdout), stderr(&check));
    assert!(check.status.success(), "{report}");
    println!("{report}");
    for export in ["onnx (onnxruntime)", "torch (NumPy)"] {
        assert!(report.contains(&format!("{export}: ")) && report.contains(&format!("/{IMAGES} classes as pretext predict")), "{report}");
    }
}

/// examples/python/predict.py resizes non-square JPEGs by model.json's rule as `pretext predict`
/// does: the same classes, and probabilities that differ only by the two libraries' rounding
/// of the bilinear filter and the JPEG decoder.
fn assert_predict_py_resizes_like_predict(run: &Path, onnx: &Path, dir: &Path) {
    let sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(onnx.join("model.json")).unwrap()).unwrap();
    assert_eq!(sidecar["input"]["resize"]["mode"], "crop", "{sidecar}");
    let test = MNIST.load(&MNIST.resolve_dir(Some(&common::data_dir())).unwrap()).unwrap().test.head(20);
    let files: Vec<String> = (0..test.len())
        .map(|i| {
            let path = dir.join(format!("tall-{i:02}.jpg"));
            let digit = image::DynamicImage::ImageLuma8(GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap());
            digit.resize_exact(36, 44, image::imageops::FilterType::Triangle).save(&path).unwrap();
            path.display().to_string()
        })
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let predicted = pretext(&[&["predict", "--run", run.to_str().unwrap()][..], &files].concat());
    assert_success(&predicted);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/predict.py");
    let python = Command::new(python()).arg(script).arg(onnx).args(&files).output().unwrap();
    assert!(python.status.success(), "{}", stderr(&python));
    // Lines `PATH: CLASS (probability P)`, in the order of `files`.
    let parse = |output: &[u8]| -> Vec<(String, f64)> {
        String::from_utf8_lossy(output)
            .lines()
            .map(|line| {
                let (class, probability) = line.rsplit_once(": ").unwrap().1.split_once(" (probability ").unwrap();
                (class.to_string(), probability.trim_end_matches(')').parse().unwrap())
            })
            .collect()
    };
    let (ours, theirs) = (parse(&predicted.stdout), parse(&python.stdout));
    assert_eq!(ours.len(), files.len());
    for ((file, (class, p)), (py_class, py_p)) in files.iter().zip(&ours).zip(&theirs) {
        assert_eq!(class, py_class, "{file}");
        assert!((p - py_p).abs() < 0.05, "{file}: probability {p} in pretext, {py_p} in predict.py");
    }
}

#[test]
fn the_default_recipes_classifier_exports_to_onnx_and_torch_that_give_predicts_logits() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = pretext(&[
        "run", "--unlabeled", "2000", "--labels", "500", "--pretext-epochs", "2", "--downstream-epochs", "3", "--test-size", "100",
        "--baselines", "false", "--out", run.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("standardize_features = true") && config.contains("pixels = \"unit\""), "the default recipe: {config}");
    assert_exports_reproduce_predict(&run, dir.path());
    assert_predict_py_resizes_like_predict(&run, &dir.path().join("onnx"), dir.path());

    let model_py = std::fs::read_to_string(dir.path().join("torch/model.py")).unwrap();
    assert!(model_py.contains("self.encoder.conv1(F.pad(x, (0, 1, 0, 1)))"), "Keras' stride-2 'same' pads bottom and right: {model_py}");
    assert!(model_py.contains("self.norm = Standardize(288)") && model_py.contains("self.head = nn.Linear(288, 10)"), "{model_py}");
}

#[test]
fn a_resnet_classifier_exports_with_its_batch_norms_folded_into_onnx_and_kept_for_torch() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = pretext(&[
        "run", "--encoder", "resnet", "--resnet-width", "4", "--resnet-blocks", "1,1", "--method", "simclr", "--unlabeled", "512",
        "--pretext-batch-size", "64", "--labels", "300", "--pretext-epochs", "1", "--downstream-epochs", "2", "--test-size", "50",
        "--monitor-every", "0", "--baselines", "false", "--out", run.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    assert_exports_reproduce_predict(&run, dir.path());
    let model_py = std::fs::read_to_string(dir.path().join("torch/model.py")).unwrap();
    assert!(model_py.contains("self.encoder.blocks = nn.ModuleList(nn.Module() for _ in range(2))"), "{model_py}");
    assert!(model_py.contains("self.encoder.blocks[1].shortcut.norm = nn.BatchNorm2d(8, eps=1e-5)"), "{model_py}");
}

#[test]
fn export_refuses_what_it_cannot_do_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("pretrained");
    let output = pretext(&["pretrain", "--preset", "seed", "--unlabeled", "64", "--pretext-epochs", "1", "--out", run.to_str().unwrap(), "--quiet"]);
    assert_success(&output);
    let export = |extra: &[&str]| pretext(&[&["export", "--run", run.to_str().unwrap()], extra].concat());

    let output = export(&["--format", "onnx"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{message}");
    assert!(message.contains("no classifier") && message.contains("pretext probe --run") && message.contains("--what encoder"), "{message}");

    assert_success(&export(&["--format", "onnx", "--what", "encoder"]));
    let sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("export-onnx-encoder/model.json")).unwrap()).unwrap();
    assert_eq!((sidecar["output"]["name"].as_str(), sidecar["output"]["size"].as_u64()), (Some("features"), Some(288)));
    assert_eq!(sidecar["pixels"]["std"], serde_json::json!([1.0]), "the seed preset feeds raw 0..255 pixels");

    let output = export(&["--format", "onnx", "--what", "encoder"]);
    assert!(!output.status.success() && stderr(&output).contains("already exists; pass --force"), "{}", stderr(&output));
    assert_success(&export(&["--format", "onnx", "--what", "encoder", "--force"]));

    let output = export(&["--format", "keras"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("[possible values: onnx, torch]"), "{}", stderr(&output));
}
