//! Score blends: several trained models of one catalog, each user's scores from each model
//! standardised and summed with weights, `s(u, i) = Σ_k w_k · (s_k(u, i) − μ_k(u)) / σ_k(u)`,
//! where `μ_k(u)`, `σ_k(u)` are the mean and standard deviation of model k's scores for u over
//! the catalog items not in u's history (a model whose scores are all equal there contributes
//! nothing).
//!
//! Why standardise per user: the parts' scores live on unrelated scales (EASE's reconstructed
//! co-occurrences, an autoencoder's logits), and a fixed rescaling would let whichever model
//! spreads a given user's scores widest decide that user's list. Seen items are left out of the
//! statistics because the models score them far above the rest (they reconstruct the input),
//! which would shrink everything else to one value.
//!
//! A blend is made from bundles already trained on the same split (`fusionrec blend`), with its
//! weights given or chosen on validation; its parts read a history as a set (no SASRec part),
//! each with its own reading of it (rank weights, an encoder).

use serde::{Deserialize, Serialize};

use super::{ModelConfig, TrainedModel};
use crate::error::{Error, Result};

/// One model of a blend and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendPart {
    pub weight: f64,
    pub model: ModelConfig,
}

/// The models of a blend, in order (the bundle's tensors of part k are prefixed `part{k}.`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendConfig {
    pub parts: Vec<BlendPart>,
}

/// The most models one blend holds (a manifest is input: each part costs a scoring per list).
pub const MAX_PARTS: usize = 16;

impl BlendConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("blend: {why}")));
        if !(2..=MAX_PARTS).contains(&self.parts.len()) {
            return bad(format!(
                "needs 2 to {MAX_PARTS} models, got {}",
                self.parts.len()
            ));
        }
        for (k, p) in self.parts.iter().enumerate() {
            // Scores use the weight in f32: it must be a finite f32 too.
            if !(p.weight >= 0.0 && (p.weight as f32).is_finite()) {
                return bad(format!(
                    "part {k}'s weight must be a number from 0 to 3.4e38, got {}",
                    p.weight
                ));
            }
            match &p.model {
                ModelConfig::Blend(_) => return bad(format!("part {k} is itself a blend")),
                ModelConfig::Sasrec(_) => {
                    return bad(format!(
                        "part {k} is SASRec, which reads a history in order; a blend's parts \
                         read it as a set"
                    ))
                }
                _ => {}
            }
        }
        if self.parts.iter().all(|p| p.weight as f32 == 0.0) {
            return bad("every weight is 0".into());
        }
        Ok(())
    }
}

/// A trained blend: its parts with their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    pub parts: Vec<(f32, TrainedModel)>,
}

impl Blend {
    /// The blended scores of a training user (see [`TrainedModel::score`]): each part scores,
    /// is standardised over the items not in `items`, and is added with its weight.
    pub fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        let done: std::result::Result<(), std::convert::Infallible> =
            self.combine(out, items, |_, model, part| {
                model.score(user, items, ratings, part);
                Ok(())
            });
        let Ok(()) = done;
    }

    /// Sums the parts' standardised scores into `out`: `part_scores(k, model, buffer)` writes
    /// part k's raw scores; `seen` are left out of the statistics.
    pub fn combine<E>(
        &self,
        out: &mut [f32],
        seen: &[u32],
        mut part_scores: impl FnMut(usize, &TrainedModel, &mut [f32]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let n = out.len();
        let mut counted = vec![true; n];
        for &i in seen {
            if let Some(c) = counted.get_mut(i as usize) {
                *c = false;
            }
        }
        out.fill(0.0);
        let mut part = vec![0.0f32; n];
        for (k, (w, model)) in self.parts.iter().enumerate() {
            if *w == 0.0 {
                continue;
            }
            part_scores(k, model, &mut part)?;
            let Some((mean, sd)) = stats(&part, &counted) else {
                continue;
            };
            let scale = w / sd;
            out.iter_mut()
                .zip(&part)
                .for_each(|(o, &s)| *o += scale * (s - mean));
        }
        Ok(())
    }
}

