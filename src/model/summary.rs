//! A Keras-style model summary: one row per layer with its output shape and parameter count,
//! then total / trainable / non-trainable parameters.

use std::fmt;

use burn::tensor::Tensor;

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

/// Records layer outputs while a model runs forward; a disabled tracer costs nothing.
#[derive(Debug, Default)]
pub struct Tracer {
    rows: Option<Vec<LayerRow>>,
}

impl Tracer {
    /// A tracer that records nothing (ordinary forward passes).
    pub fn off() -> Self {
        Self { rows: None }
    }

    /// A tracer that records every layer.
    pub fn on() -> Self {
        Self { rows: Some(Vec::new()) }
    }

    /// Whether layers are being recorded (a summary), as opposed to plain training or inference.
    pub fn is_on(&self) -> bool {
        self.rows.is_some()
    }

    /// Records one layer's output, naming it like Keras does (`conv2d`, `conv2d_1`, ...).
    pub fn record<const D: usize>(
        &mut self,
        base: &str,
        kind: &'static str,
        output: &Tensor<D>,
        params: usize,
        trainable: bool,
    ) {
        if let Some(rows) = &mut self.rows {
            let seen = rows.iter().filter(|r| r.kind == kind).count();
            let name = if seen == 0 { base.to_string() } else { format!("{base}_{seen}") };
            let output_shape = output.dims()[1..].to_vec();
            rows.push(LayerRow { name, kind, output_shape, params, statistics: 0, trainable });
        }
    }

    /// Records a layer that holds `statistics` running statistics among its `params`.
    pub fn record_with_statistics<const D: usize>(
        &mut self,
        base: &str,
        kind: &'static str,
        output: &Tensor<D>,
        (params, statistics): (usize, usize),
        trainable: bool,
    ) {
        self.record(base, kind, output, params, trainable);
        if let Some(row) = self.rows.as_mut().and_then(|rows| rows.last_mut()) {
            row.statistics = statistics;
        }
    }

    /// The rows recorded so far.
    pub fn into_rows(self) -> Vec<LayerRow> {
        self.rows.unwrap_or_default()
    }
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
