//! A [`Network`] for PyTorch: its weights as a `state_dict` in safetensors (PyTorch's names and
//! layouts, batch norms kept with their running statistics), and a generated `model.py` whose
//! `Network` module loads them with `load_state_dict` as they are.

use std::fmt::Write;

use safetensors::{Dtype, tensor::TensorView};

use crate::model::network::{Array, Layer, Network};

/// One `state_dict` entry: name, type, shape and little-endian bytes.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Entry {
    fn float(name: String, array: &Array) -> Self {
        Self { name, dtype: Dtype::F32, shape: array.shape.clone(), bytes: array.values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }
}

/// The network's `state_dict` as a safetensors file.
pub fn weights_bytes(network: &Network) -> Vec<u8> {
    let mut entries = Vec::new();
    state_dict(&network.layers, &mut entries);
    let views = entries.iter().map(|e| (e.name.clone(), TensorView::new(e.dtype, e.shape.clone(), &e.bytes).expect("shape fits the bytes")));
    safetensors::serialize(views, None).expect("an in-memory safetensors file serialises")
}

fn state_dict(layers: &[Layer], entries: &mut Vec<Entry>) {
    for layer in layers {
        match layer {
            Layer::Conv { name, weight, bias, .. } | Layer::Dense { name, weight, bias, .. } => {
                entries.push(Entry::float(format!("{name}.weight"), weight));
                entries.extend(bias.as_ref().map(|b| Entry::float(format!("{name}.bias"), b)));
            }
            Layer::BatchNorm { name, scale, shift, mean, variance, .. } => {
                entries.push(Entry::float(format!("{name}.weight"), scale));
                entries.push(Entry::float(format!("{name}.bias"), shift));
                entries.push(Entry::float(format!("{name}.running_mean"), mean));
                entries.push(Entry::float(format!("{name}.running_var"), variance));
                // PyTorch's BatchNorm2d keeps a step count; it only matters for momentum=None.
                let steps = Entry { name: format!("{name}.num_batches_tracked"), dtype: Dtype::I64, shape: Vec::new(), bytes: 0i64.to_le_bytes().to_vec() };
                entries.push(steps);
            }
            Layer::Standardize { name, mean, scale, .. } => {
                entries.push(Entry::float(format!("{name}.mean"), mean));
                entries.push(Entry::float(format!("{name}.scale"), scale));
            }
            Layer::Residual { body, shortcut, .. } => {
                state_dict(shortcut, entries);
                state_dict(body, entries);
            }
            Layer::Relu | Layer::MaxPool2x2 | Layer::GlobalAveragePool | Layer::Flatten => {}
        }
    }
}

/// The text of `model.py`; `docstring` opens it (what the model is, how its input is made).
pub fn model_py(network: &Network, docstring: &str) -> String {
    let mut modules = Vec::new();
    collect_modules(&network.layers, &mut modules);
    let mut py = format!("\"\"\"{docstring}\"\"\"\n\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n");
    if modules.iter().any(|(_, m)| m.starts_with("Standardize")) {
        py.push_str(STANDARDIZE);
    }
    py.push_str("\n\nclass Network(nn.Module):\n    def __init__(self):\n        super().__init__()\n");
    for line in containers(&modules).into_iter().chain(modules.iter().map(|(name, module)| format!("{} = {module}", attribute(name)))) {
        writeln!(py, "        {line}").unwrap();
    }
    py.push_str("\n    def forward(self, x):\n");
    for line in forward(&network.layers, "x") {
        writeln!(py, "        {line}").unwrap();
    }
    py.push_str("        return x\n");
    py
}

const STANDARDIZE: &str = r#"

class Standardize(nn.Module):
    """(x - mean) * scale per feature: fixed, measured once on the training images' features."""

    def __init__(self, features):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))

    def forward(self, x):
        return (x - self.mean) * self.scale
"#;

/// Each named layer's PyTorch module, in order.
fn collect_modules(layers: &[Layer], modules: &mut Vec<(String, String)>) {
    for layer in layers {
        let module = match layer {
            Layer::Conv { name, channels: [input, output], kernel: [kh, kw], stride: [sh, sw], pads, bias, .. } => {
                let padding = symmetric(pads).map_or(String::new(), |[ph, pw]| format!(", padding=({ph}, {pw})"));
                let bias = if bias.is_some() { "" } else { ", bias=False" };
                (name, format!("nn.Conv2d({input}, {output}, kernel_size=({kh}, {kw}), stride=({sh}, {sw}){padding}{bias})"))
            }
            Layer::BatchNorm { name, channels, epsilon, .. } => (name, format!("nn.BatchNorm2d({channels}, eps={epsilon:e})")),
            Layer::Standardize { name, features, .. } => (name, format!("Standardize({features})")),
            Layer::Dense { name, features: [input, output], bias, .. } => {
                (name, format!("nn.Linear({input}, {output}{})", if bias.is_some() { "" } else { ", bias=False" }))
            }
            Layer::Residual { body, shortcut, .. } => {
                collect_modules(shortcut, modules);
                collect_modules(body, modules);
                continue;
            }
            Layer::Relu | Layer::MaxPool2x2 | Layer::GlobalAveragePool | Layer::Flatten => continue,
        };
        modules.push((module.0.clone(), module.1));
    }
}

