//! Re-ranking a relevance-ranked list — MMR diversity and a score threshold — and the
//! beyond-accuracy metrics that measure what it changes (intra-list diversity, novelty).
//!
//! **MMR** (Carbonell & Goldstein, 1998) picks greedily, from a candidate pool of the best
//! relevance-ranked items, the item maximising `(1 − δ)·rel(i) − δ·max_{j ∈ chosen} cos(i, j)`,
//! with `δ` = [`Rerank::diversity`]: 0 keeps the relevance order exactly, 1 picks the item least
//! like those already chosen. `rel` is the score min–max normalised over the pool, so that `δ`
//! means the same on every model's score scale (EASE scores are ~10⁻², BPR's ~10). The pool is
//! the `max(100, 2k)` best items ([`Rerank::pool`]): the same for every list of up to 50 items,
//! so evaluation (top 20) and a page (top 10) see the same first items. MMR then costs
//! `k × pool` dot products — about a millisecond for k = 10, whatever the catalog size; k is
//! capped at [`MAX_DIVERSE_K`] with diversity.
//!
//! Similarity comes from an [`ItemRows`] space: a session's item features (content blocks and
//! a factor model's item vectors, see `rank::Session`), or a catalog's categories (the cosine
//! of binary genre vectors). Intra-list diversity is measured in a space fixed per dataset (the
//! categories) rather than the one MMR optimises, so every model and δ are compared on one ruler.

use serde::{Deserialize, Serialize};

use crate::data::Categories;
use crate::error::{Error, Result};
use crate::kernels::dot;

/// How a list is re-ranked after scoring (the identity by default).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rerank {
    /// MMR's weight of diversity, in [0, 1]: 0 keeps the relevance order.
    #[serde(default)]
    pub diversity: f32,
    /// Items scoring below this are left out, so a list may be shorter than `k`.
    #[serde(default)]
    pub min_score: Option<f32>,
}

impl Rerank {
    /// A diversity outside [0, 1] or a non-finite threshold is `BAD_CONFIG`.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.diversity) {
            return Err(Error::Config(format!(
                "diversity must be between 0 and 1 (got {})",
                self.diversity
            )));
        }
        if self.min_score.is_some_and(|s| !s.is_finite()) {
            return Err(Error::Config("minScore must be a finite number".into()));
        }
        Ok(())
    }

    /// Whether this re-ranking changes nothing (the plain top-`k` is the answer).
    pub fn is_identity(&self) -> bool {
        self.diversity == 0.0 && self.min_score.is_none()
    }

    /// [`Rerank::validate`], and a list length MMR can serve: with diversity, at most
    /// [`MAX_DIVERSE_K`] items (MMR costs `k × pool` comparisons).
    pub fn validate_for(&self, k: usize) -> Result<()> {
        self.validate()?;
        if self.diversity > 0.0 && k > MAX_DIVERSE_K {
            return Err(Error::Config(format!(
                "diversity re-ranks lists of at most {MAX_DIVERSE_K} items (k = {k})"
            )));
        }
        Ok(())
    }

    /// How many of the best items MMR chooses `k` from: `max(100, 2k)`. The pool is the same
    /// for every k up to 50, so a list's first items do not depend on how long it is (MMR is
    /// greedy): evaluation's top 10 of a 20-item list is what `recommend` shows for k = 10.
    pub fn pool(&self, k: usize) -> usize {
        if self.diversity == 0.0 {
            k
        } else {
            k.saturating_mul(2).max(100)
        }
    }

    /// Re-ranks `candidates` (best first, `(item, score)`, at least [`Rerank::pool`] long when
    /// the catalog has that many) to at most `k` items.
    pub fn apply(
        &self,
        candidates: &[(u32, f32)],
        k: usize,
        space: &dyn ItemRows,
    ) -> Vec<(u32, f32)> {
        let kept: Vec<(u32, f32)> = match self.min_score {
            Some(min) => candidates
                .iter()
                .copied()
                .filter(|&(_, s)| s >= min)
                .collect(),
            None => candidates.to_vec(),
        };
        mmr(&kept, k, self.diversity, space)
    }
}

/// The longest list MMR re-ranks.
pub const MAX_DIVERSE_K: usize = 1000;

/// No space: for re-rankings that compare no items (a threshold alone) — MMR then keeps the
/// relevance order.
pub struct NoSpace;

