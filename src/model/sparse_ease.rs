//! EASE for catalogs too large for a dense `n × n` inverse (10⁵–10⁶ items): each item's column
//! of `B` is fitted on its own `K` strongest co-occurring items only — the same ridge regression
//! as EASE, `min ‖X_j − X_C b‖² + λ‖b‖²` with `C` the candidates (the item itself excluded, which
//! is EASE's zero diagonal), solved exactly from the `K × K` Gram block:
//! `(G_CC + λI) b = G_Cj`.
//!
//! The Gram entries come from a sparse co-occurrence table that keeps, per item, its
//! `max(4K, 256)` largest counts: a pair outside both items' kept lists is treated as 0, which
//! only drops the weakest co-occurrences (small next to the diagonal's degree + λ). Cost: the
//! table is `Σ_u |h_u|²` counter updates; the solves are `n · K³/3` flops; memory is the table
//! (`n · 4K` entries) — no `n × n` matrix anywhere. Items are independent, so both passes run on
//! every core and the result does not depend on how many there are.
//!
//! The columns are then stored as rows (history item → its `k` largest-magnitude weights), the
//! item–item form every scorer and the browser already serve.

use faer::Mat;

use super::knn::ItemKnn;
use super::UserHistory;
use crate::error::{Error, Result};
use crate::kernels::{keep_best, sorted_best};

/// The largest candidate set: each thread holds a `K × K` matrix per item it solves.
const MAX_CANDIDATES: usize = 4096;

/// Runs `f(i)` for `i` in `0..n` on every core (natively) and returns the results in order.
fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(target_arch = "wasm32")]
    (0..n).map(f).collect()
}

