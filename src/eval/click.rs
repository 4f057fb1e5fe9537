//! Click evaluation — the seeds' CTR formulation, where a click is any interaction: does the
//! model tell a held-out interaction from an item the user never touched, with a calibrated
//! probability?
//!
//! **Protocol.** The positives are the held-out interactions of the evaluated part (validation
//! or test). Each gets one negative: an item drawn uniformly from the catalog among those the
//! user has no interaction with in *any* part of the split (train, validation or test), from a
//! stream seeded by the split's size and the part, so every model evaluated on a split sees the
//! same pairs. The pairs are balanced, so a constant ½ scores a log loss of ln 2 ≈ 0.693 and
//! any ranking that ignores the pair an AUC of 0.5. Reported: ROC-AUC (ties count one half) and
//! log loss ([`super::metrics`]).
//!
//! **Baseline.** [`PopularityClick`]: a two-parameter logistic regression on the item's training
//! count, `σ(a · ln(1 + count) + b)`, fitted on the training interactions against one uniform
//! negative each. With uniformly drawn negatives, popularity alone separates the pairs well, so
//! this — not ½ — is the bar a personalised click head has to clear.

use super::metrics::{log_loss, roc_auc};
use super::protocol::{Scores, Target};
use crate::data::{Interaction, Split};
use crate::rng::SeededRng;

/// One (user, item) pair of the click protocol, and whether it is a held-out interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClickPair {
    pub user: u32,
    pub item: u32,
    pub clicked: bool,
}

/// Where the negatives' stream starts; mixed with the split's shape and the part.
const NEGATIVES_SEED: u64 = 0xC11C_0000_0000_0001;

/// The held-out interactions of `target` as positives, each followed by its seeded negative
/// (see the module documentation). Users who interacted with every item get no negative, and
/// their positives are kept.
pub fn click_pairs(split: &Split, target: Target) -> Vec<ClickPair> {
    let held_out = match target {
        Target::Valid => &split.valid,
        Target::Test => &split.test,
    };
    let mut touched: Vec<Vec<u32>> = vec![Vec::new(); split.n_users];
    for x in split.train.iter().chain(&split.valid).chain(&split.test) {
        touched[x.user as usize].push(x.item);
    }
    touched.iter_mut().for_each(|t| {
        t.sort_unstable();
        t.dedup();
    });
    let part = match target {
        Target::Valid => 1,
        Target::Test => 2,
    };
    let mut rng = SeededRng::new(
        NEGATIVES_SEED ^ ((split.n_users as u64) << 32) ^ ((split.n_items as u64) << 8) ^ part,
    );
    let mut pairs = Vec::with_capacity(2 * held_out.len());
    for x in held_out {
        pairs.push(ClickPair {
            user: x.user,
            item: x.item,
            clicked: true,
        });
        let seen = &touched[x.user as usize];
        if seen.len() < split.n_items {
            pairs.push(ClickPair {
                user: x.user,
                item: negative(&mut rng, split.n_items, seen),
                clicked: false,
            });
        }
    }
    pairs
}

/// An item uniformly among those not in `seen` (sorted); there must be one.
fn negative(rng: &mut SeededRng, n_items: usize, seen: &[u32]) -> u32 {
    loop {
        let j = rng.below(n_items) as u32;
        if seen.binary_search(&j).is_err() {
            return j;
        }
    }
}

/// ROC-AUC and log loss of `model`'s click probabilities on `pairs`; `None` when the model
/// predicts no clicks, or the pairs lack a positive or a negative.
pub fn click_metrics<S: Scores + ?Sized>(model: &S, pairs: &[ClickPair]) -> Option<(f64, f64)> {
    let predicted: Vec<(f32, bool)> = pairs
        .iter()
        .map(|p| Some((model.click(p.user, p.item)?, p.clicked)))
        .collect::<Option<_>>()?;
    Some((roc_auc(&predicted)?, log_loss(&predicted)))
}

/// The popularity-logistic click baseline: `σ(a · ln(1 + count_i) + b)` with `count_i` the
/// item's training interactions; it ranks by popularity.
#[derive(Debug, Clone, PartialEq)]
pub struct PopularityClick {
    pub a: f64,
    pub b: f64,
    counts: Vec<f32>,
}