impl ItemRows for NoSpace {
    fn dim(&self) -> usize {
        0
    }
    fn row(&self, _: u32, _: &mut [f32]) {}
}

/// An item space for similarities: `row` writes item `i`'s vector (any norm; a zero row is an
/// item with nothing to compare, similar to nothing).
pub trait ItemRows {
    fn dim(&self) -> usize;
    fn row(&self, item: u32, out: &mut [f32]);
}

/// The candidates' rows, each scaled to unit norm (zero rows stay zero), `[n, dim]`.
fn unit_rows(items: impl ExactSizeIterator<Item = u32>, space: &dyn ItemRows) -> Vec<f32> {
    let d = space.dim();
    let mut rows = vec![0.0f32; items.len() * d];
    for (item, row) in items.zip(rows.chunks_exact_mut(d.max(1))) {
        space.row(item, row);
        let n = dot(row, row).sqrt();
        if n > 1e-12 {
            row.iter_mut().for_each(|x| *x /= n);
        } else {
            row.fill(0.0);
        }
    }
    rows
}

/// Maximal marginal relevance: `k` of `candidates` (best first) chosen greedily by
/// `(1 − δ)·rel − δ·max cos(·, chosen)`; ties go to the better-ranked candidate. Returns
/// `(item, original score)` in the order chosen. `δ = 0` returns the first `k` unchanged.
pub fn mmr(
    candidates: &[(u32, f32)],
    k: usize,
    diversity: f32,
    space: &dyn ItemRows,
) -> Vec<(u32, f32)> {
    let k = k.min(candidates.len());
    let d = space.dim();
    // No diversity asked, or no space to measure it in: the relevance order.
    if diversity == 0.0 || k <= 1 || d == 0 {
        return candidates[..k].to_vec();
    }
    let rows = unit_rows(candidates.iter().map(|c| c.0), space);
    let (lo, hi) = candidates
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.1), hi.max(c.1))
        });
    let span = hi - lo;
    let rel = |s: f32| if span > 0.0 { (s - lo) / span } else { 1.0 };
    let mut max_sim = vec![f32::NEG_INFINITY; candidates.len()];
    let mut taken = vec![false; candidates.len()];
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let mut best: Option<(usize, f32)> = None;
        for (c, &(_, s)) in candidates.iter().enumerate() {
            if taken[c] {
                continue;
            }
            let penalty = if out.is_empty() { 0.0 } else { max_sim[c] };
            let value = (1.0 - diversity) * rel(s) - diversity * penalty;
            if best.is_none_or(|(_, b)| value > b) {
                best = Some((c, value));
            }
        }
        let Some((pick, _)) = best else { break };
        taken[pick] = true;
        out.push(candidates[pick]);
        let chosen = &rows[pick * d..(pick + 1) * d];
        for (c, m) in max_sim.iter_mut().enumerate() {
            if !taken[c] {
                *m = m.max(dot(&rows[c * d..(c + 1) * d], chosen));
            }
        }
    }
    out
}

/// Intra-list diversity: the mean of `1 − cos(i, j)` over the pairs of `list` in `space`; `None`
/// for a list of fewer than two items.
pub fn intra_list_diversity(list: &[u32], space: &dyn ItemRows) -> Option<f64> {
    if list.len() < 2 {
        return None;
    }
    let d = space.dim();
    let rows = unit_rows(list.iter().copied(), space);
    let mut sum = 0.0f64;
    let mut pairs = 0usize;
    for a in 0..list.len() {
        for b in a + 1..list.len() {
            let sim = match d {
                0 => 0.0,
                _ => dot(&rows[a * d..(a + 1) * d], &rows[b * d..(b + 1) * d]),
            };
            sum += 1.0 - f64::from(sim);
            pairs += 1;
        }
    }
    Some(sum / pairs as f64)
}

/// Novelty: the mean self-information `−log₂((c_i + 1) / (users + 1))` of a list's items, `c_i`
/// being how many training users interacted with item `i` (add-one smoothed, so an item nobody
/// trained on is finite); `None` for an empty list.
pub fn novelty(list: &[u32], counts: &[u32], users: usize) -> Option<f64> {
    if list.is_empty() {
        return None;
    }
    let total = (users + 1) as f64;
    let sum: f64 = list
        .iter()
        .map(|&i| {
            let c = counts.get(i as usize).copied().unwrap_or(0);
            -((f64::from(c) + 1.0) / total).log2()
        })
        .sum();
    Some(sum / list.len() as f64)
}

