//! Every self-supervised method on real MNIST: a few epochs lower its loss, leave finite
//! weights and fill the monitor's columns; a collapse is named in the metrics; `pretext
//! methods` lists them all.

mod common;

use burn::tensor::Device;
use pretext::config::{Count, Preset, RunConfig};
use pretext::eval::monitor::{FEATURE_SPREAD, KNN_ACCURACY};
use pretext::methods::MethodName;
use pretext::model::encoders::EncoderConfig;
use pretext::model::encoders::resnet::ResNetConfig;
use pretext::pipeline::{self, Pretrained, Session};
use pretext::report::artifacts::RunFolder;
use pretext::train::optimizer::TrainConfig;

/// Settings for a short run of `method` on 1,024 unlabeled images.
fn short(method: MethodName) -> RunConfig {
    let mut config = RunConfig::preset(Preset::Default).with_method(method);
    config.data.unlabeled_size = Count::N(1024);
    config.data.labels = Count::N(200);
    config.data.test_size = Count::N(100);
    config.pretext.epochs = 3;
    config.pretext.batch_size = 128;
    config.monitor.images = 400;
    config.validate().unwrap();
    config
}

fn pretrain(method: MethodName) -> Pretrained {
    let mut config = short(method);
    let full = pipeline::load_dataset(&mut config, Some(&common::data_dir())).unwrap();
    let data = pipeline::select(&config, &full).unwrap();
    pipeline::pretrain(&config, &data, &Session::default()).unwrap()
}

fn check_method(method: MethodName) {
    let pretrained = pretrain(method);
    let history = &pretrained.history;
    assert_eq!(history.len(), 3);
    let (first, last) = (history[0].loss, history[2].loss);
    assert!(last.is_finite() && last < first, "{method}: loss {first} -> {last}");
    assert!(common::parameter_values(pretrained.model.encoder()).iter().all(|v| v.is_finite()), "{method}: non-finite encoder weights");
    for record in history {
        let knn = record.get(KNN_ACCURACY).expect("monitor measures every epoch");
        assert!(knn > 0.3, "{method}: k-NN accuracy {knn} at epoch {} (chance 0.1)", record.epoch);
        assert!(record.get(FEATURE_SPREAD).is_some_and(|s| s > 0.0));
    }
    assert!(pretrained.collapse().is_none(), "{method}: collapsed");
}

#[test]
fn rotation_learns() {
    check_method(MethodName::Rotation);
}

#[test]
fn simclr_learns() {
    check_method(MethodName::Simclr);
}

#[test]
fn byol_learns() {
    check_method(MethodName::Byol);
}

#[test]
fn vicreg_learns() {
    check_method(MethodName::Vicreg);
}

#[test]
fn barlow_twins_learns() {
    check_method(MethodName::BarlowTwins);
}

#[test]
fn the_methods_command_lists_every_method_with_its_flag_name() {
    let output = common::pretext(&["methods"]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = stdout.lines().take(5).filter_map(|line| line.split_whitespace().next()).collect();
    assert_eq!(names, ["rotation", "simclr", "byol", "vicreg", "barlow-twins"], "{stdout}");
    let output = common::pretext(&["methods", "--method", "byol"]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let momentum = stdout.lines().find(|line| line.starts_with("base_momentum ")).unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(momentum.split_whitespace().take(3).collect::<Vec<_>>(), ["base_momentum", "0.99", "Target"], "{momentum}");
}

#[test]
fn a_collapsed_encoder_is_named_in_the_metrics() {
    let mut config = short(MethodName::Vicreg);
    let full = pipeline::load_dataset(&mut config, Some(&common::data_dir())).unwrap();
    let data = pipeline::select(&config, &full).unwrap();
    let mut pretrained = pipeline::pretrain(&RunConfig { pretext: TrainConfig { epochs: 1, ..config.pretext.clone() }, ..config.clone() }, &data, &Session::default()).unwrap();
    assert!(pretrained.collapse().is_none());
    // The spread a collapsed encoder shows: every feature vector pointing the same way.
    pretrained.history.last_mut().unwrap().measured.set(FEATURE_SPREAD, 0.001);
    assert_eq!(pretrained.collapse(), Some(0.001));
    let dir = tempfile::tempdir().unwrap();
    let folder = RunFolder::create(dir.path(), false).unwrap();
    folder.write_pretext(&pretrained, &config.method, &data.unlabeled).unwrap();
    let metrics = folder.read_metrics().unwrap();
    let pretext = metrics.pretext.unwrap();
    assert_eq!((pretext.collapsed, pretext.final_feature_std), (true, Some(0.001)));
}

#[test]
fn every_method_trains_a_resnet_encoder_and_moves_its_weights() {
    for &method in MethodName::ALL {
        let mut config = short(method);
        config.model.encoder = EncoderConfig::Resnet(ResNetConfig { width: 4, blocks: vec![1, 1] });
        config.data.unlabeled_size = Count::N(128);
        config.pretext.epochs = 2;
        config.pretext.batch_size = 64;
        config.monitor.images = 100;
        let full = pipeline::load_dataset(&mut config, Some(&common::data_dir())).unwrap();
        let data = pipeline::select(&config, &full).unwrap();
        let before = common::parameter_values(&pipeline::initial_encoder(&config, data.shape(), &Device::flex()));
        let pretrained = pipeline::pretrain(&config, &data, &Session::default()).unwrap();
        let after = common::parameter_values(pretrained.model.encoder());
        assert!(pretrained.history.iter().all(|r| r.loss.is_finite()), "{method}: {:?}", pretrained.history);
        assert_eq!(before.len(), after.len());
        assert!(before != after && after.iter().all(|v| v.is_finite()), "{method}: the encoder did not learn");
    }
}
