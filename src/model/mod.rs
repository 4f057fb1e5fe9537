//! Recommenders. Training builds a [`TrainedModel`]: plain `f32` arrays on the CPU that score a
//! user against the whole catalog the same way on every platform, and that the bundle stores.
//! Training itself runs on a burn device (see [`crate::device`]).

pub mod autoencoder;
pub mod blend;
mod ease;
mod factor;
pub mod graph;
pub mod heads;
pub mod hybrid;
mod knn;
#[cfg(feature = "multi-device")]
pub mod parallel;
mod popularity;
pub mod sequential;
mod sparse_ease;
pub mod training;
pub mod vbpr;

use serde::{Deserialize, Serialize};

pub use autoencoder::{train_mult_dae, AutoencoderConfig, DaeEncoder};
pub use blend::{Blend, BlendConfig, BlendPart};
pub use ease::{train_ease, train_ease_ordered, EaseConfig};
pub use factor::{
    train_bpr_sgd, train_factor_model, Biases, FactorConfig, FactorModel, I8Rows, ItemVectors,
    Objective, Solver, VisitorEncoder,
};
pub use graph::{content_graph, train_graph, GraphConfig};
pub use heads::{ClickHead, Heads, RatingHead};
pub use hybrid::{train_hybrid, HybridConfig, HybridInputs, Loss, TrainedHybrid};
pub use knn::{rank_weights, train_item_knn, ItemKnn, ItemKnnConfig, Similarity};
pub use popularity::Popularity;
pub use sequential::{train_sasrec, MostRecentItem, SasRecConfig, SeqEncoder};
pub use vbpr::{train_vbpr, VbprConfig};

pub use crate::data::UserHistory;

use burn::tensor::backend::AutodiffBackend;

use crate::data::Split;
use crate::encode::features::Modality;
use crate::encode::Content;
use crate::error::{Error, Result};
use crate::io::WeightMap;
use training::{TrainObserver, TrainingConfig};

/// What a trainer is given: the split (train for fitting, valid for early stopping), the
/// training histories, the dataset's content (for content models) and who hears progress.
pub struct FitContext<'a> {
    pub split: &'a Split,
    pub history: &'a UserHistory,
    pub content: Option<&'a Content>,
    pub observer: &'a mut dyn TrainObserver,
}

impl<'a> FitContext<'a> {
    /// The named content modalities, for `model` (in messages); none asked, none needed.
    pub fn modalities(&self, names: &[String], model: &str) -> Result<Vec<&'a Modality>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.content
            .ok_or_else(|| Error::Config(format!("{model} needs item content")))?
            .select(names)
    }
}

/// A model configuration that trains into a [`TrainedModel`] (linfa's `Fit` on the params
/// type). A new model is one file with its config implementing this, one [`ModelConfig`]
/// variant and one line in [`ModelConfig::fit`].
pub trait Fit {
    /// The content modalities the model reads (empty for collaborative-only models).
    fn modalities(&self) -> &[String] {
        &[]
    }

    /// Trains on `ctx.split.train`, choosing epochs on `ctx.split.valid`.
    fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel>;
}

/// Which model to train, with its hyper-parameters. Stored in the bundle manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    Popularity,
    ItemKnn(ItemKnnConfig),
    /// Matrix factorisation with global, user and item biases, fitted to ratings (MSE).
    Mf(FactorConfig),
    /// Matrix factorisation ranked with BPR and uniformly sampled negatives.
    BprMf(FactorConfig),
    /// The multimodal two-tower model; the bundle holds its precomputed user and item vectors.
    Hybrid(HybridConfig),
    /// LightGCN over the user–item graph; the bundle holds its propagated vectors.
    LightGcn(GraphConfig),
    /// LightGCN plus a frozen item–item graph from content (FREEDOM-style).
    Graph(GraphConfig),
    /// EASE, the closed-form item–item model; stored as item–item weights.
    Ease(EaseConfig),
    /// EASE with content Gram matrices added (text, tabular, KG as pseudo-users).
    EaseMm(EaseConfig),
    /// VBPR-style: collaborative factors plus user preferences over fused item content.
    Vbpr(VbprConfig),
    /// SASRec: causal self-attention over a user's ordered history; stored as a factor model
    /// whose visitors' vectors come from the encoder.
    Sasrec(SasRecConfig),
    /// Mult-DAE: a denoising autoencoder over the user's items with a softmax likelihood; stored
    /// as a factor model whose visitors' vectors come from its encoder.
    MultDae(AutoencoderConfig),
    /// Several models' per-user standardised scores, weighted (see [`blend`]).
    Blend(BlendConfig),
}

