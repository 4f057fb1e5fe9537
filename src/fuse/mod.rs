//! Fusion of modality tokens into one item vector. Every strategy sees `tokens [n, M, d]` (one
//! projected vector per modality) and `mask [n, M]` (1 present, 0 missing) and returns the fused
//! `[n, d]` plus each modality's share `[n, M]` (non-negative, summing to 1 over present
//! modalities) for explanations.
//!
//! - [`ConcatFusion`]: missing modalities are replaced by a learned per-modality "missing" token
//!   (not zeros), the tokens are concatenated and mapped by a two-layer MLP; a modality's share
//!   is the norm of its contribution through the first layer.
//! - [`GatedFusion`]: a learned gate scores each present token; the softmax of the scores weights
//!   an average of the tokens — the weights are the shares.
//! - [`AttentionFusion`]: one self-attention layer across modality tokens (keys masked), then a
//!   learned query attends over them; its attention distribution is the share.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::SeededRng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FusionKind {
    Concat,
    Gated,
    Attention,
}

impl std::str::FromStr for FusionKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "concat" => Ok(FusionKind::Concat),
            "gated" => Ok(FusionKind::Gated),
            "attention" => Ok(FusionKind::Attention),
            other => Err(Error::Config(format!(
                "unknown fusion '{other}' (concat, gated, attention)"
            ))),
        }
    }
}

/// Fused vectors and per-modality shares.
pub struct Fused<B: Backend> {
    pub vectors: Tensor<B, 2>,
    pub shares: Tensor<B, 2>,
}

/// One fusion strategy.
pub trait Fusion<B: Backend> {
    fn fuse(&self, tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Fused<B>;
}

/// Softmax over the last axis that gives masked positions exactly zero weight.
pub fn masked_softmax<B: Backend, const D: usize>(
    logits: Tensor<B, D>,
    mask: Tensor<B, D>,
) -> Tensor<B, D> {
    let neg = (mask.clone() - 1.0) * 1e9;
    let p = softmax(logits + neg, D - 1) * mask;
    let total = p.clone().sum_dim(D - 1).clamp_min(1e-12);
    p / total
}

/// `linear` applied to each token of `x` `[n, m, d]`, through a 2-d `[n·m, d]` view: the same
/// arithmetic, but burn's generic backward of a linear layer on a 3-d input differentiates the
/// weight as `n` small `[d, m] × [m, d]` products summed afterwards (an `[n, d, d]`
/// temporary); on the 2-d view it is one product.
fn tokenwise<B: Backend>(linear: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, m, d] = x.dims();
    let y = linear.forward(x.reshape([n * m, d]));
    let d_out = y.dims()[1];
    y.reshape([n, m, d_out])
}

pub(crate) fn init_param<B: Backend, const D: usize>(
    rng: &mut SeededRng,
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let n = shape.iter().product();
    Param::from_tensor(Tensor::from_data(
        TensorData::new(rng.normal_vec(n, std), shape),
        device,
    ))
}

/// A `Linear` layer initialised from our seeded stream, with burn's default distribution
/// (weight and bias uniform in ±1/√d_in). burn's own initialisers draw from a process-global
/// generator, which made models with such layers differ from run to run at the same seed.
pub(crate) fn seeded_linear<B: Backend>(
    rng: &mut SeededRng,
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> Linear<B> {
    let bound = 1.0 / (d_in.max(1) as f64).sqrt();
    let mut uniform = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| ((2.0 * rng.unit_f64() - 1.0) * bound) as f32)
            .collect()
    };
    let mut linear = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(burn::nn::Initializer::Zeros)
        .init(device);
    linear.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(uniform(d_in * d_out), [d_in, d_out]),
        device,
    ));
    if bias {
        linear.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(uniform(d_out), [d_out]),
            device,
        )));
    }
    linear
}

#[derive(Module, Debug)]
pub struct ConcatFusion<B: Backend> {
    missing: Param<Tensor<B, 2>>,
    hidden: Linear<B>,
    out: Linear<B>,
}

impl<B: Backend> ConcatFusion<B> {
    pub fn new(modalities: usize, dim: usize, rng: &mut SeededRng, device: &B::Device) -> Self {
        Self {
            missing: init_param(rng, [modalities, dim], 0.01, device),
            hidden: seeded_linear(rng, modalities * dim, dim, true, device),
            out: seeded_linear(rng, dim, dim, true, device),
        }
    }
}

