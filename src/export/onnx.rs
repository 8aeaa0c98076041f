//! A [`Network`] as an ONNX model (opset [`OPSET`]), its messages from ONNX's own schema
//! (`onnx-protobuf`). Batch norms are folded into their convolutions; the batch dimension is
//! free (`batch`).

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::type_proto::{self, Tensor as TensorType};
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

use crate::model::network::{Array, Layer, Network};

/// The ONNX operator set the graph uses (every op in it is unchanged since opset 13 or older).
pub const OPSET: i64 = 17;

/// IR version 8, the one that goes with opset 17 (ONNX 1.12 and every later runtime).
const IR_VERSION: i64 = 8;

/// Name of the graph's input: float images `[batch, channels, height, width]`.
pub const INPUT: &str = "images";

/// The serialised model; `output` names the graph's output (`logits` or `features`) and
/// `metadata` goes into its metadata properties.
pub fn model_bytes(network: &Network, output: &str, metadata: &[(String, String)]) -> Vec<u8> {
    let network = network.with_batch_norms_folded();
    let mut graph = Graph::default();
    let last = graph.layers(&network.layers, INPUT.into());
    graph.rename(&last, output);
    let shape = network.input;
    graph.proto.name = "pretext".into();
    graph.proto.input.push(value_info(INPUT, &[None, Some(shape.channels), Some(shape.height), Some(shape.width)]));
    graph.proto.output.push(value_info(output, &[None, Some(network.outputs)]));
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET, ..Default::default() }],
        producer_name: "pretext".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph.proto).into(),
        metadata_props: metadata.iter().map(|(key, value)| StringStringEntryProto { key: key.clone(), value: value.clone(), ..Default::default() }).collect(),
        ..Default::default()
    };
    model.write_to_bytes().expect("an in-memory ONNX model serialises")
}

/// A graph under construction: nodes in order, weights as initializers.
#[derive(Default)]
struct Graph {
    proto: GraphProto,
}

impl Graph {
    /// Appends `layers` applied to the value `x`; returns the name of their output.
    fn layers(&mut self, layers: &[Layer], x: String) -> String {
        layers.iter().fold(x, |x, layer| self.layer(layer, x))
    }

    fn layer(&mut self, layer: &Layer, x: String) -> String {
        match layer {
            Layer::Conv { name, kernel, stride, pads, weight, bias, .. } => {
                let mut inputs = vec![x, self.initializer(&format!("{name}.weight"), weight)];
                inputs.extend(bias.as_ref().map(|b| self.initializer(&format!("{name}.bias"), b)));
                let attributes = [ints("kernel_shape", kernel), ints("strides", stride), ints("pads", pads)];
                self.node("Conv", name, inputs, attributes.into())
            }
            Layer::BatchNorm { name, .. } => unreachable!("{name}: batch norms are folded before writing ONNX"),
            Layer::Relu => self.node("Relu", "relu", vec![x], Vec::new()),
            Layer::MaxPool2x2 => self.node("MaxPool", "max_pool", vec![x], vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])]),
            Layer::Residual { body, shortcut, .. } => {
                let skip = self.layers(shortcut, x.clone());
                let main = self.layers(body, x);
                self.node("Add", "add", vec![main, skip], Vec::new())
            }
            Layer::GlobalAveragePool => {
                let pooled = self.node("GlobalAveragePool", "global_average_pool", vec![x], Vec::new());
                self.node("Flatten", "flatten", vec![pooled], vec![int("axis", 1)])
            }
            Layer::Flatten => self.node("Flatten", "flatten", vec![x], vec![int("axis", 1)]),
            Layer::Standardize { name, mean, scale, .. } => {
                let mean = self.initializer(&format!("{name}.mean"), mean);
                let centred = self.node("Sub", name, vec![x, mean], Vec::new());
                let scale = self.initializer(&format!("{name}.scale"), scale);
                self.node("Mul", name, vec![centred, scale], Vec::new())
            }
            Layer::Dense { name, weight, bias, .. } => {
                let mut inputs = vec![x, self.initializer(&format!("{name}.weight"), weight)];
                inputs.extend(bias.as_ref().map(|b| self.initializer(&format!("{name}.bias"), b)));
                self.node("Gemm", name, inputs, vec![int("transB", 1)])
            }
        }
    }

    /// Gives the last node's output, `last`, the graph output's name.
    fn rename(&mut self, last: &str, output: &str) {
        let node = self.proto.node.last_mut().expect("a network has layers");
        assert_eq!(node.output, [last], "the last node computes the output");
        node.output = vec![output.into()];
    }

    /// Adds a node; its output is named after the node, which is numbered to keep names unique.
    fn node(&mut self, op: &str, name: &str, input: Vec<String>, attribute: Vec<AttributeProto>) -> String {
        let name = format!("{name}/{op}_{}", self.proto.node.len());
        let node = NodeProto { name: name.clone(), op_type: op.into(), input, output: vec![name.clone()], attribute, ..Default::default() };
        self.proto.node.push(node);
        name
    }

    fn initializer(&mut self, name: &str, array: &Array) -> String {
        let tensor = TensorProto {
            name: name.into(),
            dims: array.shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::FLOAT as i32,
            raw_data: array.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        self.proto.initializer.push(tensor);
        name.into()
    }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    let ints = values.iter().map(|&v| v as i64).collect();
    AttributeProto { name: name.into(), type_: AttributeType::INTS.into(), ints, ..Default::default() }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::INT.into(), i: value, ..Default::default() }
}

/// A float tensor's name and shape; `None` dimensions are the free `batch`.
fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| {
            let mut dim = Dimension::new();
            match d {
                Some(size) => dim.set_dim_value(*size as i64),
                None => dim.set_dim_param("batch".into()),
            }
            dim
        })
        .collect();
    let tensor = TensorType { elem_type: DataType::FLOAT as i32, shape: Some(TensorShapeProto { dim, ..Default::default() }).into(), ..Default::default() };
    let r#type = TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() };
    ValueInfoProto { name: name.into(), type_: Some(r#type).into(), ..Default::default() }
}