impl ModelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Popularity => "popularity",
            ModelConfig::ItemKnn(_) => "item-knn",
            ModelConfig::Mf(_) => "mf",
            ModelConfig::BprMf(_) => "bpr-mf",
            ModelConfig::Hybrid(_) => "hybrid",
            ModelConfig::LightGcn(_) => "lightgcn",
            ModelConfig::Graph(_) => "graph",
            ModelConfig::Vbpr(_) => "vbpr",
            ModelConfig::Ease(_) => "ease",
            ModelConfig::EaseMm(_) => "ease-mm",
            ModelConfig::Sasrec(_) => "sasrec",
            ModelConfig::MultDae(_) => "mult-dae",
            ModelConfig::Blend(_) => "blend",
        }
    }

    /// The content modalities the model reads (empty for collaborative-only models; a blend's
    /// parts' modalities, each once).
    pub fn modalities(&self) -> Vec<String> {
        match self {
            ModelConfig::Popularity | ModelConfig::ItemKnn(_) | ModelConfig::MultDae(_) => {
                Vec::new()
            }
            ModelConfig::Mf(c) | ModelConfig::BprMf(c) => c.modalities().to_vec(),
            ModelConfig::Hybrid(c) => c.modalities().to_vec(),
            ModelConfig::LightGcn(c) | ModelConfig::Graph(c) => c.modalities().to_vec(),
            ModelConfig::Vbpr(c) => c.modalities().to_vec(),
            ModelConfig::Ease(c) | ModelConfig::EaseMm(c) => c.modalities().to_vec(),
            ModelConfig::Sasrec(c) => c.modalities().to_vec(),
            ModelConfig::Blend(c) => {
                let mut all: Vec<String> = Vec::new();
                for m in c.parts.iter().flat_map(|p| p.model.modalities()) {
                    if !all.contains(&m) {
                        all.push(m);
                    }
                }
                all
            }
        }
    }

    /// Whether training reads the dataset's content: item modalities, or (two-tower) user
    /// features. The CLI encodes content only when some model needs it.
    pub fn needs_content(&self) -> bool {
        match self {
            ModelConfig::Hybrid(_) => true,
            ModelConfig::Blend(c) => c.parts.iter().any(|p| p.model.needs_content()),
            other => !other.modalities().is_empty(),
        }
    }

    /// Trains the model (see [`Fit`]).
    pub fn fit<B: AutodiffBackend>(
        &self,
        ctx: FitContext<'_>,
        device: &B::Device,
    ) -> Result<TrainedModel> {
        match self {
            ModelConfig::Popularity => Ok(TrainedModel::Popularity(Popularity::fit(
                ctx.split.n_items,
                &ctx.split.train,
            ))),
            ModelConfig::ItemKnn(c) => c.fit::<B>(ctx, device),
            ModelConfig::Mf(c) => c.fit_objective::<B>(Objective::Mse, ctx, device),
            ModelConfig::BprMf(c) => c.fit_objective::<B>(Objective::Bpr, ctx, device),
            ModelConfig::Hybrid(c) => c.fit::<B>(ctx, device),
            ModelConfig::LightGcn(c) | ModelConfig::Graph(c) => c.fit::<B>(ctx, device),
            ModelConfig::Vbpr(c) => c.fit::<B>(ctx, device),
            ModelConfig::Ease(c) | ModelConfig::EaseMm(c) => c.fit::<B>(ctx, device),
            ModelConfig::Sasrec(c) => c.fit::<B>(ctx, device),
            ModelConfig::MultDae(c) => c.fit::<B>(ctx, device),
            ModelConfig::Blend(c) => {
                c.validate()?;
                let FitContext {
                    split,
                    history,
                    content,
                    observer,
                } = ctx;
                let parts = c
                    .parts
                    .iter()
                    .map(|p| {
                        let ctx = FitContext {
                            split,
                            history,
                            content,
                            observer: &mut *observer,
                        };
                        Ok((p.weight as f32, p.model.fit::<B>(ctx, device)?))
                    })
                    .collect::<Result<_>>()?;
                Ok(TrainedModel::Blend(Blend { parts }))
            }
        }
    }

    /// The configuration with our tuned defaults for a kind name as used on the command line.
    pub fn default_for(kind: &str) -> Result<Self> {
        Ok(match kind {
            "popularity" | "pop" => ModelConfig::Popularity,
            "item-knn" | "itemknn" | "knn" => ModelConfig::ItemKnn(ItemKnnConfig::default()),
            "mf" => ModelConfig::Mf(FactorConfig::mf_default()),
            "bpr-mf" | "bpr" => ModelConfig::BprMf(FactorConfig::bpr_default()),
            "hybrid" => ModelConfig::Hybrid(HybridConfig::default()),
            "lightgcn" => ModelConfig::LightGcn(GraphConfig::lightgcn_default()),
            "graph" => ModelConfig::Graph(GraphConfig::multimodal_default()),
            "vbpr" => ModelConfig::Vbpr(VbprConfig::default()),
            "ease" => ModelConfig::Ease(EaseConfig::plain_default()),
            "ease-mm" => ModelConfig::EaseMm(EaseConfig::multimodal_default()),
            "sasrec" => ModelConfig::Sasrec(SasRecConfig::default()),
            "mult-dae" | "multdae" | "dae" => ModelConfig::MultDae(AutoencoderConfig::default()),
            other => {
                return Err(Error::Config(format!(
                    "unknown model '{other}' (expected popularity, item-knn, mf, bpr-mf, hybrid, \
                     lightgcn, graph, vbpr, ease, ease-mm, sasrec or mult-dae)"
                )))
            }
        })
    }

    /// The shared training fields of models trained by the loop (None for closed-form ones).
    pub fn training_mut(&mut self) -> Option<&mut TrainingConfig> {
        match self {
            ModelConfig::Popularity
            | ModelConfig::ItemKnn(_)
            | ModelConfig::Ease(_)
            | ModelConfig::EaseMm(_)
            | ModelConfig::Blend(_) => None,
            ModelConfig::Mf(c) | ModelConfig::BprMf(c) => Some(&mut c.train),
            ModelConfig::Hybrid(c) => Some(&mut c.train),
            ModelConfig::LightGcn(c) | ModelConfig::Graph(c) => Some(&mut c.train),
            ModelConfig::Vbpr(c) => Some(&mut c.train),
            ModelConfig::Sasrec(c) => Some(&mut c.train),
            ModelConfig::MultDae(c) => Some(&mut c.train),
        }
    }

    /// Sets the seed of models that have one (initial weights, shuffling, negatives).
    pub fn set_seed(&mut self, seed: u64) {
        if let Some(t) = self.training_mut() {
            t.seed = seed;
        }
    }

    /// Whether the model predicts ratings (evaluated with RMSE/MAE as well as ranking): MF, and
    /// the two-tower model with a rating head. Both fit ratings, so train on explicit feedback.
    pub fn predicts_ratings(&self) -> bool {
        match self {
            ModelConfig::Mf(_) => true,
            ModelConfig::Hybrid(c) => c.rating_weight > 0.0,
            _ => false,
        }
    }
}

