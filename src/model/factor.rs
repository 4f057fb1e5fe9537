//! Matrix factorisation trained with burn: MF with global/user/item biases fitted to ratings
//! (MSE), and BPR-MF ranked with uniformly sampled negatives.
//!
//! Regularisation is L2 on the embeddings (and biases) that take part in each batch, scaled by
//! `weight_decay` — the usual choice for sparse embedding tables: decoupled decay of the whole
//! table at every step would shrink rarely seen items far more than frequent ones.

use std::ops::Range;
use std::sync::Arc;

use burn::module::{AutodiffModule, Module, Param};
use burn::optim::AdamConfig;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::heads::Heads;
use super::training::{
    end_epoch, fit_on, sample_negative, EarlyStopping, EpochState, TrainObserver, TrainingConfig,
};
use super::{take_weight, Fit, FitContext, TrainedModel, UserHistory};
use crate::data::Split;
use crate::device::{int_tensor as ints, read_floats as read};
use crate::error::{Error, Result};
use crate::eval::{evaluate, Target};
use crate::io::WeightMap;
use crate::rng::SeededRng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Squared error on ratings; the model has biases.
    Mse,
    /// Bayesian personalised ranking on (user, positive, negative) triples; no biases.
    Bpr,
}

/// Hyper-parameters of a factor model. Checked by [`FactorConfig::validate`] before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorConfig {
    /// What every trained model shares: dimension, epochs, batch, optimiser, schedule, seed.
    #[serde(flatten)]
    pub train: TrainingConfig,
    /// Standard deviation of the initial factors.
    pub init_std: f64,
    /// How BPR-MF is optimised (MF always uses Adam through burn). Absent in bundles written
    /// before the choice existed, which were all trained with Adam.
    #[serde(default, skip_serializing_if = "Solver::is_adam")]
    pub solver: Solver,
}

/// BPR-MF's optimiser.
///
/// - `Adam`: mini-batches through burn's autodiff on the chosen device (CPU, wgpu, CUDA); the
///   path every other trained model shares.
/// - `Sgd`: Rendle et al.'s per-triple SGD as a native loop on the CPU — the algorithm Cornac's
///   and implicit's Cython loops run. A triple touches three rows of `dim` floats, so autodiff's
///   per-batch graph, kernel launches and a dense optimiser state cost ~10× the arithmetic; this
///   loop does only the arithmetic. Single-threaded, so a seed gives the same model everywhere
///   (Hogwild threads would not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    #[default]
    Adam,
    Sgd,
}

impl Solver {
    fn is_adam(&self) -> bool {
        *self == Solver::Adam
    }
}

impl std::str::FromStr for Solver {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "adam" => Ok(Self::Adam),
            "sgd" => Ok(Self::Sgd),
            other => Err(Error::Config(format!(
                "unknown solver '{other}' (expected adam or sgd)"
            ))),
        }
    }
}

impl FactorConfig {
    pub fn mf_default() -> Self {
        Self {
            init_std: 0.01,
            solver: Solver::Adam,

            train: TrainingConfig {
                dim: 64,
                epochs: 100,
                batch_size: 1024,
                lr: 2e-3,
                weight_decay: 0.05,
                eval_every: 1,
                patience: 5,
                seed: 2026,
                devices: 1,
            },
        }
    }

    /// BPR-MF with the native SGD loop. Chosen by validation NDCG@10 on the ML-100K bench split
    /// (`../shared/bench`, seed 2026): lr ∈ {0.005, 0.01, 0.02, 0.05} × weight_decay ∈ {0.001 …
    /// 0.04}, dim ∈ {64, 128} (0.1978, against 0.1916 for the Adam defaults below).
    pub fn bpr_default() -> Self {
        Self {
            solver: Solver::Sgd,
            train: TrainingConfig {
                lr: 0.01,
                weight_decay: 0.02,
                ..Self::bpr_adam_default().train
            },
            ..Self::bpr_adam_default()
        }
    }

