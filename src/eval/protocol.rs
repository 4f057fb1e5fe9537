//! Full-ranking evaluation: every user with held-out items is scored against the whole catalog;
//! items the user already interacted with before the target period (training items, and for the
//! test period also validation items) are excluded; metrics are averaged over users.

use std::collections::{BTreeMap, HashSet};

use super::click::{click_metrics, click_pairs};
use super::metrics::{
    hit_rate_at_k, item_coverage, mae, mrr_at_k, ndcg_at_k, precision_at_k, recall_at_k, rmse,
};
use super::report::{AtK, Metrics};
use super::rerank::{intra_list_diversity, novelty, ItemRows, Rerank};
use crate::data::split::items_by_user;
use crate::data::UserHistory;
use crate::data::{IdMap, Split};
use crate::error::{Error, Result};

/// The cut-offs reported everywhere.
pub const KS: [usize; 3] = [5, 10, 20];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Valid,
    Test,
}

/// A list length asked for by a caller: at least 1 (a `k` of 0 is a mistake to report, not an
/// empty answer to give).
pub fn check_k(k: usize) -> Result<()> {
    match k {
        0 => Err(Error::Config("k must be at least 1".into())),
        _ => Ok(()),
    }
}

/// The `k` best items of `scores` (desc), skipping `excluded` (sorted). Ties go to the lower item
/// index, so the result is the same on every platform.
pub fn top_k(scores: &[f32], excluded: &[u32], k: usize) -> Vec<u32> {
    if k == 0 {
        return Vec::new();
    }
    let mut candidates: Vec<(f32, u32)> = scores
        .iter()
        .enumerate()
        .filter(|(i, s)| excluded.binary_search(&(*i as u32)).is_err() && !s.is_nan())
        .map(|(i, &s)| (s, i as u32))
        .collect();
    let by_rank = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    crate::kernels::sorted_best(&mut candidates, k, by_rank);
    // Not `into_iter().map(..).collect()`: that reuses `candidates`' allocation in place, and
    // every list kept would hold a whole catalog's capacity (800 MB for 10⁴ users × 10⁴ items).
    let mut top = Vec::with_capacity(candidates.len());
    top.extend(candidates.iter().map(|&(_, i)| i));
    top
}

/// Anything that scores a user's catalog: trained models, and blends of them in experiments.
pub trait Scores {
    /// Writes the score of every item for `user` (training history `items`/`ratings`) to `out`.
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]);
    /// The predicted rating of (user, item), for models fitted to ratings.
    fn predict(&self, _user: u32, _item: u32) -> Option<f32> {
        None
    }
    /// The probability that `user` interacts with `item`, for models with a click head.
    fn click(&self, _user: u32, _item: u32) -> Option<f32> {
        None
    }
}

/// The top `k` of every user who has held-out items in `target`, best first, excluding the
/// items the protocol excludes: the user's training items and, for test when
/// [`Split::test_excludes_valid`], validation items too. Users in index order. This is the one
/// ranking that metrics are computed from and that `eval --export-topk` writes.
pub fn ranked_lists<S: Scores + ?Sized>(
    model: &S,
    split: &Split,
    history: &UserHistory,
    target: Target,
    k: usize,
) -> Vec<(u32, Vec<u32>)> {
    ranked_lists_with(model, split, history, target, k, None)
}

/// [`ranked_lists`], each list re-ranked by `rerank` in its item space (see [`Rerank`]).
pub fn ranked_lists_with<S: Scores + ?Sized>(
    model: &S,
    split: &Split,
    history: &UserHistory,
    target: Target,
    k: usize,
    rerank: Option<(&Rerank, &dyn ItemRows)>,
) -> Vec<(u32, Vec<u32>)> {
    let rerank = rerank.filter(|(r, _)| !r.is_identity());
    let (held_out, earlier) = match target {
        Target::Valid => (&split.valid, None),
        Target::Test => (
            &split.test,
            split.test_excludes_valid.then_some(&split.valid),
        ),
    };
    let targets = items_by_user(split.n_users, held_out);
    let earlier = earlier.map(|e| items_by_user(split.n_users, e));
    let mut scores = vec![0.0f32; split.n_items];
    let mut out = Vec::new();
    for (user, relevant) in targets.iter().enumerate() {
        if relevant.is_empty() {
            continue;
        }
        let user = user as u32;
        let (items, ratings) = history.user(user);
        model.score(user, items, ratings, &mut scores);
        let mut excluded = items.to_vec();
        if let Some(earlier) = &earlier {
            excluded.extend_from_slice(&earlier[user as usize]);
        }
        excluded.sort_unstable();
        let list = match rerank {
            None => top_k(&scores, &excluded, k),
            Some((r, space)) => {
                let pool: Vec<(u32, f32)> = top_k(&scores, &excluded, r.pool(k))
                    .into_iter()
                    .map(|i| (i, scores[i as usize]))
                    .collect();
                r.apply(&pool, k, space).into_iter().map(|c| c.0).collect()
            }
        };
        out.push((user, list));
    }
    out
}

