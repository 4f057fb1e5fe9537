//! Evaluation protocols: which interactions count as positive feedback, and how each user's
//! interactions are split into train / validation / test.
//!
//! Ids stay those of the whole log, so ranking is always over the full catalog.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Interaction, InteractionLog};
use crate::error::{Error, Result};
use crate::rng::SeededRng;

/// How ratings are read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Feedback {
    /// Keep interactions whose rating is at least `threshold` (all of them when `None`, or when
    /// an interaction carries no rating) and treat them as positive.
    Implicit { threshold: Option<f32> },
    /// Keep every rating; models predict the rating value.
    Explicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitStrategy {
    /// Each user's interactions are shuffled (seeded) and cut by these ratios.
    PerUserRandom { train: f64, valid: f64, test: f64 },
    /// Each user's last interaction (by timestamp) is the test item, the one before it the
    /// validation item; the rest is training.
    TemporalLeaveLastOut,
    /// The split read with the data ([`super::given`]): each interaction keeps its part.
    Given,
    /// Fold `fold` of `folds`-fold cross-validation: each user's interactions are shuffled
    /// (seeded, the same for every fold) and dealt round the folds from a seeded offset per user;
    /// fold `fold` is the test part, the next fold (mod `folds`) the validation part, the rest
    /// training. Over the `folds` folds every interaction is tested exactly once; 10 folds give
    /// the 8:1:1 proportions of [`SplitStrategy::PerUserRandom`]. A user whose training part
    /// would be empty (fewer interactions than folds) trains on all of them in that fold.
    KFold { folds: usize, fold: usize },
}

/// A complete, reproducible protocol: recorded in every bundle so evaluation can be redone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub feedback: Feedback,
    pub split: SplitStrategy,
    pub seed: u64,
    /// At test, exclude the user's validation items from the ranking as well as the training
    /// items (true, the default); MMRec's convention keeps them in the ranking (false).
    #[serde(default = "yes")]
    pub test_excludes_valid: bool,
    /// Evaluate (validation and test) on a seeded random sample of this many users instead of
    /// all: for catalogs where full ranking for every user costs more than training (10⁶
    /// items). Training uses every user either way. `None`: all users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_users: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Protocol {
    /// Implicit feedback (rating ≥ 4), per-user random 8:1:1: the protocol of our results table.
    pub fn implicit_811(seed: u64) -> Self {
        Self {
            feedback: Feedback::Implicit {
                threshold: Some(4.0),
            },
            split: SplitStrategy::PerUserRandom {
                train: 0.8,
                valid: 0.1,
                test: 0.1,
            },
            seed,
            test_excludes_valid: true,
            eval_users: None,
        }
    }

    /// A given split (see [`super::given`]): every interaction is kept (no rating threshold) and
    /// stays in the part the files put it in.
    pub fn given(test_excludes_valid: bool) -> Self {
        Self {
            feedback: Feedback::Implicit { threshold: None },
            split: SplitStrategy::Given,
            seed: 0,
            test_excludes_valid,
            eval_users: None,
        }
    }

    pub fn explicit_811(seed: u64) -> Self {
        Self {
            feedback: Feedback::Explicit,
            ..Self::implicit_811(seed)
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let SplitStrategy::PerUserRandom { train, valid, test } = self.split {
            let ok = [train, valid, test].iter().all(|r| (0.0..=1.0).contains(r))
                && train > 0.0
                && (train + valid + test - 1.0).abs() < 1e-6;
            if !ok {
                return Err(Error::Config(format!(
                    "split ratios must be in [0, 1], train > 0, and sum to 1 (got {train}:{valid}:{test})"
                )));
            }
        }
        if let SplitStrategy::KFold { folds, fold } = self.split {
            if folds < 3 || fold >= folds {
                return Err(Error::Config(format!(
                    "k-fold needs at least 3 folds (test, validation, training) and a fold \
                     below their number (got fold {fold} of {folds})"
                )));
            }
        }
        if self.eval_users == Some(0) {
            return Err(Error::Config("eval_users must be at least 1".into()));
        }
        Ok(())
    }
}

/// Train / validation / test interactions over the full id space of the log.
#[derive(Debug, Clone)]
pub struct Split {
    pub n_users: usize,
    pub n_items: usize,
    pub train: Vec<Interaction>,
    pub valid: Vec<Interaction>,
    pub test: Vec<Interaction>,
    /// Whether ranking for test excludes the user's validation items (see [`Protocol`]).
    pub test_excludes_valid: bool,
}

/// Items of each user, indexed by user.
pub fn items_by_user(n_users: usize, interactions: &[Interaction]) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n_users];
    for x in interactions {
        out[x.user as usize].push(x.item);
    }
    out
}

