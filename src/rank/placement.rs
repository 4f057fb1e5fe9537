//! Where an added (or cold) item goes: the one placement rule, shared by the browser session
//! ([`crate::rank::Session::add_item`]) and the cold-start experiments that validate it.
//!
//! Two items are compared by the mean, over the content modalities both have, of the cosine of
//! their rows; a modality either lacks — absent, or present with an all-zero row — is left out,
//! never counted as a zero similarity. An item is placed on its [`NEIGHBORS`] most similar
//! catalog items, weighted by a softmax of similarity / [`TEMPERATURE`].

use crate::encode::features::Modality;

/// Catalog neighbours an added item is placed by.
pub const NEIGHBORS: usize = 10;
/// Softmax temperature over the neighbours' cosine similarities.
pub const TEMPERATURE: f32 = 0.01;

/// The neighbours a new item is placed by, from its similarity to each candidate `(index,
/// similarity)`: the `k` most similar (ties to the lower index), weighted by a softmax of
/// similarity / `temperature`; best first, weights summing to 1 (an infinite temperature weighs
/// them equally). [`Session::add_item`] uses [`NEIGHBORS`] and [`TEMPERATURE`]; the cold-start
/// experiment validates other values.
pub fn neighbor_weights(mut sims: Vec<(u32, f32)>, k: usize, temperature: f32) -> Vec<(u32, f32)> {
    sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    sims.truncate(k);
    let Some(&(_, top)) = sims.first() else {
        return sims;
    };
    let exp: Vec<f32> = sims
        .iter()
        .map(|s| ((s.1 - top) / temperature).exp())
        .collect();
    let z: f32 = exp.iter().sum();
    sims.iter().zip(&exp).map(|(s, e)| (s.0, e / z)).collect()
}

/// `row` scaled to unit length; `None` when it is zero or not finite (the item lacks it).
pub fn unit(row: &[f32]) -> Option<Vec<f32>> {
    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| row.iter().map(|x| x / norm).collect())
}

/// Each item's [`unit`] row of `m`; `None` where the modality is absent or zero.
pub fn unit_rows(m: &Modality) -> Vec<Option<Vec<f32>>> {
    (0..m.n_items())
        .map(|i| if m.present[i] { unit(m.row(i)) } else { None })
        .collect()
}

/// The placement similarity of two items from their [`unit`] rows, one pair per modality: the
/// mean cosine over the modalities both have; `None` when they share none.
pub fn similarity<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a [f32]>, Option<&'a [f32]>)>,
) -> Option<f32> {
    let (mut total, mut count) = (0.0f32, 0usize);
    for pair in pairs {
        if let (Some(a), Some(b)) = pair {
            total += a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
            count += 1;
        }
    }
    (count > 0).then(|| total / count as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbor_weights_are_a_softmax_of_the_k_most_similar() {
        let sims = vec![(0, 0.5), (1, 0.9), (2, 0.7), (3, 0.9)];
        let w = neighbor_weights(sims.clone(), 3, 0.1);
        // Best first, ties to the lower index; weights ∝ exp(sim / T), summing to 1.
        assert_eq!(w.iter().map(|n| n.0).collect::<Vec<_>>(), [1, 3, 2]);
        let e = (-2.0f32).exp();
        assert!((w[0].1 - 1.0 / (2.0 + e)).abs() < 1e-6 && (w[2].1 - e / (2.0 + e)).abs() < 1e-6);
        // An infinite temperature weighs them equally.
        let uniform = neighbor_weights(sims, 2, f32::INFINITY);
        assert!(
            uniform.iter().all(|n| (n.1 - 0.5).abs() < 1e-6),
            "{uniform:?}"
        );
        assert!(neighbor_weights(Vec::new(), 3, 0.1).is_empty());
    }

    #[test]
    fn a_zero_row_is_absent_not_a_zero_similarity() {
        let a = unit(&[3.0, 4.0]).unwrap();
        let b = unit(&[4.0, 3.0]).unwrap();
        assert!(unit(&[0.0, 0.0]).is_none());
        assert!(unit(&[f32::NAN, 1.0]).is_none());
        // Two modalities, the second zero on one side: only the first counts.
        let zero = unit(&[0.0, 0.0]);
        let s = similarity([
            (Some(&a[..]), Some(&b[..])),
            (Some(&a[..]), zero.as_deref()),
        ]);
        assert!((s.unwrap() - 0.96).abs() < 1e-6);
        assert_eq!(similarity([(None, Some(&b[..]))]), None);
    }
}
