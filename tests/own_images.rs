//! The user's own images: image folders exported from real MNIST and Fashion-MNIST test
//! images (one in colour), and CIFAR-10 binary batches written in its exact format, each
//! trained end to end; corrupt inputs are named, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_success, pretext, stderr};
use image::{GrayImage, RgbImage};
use pretext::data::catalog::{DatasetSpec, FASHION_MNIST, MNIST};
use pretext::data::images::LabeledImages;
use serde_json::Value;

/// Class names the exported MNIST folders use, so that `predict` must print a name, not a number.
const DIGITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// The first `n` test images of a catalog data set.
fn test_images(spec: &DatasetSpec, dir: Option<&Path>, n: usize) -> LabeledImages {
    spec.load(&spec.resolve_dir(dir).unwrap()).unwrap().test.head(n)
}

/// Writes `images` as `root/<class>/<index>.png`, grey, or in colour (tinted, so every
/// channel differs) when `rgb`.
fn export(images: &LabeledImages, classes: &[&str], root: &Path, rgb: bool) -> Vec<PathBuf> {
    (0..images.len())
        .map(|i| {
            let dir = root.join(classes[images.label(i)]);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{i:04}.png"));
            let grey = images.image(i).to_vec();
            if rgb {
                let pixels = grey.iter().flat_map(|&g| [g, g / 2, 255 - g]).collect();
                RgbImage::from_raw(28, 28, pixels).unwrap().save(&path).unwrap();
            } else {
                GrayImage::from_raw(28, 28, grey).unwrap().save(&path).unwrap();
            }
            path
        })
        .collect()
}

