//! Graph recommenders: LightGCN (He et al., 2020) over the user–item interaction graph, and —
//! in the spirit of FREEDOM (Zhou & Shen, 2023) — LightGCN plus a **frozen item–item graph built
//! from content**: each content modality gives a top-k cosine kNN graph, the modality graphs are
//! averaged (the fusion happens at the graph level), and item id embeddings are smoothed over it.
//!
//! Why this shape: on warm-start data the interaction graph carries most of the signal, and
//! content helps most as a prior on *which items should be close* rather than as extra input
//! dimensions (which the hybrid model shows can be memorised). Freezing the content graph keeps
//! it cheap and stable, and it gives items without interactions (cold items) an embedding: the
//! smoothed mean of their content neighbours' embeddings.
//!
//! - users `U = mean_{k=0..L}(Â^k E)_users`, items `I = mean_{k=0..L}(Â^k E)_items + S^m E_items`
//!   with `Â = D^-½ A D^-½` the normalised bipartite adjacency and `S` the content graph.
//! - **Loss**: BPR with one uniform negative, or an exact softmax over the catalog with cosine
//!   scores and a temperature (cold items are not candidates). L2 on the layer-0 embeddings that
//!   take part in each batch, as in LightGCN.
//!
//! Adjacency and content graph are **sparse** on the device ([`Sparse`]: an edge list, one
//! gather and one scatter-add per product, both differentiable in burn), so a propagation costs
//! O(edges · dim) and memory grows with the interactions, not with users × items: the dense
//! `n_users × n_items` adjacency this replaced was 4 GB at 5·10⁴ users × 2·10⁴ items. On the
//! CPU (Flex) it is faster than the dense product already at ML-100K's size. Not measured on a
//! GPU: burn 0.21's cubecl `select_assign` runs one thread per column looping over the edges,
//! which may be slower there than the dense product at small sizes.
//! After training, the final user and item vectors are stored as a [`FactorModel`].

use burn::module::{AutodiffModule, Module, Param};
use burn::optim::AdamConfig;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{IndexingUpdateOp, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::factor::FactorModel;
use super::hybrid::Loss;
use super::training::{
    candidate_bias, fit_on, sample_warm_negative, softmax_loss, TrainObserver, TrainingConfig,
};
use super::{with_valid_ndcg, Fit, FitContext, TrainedModel, UserHistory};
use crate::data::Split;
use crate::device::{
    float_tensor as tensor2, int_tensor as ints, l2_normalize, read_floats as read,
};
use crate::encode::features::Modality;
use crate::error::{Error, Result};
use crate::fuse::init_param;
use crate::rng::SeededRng;

/// Hyper-parameters of [`train_graph`]. With no content modalities it is plain LightGCN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphConfig {
    /// Content modalities whose kNN graphs make the item–item graph (empty: plain LightGCN).
    pub modalities: Vec<String>,
    /// Neighbours per item in each modality's kNN graph.
    pub knn: usize,
    /// Propagation layers over the item–item graph.
    pub item_layers: usize,
    /// Propagation layers over the user–item graph.
    pub layers: usize,
    pub loss: Loss,
    /// Softmax temperature (cosine scores are divided by it).
    pub temperature: f64,
    /// What every trained model shares: dimension, epochs, batch, optimiser, schedule, seed.
    #[serde(flatten)]
    pub train: TrainingConfig,
}

impl GraphConfig {
    /// LightGCN with our defaults (softmax loss: see the README's ablation for BPR).
    pub fn lightgcn_default() -> Self {
        Self {
            modalities: Vec::new(),
            knn: 10,
            item_layers: 1,
            layers: 2,
            loss: Loss::Softmax,
            temperature: 0.1,

            train: TrainingConfig {
                dim: 64,
                epochs: 60,
                batch_size: 1024,
                lr: 5e-3,
                weight_decay: 1e-4,
                eval_every: 2,
                patience: 4,
                seed: 2026,
                devices: 1,
            },
        }
    }