    /// BPR-MF through burn's Adam (any device). Chosen by validation NDCG@10 on ML-100K (seed
    /// 2026) over dim ∈ {64, 128, 256}, lr ∈ {1e-3, 2e-3, 5e-3}, weight_decay ∈ {1e-5 … 1e-2}.
    pub fn bpr_adam_default() -> Self {
        Self {
            init_std: 0.1,
            solver: Solver::Adam,
            train: TrainingConfig {
                dim: 128,
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

    pub fn validate(&self) -> Result<()> {
        self.train.validate("factor model")?;
        if !(self.init_std > 0.0 && self.init_std.is_finite()) {
            return Err(Error::Config("factor model: init_std must be > 0".into()));
        }
        Ok(())
    }
}

/// Trained factors: score(u, i) = global + b_u + b_i + p_u · q_i (biases only for MF).
#[derive(Debug, Clone, PartialEq)]
pub struct FactorModel {
    pub dim: usize,
    pub user_factors: Vec<f32>,
    pub item_factors: ItemVectors,
    pub biases: Option<Biases>,
    /// How a new visitor's user vector is made: `None`, the mean of their history's item vectors
    /// (the fold-in of the ranking layer); else the model's own encoder (see [`VisitorEncoder`]).
    pub encoder: Option<Box<VisitorEncoder>>,
    /// The two-tower model's click and rating heads over `p_u · q_i`, when trained with them;
    /// they never change the ranking score.
    pub heads: Heads,
}

/// A trained encoder that turns a visitor's history into a user vector, scored against the
/// model's item vectors like a training user's. Each event is a mixture of catalog items with
/// weights (one item with weight 1 for a catalog item; an item added in the browser is its
/// neighbours' mixture).
#[derive(Debug, Clone, PartialEq)]
pub enum VisitorEncoder {
    /// SASRec's causal self-attention over the ordered history (the last `max_len` events).
    Sequence(super::sequential::SeqEncoder),
    /// Mult-DAE's encoder over the history as a set (see [`super::autoencoder`]).
    Autoencoder(super::autoencoder::DaeEncoder),
}

impl VisitorEncoder {
    /// The user vector of a history, oldest event first.
    pub fn encode(&self, items: &ItemVectors, events: &[Vec<(u32, f32)>]) -> Result<Vec<f32>> {
        match self {
            VisitorEncoder::Sequence(e) => e.encode(items, events),
            VisitorEncoder::Autoencoder(e) => e.encode(events),
        }
    }

    /// The bundle's tensors of the encoder.
    pub fn weights(&self) -> WeightMap {
        match self {
            VisitorEncoder::Sequence(e) => e.weights(),
            VisitorEncoder::Autoencoder(e) => e.weights(),
        }
    }
}

/// A factor model's item vectors, `[items, dim]` row-major: f32 (trained, or read from an f32
/// or f16 bundle), or int8 with one scale per row, kept as an int8 bundle stores them.
///
/// Why keep int8: a 10⁶-item catalog's 64-d vectors are 68 MB in int8 and 256 MB decoded, and
/// the browser must serve it within twice the bundle's size. Every read goes through the value
/// the decoder would give (`f32::from(q) * scale`, see [`crate::kernels::dot_q8`]), so scores,
/// fold-ins and metrics are bit-identical to those of the decoded copy.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemVectors {
    F32(Vec<f32>),
    Int8 { values: I8Rows, scales: Vec<f32> },
}

/// Int8 values: a range of a shared byte buffer — a bundle's weights file as it was read, so
/// the catalog's rows are not copied out of it (at 10⁶ items that copy was 61 MB of a page's
/// peak memory) — or a buffer of their own.
#[derive(Clone)]
pub struct I8Rows {
    buf: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl I8Rows {
    /// Bytes `range` of `buf`; `None` when the range is outside it.
    pub fn shared(buf: Arc<Vec<u8>>, range: Range<usize>) -> Option<Self> {
        (range.start <= range.end && range.end <= buf.len()).then_some(Self { buf, range })
    }

    pub fn as_slice(&self) -> &[i8] {
        bytemuck::cast_slice(&self.buf[self.range.clone()])
    }
}

impl From<Vec<i8>> for I8Rows {
    fn from(v: Vec<i8>) -> Self {
        let len = v.len();
        Self {
            buf: Arc::new(bytemuck::cast_slice(&v).to_vec()),
            range: 0..len,
        }
    }
}

impl PartialEq for I8Rows {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for I8Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "I8Rows({} values)", self.range.len())
    }
}

impl From<Vec<f32>> for ItemVectors {
    fn from(v: Vec<f32>) -> Self {
        ItemVectors::F32(v)
    }
}

impl ItemVectors {
    /// Rows of width `dim`.
    pub fn rows(&self, dim: usize) -> usize {
        match self {
            ItemVectors::F32(v) => v.len() / dim.max(1),
            ItemVectors::Int8 { scales, .. } => scales.len(),
        }
    }

