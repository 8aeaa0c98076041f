//! The pipeline's steps on real MNIST images: exact batches, frozen encoders stay frozen.

mod common;

use burn::tensor::Device;
use pretext::config::{Count, Preset, RunConfig};
use pretext::data::batch::{BatchSource, ImageBatches};
use pretext::pipeline::{self, Session};
use pretext::methods::rotation::{Rotation, RotationTask};

fn small_config() -> RunConfig {
    let mut config = RunConfig::preset(Preset::Seed);
    config.data.unlabeled_size = Count::N(100);
    config.data.labels = Count::N(100);
    config.data.test_size = Count::N(50);
    config.pretext.epochs = 1;
    config.downstream.epochs = 2;
    config
}

#[test]
fn rotation_batches_hold_exactly_the_rotated_pixels() {
    let mut config = small_config();
    let data = pipeline::load_data(&mut config, Some(&common::data_dir())).unwrap();
    let batches = ImageBatches::new(RotationTask::new(&data.unlabeled), data.pixels);
    let batch = batches.batch(&[0, 1, 2, 3], &Device::flex());
    assert_eq!(batch.targets, [0, 1, 2, 3]);
    let values = batch.input.into_data().try_to_vec::<f32>().unwrap();
    // Sample 4k + r is image k + 1 (the notebook's order) turned r quarter turns.
    let image = data.unlabeled.image(1);
    for (r, rotation) in Rotation::ALL.into_iter().enumerate() {
        let mut expected = vec![0u8; 784];
        rotation.apply(image, 28, &mut expected);
        let got: Vec<u8> = values[r * 784..(r + 1) * 784].iter().map(|&v| v as u8).collect();
        assert_eq!(got, expected, "rotation {r}");
    }
}

#[test]
fn balanced_labels_take_the_same_number_from_every_class() {
    let mut config = small_config();
    config.data.balanced_labels = true;
    let data = pipeline::load_data(&mut config, Some(&common::data_dir())).unwrap();
    let mut counts = [0; 10];
    data.labelled.labels().iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [10; 10]);
    // Data order is kept, so the validation tail mixes classes.
    let (_, val) = data.labelled.split_tail(0.3);
    assert!(val.labels().iter().collect::<std::collections::HashSet<_>>().len() >= 5);
}

#[test]
fn probing_keeps_the_encoder_frozen_and_fine_tuning_moves_it() {
    let mut config = small_config();
    let data = pipeline::load_data(&mut config, Some(&common::data_dir())).unwrap();
    let pretrained = pipeline::pretrain(&config, &data, &Session::default()).unwrap();
    let before = common::parameter_values(pretrained.model.encoder());

    let probed = pipeline::probe(&config, pretrained.model.encoder().clone(), &data.labelled, 10, &Session::default()).unwrap();
    assert_eq!(common::parameter_values(&probed.model.encoder), before);
    assert_eq!(probed.history.len(), 2);

    // Shifted images go through the encoder every step; it must still not learn.
    config.downstream.max_shift = 2;
    let shifted = pipeline::probe(&config, pretrained.model.encoder().clone(), &data.labelled, 10, &Session::default()).unwrap();
    assert_eq!(common::parameter_values(&shifted.model.encoder), before);

    config.fine_tune = true;
    let tuned = pipeline::probe(&config, pretrained.model.encoder().clone(), &data.labelled, 10, &Session::default()).unwrap();
    assert_ne!(common::parameter_values(&tuned.model.encoder), before);
}