impl PopularityClick {
    /// Fits `a` and `b` by Newton's method (logistic log-likelihood, a unit ridge)
    /// on `split.train` against one negative per interaction, drawn uniformly (seeded) among
    /// the items the user has no training interaction with.
    pub fn fit(split: &Split, seed: u64) -> Self {
        let mut counts = vec![0.0f32; split.n_items];
        let mut seen: Vec<Vec<u32>> = vec![Vec::new(); split.n_users];
        for x in &split.train {
            counts[x.item as usize] += 1.0;
            seen[x.user as usize].push(x.item);
        }
        seen.iter_mut().for_each(|s| {
            s.sort_unstable();
            s.dedup();
        });
        let feature = |i: u32| f64::from(counts[i as usize]).ln_1p();
        let mut rng = SeededRng::new(seed);
        let mut examples: Vec<(f64, f64)> = Vec::with_capacity(2 * split.train.len());
        for &Interaction { user, item, .. } in &split.train {
            examples.push((feature(item), 1.0));
            let s = &seen[user as usize];
            if s.len() < split.n_items {
                examples.push((feature(negative(&mut rng, split.n_items, s)), 0.0));
            }
        }
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for _ in 0..50 {
            // Gradient and Hessian of the negative log-likelihood in (a, b), plus a unit ridge
            // (nothing next to 10⁵ examples; a finite answer when a toy split is separable).
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (a, b, 1.0, 0.0, 1.0);
            for &(x, y) in &examples {
                let p = 1.0 / (1.0 + (-(a * x + b)).exp());
                let (r, w) = (p - y, p * (1.0 - p));
                ga += r * x;
                gb += r;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-12 {
                break;
            }
            let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
            a -= da;
            b -= db;
            if da.abs().max(db.abs()) < 1e-10 {
                break;
            }
        }
        Self { a, b, counts }
    }
}

impl Scores for PopularityClick {
    fn score(&self, _: u32, _: &[u32], _: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.counts);
    }

    fn click(&self, _: u32, item: u32) -> Option<f32> {
        let x = f64::from(*self.counts.get(item as usize)?).ln_1p();
        Some((1.0 / (1.0 + (-(self.a * x + self.b)).exp())) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(user: u32, item: u32) -> Interaction {
        Interaction {
            user,
            item,
            rating: None,
            timestamp: None,
        }
    }

    /// User 0 touched items 0–2 (train 0, 1; valid 2); user 1 item 3 in test.
    fn split() -> Split {
        Split {
            n_users: 2,
            n_items: 5,
            train: vec![at(0, 0), at(0, 1), at(1, 0), at(1, 1)],
            valid: vec![at(0, 2)],
            test: vec![at(1, 3)],
            test_excludes_valid: true,
        }
    }

    #[test]
    fn pairs_are_balanced_seeded_and_never_touched() {
        let split = split();
        let pairs = click_pairs(&split, Target::Valid);
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            pairs[0],
            ClickPair {
                user: 0,
                item: 2,
                clicked: true
            }
        );
        // User 0's negative is item 3 or 4: never 0–2, which they touched.
        assert!(
            !pairs[1].clicked && [3, 4].contains(&pairs[1].item),
            "{pairs:?}"
        );
        assert_eq!(click_pairs(&split, Target::Valid), pairs, "seeded");
        let test = click_pairs(&split, Target::Test);
        assert!(
            !test[1].clicked && [2, 4].contains(&test[1].item),
            "{test:?}"
        );
    }

    #[test]
    fn metrics_need_click_probabilities() {
        struct Oracle;
        impl Scores for Oracle {
            fn score(&self, _: u32, _: &[u32], _: &[f32], _: &mut [f32]) {}
            fn click(&self, user: u32, item: u32) -> Option<f32> {
                Some(if (user, item) == (0, 2) { 0.8 } else { 0.4 })
            }
        }
        let pairs = click_pairs(&split(), Target::Valid);
        let (auc, loss) = click_metrics(&Oracle, &pairs).unwrap();
        assert_eq!(auc, 1.0);
        assert!((loss - (-(0.8f64.ln() + 0.6f64.ln()) / 2.0)).abs() < 1e-7);
        let none = PopularityClick::fit(&split(), 1);
        assert!(click_metrics(&none, &[]).is_none());
    }

    #[test]
    fn the_popularity_baseline_prefers_popular_items() {
        // Items 0 and 1 have two training interactions each, the rest none: a > 0.
        let m = PopularityClick::fit(&split(), 1);
        assert!(m.a > 0.0, "{m:?}");
        assert!(m.click(0, 0).unwrap() > m.click(0, 4).unwrap());
    }
}
