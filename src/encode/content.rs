//! A dataset's catalog content: every item modality the encoders and files give, plus user
//! features — what content models read, and what a bundle stores for the browser.

use std::path::Path;

use super::features::{
    kg_modality, location_modality, tabular_modality, tags_modality, text_modality, tfidf_modality,
    user_features, Modality,
};
use super::TextEncoder;
use crate::data::Dataset;
use crate::error::{Error, Result};

/// Every content modality of a dataset, plus user features.
pub struct Content {
    pub modalities: Vec<Modality>,
    pub user_dim: usize,
    pub user_values: Vec<f32>,
}

/// EfficientNet-Lite0 on the CPU from the `.pth` at `pth` (images and video frames).
fn efficientnet(pth: &Path) -> Result<super::ImageEncoder<burn::backend::Flex>> {
    let weights = std::fs::read(pth).map_err(|e| Error::io(pth, e))?;
    super::ImageEncoder::from_pth_bytes(&weights, &Default::default())
}

impl Content {
    /// Builds every modality; the MiniLM `text` one only when `minilm_dir` (holding
    /// `tokenizer.json` and `model.safetensors`, see `fetch minilm`) is given.
    pub fn build(dataset: &Dataset, minilm_dir: Option<&Path>) -> Result<Self> {
        let mut modalities = vec![tfidf_modality(dataset), tabular_modality(dataset)];
        modalities.extend(tags_modality(dataset));
        modalities.extend(kg_modality(dataset));
        modalities.extend(location_modality(dataset)?);
        if let Some(dir) = minilm_dir {
            let read = |f: &str| {
                let p = dir.join(f);
                std::fs::read(&p).map_err(|e| Error::io(&p, e))
            };
            let encoder = TextEncoder::<burn::backend::Flex>::from_bytes(
                &read("tokenizer.json")?,
                &read("model.safetensors")?,
                &Default::default(),
            )?;
            modalities.push(text_modality(dataset, &encoder, 64)?);
        }
        let (user_dim, user_values) = user_features(dataset);
        Ok(Self {
            modalities,
            user_dim,
            user_values,
        })
    }

    /// Adds the `image` modality (EfficientNet-Lite0 pooled features, from the `.pth` at `pth`)
    /// when some items of `dataset` have an image; returns how many do.
    pub fn add_images(&mut self, dataset: &Dataset, pth: &Path) -> Result<usize> {
        let n = dataset
            .items
            .records
            .iter()
            .filter(|r| r.image.is_some())
            .count();
        if n > 0 {
            let encoder = efficientnet(pth)?;
            self.modalities
                .push(super::features::image_modality(dataset, &encoder, 16)?);
        }
        Ok(n)
    }

    /// Adds the `video` modality when items have clips: [`super::video::DEFAULT_FRAMES`]
    /// sampled frames per clip through EfficientNet-Lite0 (`pth`), mean-pooled. Returns how
    /// many items have a clip.
    pub fn add_videos(&mut self, dataset: &Dataset, pth: &Path) -> Result<usize> {
        let n = dataset
            .items
            .records
            .iter()
            .filter(|r| r.video.is_some())
            .count();
        if n > 0 {
            let encoder = efficientnet(pth)?;
            let frames = super::video::DEFAULT_FRAMES;
            if let Some(m) = super::features::video_modality(dataset, &encoder, frames)? {
                self.modalities.push(m);
            }
        }
        Ok(n)
    }

    /// Adds item features read from files (`--item-features`), each as its own modality.
    pub fn add_features(
        &mut self,
        specs: &[super::external::FeatureSpec],
        items: &crate::data::IdMap,
    ) -> Result<()> {
        for spec in specs {
            if self.modalities.iter().any(|m| m.name == spec.name) {
                return Err(Error::Config(format!(
                    "--item-features: a modality named '{}' already exists",
                    spec.name
                )));
            }
            let m = super::external::load_item_features(spec, items)?;
            self.modalities.push(m);
        }
        Ok(())
    }

    /// The named modalities, in the order given.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Modality>> {
        names.iter().map(|m| self.get(m)).collect()
    }

    pub fn get(&self, name: &str) -> Result<&Modality> {
        self.modalities
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::Config(format!("no '{name}' modality in this dataset")))
    }
}
