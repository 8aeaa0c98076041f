//! The backward pass of our kernels for Burn's autodiff decorator over Flex.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, AutodiffBackend, Flex};

use super::conv::{self, Columns, ConvGeometry, ConvGradients, Im2col, Winners};
use super::norm::{self, NormGeometry, Statistics};
use super::short_patch;
use super::{KernelOps, NormOutput, flex_tensor, pool, pool_geometry, shape, shape4, values};

/// What the backward pass of `conv2d_relu` needs: the geometry, weight, (post-ReLU) output and
/// the forward pass's im2col matrices (shared, not copied, if the state is cloned).
#[derive(Debug, Clone)]
struct ConvReluState {
    geometry: ConvGeometry,
    weight: FlexTensor,
    y: FlexTensor,
    columns: Arc<Columns>,
}

#[derive(Debug)]
struct ConvReluBackward;

impl Backward<Flex, 3> for ConvReluBackward {
    type State = ConvReluState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let ConvReluState { geometry, weight, y, columns } = &ops.state;
        let nodes = ops.parents.map(|node| node.map(|n| n.id));
        let computed = conv::backward(Im2col::Kept(columns), &values(weight), Some(&values(y)), &values(&dy), geometry, nodes[0].is_some());
        register_conv_grads(geometry, computed, nodes, grads);
    }
}

/// What the backward pass of `conv2d` needs: the geometry, input and weight (it rebuilds the
/// im2col matrices from the input).
#[derive(Debug, Clone)]
struct ConvState {
    geometry: ConvGeometry,
    x: FlexTensor,
    weight: FlexTensor,
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let ConvState { geometry, x, weight } = &ops.state;
        let nodes = ops.parents.map(|node| node.map(|n| n.id));
        let computed = super::plain_conv_backward(x, weight, &dy, geometry, nodes[0].is_some());
        register_conv_grads(geometry, computed, nodes, grads);
    }
}

/// Registers the gradients of whichever of a convolution's input, weight and bias are tracked.
fn register_conv_grads(g: &ConvGeometry, computed: ConvGradients, [x_node, weight_node, bias_node]: [Option<NodeId>; 3], grads: &mut Gradients) {
    if let (Some(node), Some(dx)) = (x_node, computed.x) {
        grads.register::<Flex>(node, flex_tensor(dx, [g.batch, g.in_channels, g.height, g.width]));
    }
    if let Some(node) = weight_node {
        grads.register::<Flex>(node, flex_tensor(computed.weight, [g.out_channels, g.in_channels, g.kernel, g.kernel]));
    }
    if let Some(node) = bias_node {
        grads.register::<Flex>(node, flex_tensor(computed.bias, [g.out_channels]));
    }
}

/// What the backward pass of `max_pool2x2` needs: its input and output.
#[derive(Debug, Clone)]
struct PoolState {
    x: FlexTensor,
    y: FlexTensor,
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let PoolState { x, y } = ops.state;
        if let Some(node) = x_node {
            let dx = pool::backward(&values(&x), &values(&y), &values(&dy), &pool_geometry(shape4(&x)));
            grads.register::<Flex>(node.id, flex_tensor(dx, shape4(&x)));
        }
    }
}

/// What the backward pass of `conv2d_relu_pool` needs: the geometry, weight, the pooling
/// windows' winners and what its weight gradient is summed from.
#[derive(Debug, Clone)]
struct ConvReluPoolState {
    geometry: ConvGeometry,
    weight: FlexTensor,
    winners: Arc<Winners>,
    patches: Patches,
}

/// Where a pooled convolution's backward pass finds the patches its outputs saw.
#[derive(Debug, Clone)]
enum Patches {
    /// The forward pass's im2col matrices (shared, not copied, if the state is cloned).
    Columns(Arc<Columns>),
    /// The input of a short-patch convolution whose input takes no gradient ([`short_patch`]).
    Input(FlexTensor),
}

#[derive(Debug)]
struct ConvReluPoolBackward;

impl Backward<Flex, 3> for ConvReluPoolBackward {
    type State = ConvReluPoolState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dpooled = grads.consume::<Flex>(&ops.node);
        let ConvReluPoolState { geometry, weight, winners, patches } = &ops.state;
        let nodes = ops.parents.map(|node| node.map(|n| n.id));
        let computed = match patches {
            Patches::Columns(columns) => conv::backward_pooled(Im2col::Kept(columns), &values(weight), winners, &values(&dpooled), geometry, nodes[0].is_some()),
            Patches::Input(x) => short_patch::backward_pooled(&values(x), winners, &values(&dpooled), geometry),
        };
        register_conv_grads(geometry, computed, nodes, grads);
    }
}

/// What the backward pass of `batch_norm_train` needs: the input, the output (whose sign is
/// the ReLU's gradient) when there was a ReLU, gamma, the batch statistics, and whether a
/// residual was added.
#[derive(Debug, Clone)]
struct NormState {
    geometry: NormGeometry,
    x: FlexTensor,
    relu_output: Option<FlexTensor>,
    gamma: FlexTensor,
    statistics: Arc<Statistics>,
    epsilon: f64,
}

#[derive(Debug)]
struct NormBackward;

