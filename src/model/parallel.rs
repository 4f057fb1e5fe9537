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

use std::sync::atomic::{AtomicBool, Ordering};
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
/// CUDA or wgpu). On the CPU backend every index is the one CPU device: replicas are threads.
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
    /// A step or an epoch failed somewhere: everyone stops.
    failed: AtomicBool,
    /// Device 0 decided to stop (early stopping or the last epoch).
    stop: AtomicBool,
    /// The epoch's mean losses of every replica, summed.
    loss: Mutex<f64>,
}

impl Shared {
    /// Every replica's verdict; an error for all of them if any failed.
    fn agree(&self, ok: bool) -> Result<()> {
        if !ok {
            self.failed.store(true, Ordering::SeqCst);
        }
        self.barrier.wait();
        match self.failed.load(Ordering::SeqCst) {
            false => Ok(()),
            true => Err(Error::Device(KNOCK_ON.into())),
        }
    }
}

struct Link<'a, B> {
    peer: usize,
    shared: &'a Shared,
    _backend: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> Replica<B> for Link<'_, B> {
    fn place(&self) -> (usize, usize) {
        (self.peer, self.shared.n)
    }

    fn agree(&self, ok: bool) -> Result<()> {
        self.shared.agree(ok)
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
    if n_examples == 0 {
        return Err(Error::Data("no training interactions".into()));
    }
    let n = schedule.devices;
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
        failed: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        loss: Mutex::new(0.0),
    };
    let config = CollectiveConfig::default().with_num_devices(n);

    // One replica's whole run; `lead` (device 0) validates, reports and decides to stop.
    let replica = |peer: usize,
                   net: M,
                   mut optim: O,
                   lead: Option<Lead<M, T>>|
     -> Result<Option<(T, f64)>> {
        let device = &devices[peer];
        let link = Link::<B> {
            peer,
            shared: &shared,
            _backend: std::marker::PhantomData,
        };
        let registered =
            register::<B::InnerBackend>(PeerId::from(peer as u32), device.clone(), config.clone())
                .map_err(|e| Error::Device(format!("registering device {peer} failed: {e:?}")));
        let agreed = shared.agree(registered.is_ok());
        registered?;
        agreed?;
        // Moving the model and the loss's tensors to the device is where a missing device
        // shows (burn panics); every replica hears about it here, not in an all-reduce that
        // would wait forever.
        let setup = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let net = match peer {
                0 => net,
                _ => net.fork(device),
            };
            (net, batch_loss_on(device))
        }))
        .map_err(|_| Error::Device(format!("device {peer} ({device:?}) could not be used")));
        let agreed = shared.agree(setup.is_ok());
        let (mut net, mut batch_loss) = setup?;
        agreed?;
        let mut negatives = SeededRng::new(streams[peer]);
        let mut order_rng = order_rng.clone();
        let mut order: Vec<usize> = (0..n_examples).collect();
        let mut lead = lead.map(|(observer, validate)| {
            let stopper = EarlyStopping::new(schedule.patience, schedule.higher_is_better);
            (observer, validate, stopper)
        });
        for epoch in 1..=schedule.epochs {
            order_rng.shuffle(&mut order);
            let step = train_epoch(
                schedule,
                &order,
                net,
                &mut optim,
                &mut |net: &M, batch: &[usize]| batch_loss(net, batch, &mut negatives),
                Some(&link),
            );
            // A failed step fails every replica at the same step, a failed read-back only this
            // one: either way each replica that fails says so at this barrier.
            let (next, loss) = match step {
                Ok(step) => step,
                Err(e) => {
                    let _ = shared.agree(false);
                    return Err(e);
                }
            };
            net = next;
            *shared.loss.lock().unwrap_or_else(|p| p.into_inner()) += loss;
            shared.agree(true)?;
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
                match end_epoch(state, stopper, &mut **observer, || validate(&net)) {
                    Ok(stop) => shared.stop.store(stop, Ordering::SeqCst),
                    Err(e) => {
                        shared.failed.store(true, Ordering::SeqCst);
                        shared.barrier.wait();
                        return Err(e);
                    }
                }
            }
            shared.agree(true)?;
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
        }
        let _ = finish_collective::<B::InnerBackend>(PeerId::from(peer as u32));
        lead.map(|(_, _, stopper)| best_of(stopper)).transpose()
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

    /// Linear regression on 23 examples in batches of 5, by plain SGD, on `devices` replicas;
    /// `fail_at` makes device 1's loss fail at that step. Returns the final weights and bias.
    fn regress(devices: usize, fail_at: Option<usize>) -> Result<Vec<f32>> {
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
        // The second replica to build its loss (whichever device that is) fails at `fail_at`.
        let built = std::sync::atomic::AtomicUsize::new(0);
        let batch_loss_on = |d: &burn::tensor::Device<B>| {
            let (xs, ys, d) = (&xs, &ys, *d);
            let me = built.fetch_add(1, Ordering::SeqCst);
            let mut steps = 0usize;
            move |net: &Linear<B>, batch: &[usize], _: &mut SeededRng| {
                steps += 1;
                if me == 1 && Some(steps) == fail_at {
                    return Err(Error::Data(format!("bad batch at step {steps}")));
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
        let one = regress(1, None).unwrap();
        assert!(one.iter().any(|w| w.abs() > 0.05), "it learned: {one:?}");
        for devices in [2, 3] {
            let many = regress(devices, None).unwrap();
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
        let err = regress(2, Some(3)).unwrap_err().to_string();
        assert!(err.contains("bad batch at step 3"), "{err}");
        // And the collective is usable again afterwards.
        assert!(regress(2, None).is_ok());
    }

    #[test]
    fn devices_of_a_kind_by_index() {
        let d = replica_devices(&burn::backend::flex::FlexDevice, 3);
        assert_eq!(d.len(), 3);
    }
}
