//! A synthetic catalog for scale: as many items, users and interactions as a benchmark needs
//! (10³…10⁶ items, up to 10⁷ interactions), with the structure that makes real catalogs hard and
//! accuracy still measurable:
//!
//! - **power-law item popularity**: item `i` of popularity rank `r` (a random permutation) has
//!   base weight `(r + 1)^−popularity_exponent` (Zipf);
//! - **heavy-tailed user activity**: a user's interaction count is `min_per_user` plus a share of
//!   the remaining budget proportional to `exp(activity_sigma · z)`, `z ~ N(0, 1)` (log-normal),
//!   capped at a tenth of the catalog;
//! - **a planted low-rank preference**: user and item factors `U ∈ ℝ^{users×rank}`,
//!   `V ∈ ℝ^{items×rank}` with N(0, 1) and N(0, 1/rank) entries; a user picks items with
//!   probability ∝ popularity · `exp(preference_strength · u·v)`, without replacement;
//! - **content correlated with it**: `item_features.npy` is `V·W + noise` (`W` a random
//!   `rank × feature_dim` map, noise of relative scale `feature_noise`), and each item's category
//!   is the strongest of its first eight factors — so content models have real signal, and a
//!   `feature_noise` of 3 or more makes it mostly noise.
//!
//! Sampling a user's items exactly would cost O(items) per user; instead each user draws a
//! candidate pool of `pool_factor ×` their count from the popularity distribution (Walker's alias
//! table, O(1) per draw) and keeps the best Gumbel-perturbed preference scores among the
//! distinct candidates (Gumbel-top-k: sampling without replacement ∝ `exp(β·u·v)` within the
//! pool). Cost: O(interactions · pool_factor · rank).
//!
//! Output (ids are the integers `0…n−1`, so `item_features.npy` aligns by position):
//! `train.csv`, `valid.csv`, `test.csv` (`user,item,timestamp`; each interaction after a user's
//! first goes to valid/test with probability `valid_share`/`test_share`), `items.csv`
//! (`id,title,categories`), `item_features.npy` (f32, items × feature_dim) and `synth.json`
//! (the configuration and the counts written). Train on it with
//! `fusionrec train --split given --train D/train.csv --valid D/valid.csv --test D/test.csv
//! --items D/items.csv [--item-features content=D/item_features.npy]`.

use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::SeededRng;

/// Parameters of a synthetic catalog; see the module documentation for what each one shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    pub items: usize,
    pub users: usize,
    /// Target number of interactions (the total written is within a few per cent of it).
    pub interactions: usize,
    pub rank: usize,
    pub popularity_exponent: f64,
    pub activity_sigma: f64,
    pub min_per_user: usize,
    pub preference_strength: f64,
    pub pool_factor: usize,
    pub feature_dim: usize,
    pub feature_noise: f64,
    pub valid_share: f64,
    pub test_share: f64,
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            items: 10_000,
            users: 10_000,
            interactions: 500_000,
            rank: 16,
            popularity_exponent: 0.8,
            activity_sigma: 1.0,
            min_per_user: 5,
            preference_strength: 3.0,
            pool_factor: 8,
            feature_dim: 32,
            feature_noise: 0.5,
            valid_share: 0.1,
            test_share: 0.1,
            seed: 2026,
        }
    }
}

impl SynthConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(format!("synth: {m}")));
        if self.items < 10 || self.users < 1 || self.rank < 1 || self.feature_dim < 1 {
            return bad("needs ≥ 10 items, ≥ 1 user, rank ≥ 1 and feature_dim ≥ 1");
        }
        if self.items > u32::MAX as usize || self.users > u32::MAX as usize {
            return bad("items and users must fit in u32");
        }
        if self.min_per_user < 2 || self.min_per_user > self.items / 10 {
            return bad("min_per_user must be in 2..=items/10");
        }
        if self.interactions < self.users * self.min_per_user {
            return bad("interactions must be at least users × min_per_user");
        }
        let shares = self.valid_share + self.test_share;
        if !(self.valid_share > 0.0 && self.test_share >= 0.0 && shares < 0.9) {
            return bad("valid_share > 0, test_share ≥ 0 and their sum < 0.9");
        }
        let finite = [
            self.popularity_exponent,
            self.activity_sigma,
            self.preference_strength,
            self.feature_noise,
        ];
        if finite.iter().any(|x| !x.is_finite() || *x < 0.0) || self.pool_factor < 1 {
            return bad("exponents, strengths and noise must be finite and ≥ 0; pool_factor ≥ 1");
        }
        if self.popularity_exponent > 4.0 || self.activity_sigma > 4.0 || self.pool_factor > 64 {
            return bad("popularity_exponent and activity_sigma ≤ 4, pool_factor ≤ 64");
        }
        Ok(())
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthSummary {
    pub config: SynthConfig,
    pub train: usize,
    pub valid: usize,
    pub test: usize,
    /// Distinct items with at least one interaction.
    pub items_used: usize,
    /// Share of all interactions that fall on the most popular 1% of items.
    pub top1pct_share: f64,
}

