//! Whether self-supervision paid on a run: the signs that the pretrained encoder is worse
//! than going without it, and what to try instead. A run says so on the console, in
//! `metrics.json` (`ssl_payoff`) and in its report, so that nobody keeps an encoder that made
//! their data worse without being told.

use serde::{Deserialize, Serialize};

use crate::eval::protocols::{Protocol, ProtocolResult};
use crate::eval::monitor::KNN_ACCURACY;
use crate::wording::worded;
use crate::train::history::EpochRecord;

/// How many falls in a row, at the k-NN monitor's last measurements, make a sign.
const FALLS_IN_A_ROW: usize = 3;

/// One sign that self-supervision is not paying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "sign", rename_all = "snake_case")]
pub enum Sign {
    /// The k-NN monitor fell at each of its last measurements: pretraining went on making
    /// the features worse for the classes.
    KnnFalling {
        /// The epochs of the measurements, from the last one before the falls.
        epochs: Vec<usize>,
        /// The k-NN accuracies at those epochs.
        accuracies: Vec<f64>,
    },
    /// The linear probe on the pretrained encoder scored below one on a random encoder.
    ProbeBelowRandom {
        /// Test accuracy of the probe on the pretrained encoder.
        probe: f64,
        /// Test accuracy of the probe on the random encoder.
        random: f64,
    },
    /// The best classifier that starts from the pretrained encoder scored below the best one
    /// that does not (from scratch, with FixMatch when it ran).
    BelowScratch {
        /// That pretrained protocol.
        pretrained: Protocol,
        /// Its test accuracy.
        pretrained_accuracy: f64,
        /// The protocol without pretraining.
        without: Protocol,
        /// Its test accuracy.
        without_accuracy: f64,
    },
}

impl Sign {
    /// The sign in one sentence.
    pub fn message(&self) -> String {
        match self {
            Sign::KnnFalling { epochs, accuracies } => {
                let curve: Vec<String> = epochs.iter().zip(accuracies).map(|(e, a)| format!("{a:.4} (epoch {e})")).collect();
                format!("the k-NN monitor fell at each of its last {} measurements: {}", accuracies.len() - 1, curve.join(" -> "))
            }
            Sign::ProbeBelowRandom { probe, random } => {
                format!("the linear probe on the pretrained encoder reached {probe:.4}, below the {random:.4} of the same probe on a random encoder")
            }
            Sign::BelowScratch { pretrained, pretrained_accuracy, without, without_accuracy } => format!(
                "the best classifier on the pretrained encoder ({}: {pretrained_accuracy:.4}) is below the best without pretraining ({}: {without_accuracy:.4})",
                pretrained.description(),
                without.description()
            ),
        }
    }
}

/// What a run's settings say about where to go next.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContext {
    /// The self-supervised method's name.
    pub method: String,
    /// Channels of the images (1: grey).
    pub channels: usize,
    /// Pretext epochs run.
    pub pretext_epochs: usize,
    /// Unlabeled images pretrained on.
    pub unlabeled: usize,
    /// Whether a semi-supervised phase ran.
    pub semi_supervised: bool,
}

/// The verdict on one run: its signs and, when there are any, what to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payoff {
    /// No sign was seen.
    pub paying: bool,
    /// The signs seen (in JSON, each with its `message`, which reading ignores: the message
    /// is made from the fields).
    #[serde(serialize_with = "with_messages")]
    pub signs: Vec<Sign>,
    /// What to try instead (empty when paying).
    pub suggestions: Vec<String>,
}

impl Payoff {
    /// Judges a run from its pretext history and its protocols' results (only the signs
    /// those can show: without baselines there is nothing to compare with).
    pub fn judge(pretext: &[EpochRecord], results: &[ProtocolResult], context: &RunContext) -> Self {
        let signs: Vec<Sign> = [knn_falling(pretext), probe_below_random(results), below_scratch(results)].into_iter().flatten().collect();
        let suggestions = if signs.is_empty() { Vec::new() } else { suggestions(&signs, context) };
        Self { paying: signs.is_empty(), signs, suggestions }
    }

    /// The warning lines for the console: one per sign, then one per suggestion.
    pub fn console_lines(&self) -> Vec<String> {
        let signs = self.signs.iter().map(|sign| format!("warning: self-supervision is not paying on this run: {}", sign.message()));
        signs.chain(self.suggestions.iter().map(|s| format!("  try: {s}"))).collect()
    }
}