/// Ranked lists as `{"user": ["item", …]}` with the dataset's original ids: the format
/// `../shared/bench/metrics.py` and other external scorers read.
pub fn topk_json(lists: &[(u32, Vec<u32>)], users: &IdMap, items: &IdMap) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = lists
        .iter()
        .map(|(u, list)| {
            let ids = list.iter().map(|&i| items.id(i).into()).collect();
            (users.id(*u).to_owned(), serde_json::Value::Array(ids))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// What an evaluation adds to the plain protocol (nothing by default).
#[derive(Clone, Copy, Default)]
pub struct EvalOptions<'a> {
    /// Re-rank every list before measuring it (MMR diversity, a score threshold).
    pub rerank: Option<(&'a Rerank, &'a dyn ItemRows)>,
    /// Measure intra-list diversity (`ild@k`) in this item space (the dataset's categories).
    pub diversity_space: Option<&'a dyn ItemRows>,
}

/// Evaluates `model` on the validation or test part of `split`. `history` is the model's input
/// (the training interactions). Rating metrics (RMSE, MAE) are added for models that predict
/// ratings, over held-out interactions that carry one; click metrics (ROC-AUC, log loss) for
/// models that predict clicks, under [`super::click`]'s protocol. Every ranking metric key is present, also
/// when no user has held-out items (then they are 0 and `users` is 0).
pub fn evaluate<S: Scores + ?Sized>(
    model: &S,
    split: &Split,
    history: &UserHistory,
    target: Target,
) -> Metrics {
    evaluate_with(model, split, history, target, EvalOptions::default())
}

/// [`evaluate`] with re-ranking and intra-list diversity (see [`EvalOptions`]). Novelty@k is
/// always measured, from the training interactions' item counts.
pub fn evaluate_with<S: Scores + ?Sized>(
    model: &S,
    split: &Split,
    history: &UserHistory,
    target: Target,
    options: EvalOptions<'_>,
) -> Metrics {
    let held_out = match target {
        Target::Valid => &split.valid,
        Target::Test => &split.test,
    };
    let targets = items_by_user(split.n_users, held_out);
    let k_max = *KS.iter().max().unwrap_or(&10);
    let lists = ranked_lists_with(model, split, history, target, k_max, options.rerank);
    let mut counts = vec![0u32; split.n_items];
    for x in &split.train {
        counts[x.item as usize] += 1;
    }

    let mut at: BTreeMap<usize, AtK> = KS.iter().map(|&k| (k, AtK::default())).collect();
    // Sums and user counts of the beyond-accuracy figures (a list may be too short for one).
    let mut beyond: BTreeMap<usize, [(f64, usize); 2]> = BTreeMap::new();
    for (user, ranked) in &lists {
        let relevant: HashSet<u32> = targets[*user as usize].iter().copied().collect();
        for (&k, sum) in at.iter_mut() {
            sum.recall += recall_at_k(ranked, &relevant, k);
            sum.ndcg += ndcg_at_k(ranked, &relevant, k);
            sum.precision += precision_at_k(ranked, &relevant, k);
            sum.hit += hit_rate_at_k(ranked, &relevant, k);
            sum.mrr += mrr_at_k(ranked, &relevant, k);
            let top = &ranked[..k.min(ranked.len())];
            let b = beyond.entry(k).or_default();
            if let Some(v) = novelty(top, &counts, split.n_users) {
                b[0].0 += v;
                b[0].1 += 1;
            }
            if let Some(v) = options
                .diversity_space
                .and_then(|space| intra_list_diversity(top, space))
            {
                b[1].0 += v;
                b[1].1 += 1;
            }
        }
    }
    let lists: Vec<Vec<u32>> = lists.into_iter().map(|(_, l)| l).collect();
    let n = lists.len();
    let mean = |sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };
    for (&k, m) in at.iter_mut() {
        for v in [
            &mut m.recall,
            &mut m.ndcg,
            &mut m.precision,
            &mut m.hit,
            &mut m.mrr,
        ] {
            *v = mean(*v);
        }
        m.coverage = item_coverage(lists.iter().map(|l| &l[..k.min(l.len())]), split.n_items);
        let b = beyond.get(&k).copied().unwrap_or_default();
        m.novelty = (b[0].1 > 0).then(|| b[0].0 / b[0].1 as f64);
        m.ild = (b[1].1 > 0).then(|| b[1].0 / b[1].1 as f64);
    }

    let pairs: Vec<(f32, f32)> = held_out
        .iter()
        .filter_map(|x| Some((model.predict(x.user, x.item)?, x.rating?)))
        .collect();
    let rated = !pairs.is_empty();
    // Click metrics for models that predict clicks (asked on one pair before sampling any).
    let clicks = held_out
        .first()
        .and_then(|x| model.click(x.user, x.item))
        .and_then(|_| click_metrics(model, &click_pairs(split, target)));
    Metrics {
        users: n,
        at,
        rmse: rated.then(|| rmse(&pairs)),
        mae: rated.then(|| mae(&pairs)),
        auc: clicks.map(|c| c.0),
        log_loss: clicks.map(|c| c.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Interaction;
    use crate::model::{Popularity, TrainedModel};

    #[test]
    fn top_k_orders_by_score_then_index_and_skips_excluded() {
        let scores = [0.5, 2.0, 2.0, f32::NAN, 1.0, 3.0];
        assert_eq!(top_k(&scores, &[5], 3), [1, 2, 4]);
        assert_eq!(top_k(&scores, &[], 10), [5, 1, 2, 4, 0]);
        assert!(top_k(&scores, &[], 0).is_empty());
    }

    #[test]
    fn protocol_excludes_history_and_averages_over_users_by_hand() {
        let x = |user, item| Interaction {
            user,
            item,
            rating: None,
            timestamp: None,
        };
        // Popularity from training: item 0 (3), item 1 (2), item 2 (1), items 3, 4 (0).
        let train = vec![x(0, 0), x(1, 0), x(2, 0), x(0, 1), x(1, 1), x(2, 2)];
        let split = Split {
            n_users: 3,
            n_items: 5,
            valid: vec![x(2, 1)],
            test: vec![x(0, 2), x(1, 4), x(2, 3)],
            train,
            test_excludes_valid: true,
        };
        let history = UserHistory::from_interactions(3, &split.train);
        let model = TrainedModel::Popularity(Popularity::fit(5, &split.train));
        let m = evaluate(&model, &split, &history, Target::Test);
        // User 0 (seen 0,1): ranking [2,3,4] → hit at rank 1. User 1 (seen 0,1): [2,3,4], target
        // 4 at rank 3. User 2 (seen 0,2, valid 1 also excluded): [3,4], target 3 at rank 1.
        assert_eq!(m.users, 3);
        assert!((m.at(5).hit - 1.0).abs() < 1e-12);
        assert!((m.at(5).mrr - (1.0 + 1.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert!((m.ndcg(5) - (1.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        assert!((m.at(5).precision - 3.0 / 15.0).abs() < 1e-12);
        // Only items 2, 3, 4 ever get recommended.
        assert!((m.at(5).coverage - 3.0 / 5.0).abs() < 1e-12);
        assert_eq!(m.rmse, None);
        // Novelty@5 from training counts [3, 2, 1, 0, 0] over 3 users: −log2((c + 1) / 4) is 1
        // for item 2 and 2 for items 3, 4 → users 0 and 1: 5/3, user 2: 2.
        let novelty = m.at(5).novelty.unwrap();
        assert!((novelty - 16.0 / 9.0).abs() < 1e-12, "{novelty}");
        assert_eq!(m.at(5).ild, None);
        let v = evaluate(&model, &split, &history, Target::Valid);
        assert_eq!(v.users, 1);
        // User 2's candidates: [1, 3, 4] → the validation item 1 is first.
        assert!((v.ndcg(5) - 1.0).abs() < 1e-12);
    }
}