/// A trained model, ready to score.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainedModel {
    Popularity(Popularity),
    ItemKnn(ItemKnn),
    Factor(FactorModel),
    Blend(Blend),
}

impl TrainedModel {
    /// The weight of each event of a history with these ratings, computed over the whole
    /// history: a rank-weighted EASE's [`ItemKnn::event_weights`], 1 for every other model.
    pub fn event_weights(&self, ratings: &[f32]) -> Vec<f32> {
        match self {
            TrainedModel::ItemKnn(m) => m.event_weights(ratings),
            _ => vec![1.0; ratings.len()],
        }
    }

    /// Recomputes the user vectors of models whose users come from an encoder over the set of
    /// their training items (Mult-DAE, also inside a blend) from `history`, so that a bundle's
    /// training users are scored exactly as a visitor with their history is, whatever precision
    /// stored the encoder (an int8 bundle's user vectors would otherwise be rounded apart).
    pub fn encode_users(&mut self, history: &UserHistory) -> Result<()> {
        match self {
            TrainedModel::Factor(m) => {
                let Some(VisitorEncoder::Autoencoder(e)) = m.encoder.as_deref() else {
                    return Ok(());
                };
                let n_users = m.user_factors.len() / m.dim.max(1);
                if history.offsets.len() != n_users + 1 {
                    return Err(Error::Bundle(format!(
                        "autoencoder: {n_users} user vectors for a history of {} users",
                        history.offsets.len().saturating_sub(1)
                    )));
                }
                let mut users = Vec::with_capacity(m.user_factors.len());
                for u in 0..n_users as u32 {
                    let events: Vec<Vec<(u32, f32)>> =
                        history.user(u).0.iter().map(|&i| vec![(i, 1.0)]).collect();
                    users.extend(e.encode(&events)?);
                }
                if users.len() != m.user_factors.len() {
                    return Err(Error::Bundle("autoencoder: user vectors' width".into()));
                }
                m.user_factors = users;
                Ok(())
            }
            TrainedModel::Blend(b) => b
                .parts
                .iter_mut()
                .try_for_each(|p| p.1.encode_users(history)),
            _ => Ok(()),
        }
    }

