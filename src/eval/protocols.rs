//! The four evaluation protocols: ways to get a classifier from the same labelled images, so
//! that what self-supervision is worth shows against what the same network does without it.

use serde::Serialize;

/// A way of obtaining the encoder under the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

impl Protocol {
    /// All four, in report order.
    pub const ALL: [Protocol; 4] = [Protocol::RandomFrozen, Protocol::Scratch, Protocol::SslProbe, Protocol::SslFineTune];

    /// Whether the encoder starts from the pretext task's weights.
    pub fn pretrained(self) -> bool {
        matches!(self, Protocol::SslProbe | Protocol::SslFineTune)
    }

    /// Whether the encoder trains with the head.
    pub fn fine_tune(self) -> bool {
        matches!(self, Protocol::Scratch | Protocol::SslFineTune)
    }

    /// The protocol a run's own settings describe.
    pub fn of_run(fine_tune: bool) -> Self {
        if fine_tune { Protocol::SslFineTune } else { Protocol::SslProbe }
    }

    /// The protocol with identifier `id`.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.id() == id)
    }

    /// Identifier used in CSV and JSON (as serde writes it).
    pub fn id(self) -> &'static str {
        match self {
            Protocol::RandomFrozen => "random_frozen",
            Protocol::Scratch => "scratch",
            Protocol::SslProbe => "ssl_probe",
            Protocol::SslFineTune => "ssl_fine_tune",
        }
    }

    /// Human description for tables.
    pub fn description(self) -> &'static str {
        match self {
            Protocol::RandomFrozen => "random encoder, frozen",
            Protocol::Scratch => "supervised from scratch",
            Protocol::SslProbe => "SSL encoder, frozen (linear probe)",
            Protocol::SslFineTune => "SSL encoder, fine-tuned",
        }
    }
}

/// What one protocol reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
