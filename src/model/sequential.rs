//! A sequential recommender for visitors: SASRec (Kang & McAuley, 2018), self-attention over the
//! last `max_len` items a user interacted with, in order, predicting the next one.
//!
//! - **Item embeddings** are `id + Σ projected content` (each modality's frozen features through
//!   a learned linear map, masked where an item lacks it): an item never seen in training still
//!   has a representation through its content. The same table is the input embedding and the
//!   output layer (tied, as in SASRec).
//! - **Encoder**: learned positions (counted back from the most recent event, so the last event
//!   always has the same position whatever the history's length), then `blocks` pre-norm
//!   transformer blocks — single-head causal self-attention and a ReLU feed-forward of width
//!   `dim`, each with a residual — and a final layer norm. One head, as SASRec found best on
//!   MovieLens.
//! - **Loss**: full softmax cross-entropy over the catalog (items unseen in training excluded) at
//!   every position of every training window — the catalog is small enough (10³–10⁴ items) for
//!   the exact softmax, which trains SASRec far better than the original one-negative BCE
//!   (Klenitskiy & Vasilev, 2023, "gSASRec"/"SASRec+CE").
//!
//! **Order.** A user's training sequence is their training interactions sorted by timestamp
//! (stable: ties keep file order); without timestamps, the file order. A training user's window
//! is cut from the end of that sequence in pieces of `max_len + 1` items.
//!
//! **Stored as a factor model.** After training, the item table and each training user's vector
//! (the encoder's output at their last training event) make a [`FactorModel`], so scoring,
//! evaluation, bundles, int8 storage and device scoring are those of every factor model. The
//! encoder's weights ride along in [`FactorModel::sequence`]: a visitor's user vector is the
//! encoder run over their history in order ([`SeqEncoder::encode`]) instead of the mean fold-in.
//! Training runs in burn; the encoder that scores is plain `f32` code here, the same on every
//! platform, and a test holds it to burn's forward pass.

use burn::module::{AutodiffModule, Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::optim::AdamWConfig;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::factor::{FactorModel, ItemVectors};
use super::knn::{train_item_knn, ItemKnn, ItemKnnConfig};
use super::training::{candidate_bias, fit_on, TrainObserver, TrainingConfig};
use super::{take_weight, with_valid_ndcg, Fit, FitContext, TrainedModel, UserHistory};
use crate::data::{Interaction, Split};
use crate::device::{float_tensor as tensor, read_floats as read};
use crate::encode::features::Modality;
use crate::error::{Error, Result};
use crate::fuse::{init_param, seeded_linear};
use crate::io::WeightMap;
use crate::kernels::dot;
use crate::rng::SeededRng;

/// Layer norm's ε, in burn's forward and the `f32` encoder alike.
const EPS: f32 = 1e-5;
/// Added to masked attention logits: `exp` of it is exactly 0 in `f32`.
const MASKED: f32 = -1e9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SasRecConfig {
    /// Content modalities added to the id embedding (empty: id only).
    pub modalities: Vec<String>,
    /// The most recent events the encoder reads.
    pub max_len: usize,
    /// Transformer blocks.
    pub blocks: usize,
    /// Dropout on the embeddings and after attention and the feed-forward, in training.
    pub dropout: f64,
    /// What every trained model shares: dimension, epochs, batch, optimiser, schedule, seed.
    #[serde(flatten)]
    pub train: TrainingConfig,
}

impl Default for SasRecConfig {
    fn default() -> Self {
        Self {
            modalities: vec!["text".into(), "tabular".into(), "kg".into()],
            max_len: 50,
            blocks: 2,
            dropout: 0.2,
            // ML-100K, leave-last-out, validation NDCG@10 (id only): lr 1e-3 reached 0.058 in
            // 10 epochs, 5e-3 0.095 at epoch 20 and then overfitted — hence frequent checks.
            train: TrainingConfig {
                dim: 64,
                epochs: 60,
                batch_size: 128,
                lr: 5e-3,
                weight_decay: 1e-4,
                eval_every: 2,
                patience: 3,
                seed: 2026,
                devices: 1,
            },
        }
    }
}

impl SasRecConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("SASRec: {why}")));
        self.train.validate("SASRec")?;
        if self.max_len == 0 || self.max_len > 1024 {
            return bad("max_len must be in 1..=1024");
        }
        if self.blocks == 0 || self.blocks > 8 {
            return bad("blocks must be in 1..=8");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout must be in [0, 1)");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The encoder that scores: plain f32.

/// A learned affine map `y = x W + b`, `W` stored `[d_in, d_out]` row-major (burn's layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub d_in: usize,
    pub d_out: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Dense {
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.b);
        for (xi, row) in x.iter().zip(self.w.chunks_exact(self.d_out)) {
            out.iter_mut().zip(row).for_each(|(o, w)| *o += xi * w);
        }
    }
}

