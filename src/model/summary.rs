//! A Keras-style model summary: one row per layer with its output shape and parameter count,
//! then total / trainable / non-trainable parameters. It is read from the model's [`Network`],
//! a walk of its modules, not recorded during a forward pass.

use std::fmt;

use crate::model::network::{Array, Layer, Network};

/// One layer of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    /// Keras-like layer name (`conv2d_1`).
    pub name: String,
    /// Layer type (`Conv2D`).
    pub kind: &'static str,
    /// Output shape without the batch dimension, in Burn's NCHW order.
    pub output_shape: Vec<usize>,
    /// Number of parameters, running statistics included.
    pub params: usize,
    /// Of `params`, the running statistics of batch norms: kept, never trained (Keras counts
    /// them as non-trainable).
    pub statistics: usize,
    /// Whether the optimizer updates this layer.
    pub trainable: bool,
}

/// A model's summary table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Model name shown in the header.
    pub model: String,
    /// Layers in forward order.
    pub rows: Vec<LayerRow>,
}

impl Summary {
    /// The summary of `network`, one row per layer as Keras shows it (a ReLU belongs to the
    /// layer before it); `trainable(name)` says whether the optimizer updates the layers of the
    /// module `name`.
    pub fn of(model: &str, network: &Network, trainable: impl Fn(&str) -> bool) -> Self {
        let mut rows: Vec<LayerRow> = Vec::new();
        for (layer, output_shape) in network.shapes() {
            let Some((base, kind)) = keras_kind(layer) else { continue };
            let seen = rows.iter().filter(|r| r.kind == kind).count();
            let name = if seen == 0 { base.to_string() } else { format!("{base}_{seen}") };
            let (params, statistics) = parameters(layer);
            let trainable = layer_name(layer).is_none_or(&trainable);
            rows.push(LayerRow { name, kind, output_shape, params, statistics, trainable });
        }
        Self { model: model.into(), rows }
    }

    /// All parameters.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// Parameters the optimizer updates.
    pub fn trainable_params(&self) -> usize {
        self.rows.iter().filter(|r| r.trainable).map(|r| r.params - r.statistics).sum()
    }

    /// Frozen parameters.
    pub fn non_trainable_params(&self) -> usize {
        self.total_params() - self.trainable_params()
    }
}

/// Keras' base name and class of the layer, or none for a layer Keras folds into the one
/// before it.
fn keras_kind(layer: &Layer) -> Option<(&'static str, &'static str)> {
    Some(match layer {
        Layer::Conv { .. } => ("conv2d", "Conv2D"),
        Layer::BatchNorm { .. } => ("batch_normalization", "BatchNormalization"),
        Layer::Relu => return None,
        Layer::MaxPool2x2 => ("max_pooling2d", "MaxPooling2D"),
        Layer::Residual { .. } => ("residual_block", "ResidualBlock"),
        Layer::GlobalAveragePool => ("global_average_pooling2d", "GlobalAveragePooling2D"),
        Layer::Flatten => ("flatten", "Flatten"),
        Layer::Standardize { .. } => ("standardize", "Standardize"),
        Layer::Dense { .. } => ("dense", "Dense"),
    })
}

/// The layer's parameters as Burn and Keras count them, and how many of them are statistics
/// that are measured, never trained (batch norms' running mean and variance, the fixed feature
/// standardisation).
fn parameters(layer: &Layer) -> (usize, usize) {
    let len = |array: &Option<Array>| array.as_ref().map_or(0, |a| a.values.len());
    match layer {
        Layer::Conv { weight, bias, .. } | Layer::Dense { weight, bias, .. } => (weight.values.len() + len(bias), 0),
        Layer::BatchNorm { channels, .. } => (4 * channels, 2 * channels),
        Layer::Residual { body, shortcut, .. } => body.iter().chain(shortcut).map(parameters).fold((0, 0), |(p, s), (lp, ls)| (p + lp, s + ls)),
        Layer::Standardize { features, .. } => (2 * features, 2 * features),
        Layer::Relu | Layer::MaxPool2x2 | Layer::GlobalAveragePool | Layer::Flatten => (0, 0),
    }
}

/// The module name of a layer with weights.
fn layer_name(layer: &Layer) -> Option<&str> {
    match layer {
        Layer::Conv { name, .. } | Layer::BatchNorm { name, .. } | Layer::Residual { name, .. } | Layer::Standardize { name, .. } | Layer::Dense { name, .. } => Some(name),
        Layer::Relu | Layer::MaxPool2x2 | Layer::GlobalAveragePool | Layer::Flatten => None,
    }
}

/// `23988` as `23,988`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<String> = self.rows.iter().map(|row| format!("{} ({})", row.name, row.kind)).collect();
        let width = layers.iter().map(|l| l.len() + 2).max().unwrap_or(0).max(34);
        let rule = |c: char| c.to_string().repeat(width + 38);
        writeln!(f, "Model: \"{}\"", self.model)?;
        writeln!(f, "{}", rule('_'))?;
        writeln!(f, "{:<width$}{:<26}{:>12}", "Layer (type)", "Output Shape (C, H, W)", "Param #")?;
        writeln!(f, "{}", rule('='))?;
        for (row, layer) in self.rows.iter().zip(&layers) {
            let dims: Vec<String> = row.output_shape.iter().map(|d| d.to_string()).collect();
            let shape = format!("(None, {})", dims.join(", "));
            writeln!(f, "{layer:<width$}{shape:<26}{:>12}", thousands(row.params))?;
        }
        writeln!(f, "{}", rule('='))?;
        writeln!(f, "Total params: {}", thousands(self.total_params()))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params()))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable_params()))?;
        write!(f, "{}", rule('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(640), "640");
        assert_eq!(thousands(23988), "23,988");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