/// `[top/bottom, left/right]` when the padding is the same on both sides of each axis, which
/// `nn.Conv2d` does itself; `None` when it takes an `F.pad` first.
fn symmetric(&[top, left, bottom, right]: &[usize; 4]) -> Option<[usize; 2]> {
    (top == bottom && left == right).then_some([top, left])
}

/// The Python attribute of a dotted module name: `encoder.blocks.0.conv1` is
/// `self.encoder.blocks[0].conv1`.
fn attribute(name: &str) -> String {
    name.split('.').fold("self".to_string(), |path, part| match part.parse::<usize>() {
        Ok(index) => format!("{path}[{index}]"),
        Err(_) => format!("{path}.{part}"),
    })
}

/// The statements that create the empty modules holding the named ones, parents first: a
/// plain `nn.Module` per name part, an `nn.ModuleList` where the parts below are numbers.
fn containers(modules: &[(String, String)]) -> Vec<String> {
    let mut prefixes: Vec<String> = Vec::new();
    for (name, _) in modules {
        let parts: Vec<&str> = name.split('.').collect();
        for end in 1..parts.len() {
            let prefix = parts[..end].join(".");
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
        }
    }
    let is_index = |prefix: &str| prefix.rsplit('.').next().is_some_and(|part| part.parse::<usize>().is_ok());
    prefixes
        .iter()
        .filter(|prefix| !is_index(prefix))
        .map(|prefix| {
            let items = prefixes.iter().filter(|p| p.strip_prefix(prefix.as_str()).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| !rest.contains('.')) && is_index(p)).count();
            match items {
                0 => format!("{} = nn.Module()", attribute(prefix)),
                n => format!("{} = nn.ModuleList(nn.Module() for _ in range({n}))", attribute(prefix)),
            }
        })
        .collect()
}

/// The forward statements of `layers` applied to the variable `x`.
fn forward(layers: &[Layer], x: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for layer in layers {
        match layer {
            Layer::Conv { name, pads, .. } => match symmetric(pads) {
                Some(_) => lines.push(format!("{x} = {}({x})", attribute(name))),
                None => {
                    let [top, left, bottom, right] = pads;
                    lines.push(format!("# Keras 'same' padding: {top} row(s) on top, {bottom} below, {left} column(s) left, {right} right"));
                    lines.push(format!("{x} = {}(F.pad({x}, ({left}, {right}, {top}, {bottom})))", attribute(name)));
                }
            },
            Layer::BatchNorm { name, .. } | Layer::Standardize { name, .. } | Layer::Dense { name, .. } => lines.push(format!("{x} = {}({x})", attribute(name))),
            Layer::Relu => lines.push(format!("{x} = F.relu({x})")),
            Layer::MaxPool2x2 => lines.push(format!("{x} = F.max_pool2d({x}, 2)")),
            Layer::Residual { body, shortcut, .. } => {
                lines.push(format!("skip = {x}"));
                lines.extend(forward(shortcut, "skip"));
                lines.extend(forward(body, x));
                lines.push(format!("{x} = {x} + skip"));
            }
            Layer::GlobalAveragePool => lines.push(format!("{x} = {x}.mean(dim=(2, 3))")),
            Layer::Flatten => lines.push(format!("{x} = torch.flatten({x}, 1)")),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_become_attributes_and_their_containers() {
        assert_eq!(attribute("encoder.blocks.10.shortcut.conv"), "self.encoder.blocks[10].shortcut.conv");
        let modules: Vec<(String, String)> =
            ["encoder.stem", "encoder.blocks.0.conv1", "encoder.blocks.1.conv1", "encoder.blocks.1.shortcut.conv", "head"].iter().map(|n| (n.to_string(), String::new())).collect();
        assert_eq!(
            containers(&modules),
            [
                "self.encoder = nn.Module()",
                "self.encoder.blocks = nn.ModuleList(nn.Module() for _ in range(2))",
                "self.encoder.blocks[1].shortcut = nn.Module()",
            ]
        );
    }
}
