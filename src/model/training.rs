//! The one training loop every trainer runs ([`fit`]), and what it is made of: progress reports,
//! early stopping on a validation metric, the divergence check and negative sampling.
//!
//! A trainer supplies two closures — the loss of one mini-batch, and a validation that returns
//! the metric and a snapshot — and [`fit`] does the rest the same way for every model: shuffle,
//! batch, backward, optimizer step; the epoch's mean loss summed on the device and read back
//! once per epoch (never per batch); validation every `eval_every` epochs and on the last;
//! early stopping with patience; progress to the observer. The best snapshot is returned.

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::device::read_floats;
use crate::error::{Error, Result};
use crate::rng::SeededRng;

/// What every trained model's configuration shares, embedded (flattened: the JSON keeps its flat
/// shape) in each: [`crate::model::FactorConfig`], `GraphConfig`, `VbprConfig`, `HybridConfig`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingConfig {
    /// Width of the learned vectors.
    pub dim: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Evaluate on validation every this many epochs (and on the last)…
    pub eval_every: usize,
    /// …and stop after this many evaluations without improvement.
    pub patience: usize,
    /// Initial weights, shuffling and negative sampling.
    pub seed: u64,
    /// Devices of one backend training data-parallel replicas ([`fit_on`]; the `multi-device`
    /// feature); 1 is the usual single-device loop. Recorded because it changes the negative
    /// sampling streams (one per device), so a seed reproduces a model only with the same count
    /// — and, on several devices, only for models without dropout (SASRec's and the two-tower's
    /// dropout draws come from the backend's one generator, in whatever order the replicas'
    /// threads reach it).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub devices: usize,
}

/// The most data-parallel replicas: each holds the whole model (and on the CPU is a thread).
pub const MAX_DEVICES: usize = 64;

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl TrainingConfig {
    /// The one check of the shared fields, for every model; `model` names it in the message.
    pub fn validate(&self, model: &str) -> Result<()> {
        let problems = [
            (self.dim == 0, "dim must be ≥ 1"),
            (self.epochs == 0, "epochs must be ≥ 1"),
            (self.batch_size == 0, "batch_size must be ≥ 1"),
            (
                !(self.lr > 0.0 && self.lr.is_finite()),
                "lr must be a positive number",
            ),
            (
                !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()),
                "weight_decay must be ≥ 0",
            ),
            (self.eval_every == 0, "eval_every must be ≥ 1"),
            (self.patience == 0, "patience must be ≥ 1"),
            (
                !(1..=MAX_DEVICES).contains(&self.devices),
                "devices must be between 1 and 64",
            ),
            (
                self.batch_size < self.devices,
                "batch_size must be at least the number of devices (each takes a shard)",
            ),
        ];
        match problems.iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(Error::Config(format!("{model}: {why}"))),
            None => Ok(()),
        }
    }

    /// The loop's schedule; `higher_is_better` says which way the validation metric goes.
    pub fn schedule(&self, higher_is_better: bool) -> Schedule {
        Schedule {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            eval_every: self.eval_every,
            patience: self.patience,
            higher_is_better,
            devices: self.devices,
        }
    }

    /// An error unless this configuration trains on one device: for trainers (and solvers)
    /// without data-parallel replicas.
    pub fn single_device(&self, model: &str) -> Result<()> {
        match self.devices {
            1 => Ok(()),
            n => Err(Error::Config(format!(
                "{model} trains on one device (asked for {n})"
            ))),
        }
    }
}

/// How long and how often: the part of a training configuration the loop reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub eval_every: usize,
    pub patience: usize,
    /// Whether a higher validation metric is better (NDCG) or a lower one (RMSE).
    pub higher_is_better: bool,
    /// Data-parallel replicas ([`fit_on`]); 1 for one device.
    pub devices: usize,
}

/// Trains `net` on `n_examples` examples (indices shuffled with `rng` each epoch and cut into
/// `schedule.batch_size` batches) with `optim`; `batch_loss(net, batch, rng)` is the scalar loss
/// of one batch of example indices, `validate(net)` the validation metric and the snapshot kept
/// if it is the best. Returns the best snapshot and its metric. One device; [`fit_on`] is the
/// same loop for trainers that can also run data-parallel replicas.
#[allow(clippy::too_many_arguments)]
pub fn fit<B, M, O, T>(
    schedule: &Schedule,
    mut net: M,
    mut optim: O,
    n_examples: usize,
    rng: &mut SeededRng,
    observer: &mut dyn TrainObserver,
    mut batch_loss: impl FnMut(&M, &[usize], &mut SeededRng) -> Result<Tensor<B, 1>>,
    mut validate: impl FnMut(&M) -> Result<(f64, T)>,
) -> Result<(T, f64)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    if n_examples == 0 {
        return Err(Error::Data("no training interactions".into()));
    }
    let mut stopper = EarlyStopping::new(schedule.patience, schedule.higher_is_better);
    let mut order: Vec<usize> = (0..n_examples).collect();
    for epoch in 1..=schedule.epochs {
        rng.shuffle(&mut order);
        let (next, loss) = train_epoch(
            schedule,
            &order,
            net,
            &mut optim,
            &mut |net: &M, batch: &[usize]| batch_loss(net, batch, rng),
            None,
        )?;
        net = next;
        let state = EpochState {
            epoch,
            epochs: schedule.epochs,
            eval_every: schedule.eval_every,
            loss,
        };
        if end_epoch(state, &mut stopper, observer, || validate(&net))? {
            break;
        }
    }
    best_of(stopper)
}