    /// Writes the score of every item for `user` (with training history `items`/`ratings`) into
    /// `out`, which has one slot per catalog item. Higher is better; for MF it is the predicted
    /// rating.
    pub fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        match self {
            TrainedModel::Popularity(m) => out.copy_from_slice(&m.counts),
            TrainedModel::ItemKnn(m) => m.score(items, ratings, out),
            TrainedModel::Factor(m) => m.score(user, out),
            TrainedModel::Blend(m) => m.score(user, items, ratings, out),
        }
    }

    /// The predicted rating of (user, item), for models fitted to ratings.
    pub fn predict(&self, user: u32, item: u32) -> Option<f32> {
        match self {
            // MF (with biases) and the two-tower model's rating head are fitted to ratings;
            // BPR scores are not on the rating scale.
            TrainedModel::Factor(m) if m.biases.is_some() => Some(m.predict(user, item)),
            TrainedModel::Factor(m) => m.head_rating(user, item),
            _ => None,
        }
    }

    /// The probability that `user` interacts with `item`, for models with a click head.
    pub fn click(&self, user: u32, item: u32) -> Option<f32> {
        match self {
            TrainedModel::Factor(m) => m.click(user, item),
            _ => None,
        }
    }

    pub fn weights(&self) -> WeightMap {
        match self {
            TrainedModel::Popularity(m) => m.weights(),
            TrainedModel::ItemKnn(m) => m.weights(),
            TrainedModel::Factor(m) => m.weights(),
            TrainedModel::Blend(b) => b
                .parts
                .iter()
                .enumerate()
                .flat_map(|(k, (_, m))| {
                    m.weights()
                        .into_iter()
                        .map(move |(name, t)| (format!("part{k}.{name}"), t))
                })
                .collect(),
        }
    }

    /// [`TrainedModel::weights`] without a factor model's item vectors (which a bundle may
    /// store as they are held, e.g. in int8, rather than decoded).
    pub fn weights_without_item_factors(&self) -> WeightMap {
        match self {
            TrainedModel::Factor(m) => m.weights_with(false),
            other => other.weights(),
        }
    }

    /// Rebuilds a model from its configuration and weights, checking every shape.
    /// `item_rows`: a factor model's item vectors when the bundle keeps them in int8.
    pub fn from_weights(
        config: &ModelConfig,
        n_users: usize,
        n_items: usize,
        weights: &mut WeightMap,
        item_rows: Option<ItemVectors>,
    ) -> Result<Self> {
        let factor = matches!(
            config,
            ModelConfig::Mf(_)
                | ModelConfig::BprMf(_)
                | ModelConfig::Hybrid(_)
                | ModelConfig::LightGcn(_)
                | ModelConfig::Graph(_)
                | ModelConfig::Vbpr(_)
                | ModelConfig::Sasrec(_)
                | ModelConfig::MultDae(_)
        );
        if let ModelConfig::Blend(c) = config {
            c.validate().map_err(|e| Error::Bundle(e.to_string()))?;
            if item_rows.is_some() {
                return Err(Error::Bundle(
                    "int8 item factors in a blend's bundle".into(),
                ));
            }
            let parts = c
                .parts
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let prefix = format!("part{k}.");
                    // The names are sorted: the part's tensors are one range of them.
                    let names: Vec<String> = weights
                        .range(prefix.clone()..)
                        .map(|(n, _)| n)
                        .take_while(|n| n.starts_with(&prefix))
                        .cloned()
                        .collect();
                    let mut own: WeightMap = names
                        .into_iter()
                        .filter_map(|n| {
                            let t = weights.remove(&n)?;
                            Some((n[prefix.len()..].to_string(), t))
                        })
                        .collect();
                    let model = Self::from_weights(&p.model, n_users, n_items, &mut own, None)
                        .map_err(|e| match e {
                            Error::Bundle(m) => Error::Bundle(format!("blend part {k}: {m}")),
                            other => other,
                        })?;
                    if let Some(extra) = own.keys().next() {
                        return Err(Error::Bundle(format!("unexpected tensor {prefix}{extra}")));
                    }
                    Ok((p.weight as f32, model))
                })
                .collect::<Result<_>>()?;
            return Ok(TrainedModel::Blend(Blend { parts }));
        }
        if item_rows.is_some() && !factor {
            return Err(Error::Bundle(
                "int8 item factors in a bundle of a model without them".into(),
            ));
        }
        Ok(match config {
            ModelConfig::Blend(_) => {
                return Err(Error::Bundle("a blend's parts are read above".into()))
            }
            ModelConfig::Popularity => {
                TrainedModel::Popularity(Popularity::from_weights(n_items, weights)?)
            }
            ModelConfig::ItemKnn(c) => {
                TrainedModel::ItemKnn(ItemKnn::from_weights(c, n_items, weights)?)
            }
            ModelConfig::Mf(c) | ModelConfig::BprMf(c) => TrainedModel::Factor(
                FactorModel::from_weights(c.train.dim, n_users, n_items, weights, item_rows)?,
            ),
            ModelConfig::Hybrid(HybridConfig { train, .. })
            | ModelConfig::LightGcn(GraphConfig { train, .. })
            | ModelConfig::Graph(GraphConfig { train, .. }) => TrainedModel::Factor(
                FactorModel::from_weights(train.dim, n_users, n_items, weights, item_rows)?,
            ),
            ModelConfig::Ease(c) | ModelConfig::EaseMm(c) => {
                TrainedModel::ItemKnn(ItemKnn::from_weights(
                    &ease::stored_config(c.k.min(n_items.saturating_sub(1)).max(1), c.rank_weight),
                    n_items,
                    weights,
                )?)
            }
            // Users [γ_u, θ_u, 1], items [γ_i, c_i, β_i]: see `vbpr`.
            ModelConfig::Vbpr(c) => TrainedModel::Factor(FactorModel::from_weights(
                c.train
                    .dim
                    .checked_mul(2)
                    .and_then(|d| d.checked_add(1))
                    .ok_or_else(|| Error::Bundle("VBPR: dim out of range".into()))?,
                n_users,
                n_items,
                weights,
                item_rows,
            )?),
            ModelConfig::Sasrec(c) => {
                let mut m =
                    FactorModel::from_weights(c.train.dim, n_users, n_items, weights, item_rows)?;
                m.encoder = Some(Box::new(VisitorEncoder::Sequence(
                    SeqEncoder::from_weights(c, weights)?,
                )));
                TrainedModel::Factor(m)
            }
            // Users [h_u, 1], items [W₂ᵀ_i, b₂_i]: see `autoencoder`.
            ModelConfig::MultDae(c) => {
                c.validate().map_err(|e| Error::Bundle(e.to_string()))?;
                let mut m = FactorModel::from_weights(
                    c.train
                        .dim
                        .checked_add(1)
                        .ok_or_else(|| Error::Bundle("Mult-DAE: dim out of range".into()))?,
                    n_users,
                    n_items,
                    weights,
                    item_rows,
                )?;
                m.encoder = Some(Box::new(VisitorEncoder::Autoencoder(
                    DaeEncoder::from_weights(c, n_items, weights)?,
                )));
                TrainedModel::Factor(m)
            }
        })
    }
}

impl crate::eval::Scores for TrainedModel {
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        TrainedModel::score(self, user, items, ratings, out)
    }
    fn predict(&self, user: u32, item: u32) -> Option<f32> {
        TrainedModel::predict(self, user, item)
    }
    fn click(&self, user: u32, item: u32) -> Option<f32> {
        TrainedModel::click(self, user, item)
    }
}

/// A factor snapshot with its validation NDCG@10: what the neural trainers early-stop on.
pub(crate) fn with_valid_ndcg(
    model: FactorModel,
    split: &crate::data::Split,
    history: &UserHistory,
) -> (f64, FactorModel) {
    let ndcg = crate::eval::evaluate(&model, split, history, crate::eval::Target::Valid).ndcg(10);
    (ndcg, model)
}

/// Takes a bundle weight out of `weights`, requiring the given shape.
pub(crate) fn take_weight(
    weights: &mut WeightMap,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    crate::io::take_tensor(weights, name, shape, Error::Bundle)
}
