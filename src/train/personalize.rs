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
use crate::rank::session::{Pairs, PersonalizeConfig};

#[derive(Module, Debug)]
struct Adaptor<B: Backend> {
    theta: Param<Tensor<B, 1>>,
}

/// Fits θ from `theta0` on `pairs` with `config.steps` Adam steps at `config.lr`.
pub fn fit_adaptor<B: AutodiffBackend>(
    theta0: &[f32],
    pairs: &Pairs,
    config: &PersonalizeConfig,
    device: &B::Device,
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
    for _ in 0..config.steps {
        let theta = adaptor.theta.val();
        let margin = diffs
            .clone()
            .matmul(theta.clone().reshape([d, 1]))
            .reshape([n]);
        let loss = activation::softplus(margin.neg(), 1.0).mean()
            + theta.powi_scalar(2).sum().mul_scalar(config.l2);
        let grads = GradientsParams::from_grads(loss.backward(), &adaptor);
        adaptor = optim.step(config.lr, adaptor, grads);
    }
    Ok(adaptor.valid().theta.val())
}