/// Each sign as its fields and its message, so that a reader of `metrics.json` (the report)
/// shows the words the console did.
fn with_messages<S: serde::Serializer>(signs: &[Sign], serializer: S) -> Result<S::Ok, S::Error> {
    let described: Vec<serde_json::Value> = signs
        .iter()
        .map(|sign| {
            let mut value = serde_json::to_value(sign).expect("a sign serialises");
            value["message"] = sign.message().into();
            value
        })
        .collect();
    described.serialize(serializer)
}

/// The k-NN curve's last measurements when each fell from the one before, [`FALLS_IN_A_ROW`]
/// times or more.
fn knn_falling(history: &[EpochRecord]) -> Option<Sign> {
    let measured: Vec<(usize, f64)> = history.iter().filter_map(|r| r.get(KNN_ACCURACY).map(|a| (r.epoch, a))).collect();
    let falls = measured.windows(2).rev().take_while(|pair| pair[1].1 < pair[0].1).count();
    (falls >= FALLS_IN_A_ROW).then(|| {
        let fallen = &measured[measured.len() - falls - 1..];
        Sign::KnnFalling { epochs: fallen.iter().map(|m| m.0).collect(), accuracies: fallen.iter().map(|m| m.1).collect() }
    })
}

fn accuracy_of(results: &[ProtocolResult], protocol: Protocol) -> Option<f64> {
    results.iter().find(|r| r.protocol == protocol).map(|r| r.test_accuracy)
}

fn probe_below_random(results: &[ProtocolResult]) -> Option<Sign> {
    let (probe, random) = (accuracy_of(results, Protocol::SslProbe)?, accuracy_of(results, Protocol::RandomFrozen)?);
    (probe < random).then_some(Sign::ProbeBelowRandom { probe, random })
}

/// The best pretrained protocol against the best one trained on the labels alone (the random
/// frozen encoder is no way anyone would train, so it does not count as one).
fn below_scratch(results: &[ProtocolResult]) -> Option<Sign> {
    let best = |pretrained: bool| {
        results
            .iter()
            .filter(|r| r.protocol.pretrained() == pretrained && r.protocol != Protocol::RandomFrozen)
            .max_by(|a, b| a.test_accuracy.total_cmp(&b.test_accuracy))
    };
    let (with, without) = (best(true)?, best(false)?);
    (with.test_accuracy < without.test_accuracy).then_some(Sign::BelowScratch {
        pretrained: with.protocol,
        pretrained_accuracy: with.test_accuracy,
        without: without.protocol,
        without_accuracy: without.test_accuracy,
    })
}

