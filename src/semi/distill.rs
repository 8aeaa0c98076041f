//! Distillation into a student (Hinton et al. 2015; the third step of SimCLRv2): a trained
//! classifier, the teacher, gives every unlabeled image a class distribution once, before the
//! phase; the student learns those soft targets on weak views of the images, beside the
//! labelled cross-entropy.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::data::batch::Batch;
use crate::eval::predict::argmax_rows;
use crate::methods::losses::distillation;
use crate::model::classifier::{Classifier, Logits};
use crate::semi::batches::SemiInput;
use crate::semi::pseudo_labels::PseudoLabels;
use crate::semi::joint_step;
use crate::train::step::{StepOutput, TrainStep};

/// A student classifier learning from a teacher's soft targets.
#[derive(Module, Debug)]
pub struct Distill {
    /// The student: encoder and head, all of it trained.
    pub student: Classifier,
    temperature: f64,
    unlabeled_weight: f64,
}

impl Distill {
    /// Distillation into `student` at `temperature`, the soft-target loss weighted by
    /// `unlabeled_weight`.
    pub fn new(student: Classifier, temperature: f64, unlabeled_weight: f64) -> Self {
        Self { student, temperature, unlabeled_weight }
    }
}

impl TrainStep<SemiInput> for Distill {
    /// Every unlabeled image counts (there is no threshold); the diagnostics score the
    /// teacher's most probable class as its pseudo-label.
    fn step(&self, batch: Batch<SemiInput>) -> StepOutput {
        let SemiInput { labelled, weak, teacher, truth, .. } = batch.input;
        let teacher = teacher.expect("distillation batches carry the teacher's outputs");
        let [_, classes] = teacher.dims();
        let pseudo: Vec<Option<usize>> = argmax_rows(&teacher.clone().into_data().try_to_vec::<f32>().expect("f32 log-probabilities"), classes).into_iter().map(Some).collect();
        let counts = PseudoLabels::tally(&pseudo, &truth);
        let loss = |logits| distillation(logits, teacher, self.temperature);
        joint_step(&self.student, (labelled, weak), &batch.targets, loss, self.unlabeled_weight, counts)
    }
}

impl Logits<Tensor<4>> for Distill {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        self.student.logits(input)
    }
}
