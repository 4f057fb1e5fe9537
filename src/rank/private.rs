//! A differentially private export of the personal adaptor θ (see [`super::session`]), for
//! federated averaging of taste vectors. Nothing leaves the device unless the page calls
//! [`Session::private_update`]: it is a pure function that returns a value.
//!
//! **Mechanism.** θ is clipped to L2 norm `clip` and Gaussian noise N(0, σ²) is added to every
//! coordinate. σ is the smallest one for which the Gaussian mechanism is (ε, δ)-DP by the exact
//! condition of the **analytic Gaussian mechanism** (Balle & Wang, 2018, "Improving the Gaussian
//! Mechanism for Differential Privacy: Analytical Calibration and Optimal Denoising", Theorem 8 /
//! Algorithm 1): with L2 sensitivity Δ,
//!
//! `Φ(Δ/(2σ) − εσ/Δ) − e^ε · Φ(−Δ/(2σ) − εσ/Δ) ≤ δ`,
//!
//! solved by bisection on σ (the left side decreases in σ).
//!
//! **Accounting.** The unit of privacy is one user's update (their θ, i.e. everything their
//! local events taught the adaptor), under **replace-one adjacency**: two adjacent inputs are any
//! two clipped vectors, which differ by at most `2·clip` in L2 norm — so Δ = 2·clip. One call is
//! one (ε, δ)-DP release of that user's θ. Repeated exports are separate releases and
//! **compose**: k exports of the same (or a further fine-tuned) θ cost up to k·ε and k·δ under
//! basic composition (tighter accountants give less, but never one release's ε). The server's
//! average of many users' releases is post-processing and costs nothing more.

use serde::{Deserialize, Serialize};

use super::session::Session;
use crate::error::{Error, Result};

/// What a visitor's device releases: their clipped θ plus Gaussian noise, and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateUpdate {
    /// The noisy, clipped θ (`dim` values).
    pub delta: Vec<f32>,
    /// L2 norm θ was clipped to.
    pub clip: f32,
    /// Standard deviation of the noise added to each coordinate (0 for the noiseless reference).
    pub sigma: f32,
    /// The release's ε (infinite for the noiseless reference, which is not private).
    pub epsilon: f64,
    /// The release's δ (named so as not to clash with `delta`, the update itself).
    pub delta_dp: f64,
    /// sha256 of the bundle's weights (as [`super::SessionState::bundle`]): updates are only
    /// averaged over the same bundle, whose item features θ is linear in.
    pub bundle: String,
    /// Width of θ.
    pub dim: usize,
}

/// Standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// `Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ)`: the δ the Gaussian mechanism with noise σ
/// achieves at ε for L2 sensitivity Δ (Balle & Wang 2018, Theorem 8).
pub fn gaussian_delta(sigma: f64, epsilon: f64, sensitivity: f64) -> f64 {
    let a = sensitivity / (2.0 * sigma);
    let b = epsilon * sigma / sensitivity;
    // e^ε Φ(·) in log space: no ∞·0 for large ε.
    let lower = phi(-a - b);
    let second = if lower > 0.0 {
        (epsilon + lower.ln()).exp()
    } else {
        0.0
    };
    phi(a - b) - second
}

fn check(epsilon: f64, delta: f64, clip: f64) -> Result<()> {
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(Error::Config(format!(
            "private update: epsilon must be finite and > 0, got {epsilon}"
        )));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::Config(format!(
            "private update: delta must be in (0, 1), got {delta}"
        )));
    }
    if !(clip.is_finite() && clip > 0.0) {
        return Err(Error::Config(format!(
            "private update: clip must be finite and > 0, got {clip}"
        )));
    }
    Ok(())
}

