//! On-device fine-tuning of the personal adaptor (see [`crate::rank::session`]): a few Adam steps
//! of BPR on pairs `φ(liked) − φ(other)`, `loss = mean softplus(−Δ·θ) + l2 ‖θ‖²`, from the
//! current θ. Generic over burn's autodiff backends: natively on Flex (tests, CLI), in the
//! browser on WebGPU (or Flex) — the same function. It returns θ as a tensor; the caller reads it
//! back (asynchronously in the browser, where a synchronous read would panic).

use burn::module::{AutodiffModule, Module, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{activation, Tensor, TensorData};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Options of `personalize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonalizeConfig {
    /// Adam steps on the pairs of this call.
    pub steps: usize,
    pub lr: f64,
    /// L2 penalty on θ.
    pub l2: f64,
    /// Sampled unseen negatives per liked event.
    pub negatives: usize,
    /// Weight of the adaptor's term, in units of the model's score standard deviation.
    pub strength: f32,
    /// Seed of the negative sampling.
    pub seed: u64,
}

impl Default for PersonalizeConfig {
    fn default() -> Self {
        Self {
            steps: 20,
            lr: 0.1,
            l2: 1e-3,
            negatives: 16,
            strength: 1.0,
            seed: 2026,
        }
    }
}

/// Training pairs for the adaptor: rows `φ(liked) − φ(other)`.
#[derive(Debug, Clone)]
pub struct Pairs {
    pub dim: usize,
    pub rows: usize,
    pub values: Vec<f32>,
}

#[derive(Module, Debug)]
struct Adaptor<B: Backend> {
    theta: Param<Tensor<B, 1>>,
}

/// Fits θ from `theta0` on `pairs` with `config.steps` Adam steps at `config.lr`, calling
/// `on_step(step)` after each step is queued (for progress; it reads nothing back).
pub fn fit_adaptor<B: AutodiffBackend>(
    theta0: &[f32],
    pairs: &Pairs,
    config: &PersonalizeConfig,
    device: &B::Device,
    on_step: &mut dyn FnMut(usize),
) -> Result<Tensor<B::InnerBackend, 1>> {
    let (n, d) = (pairs.rows, pairs.dim);
    if theta0.len() != d || pairs.values.len() != n * d || n == 0 {
        return Err(Error::Data(format!(
            "adaptor of {} values for {n} pairs of {d} features",
            theta0.len()
        )));
    }
    let diffs = Tensor::<B, 2>::from_data(TensorData::new(pairs.values.clone(), [n, d]), device);
    let mut adaptor = Adaptor {
        theta: Param::from_tensor(Tensor::<B, 1>::from_data(
            TensorData::new(theta0.to_vec(), [d]),
            device,
        )),
    };
    let mut optim = AdamConfig::new().init::<B, Adaptor<B>>();
    for step in 0..config.steps {
        let theta = adaptor.theta.val();
        let margin = diffs
            .clone()
            .matmul(theta.clone().reshape([d, 1]))
            .reshape([n]);
        let loss = activation::softplus(margin.neg(), 1.0).mean()
            + theta.powi_scalar(2).sum().mul_scalar(config.l2);
        let grads = GradientsParams::from_grads(loss.backward(), &adaptor);
        adaptor = optim.step(config.lr, adaptor, grads);
        on_step(step + 1);
    }
    Ok(adaptor.valid().theta.val())
}

/// The objective [`fit_adaptor`] minimises, computed on the CPU (to report before and after).
pub fn adaptor_loss(theta: &[f32], pairs: &Pairs, l2: f64) -> f64 {
    let softplus = |x: f64| if x > 30.0 { x } else { x.exp().ln_1p() };
    let data: f64 = pairs
        .values
        .chunks_exact(pairs.dim.max(1))
        .map(|row| {
            let m: f64 = row.iter().zip(theta).map(|(a, b)| f64::from(a * b)).sum();
            softplus(-m)
        })
        .sum::<f64>()
        / pairs.rows.max(1) as f64;
    data + l2 * theta.iter().map(|t| f64::from(t * t)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_lowers_the_loss_and_orders_the_pairs() {
        // Two features; liked items have feature 0, others feature 1.
        let pairs = Pairs {
            dim: 2,
            rows: 3,
            values: vec![1.0, -1.0, 0.8, -1.0, 1.0, -0.5],
        };
        let config = PersonalizeConfig {
            steps: 30,
            ..PersonalizeConfig::default()
        };
        let mut steps = 0;
        let theta = fit_adaptor::<burn::backend::Autodiff<burn::backend::Flex>>(
            &[0.0, 0.0],
            &pairs,
            &config,
            &Default::default(),
            &mut |s| steps = s,
        )
        .unwrap();
        let theta = crate::device::read_floats(theta).unwrap();
        assert_eq!(steps, 30);
        assert!(theta[0] > 0.0 && theta[1] < 0.0, "{theta:?}");
        let (before, after) = (
            adaptor_loss(&[0.0, 0.0], &pairs, config.l2),
            adaptor_loss(&theta, &pairs, config.l2),
        );
        assert!((before - std::f64::consts::LN_2).abs() < 1e-9);
        assert!(after < 0.5 * before, "{before} → {after}");
        assert!(fit_adaptor::<burn::backend::Autodiff<burn::backend::Flex>>(
            &[0.0],
            &pairs,
            &config,
            &Default::default(),
            &mut |_| {}
        )
        .is_err());
    }
}
