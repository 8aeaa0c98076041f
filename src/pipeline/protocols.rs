//! The protocols (baselines) side by side: each classifier trained on the same labelled
//! images and scored on the same test images.


use crate::config::RunConfig;
use crate::error::Result;
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::features::encode;
use crate::eval::knn;
use crate::eval::predict::Predictions;
use crate::eval::protocols::{Protocol, ProtocolResult};
use crate::model::encoders::Encoder;

use super::classify::{Probed, evaluate, initial_encoder, probe, semi_supervise};
use super::data::RunData;
use super::session::Session;

/// Trains the classifier of `protocol` on the run's labelled images (checkpoints in a
/// sub-folder named after the protocol). A semi-supervised protocol starts from its base
/// protocol's classifier, taken from `trained` or trained first; what this trains is added to
/// `trained`.
pub fn train_protocol(config: &RunConfig, protocol: Protocol, pretrained: &Encoder, data: &RunData, trained: &mut Vec<(Protocol, Probed)>, session: &Session) -> Result<Probed> {
    // A run's history files are its own phases'; the baselines' would overwrite them.
    let session = &Session { logs: None, ..session.clone() };
    let probed = match protocol.semi(config.fine_tune) {
        None => {
            let config = RunConfig { fine_tune: protocol.fine_tune(), ..config.clone() };
            let encoder = if protocol.pretrained() { pretrained.clone() } else { initial_encoder(&config, data.shape(), &session.device.clone().without_autodiff()) };
            probe(&config, encoder, &data.labelled, data.num_classes(), &session.phase(protocol.id()))?
        }
        Some((method, base)) => {
            let start = match trained.iter().find(|(p, _)| *p == base) {
                Some((_, probed)) => probed.model.clone(),
                None => train_protocol(config, base, pretrained, data, trained, session)?.model,
            };
            semi_supervise(config, method, start, pretrained, data, &session.phase(protocol.id()))?
        }
    };
    trained.push((protocol, probed.clone()));
    Ok(probed)
}

/// Test accuracy of a k-NN vote over `encoder`'s features of the labelled images.
pub fn knn_accuracy(config: &RunConfig, encoder: &Encoder, data: &RunData) -> f64 {
    let classes = data.num_classes();
    let bank = encode(encoder, &data.labelled, classes, data.pixels);
    let queries = encode(encoder, &data.test, classes, data.pixels);
    knn::knn_accuracy(&bank, &queries, classes, config.knn)
}

/// Scores each of `protocols` on the test images, training each on the same labelled images
/// (except those `known` already holds, with their test predictions: the run's own).
pub fn compare_protocols(
    config: &RunConfig,
    protocols: &[Protocol],
    pretrained: &Encoder,
    known: &[(Protocol, &Probed, &Predictions)],
    data: &RunData,
    session: &Session,
) -> Result<Vec<ProtocolResult>> {
    let classes = data.num_classes();
    let score = |protocol: Protocol, probed: &Probed, predictions: &Predictions| {
        let matrix = ConfusionMatrix::new(&predictions.predicted(), &predictions.targets, classes);
        ProtocolResult {
            protocol,
            test_accuracy: predictions.evaluation().accuracy,
            knn_accuracy: knn_accuracy(config, &probed.model.encoder, data),
            epochs_run: probed.history.len(),
            per_class_accuracy: matrix.per_class_accuracy(),
            seconds: probed.history.iter().map(|r| r.seconds).sum(),
        }
    };
    let mut trained: Vec<(Protocol, Probed)> = known.iter().map(|&(protocol, probed, _)| (protocol, probed.clone())).collect();
    let quiet = Session { verbose: false, ..session.clone() };
    protocols
        .iter()
        .map(|&protocol| {
            if let Some(&(_, probed, predictions)) = known.iter().find(|(p, ..)| *p == protocol) {
                return Ok(score(protocol, probed, predictions));
            }
            let probed = match trained.iter().find(|(p, _)| *p == protocol) {
                Some((_, probed)) => probed.clone(),
                None => train_protocol(config, protocol, pretrained, data, &mut trained, &quiet)?,
            };
            Ok(score(protocol, &probed, &evaluate(&probed.model, &data.test, classes, data.pixels)))
        })
        .collect()
}
