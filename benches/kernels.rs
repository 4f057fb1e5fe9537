//! Criterion benchmarks of the kernels the training and serving loops spend their time in:
//! `cargo bench --bench kernels`. The peer comparisons (numpy's EASE, implicit's BPR) are
//! `bench/speed.py`, which runs both sides in one process tree on the same machine.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fusionrec::data::{Interaction, Split, UserHistory};
use fusionrec::model::{train_bpr_sgd, train_ease, EaseConfig, FactorConfig};
use fusionrec::rng::SeededRng;

/// An ML-100K-sized implicit split: `users` users with ~47 distinct items each out of `items`,
/// popularity-skewed (an item index drawn as the square of a uniform), one validation item for
/// the first user only (so the benchmarks time training, not validation).
fn synthetic_split(users: usize, items: usize, per_user: usize) -> (Split, UserHistory) {
    let mut rng = SeededRng::new(7);
    let mut train = Vec::new();
    for u in 0..users {
        let mut mine: Vec<u32> = (0..per_user)
            .map(|_| ((rng.unit_f64().powi(2)) * items as f64) as u32)
            .collect();
        mine.sort_unstable();
        mine.dedup();
        train.extend(mine.into_iter().map(|item| Interaction {
            user: u as u32,
            item,
            rating: None,
            timestamp: None,
        }));
    }
    let seen: Vec<u32> = train
        .iter()
        .filter(|x| x.user == 0)
        .map(|x| x.item)
        .collect();
    let valid_item = (0..items as u32).find(|i| !seen.contains(i)).unwrap();
    let split = Split {
        n_users: users,
        n_items: items,
        valid: vec![Interaction {
            user: 0,
            item: valid_item,
            rating: None,
            timestamp: None,
        }],
        test: Vec::new(),
        train,
        test_excludes_valid: true,
    };
    let history = UserHistory::from_interactions(users, &split.train);
    (split, history)
}

fn kernels(c: &mut Criterion) {
    let mut rng = SeededRng::new(1);
    let (a, b) = (rng.normal_vec(128, 1.0), rng.normal_vec(128, 1.0));
    c.bench_function("kernels/dot 128-d", |bench| {
        bench.iter(|| fusionrec::kernels::dot(std::hint::black_box(&a), &b))
    });
    let rows = rng.normal_vec(10_000 * 64, 1.0);
    let q = rng.normal_vec(64, 1.0);
    let mut out = vec![0.0; 10_000];
    c.bench_function("kernels/score 10k items × 64-d", |bench| {
        bench.iter(|| fusionrec::kernels::matvec(&rows, std::hint::black_box(&q), &mut out))
    });
    let q8: Vec<i8> = rows
        .iter()
        .map(|&x| (x * 40.0).clamp(-127.0, 127.0) as i8)
        .collect();
    let scales = vec![0.025f32; 10_000];
    c.bench_function("kernels/score 10k int8 items × 64-d", |bench| {
        bench.iter(|| {
            fusionrec::kernels::matvec_q8(&q8, &scales, std::hint::black_box(&q), &mut out)
        })
    });
    let scores = rng.normal_vec(100_000, 1.0);
    let excluded: Vec<u32> = (0..50).map(|i| i * 997).collect();
    c.bench_function("eval/top 10 of 100k scores", |bench| {
        bench.iter(|| fusionrec::eval::top_k(std::hint::black_box(&scores), &excluded, 10))
    });
}

fn training(c: &mut Criterion) {
    let (split, history) = synthetic_split(943, 1_447, 50);
    let mut config = FactorConfig::bpr_default();
    config.train.epochs = 1;
    config.train.eval_every = 1;
    let mut group = c.benchmark_group("training");
    group.sample_size(20);
    group.bench_function(
        format!(
            "BPR-MF sgd: initialisation + 1 epoch, {} interactions, 128-d",
            split.train.len()
        ),
        |bench| bench.iter(|| train_bpr_sgd(&config, &split, &history, &mut ()).unwrap()),
    );
    let (split, history) = synthetic_split(2_000, 2_000, 60);
    let ease = EaseConfig::plain_default();
    group.sample_size(10);
    group.bench_function("EASE fit, 2,000 items", |bench| {
        bench.iter_batched(
            || (),
            |_| train_ease(&ease, &history, split.n_items, &[]).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, kernels, training);
criterion_main!(benches);
