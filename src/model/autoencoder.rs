//! Mult-DAE (Liang et al., 2018, "Variational Autoencoders for Collaborative Filtering", its
//! denoising variant): a user's training items as a bag `x_u ∈ {0,1}^n`, normalised to unit
//! length and corrupted by dropout, go through one `tanh` layer of width `dim`, and a linear
//! decoder gives a logit per item; the loss is the multinomial log-likelihood of the user's
//! items under the softmax of those logits, `−Σ_i x_ui · log softmax(W₂ h_u + b₂)_i`.
//!
//! Why it is here: it is the neural autoencoder peer libraries ship (RecBole's MultiDAE and
//! MultiVAE), and it reads a whole history at once without order, unlike SASRec; its scores are
//! a non-linear function of the history, unlike EASE's.
//!
//! After training it is stored as a [`FactorModel`] of width `dim + 1` — users `[h_u, 1]`,
//! items `[W₂ᵀ_i, b₂_i]` — so scoring, bundles, int8 item vectors and the device scorer are
//! shared with the other factor models; its encoder (`W₁`, `b₁`) is kept as the model's
//! [`VisitorEncoder`], so a visitor's vector is `[tanh(b₁ + Σ_i x̂_i W₁ᵢ), 1]`, computed on the
//! CPU from the history's rows of `W₁` only (the training users' stored vectors are computed by
//! the same code). The dropout masks are drawn from the model's seeded stream.

use std::collections::BTreeMap;

use burn::module::{AutodiffModule, Module};
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::AdamConfig;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::factor::{FactorModel, VisitorEncoder};
use super::training::{fit_on, TrainObserver, TrainingConfig};
use super::{take_weight, with_valid_ndcg, Fit, FitContext, TrainedModel, UserHistory};
use crate::data::Split;
use crate::device::{float_tensor as tensor2, read_floats as read};
use crate::error::{Error, Result};
use crate::fuse::seeded_linear;
use crate::io::WeightMap;
use crate::rng::SeededRng;

/// Hyper-parameters of [`train_mult_dae`]; `train.dim` is the hidden layer's width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Probability that an input entry is dropped in training (the denoising corruption).
    pub dropout: f64,
    /// What every trained model shares: dimension, epochs, batch, optimiser, schedule, seed.
    #[serde(flatten)]
    pub train: TrainingConfig,
}

impl Default for AutoencoderConfig {
    /// Liang et al.'s settings (dropout 0.5, Adam 1e-3, batch 128) with a 200-wide layer (their
    /// 600 stores three times the weights for no gain on ML-100K's validation split).
    fn default() -> Self {
        Self {
            dropout: 0.5,
            train: TrainingConfig {
                dim: 200,
                epochs: 200,
                batch_size: 128,
                lr: 1e-3,
                weight_decay: 0.0,
                eval_every: 5,
                patience: 4,
                seed: 2026,
                devices: 1,
            },
        }
    }
}

impl AutoencoderConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "Mult-DAE: dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        self.train.validate("Mult-DAE")
    }
}

/// Mult-DAE's encoder: what turns a history into a user vector `[h, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaeEncoder {
    /// Width of the hidden layer (the user vector is one wider).
    pub dim: usize,
    /// `[n_items, dim]`: item i's row is what its presence adds before the `tanh`.
    pub weight: Vec<f32>,
    /// `[dim]`.
    pub bias: Vec<f32>,
}

impl DaeEncoder {
    pub fn n_items(&self) -> usize {
        self.weight.len() / self.dim.max(1)
    }

    /// The user vector of a history (order does not matter). Each event is a mixture of catalog
    /// items; an item's input is the sum of its weights over the events, capped at 1 (training
    /// saw each item at most once), and the input is scaled to unit length as in training.
    /// Ratings are not read: every event is an interaction. An empty history gives
    /// `[tanh(b₁), 1]`.
    pub fn encode(&self, events: &[Vec<(u32, f32)>]) -> Result<Vec<f32>> {
        let (d, n) = (self.dim, self.n_items());
        let mut x = BTreeMap::<u32, f32>::new();
        for &(i, w) in events.iter().flatten() {
            if i as usize >= n {
                return Err(Error::Data(format!(
                    "item index {i} is outside the catalog"
                )));
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err(Error::Data(format!("event weight {w} of item {i}")));
            }
            *x.entry(i).or_default() += w;
        }
        x.values_mut().for_each(|v| *v = v.min(1.0));
        let norm = x.values().map(|v| v * v).sum::<f32>().sqrt();
        let mut h = self.bias.clone();
        if norm > 0.0 {
            for (&i, &v) in &x {
                let row = &self.weight[i as usize * d..(i as usize + 1) * d];
                let v = v / norm;
                h.iter_mut().zip(row).for_each(|(a, w)| *a += v * w);
            }
        }
        h.iter_mut().for_each(|a| *a = a.tanh());
        h.push(1.0);
        Ok(h)
    }