/// Categories as an item space: item `i`'s row is its binary category vector, so the cosine of
/// two items is `|A ∩ B| / √(|A|·|B|)` (0 when either has none).
impl ItemRows for Categories {
    fn dim(&self) -> usize {
        self.names()
    }

    fn row(&self, item: u32, out: &mut [f32]) {
        out.fill(0.0);
        for &c in self.indices(item as usize) {
            if let Some(slot) = out.get_mut(c as usize) {
                *slot = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 0..n on a circle: item `i` at angle `angles[i]`.
    struct Circle(Vec<f32>);

    impl ItemRows for Circle {
        fn dim(&self) -> usize {
            2
        }
        fn row(&self, item: u32, out: &mut [f32]) {
            let a = self.0[item as usize];
            out[0] = a.cos();
            out[1] = a.sin();
        }
    }

    #[test]
    fn mmr_by_hand() {
        // Items 0 and 1 point the same way, item 2 is orthogonal to them.
        let space = Circle(vec![0.0, 0.0, std::f32::consts::FRAC_PI_2]);
        let candidates = [(0, 3.0), (1, 2.0), (2, 1.0)];
        // δ = 0: the relevance order.
        assert_eq!(mmr(&candidates, 3, 0.0, &space), candidates);
        // δ = 0.5: after item 0, item 1 scores 0.5·0.5 − 0.5·1 = −0.25 and item 2 scores
        // 0.5·0 − 0.5·0 = 0: the orthogonal item comes second.
        let r = mmr(&candidates, 3, 0.5, &space);
        assert_eq!(r.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 2, 1]);
        // Scores are the originals, not MMR's values.
        assert_eq!(r[1], (2, 1.0));
        // δ = 0.2: item 1 scores 0.8·0.5 − 0.2 = 0.2 > item 2's 0: relevance wins.
        let r = mmr(&candidates, 2, 0.2, &space);
        assert_eq!(r.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1]);
        // k past the pool: every candidate once.
        assert_eq!(mmr(&candidates, 10, 0.7, &space).len(), 3);
    }

    #[test]
    fn threshold_and_validation() {
        let space = Circle(vec![0.0; 3]);
        let r = Rerank {
            diversity: 0.0,
            min_score: Some(1.5),
        };
        assert_eq!(r.apply(&[(0, 3.0), (1, 2.0), (2, 1.0)], 3, &space).len(), 2);
        assert!(Rerank::default().is_identity());
        assert_eq!(Rerank::default().pool(10), 10);
        let diverse = Rerank {
            diversity: 0.5,
            min_score: None,
        };
        assert_eq!(
            (diverse.pool(10), diverse.pool(50), diverse.pool(80)),
            (100, 100, 160)
        );
        assert!(diverse.validate_for(1000).is_ok());
        assert!(matches!(diverse.validate_for(1001), Err(Error::Config(_))));
        let bad = Rerank {
            diversity: 1.5,
            min_score: None,
        };
        assert!(matches!(bad.validate(), Err(Error::Config(_))));
        let bad = Rerank {
            diversity: 0.5,
            min_score: Some(f32::NAN),
        };
        assert!(matches!(bad.validate(), Err(Error::Config(_))));
    }

    #[test]
    fn beyond_accuracy_metrics_by_hand() {
        let mut cats = Categories::default();
        cats.push(["Drama", "War"]);
        cats.push(["Drama"]);
        cats.push(["Comedy"]);
        cats.push([]);
        // cos(0, 1) = 1/√2; cos(0, 2) = cos(1, 2) = 0.
        let ild = intra_list_diversity(&[0, 1, 2], &cats).unwrap();
        let expected = ((1.0 - 1.0 / 2f64.sqrt()) + 1.0 + 1.0) / 3.0;
        assert!((ild - expected).abs() < 1e-6, "{ild} vs {expected}");
        // An item without categories is similar to nothing.
        assert!((intra_list_diversity(&[1, 3], &cats).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(intra_list_diversity(&[1], &cats), None);
        // 3 users; counts 3 and 0: −log2(4/4) = 0 and −log2(1/4) = 2 → mean 1.
        assert!((novelty(&[0, 1], &[3, 0], 3).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(novelty(&[], &[3], 3), None);
    }
}
