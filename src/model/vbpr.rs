//! A VBPR-style model (He & McAuley, 2016), generalised from one visual feature to every content
//! modality: `score(u, i) = β_i + γ_u·γ_i + θ_u·c_i`, where `c_i` is the item's content vector —
//! each modality's features projected to `dim` and fused by a [`crate::fuse`] strategy under the
//! item's modality mask — and training ranks with BPR. The collaborative half (`γ`) and the
//! content half (`θ·c`) are separate, so an item never seen in training still scores through its
//! content.
//!
//! After training it is stored as a [`FactorModel`] of width `2·dim + 1`: users `[γ_u, θ_u, 1]`,
//! items `[γ_i, c_i, β_i]`, so scoring and bundles are shared with MF.

use burn::module::{AutodiffModule, Module, Param};
use burn::nn::Linear;
use burn::optim::AdamConfig;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::factor::FactorModel;
use super::training::{fit_on, sample_negative, TrainObserver, TrainingConfig};
use super::{with_valid_ndcg, Fit, FitContext, TrainedModel, UserHistory};
use crate::data::Split;
use crate::device::{float_tensor as tensor2, int_tensor as ints, read_floats as read};
use crate::encode::features::Modality;
use crate::error::{Error, Result};
use crate::fuse::{init_param, seeded_linear, AnyFusion, Fusion, FusionKind};
use crate::rng::SeededRng;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VbprConfig {
    /// Content modalities fused into `c_i` (at least one).
    pub modalities: Vec<String>,
    pub fusion: FusionKind,
    /// What every trained model shares: dimension, epochs, batch, optimiser, schedule, seed.
    #[serde(flatten)]
    pub train: TrainingConfig,
}

impl Default for VbprConfig {
    fn default() -> Self {
        Self {
            modalities: vec!["text".into(), "tabular".into(), "kg".into()],
            fusion: FusionKind::Gated,

            train: TrainingConfig {
                dim: 64,
                epochs: 200,
                batch_size: 1024,
                lr: 1e-3,
                weight_decay: 3e-3,
                eval_every: 5,
                patience: 4,
                seed: 2026,
                devices: 1,
            },
        }
    }
}

impl VbprConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("VBPR: {why}")));
        if self.modalities.is_empty() {
            return bad("needs at least one content modality");
        }
        self.train.validate("VBPR")
    }
}

#[derive(Module, Debug)]
struct VbprNet<B: Backend> {
    gamma_user: Param<Tensor<B, 2>>,
    theta_user: Param<Tensor<B, 2>>,
    gamma_item: Param<Tensor<B, 2>>,
    beta_item: Param<Tensor<B, 2>>,
    projections: Vec<Linear<B>>,
    fusion: Option<AnyFusion<B>>,
}

/// Content features and their presence mask, constant on the device.
#[derive(Clone)]
struct Content<B: Backend> {
    features: Vec<Tensor<B, 2>>,
    mask: Tensor<B, 2>,
}

impl<B: Backend> VbprNet<B> {
    /// Content vectors `c_i` of every item `[n_items, dim]`.
    fn content(&self, c: &Content<B>) -> Tensor<B, 2> {
        let mut tokens: Vec<Tensor<B, 2>> = self
            .projections
            .iter()
            .zip(&c.features)
            .map(|(p, x)| p.forward(x.clone()))
            .collect();
        match &self.fusion {
            Some(f) => f.fuse(Tensor::stack(tokens, 1), c.mask.clone()).vectors,
            None => tokens.remove(0) * c.mask.clone(),
        }
    }

    fn snapshot(&self, c: &Content<B>) -> Result<FactorModel> {
        let [n_users, d] = self.gamma_user.val().dims();
        let n_items = self.gamma_item.val().dims()[0];
        let device = self.gamma_user.val().device();
        let ones = Tensor::<B, 2>::ones([n_users, 1], &device);
        let users = Tensor::cat(vec![self.gamma_user.val(), self.theta_user.val(), ones], 1);
        let items = Tensor::cat(
            vec![self.gamma_item.val(), self.content(c), self.beta_item.val()],
            1,
        );
        debug_assert_eq!(items.dims(), [n_items, 2 * d + 1]);
        Ok(FactorModel {
            dim: 2 * d + 1,
            user_factors: read(users)?,
            item_factors: read(items)?.into(),
            biases: None,
            encoder: None,
            heads: Default::default(),
        })
    }
}