    /// Row `i` as f32 (borrowed when stored so), `None` past the end.
    pub fn row(&self, i: usize, dim: usize) -> Option<std::borrow::Cow<'_, [f32]>> {
        let range = i.checked_mul(dim)?..(i + 1).checked_mul(dim)?;
        match self {
            ItemVectors::F32(v) => v.get(range).map(Into::into),
            ItemVectors::Int8 { values, scales } => {
                let s = *scales.get(i)?;
                let q = values.as_slice().get(range)?;
                Some(
                    q.iter()
                        .map(|&x| f32::from(x) * s)
                        .collect::<Vec<_>>()
                        .into(),
                )
            }
        }
    }

    /// Writes row `i` as f32 into `out` (`dim` wide); false past the end.
    pub fn row_into(&self, i: usize, dim: usize, out: &mut [f32]) -> bool {
        let Some(range) = i.checked_mul(dim).zip((i + 1).checked_mul(dim)) else {
            return false;
        };
        let range = range.0..range.1;
        match self {
            ItemVectors::F32(v) => match v.get(range) {
                Some(row) if row.len() == out.len() => {
                    out.copy_from_slice(row);
                    true
                }
                _ => false,
            },
            ItemVectors::Int8 { values, scales } => {
                match (values.as_slice().get(range), scales.get(i)) {
                    (Some(q), Some(&s)) if q.len() == out.len() => {
                        out.iter_mut()
                            .zip(q)
                            .for_each(|(o, &x)| *o = f32::from(x) * s);
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    /// `out[r] = row r · p` for every row.
    pub fn matvec(&self, p: &[f32], out: &mut [f32]) {
        match self {
            ItemVectors::F32(v) => crate::kernels::matvec(v, p, out),
            ItemVectors::Int8 { values, scales } => {
                crate::kernels::matvec_q8(values.as_slice(), scales, p, out)
            }
        }
    }

    /// Row `i` · `p` (0 past the end).
    pub fn dot_row(&self, i: usize, p: &[f32]) -> f32 {
        let d = p.len();
        match self {
            ItemVectors::F32(v) => v
                .get(i * d..(i + 1) * d)
                .map_or(0.0, |q| crate::kernels::dot(q, p)),
            ItemVectors::Int8 { values, scales } => values
                .as_slice()
                .get(i * d..(i + 1) * d)
                .zip(scales.get(i))
                .map_or(0.0, |(q, &s)| crate::kernels::dot_q8(q, s, p)),
        }
    }

    /// Every row as f32: a copy (decoded for int8).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            ItemVectors::F32(v) => v.clone(),
            ItemVectors::Int8 { values, scales } => {
                let values = values.as_slice();
                crate::kernels::dequantize_rows(values, scales, values.len() / scales.len().max(1))
            }
        }
    }

    /// Whether every row is `dim` wide.
    pub fn width_is(&self, dim: usize) -> bool {
        match self {
            ItemVectors::F32(v) => dim > 0 && v.len() % dim == 0,
            ItemVectors::Int8 { values, scales } => values.range.len() == scales.len() * dim,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match self {
            ItemVectors::F32(v) => v.len() * 4,
            ItemVectors::Int8 { values, scales } => values.range.len() + scales.len() * 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Biases {
    pub global: f32,
    pub user: Vec<f32>,
    pub item: Vec<f32>,
}

impl FactorModel {
    pub(super) fn score(&self, user: u32, out: &mut [f32]) {
        let d = self.dim;
        let p = &self.user_factors[user as usize * d..(user as usize + 1) * d];
        self.item_factors.matvec(p, out);
        if let Some(b) = &self.biases {
            for (o, bi) in out.iter_mut().zip(&b.item) {
                *o += b.global + b.user[user as usize] + bi;
            }
        }
    }

    pub(super) fn predict(&self, user: u32, item: u32) -> f32 {
        let d = self.dim;
        let p = &self.user_factors[user as usize * d..(user as usize + 1) * d];
        let dot = self.item_factors.dot_row(item as usize, p);
        match &self.biases {
            Some(b) => b.global + b.user[user as usize] + b.item[item as usize] + dot,
            None => dot,
        }
    }

    /// `p_u · q_i`.
    /// `p_u · q_i`; `None` for a user or item outside the model (a serving bundle has no users).
    fn dot(&self, user: u32, item: u32) -> Option<f32> {
        let d = self.dim;
        let start = (user as usize).checked_mul(d)?;
        let p = self.user_factors.get(start..start.checked_add(d)?)?;
        (item as usize)
            .lt(&self.item_factors.rows(d))
            .then(|| self.item_factors.dot_row(item as usize, p))
    }

    /// The rating head's prediction for a training user, when the model has one.
    pub(super) fn head_rating(&self, user: u32, item: u32) -> Option<f32> {
        let r = self.heads.rating.as_ref()?;
        Some(r.rating(user, item, self.dot(user, item)?))
    }

    /// The click head's probability for a training user, when the model has one.
    pub(super) fn click(&self, user: u32, item: u32) -> Option<f32> {
        let c = self.heads.click.as_ref()?;
        Some(c.probability(item, self.dot(user, item)?))
    }

    pub(super) fn weights(&self) -> WeightMap {
        self.weights_with(true)
    }

    /// The weights, with the item vectors decoded to f32 or (`items` false) left out.
    pub(super) fn weights_with(&self, items: bool) -> WeightMap {
        let n_users = self.user_factors.len() / self.dim;
        let n_items = self.item_factors.rows(self.dim);
        let mut w: WeightMap = [(
            "user_factors".into(),
            (vec![n_users, self.dim], self.user_factors.clone()),
        )]
        .into();
        if items {
            w.insert(
                "item_factors".into(),
                (vec![n_items, self.dim], self.item_factors.to_f32()),
            );
        }
        if let Some(b) = &self.biases {
            w.insert("global_bias".into(), (vec![1], vec![b.global]));
            w.insert("user_bias".into(), (vec![n_users], b.user.clone()));
            w.insert("item_bias".into(), (vec![n_items], b.item.clone()));
        }
        if let Some(encoder) = &self.encoder {
            w.extend(encoder.weights());
        }
        self.heads.write(&mut w);
        w
    }

    /// `item_rows`: the item vectors when a bundle keeps them in int8 (else read from `w`).
    pub(super) fn from_weights(
        d: usize,
        n_users: usize,
        n_items: usize,
        w: &mut WeightMap,
        item_rows: Option<ItemVectors>,
    ) -> Result<Self> {
        let biases = if w.contains_key("global_bias") {
            Some(Biases {
                global: take_weight(w, "global_bias", &[1])?[0],
                user: take_weight(w, "user_bias", &[n_users])?,
                item: take_weight(w, "item_bias", &[n_items])?,
            })
        } else {
            None
        };
        Ok(Self {
            user_factors: take_weight(w, "user_factors", &[n_users, d])?,
            item_factors: match item_rows {
                Some(rows) if rows.rows(d) == n_items && rows.width_is(d) => rows,
                Some(_) => {
                    return Err(Error::Bundle(format!(
                        "item_factors: expected [{n_items}, {d}]"
                    )))
                }
                None => take_weight(w, "item_factors", &[n_items, d])?.into(),
            },
            biases,
            heads: Heads::read(w, n_users, n_items)?,
            dim: d,
            encoder: None,
        })
    }
}

impl crate::eval::Scores for FactorModel {
    fn score(&self, user: u32, _items: &[u32], _ratings: &[f32], out: &mut [f32]) {
        FactorModel::score(self, user, out)
    }
    fn predict(&self, user: u32, item: u32) -> Option<f32> {
        match self.biases {
            Some(_) => Some(FactorModel::predict(self, user, item)),
            None => self.head_rating(user, item),
        }
    }
    fn click(&self, user: u32, item: u32) -> Option<f32> {
        FactorModel::click(self, user, item)
    }
}

#[derive(Module, Debug)]
struct FactorNet<B: Backend> {
    user: Param<Tensor<B, 2>>,
    item: Param<Tensor<B, 2>>,
    biases: Option<BiasNet<B>>,
}

#[derive(Module, Debug)]
struct BiasNet<B: Backend> {
    global: Param<Tensor<B, 1>>,
    user: Param<Tensor<B, 1>>,
    item: Param<Tensor<B, 1>>,
}

fn param2<B: Backend>(
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> Param<Tensor<B, 2>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(data, [rows, cols]),
        device,
    ))
}

fn param1<B: Backend>(data: Vec<f32>, device: &B::Device) -> Param<Tensor<B, 1>> {
    let n = data.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(data, [n]), device))
}

impl<B: Backend> FactorNet<B> {
    fn init(
        objective: Objective,
        n_users: usize,
        n_items: usize,
        global: f32,
        c: &FactorConfig,
        device: &B::Device,
    ) -> Self {
        let mut rng = SeededRng::new(c.train.seed);
        let user = param2(
            rng.normal_vec(n_users * c.train.dim, c.init_std),
            n_users,
            c.train.dim,
            device,
        );
        let item = param2(
            rng.normal_vec(n_items * c.train.dim, c.init_std),
            n_items,
            c.train.dim,
            device,
        );
        let biases = (objective == Objective::Mse).then(|| BiasNet {
            global: param1(vec![global], device),
            user: param1(vec![0.0; n_users], device),
            item: param1(vec![0.0; n_items], device),
        });
        Self { user, item, biases }
    }

    /// Scores of (user, item) pairs and the squared L2 norm of what they used, summed.
    fn score_pairs(
        &self,
        users: Tensor<B, 1, Int>,
        items: Tensor<B, 1, Int>,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let p = self.user.val().select(0, users.clone());
        let q = self.item.val().select(0, items.clone());
        let mut l2 = p.clone().powi_scalar(2).sum() + q.clone().powi_scalar(2).sum();
        let mut score = (p * q).sum_dim(1).squeeze_dim::<1>(1);
        if let Some(b) = &self.biases {
            let bu = b.user.val().select(0, users);
            let bi = b.item.val().select(0, items);
            l2 = l2 + bu.clone().powi_scalar(2).sum() + bi.clone().powi_scalar(2).sum();
            score = score + bu + bi + b.global.val();
        }
        (score, l2)
    }

    fn snapshot(&self) -> Result<FactorModel> {
        let dim = self.user.val().dims()[1];
        let biases = match &self.biases {
            Some(b) => Some(Biases {
                global: read(b.global.val())?[0],
                user: read(b.user.val())?,
                item: read(b.item.val())?,
            }),
            None => None,
        };
        Ok(FactorModel {
            dim,
            user_factors: read(self.user.val())?,
            item_factors: read(self.item.val())?.into(),
            biases,
            encoder: None,
            heads: Default::default(),
        })
    }
}

/// Trains MF (MSE) or BPR-MF on `split.train`, early-stopping on validation (RMSE for MSE,
/// NDCG@10 for BPR), and returns the best snapshot with its validation metric.
pub fn train_factor_model<B: AutodiffBackend>(
    objective: Objective,
    config: &FactorConfig,
    split: &Split,
    history: &UserHistory,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    if split.train.is_empty() {
        return Err(Error::Data("no training interactions".into()));
    }
    let ratings: Vec<f32> = match objective {
        Objective::Mse => split
            .train
            .iter()
            .map(|x| {
                x.rating
                    .ok_or_else(|| Error::Data("MF needs ratings on every interaction".into()))
            })
            .collect::<Result<_>>()?,
        Objective::Bpr => Vec::new(),
    };
    let global = if ratings.is_empty() {
        0.0
    } else {
        ratings.iter().sum::<f32>() / ratings.len() as f32
    };
    let net = FactorNet::<B>::init(
        objective,
        split.n_users,
        split.n_items,
        global,
        config,
        device,
    );
    let optim = AdamConfig::new().init::<B, FactorNet<B>>();
    // A different stream from the initialisation, for shuffling and negatives.
    let mut rng = SeededRng::new(config.train.seed ^ 0x5EED_0FBA_7C45);
    let schedule = config.train.schedule(objective == Objective::Bpr);
    let batch_loss =
        |net: &FactorNet<B>, batch: &[usize], rng: &mut SeededRng, device: &B::Device| {
            let b = batch.len();
            let users: Vec<u32> = batch.iter().map(|&i| split.train[i].user).collect();
            let items: Vec<u32> = batch.iter().map(|&i| split.train[i].item).collect();
            let (u, i) = (ints::<B>(&users, device), ints::<B>(&items, device));
            Ok(match objective {
                Objective::Mse => {
                    let target: Vec<f32> = batch.iter().map(|&i| ratings[i]).collect();
                    let target = Tensor::<B, 1>::from_data(TensorData::new(target, [b]), device);
                    let (pred, l2) = net.score_pairs(u, i);
                    (pred - target).powi_scalar(2).mean()
                        + l2 * (config.train.weight_decay / b as f64)
                }
                Objective::Bpr => {
                    let negatives: Vec<u32> = users
                        .iter()
                        .map(|&u| sample_negative(rng, split.n_items, history.user(u).0))
                        .collect();
                    let (pos, l2_pos) = net.score_pairs(u.clone(), i);
                    let (neg, l2_neg) = net.score_pairs(u, ints::<B>(&negatives, device));
                    // The user's factors enter both terms, so their penalty counts twice; the
                    // default weight_decay is tuned with that in mind.
                    log_sigmoid(pos - neg).mean().neg()
                        + (l2_pos + l2_neg) * (config.train.weight_decay / b as f64)
                }
            })
        };
    let batch_loss_on = |device: &B::Device| {
        let device = device.clone();
        move |net: &FactorNet<B>, batch: &[usize], rng: &mut SeededRng| {
            batch_loss(net, batch, rng, &device)
        }
    };
    let validate = |net: &FactorNet<B>| {
        let model = net.valid().snapshot()?;
        let metrics = evaluate(
            &TrainedModel::Factor(model.clone()),
            split,
            history,
            Target::Valid,
        );
        let value = match objective {
            Objective::Mse => metrics.rmse.unwrap_or(f64::NAN),
            Objective::Bpr => metrics.ndcg(10),
        };
        Ok((value, model))
    };
    let (model, value) = fit_on(
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
    Ok((model, value))
}

/// Two distinct rows `a` and `b` (of width `d`) of `m`, mutably (the caller ensures `a ≠ b`).
fn two_rows(m: &mut [f32], d: usize, a: usize, b: usize) -> (&mut [f32], &mut [f32]) {
    assert_ne!(a, b, "two_rows needs two different rows");
    if a < b {
        let (lo, hi) = m.split_at_mut(b * d);
        (&mut lo[a * d..(a + 1) * d], &mut hi[..d])
    } else {
        let (lo, hi) = m.split_at_mut(a * d);
        (&mut hi[..d], &mut lo[b * d..(b + 1) * d])
    }
}

/// The SGD loop's reported loss is the mean over every this-many-th triple: an unbiased estimate
/// for progress and the divergence check (a diverged model's scores are all non-finite), at a
/// sixteenth of the cost of a logarithm per triple — which was a tenth of the epoch.
const LOSS_STRIDE: usize = 16;

/// The SGD loop's user and item factors (f32, row-major).
#[derive(Debug, Clone)]
struct Factors {
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
}

impl Factors {
    fn model(&self, dim: usize) -> FactorModel {
        FactorModel {
            dim,
            user_factors: self.user_factors.clone(),
            item_factors: self.item_factors.clone().into(),
            biases: None,
            encoder: None,
            heads: Default::default(),
        }
    }
}

/// One epoch's SGD updates over drawn (user, positive, negative) triples.
#[derive(Debug, Clone, Copy)]
struct SgdStep {
    lr: f32,
    reg: f32,
    d: usize,
}

impl SgdStep {
    /// Applies every triple in order; returns the estimated mean loss (see [`LOSS_STRIDE`]).
    /// On x86-64 CPUs with AVX2 the same code runs compiled for AVX2 (twice the SIMD width).
    /// Only the width changes — no FMA contraction, each lane's sums in the same order — so
    /// both give bit-identical models (tested).
    fn pass(self, model: &mut Factors, triples: &[(u32, u32, u32)]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.pass_avx2(model, triples) };
        }
        self.pass_portable(model, triples)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn pass_avx2(self, model: &mut Factors, triples: &[(u32, u32, u32)]) -> f64 {
        self.pass_portable(model, triples)
    }

    #[inline(always)]
    fn pass_portable(self, model: &mut Factors, triples: &[(u32, u32, u32)]) -> f64 {
        let SgdStep { lr, reg, d } = self;
        let mut loss = 0f64;
        for (t, &(u, i, j)) in triples.iter().enumerate() {
            let (u, i, j) = (u as usize, i as usize, j as usize);
            let p = &mut model.user_factors[u * d..(u + 1) * d];
            let (qi, qj) = two_rows(&mut model.item_factors, d, i, j);
            let score = crate::kernels::dot_diff(p, qi, qj);
            let z = 1.0 / (1.0 + score.exp()); // σ(−x)
            if t % LOSS_STRIDE == 0 {
                // −ln σ(x) = ln(1 + e^(−x)), on every LOSS_STRIDE-th triple.
                loss += f64::from((-score).exp().ln_1p());
            }
            // Zipped, not indexed: no bounds checks, so the update vectorises.
            for ((pk, qik), qjk) in p.iter_mut().zip(qi.iter_mut()).zip(qj.iter_mut()) {
                let (pu, a, b) = (*pk, *qik, *qjk);
                *pk = pu + lr * (z * (a - b) - reg * pu);
                *qik = a + lr * (z * pu - reg * a);
                *qjk = b + lr * (-z * pu - reg * b);
            }
        }
        loss / triples.len().div_ceil(LOSS_STRIDE).max(1) as f64
    }
}

/// BPR-MF by per-triple SGD on the CPU ([`Solver::Sgd`]): each epoch draws as many (user,
/// positive) pairs as there are training interactions, uniformly with replacement, each with a
/// uniform negative the user has not seen, and applies
/// `p ← p + lr·(σ(−x)(qᵢ − qⱼ) − λp)`, `qᵢ ← qᵢ + lr·(σ(−x)p − λqᵢ)`,
/// `qⱼ ← qⱼ + lr·(−σ(−x)p − λqⱼ)` with `x = p·(qᵢ − qⱼ)`, `λ = weight_decay`. Initial factors
/// are the Adam path's (same seed, same draws); epochs end through the shared
/// [`end_epoch`] (divergence check, validation every `eval_every`, early stopping, progress).
pub fn train_bpr_sgd(
    config: &FactorConfig,
    split: &Split,
    history: &UserHistory,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    if split.train.is_empty() {
        return Err(Error::Data("no training interactions".into()));
    }
    let d = config.train.dim;
    let mut init = SeededRng::new(config.train.seed);
    let mut model = Factors {
        user_factors: init.normal_vec(split.n_users * d, config.init_std),
        item_factors: init.normal_vec(split.n_items * d, config.init_std),
    };
    let mut rng = SeededRng::new(config.train.seed ^ 0x5EED_0FBA_7C45);
    let (lr, reg) = (config.train.lr as f32, config.train.weight_decay as f32);
    let mut stopper = EarlyStopping::new(config.train.patience, true);
    let mut triples: Vec<(u32, u32, u32)> = Vec::with_capacity(split.train.len());
    for epoch in 1..=config.train.epochs {
        // First the epoch's triples, then the updates: the draws are independent of each
        // other, so their random reads (the training pairs, each user's history) overlap in
        // the memory system instead of stalling every update. Same draws, same order.
        triples.clear();
        triples.extend((0..split.train.len()).filter_map(|_| {
            let x = &split.train[rng.below(split.train.len())];
            let j = sample_negative(&mut rng, split.n_items, history.user(x.user).0);
            // A user who saw the whole catalog has no negative: the draw may be the positive.
            (j != x.item).then_some((x.user, x.item, j))
        }));
        let step = SgdStep { lr, reg, d };
        let loss = step.pass(&mut model, &triples);
        let state = EpochState {
            epoch,
            epochs: config.train.epochs,
            eval_every: config.train.eval_every,
            loss,
        };
        let validate = || Ok(super::with_valid_ndcg(model.model(d), split, history));
        if end_epoch(state, &mut stopper, observer, validate)? {
            break;
        }
    }
    stopper
        .into_best()
        .map(|(value, best)| (best, value))
        .ok_or_else(|| Error::Data("validation produced no finite metric".into()))
}

impl FactorConfig {
    /// Trains MF (`Objective::Mse`) or BPR-MF (`Objective::Bpr`): the two share this config, so
    /// the objective comes from the [`super::ModelConfig`] variant.
    pub fn fit_objective<B: AutodiffBackend>(
        &self,
        objective: Objective,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        let (model, _) = match (objective, self.solver) {
            (Objective::Bpr, Solver::Sgd) => {
                self.train.single_device(
                    "BPR-MF's sgd solver (one CPU thread; --solver adam trains data-parallel)",
                )?;
                train_bpr_sgd(self, ctx.split, ctx.history, ctx.observer)?
            }
            _ => train_factor_model::<B>(
                objective,
                self,
                ctx.split,
                ctx.history,
                device,
                ctx.observer,
            )?,
        };
        Ok(TrainedModel::Factor(model))
    }
}

impl Fit for FactorConfig {
    /// As BPR-MF; MF is [`FactorConfig::fit_objective`] with `Objective::Mse`.
    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        self.fit_objective::<B>(Objective::Bpr, ctx, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user whose training history is the whole catalog has no negative: the SGD solver skips
    /// such draws instead of updating an item against itself (that panicked).
    #[test]
    fn sgd_survives_a_user_who_saw_the_whole_catalog() {
        let x = |user, item| crate::data::Interaction {
            user,
            item,
            rating: None,
            timestamp: None,
        };
        let split = Split {
            n_users: 2,
            n_items: 2,
            train: vec![x(0, 0), x(0, 1), x(1, 0)],
            valid: vec![x(1, 1)],
            test: Vec::new(),
            test_excludes_valid: true,
        };
        let history = UserHistory::from_interactions(2, &split.train);
        let mut config = FactorConfig::bpr_default();
        config.train.epochs = 3;
        config.train.dim = 4;
        let (model, _) = train_bpr_sgd(&config, &split, &history, &mut ()).unwrap();
        assert!(model.item_factors.to_f32().iter().all(|v| v.is_finite()));
    }

    /// The AVX2 build of the SGD pass and the portable one give the same bits (on a CPU without
    /// AVX2 both calls run the portable code, and the test still checks the pass moves weights).
    #[test]
    fn sgd_pass_is_bit_identical_across_simd_widths() {
        let (users, items, d) = (5, 9, 19);
        let mut rng = SeededRng::new(3);
        let start = Factors {
            user_factors: rng.normal_vec(users * d, 0.3),
            item_factors: rng.normal_vec(items * d, 0.3),
        };
        let triples: Vec<(u32, u32, u32)> = (0..200)
            .map(|_| {
                let i = rng.below(items) as u32;
                let j = (i + 1 + rng.below(items - 1) as u32) % items as u32;
                (rng.below(users) as u32, i, j)
            })
            .collect();
        let step = SgdStep {
            lr: 0.05,
            reg: 0.01,
            d,
        };
        let (mut a, mut b) = (start.clone(), start.clone());
        let loss_a = step.pass(&mut a, &triples);
        let loss_b = step.pass_portable(&mut b, &triples);
        assert_eq!(loss_a.to_bits(), loss_b.to_bits());
        assert!(a.model(d) == b.model(d), "the SIMD widths disagree");
        assert!(a.model(d) != start.model(d) && loss_a.is_finite() && loss_a > 0.0);
    }
}
