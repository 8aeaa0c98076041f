//! One self-contained HTML page per run: every figure embedded as a data URI, so the file
//! opens in a browser with no server and nothing else beside it.

use std::fmt::Write;

use base64::Engine;
use serde_json::Value;

use crate::data::dataset::DatasetInfo;
use crate::error::Result;
use crate::files::write_atomically;
use crate::config::RunConfig;
use crate::report::artifacts::{CONFIG, RunFolder, TIMINGS};
use crate::report::metrics::Metrics;
use crate::report::provenance;
use crate::semi::SemiMethod;

/// The figures of a run folder, in reading order, with their headings.
const FIGURES: &[(&str, &str)] = &[
    ("rotations.png", "Pretext task"),
    ("views.png", "Pretext task"),
    ("pretext_curves.png", "Pretext training"),
    ("downstream_curves.png", "Downstream training"),
    ("semi_curves.png", "Semi-supervised training"),
    ("confusion_matrix.png", "Confusion matrix"),
    ("examples.png", "Examples"),
    ("misclassified.png", "Misclassified test images"),
    ("embedding.png", "Embedding"),
];

/// Writes `report.html` from what the folder holds now (missing figures are skipped).
pub fn write_report(folder: &RunFolder) -> Result<()> {
    let metrics = folder.read_metrics()?;
    // A run of an older pretext has no dataset.json: its classes are numbered instead.
    let dataset = folder.read_dataset().ok();
    let config = std::fs::read_to_string(folder.path(CONFIG)).unwrap_or_default();
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pretext report</title>\n\
         <style>body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\
         th{background:#eee}td:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}\
         pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>\n<h1>pretext report</h1>\n",
    );
    let _ = writeln!(
        html,
        "<p>Written {} by {} on {}.</p>",
        provenance::utc_now(),
        escape(&provenance::build()),
        escape(&provenance::machine())
    );
    if let Some(dataset) = &dataset {
        write_dataset(&mut html, dataset);
    }
    if let Some(evaluated) = &metrics.evaluated {
        let _ = writeln!(html, "<p>Evaluation of the classifier <code>{}</code>.</p>", escape(&evaluated.classifier.display().to_string()));
    }
    if let Ok(config) = folder.read_config() {
        write_settings(&mut html, &config);
    }
    write_summary(&mut html, &metrics);
    write_payoff(&mut html, &metrics);
    write_pretext_method(&mut html, &metrics);
    write_semi(&mut html, &metrics);
    write_protocols(&mut html, &metrics);
    let classes = dataset.map(|d| d.classes).unwrap_or_default();
    write_per_class(&mut html, &metrics, &classes);
    for (file, heading) in FIGURES {
        if let Ok(bytes) = std::fs::read(folder.path(file)) {
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = write!(html, "<h2>{heading}</h2>\n<img alt=\"{heading}\" src=\"data:image/png;base64,{data}\">\n");
        }
    }
    write_timings(&mut html, folder);
    if !config.is_empty() {
        let _ = write!(html, "<h2>Configuration</h2>\n<pre>{}</pre>\n", escape(&config));
    }
    html.push_str("</body></html>\n");
    write_atomically(&folder.path("report.html"), html.as_bytes())
}

/// A measurement with four decimals, a whole number without, a missing one as "-".
fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| if v.fract() == 0.0 { format!("{v}") } else { format!("{v:.4}") })
}