/// Mean and standard deviation of `scores` where `counted`, in f64; `None` when fewer than two
/// are counted or they are all equal (or not finite).
fn stats(scores: &[f32], counted: &[bool]) -> Option<(f32, f32)> {
    let (mut n, mut sum) = (0usize, 0.0f64);
    for (&s, &c) in scores.iter().zip(counted) {
        if c {
            n += 1;
            sum += f64::from(s);
        }
    }
    if n < 2 {
        return None;
    }
    let mean = sum / n as f64;
    let var = scores
        .iter()
        .zip(counted)
        .filter(|(_, &c)| c)
        .map(|(&s, _)| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let sd = var.sqrt();
    (sd.is_finite() && sd > 0.0).then_some((mean as f32, sd as f32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Popularity;

    fn pop(counts: &[f32]) -> TrainedModel {
        TrainedModel::Popularity(Popularity {
            counts: counts.to_vec(),
        })
    }

    #[test]
    fn parts_are_standardised_over_unseen_items_and_weighted() {
        let blend = Blend {
            parts: vec![
                (1.0, pop(&[100.0, 1.0, 2.0, 3.0])),
                (2.0, pop(&[-5.0, 30.0, 10.0, 20.0])),
            ],
        };
        let mut out = vec![0.0; 4];
        blend.score(0, &[0], &[1.0], &mut out);
        // Over items 1..3: part 0 has mean 2, sd √(2/3); part 1 has mean 20, sd √(200/3).
        let (s0, s1) = ((2.0f64 / 3.0).sqrt(), (200.0f64 / 3.0).sqrt());
        let want = |a: f64, b: f64| (a - 2.0) / s0 + 2.0 * (b - 20.0) / s1;
        let expected = [
            want(100.0, -5.0),
            want(1.0, 30.0),
            want(2.0, 10.0),
            want(3.0, 20.0),
        ];
        for (a, b) in out.iter().zip(expected) {
            assert!((f64::from(*a) - b).abs() < 1e-4, "{out:?} vs {expected:?}");
        }
    }

    #[test]
    fn a_flat_part_adds_nothing_and_a_zero_weight_is_skipped() {
        let blend = Blend {
            parts: vec![(1.0, pop(&[1.0, 2.0, 3.0])), (5.0, pop(&[7.0, 7.0, 7.0]))],
        };
        let mut out = vec![0.0; 3];
        blend.score(0, &[], &[], &mut out);
        let sd = (2.0f32 / 3.0).sqrt();
        assert_eq!(out, [-1.0 / sd, 0.0, 1.0 / sd]);
        let mut calls = 0;
        let skipped = Blend {
            parts: vec![(1.0, pop(&[1.0, 2.0, 3.0])), (0.0, pop(&[3.0, 2.0, 1.0]))],
        };
        skipped
            .combine(&mut out, &[], |_, m, b| {
                calls += 1;
                m.score(0, &[], &[], b);
                Ok::<(), Error>(())
            })
            .unwrap();
        assert_eq!(calls, 1);
    }

    #[test]
    fn config_is_checked() {
        let part = |weight: f64, model: ModelConfig| BlendPart { weight, model };
        let ease = || ModelConfig::default_for("ease").unwrap();
        let ok = BlendConfig {
            parts: vec![part(1.0, ease()), part(0.5, ModelConfig::Popularity)],
        };
        assert!(ok.validate().is_ok());
        let bad = [
            vec![part(1.0, ease())],
            vec![part(1.0, ease()), part(f64::NAN, ease())],
            vec![part(1.0, ease()), part(-1.0, ease())],
            vec![part(0.0, ease()), part(0.0, ease())],
            vec![part(1.0, ease()), part(1e39, ease())],
            vec![part(1e-46, ease()), part(1e-46, ease())],
            vec![part(1.0, ease()); MAX_PARTS + 1],
            vec![
                part(1.0, ease()),
                part(1.0, ModelConfig::default_for("sasrec").unwrap()),
            ],
            vec![part(1.0, ease()), part(1.0, ModelConfig::Blend(ok.clone()))],
        ];
        for parts in bad {
            assert!(BlendConfig { parts }.validate().is_err());
        }
        // The manifest's form round-trips.
        let json = serde_json::to_string(&ModelConfig::Blend(ok.clone())).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ModelConfig::Blend(ok));
    }
}