/// The analytic Gaussian mechanism's σ for (ε, δ) and L2 sensitivity Δ: the smallest σ with
/// [`gaussian_delta`] ≤ δ, by bisection (relative precision ~1e-12). `Error::Config` unless
/// ε > 0 finite, 0 < δ < 1 and Δ > 0 finite.
pub fn analytic_gaussian_sigma(epsilon: f64, delta: f64, sensitivity: f64) -> Result<f64> {
    check(epsilon, delta, sensitivity)?;
    let ok = |s: f64| gaussian_delta(s, epsilon, sensitivity) <= delta;
    // Bracket [lo, hi] with ok(hi) and !ok(lo), in units of Δ.
    let (mut lo, mut hi) = (sensitivity, sensitivity);
    while !ok(hi) {
        hi *= 2.0;
        if hi > 1e12 * sensitivity {
            return Err(Error::Config(format!(
                "private update: no noise level reaches epsilon {epsilon}, delta {delta}"
            )));
        }
    }
    while ok(lo) {
        hi = lo;
        lo /= 2.0;
        if lo < 1e-12 * sensitivity {
            // Still private at this tiny σ (an absurd ε): return the last σ checked to pass.
            return Ok(hi);
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    Ok(hi)
}

/// The classic Gaussian mechanism's σ = Δ·sqrt(2 ln(1.25/δ))/ε (Dwork & Roth 2014, Thm A.1;
/// valid for ε < 1), for comparison.
pub fn classic_gaussian_sigma(epsilon: f64, delta: f64, sensitivity: f64) -> f64 {
    sensitivity * (2.0 * (1.25 / delta).ln()).sqrt() / epsilon
}

/// `v` scaled down to L2 norm at most `clip` when it is longer (unchanged otherwise); the scale
/// keeps a hair (10⁻⁶) of margin so that rounding back to f32 cannot leave the norm above
/// `clip`. A non-finite `v` is `BAD_DATA`: it has no norm to clip to.
pub fn clip_l2(v: &[f32], clip: f32) -> Result<Vec<f32>> {
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::Data(
            "the adaptor holds a value that is not a finite number".into(),
        ));
    }
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let scale = if norm > f64::from(clip) {
        f64::from(clip) / norm * (1.0 - 1e-6)
    } else {
        1.0
    };
    Ok(v.iter().map(|x| (f64::from(*x) * scale) as f32).collect())
}