/// Each item's users, as CSR (`offsets[i]..offsets[i+1]` into `users`).
fn item_users(history: &UserHistory, n: usize) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = vec![0usize; n + 1];
    for &i in &history.items {
        offsets[i as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut next = offsets.clone();
    let mut users = vec![0u32; history.items.len()];
    for u in 0..history.n_users() {
        for &i in history.user(u as u32).0 {
            users[next[i as usize]] = u as u32;
            next[i as usize] += 1;
        }
    }
    (offsets, users)
}

/// Per item: its degree, its `keep` largest co-occurrence counts (sorted by item index) and its
/// `candidates` most associated items by cosine (`count / √(deg_a · deg_b)`, with their counts).
struct CoRow {
    degree: f32,
    kept: Vec<(u32, f32)>,
    candidates: Vec<(u32, f32)>,
}

fn co_occurrence(history: &UserHistory, n: usize, keep: usize, candidates: usize) -> Vec<CoRow> {
    let (offsets, users) = item_users(history, n);
    let chunk = 256;
    let rows: Vec<Vec<CoRow>> = par_map(n.div_ceil(chunk), |c| {
        let mut counts = vec![0u32; n];
        let mut touched: Vec<u32> = Vec::new();
        (c * chunk..((c + 1) * chunk).min(n))
            .map(|a| {
                for &u in &users[offsets[a]..offsets[a + 1]] {
                    for &b in history.user(u).0 {
                        if counts[b as usize] == 0 {
                            touched.push(b);
                        }
                        counts[b as usize] += 1;
                    }
                }
                let degree = counts[a] as f32;
                let row: Vec<(u32, f32)> = touched
                    .iter()
                    .filter(|&&b| b as usize != a)
                    .map(|&b| (b, counts[b as usize] as f32))
                    .collect();
                for &b in &touched {
                    counts[b as usize] = 0;
                }
                touched.clear();
                let deg = |b: u32| (offsets[b as usize + 1] - offsets[b as usize]) as f32;
                let mut by_cosine: Vec<(f32, u32, f32)> = row
                    .iter()
                    .map(|&(b, c)| (c / (degree * deg(b)).sqrt().max(1.0), b, c))
                    .collect();
                keep_best(&mut by_cosine, candidates, |x, y| {
                    y.0.total_cmp(&x.0).then(x.1.cmp(&y.1))
                });
                let mut cand: Vec<(u32, f32)> = by_cosine.iter().map(|&(_, b, c)| (b, c)).collect();
                cand.sort_unstable_by_key(|x| x.0);
                let mut kept = row;
                keep_best(&mut kept, keep, |x, y| {
                    y.1.total_cmp(&x.1).then(x.0.cmp(&y.0))
                });
                kept.sort_unstable_by_key(|x| x.0);
                CoRow {
                    degree,
                    kept,
                    candidates: cand,
                }
            })
            .collect()
    });
    rows.into_iter().flatten().collect()
}

fn lookup(row: &[(u32, f32)], b: u32) -> f32 {
    row.binary_search_by_key(&b, |x| x.0)
        .map_or(0.0, |at| row[at].1)
}

/// EASE restricted to `candidates` co-occurring items per column; stores `k` weights per row.
pub(super) fn train_local_ease(
    history: &UserHistory,
    n: usize,
    lambda: f64,
    candidates: usize,
    k: usize,
) -> Result<ItemKnn> {
    if !(1..=MAX_CANDIDATES).contains(&candidates) {
        return Err(Error::Config(format!(
            "sparse EASE needs 1 ≤ candidates ≤ {MAX_CANDIDATES} (above that, use dense EASE)"
        )));
    }
    let rows = co_occurrence(history, n, (4 * candidates).max(256), candidates);
    let lambda = lambda as f32;
    // Columns: target j ← (history item i, weight B[i][j]).
    let columns: Vec<Vec<(u32, f32)>> = par_map(n, |j| {
        let cand = &rows[j].candidates;
        let m = cand.len();
        if m == 0 {
            return Vec::new();
        }
        // G_CC + λI: a pair's count from either item's kept list (they agree where both keep it).
        let g = Mat::<f32>::from_fn(m, m, |p, q| {
            let (a, b) = (cand[p].0, cand[q].0);
            if p == q {
                rows[a as usize].degree + lambda
            } else {
                let x = lookup(&rows[a as usize].kept, b);
                if x > 0.0 {
                    x
                } else {
                    lookup(&rows[b as usize].kept, a)
                }
            }
        });
        let rhs = Mat::<f32>::from_fn(m, 1, |p, _| cand[p].1);
        // A pair dropped from the pruned table can leave G_CC + λI indefinite; then the ridge
        // doubles until it is not (it always ends: a large enough λ dominates every count).
        let mut g = g;
        let mut extra = lambda;
        loop {
            if let Ok(llt) = g.llt(faer::Side::Lower) {
                let b = faer::linalg::solvers::Solve::solve(&llt, &rhs);
                return (0..m).map(|p| (cand[p].0, b[(p, 0)])).collect();
            }
            for p in 0..m {
                g[(p, p)] += extra;
            }
            extra *= 2.0;
        }
    });
    // Rows: history item i → (target j, B[i][j]), its k largest by magnitude.
    let mut by_row: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    for (j, col) in columns.iter().enumerate() {
        for &(i, w) in col {
            if w.is_finite() && w != 0.0 {
                by_row[i as usize].push((j as u32, w));
            }
        }
    }
    let k = k.min(n.saturating_sub(1)).max(1);
    let by_magnitude =
        |a: &(u32, f32), b: &(u32, f32)| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0));
    let mut neighbors = Vec::with_capacity(n * k);
    let mut similarities = Vec::with_capacity(n * k);
    for mut row in by_row {
        sorted_best(&mut row, k, by_magnitude);
        for &(j, w) in &row {
            neighbors.push(j);
            similarities.push(w);
        }
        for _ in row.len()..k {
            neighbors.push(u32::MAX);
            similarities.push(0.0);
        }
    }
    Ok(ItemKnn {
        config: super::ease::stored_config(k, 0.0),
        neighbors,
        similarities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With as many candidates as items, the local solves are dense EASE's columns exactly.
    #[test]
    fn all_candidates_reproduce_dense_ease() {
        let mut rng = crate::rng::SeededRng::new(5);
        // User 30 has every item, so every pair co-occurs and the candidates are all items.
        let interactions: Vec<crate::data::Interaction> = (0..31)
            .flat_map(|u| {
                let mut items: Vec<u32> = match u {
                    30 => (0..12).collect(),
                    _ => (0..6).map(|_| rng.below(12) as u32).collect(),
                };
                items.sort_unstable();
                items.dedup();
                items.into_iter().map(move |item| crate::data::Interaction {
                    user: u,
                    item,
                    rating: None,
                    timestamp: None,
                })
            })
            .collect();
        let history = UserHistory::from_interactions(31, &interactions);
        let config = super::super::EaseConfig {
            lambda: 5.0,
            k: 11,
            ..super::super::EaseConfig::plain_default()
        };
        let dense = super::super::train_ease(&config, &history, 12, &[]).unwrap();
        let local = train_local_ease(&history, 12, 5.0, 11, 11).unwrap();
        let (mut a, mut b) = (vec![0.0; 12], vec![0.0; 12]);
        for i in 0..12u32 {
            dense.score(&[i], &[1.0], &mut a);
            local.score(&[i], &[1.0], &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4, "item {i}: {a:?} vs {b:?}");
            }
        }
    }
}
