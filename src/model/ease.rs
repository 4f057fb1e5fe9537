//! EASE (Steck, 2019) and its content-augmented form (in the spirit of Jeunen et al.'s
//! side-information EASE): a closed-form item–item model
//! `B = I − P·diag(1/diag(P))` with `P = (XᵀX + α·Σ_m F_m F_mᵀ / M + λI)⁻¹`, where `X` is the
//! binary user × item training matrix and each `F_m` holds one modality's L2-normalised item
//! features (rows of absent items are zero — they add nothing, they are not imputed).
//!
//! Why: adding `α·F Fᵀ` is exactly stacking `√α·Fᵀ` under `X` as pseudo-users whose "history" is a
//! content feature — content becomes co-occurrence evidence, weighed against real co-occurrences
//! by one validated scalar. There is no gradient descent, so no seed: the model is deterministic.
//!
//! Two options, both off by default (plain EASE), both chosen on validation:
//! - **DLAE** (`dropout` p > 0; Steck 2020, "Autoencoders that don't overfit towards the
//!   identity"): the closed-form linear autoencoder trained under dropout p, which regularises
//!   each item by `Λᵢ = p/(1−p)·cᵢ + λ` (cᵢ its training count — popular items are damped more)
//!   instead of forcing a zero diagonal: `B = I − P·diag(Λ)` with `P = (G + diag(Λ))⁻¹`. Its
//!   diagonal only ever scores items already in the history, which are never recommended.
//! - **Order-weighted co-occurrence** (`order_weight` γ > 0): a user's training items `k`
//!   positions apart in time add `γ·exp(−k/window)` to their co-occurrence, so items consumed
//!   together count more than items consumed months apart — the position-decayed item–item
//!   weights of SLIST (Choi et al., 2021), here in the Gram matrix. The kernel `exp(−|a−b|/w)`
//!   over positions is positive semi-definite, so the Gram matrix stays positive definite; its
//!   k = 0 term adds γ·cᵢ to the diagonal, so part of its effect is a per-item ridge like DLAE's.
//!   It needs a timestamp on every training interaction.
//! - **Rank weights** (`rank_weight` γ): each training row weighted `1 + γ·(p − ½)` by its
//!   rating's rank within the user's history (play counts; [`super::knn::rank_weights`]), in
//!   the Gram matrix and when scoring.
//!
//! On the ML-100K bench split both lift validation NDCG@10 (README, "Same split, same scorer").
//!
//! The model is stored as an item–item [`ItemKnn`] (each item's `k` largest-magnitude weights),
//! so scoring, bundles and the browser path are shared with item-kNN.

use faer::linalg::matmul::triangular::BlockStructure;
use faer::Mat;
use serde::{Deserialize, Serialize};

use super::knn::{ItemKnn, ItemKnnConfig, Similarity};
use super::{Fit, FitContext, TrainedModel, UserHistory};
use crate::encode::features::Modality;
use crate::error::{Error, Result};
use burn::tensor::backend::AutodiffBackend;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EaseConfig {
    /// L2 regularisation λ on the item–item weights.
    pub lambda: f64,
    /// Content modalities whose Gram matrices are added (empty: plain EASE).
    pub modalities: Vec<String>,
    /// α, the weight of the content Gram matrix relative to co-occurrence counts.
    pub content_weight: f64,
    /// Weights kept per item in the stored model.
    pub k: usize,
    /// 0: the exact dense model (an `n × n` inverse). K > 0: each item's weights are fitted on
    /// its K strongest co-occurring items only ([`super::sparse_ease`]) — for 10⁵–10⁶ items.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub candidates: usize,
    /// DLAE's dropout probability p ∈ [0, 1); 0: EASE's zero-diagonal constraint (module docs).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub dropout: f64,
    /// γ ≥ 0, the weight of the order-weighted co-occurrence; 0: none (module docs).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub order_weight: f64,
    /// γ of [`super::knn::rank_weights`]: each training row weighted by its rating's rank within
    /// the user's history, in the Gram matrix and when scoring; 0: binary rows.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub rank_weight: f64,
    /// The order kernel's window in positions (`exp(−k/window)`).
    #[serde(
        default = "default_order_window",
        skip_serializing_if = "is_default_order_window"
    )]
    pub order_window: f64,
}

