//! Item-based k-nearest-neighbours. Item–item similarities come from the columns of the training
//! user × item matrix (one matmul on the burn device); each item keeps its `k` most similar
//! items, and a user's score for item i is Σ over history items j of w_j · sim(j, i).

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{take_weight, Fit, FitContext, TrainedModel, UserHistory};
use crate::error::{Error, Result};
use crate::io::WeightMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Similarity {
    Cosine,
    /// Cosine of mean-centred item columns (centred over all users).
    Pearson,
    /// 1 / (1 + Euclidean distance) between item columns.
    Euclidean,
}

impl std::str::FromStr for Similarity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cosine" => Ok(Similarity::Cosine),
            "pearson" => Ok(Similarity::Pearson),
            "euclidean" => Ok(Similarity::Euclidean),
            other => Err(Error::Config(format!(
                "unknown similarity '{other}' (cosine, pearson or euclidean)"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemKnnConfig {
    pub similarity: Similarity,
    /// Neighbours kept per item.
    pub k: usize,
    /// Added to cosine/Pearson denominators: damps similarities built on few co-occurrences.
    pub shrink: f32,
    /// Use 1 for every interaction instead of its rating (the usual choice for implicit data).
    pub binary: bool,
    /// γ: each history entry is weighted `1 + γ·(p − ½)`, `p` its rating's rank percentile
    /// within the user's history ([`rank_weights`]); 0: off. How strongly a user engaged with an
    /// item, relative to their other items (play counts, dwell time) — scale-free, so one heavy
    /// listener's counts do not outweigh everyone else's. EASE fits with the same weights.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rank_weight: f32,
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

/// `1 + γ·(p − ½)` for each entry, `p = (rank − ½) / n` its rating's centred rank percentile
/// among `ratings` (rank 1 for the smallest … n for the largest; tied ratings share their mean
/// rank). Centred, so the weights of any history average exactly 1: a one-item history, or one
/// whose ratings all tie, weighs 1 per item, as without rank weights.
pub fn rank_weights(ratings: &[f32], gamma: f32) -> Vec<f32> {
    let n = ratings.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| ratings[a].total_cmp(&ratings[b]));
    let mut out = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && ratings[order[end]] == ratings[order[start]] {
            end += 1;
        }
        // Ranks start+1 … end share their mean, (start + end + 1) / 2.
        let p = ((start + end) as f32 / 2.0) / n as f32;
        for &i in &order[start..end] {
            out[i] = 1.0 + gamma * (p - 0.5);
        }
        start = end;
    }
    out
}

impl Default for ItemKnnConfig {
    fn default() -> Self {
        Self {
            similarity: Similarity::Cosine,
            k: 100,
            shrink: 10.0,
            binary: true,
            rank_weight: 0.0,
        }
    }
}

impl ItemKnnConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..2.0).contains(&self.rank_weight) {
            return Err(Error::Config(format!(
                "rank_weight must be in [0, 2) so every weight stays positive (got {})",
                self.rank_weight
            )));
        }
        if self.k == 0 || self.shrink < 0.0 || !self.shrink.is_finite() {
            return Err(Error::Config(format!(
                "item-kNN needs k ≥ 1 and a finite shrink ≥ 0 (got k={}, shrink={})",
                self.k, self.shrink
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemKnn {
    pub config: ItemKnnConfig,
    /// `n_items × k` neighbour indices; `u32::MAX` pads rows with fewer than k neighbours.
    pub neighbors: Vec<u32>,
    /// `n_items × k` similarities matching `neighbors`.
    pub similarities: Vec<f32>,
}

/// Computes the item–item similarity matrix on `device` and keeps the top k per item.
pub fn train_item_knn<B: Backend>(
    config: &ItemKnnConfig,
    history: &UserHistory,
    n_items: usize,
    device: &B::Device,
) -> Result<ItemKnn> {
    config.validate()?;
    if config.rank_weight > 0.0 {
        return Err(Error::Config(
            "item-kNN does not train with rank weights (EASE does: --rank-weight)".into(),
        ));
    }
    let n_users = history.n_users();
    let mut dense = vec![0.0f32; n_users * n_items];
    for u in 0..n_users {
        let (items, ratings) = history.user(u as u32);
        for (&i, &r) in items.iter().zip(ratings) {
            dense[u * n_items + i as usize] = if config.binary { 1.0 } else { r };
        }
    }
    let mut x: Tensor<B, 2> = Tensor::from_data(TensorData::new(dense, [n_users, n_items]), device);
    if config.similarity == Similarity::Pearson {
        x = x.clone() - x.mean_dim(0);
    }
    let gram = x.clone().transpose().matmul(x.clone());
    let sq = x.powi_scalar(2).sum_dim(0); // [1, n_items]
    let sim = match config.similarity {
        Similarity::Cosine | Similarity::Pearson => {
            let norms = sq.sqrt();
            let denom = norms.clone().transpose().matmul(norms) + config.shrink;
            gram / denom.clamp_min(1e-12)
        }
        Similarity::Euclidean => {
            let d2 = (sq.clone().transpose() + sq - gram * 2.0).clamp_min(0.0);
            (d2.sqrt() + 1.0).recip()
        }
    };
    let sim = crate::device::read_floats(sim)?;

    let k = config.k.min(n_items.saturating_sub(1)).max(1);
    let mut neighbors = vec![u32::MAX; n_items * k];
    let mut similarities = vec![0.0f32; n_items * k];
    let mut row: Vec<(f32, u32)> = Vec::with_capacity(n_items);
    for i in 0..n_items {
        row.clear();
        row.extend(
            sim[i * n_items..(i + 1) * n_items]
                .iter()
                .enumerate()
                .filter(|&(j, &s)| j != i && s > 0.0 && s.is_finite())
                .map(|(j, &s)| (s, j as u32)),
        );
        // Total order (similarity desc, index asc) so ties resolve the same way everywhere.
        let by_rank = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        crate::kernels::sorted_best(&mut row, k, by_rank);
        for (slot, &(s, j)) in row.iter().enumerate() {
            neighbors[i * k + slot] = j;
            similarities[i * k + slot] = s;
        }
    }
    Ok(ItemKnn {
        config: ItemKnnConfig {
            k,
            ..config.clone()
        },
        neighbors,
        similarities,
    })
}

impl ItemKnn {
    pub(super) fn score(&self, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        let weights = self.event_weights(ratings);
        // Indices come from the model's own training history: always in range.
        let _ = self.score_weighted(items, ratings, &weights, out);
    }

    /// The weight of each event of a history with these `ratings`: [`rank_weights`] when the
    /// model has a rank weight, else 1. Computed over the whole history's events — a caller that
    /// scores part of a history (an explanation's one-event queries) or expands an event into
    /// several entries (an added item's neighbours) passes these per event.
    pub fn event_weights(&self, ratings: &[f32]) -> Vec<f32> {
        match self.config.rank_weight > 0.0 {
            true => rank_weights(ratings, self.config.rank_weight),
            false => vec![1.0; ratings.len()],
        }
    }

    /// Scores for history `items` with `ratings` (ignored when binary) and per-entry `weights`
    /// (which carry [`Self::event_weights`]): `out[i] = Σ_j weight_j · rating_j · sim(j, i)`.
    pub(crate) fn score_weighted(
        &self,
        items: &[u32],
        ratings: &[f32],
        weights: &[f32],
        out: &mut [f32],
    ) -> crate::error::Result<()> {
        out.fill(0.0);
        let k = self.config.k;
        for ((&j, &r), &weight) in items.iter().zip(ratings).zip(weights) {
            let w = weight * if self.config.binary { 1.0 } else { r };
            let row = j as usize * k..(j as usize + 1) * k;
            let (Some(neighbors), Some(sims)) =
                (self.neighbors.get(row.clone()), self.similarities.get(row))
            else {
                return Err(crate::error::Error::Data(format!(
                    "item index {j} is outside the catalog"
                )));
            };
            for (&i, &s) in neighbors.iter().zip(sims) {
                if i == u32::MAX {
                    break;
                }
                out[i as usize] += w * s;
            }
        }
        Ok(())
    }

    pub(super) fn weights(&self) -> WeightMap {
        let n = self.neighbors.len() / self.config.k;
        let shape = vec![n, self.config.k];
        // Neighbour indices go into f32 exactly (< 2^24) except the padding marker, stored as -1.
        let idx = self
            .neighbors
            .iter()
            .map(|&i| if i == u32::MAX { -1.0 } else { i as f32 })
            .collect();
        [
            ("knn.neighbors".into(), (shape.clone(), idx)),
            (
                "knn.similarities".into(),
                (shape, self.similarities.clone()),
            ),
        ]
        .into()
    }

    pub(super) fn from_weights(
        config: &ItemKnnConfig,
        n_items: usize,
        w: &mut WeightMap,
    ) -> Result<Self> {
        config.validate()?;
        let shape = [n_items, config.k];
        let idx = take_weight(w, "knn.neighbors", &shape)?;
        let neighbors = idx
            .iter()
            .map(|&v| match v {
                -1.0 => Ok(u32::MAX),
                v if v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_items => Ok(v as u32),
                v => Err(Error::Bundle(format!("neighbour index {v} out of range"))),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config: config.clone(),
            neighbors,
            similarities: take_weight(w, "knn.similarities", &shape)?,
        })
    }
}

impl Fit for ItemKnnConfig {
    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        Ok(TrainedModel::ItemKnn(train_item_knn::<B>(
            self,
            ctx.history,
            ctx.split.n_items,
            device,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Interaction;
    use burn::backend::Flex;

    fn history(rows: &[(u32, u32)], n_users: usize) -> UserHistory {
        let xs: Vec<Interaction> = rows
            .iter()
            .map(|&(user, item)| Interaction {
                user,
                item,
                rating: Some(5.0),
                timestamp: None,
            })
            .collect();
        UserHistory::from_interactions(n_users, &xs)
    }

    #[test]
    fn cosine_neighbours_by_hand() {
        // Item columns over 3 users: a=(1,1,0), b=(1,1,1), c=(0,0,1).
        // cos(a,b)=2/√6=0.8165, cos(a,c)=0, cos(b,c)=1/√3=0.5774.
        let h = history(&[(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (2, 2)], 3);
        let config = ItemKnnConfig {
            shrink: 0.0,
            k: 2,
            ..Default::default()
        };
        let m = train_item_knn::<Flex>(&config, &h, 3, &Default::default()).unwrap();
        assert_eq!(&m.neighbors[0..2], &[1, u32::MAX]);
        assert_eq!(&m.neighbors[2..4], &[0, 2]);
        assert!((m.similarities[2] - 2.0 / 6f32.sqrt()).abs() < 1e-5);
        assert!((m.similarities[3] - 1.0 / 3f32.sqrt()).abs() < 1e-5);
        // A user who saw only c gets b scored 0.5774 and a scored 0.
        let mut out = [0.0; 3];
        m.score(&[2], &[5.0], &mut out);
        assert!(out[0].abs() < 1e-6 && (out[1] - 1.0 / 3f32.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn euclidean_and_pearson_by_hand() {
        let h = history(&[(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (2, 2)], 3);
        // Euclidean: d(a,b)=1 → 0.5; d(b,c)=√2 → 1/(1+√2)=0.4142; d(a,c)=√3 → 0.3660.
        let config = ItemKnnConfig {
            similarity: Similarity::Euclidean,
            k: 2,
            ..Default::default()
        };
        let m = train_item_knn::<Flex>(&config, &h, 3, &Default::default()).unwrap();
        assert_eq!(&m.neighbors[0..2], &[1, 2]);
        assert!((m.similarities[0] - 0.5).abs() < 1e-5);
        assert!((m.similarities[1] - 1.0 / (1.0 + 3f32.sqrt())).abs() < 1e-5);
        // Pearson: a−mean=(1/3,1/3,−2/3), c−mean=(−1/3,−1/3,2/3): correlation −1, so no
        // neighbour; b is constant, so it correlates with nothing.
        let config = ItemKnnConfig {
            similarity: Similarity::Pearson,
            shrink: 0.0,
            k: 2,
            ..Default::default()
        };
        let m = train_item_knn::<Flex>(&config, &h, 3, &Default::default()).unwrap();
        assert!(
            m.neighbors.iter().all(|&i| i == u32::MAX),
            "{:?} {:?}",
            m.neighbors,
            m.similarities
        );
    }

    #[test]
    fn weights_round_trip_and_bad_index_is_rejected() {
        let h = history(&[(0, 0), (0, 1), (1, 1), (1, 2)], 2);
        let m =
            train_item_knn::<Flex>(&ItemKnnConfig::default(), &h, 3, &Default::default()).unwrap();
        let mut w = m.weights();
        assert_eq!(ItemKnn::from_weights(&m.config, 3, &mut w).unwrap(), m);
        let mut w = m.weights();
        w.get_mut("knn.neighbors").unwrap().1[0] = 7.0;
        assert!(ItemKnn::from_weights(&m.config, 3, &mut w).is_err());
    }

    #[test]
    fn rank_weights_share_tied_ranks_and_weigh_scores() {
        // Ratings 3, 1, 3, 10: ranks 2.5, 1, 2.5, 4 of 4 → p = (rank − ½)/4 = 0.5, 0.125, 0.5,
        // 0.875; the weights average 1.
        let w = rank_weights(&[3.0, 1.0, 3.0, 10.0], 1.0);
        assert_eq!(w, vec![1.0, 0.625, 1.0, 1.375]);
        // Nothing to tell apart (all tied, or one item): weight 1, as without rank weights.
        assert_eq!(rank_weights(&[1.0; 3], 0.5), vec![1.0; 3]);
        assert_eq!(rank_weights(&[7.0], 1.5), vec![1.0]);
        assert!(rank_weights(&[], 1.0).is_empty());
        // Scoring: history {0: rating 1, 1: rating 5}; items 0 and 1 both point at item 2
        // with weight 1, so item 2 scores 0.75 + 1.25 (γ = 1: p = 0.25 and 0.75).
        let m = ItemKnn {
            config: ItemKnnConfig {
                k: 1,
                rank_weight: 1.0,
                ..Default::default()
            },
            neighbors: vec![2, 2, u32::MAX],
            similarities: vec![1.0, 1.0, 0.0],
        };
        let mut out = [0.0; 3];
        m.score(&[0, 1], &[1.0, 5.0], &mut out);
        assert_eq!(out, [0.0, 0.0, 2.0]);
        let bad = ItemKnnConfig {
            rank_weight: 2.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
