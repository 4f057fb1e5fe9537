//! The full-catalog softmax loss the two-tower and LightGCN train with: its value and its
//! gradient (given to autodiff directly) against `log_softmax` differentiated step by step.

use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use fusionrec::model::training::{candidate_bias, softmax_loss};

type B = Autodiff<Flex>;

fn values(t: Tensor<Flex, 2>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

#[test]
fn value_and_gradient_match_log_softmax() {
    let device = Default::default();
    let (b, n) = (5, 7);
    // Deterministic, uneven logits; item 3 is cold (never a candidate).
    let raw: Vec<f32> = (0..b * n)
        .map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.3)
        .collect();
    let targets = [0i64, 6, 2, 2, 5];
    let mut cold = vec![false; n];
    cold[3] = true;
    let bias = candidate_bias::<B>(&cold, &device);
    let target =
        || Tensor::<B, 2, Int>::from_data(TensorData::new(targets.to_vec(), [b, 1]), &device);
    let temperature = 0.5;

    let x = Tensor::<B, 2>::from_data(TensorData::new(raw.clone(), [b, n]), &device).require_grad();
    let ours = softmax_loss(x.clone(), target(), temperature, &bias);
    let ours_value = ours.clone().into_scalar();
    let ours_grad = values(x.grad(&ours.backward()).unwrap());

    let y = Tensor::<B, 2>::from_data(TensorData::new(raw, [b, n]), &device).require_grad();
    let reference = log_softmax(y.clone().div_scalar(temperature) + bias.clone(), 1)
        .gather(1, target())
        .mean()
        .neg();
    let reference_value = reference.clone().into_scalar();
    let reference_grad = values(y.grad(&reference.backward()).unwrap());

    assert!(
        (ours_value - reference_value).abs() < 1e-5,
        "{ours_value} vs {reference_value}"
    );
    for (k, (a, r)) in ours_grad.iter().zip(&reference_grad).enumerate() {
        assert!((a - r).abs() < 1e-6, "gradient [{k}]: {a} vs {r}");
    }
    // The cold column gets no gradient; each row's gradient sums to zero.
    for row in ours_grad.chunks(n) {
        assert!(row[3].abs() < 1e-12);
        assert!(row.iter().sum::<f32>().abs() < 1e-6);
    }
}