impl<B: Backend> Fusion<B> for ConcatFusion<B> {
    fn fuse(&self, tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Fused<B> {
        let [n, m, d] = tokens.dims();
        let m3 = mask.clone().reshape([n, m, 1]);
        let filled =
            tokens * m3.clone() + self.missing.val().unsqueeze_dim::<3>(0) * (m3 * -1.0 + 1.0);
        let flat = filled.clone().reshape([n, m * d]);
        let vectors = self.out.forward(relu(self.hidden.forward(flat)));
        // Contribution of modality k through the first layer: filled_k · W[k*d..(k+1)*d, :].
        let w = self.hidden.weight.val().reshape([m, d, d]);
        let contrib = filled.swap_dims(0, 1).matmul(w).swap_dims(0, 1); // [n, m, d]
        let norms = contrib.powi_scalar(2).sum_dim(2).sqrt().reshape([n, m]) * mask;
        let shares = norms.clone() / norms.sum_dim(1).clamp_min(1e-12);
        Fused { vectors, shares }
    }
}

#[derive(Module, Debug)]
pub struct GatedFusion<B: Backend> {
    gate_hidden: Linear<B>,
    gate_score: Param<Tensor<B, 2>>,
}

impl<B: Backend> GatedFusion<B> {
    pub fn new(modalities: usize, dim: usize, rng: &mut SeededRng, device: &B::Device) -> Self {
        Self {
            gate_hidden: seeded_linear(rng, dim, dim, true, device),
            gate_score: init_param(rng, [modalities, dim], (1.0 / dim as f64).sqrt(), device),
        }
    }
}

impl<B: Backend> Fusion<B> for GatedFusion<B> {
    fn fuse(&self, tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Fused<B> {
        let [n, m, d] = tokens.dims();
        // score_k = v_k · tanh(W t_k): each modality has its own gate vector. On 2-d views
        // (see [`tokenwise`]; and an `[n, m, d] × [1, m, d]` product misses the CPU backend's
        // broadcast fast path, which `[n, m·d] × [1, m·d]` takes).
        let h = tokenwise(&self.gate_hidden, tokens.clone())
            .tanh()
            .reshape([n, m * d]);
        let logits = (h * self.gate_score.val().reshape([1, m * d]))
            .reshape([n, m, d])
            .sum_dim(2)
            .reshape([n, m]);
        let shares = masked_softmax(logits, mask);
        let vectors = (tokens * shares.clone().reshape([n, m, 1]))
            .sum_dim(1)
            .reshape([n, d]);
        Fused { vectors, shares }
    }
}

#[derive(Module, Debug)]
pub struct AttentionFusion<B: Backend> {
    modality_embedding: Param<Tensor<B, 2>>,
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    out: Linear<B>,
    pool_query: Param<Tensor<B, 1>>,
}

impl<B: Backend> AttentionFusion<B> {
    pub fn new(modalities: usize, dim: usize, rng: &mut SeededRng, device: &B::Device) -> Self {
        Self {
            modality_embedding: init_param(rng, [modalities, dim], 0.02, device),
            query: seeded_linear(rng, dim, dim, true, device),
            key: seeded_linear(rng, dim, dim, true, device),
            value: seeded_linear(rng, dim, dim, true, device),
            out: seeded_linear(rng, dim, dim, true, device),
            pool_query: init_param(rng, [dim], (1.0 / dim as f64).sqrt(), device),
        }
    }
}

impl<B: Backend> Fusion<B> for AttentionFusion<B> {
    fn fuse(&self, tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Fused<B> {
        let [n, m, d] = tokens.dims();
        let scale = (d as f64).sqrt();
        let x = tokens + self.modality_embedding.val().unsqueeze_dim::<3>(0);
        let (q, k, v) = (
            tokenwise(&self.query, x.clone()),
            tokenwise(&self.key, x.clone()),
            tokenwise(&self.value, x.clone()),
        );
        let key_mask = mask.clone().reshape([n, 1, m]).repeat_dim(1, m);
        let attn = masked_softmax(q.matmul(k.swap_dims(1, 2)).div_scalar(scale), key_mask);
        let h = x + tokenwise(&self.out, attn.matmul(v)); // residual [n, m, d]
        let logits = h
            .clone()
            .matmul(self.pool_query.val().reshape([1, d, 1]))
            .reshape([n, m])
            .div_scalar(scale);
        let shares = masked_softmax(logits, mask);
        let vectors = (h * shares.clone().reshape([n, m, 1]))
            .sum_dim(1)
            .reshape([n, d]);
        Fused { vectors, shares }
    }
}

/// The strategy chosen by [`FusionKind`], as one module.
#[derive(Module, Debug)]
pub struct AnyFusion<B: Backend> {
    concat: Option<ConcatFusion<B>>,
    gated: Option<GatedFusion<B>>,
    attention: Option<AttentionFusion<B>>,
}

impl<B: Backend> AnyFusion<B> {
    pub fn new(
        kind: FusionKind,
        modalities: usize,
        dim: usize,
        rng: &mut SeededRng,
        device: &B::Device,
    ) -> Self {
        let mut f = Self {
            concat: None,
            gated: None,
            attention: None,
        };
        match kind {
            FusionKind::Concat => f.concat = Some(ConcatFusion::new(modalities, dim, rng, device)),
            FusionKind::Gated => f.gated = Some(GatedFusion::new(modalities, dim, rng, device)),
            FusionKind::Attention => {
                f.attention = Some(AttentionFusion::new(modalities, dim, rng, device))
            }
        }
        f
    }
}

impl<B: Backend> Fusion<B> for AnyFusion<B> {
    fn fuse(&self, tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Fused<B> {
        match (&self.concat, &self.gated, &self.attention) {
            (Some(f), _, _) => f.fuse(tokens, mask),
            (_, Some(f), _) => f.fuse(tokens, mask),
            (_, _, Some(f)) => f.fuse(tokens, mask),
            _ => unreachable!("AnyFusion::new always sets one strategy"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type T<const D: usize> = Tensor<Flex, D>;

    fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D]) -> T<D> {
        Tensor::from_data(TensorData::new(v, shape), &Default::default())
    }

    fn values<const D: usize>(t: T<D>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    #[test]
    fn masked_softmax_by_hand() {
        let p = values(masked_softmax(
            tensor(vec![0.0, 2f32.ln(), 5.0], [1, 3]),
            tensor(vec![1.0, 1.0, 0.0], [1, 3]),
        ));
        // exp(0) : exp(ln 2) = 1 : 2, the masked 5.0 gets nothing.
        assert!(
            (p[0] - 1.0 / 3.0).abs() < 1e-6 && (p[1] - 2.0 / 3.0).abs() < 1e-6 && p[2] == 0.0,
            "{p:?}"
        );
    }

    /// Every strategy: shares are a distribution over present modalities, and a masked token's
    /// content has no effect on the fused vector.
    #[test]
    fn all_strategies_respect_the_mask() {
        let device = Default::default();
        for kind in [FusionKind::Concat, FusionKind::Gated, FusionKind::Attention] {
            let mut rng = SeededRng::new(1);
            let f = AnyFusion::<Flex>::new(kind, 3, 4, &mut rng, &device);
            let mut rng = SeededRng::new(2);
            let base = rng.normal_vec(2 * 3 * 4, 1.0);
            let mask = tensor(vec![1.0, 0.0, 1.0, 1.0, 1.0, 1.0], [2, 3]);
            let a = f.fuse(tensor(base.clone(), [2, 3, 4]), mask.clone());
            let mut changed = base.clone();
            changed[4..8].iter_mut().for_each(|x| *x += 10.0); // item 0, modality 1 (masked)
            let b = f.fuse(tensor(changed, [2, 3, 4]), mask);
            let (va, vb) = (values(a.vectors), values(b.vectors));
            assert!(
                va.iter().zip(&vb).all(|(x, y)| (x - y).abs() < 1e-5),
                "{kind:?}: masked token leaked"
            );
            let shares = values(a.shares);
            assert_eq!(shares[1], 0.0, "{kind:?}");
            for row in shares.chunks(3) {
                assert!(
                    (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                    "{kind:?}: {row:?}"
                );
                assert!(row.iter().all(|&s| s >= 0.0));
            }
        }
    }

    #[test]
    fn gated_fusion_by_hand() {
        // With equal gate scores the fusion is the plain mean of present tokens.
        let device = Default::default();
        let mut f = GatedFusion::<Flex>::new(2, 2, &mut SeededRng::new(0), &device);
        f.gate_score = Param::from_tensor(tensor(vec![0.0; 4], [2, 2]));
        let out = f.fuse(
            tensor(vec![1.0, 2.0, 3.0, 6.0], [1, 2, 2]),
            tensor(vec![1.0, 1.0], [1, 2]),
        );
        assert_eq!(values(out.vectors), [2.0, 4.0]);
        assert_eq!(values(out.shares), [0.5, 0.5]);
    }
}