/// Walker's alias table: O(1) draws from a fixed discrete distribution.
struct Alias {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        let mut prob = vec![1.0; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self { prob, alias }
    }

    fn draw(&self, rng: &mut SeededRng) -> u32 {
        let i = rng.below(self.prob.len());
        match rng.unit_f64() < self.prob[i] {
            true => i as u32,
            false => self.alias[i],
        }
    }
}

/// A buffered output file, remembering its path for error messages.
struct Out {
    path: std::path::PathBuf,
    w: BufWriter<std::fs::File>,
}

impl Out {
    fn create(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            w: BufWriter::with_capacity(1 << 20, file),
            path,
        })
    }
}

/// Each user's interaction count: `min_per_user` plus a log-normal share of the rest, capped.
fn activity(config: &SynthConfig, rng: &mut SeededRng) -> Vec<usize> {
    let raw: Vec<f64> = (0..config.users)
        .map(|_| (config.activity_sigma * rng.normal()).exp())
        .collect();
    let spare = (config.interactions - config.users * config.min_per_user) as f64;
    let scale = spare / raw.iter().sum::<f64>();
    let cap = (config.items / 10).max(config.min_per_user);
    raw.iter()
        .map(|a| (config.min_per_user + (a * scale + rng.unit_f64()) as usize).min(cap))
        .collect()
}

/// Writes a synthetic dataset into `dir` (created if missing); see the module documentation.
pub fn generate(config: &SynthConfig, dir: &Path) -> Result<SynthSummary> {
    config.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut rng = SeededRng::new(config.seed);
    let (n, r) = (config.items, config.rank);
    let items = rng.normal_vec(n * r, (1.0 / r as f64).sqrt());
    let mut rank_of: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut rank_of);
    let popularity: Vec<f64> = rank_of
        .iter()
        .map(|&k| ((k + 1) as f64).powf(-config.popularity_exponent))
        .collect();
    let alias = Alias::new(&popularity);
    let counts = activity(config, &mut rng);

    let mut parts = [
        Out::create(dir, "train.csv")?,
        Out::create(dir, "valid.csv")?,
        Out::create(dir, "test.csv")?,
    ];
    for p in &mut parts {
        p.w.write_all(b"user,item,timestamp\n")
            .map_err(|e| Error::io(&p.path, e))?;
    }
    let mut written = [0usize; 3];
    let mut per_item = vec![0u32; n];
    let mut user = vec![0f32; r];
    let mut pool: Vec<u32> = Vec::new();
    let mut keyed: Vec<(f64, u32)> = Vec::new();
    let beta = config.preference_strength;
    for (u, &count) in counts.iter().enumerate() {
        user.iter_mut().for_each(|x| *x = rng.normal() as f32);
        // A pool of distinct popularity-drawn candidates, topped up until it can hold `count`.
        pool.clear();
        let mut want = count * config.pool_factor;
        for _ in 0..4 {
            pool.extend((0..want).map(|_| alias.draw(&mut rng)));
            pool.sort_unstable();
            pool.dedup();
            if pool.len() >= count {
                break;
            }
            want *= 2;
        }
        // A steep popularity curve can leave too few distinct candidates: top up uniformly
        // (count ≤ items / 10, so this ends quickly).
        while pool.len() < count {
            let i = rng.below(n) as u32;
            if let Err(at) = pool.binary_search(&i) {
                pool.insert(at, i);
            }
        }
        keyed.clear();
        keyed.extend(pool.iter().map(|&i| {
            let v = &items[i as usize * r..(i as usize + 1) * r];
            let score: f32 = user.iter().zip(v).map(|(a, b)| a * b).sum();
            let gumbel = -(-(1.0 - rng.unit_f64()).ln()).ln();
            (beta * f64::from(score) + gumbel, i)
        }));
        let k = count.min(keyed.len());
        keyed.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        keyed.truncate(k);
        // The order of a user's events is random; timestamps are one minute apart.
        rng.shuffle(&mut keyed);
        for (t, &(_, item)) in keyed.iter().enumerate() {
            let x = rng.unit_f64();
            let part = match t {
                0 => 0,
                _ if x < config.test_share => 2,
                _ if x < config.test_share + config.valid_share => 1,
                _ => 0,
            };
            let ts = 1_700_000_000 + 60 * t as u64;
            let p = &mut parts[part];
            writeln!(p.w, "{u},{item},{ts}").map_err(|e| Error::io(&p.path, e))?;
            written[part] += 1;
            per_item[item as usize] += 1;
        }
    }
    for p in &mut parts {
        p.w.flush().map_err(|e| Error::io(&p.path, e))?;
    }

    let mut cats = Out::create(dir, "items.csv")?;
    let err = |e| Error::io(dir.join("items.csv"), e);
    cats.w.write_all(b"id,title,categories\n").map_err(err)?;
    for i in 0..n {
        let v = &items[i * r..(i + 1) * r];
        let top = (0..r.min(8))
            .max_by(|&a, &b| v[a].total_cmp(&v[b]))
            .unwrap_or(0);
        writeln!(cats.w, "{i},item {i},c{top}").map_err(err)?;
    }
    cats.w.flush().map_err(err)?;
    write_features(config, &items, &mut rng, dir)?;

    let total: usize = written.iter().sum();
    let mut sorted = per_item.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = sorted[..(n / 100).max(1)]
        .iter()
        .map(|&c| u64::from(c))
        .sum();
    let summary = SynthSummary {
        config: config.clone(),
        train: written[0],
        valid: written[1],
        test: written[2],
        items_used: per_item.iter().filter(|&&c| c > 0).count(),
        top1pct_share: top as f64 / total.max(1) as f64,
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::Data(e.to_string()))?;
    let path = dir.join("synth.json");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    Ok(summary)
}

