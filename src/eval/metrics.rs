//! Ranking and rating metrics. Ranking metrics take one user's ranked list (best first) and the
//! set of that user's relevant items; averaging over users happens in [`super::protocol`].

use std::collections::HashSet;

/// Precision@K: share of the top K that is relevant (K in the denominator even if the list is
/// shorter).
pub fn precision_at_k(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    hits(ranked, relevant, k) as f64 / k as f64
}

/// Recall@K: share of the relevant items found in the top K.
pub fn recall_at_k(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    hits(ranked, relevant, k) as f64 / relevant.len() as f64
}

/// NDCG@K with binary gains: DCG = Σ 1/log2(rank + 1) over hits, divided by the DCG of an ideal
/// list holding min(K, |relevant|) hits.
pub fn ndcg_at_k(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    let discount = |pos: usize| 1.0 / ((pos + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(pos, _)| discount(pos))
        .sum();
    let idcg: f64 = (0..k.min(relevant.len())).map(discount).sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// HitRate@K: 1 when any relevant item is in the top K.
pub fn hit_rate_at_k(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    f64::from(u8::from(hits(ranked, relevant, k) > 0))
}

/// MRR@K: reciprocal rank of the first relevant item in the top K, 0 if none.
pub fn mrr_at_k(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|i| relevant.contains(i))
        .map_or(0.0, |pos| 1.0 / (pos + 1) as f64)
}

fn hits(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> usize {
    ranked
        .iter()
        .take(k)
        .filter(|i| relevant.contains(i))
        .count()
}

/// Root mean squared error between predictions and targets.
pub fn rmse(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let se: f64 = pairs
        .iter()
        .map(|&(p, t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum();
    (se / pairs.len() as f64).sqrt()
}

/// Mean absolute error between predictions and targets.
pub fn mae(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    pairs
        .iter()
        .map(|&(p, t)| (f64::from(p) - f64::from(t)).abs())
        .sum::<f64>()
        / pairs.len() as f64
}

/// ROC-AUC of scores for binary labels: the probability that a random positive scores above a
/// random negative, a tie counting one half (Mann–Whitney with mid-ranks). `None` without both
/// a positive and a negative; NaN scores are refused the same way.
pub fn roc_auc(scored: &[(f32, bool)]) -> Option<f64> {
    if scored.iter().any(|(s, _)| s.is_nan()) {
        return None;
    }
    let n_pos = scored.iter().filter(|(_, y)| *y).count();
    let n_neg = scored.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<&(f32, bool)> = scored.iter().collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the positives' ranks (1-based), each tie group sharing its mean rank.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let end = start + order[start..].partition_point(|x| x.0 == order[start].0);
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        let positives = order[start..end].iter().filter(|x| x.1).count();
        rank_sum += mid_rank * positives as f64;
        start = end;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Mean binary cross-entropy (log loss, natural log) of predicted probabilities for binary
/// labels, each probability clipped to [1e-7, 1 − 1e-7] so that one confident mistake costs
/// ln 10⁷ ≈ 16 rather than infinity. 0 for no pairs.
pub fn log_loss(predicted: &[(f32, bool)]) -> f64 {
    if predicted.is_empty() {
        return 0.0;
    }
    const EPS: f64 = 1e-7;
    predicted
        .iter()
        .map(|&(p, y)| {
            let p = f64::from(p).clamp(EPS, 1.0 - EPS);
            -if y { p.ln() } else { (1.0 - p).ln() }
        })
        .sum::<f64>()
        / predicted.len() as f64
}

/// Item coverage: share of the catalog that appears in at least one recommendation list.
pub fn item_coverage<'a>(lists: impl IntoIterator<Item = &'a [u32]>, n_items: usize) -> f64 {
    let seen: HashSet<u32> = lists.into_iter().flatten().copied().collect();
    seen.len() as f64 / n_items as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(items: &[u32]) -> HashSet<u32> {
        items.iter().copied().collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    // Ranked list [7, 3, 9, 1, 5]; relevant {3, 5, 8}: hits at ranks 2 and 5.
    const RANKED: [u32; 5] = [7, 3, 9, 1, 5];

    #[test]
    fn precision_and_recall_by_hand() {
        let r = rel(&[3, 5, 8]);
        close(precision_at_k(&RANKED, &r, 1), 0.0);
        close(precision_at_k(&RANKED, &r, 2), 1.0 / 2.0);
        close(precision_at_k(&RANKED, &r, 5), 2.0 / 5.0);
        close(precision_at_k(&RANKED, &r, 10), 2.0 / 10.0);
        close(recall_at_k(&RANKED, &r, 2), 1.0 / 3.0);
        close(recall_at_k(&RANKED, &r, 5), 2.0 / 3.0);
        close(recall_at_k(&RANKED, &rel(&[]), 5), 0.0);
    }

    #[test]
    fn ndcg_by_hand() {
        let r = rel(&[3, 5, 8]);
        // DCG@5 = 1/log2(3) + 1/log2(6); IDCG@5 = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5.
        let dcg = 1.0 / 3f64.log2() + 1.0 / 6f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        close(ndcg_at_k(&RANKED, &r, 5), dcg / idcg);
        // K = 2: DCG = 1/log2(3) = 0.6309; IDCG = 1 + 0.6309.
        close(
            ndcg_at_k(&RANKED, &r, 2),
            0.630_929_753_571_457_4 / 1.630_929_753_571_457_4,
        );
        // A perfect list scores 1.
        close(ndcg_at_k(&[3, 5, 8, 1], &r, 3), 1.0);
        close(ndcg_at_k(&RANKED, &rel(&[42]), 5), 0.0);
    }

    #[test]
    fn hit_rate_and_mrr_by_hand() {
        let r = rel(&[3, 5, 8]);
        close(hit_rate_at_k(&RANKED, &r, 1), 0.0);
        close(hit_rate_at_k(&RANKED, &r, 2), 1.0);
        close(mrr_at_k(&RANKED, &r, 1), 0.0);
        close(mrr_at_k(&RANKED, &r, 5), 0.5);
        close(mrr_at_k(&RANKED, &rel(&[5]), 5), 0.2);
        close(mrr_at_k(&RANKED, &rel(&[5]), 4), 0.0);
    }

    #[test]
    fn rating_errors_by_hand() {
        // Errors 1, -2, 0.5: squared 1, 4, 0.25 → mean 1.75; absolute mean 3.5/3.
        let pairs = [(4.0, 3.0), (1.0, 3.0), (4.5, 4.0)];
        close(rmse(&pairs), 1.75f64.sqrt());
        close(mae(&pairs), 3.5 / 3.0);
        close(rmse(&[]), 0.0);
    }

    #[test]
    fn auc_by_hand_with_ties_as_one_half() {
        // Positives 0.9, 0.4; negatives 0.4, 0.1, 0.8. Pairs (pos > neg): 0.9 beats all three;
        // 0.4 ties 0.4 (½), beats 0.1, loses to 0.8 → (3 + 1.5) / 6.
        let scored = [
            (0.9, true),
            (0.4, true),
            (0.4, false),
            (0.1, false),
            (0.8, false),
        ];
        close(roc_auc(&scored).unwrap(), 4.5 / 6.0);
        // Perfect, reversed, and all tied.
        close(roc_auc(&[(2.0, true), (1.0, false)]).unwrap(), 1.0);
        close(roc_auc(&[(1.0, true), (2.0, false)]).unwrap(), 0.0);
        close(
            roc_auc(&[(1.0, true), (1.0, false), (1.0, true)]).unwrap(),
            0.5,
        );
        // Undefined without both classes, or with a NaN score.
        assert_eq!(roc_auc(&[(1.0, true)]), None);
        assert_eq!(roc_auc(&[(f32::NAN, true), (1.0, false)]), None);
    }

    #[test]
    fn log_loss_by_hand() {
        // −(ln 0.8 + ln(1 − 0.4) + ln 0.5) / 3.
        let want = -(0.8f64.ln() + 0.6f64.ln() + 0.5f64.ln()) / 3.0;
        let got = log_loss(&[(0.8, true), (0.4, false), (0.5, true)]);
        assert!((got - want).abs() < 1e-7, "{got} vs {want}");
        // A constant ½ costs ln 2 whatever the labels; certainty is clipped, not infinite.
        assert!((log_loss(&[(0.5, true), (0.5, false)]) - 2f64.ln()).abs() < 1e-12);
        assert!((log_loss(&[(0.0, true)]) - 1e7f64.ln()).abs() < 1e-6);
        close(log_loss(&[]), 0.0);
    }

    #[test]
    fn coverage_by_hand() {
        let lists: [&[u32]; 3] = [&[0, 1], &[1, 2], &[2, 0]];
        close(item_coverage(lists, 10), 0.3);
    }
}