fn suggestions(signs: &[Sign], context: &RunContext) -> Vec<String> {
    let mut tips = Vec::new();
    if context.channels == 1 && context.method != "rotation" {
        tips.push("`method.name` rotation: predicting rotations suits small grey images".to_string());
    }
    tips.push("another method: `eval::sweep` compares them on these images".to_string());
    if signs.iter().any(|s| matches!(s, Sign::KnnFalling { .. })) {
        tips.push("fewer `pretext.epochs` or a lower `pretext.learning_rate`: the features were better before the k-NN monitor fell".to_string());
    } else {
        tips.push(format!(
            "more pretraining: `pretext.epochs` (this run: {}) or more unlabeled images (`data.unlabeled_size`; this run: {})",
            context.pretext_epochs, context.unlabeled
        ));
    }
    if !context.semi_supervised {
        tips.push("`semi.method` fixmatch, which learns from the labels and the unlabeled images together".to_string());
    }
    tips.iter().map(|tip| worded(tip)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, knn: Option<f64>) -> EpochRecord {
        EpochRecord { epoch, loss: 1.0, measured: knn.map(|knn| (KNN_ACCURACY, knn)).into_iter().collect(), learning_rate: 0.1, seconds: 1.0 }
    }

    fn result(protocol: Protocol, test_accuracy: f64) -> ProtocolResult {
        ProtocolResult { protocol, test_accuracy, knn_accuracy: 0.0, epochs_run: 1, per_class_accuracy: Vec::new(), seconds: 0.0 }
    }

    fn context(method: &str, channels: usize) -> RunContext {
        RunContext { method: method.into(), channels, pretext_epochs: 5, unlabeled: 1200, semi_supervised: false }
    }

    /// The run the issue saw: the monitor falling every epoch, the probe below the random
    /// encoder, the fine-tuned classifier below scratch.
    #[test]
    fn a_run_where_pretraining_hurt_gets_every_sign_and_suggestions() {
        let curve = [0.5167, 0.5133, 0.4900, 0.4700, 0.4617];
        let history: Vec<EpochRecord> = curve.iter().enumerate().map(|(i, &a)| epoch(i + 1, Some(a))).collect();
        let results = [
            result(Protocol::RandomFrozen, 0.7233),
            result(Protocol::Scratch, 0.7333),
            result(Protocol::SslProbe, 0.7067),
            result(Protocol::SslFineTune, 0.7200),
        ];
        let payoff = Payoff::judge(&history, &results, &context("vicreg", 3));
        assert!(!payoff.paying);
        assert_eq!(
            payoff.signs,
            [
                Sign::KnnFalling { epochs: vec![1, 2, 3, 4, 5], accuracies: curve.to_vec() },
                Sign::ProbeBelowRandom { probe: 0.7067, random: 0.7233 },
                Sign::BelowScratch { pretrained: Protocol::SslFineTune, pretrained_accuracy: 0.72, without: Protocol::Scratch, without_accuracy: 0.7333 },
            ]
        );
        assert_eq!(
            payoff.console_lines()[0],
            "warning: self-supervision is not paying on this run: the k-NN monitor fell at each of its last 4 measurements: \
             0.5167 (epoch 1) -> 0.5133 (epoch 2) -> 0.4900 (epoch 3) -> 0.4700 (epoch 4) -> 0.4617 (epoch 5)"
        );
        let tips = payoff.suggestions.join("\n");
        assert!(tips.contains("fewer `pretext.epochs`") && tips.contains("`semi.method` fixmatch"), "{tips}");
        // Colour images: rotation is not pushed.
        assert!(!tips.contains("`method.name` rotation"), "{tips}");
        let json = serde_json::to_value(&payoff).unwrap();
        assert_eq!(json["signs"][1]["sign"], "probe_below_random");
        assert_eq!(json["signs"][1]["message"], payoff.signs[1].message());
    }

    #[test]
    fn a_run_where_pretraining_paid_gets_no_sign() {
        // The monitor fell twice at the end: noise, not a trend.
        let history: Vec<EpochRecord> = [0.80, 0.85, 0.84, 0.83].iter().enumerate().map(|(i, &a)| epoch(i + 1, Some(a))).collect();
        let results = [result(Protocol::RandomFrozen, 0.60), result(Protocol::Scratch, 0.70), result(Protocol::SslProbe, 0.80)];
        let payoff = Payoff::judge(&history, &results, &context("simclr", 1));
        assert_eq!(payoff, Payoff { paying: true, signs: Vec::new(), suggestions: Vec::new() });
    }

    #[test]
    fn measurements_skipped_by_the_monitor_and_missing_baselines_are_not_signs() {
        // Measured every other epoch: three falls over epochs 2, 4, 6 and 8.
        let history: Vec<EpochRecord> = (1..=8).map(|e| epoch(e, (e % 2 == 0).then(|| 1.0 - e as f64 / 100.0))).collect();
        let payoff = Payoff::judge(&history, &[result(Protocol::SslProbe, 0.1)], &context("simclr", 1));
        assert_eq!(payoff.signs, [Sign::KnnFalling { epochs: vec![2, 4, 6, 8], accuracies: vec![0.98, 0.96, 0.94, 0.92] }]);
        assert!(payoff.suggestions[0].starts_with("`method.name` rotation"), "{:?}", payoff.suggestions);
    }

    #[test]
    fn semi_supervised_protocols_count_on_their_side() {
        let results = [result(Protocol::Scratch, 0.70), result(Protocol::ScratchFixmatch, 0.90), result(Protocol::SslFixmatch, 0.85)];
        let payoff = Payoff::judge(&[], &results, &RunContext { semi_supervised: true, ..context("rotation", 1) });
        assert_eq!(
            payoff.signs,
            [Sign::BelowScratch { pretrained: Protocol::SslFixmatch, pretrained_accuracy: 0.85, without: Protocol::ScratchFixmatch, without_accuracy: 0.90 }]
        );
        assert!(!payoff.suggestions.iter().any(|s| s.contains("fixmatch") && s.starts_with("`semi.method`")), "{:?}", payoff.suggestions);
    }
}
