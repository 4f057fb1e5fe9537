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
}

fn is_zero(x: &usize) -> bool {
    *x == 0
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
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.lambda > 0.0 && self.content_weight >= 0.0 && self.k > 0) {
            return Err(Error::Config(
                "EASE needs lambda > 0, content_weight ≥ 0 and k ≥ 1".into(),
            ));
        }
        Ok(())
    }
}

/// The lower triangle of the Gram matrix `XᵀX + α·Σ_m F_m F_mᵀ / M + λI` (`n × n`, f32; the
/// strict upper triangle is left as zeros and never read). Co-occurrence counts are exact in f32
/// up to 2²⁴ users; the content products run through faer's matrix multiply.
fn gram(
    config: &EaseConfig,
    history: &UserHistory,
    n: usize,
    modalities: &[&Modality],
) -> Mat<f32> {
    let mut g = Mat::<f32>::zeros(n, n);
    let mut items: Vec<usize> = Vec::new();
    for u in 0..history.n_users() {
        items.clear();
        items.extend(history.user(u as u32).0.iter().map(|&i| i as usize));
        items.sort_unstable();
        for (k, &b) in items.iter().enumerate() {
            // Column b, rows a ≥ b: contiguous in faer's column-major storage.
            let mut col = g.col_mut(b);
            for &a in &items[k..] {
                col[a] += 1.0;
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
    for i in 0..n {
        g[(i, i)] += config.lambda as f32;
    }
    g
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
    config.validate()?;
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
    let p = spd_inverse(gram(config, history, n, modalities))?;
    let diag: Vec<f32> = (0..n).map(|i| p[(i, i)]).collect();
    let k = config.k.min(n.saturating_sub(1)).max(1);
    let mut neighbors = Vec::with_capacity(n * k);
    let mut similarities = Vec::with_capacity(n * k);
    let mut row: Vec<(f32, u32)> = Vec::with_capacity(n);
    let by_magnitude =
        |a: &(f32, u32), b: &(f32, u32)| b.0.abs().total_cmp(&a.0.abs()).then(a.1.cmp(&b.1));
    for j in 0..n {
        // B[j][i] = −P[j][i] / P[i][i] for i ≠ j: the weight of history item j for item i. Only
        // P's lower triangle is stored: P[j][i] is row j left of the diagonal, column j below.
        row.clear();
        row.extend((0..j).map(|i| (-p[(j, i)] / diag[i], i as u32)));
        let col = p.col(j);
        row.extend((j + 1..n).map(|i| (-col[i] / diag[i], i as u32)));
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
        config: stored_config(k),
        neighbors,
        similarities,
    })
}

/// The item–item configuration an EASE model is stored and scored with.
pub(crate) fn stored_config(k: usize) -> ItemKnnConfig {
    ItemKnnConfig {
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
        Ok(TrainedModel::ItemKnn(train_ease(
            self,
            ctx.history,
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
}