    /// LightGCN plus the content item–item graph (text, tabular and KG modalities).
    pub fn multimodal_default() -> Self {
        Self {
            modalities: vec!["text".into(), "tabular".into(), "kg".into()],
            ..Self::lightgcn_default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("graph model: {why}")));
        self.train.validate("graph model")?;
        if !self.modalities.is_empty() && (self.knn == 0 || self.item_layers == 0) {
            return bad("a content graph needs knn ≥ 1 and item_layers ≥ 1");
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad("temperature must be > 0");
        }
        Ok(())
    }
}

/// A sparse matrix as an edge list (COO): row, column and value of every non-zero.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edges {
    pub n_rows: usize,
    pub n_cols: usize,
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub values: Vec<f32>,
}

impl Edges {
    /// The same matrix transposed.
    pub fn transpose(&self) -> Edges {
        Edges {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            rows: self.cols.clone(),
            cols: self.rows.clone(),
            values: self.values.clone(),
        }
    }

    /// Row-major dense copy (tests and small checks).
    pub fn dense(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.n_rows * self.n_cols];
        for ((&r, &c), &v) in self.rows.iter().zip(&self.cols).zip(&self.values) {
            out[r as usize * self.n_cols + c as usize] += v;
        }
        out
    }

    /// Symmetric normalisation `D_r^-½ M D_c^-½` of a 0/1 pattern given as distinct (row,
    /// column) pairs, with degrees counted over rows and columns of the pattern.
    fn normalised(n_rows: usize, n_cols: usize, pairs: Vec<(u32, u32)>) -> Edges {
        let (mut dr, mut dc) = (vec![0.0f32; n_rows], vec![0.0f32; n_cols]);
        for &(r, c) in &pairs {
            dr[r as usize] += 1.0;
            dc[c as usize] += 1.0;
        }
        let values = pairs
            .iter()
            .map(|&(r, c)| 1.0 / (dr[r as usize] * dc[c as usize]).sqrt())
            .collect();
        let (rows, cols) = pairs.into_iter().unzip();
        Edges {
            n_rows,
            n_cols,
            rows,
            cols,
            values,
        }
    }
}

/// [`Edges`] on a device: `matmul(x)` is `M·x` as a gather of `x`'s rows by column index, a
/// scale by the values and a scatter-add into the output rows — O(edges · dim), differentiable.
#[derive(Clone, Debug)]
struct Sparse<B: Backend> {
    rows: Tensor<B, 1, Int>,
    cols: Tensor<B, 1, Int>,
    values: Tensor<B, 2>,
    n_rows: usize,
}

impl<B: Backend> Sparse<B> {
    fn new(e: &Edges, device: &B::Device) -> Self {
        Sparse {
            rows: ints::<B>(&e.rows, device),
            cols: ints::<B>(&e.cols, device),
            values: tensor2(e.values.clone(), [e.values.len(), 1], device),
            n_rows: e.n_rows,
        }
    }

    fn matmul(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let d = x.dims()[1];
        let device = x.device();
        let gathered = x.select(0, self.cols.clone()) * self.values.clone();
        Tensor::zeros([self.n_rows, d], &device).select_assign(
            0,
            self.rows.clone(),
            gathered,
            IndexingUpdateOp::Add,
        )
    }

    fn inner(&self) -> Sparse<B::InnerBackend>
    where
        B: AutodiffBackend,
    {
        Sparse {
            rows: self.rows.clone().inner(),
            cols: self.cols.clone().inner(),
            values: self.values.clone().inner(),
            n_rows: self.n_rows,
        }
    }
}

