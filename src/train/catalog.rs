//! Which catalog content a bundle stores: the vectors a browser needs to place an item it adds
//! (it encodes only the new item, never the catalog) and to personalise on content.

use std::path::Path;

use crate::encode::features::Modality;
use crate::encode::Content;
use crate::error::{Error, Result};
use crate::store::EncoderRef;

/// What to store, as asked for.
#[derive(Debug, Clone, Copy)]
pub struct CatalogChoice<'a> {
    /// The modalities asked for by name (`--catalog-content`); `None`: the default below.
    pub requested: Option<&'a [String]>,
    /// Modalities read from files (`--item-features`): storable, since a page can bring the
    /// same vectors for a new item (`addItem({ features })`).
    pub file_features: &'a [String],
    /// Whether the model reads content: then, by default, every storable modality the content
    /// has is stored; otherwise none.
    pub content_model: bool,
    /// The encoders' weight files, whose sha256 the bundle records for the modalities a browser
    /// encodes itself (`text`: MiniLM's folder, `image`: the EfficientNet-Lite0 `.pth`).
    pub minilm_dir: &'a Path,
    pub efficientnet: &'a Path,
}

/// The catalog content to store, each modality with the encoder that made it where a browser
/// can run that encoder. Storable: `text`, `image`, `tabular` and features from files; asking
/// for anything else is `BAD_CONFIG`.
pub fn catalog_content(
    content: Option<&Content>,
    choice: &CatalogChoice<'_>,
) -> Result<Vec<(Modality, Option<EncoderRef>)>> {
    let Some(content) = content else {
        return Ok(Vec::new());
    };
    let mut storable: Vec<&str> = vec!["text", "image", "tabular"];
    storable.extend(choice.file_features.iter().map(String::as_str));
    let names: Vec<String> = match choice.requested {
        Some(list) => {
            if let Some(bad) = list.iter().find(|m| !storable.contains(&m.as_str())) {
                return Err(Error::Config(format!(
                    "--catalog-content: '{bad}' is not one of {storable:?}"
                )));
            }
            list.to_vec()
        }
        None if choice.content_model => storable
            .iter()
            .filter(|n| content.modalities.iter().any(|m| m.name == **n))
            .map(|n| n.to_string())
            .collect(),
        None => Vec::new(),
    };
    let sha = |path: &Path| -> Result<String> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(crate::io::sha256_hex(&bytes))
    };
    names
        .iter()
        .map(|name| {
            let m = content.get(name)?.clone();
            let encoder = match name.as_str() {
                "text" => Some(EncoderRef {
                    name: "all-MiniLM-L6-v2".into(),
                    weights_sha256: sha(&choice.minilm_dir.join("model.safetensors"))?,
                }),
                "image" => Some(EncoderRef {
                    name: "efficientnet-lite0".into(),
                    weights_sha256: sha(choice.efficientnet)?,
                }),
                _ => None,
            };
            Ok((m, encoder))
        })
        .collect()
}
