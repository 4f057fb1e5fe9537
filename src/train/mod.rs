//! What every training loop shares: progress reports, early stopping and negative sampling;
//! and the pipeline from a dataset to a bundle.

pub mod experiment;
pub mod personalize;
mod pipeline;

pub use pipeline::{export_topk, reevaluate, train_bundle, TrainRequest};

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

/// Where an epoch stands, for [`end_epoch`].
#[derive(Debug, Clone, Copy)]
pub struct EpochState {
    pub epoch: usize,
    pub epochs: usize,
    pub eval_every: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
}

/// Ends an epoch the same way for every trainer: a non-finite loss is an error; on evaluation
/// epochs (every `eval_every`, and the last) `validate` gives the metric and a snapshot for the
/// early stopper; the observer hears the report. Returns true when training should stop.
pub fn end_epoch<T>(
    state: EpochState,
    stopper: &mut EarlyStopping<T>,
    observer: &mut dyn TrainObserver,
    validate: impl FnOnce() -> crate::Result<(f64, T)>,
) -> crate::Result<bool> {
    let EpochState {
        epoch,
        epochs,
        eval_every,
        loss,
    } = state;
    if !loss.is_finite() {
        return Err(crate::Error::Config(format!(
            "training diverged at epoch {epoch} (loss {loss}); lower lr"
        )));
    }
    let mut report = EpochReport {
        epoch,
        epochs,
        loss,
        valid: None,
    };
    let mut stop = false;
    if epoch % eval_every == 0 || epoch == epochs {
        let (value, snapshot) = validate()?;
        report.valid = Some(value);
        stop = stopper.observe(value, snapshot);
    }
    observer.on_epoch(&report);
    Ok(stop)
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
    fn end_epoch_validates_on_schedule_and_rejects_divergence() {
        let mut es = EarlyStopping::new(1, true);
        let mut seen = Vec::new();
        let mut observer = |r: &EpochReport| seen.push((r.epoch, r.valid));
        let state = |epoch, loss| EpochState {
            epoch,
            epochs: 3,
            eval_every: 2,
            loss,
        };
        assert!(!end_epoch(state(1, 0.5), &mut es, &mut observer, || unreachable!()).unwrap());
        assert!(!end_epoch(state(2, 0.4), &mut es, &mut observer, || Ok((0.3, 'a'))).unwrap());
        // The last epoch is always evaluated; no improvement with patience 1 stops.
        assert!(end_epoch(state(3, 0.3), &mut es, &mut observer, || Ok((0.2, 'b'))).unwrap());
        assert!(
            end_epoch(state(4, f64::NAN), &mut es, &mut observer, || Ok((
                1.0, 'c'
            )))
            .is_err()
        );
        assert_eq!(seen, [(1, None), (2, Some(0.3)), (3, Some(0.2))]);
        assert_eq!(es.into_best(), Some((0.3, 'a')));
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