fn metrics(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn an_exported_mnist_folder_trains_end_to_end_and_predict_prints_the_class_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    let files = export(&test_images(&MNIST, Some(&common::data_dir()), 500), &DIGITS, &root, false);
    let broken = root.join("seven/broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff\xe0 cut short").unwrap();
    let run = dir.path().join("run");
    let output = pretext(&[
        "run", "--preset", "seed", "--dataset", &format!("folder:{}", root.display()), "--unlabeled", "all", "--labels", "all",
        "--test-size", "all", "--pretext-epochs", "15", "--baselines", "false", "--out", run.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    // The broken file is named on one line, and then in dataset.json and the report.
    let warning = format!("warning: skipped 1 file(s) that cannot be read as images (a run lists them all in its dataset.json): {} (", broken.display());
    let line = stderr(&output).lines().find(|line| line.starts_with("warning: skipped")).map(str::to_string);
    assert!(line.as_ref().is_some_and(|line| line.starts_with(&warning) && line.ends_with(')')), "{}", stderr(&output));
    let metrics = metrics(&run);
    // 500 images: a seeded fifth (100) tests, 400 train.
    assert_eq!(metrics["test"]["n"], 100);
    let accuracy = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "test accuracy {accuracy} (chance is 0.1)");
    let dataset: Value = serde_json::from_slice(&std::fs::read(run.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(dataset["shape"], serde_json::json!({"channels": 1, "height": 28, "width": 28}));
    // Classes in file-name order, as torchvision's ImageFolder has them.
    let mut sorted = DIGITS;
    sorted.sort();
    assert_eq!(dataset["classes"], serde_json::json!(sorted));
    assert_eq!((dataset["train"].as_u64(), dataset["test"].as_u64()), (Some(400), Some(100)));
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("Data set <b>folder:") && report.contains("<th>three</th>"), "the report names the data set and classes");
    assert!(report.contains(&format!("<li><code>{}</code>: ", broken.display())), "the report lists the skipped file");
    // A later command on the run reads the same files: it does not warn again.
    let output = pretext(&["eval", "--run", run.to_str().unwrap()]);
    assert_success(&output);
    assert!(!stderr(&output).contains("skipped"), "{}", stderr(&output));

    // Another labelled folder holding two of the ten classes: its images are matched to the
    // classifier's classes by name (in label order they would be "eight" and "five").
    let other = dir.path().join("other");
    for class in ["one", "seven"] {
        std::fs::create_dir_all(other.join(class)).unwrap();
        for file in files.iter().filter(|p| p.parent().unwrap().ends_with(class)) {
            std::fs::copy(file, other.join(class).join(file.file_name().unwrap())).unwrap();
        }
    }
    let output = pretext(&["eval", "--run", run.to_str().unwrap(), "--dataset", &format!("folder:{}", other.display())]);
    assert_success(&output);
    let scored: Value = serde_json::from_slice(&std::fs::read(run.join("eval-other/metrics.json")).unwrap()).unwrap();
    let copied = files.iter().filter(|p| p.parent().unwrap().ends_with("one") || p.parent().unwrap().ends_with("seven")).count();
    assert_eq!(scored["test"]["n"], copied);
    let accuracy = scored["test"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "accuracy {accuracy} on the classes one and seven");
    std::fs::create_dir(other.join("ten")).unwrap();
    std::fs::copy(&files[0], other.join("ten/0.png")).unwrap();
    let output = pretext(&["eval", "--run", run.to_str().unwrap(), "--dataset", &format!("folder:{}", other.display()), "--out", dir.path().join("e").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("has the class ten, which the run's classifier does not know (its classes: eight, five,"), "{}", stderr(&output));

    // The folder's first "one", predicted by its class name.
    let one = files.iter().find(|p| p.parent().unwrap().ends_with("one")).unwrap();
    let output = pretext(&["predict", "--run", run.to_str().unwrap(), one.to_str().unwrap()]);
    assert_success(&output);
    let line = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(line.contains(": one (probability"), "{line}");
}

#[test]
fn a_colour_fashion_mnist_folder_is_read_as_rgb_and_trains_a_resnet_with_simclr() {
    let fashion = FASHION_MNIST.classes.iter().map(|c| c.replace('/', "-")).collect::<Vec<_>>();
    let classes: Vec<&str> = fashion.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("clothes");
    export(&test_images(&FASHION_MNIST, Some(&common::fashion_mnist_dir()), 200), &classes, &root, true);
    let output = pretext(&["data", "info", &format!("folder:{}", root.display())]);
    assert_success(&output);
    let info = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(info.contains("images:     28x28 RGB") && info.contains("train:      160 labelled images"), "{info}");
    assert!(info.contains("classes:    10 (Ankle boot, Bag, Coat, Dress,"), "{info}");
    assert!(info.contains("test:       40 images (40 of the labelled images, --test-fraction 0.2 drawn with split seed"), "{info}");

    let run = dir.path().join("run");
    let output = pretext(&[
        "run", "--dataset", &format!("folder:{}", root.display()), "--encoder", "resnet", "--resnet-width", "8",
        "--resnet-blocks", "1,1", "--method", "simclr", "--pixels", "standardize", "--pretext-epochs", "1",
        "--pretext-batch-size", "32", "--downstream-epochs", "2", "--monitor-images", "40", "--baselines", "false",
        "--labels", "all", "--out", run.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("[data.channel_stats]") && config.contains("[model.encoder]\nname = \"resnet\""), "{config}");
    assert_eq!(metrics(&run)["test"]["n"], 40);
}

#[test]
fn corrupt_folders_are_named_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    export(&test_images(&MNIST, Some(&common::data_dir()), 60), &DIGITS, &root, false);
    let dataset = format!("folder:{}", root.display());
    let info = |extra: &[&str]| pretext(&[&["data", "info", dataset.as_str()], extra].concat());

    // A file that claims to be a PNG but is not: skipped and named, or refused by flag.
    let fake = root.join("three/fake.png");
    std::fs::write(&fake, b"not an image").unwrap();
    let output = info(&[]);
    assert_success(&output);
    let info_text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(info_text.contains(&format!("skipped:    1 unreadable files: {} (", fake.display())), "{info_text}");
    let output = info(&["--unreadable", "fail"]);
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("fake.png") && stderr(&output).contains("--unreadable skip"), "{}", stderr(&output));
    std::fs::remove_file(&fake).unwrap();

    // Images of another size: refused with the fix, which then works.
    GrayImage::new(32, 32).save(root.join("three/big.png")).unwrap();
    let output = info(&[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("is 32x32") && stderr(&output).contains("--image-size N"), "{}", stderr(&output));
    let output = info(&["--image-size", "20"]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("20x20 grey"));

    // An empty class folder.
    std::fs::create_dir(root.join("ten")).unwrap();
    let output = info(&["--image-size", "20"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("ten: is a class folder without any .png or .jpg image"), "{}", stderr(&output));

    // One class: nothing to classify.
    let single = dir.path().join("single");
    std::fs::create_dir_all(&single).unwrap();
    std::fs::rename(root.join("three"), single.join("three")).unwrap();
    let output = pretext(&["data", "info", &format!("folder:{}", single.display()), "--image-size", "20"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("holds one class folder (three); a classifier needs two or more"), "{}", stderr(&output));

    // Folder settings on a named data set are refused by flag, before a run folder is made.
    let output = pretext(&["data", "info", "mnist", "--image-size", "20"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--image-size applies to image folders"), "{}", stderr(&output));
    let out = dir.path().join("never");
    let output = pretext(&["run", "--dataset", "mnist", "--test-fraction", "0.5", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--test-fraction applies to image folders") && !out.exists(), "{}", stderr(&output));
}

#[test]
fn a_test_folder_holds_the_test_images_and_must_share_the_training_classes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    let images = test_images(&MNIST, Some(&common::data_dir()), 100);
    export(&images.head(80), &DIGITS, &root.join("train"), false);
    export(&images.slice(80..100), &DIGITS, &root.join("test"), false);
    let output = pretext(&["data", "info", &format!("folder:{}", root.display())]);
    assert_success(&output);
    let info = String::from_utf8_lossy(&output.stdout).to_string();
    let expected = format!("train:      80 labelled images\ntest:       20 images ({})", root.join("test").display());
    assert!(info.contains(&expected), "{info}");

    std::fs::create_dir_all(root.join("test/eleven")).unwrap();
    GrayImage::new(28, 28).save(root.join("test/eleven/x.png")).unwrap();
    let output = pretext(&["data", "info", &format!("folder:{}", root.display())]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("eleven: is a test class that the training images lack"), "{}", stderr(&output));
}

#[test]
fn loose_images_and_an_unlabeled_dir_feed_only_the_pretext_phase() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    let images = test_images(&MNIST, Some(&common::data_dir()), 75);
    export(&images.head(60), &DIGITS, &root, false);
    let loose = images.slice(60..70);
    let extra = dir.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    for i in 0..loose.len() {
        GrayImage::from_raw(28, 28, loose.image(i).to_vec()).unwrap().save(root.join(format!("loose{i}.png"))).unwrap();
    }
    for i in 70..75 {
        GrayImage::from_raw(28, 28, images.image(i).to_vec()).unwrap().save(extra.join(format!("{i}.png"))).unwrap();
    }
    let dataset = format!("folder:{}", root.display());
    let output = pretext(&["data", "info", &dataset, "--unlabeled-dir", extra.to_str().unwrap()]);
    assert_success(&output);
    let info = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(info.contains("train:      48 labelled images\nunlabeled:  15 more images\ntest:       12 images"), "{info}");
    // The pretext phase may use the 48 training images and the 15 unlabeled ones: 63.
    let output = pretext(&["run", "--dataset", &dataset, "--unlabeled-dir", extra.to_str().unwrap(), "--unlabeled", "64", "--out", dir.path().join("r").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--unlabeled (`data.unlabeled_size` in a config file) 64 asks for more than the 63 training images"), "{}", stderr(&output));
}

/// Writes the six CIFAR-10 batch files with `per_file` records each: label `i % 10`, pixels a
/// per-class colour pattern plus noise, so that classes are learnable.
fn write_cifar(dir: &Path, per_file: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let files = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];
    for (f, name) in files.iter().enumerate() {
        let mut bytes = Vec::new();
        for i in 0..per_file {
            let label = (i % 10) as u8;
            bytes.push(label);
            bytes.extend((0..3072).map(|p| ((p / 1024) * 40 + label as usize * 15 + (p * 7 + i * 13 + f) % 17) as u8));
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn cifar10_batches_in_the_binary_format_train_a_resnet_with_simclr() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(&dir.path().join("cifar10"), 40);
    let run = dir.path().join("run");
    let output = pretext(&[
        "run", "--dataset", "cifar10", "--data-dir", dir.path().to_str().unwrap(), "--encoder", "resnet", "--resnet-width",
        "8", "--resnet-blocks", "1,1", "--method", "simclr", "--pretext-epochs", "1", "--pretext-batch-size", "64",
        "--downstream-epochs", "2", "--labels", "100", "--monitor-images", "40", "--baselines", "false",
        "--out", run.to_str().unwrap(), "--quiet",
    ]);
    assert_success(&output);
    let dataset: Value = serde_json::from_slice(&std::fs::read(run.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(dataset["shape"], serde_json::json!({"channels": 3, "height": 32, "width": 32}));
    assert_eq!((dataset["train"].as_u64(), dataset["test"].as_u64()), (Some(200), Some(40)));
    assert_eq!(dataset["classes"][0], "airplane");
    assert_eq!(metrics(&run)["pretext"]["epochs_run"], 1);

    // A truncated batch is named with what is wrong.
    let batch = dir.path().join("cifar10/data_batch_3.bin");
    let bytes = std::fs::read(&batch).unwrap();
    std::fs::write(&batch, &bytes[..bytes.len() - 100]).unwrap();
    let output = pretext(&["data", "info", "cifar10", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("data_batch_3.bin: truncated or not a CIFAR batch"), "{}", stderr(&output));
}