/// `v` plus N(0, σ²) per coordinate. The normals come from a ChaCha20 stream: with `seed`
/// `None` (what a page does) it is keyed by 256 bits from the platform's CSPRNG
/// (`crypto.getRandomValues` in the browser), so no one can regenerate — and subtract — the
/// noise; with `Some(seed)` the stream is reproducible, **for experiments and tests only**: anyone
/// who knows the seed can remove the noise.
pub fn add_noise(v: &[f32], sigma: f64, seed: Option<u64>) -> Result<Vec<f32>> {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut rng = match seed {
        Some(seed) => rand_chacha::ChaCha20Rng::seed_from_u64(seed),
        None => {
            let mut key = [0u8; 32];
            getrandom_03::fill(&mut key)
                .map_err(|e| Error::Data(format!("no secure random numbers for the noise: {e}")))?;
            rand_chacha::ChaCha20Rng::from_seed(key)
        }
    };
    let mut unit = || (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    Ok(v.iter()
        .map(|x| {
            // Box–Muller, as `rng::SeededRng::normal`.
            let (u1, u2) = (1.0 - unit(), unit());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (f64::from(*x) + sigma * z) as f32
        })
        .collect())
}

impl Session {
    fn adaptor_theta(&self, what: &str) -> Result<Vec<f32>> {
        self.adaptor().map(|a| a.theta.clone()).ok_or_else(|| {
            Error::Config(format!(
                "{what}: this session has no adaptor yet (call personalize first): nothing to \
                 export"
            ))
        })
    }

    /// The (ε, δ)-DP release of this session's adaptor θ: clipped to L2 norm `clip`, plus
    /// N(0, σ²) per coordinate, σ from [`analytic_gaussian_sigma`] with Δ = 2·clip
    /// (replace-one adjacency; see the module docs for the accounting — repeated exports
    /// compose). The noise is secret with `seed` `None`; a fixed seed makes it reproducible and
    /// removable (experiments only; see [`add_noise`]). `Error::Config` for ε ≤ 0 or not finite,
    /// δ ∉ (0, 1), clip ≤ 0 or not finite, or a session without an adaptor.
    pub fn private_update(
        &self,
        epsilon: f64,
        delta: f64,
        clip: f32,
        seed: Option<u64>,
    ) -> Result<PrivateUpdate> {
        check(epsilon, delta, f64::from(clip))?;
        let theta = self.adaptor_theta("private update")?;
        let sigma = analytic_gaussian_sigma(epsilon, delta, 2.0 * f64::from(clip))?;
        let delta_vec = add_noise(&clip_l2(&theta, clip)?, sigma, seed)?;
        Ok(PrivateUpdate {
            dim: delta_vec.len(),
            delta: delta_vec,
            clip,
            sigma: sigma as f32,
            epsilon,
            delta_dp: delta,
            bundle: self.weights_sha256(),
        })
    }

    /// The noiseless reference of [`Session::private_update`]: θ clipped to `clip`, σ = 0,
    /// ε = ∞, δ = 0. **Not private**: for experiments that measure what the noise costs.
    pub fn clipped_update(&self, clip: f32) -> Result<PrivateUpdate> {
        if !(clip.is_finite() && clip > 0.0) {
            return Err(Error::Config(format!(
                "clipped update: clip must be finite and > 0, got {clip}"
            )));
        }
        let theta = clip_l2(&self.adaptor_theta("clipped update")?, clip)?;
        Ok(PrivateUpdate {
            dim: theta.len(),
            delta: theta,
            clip,
            sigma: 0.0,
            epsilon: f64::INFINITY,
            delta_dp: 0.0,
            bundle: self.weights_sha256(),
        })
    }
}

/// The server's side: the mean of the updates' deltas. They must be non-empty, for one bundle
/// and of one width (`Error::Data` otherwise).
pub fn aggregate(updates: &[PrivateUpdate]) -> Result<Vec<f32>> {
    let first = updates
        .first()
        .ok_or_else(|| Error::Data("aggregate: no updates".into()))?;
    let mut sum = vec![0.0f64; first.dim];
    for (k, u) in updates.iter().enumerate() {
        if u.bundle != first.bundle {
            return Err(Error::Data(format!(
                "aggregate: update {k} is for bundle {}, update 0 for {}",
                u.bundle, first.bundle
            )));
        }
        if u.dim != first.dim || u.delta.len() != first.dim {
            return Err(Error::Data(format!(
                "aggregate: update {k} has {} values (dim {}), update 0 has dim {}",
                u.delta.len(),
                u.dim,
                first.dim
            )));
        }
        if !u.delta.iter().all(|x| x.is_finite()) {
            return Err(Error::Data(format!(
                "aggregate: update {k} has a value that is not finite"
            )));
        }
        sum.iter_mut()
            .zip(&u.delta)
            .for_each(|(s, x)| *s += f64::from(*x));
    }
    let n = updates.len() as f64;
    Ok(sum.iter().map(|s| (s / n) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_matches_an_independent_implementation() {
        // Reference: scripts/dp_sigma_reference.py — an independent Python bisection on the same
        // condition with math.erfc (see that file), run for ε = 1, δ = 1e-5, Δ = 1.
        // `python3 scripts/dp_sigma_reference.py 1 1e-5 1` → 3.730631634815939 (Algorithm 1's
        // B− branch: δ < δ₀); `… 8 1e-5 2` → 1.2004581443979032; `… 0.5 1e-5 2` → 14.063653351164966.
        for (e, d, g, reference) in [
            (1.0, 1e-5, 1.0, 3.730631634815939),
            (8.0, 1e-5, 2.0, 1.2004581443979032),
            (0.5, 1e-5, 2.0, 14.063653351164966),
        ] {
            let s = analytic_gaussian_sigma(e, d, g).unwrap();
            assert!(
                (s - reference).abs() < 1e-7 * reference,
                "{s} vs {reference}"
            );
        }
        let s = analytic_gaussian_sigma(1.0, 1e-5, 1.0).unwrap();
        // Its δ sits on the boundary.
        let d = gaussian_delta(s, 1.0, 1.0);
        assert!((d - 1e-5).abs() < 1e-9, "{d}");
    }

    #[test]
    fn sigma_falls_with_epsilon_and_beats_the_classic_bound() {
        let eps = [0.1, 0.25, 0.5, 0.9, 1.0, 2.0, 4.0, 8.0, 16.0];
        let sigmas: Vec<f64> = eps
            .iter()
            .map(|&e| analytic_gaussian_sigma(e, 1e-5, 2.0).unwrap())
            .collect();
        assert!(sigmas.windows(2).all(|w| w[1] < w[0]), "{sigmas:?}");
        for (&e, &s) in eps.iter().zip(&sigmas) {
            if e < 1.0 {
                let classic = classic_gaussian_sigma(e, 1e-5, 2.0);
                assert!(classic >= s, "ε {e}: classic {classic} < analytic {s}");
            }
        }
        // σ is linear in Δ.
        let a = analytic_gaussian_sigma(1.0, 1e-5, 1.0).unwrap();
        let b = analytic_gaussian_sigma(1.0, 1e-5, 3.0).unwrap();
        assert!((b - 3.0 * a).abs() < 1e-9 * b, "{a} {b}");
    }

    #[test]
    fn bad_parameters_are_config_errors() {
        for (e, d, c) in [
            (0.0, 1e-5, 1.0),
            (-1.0, 1e-5, 1.0),
            (f64::INFINITY, 1e-5, 1.0),
            (f64::NAN, 1e-5, 1.0),
            (1.0, 0.0, 1.0),
            (1.0, 1.0, 1.0),
            (1.0, f64::NAN, 1.0),
            (1.0, 1e-5, 0.0),
            (1.0, 1e-5, f64::INFINITY),
            (1.0, 1e-5, -1.0),
        ] {
            let err = analytic_gaussian_sigma(e, d, c).unwrap_err();
            assert_eq!(err.code(), "BAD_CONFIG", "{e} {d} {c}");
        }
    }

    #[test]
    fn clipping_scales_long_vectors_to_the_bound_only() {
        let long: Vec<f32> = vec![6.0, 8.0]; // norm 10
        let c = clip_l2(&long, 1.0).unwrap();
        let norm = c.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        assert!(norm <= 1.0 && norm > 1.0 - 2e-6, "{c:?}");
        assert!((c[0] - 0.6).abs() < 1e-5 && (c[1] - 0.8).abs() < 1e-5);
        assert_eq!(clip_l2(&[0.3, 0.4], 1.0).unwrap(), vec![0.3, 0.4]);
        assert_eq!(clip_l2(&[0.0, 0.0], 1.0).unwrap(), vec![0.0, 0.0]);
        assert_eq!(
            clip_l2(&[f32::NAN, 1.0], 1.0).unwrap_err().code(),
            "BAD_DATA"
        );
    }

    #[test]
    fn noise_is_seeded_and_has_the_requested_spread() {
        let zero = vec![0.0f32; 100_000];
        let a = add_noise(&zero, 2.5, Some(7)).unwrap();
        assert_eq!(a, add_noise(&zero, 2.5, Some(7)).unwrap());
        assert_ne!(a, add_noise(&zero, 2.5, Some(8)).unwrap());
        // Secret noise: two draws differ (and neither is a fixed seed's stream).
        let secret = add_noise(&zero[..64], 2.5, None).unwrap();
        assert_ne!(secret, add_noise(&zero[..64], 2.5, None).unwrap());
        assert_ne!(secret, a[..64]);
        let n = a.len() as f64;
        let mean = a.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
        let std = (a
            .iter()
            .map(|x| (f64::from(*x) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((std / 2.5 - 1.0).abs() < 0.02, "{std}");
    }

    #[test]
    fn a_session_exports_its_clipped_noisy_theta() {
        let (full, _) = crate::store::tests::full_and_serving();
        let mut session = Session::new(full);
        let err = session.private_update(1.0, 1e-5, 1.0, Some(1)).unwrap_err();
        assert_eq!(err.code(), "BAD_CONFIG");
        assert!(err.to_string().contains("no adaptor"), "{err}");
        let dim = session.theta().len();
        assert!(dim >= 2);
        let mut theta = vec![0.0f32; dim];
        (theta[0], theta[1]) = (6.0, 8.0); // norm 10
        session.set_adaptor(theta, 1.0, 1).unwrap();
        let clean = session.clipped_update(1.0).unwrap();
        let norm = clean
            .delta
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(norm <= 1.0 && norm > 1.0 - 3e-6, "{norm}");
        assert_eq!(clean.sigma, 0.0);
        let u = session.private_update(1.0, 1e-5, 1.0, Some(3)).unwrap();
        assert_eq!((u.dim, u.delta.len()), (dim, dim));
        let sigma = analytic_gaussian_sigma(1.0, 1e-5, 2.0).unwrap();
        assert!((f64::from(u.sigma) - sigma).abs() < 1e-5 * sigma);
        assert!((u.sigma - 2.0 * 3.730_631_6).abs() < 1e-4, "{}", u.sigma);
        assert_eq!(u.delta, add_noise(&clean.delta, sigma, Some(3)).unwrap());
        assert_eq!(u, session.private_update(1.0, 1e-5, 1.0, Some(3)).unwrap());
        assert_ne!(
            u.delta,
            session
                .private_update(1.0, 1e-5, 1.0, Some(4))
                .unwrap()
                .delta
        );
        assert_eq!(u.bundle, session.state().bundle);
        assert!(!u.bundle.is_empty());
        for (e, d, c) in [(0.0, 1e-5, 1.0), (1.0, 1.0, 1.0), (1.0, 1e-5, f32::NAN)] {
            let err = session.private_update(e, d, c, Some(1)).unwrap_err();
            assert_eq!(err.code(), "BAD_CONFIG");
        }
        // The serialised form round-trips.
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<PrivateUpdate>(&json).unwrap(), u);
    }

    #[test]
    fn aggregate_is_the_mean_and_refuses_mixed_updates() {
        let u = |delta: Vec<f32>, bundle: &str| PrivateUpdate {
            dim: delta.len(),
            delta,
            clip: 1.0,
            sigma: 0.0,
            epsilon: 1.0,
            delta_dp: 1e-5,
            bundle: bundle.into(),
        };
        let mean = aggregate(&[u(vec![1.0, 2.0], "a"), u(vec![3.0, -2.0], "a")]).unwrap();
        assert_eq!(mean, vec![2.0, 0.0]);
        assert!(aggregate(&[]).is_err());
        assert!(aggregate(&[u(vec![1.0], "a"), u(vec![1.0], "b")]).is_err());
        assert!(aggregate(&[u(vec![1.0], "a"), u(vec![1.0, 2.0], "a")]).is_err());
    }
}
