//! `pretext export`: a run's classifier or pretrained encoder in a form other programs load,
//! ONNX or PyTorch, with a JSON sidecar that says how to feed it (input shape, pixel scaling,
//! class names) and lists its layers.

pub mod onnx;
pub mod torch;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::data::dataset::DatasetInfo;
use crate::data::folder::Resize;
use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::pipeline;
use crate::report::artifacts::{PRETEXT_WEIGHTS, RunFolder};
use crate::report::provenance;
use crate::model::network::{Layer, Network};

/// The formats an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `model.onnx`: one ONNX graph with its weights (batch norms folded), for onnxruntime and
    /// every ONNX consumer.
    Onnx,
    /// `model.safetensors` (a PyTorch `state_dict`) and `model.py` (the matching `nn.Module`).
    Torch,
}

/// What an export writes: the classifier or the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// The downstream classifier (encoder, feature standardisation, dense head): images to
    /// class logits.
    Classifier,
    /// The self-supervised encoder from pretext training: images to features, to build on.
    Encoder,
}

impl Format {
    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Onnx => "onnx",
            Format::Torch => "torch",
        }
    }
}

impl Part {
    /// The part's name.
    pub fn name(self) -> &'static str {
        match self {
            Part::Classifier => "classifier",
            Part::Encoder => "encoder",
        }
    }

    /// Name of the network's output.
    fn output(self) -> &'static str {
        match self {
            Part::Classifier => "logits",
            Part::Encoder => "features",
        }
    }
}

/// The JSON sidecar (`model.json`): what a program needs to feed the model and read its output.
#[derive(Debug, Serialize)]
pub struct Sidecar {
    /// The export's format.
    pub format: Format,
    /// Classifier or encoder.
    pub what: Part,
    /// The model's input.
    pub input: Input,
    /// How 0..255 pixels become the input.
    pub pixels: Pixels,
    /// The model's output.
    pub output: Output,
    /// Class names, in the order of the logits.
    pub classes: Vec<String>,
    /// The ONNX operator set (ONNX only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opset: Option<i64>,
    /// The layers in order, with their shapes, strides and paddings.
    pub layers: Vec<Layer>,
    /// Where it came from.
    pub source: Source,
}

/// A model's input.
#[derive(Debug, Serialize)]
pub struct Input {
    /// The ONNX graph's input name.
    pub name: &'static str,
    /// `[channels, height, width]` of one image; a batch adds a first dimension.
    pub shape: [usize; 3],
    /// Grey (1) or RGB (3).
    pub channels: usize,
    /// Memory layout and type.
    pub layout: &'static str,
    /// How an image of another size is brought to `shape`, as `pretext predict` does.
    pub resize: ResizeRule,
}

/// The run's `data.folder.resize`, and what it does step by step.
#[derive(Debug, Serialize)]
pub struct ResizeRule {
    /// `crop` or `stretch`.
    pub mode: Resize,
    /// The steps, in words precise enough to reimplement (examples/python/predict.py does).
    pub steps: &'static str,
}

impl ResizeRule {
    fn of(mode: Resize) -> Self {
        let steps = match mode {
            Resize::Crop => {
                "scale both sides by max(W / width, H / height), each rounded to the nearest integer, with a triangle (bilinear) \
                 filter; then cut W x H from the centre, its left and top offsets (scaled - W) / 2 and (scaled - H) / 2 rounded down"
            }
            Resize::Stretch => "scale each side to W x H with a triangle (bilinear) filter",
        };
        Self { mode, steps }
    }
}

/// How pixels become the model's input.
#[derive(Debug, Serialize)]
pub struct Pixels {
    /// The formula, in words.
    pub formula: &'static str,
    /// Per-channel mean subtracted from 0..255 pixel values.
    pub mean: Vec<f32>,
    /// Per-channel divisor after that.
    pub std: Vec<f32>,
}

/// A model's output.
#[derive(Debug, Serialize)]
pub struct Output {
    /// The ONNX graph's output name: `logits` or `features`.
    pub name: &'static str,
    /// Length of the output vector per image.
    pub size: usize,
    /// What the numbers are.
    pub meaning: &'static str,
}

/// Where an export came from.
#[derive(Debug, Serialize)]
pub struct Source {
    /// The run folder.
    pub run: PathBuf,
    /// The pretext build that exported it.
    pub pretext: String,
    /// The encoder architecture.
    pub encoder: String,
    /// The self-supervised method.
    pub method: String,
}