/// [`fit`] on `schedule.devices` devices of `device`'s backend: with one, exactly [`fit`];
/// with more (the `multi-device` feature), data-parallel replicas through burn's collective
/// all-reduce. `batch_loss_on(device)` builds the per-batch loss for one device (whatever the
/// loss needs on that device: graphs, biases); each replica gets its own.
///
/// Data parallelism here is the textbook synchronous kind (PyTorch DDP, burn-train's DDP
/// strategy): every device holds the whole model; each batch is cut into one shard per device;
/// each replica computes its shard's loss and gradients; the gradients are averaged by an
/// all-reduce, with each shard's loss weighted by its share of the batch so the average is the
/// gradient of the whole batch's mean loss; every replica then takes the same optimizer step,
/// so they stay identical. The shuffled order is the same on every device; negatives are drawn
/// from one seeded stream per device. A last batch smaller than the device count is skipped.
/// Device 0 (the caller's thread) validates and decides when to stop.
#[allow(clippy::too_many_arguments)]
pub fn fit_on<B, M, O, T, L>(
    device: &B::Device,
    schedule: &Schedule,
    net: M,
    optim: O,
    n_examples: usize,
    rng: &mut SeededRng,
    observer: &mut dyn TrainObserver,
    batch_loss_on: impl Fn(&B::Device) -> L + Sync,
    validate: impl FnMut(&M) -> Result<(f64, T)>,
) -> Result<(T, f64)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B> + Clone + Send,
    T: Send,
    L: FnMut(&M, &[usize], &mut SeededRng) -> Result<Tensor<B, 1>>,
{
    if schedule.devices <= 1 {
        let batch_loss = batch_loss_on(device);
        return fit(
            schedule, net, optim, n_examples, rng, observer, batch_loss, validate,
        );
    }
    #[cfg(feature = "multi-device")]
    {
        super::parallel::fit_replicas(
            device,
            schedule,
            net,
            optim,
            n_examples,
            rng,
            observer,
            batch_loss_on,
            validate,
        )
    }
    #[cfg(not(feature = "multi-device"))]
    {
        let _ = (
            net,
            optim,
            n_examples,
            rng,
            observer,
            batch_loss_on,
            validate,
        );
        Err(Error::Device(format!(
            "training on {} devices needs a build with `--features multi-device`",
            schedule.devices
        )))
    }
}

/// The best snapshot the early stopper kept, or the error for none.
pub(crate) fn best_of<T>(stopper: EarlyStopping<T>) -> Result<(T, f64)> {
    stopper
        .into_best()
        .map(|(value, best)| (best, value))
        .ok_or_else(|| {
            Error::Data(
                "validation produced no finite metric (is the validation split empty?)".into(),
            )
        })
}

/// A replica's place among the devices, for [`train_epoch`]: which shard of each batch is its
/// own, and how the replicas agree (see `model::parallel`).
pub(crate) trait Replica<B: AutodiffBackend> {
    /// This replica's index and the number of replicas.
    fn place(&self) -> (usize, usize);
    /// Waits for every replica's verdict on the step (`ok`); an error if any failed.
    fn agree(&self, ok: bool) -> Result<()>;
    /// Averages the gradients over the replicas.
    fn all_reduce(&self, grads: GradientsParams) -> Result<GradientsParams>;
}

/// The loss of one batch (or shard) of example indices.
pub(crate) type BatchLoss<'a, M, B> = dyn FnMut(&M, &[usize]) -> Result<Tensor<B, 1>> + 'a;

