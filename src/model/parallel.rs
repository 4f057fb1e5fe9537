//! Data-parallel training on several devices of one backend (the `multi-device` feature): the
//! replicas of [`super::training::fit_on`], synchronised by burn's collective all-reduce
//! (`burn::collective`, the same mechanism as burn-train's DDP strategy) — not a scheduler of
//! our own.
//!
//! Each device runs [`train_epoch`] on its shard of every batch in its own thread (device 0 on
//! the caller's, which also validates and reports). Three things keep the replicas in lockstep:
//! the gradients' all-reduce (mean) after every backward pass; a barrier on each step's verdict,
//! so a failing loss stops every replica instead of leaving the others waiting in the
//! all-reduce; and a barrier at each epoch's end, where device 0 decides whether to stop.
//!
//! burn's collective server is one per process and backend, so one data-parallel fit runs at a
//! time in a process (a lock; a second waits).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};

use burn::collective::{
    finish_collective, register, reset_collective, CollectiveConfig, PeerId, ReduceOperation,
};
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, DeviceId, DeviceOps};
use burn::tensor::Tensor;

use super::training::{
    best_of, end_epoch, train_epoch, EarlyStopping, EpochState, Replica, Schedule, TrainObserver,
};
use crate::error::{Error, Result};
use crate::rng::SeededRng;

/// One data-parallel fit per process at a time: burn's collective server is global.
static COLLECTIVE: Mutex<()> = Mutex::new(());

/// `n` devices of `first`'s backend: `first` and the next indices of its kind (GPUs 1, 2, … on
/// CUDA). On the CPU backend every index is the one CPU device: replicas are threads. (wgpu's
/// default device has no index, so the command line refuses `--devices` with it.)
pub fn replica_devices<D: DeviceOps>(first: &D, n: usize) -> Vec<D> {
    let id = first.id();
    (0..n.max(1))
        .map(|i| match i {
            0 => first.clone(),
            _ => D::from_id(DeviceId::new(id.type_id, id.index_id + i as u16)),
        })
        .collect()
}

/// The error a replica reports when another one failed.
const KNOCK_ON: &str = "data-parallel training stopped: another device failed";

fn is_knock_on(e: &Error) -> bool {
    matches!(e, Error::Device(m) if m == KNOCK_ON)
}

/// What the replicas share.
struct Shared {
    n: usize,
    barrier: Barrier,
    /// The first round (see [`Link::agree`]) in which some replica failed; `usize::MAX`: none.
    failed_round: AtomicUsize,
    /// Device 0 decided to stop (early stopping or the last epoch).
    stop: AtomicBool,
    /// The epoch's mean losses of every replica, summed.
    loss: Mutex<f64>,
}

/// One replica's side of the agreement. Every replica runs the same sequence of
/// [`Link::agree`] calls (the same batches, the same epochs), so the k-th call of each is one
/// round. A failure is recorded with the round it happened in, so a replica still reading the
/// verdict of an earlier round never mistakes it for its own.
struct Link<'a, B> {
    peer: usize,
    shared: &'a Shared,
    round: Cell<usize>,
    /// This replica has already told, or been told, that the run failed.
    told: Cell<bool>,
    _backend: std::marker::PhantomData<B>,
}

impl<'a, B> Link<'a, B> {
    fn new(peer: usize, shared: &'a Shared) -> Self {
        Self {
            peer,
            shared,
            round: Cell::new(0),
            told: Cell::new(false),
            _backend: std::marker::PhantomData,
        }
    }

    /// Waits for every replica's verdict on this round; an error if any failed in it (or
    /// earlier).
    fn agree(&self, ok: bool) -> Result<()> {
        let round = self.round.get() + 1;
        self.round.set(round);
        if !ok {
            self.shared.failed_round.fetch_min(round, Ordering::SeqCst);
        }
        self.shared.barrier.wait();
        match self.shared.failed_round.load(Ordering::SeqCst) <= round {
            false => Ok(()),
            true => {
                self.told.set(true);
                Err(Error::Device(KNOCK_ON.into()))
            }
        }
    }

    /// A failure of this replica's own, not yet agreed on: the others hear it in the round
    /// they are waiting in.
    fn fail(&self) {
        if !self.told.get() {
            let _ = self.agree(false);
        }
    }
}

