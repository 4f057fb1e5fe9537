//! A native federated experiment with private adaptor updates ([`crate::rank::private`]): the
//! bundle's training users are split (seeded) into `clients` and a disjoint held-out group. Each
//! client personalises a [`Session`] on its own training history (its training items as liked
//! events, the `personalize` defaults, on burn Flex autodiff) and exports its θ — clipped, and
//! with the analytic Gaussian mechanism's noise at each ε (plus the noiseless clipped θ, ε = ∞,
//! as the reference). The server averages each set; the mean θ̄ is installed as the adaptor
//! (default strength) for every held-out user, who is recommended from their training history
//! and scored on their validation and test items of the bundle's own split.

use std::collections::HashSet;

use serde::Serialize;

use crate::data::split::items_by_user;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::metrics::{ndcg_at_k, recall_at_k};
use crate::eval::top_k;
use crate::rank::private::{aggregate, analytic_gaussian_sigma};
use crate::rank::{HistoryEvent, PersonalizeConfig, PrivateUpdate, Session};
use crate::store::Bundle;

/// Options of [`federated`].
#[derive(Debug, Clone)]
pub struct FederatedConfig {
    pub clients: usize,
    pub heldout: usize,
    /// Finite ε values to release at (ε = ∞, the noiseless reference, is always added).
    pub epsilons: Vec<f64>,
    pub delta: f64,
    pub clip: f32,
    pub seed: u64,
    /// Clients' fine-tuning (`strength` is also the strength the aggregate is applied with).
    pub personalize: PersonalizeConfig,
}

impl Default for FederatedConfig {
    fn default() -> Self {
        Self {
            clients: 200,
            heldout: 300,
            epsilons: vec![8.0, 1.0],
            delta: 1e-5,
            clip: 1.0,
            seed: 2026,
            personalize: PersonalizeConfig::default(),
        }
    }
}