/// One epoch over `order`: batch, loss, backward, optimizer step. With a `replica`, each batch is
/// cut into shards and this replica trains on its own (see [`fit_on`]). Returns the model and the
/// epoch's mean loss, summed on the device and read back once.
pub(crate) fn train_epoch<B, M, O>(
    schedule: &Schedule,
    order: &[usize],
    mut net: M,
    optim: &mut O,
    batch_loss: &mut BatchLoss<'_, M, B>,
    replica: Option<&dyn Replica<B>>,
) -> Result<(M, f64)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let mut loss_sum: Option<Tensor<B::InnerBackend, 1>> = None;
    let mut batches = 0usize;
    for batch in order.chunks(schedule.batch_size.max(1)) {
        let (shard, weight) = match replica {
            None => (batch, 1.0),
            Some(r) => {
                let (k, n) = r.place();
                if batch.len() < n {
                    continue; // every replica skips it: none would be left without a shard
                }
                let (a, b) = (k * batch.len() / n, (k + 1) * batch.len() / n);
                (&batch[a..b], ((b - a) * n) as f64 / batch.len() as f64)
            }
        };
        // Loss and gradients of this batch (or shard), its loss weighted by the shard's share.
        let mut compute = || -> Result<(Tensor<B::InnerBackend, 1>, GradientsParams)> {
            let mut loss = batch_loss(&net, shard)?;
            if weight != 1.0 {
                loss = loss.mul_scalar(weight);
            }
            let detached = loss.clone().inner();
            Ok((detached, GradientsParams::from_grads(loss.backward(), &net)))
        };
        let (detached, grads) = match replica {
            None => compute()?,
            Some(r) => {
                // A panic (burn's way with a device out of memory) or an error in one replica is
                // every replica's verdict before any of them enters the all-reduce, which would
                // otherwise wait forever for the one that left; a failing one reports its own.
                let computed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut compute))
                    .unwrap_or_else(|_| Err(Error::Device("a training step panicked".into())));
                let agreed = r.agree(computed.is_ok());
                let computed = computed?;
                agreed?;
                (computed.0, r.all_reduce(computed.1)?)
            }
        };
        loss_sum = Some(match loss_sum {
            None => detached,
            Some(sum) => sum + detached,
        });
        batches += 1;
        net = optim.step(schedule.lr, net, grads);
    }
    let loss = match loss_sum {
        Some(sum) => f64::from(read_floats(sum)?[0]) / batches as f64,
        None => 0.0,
    };
    Ok((net, loss))
}

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

/// The softmax's candidate bias over the catalog, `[1, n]`: 0 for items the model trains on,
/// −10⁹ for cold ones (no training signal: never a softmax candidate).
pub fn candidate_bias<B: burn::tensor::backend::Backend>(
    cold: &[bool],
    device: &B::Device,
) -> Tensor<B, 2> {
    let bias: Vec<f32> = cold.iter().map(|&c| if c { -1e9 } else { 0.0 }).collect();
    crate::device::float_tensor(bias, [1, cold.len()], device)
}

/// Mean softmax cross-entropy of each row's target column over the catalog: `logits /
/// temperature` plus [`candidate_bias`]. `targets` is `[batch, 1]`.
///
/// The value is `mean(logsumexp(z) − z_target)`; the gradient, `(softmax(z) − onehot) / batch`
/// with respect to `z`, is given to autodiff directly as the constant coefficient of a linear
/// surrogate `Σ z ⊙ c` (whose value is subtracted again), so the softmax is computed once,
/// outside the graph. Differentiating `log_softmax` step by step instead traverses the
/// `[batch, items]` block about twice as often (the shift, exp, sum, log and gather each with
/// its own backward); this is the largest per-batch cost of the full-catalog softmax.
pub fn softmax_loss<B: burn::tensor::backend::Backend>(
    logits: Tensor<B, 2>,
    targets: Tensor<B, 2, burn::tensor::Int>,
    temperature: f64,
    candidate_bias: &Tensor<B, 2>,
) -> Tensor<B, 1> {
    let z = logits.div_scalar(temperature) + candidate_bias.clone();
    let batch = z.dims()[0];
    let fixed = z.clone().detach();
    let max = fixed.clone().max_dim(1);
    let exp = (fixed.clone() - max.clone()).exp();
    let total = exp.clone().sum_dim(1);
    let value = (total.clone().log() + max - fixed.gather(1, targets.clone())).mean();
    let ones = Tensor::ones([batch, 1], &z.device());
    let coefficient = (exp / total)
        .scatter(1, targets, ones.neg(), burn::tensor::IndexingUpdateOp::Add)
        .div_scalar(batch as f64);
    let surrogate = (z * coefficient).sum();
    surrogate.clone() - surrogate.detach() + value
}

/// [`sample_negative`] that also skips `cold` items (they are not trained on).
pub fn sample_warm_negative(rng: &mut SeededRng, seen: &[u32], cold: &[bool]) -> u32 {
    loop {
        let j = sample_negative(rng, cold.len(), seen);
        if !cold[j as usize] {
            return j;
        }
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
    fn configs_keep_their_flat_json_so_older_bundles_load() {
        // A bundle manifest's model, as written before `TrainingConfig` existed.
        let json = r#"{"kind": "bpr-mf", "dim": 128, "epochs": 5, "batch_size": 1024,
            "lr": 0.001, "weight_decay": 0.003, "init_std": 0.1, "eval_every": 5,
            "patience": 4, "seed": 2026}"#;
        let config: crate::model::ModelConfig = serde_json::from_str(json).unwrap();
        let crate::model::ModelConfig::BprMf(c) = &config else {
            panic!("{config:?}")
        };
        assert_eq!((c.train.dim, c.train.epochs, c.train.seed), (128, 5, 2026));
        let back: serde_json::Value = serde_json::to_value(&config).unwrap();
        let orig: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, orig);
        let mut bad = c.train.clone();
        bad.lr = f64::NAN;
        let err = bad.validate("BPR-MF").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: BPR-MF: lr must be a positive number"
        );
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