impl Split {
    /// Splits `log` by `protocol`. An empty validation part is an error: epochs, early stopping
    /// and every setting are chosen on it, and without it they would be chosen on nothing.
    pub fn new(log: &InteractionLog, protocol: &Protocol) -> Result<Self> {
        let mut split = Self::parts(log, protocol)?;
        if let Some(n) = protocol.eval_users {
            split.sample_eval_users(n, protocol.seed);
        }
        if split.valid.is_empty() {
            return Err(Error::Data(format!(
                "the validation part is empty ({} training, {} test interactions): give a \
                 validation file with positives, or more interactions per user",
                split.train.len(),
                split.test.len()
            )));
        }
        Ok(split)
    }

    /// Keeps the held-out interactions of `n` users drawn (seeded) from those that have any.
    fn sample_eval_users(&mut self, n: usize, seed: u64) {
        let mut users: Vec<u32> = self
            .valid
            .iter()
            .chain(&self.test)
            .map(|x| x.user)
            .collect();
        users.sort_unstable();
        users.dedup();
        if users.len() <= n {
            return;
        }
        SeededRng::new(seed ^ 0xE7A1_05E5).shuffle(&mut users);
        let mut keep = vec![false; self.n_users];
        for &u in &users[..n] {
            keep[u as usize] = true;
        }
        self.valid.retain(|x| keep[x.user as usize]);
        self.test.retain(|x| keep[x.user as usize]);
    }

    /// The split without the validation check.
    fn parts(log: &InteractionLog, protocol: &Protocol) -> Result<Self> {
        protocol.validate()?;
        let given = protocol.split == SplitStrategy::Given;
        if given && log.parts.len() != log.interactions.len() {
            return Err(Error::Config(
                "a given split needs data read with its split (--split given with --train/--valid \
                 or --split-column)"
                    .into(),
            ));
        }
        let kept: Vec<(Interaction, usize)> = match protocol.feedback {
            Feedback::Explicit => {
                if let Some(x) = log.interactions.iter().find(|x| x.rating.is_none()) {
                    return Err(Error::Data(format!(
                        "explicit feedback needs ratings, but user '{}' / item '{}' has none",
                        log.users.id(x.user),
                        log.items.id(x.item)
                    )));
                }
                log.interactions.iter().copied().zip(0..).collect()
            }
            Feedback::Implicit { threshold } => log
                .interactions
                .iter()
                .copied()
                .zip(0..)
                .filter(|(x, _)| match (threshold, x.rating) {
                    (Some(t), Some(r)) => r >= t,
                    _ => true,
                })
                .collect(),
        };
        if kept.is_empty() {
            return Err(Error::Data(match log.interactions.len() {
                0 => "no interactions to train on (is the file only a header?)".into(),
                n => format!("none of the {n} interactions is a positive under this protocol (lower --threshold?)"),
            }));
        }
        let kept = dedup_latest(kept);
        let n_users = log.users.len();
        let (train, valid, test) = match given {
            true => by_part(kept, &log.parts),
            false => per_user(kept, n_users, protocol)?,
        };
        Ok(Self {
            n_users,
            n_items: log.items.len(),
            train,
            valid,
            test,
            test_excludes_valid: protocol.test_excludes_valid,
        })
    }
}

type Parts = (Vec<Interaction>, Vec<Interaction>, Vec<Interaction>);

/// A given split: each interaction goes to the part it was read with (the loader has checked
/// that no pair is in two parts).
fn by_part(kept: Vec<(Interaction, usize)>, parts: &[super::Part]) -> Parts {
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (x, i) in kept {
        match parts[i] {
            super::Part::Train => train.push(x),
            super::Part::Valid => valid.push(x),
            super::Part::Test => test.push(x),
        }
    }
    (train, valid, test)
}

