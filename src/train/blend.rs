//! A blend bundle from bundles trained on one split (see [`crate::model::blend`]): the parts'
//! models side by side, their weights given or chosen on validation, the blend measured like any
//! trained bundle.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::{evaluate_with, Target};
use crate::model::{Blend, BlendConfig, BlendPart, ModelConfig, TrainedModel};
use crate::store::{Bundle, Precision};

use super::pipeline::{bundle_split, measure, plain_options};

/// How a blend's weights are set.
#[derive(Debug, Clone, PartialEq)]
pub enum BlendWeights {
    /// One weight per part, as given.
    Given(Vec<f64>),
    /// The first part's weight is 1; each other part's is chosen from [`SEARCH_WEIGHTS`] by
    /// the validation metric (every combination; at most three parts).
    Search,
}

/// The weights [`BlendWeights::Search`] tries for each part after the first.
pub const SEARCH_WEIGHTS: [f64; 8] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];

/// What a weight search tried: each weight vector with its validation metric, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BlendSearch {
    pub metric: String,
    pub tried: Vec<(Vec<f64>, f64)>,
}

/// Blends `parts` (trained on `dataset` with one protocol and split; none a serving bundle, a
/// blend, SASRec or with a friend graph) into one bundle with the first part's catalog, titles
/// and provenance and every part's catalog content (each modality once). Searching weights
/// reads validation only, by `metric` (e.g. `ndcg@10`, `recall@20`). The blend is stored in f32
/// whatever the parts' precision. Returns the bundle (its metrics measured) and the search.
pub fn blend_bundles(
    parts: &[Bundle],
    dataset: &Dataset,
    weights: BlendWeights,
    metric: &str,
) -> Result<(Bundle, BlendSearch)> {
    let first = parts
        .first()
        .ok_or_else(|| Error::Config("blend: no bundles".into()))?;
    let (f, split) = (&first.manifest.data, bundle_split(first, dataset)?);
    for (k, b) in parts.iter().enumerate() {
        let (m, d) = (&b.manifest, &b.manifest.data);
        // The seed is part of the protocol but not of a given split: parts trained with other
        // seeds blend when their splits are the same.
        let protocol = crate::data::Protocol {
            seed: f.protocol.seed,
            ..d.protocol
        };
        let why = if b.is_serving() {
            Some("is a serving bundle (no training users to choose weights on)")
        } else if m.social.is_some() {
            Some("scores with a friend graph")
        } else if d.source != f.source || d.fingerprint != f.fingerprint {
            Some("was trained on other data files (train every part with the same data flags)")
        } else if protocol != f.protocol {
            Some("was trained under another protocol")
        } else if m.items != first.manifest.items || m.users != first.manifest.users {
            Some("has another catalog or other users")
        } else {
            let own = bundle_split(b, dataset)?;
            (own.train != split.train || own.valid != split.valid || own.test != split.test)
                .then_some("was trained on another split (a random split with another seed?)")
        };
        if let Some(why) = why {
            return Err(Error::Config(format!("blend: bundle {k} {why}")));
        }
    }
    let configs: Vec<ModelConfig> = parts.iter().map(|b| b.manifest.model.clone()).collect();
    let config_with = |w: &[f64]| BlendConfig {
        parts: configs
            .iter()
            .zip(w)
            .map(|(model, &weight)| BlendPart {
                weight,
                model: model.clone(),
            })
            .collect(),
    };
    // The parts' models, copied once; each weight vector tried is set in place.
    let mut model = TrainedModel::Blend(Blend {
        parts: parts.iter().map(|b| (0.0, b.model.clone())).collect(),
    });
    let set = |model: &mut TrainedModel, w: &[f64]| {
        if let TrainedModel::Blend(b) = model {
            b.parts.iter_mut().zip(w).for_each(|(p, &x)| p.0 = x as f32);
        }
    };
    let options = plain_options(&first.manifest.item_categories);
    let valid = |model: &TrainedModel| -> Result<f64> {
        let m = evaluate_with(model, &split, &first.history, Target::Valid, options);
        m.get(metric).ok_or_else(|| {
            Error::Config(format!(
                "blend: unknown metric '{metric}' (e.g. ndcg@10, recall@20)"
            ))
        })
    };
    let mut search = BlendSearch {
        metric: metric.to_owned(),
        tried: Vec::new(),
    };
    let chosen = match weights {
        BlendWeights::Given(w) => {
            if w.len() != parts.len() {
                return Err(Error::Config(format!(
                    "blend: {} weights for {} bundles",
                    w.len(),
                    parts.len()
                )));
            }
            config_with(&w).validate()?;
            w
        }
        BlendWeights::Search => {
            config_with(&vec![1.0; parts.len()]).validate()?;
            if parts.len() > 3 {
                return Err(Error::Config(format!(
                    "blend: searching weights covers at most 3 bundles ({} given): give the \
                     weights",
                    parts.len()
                )));
            }
            let mut candidates = vec![vec![1.0]];
            for _ in 1..parts.len() {
                candidates = candidates
                    .into_iter()
                    .flat_map(|c| {
                        SEARCH_WEIGHTS.iter().map(move |&w| {
                            let mut c = c.clone();
                            c.push(w);
                            c
                        })
                    })
                    .collect();
            }
            let mut best: Option<(f64, Vec<f64>)> = None;
            for c in candidates {
                set(&mut model, &c);
                let v = valid(&model)?;
                search.tried.push((c.clone(), v));
                if best.as_ref().is_none_or(|b| v > b.0) {
                    best = Some((v, c));
                }
            }
            best.map(|b| b.1)
                .ok_or_else(|| Error::Config("blend: no weights to try".into()))?
        }
    };
    set(&mut model, &chosen);

    let mut manifest = first.manifest.clone();
    manifest.model = ModelConfig::Blend(config_with(&chosen));
    manifest.precision = Precision::F32;
    let mut content = Vec::new();
    manifest.content = Vec::new();
    for b in parts {
        for (entry, modality) in b.manifest.content.iter().zip(&b.content) {
            if !manifest.content.iter().any(|e| e.name == entry.name) {
                manifest.content.push(entry.clone());
                content.push(modality.clone());
            }
        }
    }
    let mut bundle = Bundle {
        manifest,
        model,
        history: first.history.clone(),
        content,
        item_counts: None,
        weights_file: Default::default(),
    };
    bundle.manifest.metrics = measure(&bundle, &split, None)?;
    Ok((bundle, search))
}