/// Layer norm over the last dimension (population variance, ε = 1e-5).
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

impl Norm {
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + EPS).sqrt();
        for (((o, v), g), b) in out.iter_mut().zip(x).zip(&self.gamma).zip(&self.beta) {
            *o = (v - mean) * inv * g + b;
        }
    }
}

/// One pre-norm transformer block.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqBlock {
    pub norm1: Norm,
    pub query: Dense,
    pub key: Dense,
    pub value: Dense,
    pub out: Dense,
    pub norm2: Norm,
    pub ff1: Dense,
    pub ff2: Dense,
}

/// The trained encoder of a sequential model: what turns a visitor's ordered history into a user
/// vector, scored against the model's item vectors like any factor model's.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqEncoder {
    pub dim: usize,
    pub max_len: usize,
    /// `[max_len, dim]`: row `max_len − 1` is the most recent event's position.
    pub positions: Vec<f32>,
    pub blocks: Vec<SeqBlock>,
    pub norm: Norm,
}

impl SeqEncoder {
    /// The user vector of a history, oldest event first (only the last `max_len` are read). Each
    /// event is a mixture of catalog items with weights (one item with weight 1 for a catalog
    /// item; an item added in the browser is its neighbours' mixture). An empty history gives
    /// the zero vector (every item scores 0), as the mean fold-in does.
    pub fn encode(&self, items: &ItemVectors, events: &[Vec<(u32, f32)>]) -> Result<Vec<f32>> {
        let d = self.dim;
        let events = &events[events.len().saturating_sub(self.max_len)..];
        let t = events.len();
        if t == 0 {
            return Ok(vec![0.0; d]);
        }
        // Input: each event's (mixed) item vector plus its position.
        let mut x = vec![0.0f32; t * d];
        let mut row = vec![0.0f32; d];
        for (s, event) in events.iter().enumerate() {
            let xs = &mut x[s * d..(s + 1) * d];
            for &(i, w) in event {
                if !items.row_into(i as usize, d, &mut row) {
                    return Err(Error::Data(format!(
                        "item index {i} is outside the catalog"
                    )));
                }
                xs.iter_mut().zip(&row).for_each(|(a, b)| *a += w * b);
            }
            let p = &self.positions[(self.max_len - t + s) * d..(self.max_len - t + s + 1) * d];
            xs.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        let scale = 1.0 / (d as f32).sqrt();
        let (mut h, mut tmp) = (vec![0.0f32; t * d], vec![0.0f32; d]);
        let (mut q, mut k, mut v) = (
            vec![0.0f32; t * d],
            vec![0.0f32; t * d],
            vec![0.0f32; t * d],
        );
        let mut att = vec![0.0f32; t];
        for block in &self.blocks {
            for s in 0..t {
                block
                    .norm1
                    .apply(&x[s * d..(s + 1) * d], &mut h[s * d..(s + 1) * d]);
                let hs = &h[s * d..(s + 1) * d];
                block.query.apply(hs, &mut q[s * d..(s + 1) * d]);
                block.key.apply(hs, &mut k[s * d..(s + 1) * d]);
                block.value.apply(hs, &mut v[s * d..(s + 1) * d]);
            }
            for s in 0..t {
                // Causal: position s attends to 0..=s.
                let qs = &q[s * d..(s + 1) * d];
                for (j, a) in att[..=s].iter_mut().enumerate() {
                    *a = dot(qs, &k[j * d..(j + 1) * d]) * scale;
                }
                let max = att[..=s].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                att[..=s].iter_mut().for_each(|a| {
                    *a = (*a - max).exp();
                    sum += *a;
                });
                let mixed = &mut h[s * d..(s + 1) * d];
                mixed.fill(0.0);
                for (j, a) in att[..=s].iter().enumerate() {
                    let w = a / sum;
                    mixed
                        .iter_mut()
                        .zip(&v[j * d..(j + 1) * d])
                        .for_each(|(m, vj)| *m += w * vj);
                }
            }
            for s in 0..t {
                block.out.apply(&h[s * d..(s + 1) * d], &mut tmp);
                x[s * d..(s + 1) * d]
                    .iter_mut()
                    .zip(&tmp)
                    .for_each(|(a, b)| *a += b);
                block.norm2.apply(&x[s * d..(s + 1) * d], &mut tmp);
                let mut mid = vec![0.0f32; block.ff1.d_out];
                block.ff1.apply(&tmp, &mut mid);
                mid.iter_mut().for_each(|m| *m = m.max(0.0));
                block.ff2.apply(&mid, &mut tmp);
                x[s * d..(s + 1) * d]
                    .iter_mut()
                    .zip(&tmp)
                    .for_each(|(a, b)| *a += b);
            }
        }
        let mut out = vec![0.0f32; d];
        self.norm.apply(&x[(t - 1) * d..t * d], &mut out);
        Ok(out)
    }

    /// The bundle's tensors (prefixed `seq.`).
    pub fn weights(&self) -> WeightMap {
        let mut w = WeightMap::new();
        let d = self.dim;
        w.insert(
            "seq.positions".into(),
            (vec![self.max_len, d], self.positions.clone()),
        );
        let norm = |w: &mut WeightMap, name: &str, n: &Norm| {
            w.insert(
                format!("{name}.gamma"),
                (vec![n.gamma.len()], n.gamma.clone()),
            );
            w.insert(format!("{name}.beta"), (vec![n.beta.len()], n.beta.clone()));
        };
        let dense = |w: &mut WeightMap, name: &str, l: &Dense| {
            w.insert(
                format!("{name}.weight"),
                (vec![l.d_in, l.d_out], l.w.clone()),
            );
            w.insert(format!("{name}.bias"), (vec![l.d_out], l.b.clone()));
        };
        for (i, b) in self.blocks.iter().enumerate() {
            let p = format!("seq.block{i}");
            norm(&mut w, &format!("{p}.norm1"), &b.norm1);
            dense(&mut w, &format!("{p}.query"), &b.query);
            dense(&mut w, &format!("{p}.key"), &b.key);
            dense(&mut w, &format!("{p}.value"), &b.value);
            dense(&mut w, &format!("{p}.out"), &b.out);
            norm(&mut w, &format!("{p}.norm2"), &b.norm2);
            dense(&mut w, &format!("{p}.ff1"), &b.ff1);
            dense(&mut w, &format!("{p}.ff2"), &b.ff2);
        }
        norm(&mut w, "seq.norm", &self.norm);
        w
    }

    /// Takes the encoder of `config` out of a bundle's tensors, checking every shape.
    pub fn from_weights(config: &SasRecConfig, w: &mut WeightMap) -> Result<Self> {
        // A manifest's configuration is input: dim 0 or an absurd max_len is a bad bundle.
        config
            .validate()
            .map_err(|e| Error::Bundle(format!("sequence encoder: {e}")))?;
        let d = config.train.dim;
        let norm = |w: &mut WeightMap, name: &str| -> Result<Norm> {
            Ok(Norm {
                gamma: take_weight(w, &format!("{name}.gamma"), &[d])?,
                beta: take_weight(w, &format!("{name}.beta"), &[d])?,
            })
        };
        let dense = |w: &mut WeightMap, name: &str| -> Result<Dense> {
            Ok(Dense {
                d_in: d,
                d_out: d,
                w: take_weight(w, &format!("{name}.weight"), &[d, d])?,
                b: take_weight(w, &format!("{name}.bias"), &[d])?,
            })
        };
        let positions = take_weight(w, "seq.positions", &[config.max_len, d])?;
        let blocks = (0..config.blocks)
            .map(|i| {
                let p = format!("seq.block{i}");
                Ok(SeqBlock {
                    norm1: norm(w, &format!("{p}.norm1"))?,
                    query: dense(w, &format!("{p}.query"))?,
                    key: dense(w, &format!("{p}.key"))?,
                    value: dense(w, &format!("{p}.value"))?,
                    out: dense(w, &format!("{p}.out"))?,
                    norm2: norm(w, &format!("{p}.norm2"))?,
                    ff1: dense(w, &format!("{p}.ff1"))?,
                    ff2: dense(w, &format!("{p}.ff2"))?,
                })
            })
            .collect::<Result<_>>()?;
        // Bundle tensors are checked finite when read (`store::BundleTensors`).
        Ok(Self {
            dim: d,
            max_len: config.max_len,
            positions,
            blocks,
            norm: norm(w, "seq.norm")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Sequences.

/// Each user's interactions in order: by timestamp where every interaction has one (stable:
/// ties keep the order of `xs`), else in the order of `xs`.
pub fn ordered_interactions(n_users: usize, xs: &[Interaction]) -> Vec<Vec<Interaction>> {
    let timed = xs.iter().all(|x| x.timestamp.is_some());
    let mut rows: Vec<Vec<Interaction>> = vec![Vec::new(); n_users];
    for x in xs {
        if let Some(row) = rows.get_mut(x.user as usize) {
            row.push(*x);
        }
    }
    if timed {
        rows.iter_mut()
            .for_each(|row| row.sort_by_key(|x| x.timestamp));
    }
    rows
}

/// Each user's training items in order (see [`ordered_interactions`]).
pub fn training_sequences(n_users: usize, train: &[Interaction]) -> Vec<Vec<u32>> {
    ordered_interactions(n_users, train)
        .into_iter()
        .map(|row| row.into_iter().map(|x| x.item).collect())
        .collect()
}

/// Training windows: from the end of each sequence, pieces of up to `max_len + 1` items that
/// overlap by one (each item but a sequence's first is a target exactly once).
fn windows(sequences: &[Vec<u32>], max_len: usize) -> Vec<&[u32]> {
    let mut out = Vec::new();
    for s in sequences {
        let mut end = s.len();
        while end >= 2 {
            let start = end.saturating_sub(max_len + 1);
            out.push(&s[start..end]);
            end = start + 1;
            if start == 0 {
                break;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Training in burn.

#[derive(Module, Debug)]
struct NormNet<B: Backend> {
    gamma: Param<Tensor<B, 1>>,
    beta: Param<Tensor<B, 1>>,
}

impl<B: Backend> NormNet<B> {
    fn new(d: usize, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([d], device)),
            beta: Param::from_tensor(Tensor::zeros([d], device)),
        }
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mean = x.clone().mean_dim(2);
        let centred = x - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(2);
        let d = self.gamma.val().dims()[0];
        centred / (var + EPS as f64).sqrt() * self.gamma.val().reshape([1, 1, d])
            + self.beta.val().reshape([1, 1, d])
    }

    fn export(&self) -> Result<Norm> {
        Ok(Norm {
            gamma: read(self.gamma.val())?,
            beta: read(self.beta.val())?,
        })
    }
}

#[derive(Module, Debug)]
struct BlockNet<B: Backend> {
    norm1: NormNet<B>,
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    out: Linear<B>,
    norm2: NormNet<B>,
    ff1: Linear<B>,
    ff2: Linear<B>,
    dropout: Dropout,
}

fn export_dense<B: Backend>(l: &Linear<B>) -> Result<Dense> {
    let [d_in, d_out] = l.weight.val().dims();
    Ok(Dense {
        d_in,
        d_out,
        w: read(l.weight.val())?,
        b: match &l.bias {
            Some(b) => read(b.val())?,
            None => vec![0.0; d_out],
        },
    })
}

impl<B: Backend> BlockNet<B> {
    /// `x` `[b, t, d]`; `mask` `[b, t, t]` (0 or [`MASKED`]).
    fn forward(&self, x: Tensor<B, 3>, mask: Tensor<B, 3>) -> Tensor<B, 3> {
        let d = x.dims()[2];
        let h = self.norm1.forward(x.clone());
        let (q, k, v) = (
            self.query.forward(h.clone()),
            self.key.forward(h.clone()),
            self.value.forward(h),
        );
        let logits = q.matmul(k.swap_dims(1, 2)).div_scalar((d as f64).sqrt()) + mask;
        let mixed = softmax(logits, 2).matmul(v);
        let x = x + self.dropout.forward(self.out.forward(mixed));
        let h = self.norm2.forward(x.clone());
        x + self
            .dropout
            .forward(self.ff2.forward(relu(self.ff1.forward(h))))
    }

    fn export(&self) -> Result<SeqBlock> {
        Ok(SeqBlock {
            norm1: self.norm1.export()?,
            query: export_dense(&self.query)?,
            key: export_dense(&self.key)?,
            value: export_dense(&self.value)?,
            out: export_dense(&self.out)?,
            norm2: self.norm2.export()?,
            ff1: export_dense(&self.ff1)?,
            ff2: export_dense(&self.ff2)?,
        })
    }
}

#[derive(Module, Debug)]
struct SasRecNet<B: Backend> {
    ids: Param<Tensor<B, 2>>,
    projections: Vec<Linear<B>>,
    positions: Param<Tensor<B, 2>>,
    blocks: Vec<BlockNet<B>>,
    norm: NormNet<B>,
    dropout: Dropout,
}

/// Content features `[n, dim_m]` and presence masks `[n, 1]`, and which items have an id
/// embedding (`[n, 1]`, 0 for items unseen in training), constant on the device.
#[derive(Clone)]
struct ContentTensors<B: Backend> {
    features: Vec<(Tensor<B, 2>, Tensor<B, 2>)>,
    warm: Tensor<B, 2>,
}

impl<B: Backend> ContentTensors<B> {
    fn new(modalities: &[&Modality], cold: &[bool], device: &B::Device) -> Self {
        let warm = cold.iter().map(|&c| if c { 0.0 } else { 1.0 }).collect();
        Self {
            warm: tensor(warm, [cold.len(), 1], device),
            features: modalities
                .iter()
                .map(|m| {
                    let n = m.n_items();
                    let mask = m.present.iter().map(|&p| f32::from(u8::from(p))).collect();
                    (
                        tensor(m.values.clone(), [n, m.dim], device),
                        tensor(mask, [n, 1], device),
                    )
                })
                .collect(),
        }
    }
}

impl<B: Backend> SasRecNet<B> {
    /// A fresh network: id embeddings and positions `N(0, 0.1²)`, linear maps uniform, norms 1/0.
    fn new(
        config: &SasRecConfig,
        n_items: usize,
        modalities: &[&Modality],
        rng: &mut SeededRng,
        device: &B::Device,
    ) -> Self {
        let d = config.train.dim;
        let dropout = DropoutConfig::new(config.dropout).init();
        Self {
            ids: init_param(rng, [n_items, d], 0.1, device),
            projections: modalities
                .iter()
                .map(|m| seeded_linear(rng, m.dim, d, false, device))
                .collect(),
            positions: init_param(rng, [config.max_len, d], 0.1, device),
            blocks: (0..config.blocks)
                .map(|_| BlockNet {
                    norm1: NormNet::new(d, device),
                    query: seeded_linear(rng, d, d, true, device),
                    key: seeded_linear(rng, d, d, true, device),
                    value: seeded_linear(rng, d, d, true, device),
                    out: seeded_linear(rng, d, d, true, device),
                    norm2: NormNet::new(d, device),
                    ff1: seeded_linear(rng, d, d, true, device),
                    ff2: seeded_linear(rng, d, d, true, device),
                    dropout: dropout.clone(),
                })
                .collect(),
            norm: NormNet::new(d, device),
            dropout,
        }
    }

    /// The item table `[n_items, d]`: id embedding plus each present modality's projection. An
    /// item unseen in training gets no gradient on its id row, which would stay random noise: it
    /// is its content alone (zero without content).
    fn items(&self, content: &ContentTensors<B>) -> Tensor<B, 2> {
        self.projections.iter().zip(&content.features).fold(
            self.ids.val() * content.warm.clone(),
            |acc, (p, (x, mask))| acc + p.forward(x.clone()) * mask.clone(),
        )
    }

    /// Hidden states `[b, t, d]` of padded windows `inputs` `[b, t]` (padding = `n_items`,
    /// on the left) over the item table `table`.
    fn encode(&self, table: Tensor<B, 2>, inputs: &[u32], b: usize, t: usize) -> Tensor<B, 3> {
        let [n, d] = table.dims();
        let device = table.device();
        let padded = Tensor::cat(vec![table, Tensor::zeros([1, d], &device)], 0);
        let idx = Tensor::<B, 1, Int>::from_ints(
            burn::tensor::TensorData::new(
                inputs.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [b * t],
            ),
            &device,
        );
        let l = self.positions.val().dims()[0];
        let pos = self.positions.val().slice(l - t..l).reshape([1, t, d]);
        let x = padded.select(0, idx).reshape([b, t, d]) + pos;
        let mut x = self.dropout.forward(x);
        // Causal mask plus padded keys.
        let mut mask = vec![0.0f32; b * t * t];
        for r in 0..b {
            for s in 0..t {
                for j in 0..t {
                    if j > s || inputs[r * t + j] as usize == n {
                        mask[(r * t + s) * t + j] = MASKED;
                    }
                }
            }
        }
        let mask = tensor(mask, [b * t, t], &device).reshape([b, t, t]);
        for block in &self.blocks {
            x = block.forward(x, mask.clone());
        }
        self.norm.forward(x)
    }

    fn export_encoder(&self, max_len: usize) -> Result<SeqEncoder> {
        Ok(SeqEncoder {
            dim: self.positions.val().dims()[1],
            max_len,
            positions: read(self.positions.val())?,
            blocks: self
                .blocks
                .iter()
                .map(BlockNet::export)
                .collect::<Result<_>>()?,
            norm: self.norm.export()?,
        })
    }
}

/// The trained model as a factor model: item table, each training user's encoded sequence, the
/// encoder.
fn snapshot<B: Backend>(
    net: &SasRecNet<B>,
    content: &ContentTensors<B>,
    sequences: &[Vec<u32>],
    max_len: usize,
) -> Result<FactorModel> {
    let d = net.positions.val().dims()[1];
    let items: ItemVectors = read(net.items(content))?.into();
    let encoder = net.export_encoder(max_len)?;
    let mut users = Vec::with_capacity(sequences.len() * d);
    for s in sequences {
        let events: Vec<Vec<(u32, f32)>> = s.iter().map(|&i| vec![(i, 1.0)]).collect();
        users.extend(encoder.encode(&items, &events)?);
    }
    Ok(FactorModel {
        dim: d,
        user_factors: users,
        item_factors: items,
        biases: None,
        encoder: Some(Box::new(super::VisitorEncoder::Sequence(encoder))),
        heads: Default::default(),
    })
}

/// Trains SASRec on `split.train` (see the module doc), early-stopping on validation NDCG@10;
/// returns the best snapshot and its validation NDCG@10.
pub fn train_sasrec<B: AutodiffBackend>(
    config: &SasRecConfig,
    split: &Split,
    history: &UserHistory,
    modalities: &[&Modality],
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    let (ni, d, l) = (split.n_items, config.train.dim, config.max_len);
    if modalities.len() != config.modalities.len() || modalities.iter().any(|m| m.n_items() != ni) {
        return Err(Error::Data("item features do not cover the catalog".into()));
    }
    let sequences = training_sequences(split.n_users, &split.train);
    let windows = windows(&sequences, l);
    if windows.is_empty() {
        return Err(Error::Data(
            "SASRec needs a user with at least two training interactions".into(),
        ));
    }
    let mut cold = vec![true; ni];
    split
        .train
        .iter()
        .for_each(|x| cold[x.item as usize] = false);
    // `[n, 1]`: 0 for trained items, −10⁹ for cold ones (not softmax candidates).
    let bias = candidate_bias::<B>(&cold, device).reshape([ni, 1]);
    let content = ContentTensors::<B>::new(modalities, &cold, device);
    let inner_content = ContentTensors::<B::InnerBackend> {
        features: content
            .features
            .iter()
            .map(|(x, m)| (x.clone().inner(), m.clone().inner()))
            .collect(),
        warm: content.warm.clone().inner(),
    };
    let mut rng = SeededRng::new(config.train.seed);
    let net = SasRecNet::<B>::new(config, ni, modalities, &mut rng, device);
    let optim = AdamWConfig::new()
        .with_weight_decay(config.train.weight_decay as f32)
        .init::<B, SasRecNet<B>>();
    let mut rng = SeededRng::new(config.train.seed ^ 0x5A5_2EC0);
    let schedule = config.train.schedule(true);
    let batch_loss = |net: &SasRecNet<B>,
                      batch: &[usize],
                      content: &ContentTensors<B>,
                      bias: &Tensor<B, 2>,
                      device: &B::Device| {
        let b = batch.len();
        let t = batch
            .iter()
            .map(|&w| windows[w].len() - 1)
            .max()
            .unwrap_or(1);
        let mut inputs = vec![ni as u32; b * t];
        // Rows of the `[b·t, d]` hidden states that have a target, and their targets: the loss
        // reads only those (padding is a third of the rows on ML-100K).
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (r, &w) in batch.iter().enumerate() {
            let win = windows[w];
            let pad = t - (win.len() - 1);
            for s in 0..win.len() - 1 {
                inputs[r * t + pad + s] = win[s];
                rows.push((r * t + pad + s) as u32);
                targets.push(win[s + 1] as i64);
            }
        }
        let table = net.items(content);
        let h = net.encode(table.clone(), &inputs, b, t).reshape([b * t, d]);
        let h = h.select(0, crate::device::int_tensor::<B>(&rows, device));
        let r = rows.len();
        // The cold items' −10⁹ bias rides in the matmul as one more column: a broadcast add over
        // the `[r, n]` logits walks them with strided iterators, several times slower.
        let h = Tensor::cat(vec![h, Tensor::ones([r, 1], device)], 1);
        let logits = h.matmul(Tensor::cat(vec![table, bias.clone()], 1).transpose());
        let targets =
            Tensor::<B, 1, Int>::from_ints(burn::tensor::TensorData::new(targets, [r]), device)
                .reshape([r, 1]);
        Ok(log_softmax(logits, 1).gather(1, targets).mean().neg())
    };
    // Device 0 trains on the tensors above; other replicas get their own copies. A replica's
    // shard is a share of the batch's windows, its loss the mean over the shard's positions.
    let batch_loss_on = |dev: &B::Device| {
        let (content, bias) = match dev == device {
            true => (content.clone(), bias.clone()),
            false => (
                ContentTensors {
                    features: content
                        .features
                        .iter()
                        .map(|(x, m)| (x.clone().to_device(dev), m.clone().to_device(dev)))
                        .collect(),
                    warm: content.warm.clone().to_device(dev),
                },
                bias.clone().to_device(dev),
            ),
        };
        let dev = dev.clone();
        move |net: &SasRecNet<B>, batch: &[usize], _: &mut SeededRng| {
            batch_loss(net, batch, &content, &bias, &dev)
        }
    };
    let validate = |net: &SasRecNet<B>| {
        Ok(with_valid_ndcg(
            snapshot(&net.valid(), &inner_content, &sequences, l)?,
            split,
            history,
        ))
    };
    fit_on(
        device,
        &schedule,
        net,
        optim,
        windows.len(),
        &mut rng,
        observer,
        batch_loss_on,
        validate,
    )
}

impl Fit for SasRecConfig {
    fn modalities(&self) -> &[String] {
        &self.modalities
    }

    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        let modalities = ctx.modalities(&self.modalities, "SASRec")?;
        let (model, _) = train_sasrec::<B>(
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

// ---------------------------------------------------------------------------------------------
// The most-recent-item baseline.

/// The baseline every sequential figure is read against: recommend what is most similar (item
/// kNN, cosine over training co-occurrence) to the user's most recent training item alone.
pub struct MostRecentItem {
    knn: ItemKnn,
    last: Vec<Option<u32>>,
}

impl MostRecentItem {
    /// Similarities from the training `history`; each user's last item from their training
    /// sequence.
    pub fn fit(split: &Split, history: &UserHistory) -> Result<Self> {
        Self::with_sequences(
            split,
            history,
            &training_sequences(split.n_users, &split.train),
        )
    }

    /// Similarities from the training `history`; each user's last item from `sequences` (say,
    /// training and validation events, for a visitor's test).
    pub fn with_sequences(
        split: &Split,
        history: &UserHistory,
        sequences: &[Vec<u32>],
    ) -> Result<Self> {
        let knn = train_item_knn::<burn::backend::Flex>(
            &ItemKnnConfig::default(),
            history,
            split.n_items,
            &Default::default(),
        )?;
        let last = sequences.iter().map(|s| s.last().copied()).collect();
        Ok(Self { knn, last })
    }
}

impl crate::eval::Scores for MostRecentItem {
    fn score(&self, user: u32, _items: &[u32], _ratings: &[f32], out: &mut [f32]) {
        match self.last.get(user as usize).copied().flatten() {
            Some(i) => self.knn.score(&[i], &[1.0], out),
            None => out.fill(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_each_target_once() {
        let seqs = vec![(0..7).collect::<Vec<u32>>(), vec![9], vec![3, 4]];
        let w = windows(&seqs, 3);
        assert_eq!(w, vec![&[3u32, 4, 5, 6][..], &[0, 1, 2, 3], &[3, 4]]);
        let targets: usize = w.iter().map(|w| w.len() - 1).sum();
        assert_eq!(targets, 6 + 1);
    }

    #[test]
    fn sequences_follow_timestamps_stably() {
        let x = |user, item, t| Interaction {
            user,
            item,
            rating: None,
            timestamp: Some(t),
        };
        let train = [
            x(0, 5, 30),
            x(0, 1, 10),
            x(1, 2, 7),
            x(0, 3, 10),
            x(0, 4, 20),
        ];
        assert_eq!(
            training_sequences(2, &train),
            vec![vec![1, 3, 4, 5], vec![2]]
        );
        let mut untimed = train;
        untimed[0].timestamp = None;
        assert_eq!(training_sequences(2, &untimed)[0], vec![5, 1, 3, 4]);
    }
    /// burn's batched, padded forward pass (what trains) and the `f32` encoder (what scores)
    /// agree on the last position of every window, with content, padding and two blocks.
    #[test]
    fn the_f32_encoder_is_burns_forward_pass() {
        use burn::backend::Flex;
        let device = Default::default();
        let (n, d) = (7usize, 8usize);
        let mut rng = SeededRng::new(3);
        let text = Modality {
            name: "text".into(),
            dim: 5,
            values: rng.normal_vec(n * 5, 1.0),
            present: vec![true, true, false, true, true, true, false],
        };
        let config = SasRecConfig {
            modalities: vec!["text".into()],
            max_len: 4,
            blocks: 2,
            dropout: 0.3,
            train: TrainingConfig {
                dim: d,
                ..SasRecConfig::default().train
            },
        };
        let net = SasRecNet::<Flex>::new(&config, n, &[&text], &mut rng, &device);
        let content = ContentTensors::<Flex>::new(&[&text], &[false; 7], &device);
        let table = net.items(&content);
        let pad = n as u32;
        // Three windows of 4 positions: full, padded by two, padded by three.
        let inputs = [3, 1, 6, 2, pad, pad, 5, 5, pad, pad, pad, 0];
        let hidden = read(net.encode(table.clone(), &inputs, 3, 4)).unwrap();
        let encoder = net.export_encoder(config.max_len).unwrap();
        let items: ItemVectors = read(table).unwrap().into();
        for (r, window) in inputs.chunks(4).enumerate() {
            let events: Vec<Vec<(u32, f32)>> = window
                .iter()
                .filter(|&&i| i != pad)
                .map(|&i| vec![(i, 1.0)])
                .collect();
            let ours = encoder.encode(&items, &events).unwrap();
            let theirs = &hidden[(r * 4 + 3) * d..(r * 4 + 4) * d];
            for (a, b) in ours.iter().zip(theirs) {
                assert!((a - b).abs() < 1e-4, "window {r}: {ours:?} vs {theirs:?}");
            }
        }
        // Order matters, and only the last `max_len` events are read.
        let e =
            |xs: &[u32]| -> Vec<Vec<(u32, f32)>> { xs.iter().map(|&i| vec![(i, 1.0)]).collect() };
        let a = encoder.encode(&items, &e(&[3, 1, 6, 2])).unwrap();
        assert_ne!(a, encoder.encode(&items, &e(&[2, 6, 1, 3])).unwrap());
        assert_eq!(a, encoder.encode(&items, &e(&[4, 4, 3, 1, 6, 2])).unwrap());
        assert_eq!(encoder.encode(&items, &[]).unwrap(), vec![0.0; d]);
        assert!(encoder.encode(&items, &e(&[9])).is_err());
        // The bundle's tensors give the same encoder back.
        let mut w = encoder.weights();
        assert_eq!(SeqEncoder::from_weights(&config, &mut w).unwrap(), encoder);
        assert!(w.is_empty());
    }
}
