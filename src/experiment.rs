//! One run's steps in order, as `run`, `pretrain`, `probe` and each seed and method of a sweep
//! take them: each step trains or evaluates through [`crate::pipeline`], writes what it made to
//! the run folder (when there is one: a sweep's runs write none) and times itself. A command
//! is the list of steps it takes; what a step does and writes is said here once.

use std::path::Path;

use crate::config::RunConfig;
use crate::data::dataset::DatasetInfo;
use crate::error::Result;
use crate::eval::payoff::{Payoff, RunContext};
use crate::eval::predict::Predictions;
use crate::eval::protocols::{Protocol, ProtocolResult};
use crate::model::classifier::Classifier;
use crate::model::encoders::Encoder;
use crate::pipeline::{self, Pretrained, Probed, RunData, Session};
use crate::report::artifacts::{RunFolder, TIMINGS};
use crate::report::html::write_report;
use crate::report::timings::Timings;
use crate::semi::SemiMethod;

/// A run under way: its settings, the session it trains in, its folder and its stopwatch.
#[derive(Debug)]
pub struct Experiment<'a> {
    /// The run's settings; loading the data records in them what later steps need (the
    /// channel statistics that standardise pixels).
    pub config: RunConfig,
    session: &'a Session,
    folder: Option<&'a RunFolder>,
    timings: Timings,
    tested: bool,
}

/// The protocols side by side, and whether self-supervision paid on this run.
#[derive(Debug)]
pub struct Comparison {
    /// Every protocol's test accuracy, the run's own classifiers among them.
    pub results: Vec<ProtocolResult>,
    /// Whether self-supervision paid, with what to try when it did not.
    pub payoff: Payoff,
}

impl<'a> Experiment<'a> {
    /// A run of `config` in `session`, writing into `folder` when there is one; the stopwatch
    /// starts now.
    pub fn new(config: RunConfig, session: &'a Session, folder: Option<&'a RunFolder>) -> Self {
        Self { config, session, folder, timings: Timings::start(), tested: false }
    }

    /// The configured images (from `data_dir`, the standard places or a download), warning
    /// about unreadable files that `recorded` (the data set an earlier run of this folder
    /// recorded) did not already list.
    pub fn load_data(&mut self, data_dir: Option<&Path>, recorded: Option<&DatasetInfo>) -> Result<RunData> {
        let data = pipeline::load_data(&mut self.config, data_dir)?;
        data.dataset.warn_skipped(recorded);
        Ok(data)
    }

    /// Records the settings and the data set in the folder; the `load_data` lap ends here,
    /// since a command may load more (the weights it starts from) between the two.
    pub fn record(&mut self, data: &RunData) -> Result<()> {
        if let Some(folder) = self.folder {
            folder.write_config(&self.config)?;
            folder.write_dataset(&data.dataset)?;
        }
        self.timings.lap("load_data");
        Ok(())
    }

    /// The pretext phase, with its weights, history, curves and figure.
    pub fn pretrain(&mut self, data: &RunData) -> Result<Pretrained> {
        let pretrained = pipeline::pretrain(&self.config, data, &self.session.phase("pretext"))?;
        self.timings.lap("pretext");
        if let Some(folder) = self.folder {
            folder.write_pretext(&pretrained, &self.config.method, &data.unlabeled)?;
            self.timings.lap("write_pretext");
        }
        Ok(pretrained)
    }

    /// The downstream classifier on `encoder`, with its weights, history and curves.
    pub fn downstream(&mut self, encoder: Encoder, data: &RunData) -> Result<Probed> {
        let phase = self.session.phase(Protocol::of_run(self.config.fine_tune).id());
        let probed = pipeline::probe(&self.config, encoder, &data.labelled, data.num_classes(), &phase)?;
        self.timings.lap("downstream");
        if let Some(folder) = self.folder {
            folder.write_downstream(&probed)?;
        }
        Ok(probed)
    }

