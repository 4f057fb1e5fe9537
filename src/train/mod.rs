//! What every training loop shares: progress reports, early stopping and negative sampling;
//! and the pipeline from a dataset to a bundle.

pub mod experiment;
mod pipeline;

pub use pipeline::{reevaluate, train_bundle, TrainRequest};

use crate::rng::SeededRng;

/// One line of training progress.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
    /// The early-stopping metric on validation, on epochs where it was computed.
    pub valid: Option<f64>,
}

/// Receives progress; the CLI draws a progress bar with it, tests ignore it.
pub trait TrainObserver {
    fn on_epoch(&mut self, report: &EpochReport);
}

impl TrainObserver for () {
    fn on_epoch(&mut self, _: &EpochReport) {}
}

impl<F: FnMut(&EpochReport)> TrainObserver for F {
    fn on_epoch(&mut self, report: &EpochReport) {
        self(report)
    }
}

/// Stops after `patience` evaluations without improvement and remembers the best snapshot.
#[derive(Debug)]
pub struct EarlyStopping<T> {
    patience: usize,
    higher_is_better: bool,
    best: Option<(f64, T)>,
    since_best: usize,
}

impl<T> EarlyStopping<T> {
    pub fn new(patience: usize, higher_is_better: bool) -> Self {
        Self {
            patience,
            higher_is_better,
            best: None,
            since_best: 0,
        }
    }

    /// Records an evaluation; returns true when training should stop.
    pub fn observe(&mut self, value: f64, snapshot: T) -> bool {
        let improved = match &self.best {
            None => true,
            Some((best, _)) if self.higher_is_better => value > *best,
            Some((best, _)) => value < *best,
        };
        if improved && value.is_finite() {
            self.best = Some((value, snapshot));
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        self.since_best >= self.patience
    }

    pub fn into_best(self) -> Option<(f64, T)> {
        self.best
    }
}

/// Uniform negative sampling: an item the user has not interacted with in training.
/// `seen` is the user's sorted training items.
pub fn sample_negative(rng: &mut SeededRng, n_items: usize, seen: &[u32]) -> u32 {
    if seen.len() >= n_items {
        // A user who saw everything has no negatives; any item keeps the batch well-formed.
        return rng.below(n_items) as u32;
    }
    loop {
        let j = rng.below(n_items) as u32;
        if seen.binary_search(&j).is_err() {
            return j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_keeps_the_best_and_stops_after_patience() {
        let mut es = EarlyStopping::new(2, true);
        assert!(!es.observe(0.1, "a"));
        assert!(!es.observe(0.3, "b"));
        assert!(!es.observe(0.2, "c"));
        assert!(es.observe(0.25, "d"));
        assert_eq!(es.into_best(), Some((0.3, "b")));

        let mut es = EarlyStopping::new(1, false);
        assert!(!es.observe(1.0, 1));
        assert!(!es.observe(0.9, 2));
        assert!(es.observe(f64::NAN, 3));
        assert_eq!(es.into_best(), Some((0.9, 2)));
    }

    #[test]
    fn negatives_avoid_seen_items() {
        let mut rng = SeededRng::new(0);
        let seen = [0, 1, 2, 4];
        for _ in 0..200 {
            assert_eq!(sample_negative(&mut rng, 5, &seen), 3);
        }
    }
}