fn is_zero(x: &usize) -> bool {
    *x == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn default_order_window() -> f64 {
    10.0
}

fn is_default_order_window(x: &f64) -> bool {
    *x == default_order_window()
}

impl EaseConfig {
    /// Plain EASE; λ chosen on validation NDCG@10 (ML-100K, seed 2026) over {100, 200, 300, 500}.
    pub fn plain_default() -> Self {
        Self {
            lambda: 200.0,
            modalities: Vec::new(),
            content_weight: 0.0,
            k: 400,
            candidates: 0,
            dropout: 0.0,
            order_weight: 0.0,
            rank_weight: 0.0,
            order_window: default_order_window(),
        }
    }

    /// EASE with MiniLM text and tabular content. Modalities (each alone, text+KG, text+tabular,
    /// all four), α ∈ {5…200} and λ ∈ {150, 250, 350} chosen on validation NDCG@10 (ML-100K, seed
    /// 2026); the differences between content choices on validation are small (±0.002).
    pub fn multimodal_default() -> Self {
        Self {
            lambda: 350.0,
            modalities: vec!["text".into(), "tabular".into()],
            content_weight: 20.0,
            k: 400,
            candidates: 0,
            dropout: 0.0,
            order_weight: 0.0,
            rank_weight: 0.0,
            order_window: default_order_window(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.lambda > 0.0 && self.content_weight >= 0.0 && self.k > 0) {
            return Err(Error::Config(
                "EASE needs lambda > 0, content_weight ≥ 0 and k ≥ 1".into(),
            ));
        }
        if !((0.0..1.0).contains(&self.dropout)
            && self.order_weight >= 0.0
            && self.order_weight.is_finite()
            && self.order_window > 0.0
            && self.order_window.is_finite())
        {
            return Err(Error::Config(format!(
                "EASE needs dropout in [0, 1) (got {}), order_weight ≥ 0 (got {}) and \
                 order_window > 0 (got {})",
                self.dropout, self.order_weight, self.order_window
            )));
        }
        // Checked as stored (f32): 1.99999999 would round to 2 and fail to load.
        if !(0.0..2.0).contains(&(self.rank_weight as f32)) {
            return Err(Error::Config(format!(
                "EASE needs rank_weight in [0, 2), so every weight stays positive (got {})",
                self.rank_weight
            )));
        }
        if self.candidates > 0
            && (self.dropout > 0.0 || self.order_weight > 0.0 || self.rank_weight > 0.0)
        {
            return Err(Error::Config(
                "sparse EASE (candidates > 0) takes no dropout, order_weight or rank_weight yet"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The lower triangle of the Gram matrix `XᵀX + γ·K + α·Σ_m F_m F_mᵀ / M + diag(Λ)` (`n × n`,
/// f32; the strict upper triangle is left as zeros and never read), and `Λ`: λ for EASE,
/// `p/(1−p)·cᵢ + λ` for DLAE (cᵢ = (XᵀX)ᵢᵢ). `X` is binary, or rank-weighted rows with
/// `rank_weight`. `K` is the order kernel over `order` (each user's training items in time
/// order; empty when `order_weight` is 0). Binary co-occurrence counts are exact in f32 up to
/// 2²⁴ users; the content products run through faer's matrix multiply.
fn gram(
    config: &EaseConfig,
    history: &UserHistory,
    order: &[Vec<u32>],
    n: usize,
    modalities: &[&Modality],
) -> (Mat<f32>, Vec<f32>) {
    let mut g = Mat::<f32>::zeros(n, n);
    let mut items: Vec<(usize, f32)> = Vec::new();
    let gamma = config.rank_weight as f32;
    for u in 0..history.n_users() {
        let (ids, ratings) = history.user(u as u32);
        items.clear();
        match gamma > 0.0 {
            true => items.extend(
                ids.iter()
                    .zip(super::knn::rank_weights(ratings, gamma))
                    .map(|(&i, w)| (i as usize, w)),
            ),
            false => items.extend(ids.iter().map(|&i| (i as usize, 1.0))),
        }
        items.sort_unstable_by_key(|x| x.0);
        for (k, &(b, wb)) in items.iter().enumerate() {
            // Column b, rows a ≥ b: contiguous in faer's column-major storage.
            let mut col = g.col_mut(b);
            for &(a, wa) in &items[k..] {
                col[a] += wa * wb;
            }
        }
    }
    let keep = config.dropout / (1.0 - config.dropout);
    let lambda: Vec<f32> = (0..n)
        .map(|i| (keep * g[(i, i)] as f64 + config.lambda) as f32)
        .collect();
    if config.order_weight > 0.0 {
        let longest = order.iter().map(Vec::len).max().unwrap_or(0);
        let decay: Vec<f32> = (0..longest)
            .map(|k| (config.order_weight * (-(k as f64) / config.order_window).exp()) as f32)
            .collect();
        for seq in order {
            for (x, &a) in seq.iter().enumerate() {
                for (y, &b) in seq[x..].iter().enumerate() {
                    let (hi, lo) = (a.max(b) as usize, a.min(b) as usize);
                    g[(hi, lo)] += decay[y];
                }
            }
        }
    }
    if config.content_weight > 0.0 {
        let w = (config.content_weight / modalities.len() as f64) as f32;
        for m in modalities {
            let norms: Vec<f32> = (0..n)
                .map(|i| match m.present[i] {
                    true => crate::kernels::dot(m.row(i), m.row(i)).sqrt(),
                    false => 0.0,
                })
                .collect();
            let unit = Mat::<f32>::from_fn(n, m.dim, |i, j| match norms[i] > 0.0 {
                true => m.row(i)[j] / norms[i],
                false => 0.0,
            });
            faer::linalg::matmul::triangular::matmul(
                g.as_mut(),
                BlockStructure::TriangularLower,
                faer::Accum::Add,
                unit.as_ref(),
                BlockStructure::Rectangular,
                unit.transpose(),
                BlockStructure::Rectangular,
                w,
                faer::get_global_parallelism(),
            );
        }
    }
    for (i, l) in lambda.iter().enumerate() {
        g[(i, i)] += l;
    }
    (g, lambda)
}

/// `P = A⁻¹` for a symmetric positive-definite `A` given by its lower triangle, returned as the
/// lower triangle of `P`: Cholesky `A = LLᵀ` in place, `L⁻¹` into a second matrix, then
/// `P = L⁻ᵀL⁻¹` back into the first. Peak memory: two `n × n` f32 matrices (the Gram matrix and
/// `L⁻¹`) — what the numpy reference's `inv` needs too, at half the flops of an LU inverse.
fn spd_inverse(mut a: Mat<f32>) -> Result<Mat<f32>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    let n = a.nrows();
    let par = faer::get_global_parallelism();
    let mut buf = MemBuffer::new(factor::cholesky_in_place_scratch::<f32>(
        n,
        par,
        Default::default(),
    ));
    factor::cholesky_in_place(
        a.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|_| {
        Error::Data("EASE: the Gram matrix is not positive definite (raise lambda)".into())
    })?;
    let mut l_inv = Mat::<f32>::zeros(n, n);
    faer::linalg::triangular_inverse::invert_lower_triangular(l_inv.as_mut(), a.as_ref(), par);
    faer::linalg::matmul::triangular::matmul(
        a.as_mut(),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        l_inv.transpose(),
        BlockStructure::TriangularUpper,
        l_inv.as_ref(),
        BlockStructure::TriangularLower,
        1.0,
        par,
    );
    Ok(a)
}

/// Fits EASE (with content when `config.modalities` is non-empty) on the training history.
pub fn train_ease(
    config: &EaseConfig,
    history: &UserHistory,
    n_items: usize,
    modalities: &[&Modality],
) -> Result<ItemKnn> {
    train_ease_ordered(config, history, &[], n_items, modalities)
}

/// [`train_ease`] with each user's training items in time order (`order`, indexed by user),
/// which `config.order_weight > 0` needs.
pub fn train_ease_ordered(
    config: &EaseConfig,
    history: &UserHistory,
    order: &[Vec<u32>],
    n_items: usize,
    modalities: &[&Modality],
) -> Result<ItemKnn> {
    config.validate()?;
    if config.order_weight > 0.0 && order.is_empty() {
        return Err(Error::Config(
            "EASE's order weight needs each user's training items in time order".into(),
        ));
    }
    if order.iter().flatten().any(|&i| i as usize >= n_items) {
        return Err(Error::Data("an ordered item is outside the catalog".into()));
    }
    if modalities.len() != config.modalities.len()
        || modalities.iter().any(|m| m.n_items() != n_items)
    {
        return Err(Error::Data("item features do not cover the catalog".into()));
    }
    let n = n_items;
    if config.candidates > 0 {
        if !modalities.is_empty() {
            return Err(Error::Config(
                "sparse EASE (candidates > 0) takes no content modalities yet".into(),
            ));
        }
        return super::sparse_ease::train_local_ease(
            history,
            n,
            config.lambda,
            config.candidates,
            config.k,
        );
    }
    let (g, lambda) = gram(config, history, order, n, modalities);
    // Weights that overflow f32 (a λ, α or γ of 1e39) would give NaN weights without an error.
    if (0..n).any(|j| g.col(j).iter().skip(j).any(|x| !x.is_finite())) {
        return Err(Error::Config(
            "EASE: the Gram matrix is not finite (lambda, content_weight or order_weight too \
             large for f32)"
                .into(),
        ));
    }
    let p = spd_inverse(g)?;
    let diag: Vec<f32> = (0..n).map(|i| p[(i, i)]).collect();
    // EASE: B[j][i] = −P[j][i] / P[i][i]; DLAE: B[j][i] = −P[j][i]·Λ[i] (module docs).
    let dlae = config.dropout > 0.0;
    let weight = |pji: f32, i: usize| match dlae {
        true => -pji * lambda[i],
        false => -pji / diag[i],
    };
    let k = config.k.min(n.saturating_sub(1)).max(1);
    let mut neighbors = Vec::with_capacity(n * k);
    let mut similarities = Vec::with_capacity(n * k);
    let mut row: Vec<(f32, u32)> = Vec::with_capacity(n);
    let by_magnitude =
        |a: &(f32, u32), b: &(f32, u32)| b.0.abs().total_cmp(&a.0.abs()).then(a.1.cmp(&b.1));
    for j in 0..n {
        // B[j][i] for i ≠ j: the weight of history item j for item i. Only P's lower triangle
        // is stored: P[j][i] is row j left of the diagonal, column j below.
        row.clear();
        row.extend((0..j).map(|i| (weight(p[(j, i)], i), i as u32)));
        let col = p.col(j);
        row.extend((j + 1..n).map(|i| (weight(col[i], i), i as u32)));
        crate::kernels::sorted_best(&mut row, k, by_magnitude);
        for &(w, i) in row.iter() {
            neighbors.push(i);
            similarities.push(w);
        }
        for _ in row.len().min(k)..k {
            neighbors.push(u32::MAX);
            similarities.push(0.0);
        }
    }
    Ok(ItemKnn {
        config: stored_config(k, config.rank_weight),
        neighbors,
        similarities,
    })
}

/// Each user's training items by timestamp (a stable sort over the split's training rows, whose
/// order within a user a random split has shuffled with its seed: equal timestamps keep that
/// order), each item once (its first place). An interaction without a timestamp is a
/// configuration error — an order made up from file order would add noise silently.
pub fn time_ordered(n_users: usize, train: &[crate::data::Interaction]) -> Result<Vec<Vec<u32>>> {
    if train.iter().any(|x| x.timestamp.is_none()) {
        return Err(Error::Config(
            "EASE's order weight needs a timestamp on every training interaction".into(),
        ));
    }
    Ok(super::sequential::ordered_interactions(n_users, train)
        .into_iter()
        .map(|row| {
            let mut seen = std::collections::HashSet::new();
            row.into_iter()
                .map(|x| x.item)
                .filter(|&i| seen.insert(i))
                .collect()
        })
        .collect())
}

/// The item–item configuration an EASE model is stored and scored with.
pub(crate) fn stored_config(k: usize, rank_weight: f64) -> ItemKnnConfig {
    ItemKnnConfig {
        rank_weight: rank_weight as f32,
        similarity: Similarity::Cosine,
        k,
        shrink: 0.0,
        binary: true,
    }
}

impl Fit for EaseConfig {
    fn modalities(&self) -> &[String] {
        &self.modalities
    }

    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        _device: &B::Device,
    ) -> Result<TrainedModel> {
        let modalities = ctx.modalities(&self.modalities, "EASE with content")?;
        let order = match self.order_weight > 0.0 {
            true => time_ordered(ctx.split.n_users, &ctx.split.train)?,
            false => Vec::new(),
        };
        Ok(TrainedModel::ItemKnn(train_ease_ordered(
            self,
            ctx.history,
            &order,
            ctx.split.n_items,
            &modalities,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spd_inverse_by_hand() {
        // [[4, 2], [2, 3]]⁻¹ = 1/8 · [[3, −2], [−2, 4]].
        // Only the lower triangles are read and written.
        let m =
            |v: [f32; 4]| Mat::<f32>::from_fn(2, 2, |i, j| if i >= j { v[i * 2 + j] } else { 0.0 });
        let inv = spd_inverse(m([4.0, 2.0, 2.0, 3.0])).unwrap();
        let expect = [3.0 / 8.0, 0.0, -0.25, 0.5];
        assert!(
            [0, 2, 3]
                .iter()
                .all(|&k| (inv[(k / 2, k % 2)] - expect[k]).abs() < 1e-6),
            "{inv:?}"
        );
        assert!(spd_inverse(m([1.0, 2.0, 2.0, 1.0])).is_err());
    }

    #[test]
    fn ease_weights_by_hand() {
        // Two users: {0, 1} and {1, 2}. G = XᵀX + λI with λ = 1:
        // [[2,1,0],[1,3,1],[0,1,2]]; B[j][i] = −P[j][i]/P[i][i].
        let history = UserHistory::from_interactions(
            2,
            &[(0, 0), (0, 1), (1, 1), (1, 2)].map(|(user, item)| crate::data::Interaction {
                user,
                item,
                rating: None,
                timestamp: None,
            }),
        );
        let config = EaseConfig {
            lambda: 1.0,
            k: 2,
            ..EaseConfig::plain_default()
        };
        let model = train_ease(&config, &history, 3, &[]).unwrap();
        // P = G⁻¹ = 1/8 · [[5,−2,1],[−2,4,−2],[1,−2,5]]: B[0][1] = 2/4 = 0.5,
        // B[0][2] = −1/5 = −0.2, B[1][0] = 2/5 = 0.4.
        let mut out = vec![0.0; 3];
        model.score(&[0], &[1.0], &mut out);
        assert!(
            (out[1] - 0.5).abs() < 1e-6 && (out[2] + 0.2).abs() < 1e-6,
            "{out:?}"
        );
        model.score(&[1], &[1.0], &mut out);
        assert!(
            (out[0] - 0.4).abs() < 1e-6 && (out[2] - 0.4).abs() < 1e-6,
            "{out:?}"
        );
    }

    fn interactions(pairs: &[(u32, u32, Option<i64>)]) -> Vec<crate::data::Interaction> {
        pairs
            .iter()
            .map(|&(user, item, timestamp)| crate::data::Interaction {
                user,
                item,
                rating: None,
                timestamp,
            })
            .collect()
    }

    #[test]
    fn dlae_weights_by_hand() {
        // Users {0, 1} and {1, 2}; counts c = [1, 2, 1]; p = 0.5 so p/(1−p) = 1, λ = 1:
        // Λ = c + 1 = [2, 3, 2] and G + diag(Λ) = [[3,1,0],[1,5,1],[0,1,3]], whose inverse is
        // 1/39 · [[14,−3,1],[−3,9,−3],[1,−3,14]]. B[j][i] = −P[j][i]·Λ[i]:
        // B[0][1] = 9/39, B[0][2] = −2/39, B[1][0] = B[1][2] = 6/39.
        let xs = interactions(&[(0, 0, None), (0, 1, None), (1, 1, None), (1, 2, None)]);
        let history = UserHistory::from_interactions(2, &xs);
        let config = EaseConfig {
            lambda: 1.0,
            k: 2,
            dropout: 0.5,
            ..EaseConfig::plain_default()
        };
        let model = train_ease(&config, &history, 3, &[]).unwrap();
        let mut out = vec![0.0; 3];
        model.score(&[0], &[1.0], &mut out);
        let close = |a: f32, b: f64| (a as f64 - b).abs() < 1e-6;
        assert!(
            close(out[1], 9.0 / 39.0) && close(out[2], -2.0 / 39.0),
            "{out:?}"
        );
        model.score(&[1], &[1.0], &mut out);
        assert!(
            close(out[0], 6.0 / 39.0) && close(out[2], 6.0 / 39.0),
            "{out:?}"
        );
    }

    #[test]
    fn order_kernel_adds_decayed_pairs_to_the_gram_matrix() {
        // One user whose items, in time order, are 2, 0, 1 (item 2 seen twice: first kept).
        let xs = interactions(&[
            (0, 0, Some(20)),
            (0, 1, Some(30)),
            (0, 2, Some(10)),
            (0, 2, Some(40)),
        ]);
        let order = time_ordered(1, &xs).unwrap();
        assert_eq!(order, vec![vec![2, 0, 1]]);
        let history = UserHistory::from_interactions(1, &xs[..3]);
        let config = EaseConfig {
            lambda: 1.0,
            order_weight: 2.0,
            order_window: 1.0,
            ..EaseConfig::plain_default()
        };
        let (g, lambda) = gram(&config, &history, &order, 3, &[]);
        assert_eq!(lambda, vec![1.0; 3]);
        let e = |k: f64| (2.0 * (-k).exp()) as f32;
        // Co-occurrence 1 for every pair, + 2·e^(−distance), + λ on the diagonal.
        let expect = [
            ((0, 0), 1.0 + e(0.0) + 1.0),
            ((1, 0), 1.0 + e(1.0)), // positions 1 and 2
            ((2, 0), 1.0 + e(1.0)), // positions 0 and 1
            ((2, 1), 1.0 + e(2.0)), // positions 0 and 2
            ((2, 2), 1.0 + e(0.0) + 1.0),
        ];
        for ((r, c), v) in expect {
            assert!(
                (g[(r, c)] - v).abs() < 1e-6,
                "G[{r}][{c}] = {} ≠ {v}",
                g[(r, c)]
            );
        }
        // The kernel needs timestamps, and an order to read.
        let untimed = interactions(&[(0, 0, Some(1)), (0, 1, None)]);
        assert!(matches!(time_ordered(1, &untimed), Err(Error::Config(_))));
        assert!(matches!(
            train_ease(&config, &history, 3, &[]),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn rank_weights_enter_the_gram_matrix_and_the_stored_model() {
        // One user, items 0 and 1 with ratings 1 and 5: γ = 1 gives weights 0.75 and 1.25, so
        // XᵀX = [[0.5625, 0.9375], [0.9375, 1.5625]]; DLAE's Λ (p = 0.5, λ = 1) reads its
        // weighted diagonal: [1.5625, 2.5625].
        let xs = [(0u32, 1.0f32), (1, 5.0)].map(|(item, r)| crate::data::Interaction {
            user: 0,
            item,
            rating: Some(r),
            timestamp: None,
        });
        let history = UserHistory::from_interactions(1, &xs);
        let config = EaseConfig {
            lambda: 1.0,
            rank_weight: 1.0,
            dropout: 0.5,
            ..EaseConfig::plain_default()
        };
        let (g, lambda) = gram(&config, &history, &[], 2, &[]);
        assert_eq!(lambda, vec![1.5625, 2.5625]);
        assert_eq!((g[(0, 0)], g[(1, 0)], g[(1, 1)]), (2.125, 0.9375, 4.125));
        let model = train_ease(&config, &history, 2, &[]).unwrap();
        assert_eq!(model.config.rank_weight, 1.0);
    }

    #[test]
    fn options_are_checked_and_absent_from_older_manifests() {
        let bad = [
            EaseConfig {
                dropout: 1.0,
                ..EaseConfig::plain_default()
            },
            EaseConfig {
                dropout: -0.1,
                ..EaseConfig::plain_default()
            },
            EaseConfig {
                order_weight: f64::NAN,
                ..EaseConfig::plain_default()
            },
            EaseConfig {
                order_window: 0.0,
                ..EaseConfig::plain_default()
            },
            EaseConfig {
                candidates: 10,
                dropout: 0.5,
                ..EaseConfig::plain_default()
            },
            EaseConfig {
                rank_weight: 2.0,
                ..EaseConfig::plain_default()
            },
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(Error::Config(_))), "{c:?}");
        }
        // Defaults are not written, so a plain EASE manifest is what it was before the options.
        let json = serde_json::to_value(EaseConfig::plain_default()).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["content_weight", "k", "lambda", "modalities"]);
        let back: EaseConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, EaseConfig::plain_default());
        let set = EaseConfig {
            dropout: 0.5,
            rank_weight: 0.5,
            order_weight: 1.0,
            order_window: 5.0,
            ..EaseConfig::plain_default()
        };
        let back: EaseConfig = serde_json::from_value(serde_json::to_value(&set).unwrap()).unwrap();
        assert_eq!(back, set);
    }
}