impl<B: AutodiffBackend> Replica<B> for Link<'_, B> {
    fn place(&self) -> (usize, usize) {
        (self.peer, self.shared.n)
    }

    fn agree(&self, ok: bool) -> Result<()> {
        Link::agree(self, ok)
    }

    fn all_reduce(&self, grads: GradientsParams) -> Result<GradientsParams> {
        grads
            .all_reduce::<B::InnerBackend>(PeerId::from(self.peer as u32), ReduceOperation::Mean)
            .map_err(|e| Error::Device(format!("gradient all-reduce failed: {e:?}")))
    }
}

/// Device 0's extra duties: reporting progress and validating.
type Lead<'a, M, T> = (
    &'a mut dyn TrainObserver,
    &'a mut dyn FnMut(&M) -> Result<(f64, T)>,
);

/// The data-parallel [`super::training::fit_on`] (`schedule.devices` ≥ 2).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_replicas<B, M, O, T, L>(
    device: &B::Device,
    schedule: &Schedule,
    net: M,
    optim: O,
    n_examples: usize,
    rng: &mut SeededRng,
    observer: &mut dyn TrainObserver,
    batch_loss_on: impl Fn(&B::Device) -> L + Sync,
    mut validate: impl FnMut(&M) -> Result<(f64, T)>,
) -> Result<(T, f64)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B> + Clone + Send,
    T: Send,
    L: FnMut(&M, &[usize], &mut SeededRng) -> Result<Tensor<B, 1>>,
{
    let n = schedule.devices;
    if n_examples < n.max(1) {
        return Err(Error::Data(format!(
            "{n_examples} training examples cannot be shared by {n} devices"
        )));
    }
    let devices = replica_devices(device, n);
    // The shuffle is the same everywhere (each replica clones this state); negatives come from
    // one stream per device.
    let order_rng = rng.clone();
    let streams: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let _lock = COLLECTIVE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    reset_collective::<B::InnerBackend>();
    let shared = Shared {
        n,
        barrier: Barrier::new(n),
        failed_round: AtomicUsize::new(usize::MAX),
        stop: AtomicBool::new(false),
        loss: Mutex::new(0.0),
    };
    let config = CollectiveConfig::default().with_num_devices(n);

    let run_replica = |link: &Link<B>,
                       net: M,
                       mut optim: O,
                       lead: Option<Lead<M, T>>|
     -> Result<Option<(T, f64)>> {
        let peer = link.peer;
        let device = &devices[peer];
        // Registration waits for every replica; it fails only for a bad configuration or a
        // duplicate id, which this function never passes (same config, ids 0..n, after a reset).
        register::<B::InnerBackend>(PeerId::from(peer as u32), device.clone(), config.clone())
            .map_err(|e| Error::Device(format!("registering device {peer} failed: {e:?}")))?;
        // Moving the model and the loss's tensors to the device is where a missing device
        // shows (burn panics): caught by the caller, told to the others in this round.
        let mut net = match peer {
            0 => net,
            _ => net.fork(device),
        };
        let mut batch_loss = batch_loss_on(device);
        link.agree(true)?;
        let mut negatives = SeededRng::new(streams[peer]);
        let mut order_rng = order_rng.clone();
        let mut order: Vec<usize> = (0..n_examples).collect();
        let mut lead = lead.map(|(observer, validate)| {
            let stopper = EarlyStopping::new(schedule.patience, schedule.higher_is_better);
            (observer, validate, stopper)
        });
        for epoch in 1..=schedule.epochs {
            order_rng.shuffle(&mut order);
            let (next, loss) = train_epoch(
                schedule,
                &order,
                net,
                &mut optim,
                &mut |net: &M, batch: &[usize]| batch_loss(net, batch, &mut negatives),
                Some(link),
            )?;
            net = next;
            *shared.loss.lock().unwrap_or_else(|p| p.into_inner()) += loss;
            link.agree(true)?;
            if let Some((observer, validate, stopper)) = lead.as_mut() {
                let loss =
                    std::mem::take(&mut *shared.loss.lock().unwrap_or_else(|p| p.into_inner()))
                        / n as f64;
                let state = EpochState {
                    epoch,
                    epochs: schedule.epochs,
                    eval_every: schedule.eval_every,
                    loss,
                };
                let stop = end_epoch(state, stopper, &mut **observer, || validate(&net))?;
                shared.stop.store(stop, Ordering::SeqCst);
            }
            // The lead's verdict on the epoch; it set `stop` before this barrier and cannot
            // set it again before everyone has passed the next one.
            link.agree(true)?;
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
        }
        // Past the last round: whatever fails now (no finite validation metric) is this
        // replica's alone, with no one left to tell.
        link.told.set(true);
        lead.map(|(_, _, stopper)| best_of(stopper)).transpose()
    };

    // One replica's whole run; `lead` (device 0) validates, reports and decides to stop. Every
    // exit by error or panic first tells the others (in the round they wait in), so none is
    // left waiting at a barrier. Only a replica lost inside burn's all-reduce itself cannot be
    // heard from: the others would wait there.
    let replica =
        |peer: usize, net: M, optim: O, lead: Option<Lead<M, T>>| -> Result<Option<(T, f64)>> {
            let link = Link::<B>::new(peer, &shared);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_replica(&link, net, optim, lead)
            }))
            .unwrap_or_else(|_| Err(Error::Device(format!("device {peer}: training panicked"))));
            match run {
                Ok(best) => {
                    let _ = finish_collective::<B::InnerBackend>(PeerId::from(peer as u32));
                    Ok(best)
                }
                Err(e) => {
                    link.fail();
                    Err(e)
                }
            }
        };
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (1..n)
            .map(|peer| {
                let (net, optim) = (net.clone(), optim.clone());
                let replica = &replica;
                scope.spawn(move || replica(peer, net, optim, None))
            })
            .collect();
        let first = replica(0, net, optim, Some((observer, &mut validate)));
        let others: Vec<Result<Option<(T, f64)>>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Error::Device("a training thread panicked".into())))
            })
            .collect();
        (first, others)
    });
    reset_collective::<B::InnerBackend>();
    let (first, others) = results;
    // The most specific error: a device's own failure before "another device failed".
    let mut results: Vec<Result<Option<(T, f64)>>> = std::iter::once(first).chain(others).collect();
    if let Some(k) = results
        .iter()
        .position(|r| matches!(r, Err(e) if !is_knock_on(e)))
        .or_else(|| results.iter().position(|r| r.is_err()))
    {
        return Err(results.swap_remove(k).err().expect("an error at k"));
    }
    match results.swap_remove(0) {
        Ok(Some(best)) => Ok(best),
        _ => Err(Error::Device("device 0 kept no model".into())),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Initializer, Linear, LinearConfig};
    use burn::optim::SgdConfig;
    use burn::tensor::TensorData;

    use super::*;
    use crate::device::read_floats;
    use crate::model::training::fit_on;

    type B = Autodiff<Flex>;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fault {
        None,
        ErrorAt(usize),
        PanicAt(usize),
        ValidationAt(usize),
        NanValidation,
    }

    /// Linear regression on 23 examples in batches of 5, by plain SGD, on `devices` replicas;
    /// `fault` makes one replica's loss fail or panic at a step, or validation fail. Returns the
    /// final weights and bias.
    fn regress(devices: usize, fault: Fault) -> Result<Vec<f32>> {
        let device = Default::default();
        let n = 23;
        let mut rng = SeededRng::new(7);
        let xs: Vec<f32> = (0..n * 4).map(|_| rng.normal() as f32).collect();
        let ys: Vec<f32> = (0..n)
            .map(|i| 0.5 * xs[i * 4] - xs[i * 4 + 1] + 0.25 * xs[i * 4 + 3] + 0.1)
            .collect();
        let net: Linear<B> = LinearConfig::new(4, 1)
            .with_initializer(Initializer::Zeros)
            .init(&device);
        let schedule = Schedule {
            epochs: 3,
            batch_size: 5,
            lr: 0.05,
            eval_every: 1,
            patience: 10,
            higher_is_better: true,
            devices,
        };
        // The second replica to build its loss (whichever device that is) is the faulty one.
        let built = std::sync::atomic::AtomicUsize::new(0);
        let batch_loss_on = |d: &burn::tensor::Device<B>| {
            let (xs, ys, d) = (&xs, &ys, *d);
            let me = built.fetch_add(1, Ordering::SeqCst);
            let mut steps = 0usize;
            move |net: &Linear<B>, batch: &[usize], _: &mut SeededRng| {
                steps += 1;
                match fault {
                    Fault::ErrorAt(s) if me == 1 && s == steps => {
                        return Err(Error::Data(format!("bad batch at step {steps}")));
                    }
                    Fault::PanicAt(s) if me == 1 && s == steps => panic!("out of memory"),
                    _ => {}
                }
                let x: Vec<f32> = batch
                    .iter()
                    .flat_map(|&i| xs[i * 4..i * 4 + 4].iter().copied())
                    .collect();
                let y: Vec<f32> = batch.iter().map(|&i| ys[i]).collect();
                let x = Tensor::<B, 2>::from_data(TensorData::new(x, [batch.len(), 4]), &d);
                let y = Tensor::<B, 2>::from_data(TensorData::new(y, [batch.len(), 1]), &d);
                Ok((net.forward(x) - y).powi_scalar(2).mean())
            }
        };
        // The metric rises every epoch, so the last epoch's weights are kept.
        let epoch = Cell::new(0.0);
        let validate = |net: &Linear<B>| {
            epoch.set(epoch.get() + 1.0);
            if fault == Fault::ValidationAt(epoch.get() as usize) {
                return Err(Error::Config("training diverged".into()));
            }
            if fault == Fault::NanValidation {
                return Ok((f64::NAN, Vec::new()));
            }
            let mut w = read_floats(net.weight.val().inner())?;
            w.extend(read_floats(net.bias.as_ref().expect("bias").val().inner())?);
            Ok((epoch.get(), w))
        };
        let optim = SgdConfig::new().init::<B, Linear<B>>();
        let mut rng = SeededRng::new(1);
        let (w, _) = fit_on(
            &device,
            &schedule,
            net,
            optim,
            n,
            &mut rng,
            &mut (),
            batch_loss_on,
            validate,
        )?;
        Ok(w)
    }

    #[test]
    fn replicas_take_the_same_steps_as_one_device() {
        // Batches of 5 split 2 + 3 on two devices and 1 + 2 + 2 on three: the shards' losses
        // must be weighted by their share for the averaged gradient to be the batch's.
        let one = regress(1, Fault::None).unwrap();
        assert!(one.iter().any(|w| w.abs() > 0.05), "it learned: {one:?}");
        for devices in [2, 3] {
            let many = regress(devices, Fault::None).unwrap();
            let diff = one
                .iter()
                .zip(&many)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-5, "{devices} devices: {many:?} vs {one:?}");
        }
    }

    #[test]
    fn a_failing_replica_stops_all_of_them_with_its_own_error() {
        let err = regress(2, Fault::ErrorAt(3)).unwrap_err().to_string();
        assert!(err.contains("bad batch at step 3"), "{err}");
        // A panic in a step (burn's out-of-memory) and a failing validation on device 0 (a
        // diverged run) end the run with an error on every replica, never a hang; repeated,
        // since the race they guard against is one of timing.
        for _ in 0..20 {
            let err = regress(2, Fault::PanicAt(2)).unwrap_err().to_string();
            assert!(err.contains("panicked"), "{err}");
            let err = regress(3, Fault::ValidationAt(2)).unwrap_err().to_string();
            assert!(err.contains("diverged"), "{err}");
        }
        // No finite validation metric: found after the last round, by device 0 alone.
        let err = regress(2, Fault::NanValidation).unwrap_err().to_string();
        assert!(err.contains("no finite metric"), "{err}");
        // And the collective is usable again afterwards.
        assert!(regress(2, Fault::None).is_ok());
    }

    #[test]
    fn devices_of_a_kind_by_index() {
        // On the CPU backend every replica is the one CPU device (the replicas are threads),
        // and asking for none still gives the device trained on.
        let cpu = burn::backend::flex::FlexDevice;
        let d = replica_devices(&cpu, 3);
        assert_eq!(d.len(), 3);
        assert!(d.iter().all(|x| *x == cpu && x.id() == cpu.id()), "{d:?}");
        assert_eq!(replica_devices(&cpu, 0), vec![cpu]);
    }
}
