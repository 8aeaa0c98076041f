//! The evaluation protocols: ways to get a classifier from the same labelled images, so that
//! what self-supervision is worth shows against what the same network does without it. Four
//! are supervised; the semi-supervised ones continue from one of those and use the unlabeled
//! images again.

use serde::{Deserialize, Serialize};

use crate::semi::SemiMethod;

/// A way of obtaining the encoder under the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// (a) The encoder as initialised, frozen: what the architecture gives for free.
    RandomFrozen,
    /// (b) Supervised training from scratch: encoder and head trained on the labels.
    Scratch,
    /// (c) The pretext-trained encoder, frozen: a linear probe.
    SslProbe,
    /// (d) The pretext-trained encoder, fine-tuned with the head.
    SslFineTune,
    /// (e) FixMatch from the classifier trained from scratch: no pretraining at all.
    ScratchFixmatch,
    /// (f) FixMatch from the run's SSL classifier (probe or fine-tuned).
    SslFixmatch,
    /// (g) A student on the SSL encoder distilled from the run's SSL classifier.
    SslDistill,
}

impl Protocol {
    /// The supervised four, in report order.
    pub const ALL: [Protocol; 4] = [Protocol::RandomFrozen, Protocol::Scratch, Protocol::SslProbe, Protocol::SslFineTune];

    /// Every protocol.
    const EVERY: [Protocol; 7] = [
        Protocol::RandomFrozen,
        Protocol::Scratch,
        Protocol::SslProbe,
        Protocol::SslFineTune,
        Protocol::ScratchFixmatch,
        Protocol::SslFixmatch,
        Protocol::SslDistill,
    ];

    /// The semi-supervised rows `method` adds to a comparison, in report order.
    pub fn semi_supervised(method: SemiMethod) -> &'static [Protocol] {
        match method {
            SemiMethod::None => &[],
            SemiMethod::Fixmatch => &[Protocol::ScratchFixmatch, Protocol::SslFixmatch],
            SemiMethod::Distill => &[Protocol::SslDistill],
        }
    }

    /// Whether the encoder starts from the pretext task's weights.
    pub fn pretrained(self) -> bool {
        !matches!(self, Protocol::RandomFrozen | Protocol::Scratch | Protocol::ScratchFixmatch)
    }

    /// Whether the encoder trains with the head (in the supervised protocols).
    pub fn fine_tune(self) -> bool {
        matches!(self, Protocol::Scratch | Protocol::SslFineTune)
    }

    /// For a semi-supervised protocol, its way and the supervised protocol whose classifier it
    /// starts from (FixMatch) or learns from (the teacher of distillation); `fine_tune` is the
    /// run's setting, which picks the SSL protocol.
    pub fn semi(self, fine_tune: bool) -> Option<(SemiMethod, Protocol)> {
        match self {
            Protocol::ScratchFixmatch => Some((SemiMethod::Fixmatch, Protocol::Scratch)),
            Protocol::SslFixmatch => Some((SemiMethod::Fixmatch, Protocol::of_run(fine_tune))),
            Protocol::SslDistill => Some((SemiMethod::Distill, Protocol::of_run(fine_tune))),
            _ => None,
        }
    }

    /// The protocol a run's own settings describe.
    pub fn of_run(fine_tune: bool) -> Self {
        if fine_tune { Protocol::SslFineTune } else { Protocol::SslProbe }
    }

    /// The protocol whose classifier a run with these settings keeps: its supervised one, or
    /// the semi-supervised one that continues from it.
    pub fn of_semi_run(fine_tune: bool, semi: SemiMethod) -> Self {
        match semi {
            SemiMethod::None => Self::of_run(fine_tune),
            SemiMethod::Fixmatch => Protocol::SslFixmatch,
            SemiMethod::Distill => Protocol::SslDistill,
        }
    }

    /// The protocol with identifier `id`.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::EVERY.into_iter().find(|m| m.id() == id)
    }

    /// Identifier used in CSV and JSON (as serde writes it).
    pub fn id(self) -> &'static str {
        match self {
            Protocol::RandomFrozen => "random_frozen",
            Protocol::Scratch => "scratch",
            Protocol::SslProbe => "ssl_probe",
            Protocol::SslFineTune => "ssl_fine_tune",
            Protocol::ScratchFixmatch => "scratch_fixmatch",
            Protocol::SslFixmatch => "ssl_fixmatch",
            Protocol::SslDistill => "ssl_distill",
        }
    }

    /// Human description for tables.
    pub fn description(self) -> &'static str {
        match self {
            Protocol::RandomFrozen => "random encoder, frozen",
            Protocol::Scratch => "supervised from scratch",
            Protocol::SslProbe => "SSL encoder, frozen (linear probe)",
            Protocol::SslFineTune => "SSL encoder, fine-tuned",
            Protocol::ScratchFixmatch => "from scratch + FixMatch",
            Protocol::SslFixmatch => "SSL encoder + FixMatch",
            Protocol::SslDistill => "SSL encoder + distillation",
        }
    }
}

/// What one protocol reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolResult {
    /// Which protocol.
    pub protocol: Protocol,
    /// Accuracy of encoder + head on the test images.
    pub test_accuracy: f64,
    /// k-NN accuracy of the (final) encoder's features on the test images.
    pub knn_accuracy: f64,
    /// Downstream epochs run.
    pub epochs_run: usize,
    /// Test accuracy of each true class (`None` where the class is absent).
    pub per_class_accuracy: Vec<Option<f64>>,
    /// Wall time of its own training epochs, in seconds (a semi-supervised protocol's
    /// excludes its base's). Not serialised: `metrics.json` holds no timings.
    #[serde(skip)]
    pub seconds: f64,
}

/// A Markdown table of `results`.
pub fn markdown_table(results: &[ProtocolResult]) -> String {
    let mut out = String::from("| protocol | test accuracy | k-NN accuracy | epochs |\n| --- | --- | --- | --- |\n");
    for r in results {
        out.push_str(&format!(
            "| {} | {:.4} | {:.4} | {} |\n",
            r.protocol.description(),
            r.test_accuracy,
            r.knn_accuracy,
            r.epochs_run
        ));
    }
    out
}