/// Trains VBPR on `split.train` with BPR and uniform negatives, early-stopping on validation
/// NDCG@10; returns the best snapshot and its validation NDCG@10.
pub fn train_vbpr<B: AutodiffBackend>(
    config: &VbprConfig,
    split: &Split,
    history: &UserHistory,
    modalities: &[&Modality],
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    let (nu, ni, d) = (split.n_users, split.n_items, config.train.dim);
    if modalities.len() != config.modalities.len() || modalities.iter().any(|m| m.n_items() != ni) {
        return Err(Error::Data("item features do not cover the catalog".into()));
    }
    if split.train.is_empty() {
        return Err(Error::Data("no training interactions".into()));
    }
    let m = modalities.len();
    let mut mask = vec![0.0f32; ni * m];
    for (k, modality) in modalities.iter().enumerate() {
        for i in 0..ni {
            mask[i * m + k] = if modality.present[i] { 1.0 } else { 0.0 };
        }
    }
    let content = Content::<B> {
        features: modalities
            .iter()
            .map(|x| tensor2(x.values.clone(), [ni, x.dim], device))
            .collect(),
        mask: tensor2(mask, [ni, m], device),
    };
    let inner_content = Content::<B::InnerBackend> {
        features: content.features.iter().map(|t| t.clone().inner()).collect(),
        mask: content.mask.clone().inner(),
    };
    let mut rng = SeededRng::new(config.train.seed);
    let net = VbprNet::<B> {
        gamma_user: init_param(&mut rng, [nu, d], 0.1, device),
        theta_user: init_param(&mut rng, [nu, d], 0.1, device),
        gamma_item: init_param(&mut rng, [ni, d], 0.1, device),
        beta_item: Param::from_tensor(Tensor::zeros([ni, 1], device)),
        projections: modalities
            .iter()
            .map(|x| seeded_linear(&mut rng, x.dim, d, false, device))
            .collect(),
        fusion: (m > 1).then(|| AnyFusion::new(config.fusion, m, d, &mut rng, device)),
    };
    let optim = AdamConfig::new().init::<B, VbprNet<B>>();
    let mut rng = SeededRng::new(config.train.seed ^ 0x5EED_0FBA_7C45);
    let schedule = config.train.schedule(true);
    let batch_loss = |net: &VbprNet<B>,
                      batch: &[usize],
                      rng: &mut SeededRng,
                      content: &Content<B>,
                      device: &B::Device| {
        let b = batch.len();
        let users: Vec<u32> = batch.iter().map(|&k| split.train[k].user).collect();
        let pos: Vec<u32> = batch.iter().map(|&k| split.train[k].item).collect();
        let neg: Vec<u32> = users
            .iter()
            .map(|&u| sample_negative(rng, ni, history.user(u).0))
            .collect();
        let (u, p, n) = (
            ints::<B>(&users, device),
            ints::<B>(&pos, device),
            ints::<B>(&neg, device),
        );
        let c = net.content(content);
        let gu = net.gamma_user.val().select(0, u.clone());
        let tu = net.theta_user.val().select(0, u);
        let score = |items: burn::tensor::Tensor<B, 1, burn::tensor::Int>| {
            let gi = net.gamma_item.val().select(0, items.clone());
            let ci = c.clone().select(0, items.clone());
            let bi = net.beta_item.val().select(0, items);
            let s =
                (gu.clone() * gi.clone()).sum_dim(1) + (tu.clone() * ci).sum_dim(1) + bi.clone();
            let l2 = gi.powi_scalar(2).sum() + bi.powi_scalar(2).sum();
            (s, l2)
        };
        let (sp, l2p) = score(p);
        let (sn, l2n) = score(n);
        let l2 = gu.powi_scalar(2).sum() + tu.powi_scalar(2).sum() + l2p + l2n;
        Ok(log_sigmoid(sp - sn).mean().neg() + l2 * (config.train.weight_decay / b as f64))
    };
    // Device 0 trains on the content above; other replicas get their own copy.
    let batch_loss_on = |d: &B::Device| {
        let content = match d == device {
            true => content.clone(),
            false => Content {
                features: content
                    .features
                    .iter()
                    .map(|t| t.clone().to_device(d))
                    .collect(),
                mask: content.mask.clone().to_device(d),
            },
        };
        let d = d.clone();
        move |net: &VbprNet<B>, batch: &[usize], rng: &mut SeededRng| {
            batch_loss(net, batch, rng, &content, &d)
        }
    };
    let validate = |net: &VbprNet<B>| {
        Ok(with_valid_ndcg(
            net.valid().snapshot(&inner_content)?,
            split,
            history,
        ))
    };
    let (model, best) = fit_on(
        device,
        &schedule,
        net,
        optim,
        split.train.len(),
        &mut rng,
        observer,
        batch_loss_on,
        validate,
    )?;
    Ok((model, best))
}

impl Fit for VbprConfig {
    fn modalities(&self) -> &[String] {
        &self.modalities
    }

    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        let modalities = ctx.modalities(&self.modalities, "VBPR")?;
        let (model, _) = train_vbpr::<B>(
            self,
            ctx.split,
            ctx.history,
            &modalities,
            device,
            ctx.observer,
        )?;
        Ok(TrainedModel::Factor(model))
    }
}