    /// The bundle's tensors (prefixed `dae.`).
    pub fn weights(&self) -> WeightMap {
        [
            (
                "dae.encoder.weight".to_string(),
                (vec![self.n_items(), self.dim], self.weight.clone()),
            ),
            (
                "dae.encoder.bias".to_string(),
                (vec![self.dim], self.bias.clone()),
            ),
        ]
        .into()
    }

    /// Takes the encoder of `config` over `n_items` out of a bundle's tensors.
    pub fn from_weights(
        config: &AutoencoderConfig,
        n_items: usize,
        w: &mut WeightMap,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|e| Error::Bundle(format!("autoencoder: {e}")))?;
        let d = config.train.dim;
        Ok(Self {
            dim: d,
            weight: take_weight(w, "dae.encoder.weight", &[n_items, d])?,
            bias: take_weight(w, "dae.encoder.bias", &[d])?,
        })
    }
}

#[derive(Module, Debug)]
struct DaeNet<B: Backend> {
    encoder: Linear<B>,
    decoder: Linear<B>,
}

impl<B: Backend> DaeNet<B> {
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.decoder.forward(self.encoder.forward(x).tanh())
    }

    /// The trained model: item vectors `[W₂ᵀ, b₂]`, the encoder, and every user's vector from
    /// their training items through that encoder.
    fn snapshot(&self, history: &UserHistory, n_users: usize) -> Result<FactorModel> {
        let [d, n] = self.decoder.weight.val().dims();
        let bias = |l: &Linear<B>, len: usize| -> Result<Vec<f32>> {
            match &l.bias {
                Some(b) => read(b.val()),
                None => Ok(vec![0.0; len]),
            }
        };
        let decoder_t = read(self.decoder.weight.val().transpose())?;
        let decoder_b = bias(&self.decoder, n)?;
        let mut items = Vec::with_capacity(n * (d + 1));
        for i in 0..n {
            items.extend_from_slice(&decoder_t[i * d..(i + 1) * d]);
            items.push(decoder_b[i]);
        }
        let encoder = DaeEncoder {
            dim: d,
            weight: read(self.encoder.weight.val())?,
            bias: bias(&self.encoder, d)?,
        };
        let mut users = Vec::with_capacity(n_users * (d + 1));
        for u in 0..n_users as u32 {
            let events: Vec<Vec<(u32, f32)>> =
                history.user(u).0.iter().map(|&i| vec![(i, 1.0)]).collect();
            users.extend(encoder.encode(&events)?);
        }
        Ok(FactorModel {
            dim: d + 1,
            user_factors: users,
            item_factors: items.into(),
            biases: None,
            encoder: Some(Box::new(VisitorEncoder::Autoencoder(encoder))),
            heads: Default::default(),
        })
    }
}

/// One batch's input (normalised, with dropout drawn from `rng`) and target, `[b, n]` each.
fn batch_rows(
    users: &[u32],
    history: &UserHistory,
    n: usize,
    dropout: f64,
    rng: &mut SeededRng,
) -> (Vec<f32>, Vec<f32>) {
    let (mut input, mut target) = (vec![0.0f32; users.len() * n], vec![0.0f32; users.len() * n]);
    let keep = (1.0 / (1.0 - dropout)) as f32;
    for (r, &u) in users.iter().enumerate() {
        let row = r * n;
        for &i in history.user(u).0 {
            target[row + i as usize] = 1.0;
        }
        let count = target[row..row + n].iter().filter(|&&t| t > 0.0).count();
        let scale = 1.0 / (count.max(1) as f32).sqrt();
        for i in 0..n {
            if target[row + i] > 0.0 && (dropout == 0.0 || rng.unit_f64() >= dropout) {
                input[row + i] = scale * keep;
            }
        }
    }
    (input, target)
}