/// One line of the report: held-out users' metrics under one adaptor.
#[derive(Debug, Clone, Serialize)]
pub struct FederatedRow {
    /// `none` (no adaptor), `inf` (noiseless clipped mean) or the ε.
    pub setting: String,
    /// ε of each client's release (None: no adaptor or ε = ∞).
    pub epsilon: Option<f64>,
    /// Per-coordinate noise σ of each client's release.
    pub sigma: f64,
    /// ‖θ̄‖ of the aggregate, and its distance to the noiseless aggregate.
    pub norm: f64,
    pub distance_to_noiseless: f64,
    pub valid_ndcg10: f64,
    pub valid_recall20: f64,
    pub test_ndcg10: f64,
    pub test_recall20: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FederatedReport {
    pub clients: usize,
    pub heldout: usize,
    /// Held-out users with test items (the test metrics' denominator) and with validation items.
    pub heldout_test_users: usize,
    pub heldout_valid_users: usize,
    pub dim: usize,
    pub delta: f64,
    pub clip: f32,
    pub strength: f32,
    pub seed: u64,
    pub rows: Vec<FederatedRow>,
}

/// Runs the experiment (see the module docs). `Error::Config` for no clients or held-out users,
/// a bad ε/δ/clip, or more users than the bundle has.
pub fn federated(
    bundle: &Bundle,
    dataset: &Dataset,
    config: &FederatedConfig,
) -> Result<FederatedReport> {
    type Ad = burn::backend::Autodiff<burn::backend::Flex>;
    let strength = config.personalize.strength;
    if !(strength.is_finite() && strength >= 0.0) {
        return Err(Error::Config(format!(
            "federated: strength must be finite and ≥ 0, got {strength}"
        )));
    }
    if config.clients == 0 || config.heldout == 0 {
        return Err(Error::Config(
            "federated: --clients and the held-out group must be ≥ 1".into(),
        ));
    }
    for &e in &config.epsilons {
        analytic_gaussian_sigma(e, config.delta, 2.0 * f64::from(config.clip))?;
    }
    let split = super::pipeline::bundle_split(bundle, dataset)?;
    let valid = items_by_user(split.n_users, &split.valid);
    let test = items_by_user(split.n_users, &split.test);
    let history = &bundle.history;
    let ids = &bundle.manifest.items;
    // Users with training items; the held-out group also needs test items.
    let mut users: Vec<u32> = (0..split.n_users as u32)
        .filter(|&u| !history.user(u).0.is_empty())
        .collect();
    crate::rng::SeededRng::new(config.seed).shuffle(&mut users);
    let (heldout, rest): (Vec<u32>, Vec<u32>) = {
        let mut h = Vec::new();
        let mut r = Vec::new();
        for u in users {
            if h.len() < config.heldout && !test[u as usize].is_empty() {
                h.push(u);
            } else {
                r.push(u);
            }
        }
        (h, r)
    };
    if heldout.len() < config.heldout || rest.len() < config.clients {
        return Err(Error::Config(format!(
            "federated: {} clients and {} held-out users asked, the bundle has {} users with \
             training items",
            config.clients,
            config.heldout,
            heldout.len() + rest.len(),
        )));
    }
    let clients = &rest[..config.clients];
    let events = |u: u32| -> Vec<HistoryEvent> {
        history
            .user(u)
            .0
            .iter()
            .map(|&i| HistoryEvent {
                item: ids.id(i).to_string(),
                rating: None,
                time: None,
            })
            .collect()
    };

    // Clients: personalise, export (noiseless and at each ε).
    let mut sets: Vec<Vec<PrivateUpdate>> = vec![Vec::new(); 1 + config.epsilons.len()];
    let mut dim = 0;
    // One seed per release from one stream: reproducible, and no two releases share noise.
    let mut noise_seeds = crate::rng::SeededRng::new(config.seed ^ 0x0D1F_F5EE_D5A1_7ED5);
    for &u in clients {
        let mut session = Session::new(bundle.clone());
        let pc = PersonalizeConfig {
            seed: config.personalize.seed ^ u64::from(u),
            ..config.personalize.clone()
        };
        session.personalize::<Ad>(&events(u), &pc, &Default::default())?;
        sets[0].push(session.clipped_update(config.clip)?);
        for (k, &e) in config.epsilons.iter().enumerate() {
            let seed = Some(noise_seeds.next_u64());
            sets[k + 1].push(session.private_update(e, config.delta, config.clip, seed)?);
        }
        dim = session.theta().len();
    }
    let means: Vec<Vec<f32>> = sets.iter().map(|s| aggregate(s)).collect::<Result<_>>()?;

    // Server → held-out users.
    let mut session = Session::new(bundle.clone());
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let dist = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut rows = Vec::new();
    let measure = |session: &Session| -> Result<[f64; 4]> {
        let (mut vn, mut vr, mut tn, mut tr, mut nv, mut nt) = (0.0, 0.0, 0.0, 0.0, 0, 0);
        for &u in &heldout {
            let mut train = history.user(u).0.to_vec();
            train.sort_unstable();
            train.dedup();
            let scores = session.scores_for_history(&events(u))?;
            let v = &valid[u as usize];
            if !v.is_empty() {
                let ranked = top_k(&scores, &train, 20);
                let rel: HashSet<u32> = v.iter().copied().collect();
                vn += ndcg_at_k(&ranked, &rel, 10);
                vr += recall_at_k(&ranked, &rel, 20);
                nv += 1;
            }
            let t = &test[u as usize];
            let mut excluded = train.clone();
            if split.test_excludes_valid {
                excluded.extend(v);
            }
            excluded.sort_unstable();
            excluded.dedup();
            let ranked = top_k(&scores, &excluded, 20);
            let rel: HashSet<u32> = t.iter().copied().collect();
            tn += ndcg_at_k(&ranked, &rel, 10);
            tr += recall_at_k(&ranked, &rel, 20);
            nt += 1;
        }
        let (nv, nt) = (nv.max(1) as f64, nt.max(1) as f64);
        Ok([vn / nv, vr / nv, tn / nt, tr / nt])
    };
    let m = measure(&session)?;
    rows.push(FederatedRow {
        setting: "none".into(),
        epsilon: None,
        sigma: 0.0,
        norm: 0.0,
        distance_to_noiseless: 0.0,
        valid_ndcg10: m[0],
        valid_recall20: m[1],
        test_ndcg10: m[2],
        test_recall20: m[3],
    });
    for (k, mean) in means.iter().enumerate() {
        session = Session::new(bundle.clone());
        session.set_adaptor(mean.clone(), strength, 0)?;
        let m = measure(&session)?;
        let (setting, epsilon) = match k {
            0 => ("inf".to_string(), None),
            _ => {
                let e = config.epsilons[k - 1];
                (format!("{e}"), Some(e))
            }
        };
        rows.push(FederatedRow {
            setting,
            epsilon,
            sigma: f64::from(sets[k][0].sigma),
            norm: norm(mean),
            distance_to_noiseless: dist(mean, &means[0]),
            valid_ndcg10: m[0],
            valid_recall20: m[1],
            test_ndcg10: m[2],
            test_recall20: m[3],
        });
    }
    let heldout_valid_users = heldout
        .iter()
        .filter(|&&u| !valid[u as usize].is_empty())
        .count();
    Ok(FederatedReport {
        clients: config.clients,
        heldout: heldout.len(),
        heldout_test_users: heldout.len(),
        heldout_valid_users,
        dim,
        delta: config.delta,
        clip: config.clip,
        strength,
        seed: config.seed,
        rows,
    })
}