/// Exports `what` of the run in `run` as `format` into the folder `out`; refuses to replace
/// files there without `force`. Returns the files written.
pub fn export(run: &RunFolder, format: Format, what: Part, out: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let config = run.read_config()?;
    let dataset = run.read_dataset()?;
    let network = network_of(run, &config, &dataset, what)?;
    let sidecar = sidecar(run, &config, &dataset, &network, format, what)?;
    let files: Vec<(PathBuf, Vec<u8>)> = match format {
        Format::Onnx => {
            let metadata = [("classes".to_string(), dataset.classes.join(",")), ("sidecar".to_string(), "model.json".to_string())];
            vec![(out.join("model.onnx"), onnx::model_bytes(&network, what.output(), &metadata))]
        }
        Format::Torch => vec![
            (out.join("model.safetensors"), torch::weights_bytes(&network)),
            (out.join("model.py"), torch::model_py(&network, &docstring(&sidecar)).into_bytes()),
        ],
    };
    let json = serde_json::to_vec_pretty(&sidecar).expect("the sidecar serialises");
    let files: Vec<(PathBuf, Vec<u8>)> = files.into_iter().chain([(out.join("model.json"), json)]).collect();
    if let Some((taken, _)) = files.iter().find(|(path, _)| path.exists() && !force) {
        return Err(Error::Unwritable { path: taken.clone(), problem: "already exists; pass `force` to replace it, or choose another `out`".into() });
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for (path, bytes) in &files {
        write_atomically(path, bytes)?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// The run's classifier or pretrained encoder as a [`Network`], on the CPU.
fn network_of(run: &RunFolder, config: &RunConfig, dataset: &DatasetInfo, what: Part) -> Result<Network> {
    let device = Device::flex();
    match what {
        Part::Classifier => {
            let weights = run.classifier_weights()?;
            let classifier = pipeline::load_classifier(config, dataset.shape, dataset.classes.len(), &weights, &device)?;
            Ok(Network::classifier(&classifier, dataset.shape))
        }
        Part::Encoder => {
            let pretext = pipeline::load_pretext(config, dataset.shape, &run.path(PRETEXT_WEIGHTS), &device)?;
            Ok(Network::encoder(pretext.encoder(), dataset.shape))
        }
    }
}

fn sidecar(run: &RunFolder, config: &RunConfig, dataset: &DatasetInfo, network: &Network, format: Format, what: Part) -> Result<Sidecar> {
    let pixels = config.data.pixel_map()?;
    let (mean, std) = (0..dataset.shape.channels).map(|c| pixels.channel(c)).unzip();
    let shape = dataset.shape;
    Ok(Sidecar {
        format,
        what,
        input: Input {
            name: onnx::INPUT,
            shape: [shape.channels, shape.height, shape.width],
            channels: shape.channels,
            layout: "NCHW float32",
            resize: ResizeRule::of(config.data.folder.resize),
        },
        pixels: Pixels { formula: "input[c] = (pixel[c] - mean[c]) / std[c], pixels 0..255, channels R, G, B", mean, std },
        output: Output {
            name: what.output(),
            size: network.outputs,
            meaning: match what {
                Part::Classifier => "unnormalised class scores in the order of `classes`; softmax gives probabilities",
                Part::Encoder => "the encoder's features, what a head is trained on",
            },
        },
        classes: dataset.classes.clone(),
        opset: (format == Format::Onnx).then_some(onnx::OPSET),
        layers: network.layers.clone(),
        source: Source {
            run: run.dir().to_path_buf(),
            pretext: provenance::build(),
            encoder: config.model.encoder.name().to_string(),
            method: config.method.name().to_string(),
        },
    })
}

/// The docstring of `model.py`: what it is, how to load it, how to make its input.
fn docstring(sidecar: &Sidecar) -> String {
    let what = sidecar.what.name();
    let [c, h, w] = sidecar.input.shape;
    format!(
        "A pretext {what} ({} encoder, {} pretraining) as a PyTorch module, written by `pretext export`
({}) from {}.

    from safetensors.torch import load_file
    from model import Network

    model = Network()
    model.load_state_dict(load_file(\"model.safetensors\"))
    model.eval()

Input: float32 images [batch, {c}, {h}, {w}], each channel c of 0..255 pixels mapped as
(pixel - mean[c]) / std[c] with mean {:?} and std {:?} (also in model.json).
Output: {} [batch, {}], {}.
",
        sidecar.source.encoder,
        sidecar.source.method,
        sidecar.source.pretext,
        sidecar.source.run.display(),
        sidecar.pixels.mean,
        sidecar.pixels.std,
        sidecar.output.name,
        sidecar.output.size,
        sidecar.output.meaning,
    )
}