/// Parents: input, gamma, beta, and the residual when one was added (`N` is 3 or 4).
impl<const N: usize> Backward<Flex, N> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let NormState { geometry, x, relu_output, gamma, statistics, epsilon } = &ops.state;
        let nodes = ops.parents.map(|node| node.map(|n| n.id));
        let (x_node, gamma_node, beta_node, residual_node) = (nodes[0], nodes[1], nodes[2], nodes.get(3).copied().flatten());
        let relu_output = relu_output.as_ref().map(values);
        let computed = norm::backward(&values(x), relu_output.as_deref(), &values(&dy), &values(gamma), statistics, *epsilon, residual_node.is_some(), geometry);
        let channels = [geometry.channels];
        for (node, grad, shape) in [(x_node, Some(computed.x), shape(x)), (gamma_node, Some(computed.gamma), channels.to_vec()), (beta_node, Some(computed.beta), channels.to_vec()), (residual_node, computed.residual, shape(x))] {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<Flex>(node, flex_tensor(grad, shape));
            }
        }
    }
}

impl<C: CheckpointStrategy> KernelOps for Autodiff<Flex, C> {
    fn conv2d_relu(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize) -> FloatTensor<Self> {
        let prep = ConvReluBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let geometry = ConvGeometry::same(shape4(&x), shape4(&weight), stride);
                let (y, columns) = conv::forward::<true>(&values(&x), &values(&weight), &values(&bias), &geometry, true);
                let y = flex_tensor(y, geometry.output_shape());
                let state = ConvReluState { geometry, weight, y: y.clone(), columns: Arc::new(columns.expect("columns were asked for")) };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_relu(x, weight, bias, stride)),
        }
    }

    fn conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize, padding: usize) -> FloatTensor<Self> {
        let prep = ConvBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let geometry = ConvGeometry::padded(shape4(&x), shape4(&weight), stride, padding);
                let y = super::plain_conv_forward(&x, &weight, &bias, &geometry);
                let state = ConvState { geometry, x, weight };
                prep.finish(state, flex_tensor(y, geometry.output_shape()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d(x, weight, bias, stride, padding)),
        }
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = PoolBackward.prepare::<C>([x.node()]).compute_bound().stateful();
        let x = x.into_primitive();
        match prep {
            OpsKind::Tracked(prep) => {
                let y = Flex::max_pool2x2(x.clone());
                prep.finish(PoolState { x, y: y.clone() }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::max_pool2x2(x)),
        }
    }

    fn conv2d_relu_pool(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize) -> FloatTensor<Self> {
        // The short-patch kernel computes no input gradient, which the data never needs.
        let x_tracked = x.is_tracked();
        let prep = ConvReluPoolBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let geometry = ConvGeometry::same(shape4(&x), shape4(&weight), stride).cropped_for_pool();
                let short = short_patch::suits(&geometry) && !x_tracked;
                let (pooled, winners, columns) = conv::forward_pooled(&values(&x), &values(&weight), &values(&bias), &geometry, !short);
                let patches = match columns {
                    Some(columns) => Patches::Columns(Arc::new(columns)),
                    None => Patches::Input(x),
                };
                let state = ConvReluPoolState { geometry, weight, winners: Arc::new(winners), patches };
                prep.finish(state, flex_tensor(pooled, geometry.pooled_shape()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_relu_pool(x, weight, bias, stride)),
        }
    }

    fn batch_norm_train(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64, relu: bool) -> NormOutput<Self> {
        let ((x, x_node), (gamma, gamma_node), (beta, beta_node)) = (x.into_parts(), gamma.into_parts(), beta.into_parts());
        record_norm::<C, 3>([x_node, gamma_node, beta_node], [x, gamma, beta], None, epsilon, relu)
    }

    fn batch_norm_add_relu_train(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, residual: FloatTensor<Self>, epsilon: f64) -> NormOutput<Self> {
        let ((x, x_node), (gamma, gamma_node), (beta, beta_node)) = (x.into_parts(), gamma.into_parts(), beta.into_parts());
        let (residual, residual_node) = residual.into_parts();
        record_norm::<C, 4>([x_node, gamma_node, beta_node, residual_node], [x, gamma, beta], Some(&residual), epsilon, true)
    }
}

/// Computes a batch norm (with `residual` added before the ReLU when given) and records its
/// output with the backward state when a parent in `nodes` is tracked; the batch statistics
/// come back untracked.
fn record_norm<C: CheckpointStrategy, const N: usize>(
    nodes: [NodeGuard; N],
    [x, gamma, beta]: [FlexTensor; 3],
    residual: Option<&FlexTensor>,
    epsilon: f64,
    relu: bool,
) -> NormOutput<Autodiff<Flex, C>> {
    let (y, statistics) = super::batch_norm_forward(&x, &gamma, &beta, residual, epsilon, relu);
    let (mean, variance) = (statistics.mean_tensor(), statistics.variance_tensor());
    let state = NormState { geometry: NormGeometry::of(&shape(&x)), x, relu_output: relu.then(|| y.clone()), gamma, statistics: Arc::new(statistics), epsilon };
    let output = match NormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    (output, Autodiff::<Flex, C>::from_inner(mean), Autodiff::<Flex, C>::from_inner(variance))
}