/// Top-`k` cosine neighbours of every present item in each modality, each graph symmetrised and
/// normalised (`D^-½ S D^-½`), averaged over modalities: an `n × n` sparse matrix.
pub fn content_graph(modalities: &[&Modality], k: usize) -> Result<Edges> {
    let n = modalities
        .first()
        .map(|m| m.n_items())
        .ok_or_else(|| Error::Config("a content graph needs at least one modality".into()))?;
    let mut fused: std::collections::BTreeMap<(u32, u32), f32> = Default::default();
    for m in modalities {
        if m.n_items() != n {
            return Err(Error::Data("modalities cover different catalogs".into()));
        }
        let unit: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let row = m.row(i);
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                match m.present[i] && norm > 0.0 {
                    true => row.iter().map(|x| x / norm).collect(),
                    false => Vec::new(),
                }
            })
            .collect();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut sims: Vec<(f32, usize)> = Vec::with_capacity(n);
        for i in 0..n {
            if unit[i].is_empty() {
                continue;
            }
            sims.clear();
            for (j, v) in unit.iter().enumerate() {
                if j != i && !v.is_empty() {
                    sims.push((unit[i].iter().zip(v).map(|(a, b)| a * b).sum(), j));
                }
            }
            // Highest similarity first; ties to the lower index, so the graph is deterministic.
            sims.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, j) in sims.iter().take(k) {
                pairs.push((i as u32, j as u32));
                pairs.push((j as u32, i as u32));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let graph = Edges::normalised(n, n, pairs);
        for ((&r, &c), &v) in graph.rows.iter().zip(&graph.cols).zip(&graph.values) {
            *fused.entry((r, c)).or_default() += v / modalities.len() as f32;
        }
    }
    let mut out = Edges {
        n_rows: n,
        n_cols: n,
        ..Default::default()
    };
    for ((r, c), v) in fused {
        out.rows.push(r);
        out.cols.push(c);
        out.values.push(v);
    }
    Ok(out)
}

/// The normalised user–item adjacency `D_u^-½ R D_i^-½` (`n_users × n_items`), from training
/// pairs (duplicates count once; cold items left out).
fn normalised_adjacency(split: &Split, cold: &[bool]) -> Edges {
    let mut pairs: Vec<(u32, u32)> = split
        .train
        .iter()
        .filter(|x| !cold[x.item as usize])
        .map(|x| (x.user, x.item))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    Edges::normalised(split.n_users, split.n_items, pairs)
}

#[derive(Module, Debug)]
struct GraphNet<B: Backend> {
    users: Param<Tensor<B, 2>>,
    items: Param<Tensor<B, 2>>,
    layers: usize,
    item_layers: usize,
    cosine: bool,
}

/// The graphs, constant on the device.
#[derive(Clone)]
struct Graphs<B: Backend> {
    adjacency: Sparse<B>,
    adjacency_t: Sparse<B>,
    content: Option<Sparse<B>>,
}

impl<B: Backend> Graphs<B> {
    fn inner(&self) -> Graphs<B::InnerBackend>
    where
        B: AutodiffBackend,
    {
        Graphs {
            adjacency: self.adjacency.inner(),
            adjacency_t: self.adjacency_t.inner(),
            content: self.content.as_ref().map(Sparse::inner),
        }
    }
}

impl<B: Backend> GraphNet<B> {
    /// Final user and item vectors after propagation.
    fn propagate(&self, g: &Graphs<B>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let (mut u, mut i) = (self.users.val(), self.items.val());
        let (mut su, mut si) = (u.clone(), i.clone());
        for _ in 0..self.layers {
            let nu = g.adjacency.clone().matmul(i.clone());
            let ni = g.adjacency_t.clone().matmul(u);
            (u, i) = (nu, ni);
            su = su + u.clone();
            si = si + i.clone();
        }
        let scale = 1.0 / (self.layers + 1) as f64;
        let (mut users, mut items) = (su.mul_scalar(scale), si.mul_scalar(scale));
        if let Some(s) = &g.content {
            let mut h = self.items.val();
            for _ in 0..self.item_layers {
                h = s.clone().matmul(h);
            }
            items = items + h;
        }
        if self.cosine {
            (users, items) = (l2_normalize(users), l2_normalize(items));
        }
        (users, items)
    }

    fn snapshot(&self, g: &Graphs<B>) -> Result<FactorModel> {
        let (users, items) = self.propagate(g);
        Ok(FactorModel {
            dim: users.dims()[1],
            user_factors: read(users)?,
            item_factors: read(items)?.into(),
            biases: None,
            encoder: None,
            heads: Default::default(),
        })
    }
}