fn write_summary(html: &mut String, metrics: &Metrics) {
    html.push_str("<h2>Summary</h2>\n");
    // Each phase with the epoch whose weights early stopping kept, where it kept one.
    let phases = [
        metrics.pretext.as_ref().map(|m| ("pretext", &m.phase, None)),
        metrics.downstream.as_ref().map(|m| ("downstream", &m.phase, m.restored_epoch)),
        metrics.semi.as_ref().map(|m| ("semi", &m.phase, m.restored_epoch)),
    ];
    let phases: Vec<_> = phases.into_iter().flatten().collect();
    // An evaluation folder holds no training phase.
    if !phases.is_empty() {
        html.push_str("<table><tr><th>phase</th><th>epochs</th><th>final loss</th><th>final accuracy</th><th>final val accuracy</th></tr>\n");
        for (phase, m, restored) in phases {
            let kept = restored.map_or_else(String::new, |epoch| format!(" (weights of epoch {epoch} kept)"));
            let _ = writeln!(
                html,
                "<tr><td>{phase}</td><td>{}{kept}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m.epochs_run,
                number(m.final_loss),
                number(m.final_accuracy),
                number(m.final_val_accuracy)
            );
        }
        html.push_str("</table>\n");
    }
    let test = metrics.test.as_ref();
    let _ = writeln!(
        html,
        "<p><b>Test accuracy {}</b> on {} held-out images (loss {}).</p>",
        number(test.map(|t| t.accuracy)),
        number(test.map(|t| t.n as f64)),
        number(test.map(|t| t.loss))
    );
}

/// The signs that self-supervision did not pay, and what to try, where there are any.
fn write_payoff(html: &mut String, metrics: &Metrics) {
    let Some(payoff) = metrics.ssl_payoff.as_ref().filter(|payoff| !payoff.signs.is_empty()) else { return };
    html.push_str("<h2>Self-supervision is not paying on this run</h2>\n<ul>\n");
    for sign in &payoff.signs {
        let _ = writeln!(html, "<li>{}</li>", escape(&sign.message()));
    }
    html.push_str("</ul>\n<p>Try:</p>\n<ul>\n");
    for tip in &payoff.suggestions {
        let _ = writeln!(html, "<li>{}</li>", escape(tip));
    }
    html.push_str("</ul>\n");
}

/// The method, its last k-NN monitor reading, and a collapse named where there was one.
fn write_pretext_method(html: &mut String, metrics: &Metrics) {
    // Nothing to say with the monitor off.
    let Some(pretext) = metrics.pretext.as_ref().filter(|pretext| pretext.final_knn_accuracy.is_some()) else { return };
    let _ = writeln!(
        html,
        "<p>Pretext monitor after the last epoch: k-NN accuracy {} on the monitor images, feature spread {}.</p>",
        number(pretext.final_knn_accuracy),
        number(pretext.final_feature_std)
    );
    if pretext.collapsed {
        html.push_str("<p><b>Collapse:</b> the encoder's features all point one way; results trained on them are poor.</p>\n");
    }
}

/// The semi-supervised phase epoch by epoch: how many unlabeled images got a pseudo-label and
/// how many of those were right, what FixMatch users look at first.
fn write_semi(html: &mut String, metrics: &Metrics) {
    let Some(semi) = &metrics.semi else { return };
    let method = &semi.method;
    let _ = writeln!(
        html,
        "<h2>Semi-supervised: {method}</h2>\n<p>Mask rate: the share of unlabeled images whose pseudo-label passed the confidence threshold \
         (distillation: all of them, with the teacher's most probable class). Pseudo-label accuracy: the share of those equal to the true label, \
         which training never reads.</p>\n<table><tr><th>epoch</th><th>loss</th><th>labelled accuracy</th><th>mask rate</th><th>pseudo-label accuracy</th><th>val accuracy</th></tr>"
    );
    for epoch in &semi.per_epoch {
        let cells = [Some(epoch.epoch as f64), Some(epoch.loss), epoch.accuracy, epoch.mask_rate, epoch.pseudo_label_accuracy, epoch.val_accuracy].map(number);
        let _ = writeln!(html, "<tr><td>{}</td></tr>", cells.join("</td><td>"));
    }
    html.push_str("</table>\n");
}

fn write_protocols(html: &mut String, metrics: &Metrics) {
    let Some(protocols) = &metrics.protocols else { return };
    html.push_str("<h2>Protocols on the same labelled and test images</h2>\n<table><tr><th>protocol</th><th>test accuracy</th><th>k-NN accuracy</th><th>epochs</th></tr>\n");
    for m in protocols {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.protocol.description(),
            number(Some(m.test_accuracy)),
            number(Some(m.knn_accuracy)),
            m.epochs_run
        );
    }
    html.push_str("</table>\n");
}

