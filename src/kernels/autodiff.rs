//! The backward pass of our kernels for Burn's autodiff decorator over Flex.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};

use std::sync::Arc;

use super::conv::{self, Columns, ConvGeometry};
use super::{KernelOps, flex_tensor, pool, pool_geometry, shape4, values};

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
        let [x_node, weight_node, bias_node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let ConvReluState { geometry: g, weight, y, columns } = ops.state;
        let grads_of = conv::backward(&columns, &values(&weight), &values(&y), &values(&dy), &g, x_node.is_some());
        if let (Some(node), Some(dx)) = (x_node, grads_of.x) {
            grads.register::<Flex>(node.id, flex_tensor(dx, [g.batch, g.in_channels, g.height, g.width]));
        }
        if let Some(node) = weight_node {
            grads.register::<Flex>(node.id, flex_tensor(grads_of.weight, shape4(&weight)));
        }
        if let Some(node) = bias_node {
            grads.register::<Flex>(node.id, flex_tensor(grads_of.bias, [g.out_channels]));
        }
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
            let dx = pool::backward(&values(&x), &values(&y), &values(&dy), &pool_geometry(&x));
            grads.register::<Flex>(node.id, flex_tensor(dx, shape4(&x)));
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
                let (y, columns) = conv::forward(&values(&x), &values(&weight), &values(&bias), &geometry, true);
                let y = flex_tensor(y, geometry.output_shape());
                let columns = Arc::new(columns.expect("columns were asked for"));
                prep.finish(ConvReluState { geometry, weight, y: y.clone(), columns }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_relu(x, weight, bias, stride)),
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
}