/// `item_features.npy`: `V·W + noise`, f32, one row per item id.
fn write_features(
    config: &SynthConfig,
    items: &[f32],
    rng: &mut SeededRng,
    dir: &Path,
) -> Result<()> {
    use npyz::WriterBuilder;
    let (n, r, d) = (config.items, config.rank, config.feature_dim);
    let map = rng.normal_vec(r * d, 1.0);
    // Each feature of V·W has variance ≈ 1 (V's rows have squared norm ≈ 1).
    let noise = config.feature_noise;
    let out = Out::create(dir, "item_features.npy")?;
    let path = out.path.clone();
    let io_err = |e| Error::io(&path, e);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[n as u64, d as u64])
        .writer(out.w)
        .begin_nd()
        .map_err(io_err)?;
    for i in 0..n {
        let v = &items[i * r..(i + 1) * r];
        for j in 0..d {
            let x: f32 = (0..r).map(|k| v[k] * map[k * d + j]).sum();
            writer
                .push(&(x + (noise * rng.normal()) as f32))
                .map_err(io_err)?;
        }
    }
    writer.finish().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_draws_in_proportion() {
        let alias = Alias::new(&[1.0, 2.0, 7.0]);
        let mut rng = SeededRng::new(1);
        let mut seen = [0usize; 3];
        for _ in 0..100_000 {
            seen[alias.draw(&mut rng) as usize] += 1;
        }
        let share = seen.map(|c| c as f64 / 100_000.0);
        assert!(
            (share[0] - 0.1).abs() < 0.01 && (share[2] - 0.7).abs() < 0.01,
            "{share:?}"
        );
    }

    /// The steepest popularity allowed with the heaviest users still fills every user's pool
    /// (the uniform top-up), quickly.
    #[test]
    fn steep_popularity_still_fills_every_pool() {
        let dir = tempfile::tempdir().unwrap();
        let config = SynthConfig {
            items: 2_000,
            users: 200,
            interactions: 20_000,
            popularity_exponent: 4.0,
            activity_sigma: 4.0,
            ..SynthConfig::default()
        };
        let s = generate(&config, dir.path()).unwrap();
        assert!(s.train + s.valid + s.test >= 200 * 5);
    }

    #[test]
    fn rejects_impossible_configurations() {
        let ok = SynthConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            SynthConfig {
                items: 5,
                ..ok.clone()
            },
            SynthConfig {
                interactions: 10,
                ..ok.clone()
            },
            SynthConfig {
                valid_share: 0.0,
                ..ok.clone()
            },
            SynthConfig {
                feature_noise: f64::NAN,
                ..ok.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
    }
}
