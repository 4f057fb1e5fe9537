//! The experiments behind the README's multimodal tables: ablations over modalities and fusion
//! strategies, cold start, and missing modalities — all on the same protocol as the baselines.

use std::path::Path;

use crate::data::{Dataset, Split};
use crate::device::{run_on, BackendTask, DeviceKind};
use crate::encode::features::{
    kg_modality, tabular_modality, text_modality, tfidf_modality, user_features, Modality,
};
use crate::encode::TextEncoder;
use crate::error::{Error, Result};
use crate::eval::{evaluate, Metrics, Target};
use crate::model::{train_hybrid, HybridConfig, HybridInputs, TrainedModel, UserHistory};
use crate::train::TrainObserver;

/// Every content modality of a dataset, plus user features.
pub struct Content {
    pub modalities: Vec<Modality>,
    pub user_dim: usize,
    pub user_values: Vec<f32>,
}

impl Content {
    /// Builds all modalities; MiniLM weights are read from `minilm_dir` (see `fetch minilm`).
    pub fn build(dataset: &Dataset, minilm_dir: &Path) -> Result<Self> {
        let read = |f: &str| {
            let p = minilm_dir.join(f);
            std::fs::read(&p).map_err(|e| Error::io(&p, e))
        };
        let device = Default::default();
        let encoder = TextEncoder::<burn::backend::Flex>::from_bytes(
            &read("tokenizer.json")?,
            &read("model.safetensors")?,
            &device,
        )?;
        let mut modalities = vec![
            text_modality(dataset, &encoder, 64)?,
            tfidf_modality(dataset),
            tabular_modality(dataset),
        ];
        modalities.extend(kg_modality(dataset));
        let (user_dim, user_values) = user_features(dataset);
        Ok(Self {
            modalities,
            user_dim,
            user_values,
        })
    }

    pub fn get(&self, name: &str) -> Result<&Modality> {
        self.modalities
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::Config(format!("no '{name}' modality in this dataset")))
    }
}

/// Result of one hybrid run.
pub struct HybridRun {
    pub valid_ndcg: f64,
    pub test: Metrics,
    /// Test metrics with the named modality hidden for a share of items (missing-modality run).
    pub degraded: Option<Metrics>,
    pub shares: Vec<(String, f64)>,
    pub model: TrainedModel,
}

struct HybridTask<'a> {
    config: &'a HybridConfig,
    split: &'a Split,
    content: &'a Content,
    cold: &'a [bool],
    /// (modality, share of items) to hide at test time.
    hide: Option<(&'a str, f64)>,
    observer: &'a mut dyn TrainObserver,
}

impl BackendTask for HybridTask<'_> {
    type Output = HybridRun;
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        self,
        device: B::Device,
    ) -> Result<HybridRun> {
        let history = UserHistory::from_interactions(self.split.n_users, &self.split.train);
        let modalities = self
            .config
            .modalities
            .iter()
            .map(|m| self.content.get(m))
            .collect::<Result<Vec<_>>>()?;
        let inputs = HybridInputs {
            modalities,
            user_features: (self.content.user_dim, &self.content.user_values),
            cold_items: self.cold,
        };
        let (trained, valid_ndcg) = train_hybrid::<B>(
            self.config,
            self.split,
            &history,
            &inputs,
            &device,
            self.observer,
        )?;
        let presence = trained.presence();
        let model = TrainedModel::Factor(trained.factors(&history, &presence)?);
        let test = evaluate(&model, self.split, &history, Target::Test);
        let names = trained.token_names();
        let degraded = match self.hide {
            None => None,
            Some((name, share)) => {
                let t = names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| Error::Config(format!("the model does not use '{name}'")))?;
                let mut rng = crate::rng::SeededRng::new(self.config.seed ^ 0xC0FFEE);
                let mut hidden = presence.clone();
                for row in hidden.chunks_mut(names.len()) {
                    if rng.unit_f64() < share {
                        row[t] = 0.0;
                    }
                }
                let m = TrainedModel::Factor(trained.factors(&history, &hidden)?);
                Some(evaluate(&m, self.split, &history, Target::Test))
            }
        };
        let shares = names.into_iter().zip(trained.mean_shares()?).collect();
        Ok(HybridRun {
            valid_ndcg,
            test,
            degraded,
            shares,
            model,
        })
    }
}

/// Trains and evaluates one hybrid configuration.
pub fn run_hybrid(
    config: &HybridConfig,
    split: &Split,
    content: &Content,
    cold: &[bool],
    hide: Option<(&str, f64)>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<HybridRun> {
    run_on(
        device,
        HybridTask {
            config,
            split,
            content,
            cold,
            hide,
            observer,
        },
    )
}