/// Trains a graph model on `split.train` (cold items excluded), early-stopping on validation
/// NDCG@10; returns the best snapshot and its validation NDCG@10.
pub fn train_graph<B: AutodiffBackend>(
    config: &GraphConfig,
    split: &Split,
    history: &UserHistory,
    modalities: &[&Modality],
    cold_items: &[bool],
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<(FactorModel, f64)> {
    config.validate()?;
    let (nu, ni) = (split.n_users, split.n_items);
    if cold_items.len() != ni || modalities.iter().any(|m| m.n_items() != ni) {
        return Err(Error::Data("item features do not cover the catalog".into()));
    }
    let train: Vec<_> = split
        .train
        .iter()
        .filter(|x| !cold_items[x.item as usize])
        .copied()
        .collect();
    if train.is_empty() {
        return Err(Error::Data("no training interactions".into()));
    }
    let adjacency = normalised_adjacency(split, cold_items);
    let adjacency_t = adjacency.transpose();
    // A graph without edges (no item has content) smooths nothing: none, not empty tensors.
    let content = match modalities.is_empty() {
        true => None,
        false => Some(content_graph(modalities, config.knn)?).filter(|c| !c.values.is_empty()),
    };
    let graphs_on = |device: &B::Device| Graphs::<B> {
        adjacency: Sparse::new(&adjacency, device),
        adjacency_t: Sparse::new(&adjacency_t, device),
        content: content.as_ref().map(|c| Sparse::new(c, device)),
    };
    let graphs = graphs_on(device);
    let inner_graphs = graphs.inner();
    let mut rng = SeededRng::new(config.train.seed);
    let net = GraphNet::<B> {
        users: init_param(&mut rng, [nu, config.train.dim], 0.1, device),
        items: init_param(&mut rng, [ni, config.train.dim], 0.1, device),
        layers: config.layers,
        item_layers: config.item_layers,
        cosine: config.loss == Loss::Softmax,
    };
    let optim = AdamConfig::new().init::<B, GraphNet<B>>();
    let mut rng = SeededRng::new(config.train.seed ^ 0x5EED_0FBA_7C45);
    let candidate_bias = candidate_bias::<B>(cold_items, device);
    let schedule = config.train.schedule(true);
    let batch_loss = |net: &GraphNet<B>,
                      batch: &[usize],
                      rng: &mut SeededRng,
                      graphs: &Graphs<B>,
                      candidate_bias: &Tensor<B, 2>,
                      device: &B::Device| {
        let b = batch.len();
        let users: Vec<u32> = batch.iter().map(|&k| train[k].user).collect();
        let targets: Vec<u32> = batch.iter().map(|&k| train[k].item).collect();
        let (all_users, all_items) = net.propagate(graphs);
        let u_idx = ints::<B>(&users, device);
        let t_idx = ints::<B>(&targets, device);
        let u = all_users.select(0, u_idx.clone());
        let mut l2 = net.users.val().select(0, u_idx).powi_scalar(2).sum()
            + net
                .items
                .val()
                .select(0, t_idx.clone())
                .powi_scalar(2)
                .sum();
        let ranking = match config.loss {
            Loss::Softmax => softmax_loss(
                u.matmul(all_items.transpose()),
                t_idx.reshape([b, 1]),
                config.temperature,
                candidate_bias,
            ),
            Loss::Bpr => {
                let negatives: Vec<u32> = users
                    .iter()
                    .map(|&u| sample_warm_negative(rng, history.user(u).0, cold_items))
                    .collect();
                let n_idx = ints::<B>(&negatives, device);
                l2 = l2
                    + net
                        .items
                        .val()
                        .select(0, n_idx.clone())
                        .powi_scalar(2)
                        .sum();
                let pos = (u.clone() * all_items.clone().select(0, t_idx)).sum_dim(1);
                let neg = (u * all_items.select(0, n_idx)).sum_dim(1);
                log_sigmoid(pos - neg).mean().neg()
            }
        };
        Ok(ranking + l2 * (config.train.weight_decay / b as f64))
    };
    // Device 0 trains on the tensors built above; other replicas build their own.
    let batch_loss_on = |d: &B::Device| {
        let (graphs, candidate_bias) = match d == device {
            true => (graphs.clone(), candidate_bias.clone()),
            false => (
                graphs_on(d),
                super::training::candidate_bias::<B>(cold_items, d),
            ),
        };
        let d = d.clone();
        move |net: &GraphNet<B>, batch: &[usize], rng: &mut SeededRng| {
            batch_loss(net, batch, rng, &graphs, &candidate_bias, &d)
        }
    };
    let validate = |net: &GraphNet<B>| {
        Ok(with_valid_ndcg(
            net.valid().snapshot(&inner_graphs)?,
            split,
            history,
        ))
    };
    let (model, best) = fit_on(
        device,
        &schedule,
        net,
        optim,
        train.len(),
        &mut rng,
        observer,
        batch_loss_on,
        validate,
    )?;
    Ok((model, best))
}

impl Fit for GraphConfig {
    fn modalities(&self) -> &[String] {
        &self.modalities
    }

    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        let modalities = ctx.modalities(&self.modalities, "the graph model")?;
        let cold = vec![false; ctx.split.n_items];
        let (model, _) = train_graph::<B>(
            self,
            ctx.split,
            ctx.history,
            &modalities,
            &cold,
            device,
            ctx.observer,
        )?;
        Ok(TrainedModel::Factor(model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modality(rows: &[[f32; 2]], present: &[bool]) -> Modality {
        Modality {
            name: "m".into(),
            dim: 2,
            values: rows.iter().flatten().copied().collect(),
            present: present.to_vec(),
        }
    }

    #[test]
    fn content_graph_by_hand() {
        // Items 0 and 1 point the same way, 2 is orthogonal, 3 is absent.
        let m = modality(
            &[[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [5.0, 0.0]],
            &[true, true, true, false],
        );
        let s = content_graph(&[&m], 1).unwrap().dense();
        let n = 4;
        // kNN (k = 1): 0→1, 1→0, 2→1 (closer to 1 than to 0); symmetrised: 0–1, 1–2.
        // Degrees: 0:1, 1:2, 2:1 → S[0][1] = 1/√2, S[1][2] = 1/√2.
        let half = 1.0 / 2f32.sqrt();
        let expect = [
            [0.0, half, 0.0, 0.0],
            [half, 0.0, half, 0.0],
            [0.0, half, 0.0, 0.0],
            [0.0; 4],
        ];
        for i in 0..n {
            for j in 0..n {
                assert!(
                    (s[i * n + j] - expect[i][j]).abs() < 1e-6,
                    "S[{i}][{j}] = {}",
                    s[i * n + j]
                );
            }
        }
    }

    #[test]
    fn sparse_product_and_its_gradient_match_the_dense_ones() {
        use burn::backend::{Autodiff, Flex};
        type B = Autodiff<Flex>;
        let device = Default::default();
        // A 3 × 4 adjacency with an empty row, normalised; x is 4 × 2.
        let e = Edges::normalised(3, 4, vec![(0, 0), (0, 2), (2, 1), (2, 2), (2, 3)]);
        assert_eq!(e.transpose().transpose(), e);
        let dense = e.dense();
        // Degrees: rows 2, 0, 3; columns 1, 1, 2, 1 → M[0][2] = 1/√(2·2) = 0.5.
        assert!((dense[2] - 0.5).abs() < 1e-7, "{dense:?}");
        let xs: Vec<f32> = (0..8).map(|v| v as f32 * 0.5 - 1.0).collect();
        let run = |sparse: bool| {
            let x = tensor2::<B>(xs.clone(), [4, 2], &device).require_grad();
            let y = match sparse {
                true => Sparse::<B>::new(&e, &device).matmul(x.clone()),
                false => tensor2::<B>(dense.clone(), [3, 4], &device).matmul(x.clone()),
            };
            // A loss that weighs each output differently, so the gradient is not uniform.
            let w = tensor2::<B>(vec![1.0, -2.0, 0.5, 3.0, 2.0, 1.0], [3, 2], &device);
            let grads = (y.clone() * w).sum().backward();
            let g = x.grad(&grads).unwrap();
            (read(y.inner()).unwrap(), read(g).unwrap())
        };
        let ((ys, gs), (yd, gd)) = (run(true), run(false));
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-6);
        assert!(close(&ys, &yd), "{ys:?} vs {yd:?}");
        assert!(close(&gs, &gd), "{gs:?} vs {gd:?}");
        assert_eq!(&ys[2..4], &[0.0, 0.0], "an empty row stays zero");
    }

    #[test]
    fn config_is_checked() {
        let mut c = GraphConfig::multimodal_default();
        c.knn = 0;
        assert!(c.validate().is_err());
        assert!(GraphConfig::lightgcn_default().validate().is_ok());
    }
}