/// The per-user strategies: each user's interactions cut into train / valid / test.
fn per_user(kept: Vec<(Interaction, usize)>, n_users: usize, protocol: &Protocol) -> Result<Parts> {
    let mut per_user: Vec<Vec<Interaction>> = vec![Vec::new(); n_users];
    for (x, _) in kept {
        per_user[x.user as usize].push(x);
    }
    let mut rng = SeededRng::new(protocol.seed);
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for mut xs in per_user {
        let n = xs.len();
        if let SplitStrategy::KFold { folds, fold } = protocol.split {
            rng.shuffle(&mut xs);
            let offset = rng.below(folds);
            let of = |p: usize| (p + offset) % folds;
            let valid_fold = (fold + 1) % folds;
            if (0..n).all(|p| of(p) == fold || of(p) == valid_fold) {
                train.extend(xs);
                continue;
            }
            for (p, x) in xs.into_iter().enumerate() {
                match of(p) {
                    f if f == fold => test.push(x),
                    f if f == valid_fold => valid.push(x),
                    _ => train.push(x),
                }
            }
            continue;
        }
        let (n_valid, n_test) = match protocol.split {
            SplitStrategy::PerUserRandom {
                valid: v, test: t, ..
            } => {
                rng.shuffle(&mut xs);
                let n_test = (n as f64 * t).round() as usize;
                let n_valid = (n as f64 * v).round() as usize;
                // Keep at least one training interaction per user.
                let n_test = n_test.min(n.saturating_sub(1));
                (n_valid.min(n.saturating_sub(1 + n_test)), n_test)
            }
            SplitStrategy::TemporalLeaveLastOut => {
                if xs.iter().any(|x| x.timestamp.is_none()) {
                    return Err(Error::Data(
                        "temporal leave-last-out needs a timestamp on every interaction".into(),
                    ));
                }
                // Stable sort: equal timestamps keep file order.
                xs.sort_by_key(|x| x.timestamp);
                (usize::from(n >= 3), usize::from(n >= 2))
            }
            SplitStrategy::Given | SplitStrategy::KFold { .. } => (0, 0),
        };
        let n_train = n - n_valid - n_test;
        test.extend_from_slice(&xs[n_train + n_valid..]);
        valid.extend_from_slice(&xs[n_train..n_train + n_valid]);
        xs.truncate(n_train);
        train.extend(xs);
    }
    Ok((train, valid, test))
}