/// Trains Mult-DAE on the training histories, early-stopping on validation NDCG@10; returns the
/// best snapshot and its validation NDCG@10.
pub fn train_mult_dae<B: AutodiffBackend>(
    config: &AutoencoderConfig,
    split: &Split,
    history: &UserHistory,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    let (nu, n, d) = (split.n_users, split.n_items, config.train.dim);
    // The examples are the users with training items.
    let users: Vec<u32> = (0..nu as u32)
        .filter(|&u| !history.user(u).0.is_empty())
        .collect();
    if users.is_empty() {
        return Err(Error::Data("no training interactions".into()));
    }
    let mut rng = SeededRng::new(config.train.seed);
    let net = DaeNet::<B> {
        encoder: seeded_linear(&mut rng, n, d, true, device),
        decoder: seeded_linear(&mut rng, d, n, true, device),
    };
    let mut optim = AdamConfig::new();
    if config.train.weight_decay > 0.0 {
        optim = optim.with_weight_decay(Some(WeightDecayConfig::new(
            config.train.weight_decay as f32,
        )));
    }
    let optim = optim.init::<B, DaeNet<B>>();
    let mut rng = SeededRng::new(config.train.seed ^ 0xDAE0_5EED_2018);
    let schedule = config.train.schedule(true);
    let users = &users;
    let batch_loss_on = |dev: &B::Device| {
        let dev = dev.clone();
        move |net: &DaeNet<B>, batch: &[usize], rng: &mut SeededRng| {
            let rows: Vec<u32> = batch.iter().map(|&k| users[k]).collect();
            let (input, target) = batch_rows(&rows, history, n, config.dropout, rng);
            let b = rows.len();
            let logits = net.forward(tensor2(input, [b, n], &dev));
            let target = tensor2::<B>(target, [b, n], &dev);
            Ok((log_softmax(logits, 1) * target).sum_dim(1).mean().neg())
        }
    };
    let validate = |net: &DaeNet<B>| {
        Ok(with_valid_ndcg(
            net.valid().snapshot(history, nu)?,
            split,
            history,
        ))
    };
    fit_on(
        device,
        &schedule,
        net,
        optim,
        users.len(),
        &mut rng,
        observer,
        batch_loss_on,
        validate,
    )
}

impl Fit for AutoencoderConfig {
    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        let (model, _) = train_mult_dae::<B>(self, ctx.split, ctx.history, device, ctx.observer)?;
        Ok(TrainedModel::Factor(model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder() -> DaeEncoder {
        // Three items, two hidden units.
        DaeEncoder {
            dim: 2,
            weight: vec![1.0, 0.0, 0.0, 2.0, -1.0, 1.0],
            bias: vec![0.1, -0.2],
        }
    }

    #[test]
    fn encode_is_tanh_of_the_normalised_bag_with_a_one_appended() {
        let e = encoder();
        let s = 1.0 / 2f32.sqrt();
        let h = e.encode(&[vec![(0, 1.0)], vec![(2, 1.0)]]).unwrap();
        let want = [
            (0.1 + s * (1.0 - 1.0)).tanh(),
            (-0.2 + s * (0.0 + 1.0)).tanh(),
            1.0,
        ];
        for (a, b) in h.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{h:?} vs {want:?}");
        }
        // A repeat counts once (training saw each item once); order does not matter.
        let again = e
            .encode(&[vec![(2, 1.0)], vec![(0, 1.0)], vec![(2, 1.0)]])
            .unwrap();
        assert_eq!(h, again);
        // Empty: the bias alone.
        let empty = e.encode(&[]).unwrap();
        assert_eq!(empty, vec![0.1f32.tanh(), (-0.2f32).tanh(), 1.0]);
    }

    #[test]
    fn encode_refuses_items_outside_the_catalog_and_bad_weights() {
        let e = encoder();
        assert!(matches!(e.encode(&[vec![(3, 1.0)]]), Err(Error::Data(_))));
        assert!(matches!(
            e.encode(&[vec![(0, f32::NAN)]]),
            Err(Error::Data(_))
        ));
        assert!(matches!(e.encode(&[vec![(0, -1.0)]]), Err(Error::Data(_))));
    }

    #[test]
    fn weights_round_trip_and_shapes_are_checked() {
        let e = encoder();
        let mut config = AutoencoderConfig::default();
        config.train.dim = 2;
        let mut w = e.weights();
        assert_eq!(DaeEncoder::from_weights(&config, 3, &mut w).unwrap(), e);
        let mut w = e.weights();
        assert!(DaeEncoder::from_weights(&config, 4, &mut w).is_err());
    }

    #[test]
    fn config_is_checked() {
        let mut c = AutoencoderConfig {
            dropout: 1.0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        c.dropout = 0.2;
        assert!(c.validate().is_ok());
        c.train.dim = 0;
        assert!(c.validate().is_err());
    }
}