/// The data set: name, image shape, counts, where the test images came from and where the
/// files were read.
fn write_dataset(html: &mut String, dataset: &DatasetInfo) {
    let location = dataset.location.as_ref().map_or_else(String::new, |dir| format!(", read from <code>{}</code>", escape(&dir.display().to_string())));
    let _ = writeln!(
        html,
        "<p>Data set <b>{}</b>{location}: {} images; {} labelled training images, {} more unlabeled, {} test images ({}); {} classes.</p>",
        escape(&dataset.name),
        dataset.shape,
        dataset.train,
        dataset.unlabeled,
        dataset.test,
        escape(&dataset.test_source),
        dataset.classes.len()
    );
    if !dataset.skipped.is_empty() {
        let _ = writeln!(html, "<p><b>{} file(s) left out</b>: they cannot be read as images.</p>\n<ul>", dataset.skipped.len());
        for file in &dataset.skipped {
            let _ = writeln!(html, "<li><code>{}</code>: {}</li>", escape(&file.path.display().to_string()), escape(&file.problem));
        }
        html.push_str("</ul>\n");
    }
}

/// The settings that shape the results, in one sentence per phase (all of them are in the
/// configuration at the end).
fn write_settings(html: &mut String, config: &RunConfig) {
    let train = |t: &crate::train::optimizer::TrainConfig| {
        format!("{:?} at learning rate {}, batches of {}, at most {} epochs", t.optimizer, t.learning_rate, t.batch_size, t.epochs).to_lowercase()
    };
    let data = &config.data;
    let balanced = if data.balanced_labels { ", balanced across classes" } else { "" };
    let head = if config.fine_tune { "encoder fine-tuned with its head" } else { "encoder frozen (linear probe)" };
    let semi = match config.semi.method {
        SemiMethod::None => String::new(),
        method => format!(" Then {method}: {}.", train(&config.semi.training)),
    };
    let _ = writeln!(
        html,
        "<p>Preset <b>{}</b>, seed {}. Pretext: <b>{}</b> on the {} encoder, {} unlabeled images, {}. \
         Downstream: {} labels{balanced}, {}: {}.{semi} Test: {} images.</p>",
        format!("{:?}", config.preset).to_lowercase(),
        config.seed,
        config.method.name(),
        config.model.encoder.name().to_string(),
        data.unlabeled_size,
        train(&config.pretext),
        data.labels,
        head,
        train(&config.downstream),
        data.test_size
    );
}

/// Seconds per step, from `timings.json` (a run's wall-clock time is kept out of metrics.json).
fn write_timings(html: &mut String, folder: &RunFolder) {
    let Ok(text) = std::fs::read_to_string(folder.path(TIMINGS)) else { return };
    let Ok(Value::Object(steps)) = serde_json::from_str::<Value>(&text) else { return };
    html.push_str("<h2>Timings</h2>\n<table><tr><th>step</th><th>seconds</th></tr>\n");
    for (step, seconds) in &steps {
        let name = step.strip_suffix("_s").unwrap_or(step).replace('_', " ");
        let _ = writeln!(html, "<tr><td>{}</td><td>{:.1}</td></tr>", escape(&name), seconds.as_f64().unwrap_or(f64::NAN));
    }
    html.push_str("</table>\n");
}

/// Each classifier's accuracy per class, the columns named by `classes` (numbered without).
fn write_per_class(html: &mut String, metrics: &Metrics, classes: &[String]) {
    let Some(run) = metrics.test.as_ref().map(|test| &test.per_class_accuracy) else { return };
    html.push_str("<h2>Per-class test accuracy</h2>\n<table><tr><th>classifier</th>");
    for class in 0..run.len() {
        let name = classes.get(class).map_or_else(|| class.to_string(), |c| escape(c));
        let _ = write!(html, "<th>{name}</th>");
    }
    html.push_str("</tr>\n");
    let mut rows = vec![("this classifier", run)];
    for m in metrics.protocols.iter().flatten() {
        rows.push((m.protocol.description(), &m.per_class_accuracy));
    }
    for (name, accs) in rows {
        let _ = write!(html, "<tr><td>{name}</td>");
        for &acc in accs {
            let _ = write!(html, "<td>{}</td>", number(acc));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