/// Keeps one interaction per (user, item): the latest by timestamp, else the last in the file.
/// Each interaction carries its index in the log.
fn dedup_latest(xs: Vec<(Interaction, usize)>) -> Vec<(Interaction, usize)> {
    let mut last: HashMap<(u32, u32), usize> = HashMap::with_capacity(xs.len());
    for (i, (x, _)) in xs.iter().enumerate() {
        last.entry((x.user, x.item))
            .and_modify(|j| {
                if x.timestamp >= xs[*j].0.timestamp {
                    *j = i;
                }
            })
            .or_insert(i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| xs[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(rows: &[(&str, &str, f32, i64)]) -> InteractionLog {
        let mut log = InteractionLog::default();
        for &(u, i, r, t) in rows {
            log.push(u, i, Some(r), Some(t));
        }
        log
    }

    /// User `u{k}` rated items `i0`, `i1`, … (`counts[k]` of them) 5 stars, item `i{j}` at time j.
    fn dense_log(counts: &[usize]) -> InteractionLog {
        let mut log = InteractionLog::default();
        for (u, &n) in counts.iter().enumerate() {
            for i in 0..n {
                log.push(
                    &format!("u{u}"),
                    &format!("i{i}"),
                    Some(5.0),
                    Some(i as i64),
                );
            }
        }
        log
    }

    #[test]
    fn per_user_random_split_is_seeded_disjoint_and_811() {
        let log = dense_log(&[20, 20, 20]);
        let a = Split::new(&log, &Protocol::implicit_811(1)).unwrap();
        let b = Split::new(&log, &Protocol::implicit_811(1)).unwrap();
        let c = Split::new(&log, &Protocol::implicit_811(2)).unwrap();
        assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (48, 6, 6));
        assert_eq!(a.test, b.test);
        assert_ne!(a.test, c.test);
        let mut all: Vec<_> = a
            .train
            .iter()
            .chain(&a.valid)
            .chain(&a.test)
            .map(|x| (x.user, x.item))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 60);
    }

    #[test]
    fn k_folds_test_every_interaction_once_with_the_next_fold_as_validation() {
        // 5 users with 2..=22 interactions each (user 0 has fewer than the folds).
        let counts = [2, 7, 12, 17, 22];
        let log = dense_log(&counts);
        let n_rows: usize = counts.iter().sum();
        let fold = |fold| {
            let p = Protocol {
                split: SplitStrategy::KFold { folds: 4, fold },
                ..Protocol::implicit_811(7)
            };
            Split::new(&log, &p).unwrap()
        };
        let pairs = |xs: &[Interaction]| {
            let mut v: Vec<(u32, u32)> = xs.iter().map(|x| (x.user, x.item)).collect();
            v.sort_unstable();
            v
        };
        let splits: Vec<Split> = (0..4).map(fold).collect();
        let mut tested = Vec::new();
        for (f, s) in splits.iter().enumerate() {
            let all = s.train.len() + s.valid.len() + s.test.len();
            assert_eq!(all, n_rows, "fold {f} keeps every interaction");
            // The validation part of fold f is the test part of fold f + 1 (users with enough
            // interactions; user 0's two interactions may be all-training in some folds).
            let next = &splits[(f + 1) % 4];
            let not_user0 = |v: Vec<(u32, u32)>| -> Vec<(u32, u32)> {
                v.into_iter().filter(|p| p.0 != 0).collect()
            };
            assert_eq!(
                not_user0(pairs(&s.valid)),
                not_user0(pairs(&next.test)),
                "fold {f}"
            );
            tested.extend(pairs(&s.test));
        }
        tested.sort_unstable();
        let n_tested = tested.len();
        tested.dedup();
        assert_eq!(tested.len(), n_tested, "no interaction is tested twice");
        // Every interaction of users 1..=4 is tested once; user 0 (2 interactions, 4 folds)
        // may train on both in a fold whose test/validation would leave it nothing.
        assert!(n_tested >= n_rows - 2, "{n_tested} of {n_rows}");
        // Seeded: the same fold twice is the same split; another seed differs.
        assert_eq!(pairs(&fold(1).test), pairs(&splits[1].test));
        let other = Protocol {
            split: SplitStrategy::KFold { folds: 4, fold: 1 },
            ..Protocol::implicit_811(8)
        };
        assert_ne!(
            pairs(&Split::new(&log, &other).unwrap().test),
            pairs(&splits[1].test)
        );
        for (folds, fold) in [(2, 0), (4, 4)] {
            let p = Protocol {
                split: SplitStrategy::KFold { folds, fold },
                ..Protocol::implicit_811(7)
            };
            assert!(matches!(Split::new(&log, &p), Err(Error::Config(_))));
        }
    }

    #[test]
    fn implicit_threshold_drops_low_ratings_and_explicit_keeps_them() {
        let log = log(&[("u", "a", 5.0, 1), ("u", "b", 3.0, 2), ("u", "c", 4.0, 3)]);
        let s = Split::parts(&log, &Protocol::implicit_811(0)).unwrap();
        let kept = s.train.len() + s.valid.len() + s.test.len();
        assert_eq!(kept, 2);
        assert_eq!(s.n_items, 3, "ranking stays over the whole catalog");
        // One user with three events: nothing is left for validation.
        let e = Split::new(&log, &Protocol::implicit_811(0)).unwrap_err();
        assert!(e.to_string().contains("validation part is empty"), "{e}");
        let s = Split::parts(&log, &Protocol::explicit_811(0)).unwrap();
        assert_eq!(s.train.len() + s.valid.len() + s.test.len(), 3);
    }

    #[test]
    fn temporal_leave_last_out_takes_the_latest_items() {
        let log = log(&[
            ("u", "a", 5.0, 30),
            ("u", "b", 5.0, 10),
            ("u", "c", 5.0, 20),
            ("v", "a", 5.0, 1),
        ]);
        let p = Protocol {
            split: SplitStrategy::TemporalLeaveLastOut,
            ..Protocol::implicit_811(0)
        };
        let s = Split::new(&log, &p).unwrap();
        assert_eq!(s.test.iter().map(|x| x.item).collect::<Vec<_>>(), [0]);
        assert_eq!(s.valid.iter().map(|x| x.item).collect::<Vec<_>>(), [2]);
        assert_eq!(
            s.train.iter().map(|x| (x.user, x.item)).collect::<Vec<_>>(),
            [(0, 1), (1, 0)]
        );
    }

    #[test]
    fn bad_ratios_and_missing_ratings_are_errors() {
        let log = log(&[("u", "a", 5.0, 1)]);
        let mut p = Protocol::implicit_811(0);
        p.split = SplitStrategy::PerUserRandom {
            train: 0.5,
            valid: 0.1,
            test: 0.1,
        };
        assert!(matches!(Split::new(&log, &p), Err(Error::Config(_))));
        let mut log = log;
        log.push("v", "b", None, None);
        assert!(matches!(
            Split::new(&log, &Protocol::explicit_811(0)),
            Err(Error::Data(_))
        ));
    }

    #[test]
    fn no_interactions_or_no_positives_are_errors() {
        let empty = InteractionLog::default();
        let e = Split::new(&empty, &Protocol::implicit_811(0)).unwrap_err();
        assert!(e.to_string().contains("only a header"), "{e}");
        let low = log(&[("u", "a", 2.0, 1)]);
        let e = Split::new(&low, &Protocol::implicit_811(0)).unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
    }

    #[test]
    fn duplicates_keep_the_latest_event() {
        let log = log(&[("u", "a", 2.0, 5), ("u", "a", 5.0, 9), ("u", "b", 4.0, 1)]);
        let s = Split::parts(&log, &Protocol::explicit_811(0)).unwrap();
        let all: Vec<_> = s.train.iter().chain(&s.valid).chain(&s.test).collect();
        assert_eq!(all.len(), 2);
        assert!(all.iter().any(|x| x.item == 0 && x.rating == Some(5.0)));
    }
}