    /// The configured semi-supervised phase from `base` (none when the settings ask for
    /// none), with its weights, which replace the downstream classifier's, history and curves.
    pub fn semi_supervise(&mut self, base: Classifier, encoder: &Encoder, data: &RunData) -> Result<Option<Probed>> {
        let method = self.config.semi.method;
        if method == SemiMethod::None {
            return Ok(None);
        }
        let phase = self.session.phase(Protocol::of_semi_run(self.config.fine_tune, method).id());
        let semi = pipeline::semi_supervise(&self.config, method, base, encoder, data, &phase)?;
        self.timings.lap("semi");
        if let Some(folder) = self.folder {
            folder.write_semi(&semi, method)?;
        }
        Ok(Some(semi))
    }

    /// The kept classifier's predictions on the test images, with the test metrics and
    /// figures.
    pub fn test(&mut self, model: &Classifier, data: &RunData) -> Result<Predictions> {
        let predictions = pipeline::evaluate(model, &data.test, data.num_classes(), data.pixels);
        if let Some(folder) = self.folder {
            folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
        }
        self.timings.lap("test");
        self.tested = true;
        Ok(predictions)
    }

    /// The run's classifiers beside the baselines (all protocols, or only the run's own
    /// without baselines), whether self-supervision paid, and the kept classifier's embedding
    /// of the test images. `probed` is the downstream classifier, `semi` the semi-supervised
    /// one when there is one (then the kept one), and `predictions` the kept one's.
    pub fn compare(&mut self, pretrained: &Pretrained, (probed, semi): (&Probed, Option<&Probed>), predictions: &Predictions, data: &RunData) -> Result<Comparison> {
        let config = &self.config;
        let semi_method = config.semi.method;
        let own = Protocol::of_run(config.fine_tune);
        let semi_own = Protocol::of_semi_run(config.fine_tune, semi_method);
        // The downstream classifier is a row of the table too when the semi-supervised one is kept.
        let base_predictions = semi.map(|_| pipeline::evaluate(&probed.model, &data.test, data.num_classes(), data.pixels));
        let known = match (semi, &base_predictions) {
            (Some(semi), Some(base)) => vec![(own, probed, base), (semi_own, semi, predictions)],
            _ => vec![(own, probed, predictions)],
        };
        let protocols: Vec<Protocol> = if config.baselines {
            Protocol::ALL.iter().chain(Protocol::semi_supervised(semi_method)).copied().collect()
        } else {
            known.iter().map(|&(protocol, ..)| protocol).collect()
        };
        if self.session.verbose && config.baselines {
            println!("training the baselines on the same {} labelled images...", data.labelled.len());
        }
        let results = pipeline::compare_protocols(config, &protocols, pretrained.model.encoder(), &known, data, self.session)?;
        let context = RunContext {
            method: config.method.name().to_string(),
            channels: data.shape().channels,
            pretext_epochs: config.pretext.epochs,
            unlabeled: data.unlabeled.len(),
            semi_supervised: semi_method != SemiMethod::None,
        };
        let payoff = Payoff::judge(&pretrained.history, &results, &context);
        if let Some(folder) = self.folder {
            folder.write_protocols(&results)?;
            folder.write_payoff(&payoff)?;
        }
        self.timings.lap("baselines");
        if let Some(folder) = self.folder {
            let (kept, kept_protocol) = semi.map_or((probed, own), |semi| (semi, semi_own));
            let features = pipeline::encode(&kept.model.encoder, &data.test, data.num_classes(), data.pixels);
            folder.write_embedding(&features, &data.dataset.classes, kept_protocol.description())?;
            self.timings.lap("embedding");
        }
        Ok(Comparison { results, payoff })
    }

    /// Ends the run: its timings and, when a classifier was tested, the report written; the
    /// checkpoints removed, since the run is complete. Returns the run's seconds.
    pub fn finish(self) -> Result<f64> {
        if let Some(folder) = self.folder {
            // Written before the report, which shows them.
            self.timings.write(&folder.path(TIMINGS))?;
            if self.tested {
                write_report(folder)?;
            }
        }
        self.session.remove_checkpoints()?;
        Ok(self.timings.total())
    }
}
