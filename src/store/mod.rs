//! The bundle: the only contract between native training and the browser.
//!
//! A bundle is a folder (or the same files fetched over HTTP) holding
//! - `manifest.json`: format name and version, model kind and configuration, dimensions, id maps,
//!   item titles, the data provenance (source, protocol, fingerprint), the metrics measured at
//!   training time, and the size and sha256 of every other file;
//! - `weights.safetensors`: the model's weights (`model.*`, f32), each user's training history
//!   (`history.*`), needed to exclude seen items and to score history-based models, and (format
//!   version 2) the catalog's content embeddings (`content.<modality>` `[n, d]` f32 with
//!   `content.<modality>.present` `[n]` 0/1): the vectors the browser needs to place an item it
//!   adds (it encodes only the new item, never the catalog) and to personalise on content.
//!
//! safetensors because it is a flat, zero-parse-cost format with readers in every ecosystem;
//! JSON for the manifest so that a person (and a web page) can read it without the crate.
//! Loading checks, in order: manifest syntax and version, each file's size and sha256, tensor
//! dtypes and shapes against the manifest. Any failure is an error, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::data::{Categories, DataSource, IdMap, Protocol, Titles};
use crate::encode::features::Modality;
use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::io::{sha256_hex, WeightMap};
use crate::model::{I8Rows, ItemVectors, ModelConfig, TrainedModel, UserHistory};

mod encoding;
pub use encoding::{dequantize_rows, quantize_rows, Precision};
use encoding::{Rows, SCALE_SUFFIX};

pub const FORMAT: &str = "fusionrec-bundle";
/// The newest version; readers accept every version from 1 (no catalog content) up to it.
/// Writers write the oldest version that holds the bundle: 2 for f32, 3 for f16/int8, 4 for a
/// serving bundle (item counts instead of training users, see [`Bundle::serving`]), 5 for a
/// model that scores with an option an older reader would ignore without a word (EASE's rank
/// weights: it would score every history unweighted).
pub const FORMAT_VERSION: u32 = 5;
/// The version of bundles whose model scores with rank weights.
const RANK_WEIGHTED_VERSION: u32 = 5;

/// The oldest version that can score `model` as it was trained (1 when nothing asks for more).
fn model_version(model: &ModelConfig) -> u32 {
    match model {
        ModelConfig::Ease(c) | ModelConfig::EaseMm(c) if c.rank_weight > 0.0 => {
            RANK_WEIGHTED_VERSION
        }
        ModelConfig::ItemKnn(c) if c.rank_weight > 0.0 => RANK_WEIGHTED_VERSION,
        ModelConfig::Blend(c) => c
            .parts
            .iter()
            .map(|p| model_version(&p.model))
            .max()
            .unwrap_or(1),
        _ => 1,
    }
}
/// The version of serving bundles.
const SERVING_VERSION: u32 = 4;
/// A listed file may declare at most this many bytes (a manifest is checked before any file is
/// read, and a page reserves memory by the declared size).
const MAX_FILE_BYTES: u64 = 1 << 36;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub created_by: String,
    pub model: ModelConfig,
    pub dims: Dims,
    pub users: IdMap,
    pub items: IdMap,
    pub item_titles: Titles,
    /// Each item's categories (genres, tags), for `recommend`'s category filter; empty when the
    /// dataset has none (and in bundles written before it was recorded).
    #[serde(default, skip_serializing_if = "Categories::is_empty")]
    pub item_categories: Categories,
    pub data: Provenance,
    pub metrics: BundleMetrics,
    pub files: BTreeMap<String, FileEntry>,
    /// The catalog content stored in the weights file, in order (empty in version 1).
    #[serde(default)]
    pub content: Vec<ContentEntry>,
    /// The social modality (`train --user-graph`): friends' scores blended into each known
    /// user's (see [`crate::eval::social`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social: Option<crate::eval::Social>,
    /// How catalog-sized tensors are stored (format 3; see [`Precision`]). Absent: f32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// One content modality stored with the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentEntry {
    /// `text` (MiniLM), `image` (EfficientNet-Lite0), `tabular`, …
    pub name: String,
    pub dim: usize,
    /// The encoder whose outputs these are, for modalities a browser can encode itself: a new
    /// item must be encoded by exactly these weights to be comparable with the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<EncoderRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderRef {
    /// e.g. `all-MiniLM-L6-v2`, `efficientnet-lite0`.
    pub name: String,
    /// sha256 of the weights file (`model.safetensors`, the `.pth`).
    pub weights_sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dims {
    pub users: usize,
    pub items: usize,
}

/// Where the training data came from, so that `eval --bundle` can rebuild the same split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: DataSource,
    pub protocol: Protocol,
    /// sha256 over the source files' names and bytes.
    pub fingerprint: String,
    /// sha256 of each source file, by path (empty in bundles written before it was recorded).
    #[serde(default)]
    pub file_sha256: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BundleMetrics {
    pub valid: Metrics,
    pub test: Metrics,
}

impl BundleMetrics {
    /// Whether a re-evaluation reproduces these recorded metrics: every recorded figure equal.
    /// Figures added to evaluations since the bundle was trained (novelty, ILD) are not in an
    /// older manifest, so they cannot differ from it.
    pub fn reproduces(&self, recorded: &BundleMetrics) -> bool {
        self.valid.reproduces(&recorded.valid) && self.test.reproduces(&recorded.test)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// The whole bundle's size: this manifest's `manifest_len` bytes and every file it lists
    /// (what a page's `maxBytes` and the CLI's `--max-bytes` are compared with).
    pub fn total_bytes(&self, manifest_len: u64) -> u64 {
        self.files
            .values()
            .fold(manifest_len, |t, f| t.saturating_add(f.bytes))
    }
}

/// A loaded (or freshly trained) bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub manifest: Manifest,
    pub model: TrainedModel,
    pub history: UserHistory,
    /// Catalog content, one entry per `manifest.content` entry, same order.
    pub content: Vec<Modality>,
    /// Each item's training interactions, stored by a serving bundle in place of the history
    /// (see [`Bundle::serving`]); `None` in a full bundle, where the history has them.
    pub item_counts: Option<Vec<u32>>,
    /// The weights file this bundle was read from, verified (`None` for one built in memory):
    /// int8 item rows are served from it in place, and a page saves it as it came.
    pub weights_file: WeightsFile,
}

/// A bundle's weights file as read. Not part of a bundle's identity: two bundles with the same
/// contents are equal whether or not one was read from a file.
#[derive(Clone, Default)]
pub struct WeightsFile(pub Option<Arc<Vec<u8>>>);

impl PartialEq for WeightsFile {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for WeightsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WeightsFile({:?} bytes)",
            self.0.as_ref().map(|b| b.len())
        )
    }
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

impl Bundle {
    /// Serialises the bundle: `(file name, bytes)` for the weights and then the manifest, whose
    /// `files` section is filled in with the weights' size and checksum.
    pub fn to_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let precision = self.manifest.precision;
        let rows = Rows {
            items: self.manifest.dims.items,
            users: self.manifest.dims.users,
        };
        let mut buffers: Vec<encoding::Stored> = Vec::new();
        // Int8 item rows held as read are written as they are, not decoded and quantised
        // again (a serving bundle made from an int8 bundle stores the same values), and never
        // decoded at all on the way: at 10⁶ items the f32 copy alone would be 256 MB.
        let mut int8_items = match (precision, &self.model) {
            (Precision::Int8, TrainedModel::Factor(f)) => match &f.item_factors {
                ItemVectors::Int8 { values, scales } => Some((f.dim, values, scales)),
                _ => None,
            },
            _ => None,
        };
        let weights = match int8_items {
            Some(_) => self.model.weights_without_item_factors(),
            None => self.model.weights(),
        };
        let push_int8 =
            |buffers: &mut Vec<encoding::Stored>,
             (dim, values, scales): (usize, &I8Rows, &Vec<f32>)| {
                let bytes: &[u8] = bytemuck::cast_slice(values.as_slice());
                buffers.push((
                    ITEM_FACTORS.into(),
                    Dtype::I8,
                    vec![scales.len(), dim],
                    bytes.to_vec(),
                ));
                buffers.push((
                    format!("{ITEM_FACTORS}{SCALE_SUFFIX}"),
                    Dtype::F32,
                    vec![scales.len()],
                    le_bytes(scales, f32::to_le_bytes),
                ));
            };
        for (name, (shape, data)) in weights {
            // In the map's (sorted) place, as when it was decoded with the rest.
            if name.as_str() > "item_factors" {
                if let Some(rows) = int8_items.take() {
                    push_int8(&mut buffers, rows);
                }
            }
            buffers.extend(encoding::encode(
                format!("model.{name}"),
                shape,
                &data,
                precision,
                rows,
            ));
        }
        if let Some(rows) = int8_items.take() {
            push_int8(&mut buffers, rows);
        }
        let h = &self.history;
        buffers.push((
            "history.offsets".into(),
            Dtype::U32,
            vec![h.offsets.len()],
            le_bytes(&h.offsets, u32::to_le_bytes),
        ));
        buffers.push((
            "history.items".into(),
            Dtype::U32,
            vec![h.items.len()],
            le_bytes(&h.items, u32::to_le_bytes),
        ));
        // Implicit feedback's ratings are all 1: format 3 leaves them out.
        if precision.is_f32() || h.ratings.iter().any(|&r| r != 1.0) {
            buffers.push((
                "history.ratings".into(),
                Dtype::F32,
                vec![h.ratings.len()],
                le_bytes(&h.ratings, f32::to_le_bytes),
            ));
        }
        if let Some(counts) = &self.item_counts {
            buffers.push((
                ITEM_COUNTS.into(),
                Dtype::U32,
                vec![counts.len()],
                le_bytes(counts, u32::to_le_bytes),
            ));
        }
        if self.content.len() != self.manifest.content.len() {
            return Err(Error::Bundle(
                "catalog content and its manifest entries differ".into(),
            ));
        }
        for m in &self.content {
            let n = self.manifest.dims.items;
            if m.n_items() != n || m.values.len() != n * m.dim {
                return Err(Error::Bundle(format!(
                    "content {}: shape does not match the catalog",
                    m.name
                )));
            }
            buffers.extend(encoding::encode(
                format!("content.{}", m.name),
                vec![n, m.dim],
                &m.values,
                precision,
                rows,
            ));
            let present: Vec<f32> = m.present.iter().map(|&p| f32::from(u8::from(p))).collect();
            buffers.extend(encoding::encode(
                format!("content.{}.present", m.name),
                vec![n],
                &present,
                precision,
                rows,
            ));
        }
        let views = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| Error::Bundle(format!("tensor {name}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let weights = safetensors::serialize(views, None)
            .map_err(|e| Error::Bundle(format!("serialising weights: {e}")))?;

        let mut manifest = self.manifest.clone();
        manifest.format_version = match self.item_counts {
            Some(_) => SERVING_VERSION,
            None => precision.format_version(),
        }
        .max(model_version(&manifest.model));
        manifest.files = [(
            WEIGHTS_FILE.to_owned(),
            FileEntry {
                bytes: weights.len() as u64,
                sha256: sha256_hex(&weights),
            },
        )]
        .into();
        // Indented for a person to read, except at catalog sizes where the indentation of the
        // id, title and category lists would be a third of the file (20 MB at 10⁶ items).
        let manifest = if manifest.dims.items <= PRETTY_MANIFEST_ITEMS {
            serde_json::to_vec_pretty(&manifest)
        } else {
            serde_json::to_vec(&manifest)
        }
        .map_err(|e| Error::Bundle(format!("serialising the manifest: {e}")))?;
        Ok(vec![
            (WEIGHTS_FILE.to_owned(), weights),
            (MANIFEST_FILE.to_owned(), manifest),
        ])
    }

    /// The bundle as a reader gets it back: serialised at its manifest's precision and loaded
    /// again (for f32, the same bundle; for f16/int8, the decoded weights).
    pub fn stored(&self) -> Result<Self> {
        let files: BTreeMap<String, Vec<u8>> = self.to_files()?.into_iter().collect();
        let manifest = files
            .get(MANIFEST_FILE)
            .ok_or_else(|| Error::Bundle("no manifest written".into()))?;
        Self::from_files(manifest, |name| {
            files
                .get(name)
                .cloned()
                .ok_or_else(|| Error::Bundle(format!("no {name} written")))
        })
    }

    /// The bundle a page should load: the same catalog, model and content without the training
    /// users — no user ids, user vectors or biases, histories or friend graph, only each item's
    /// interaction count (first visits rank by it). A browser visitor is never a training user,
    /// so those were bytes every visitor downloaded for nothing, and other people's histories
    /// besides: at 10⁶ items × 10⁷ interactions the history alone was 32 MB of the 112 MB
    /// weights. Scores for a visitor's history are unchanged (tested); metrics stay those of
    /// the full bundle, which is the one `eval --bundle` re-evaluates.
    pub fn serving(&self) -> Result<Self> {
        let n = self.manifest.dims.items;
        let counts = match &self.item_counts {
            Some(c) => c.clone(),
            None => {
                let mut c = vec![0u32; n];
                for &i in &self.history.items {
                    if let Some(slot) = c.get_mut(i as usize) {
                        *slot += 1;
                    }
                }
                c
            }
        };
        let model = without_users(&self.model);
        let mut manifest = self.manifest.clone();
        manifest.users = IdMap::default();
        manifest.dims.users = 0;
        manifest.social = None;
        manifest.format_version = SERVING_VERSION.max(model_version(&manifest.model));
        Ok(Bundle {
            manifest,
            model,
            history: UserHistory {
                offsets: vec![0],
                items: Vec::new(),
                ratings: Vec::new(),
            },
            content: self.content.clone(),
            item_counts: Some(counts),
            weights_file: WeightsFile::default(),
        })
    }

    /// Whether this is a [`Bundle::serving`] bundle (no training users).
    pub fn is_serving(&self) -> bool {
        self.item_counts.is_some()
    }

    /// Parses and verifies a bundle from its manifest and a way to get each listed file.
    pub fn from_files(manifest: &[u8], file: impl FnMut(&str) -> Result<Vec<u8>>) -> Result<Self> {
        Self::from_manifest(Self::parse_manifest(manifest)?, file)
    }

    /// The manifest, parsed and checked (the first half of [`Bundle::from_files`]: a page
    /// frees the manifest's bytes before it copies in the weights).
    pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
        parse_manifest(bytes)
    }

    /// [`Bundle::from_files`] from a parsed manifest.
    pub fn from_manifest(
        manifest: Manifest,
        mut file: impl FnMut(&str) -> Result<Vec<u8>>,
    ) -> Result<Self> {
        let bytes = Arc::new(verified_file(&manifest, WEIGHTS_FILE, &mut file)?);
        let mut tensors = BundleTensors::read(&bytes, manifest.precision)?;
        let items = tensors.take_u32("history.items")?;
        let ratings = match (tensors.history_ratings.take(), manifest.precision) {
            (Some(r), _) => r,
            // Format 3 leaves out implicit feedback's ratings (all 1).
            (None, p)
                if !p.is_f32()
                    && matches!(
                        manifest.data.protocol.feedback,
                        crate::data::Feedback::Implicit { .. }
                    ) =>
            {
                vec![1.0; items.len()]
            }
            // A serving bundle has no history at all.
            (None, _) if items.is_empty() => Vec::new(),
            (None, _) => return Err(Error::Bundle("missing tensor history.ratings".into())),
        };
        let history = UserHistory {
            offsets: tensors.take_u32("history.offsets")?,
            items,
            ratings,
        };
        if history.n_users() != manifest.dims.users {
            return Err(Error::Bundle("history does not cover every user".into()));
        }
        let item_counts = tensors.u32s.remove(ITEM_COUNTS);
        if let Some(counts) = &item_counts {
            // Only a serving bundle stores item counts: no users, no history.
            if counts.len() != manifest.dims.items
                || manifest.dims.users != 0
                || !history.items.is_empty()
                || manifest.format_version < SERVING_VERSION
            {
                return Err(Error::Bundle(format!(
                    "{ITEM_COUNTS} belongs in a serving bundle (format {SERVING_VERSION}, no \
                     users) of the catalog's size"
                )));
            }
        }
        history.validate(manifest.dims.items)?;
        let mut model = TrainedModel::from_weights(
            &manifest.model,
            manifest.dims.users,
            manifest.dims.items,
            &mut tensors.model,
            tensors.item_rows.take(),
        )?;
        // Users of an autoencoder: from their histories by the encoder as read (see there).
        if manifest.dims.users > 0 {
            model.encode_users(&history)?;
        }
        if let Some(extra) = tensors.model.keys().next() {
            return Err(Error::Bundle(format!("unexpected tensor model.{extra}")));
        }
        check_social(&manifest)?;
        let content = read_content(&manifest, &mut tensors.content)?;
        if let Some(extra) = tensors.content.keys().next() {
            return Err(Error::Bundle(format!("unexpected tensor {extra}")));
        }
        // The file stays while int8 rows are read from it in place; in the browser also for
        // `save` (the page keeps no copy of its own). Natively a decoded bundle drops it.
        let in_place = matches!(
            &model,
            TrainedModel::Factor(f) if matches!(f.item_factors, ItemVectors::Int8 { .. })
        );
        let keep = in_place || cfg!(target_arch = "wasm32");
        Ok(Self {
            manifest,
            model,
            history,
            content,
            item_counts,
            weights_file: WeightsFile(keep.then_some(bytes)),
        })
    }

    /// Top-`k` unseen items for a known user: `(item id, score)`, best first.
    pub fn recommend(&self, user_id: &str, k: usize) -> Result<Vec<(String, f32)>> {
        crate::eval::check_k(k)?;
        let user = self
            .manifest
            .users
            .get(user_id)
            .ok_or_else(|| Error::UnknownUser(user_id.to_owned()))?;
        let (items, ratings) = self.history.user(user);
        let mut scores = vec![0.0f32; self.manifest.dims.items];
        crate::eval::Scores::score(
            &crate::eval::WithFriends::new(
                &self.model,
                self.manifest.social.as_ref(),
                &self.history,
            ),
            user,
            items,
            ratings,
            &mut scores,
        );
        Ok(crate::eval::top_k(&scores, items, k)
            .into_iter()
            .map(|i| (self.manifest.items.id(i).to_owned(), scores[i as usize]))
            .collect())
    }
}

/// The catalog content listed in the manifest, checked against the catalog's size.
/// The manifest, version first (a future manifest gets a version error, not a parse one), with
/// its id maps checked against its dims.
fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    #[derive(Deserialize)]
    struct Header {
        format: String,
        format_version: u32,
    }
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Error::Bundle(format!("{MANIFEST_FILE} is not a bundle manifest: {e}")))?;
    if header.format != FORMAT {
        return Err(Error::Bundle(format!(
            "{MANIFEST_FILE}: format is '{}', expected '{FORMAT}'",
            header.format
        )));
    }
    if !(1..=FORMAT_VERSION).contains(&header.format_version) {
        return Err(Error::BundleVersion {
            found: header.format_version,
            supported: FORMAT_VERSION,
        });
    }
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Error::Bundle(format!("{MANIFEST_FILE}: {e}")))?;
    if !manifest.precision.is_f32() && manifest.format_version < 3 {
        return Err(Error::Bundle(format!(
            "precision {:?} needs format version 3",
            manifest.precision
        )));
    }
    if manifest.users.len() != manifest.dims.users
        || manifest.items.len() != manifest.dims.items
        || manifest.item_titles.len() != manifest.dims.items
        || !(manifest.item_categories.is_empty()
            || manifest.item_categories.len() == manifest.dims.items)
    {
        return Err(Error::Bundle(
            "id maps do not match the manifest's dims".into(),
        ));
    }
    if let Some((name, f)) = manifest
        .files
        .iter()
        .find(|(_, f)| f.bytes > MAX_FILE_BYTES)
    {
        return Err(Error::Bundle(format!(
            "{MANIFEST_FILE}: {name} declares {} bytes (at most {MAX_FILE_BYTES})",
            f.bytes
        )));
    }
    Ok(manifest)
}

/// The bytes of the listed file `name`, checked against the manifest's size and sha256.
fn verified_file(
    manifest: &Manifest,
    name: &str,
    file: &mut impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let entry = manifest
        .files
        .get(name)
        .ok_or_else(|| Error::Bundle(format!("manifest lists no {name}")))?;
    let bytes = file(name)?;
    let actual = sha256_hex(&bytes);
    if bytes.len() as u64 != entry.bytes || actual != entry.sha256 {
        return Err(Error::Checksum {
            file: name.into(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(bytes)
}

/// A weights file's tensors sorted by role: the model's (`model.*`), the history's, and the
/// catalog content's. Every float is finite; any other tensor is an error.
struct BundleTensors {
    model: WeightMap,
    u32s: BTreeMap<String, Vec<u32>>,
    history_ratings: Option<Vec<f32>>,
    content: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// A factor model's int8 item vectors, kept as stored.
    item_rows: Option<ItemVectors>,
}

const ITEM_FACTORS: &str = "model.item_factors";
const ITEM_COUNTS: &str = "catalog.item_counts";
/// Manifests of catalogs up to this size are written indented.
const PRETTY_MANIFEST_ITEMS: usize = 10_000;

impl BundleTensors {
    fn read(file: &Arc<Vec<u8>>, precision: Precision) -> Result<Self> {
        let bytes: &[u8] = file;
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Bundle(format!("{WEIGHTS_FILE}: {e}")))?;
        let mut out = BundleTensors {
            model: WeightMap::new(),
            u32s: BTreeMap::new(),
            history_ratings: None,
            content: BTreeMap::new(),
            item_rows: None,
        };
        // int8 tensors wait for their per-row scales (stored as `<name>.scale`, f32).
        let int8: BTreeMap<String, (Vec<usize>, &[u8])> = tensors
            .tensors()
            .into_iter()
            .filter(|(_, v)| v.dtype() == Dtype::I8)
            .map(|(name, v)| (name, (v.shape().to_vec(), v.data())))
            .collect();
        if !int8.is_empty() && precision != Precision::Int8 {
            return Err(Error::Bundle(format!(
                "int8 tensors in a {precision:?} bundle"
            )));
        }
        let mut scales: BTreeMap<String, Vec<f32>> = BTreeMap::new();
        for (name, view) in tensors.tensors() {
            let data = view.data();
            let shape = view.shape().to_vec();
            let values = match view.dtype() {
                Dtype::I8 => continue,
                Dtype::U32 if name.starts_with("history.") || name == ITEM_COUNTS => {
                    if data.len() % 4 != 0 {
                        return Err(Error::Bundle(format!(
                            "tensor {name} is not 4-byte aligned"
                        )));
                    }
                    let words = data.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
                    out.u32s
                        .insert(name, words.map(u32::from_le_bytes).collect());
                    continue;
                }
                Dtype::F32 => {
                    if data.len() % 4 != 0 {
                        return Err(Error::Bundle(format!(
                            "tensor {name} is not 4-byte aligned"
                        )));
                    }
                    let values: Vec<f32> = data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    // Every float must be finite: a NaN weight would be served as garbage.
                    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                        return Err(Error::Bundle(format!(
                            "tensor {name} holds a non-finite value at index {at}"
                        )));
                    }
                    values
                }
                dtype => encoding::decode(&name, dtype, data, precision)?,
            };
            if let Some(base) = name.strip_suffix(SCALE_SUFFIX) {
                if int8.contains_key(base) {
                    scales.insert(base.to_owned(), values);
                    continue;
                }
            }
            out.route(name, shape, values)?;
        }
        for (name, (shape, data)) in int8 {
            let scale = scales.remove(&name).ok_or_else(|| {
                Error::Bundle(format!("int8 tensor {name} has no {name}{SCALE_SUFFIX}"))
            })?;
            let (rows, width) = match shape[..] {
                [rows, width] => (rows, width),
                _ => return Err(Error::Bundle(format!("int8 tensor {name} is not 2-d"))),
            };
            if scale.len() != rows || data.len() != rows * width {
                return Err(Error::Bundle(format!(
                    "int8 tensor {name}: {} scales for {rows} rows",
                    scale.len()
                )));
            }
            if scale.iter().any(|&s| s < 0.0) {
                return Err(Error::Bundle(format!(
                    "int8 tensor {name}: a negative scale"
                )));
            }
            let q: &[i8] = bytemuck::cast_slice(data);
            // A finite scale can still decode to ±inf (3e38 × 127): the finite rule holds here
            // too. A row decodes finite iff its largest |q| times its scale does.
            for (r, (row, &s)) in q.chunks(width.max(1)).zip(&scale).enumerate() {
                let top = row.iter().map(|&x| f32::from(x).abs()).fold(0.0, f32::max);
                if !(top * s).is_finite() {
                    return Err(Error::Bundle(format!(
                        "int8 tensor {name} decodes to a non-finite value in row {r}"
                    )));
                }
            }
            if name == ITEM_FACTORS {
                // Kept as stored, in place in the file: served without a decoded copy (see
                // `ItemVectors`).
                let start = data.as_ptr() as usize - bytes.as_ptr() as usize;
                let values = I8Rows::shared(Arc::clone(file), start..start + data.len())
                    .ok_or_else(|| Error::Bundle(format!("int8 tensor {name} is misplaced")))?;
                out.item_rows = Some(ItemVectors::Int8 {
                    values,
                    scales: scale,
                });
                continue;
            }
            let values = dequantize_rows(q, &scale, width);
            out.route(name, shape, values)?;
        }
        Ok(out)
    }

    /// Files a decoded float tensor by its role.
    fn route(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) -> Result<()> {
        if let Some(weight) = name.strip_prefix("model.") {
            self.model.insert(weight.to_owned(), (shape, values));
        } else if name == "history.ratings" {
            self.history_ratings = Some(values);
        } else if name.starts_with("content.") {
            self.content.insert(name, (shape, values));
        } else {
            return Err(Error::Bundle(format!("unexpected tensor {name}")));
        }
        Ok(())
    }

    fn take_u32(&mut self, name: &str) -> Result<Vec<u32>> {
        self.u32s
            .remove(name)
            .ok_or_else(|| Error::Bundle(format!("missing tensor {name}")))
    }
}

/// The social modality's graph must cover exactly the bundle's users.
fn check_social(manifest: &Manifest) -> Result<()> {
    let Some(social) = &manifest.social else {
        return Ok(());
    };
    let users = manifest.dims.users;
    let in_range = social.graph.friends.len() == users
        && social
            .graph
            .friends
            .iter()
            .flatten()
            .all(|&f| (f as usize) < users);
    if !in_range || !social.weight.is_finite() {
        return Err(Error::Bundle(
            "the user graph does not match the bundle's users".into(),
        ));
    }
    Ok(())
}

fn read_content(
    manifest: &Manifest,
    tensors: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
) -> Result<Vec<Modality>> {
    let n = manifest.dims.items;
    manifest
        .content
        .iter()
        .map(|entry| {
            let mut take = |name: String, shape: &[usize]| {
                let (found, values) = tensors
                    .remove(&name)
                    .ok_or_else(|| Error::Bundle(format!("missing tensor {name}")))?;
                if found != shape {
                    return Err(Error::Bundle(format!(
                        "tensor {name} has shape {found:?}, expected {shape:?}"
                    )));
                }
                Ok(values)
            };
            let values = take(format!("content.{}", entry.name), &[n, entry.dim])?;
            let present = take(format!("content.{}.present", entry.name), &[n])?;
            Ok(Modality {
                name: entry.name.clone(),
                dim: entry.dim,
                values,
                present: present.iter().map(|&p| p != 0.0).collect(),
            })
        })
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
impl Bundle {
    /// Writes the bundle's files into `dir` (created if needed).
    pub fn write_dir(&self, dir: &std::path::Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (name, bytes) in self.to_files()? {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        Self::read_dir_limited(dir, None)
    }

    /// [`Bundle::read_dir`] that refuses (`TOO_LARGE`) a bundle whose manifest and listed files
    /// together are over `max_bytes` — the native twin of a page's `maxBytes` — reading nothing
    /// but the manifest; a file larger on disk than the manifest lists is refused unread too. (A
    /// smaller one is read and fails its checksum, `BUNDLE_CHECKSUM`, as without a limit.)
    pub fn read_dir_limited(dir: &std::path::Path, max_bytes: Option<u64>) -> Result<Self> {
        let size = |path: &std::path::Path| -> Result<u64> {
            Ok(std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .len())
        };
        let too_large = |what: String, max: u64| {
            Error::TooLarge(format!(
                "{what}, over the limit of {max} bytes (--max-bytes)"
            ))
        };
        let path = dir.join(MANIFEST_FILE);
        if let Some(max) = max_bytes.filter(|&max| size(&path).is_ok_and(|n| n > max)) {
            return Err(too_large(
                format!("the manifest alone is over {max} bytes"),
                max,
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let manifest = Self::parse_manifest(&bytes)?;
        let total = manifest.total_bytes(bytes.len() as u64);
        if let Some(max) = max_bytes.filter(|&max| total > max) {
            return Err(too_large(format!("the bundle is {total} bytes"), max));
        }
        let listed: BTreeMap<String, u64> = manifest
            .files
            .iter()
            .map(|(name, f)| (name.clone(), f.bytes))
            .collect();
        Self::from_manifest(manifest, |name| {
            let path = dir.join(name);
            if let (Some(max), Some(&want)) = (max_bytes, listed.get(name)) {
                let found = size(&path)?;
                if found > want {
                    return Err(too_large(
                        format!("{name} is {found} bytes on disk, the manifest lists {want}"),
                        max,
                    ));
                }
            }
            std::fs::read(&path).map_err(|e| Error::io(&path, e))
        })
    }
}

/// `model` without its training users' vectors (see [`Bundle::serving`]).
fn without_users(model: &TrainedModel) -> TrainedModel {
    match model {
        TrainedModel::Factor(f) => TrainedModel::Factor(crate::model::FactorModel {
            dim: f.dim,
            user_factors: Vec::new(),
            item_factors: f.item_factors.clone(),
            biases: f.biases.as_ref().map(|b| crate::model::Biases {
                global: b.global,
                user: Vec::new(),
                item: b.item.clone(),
            }),
            encoder: f.encoder.clone(),
            heads: f.heads.without_users(),
        }),
        TrainedModel::Blend(b) => TrainedModel::Blend(crate::model::Blend {
            parts: b
                .parts
                .iter()
                .map(|(w, m)| (*w, without_users(m)))
                .collect(),
        }),
        other => other.clone(),
    }
}

/// The catalog size of a hand-made model (see [`example_bundle`]).
fn example_items(model: &TrainedModel) -> usize {
    match model {
        TrainedModel::Popularity(p) => p.counts.len(),
        TrainedModel::Factor(f) => f.item_factors.rows(f.dim),
        TrainedModel::ItemKnn(k) => k.neighbors.len() / k.config.k.max(1),
        TrainedModel::Blend(b) => b.parts.first().map_or(0, |p| example_items(&p.1)),
    }
}

/// A configuration that reads a hand-made model back (see [`example_bundle`]).
fn example_config(model: &TrainedModel) -> ModelConfig {
    match model {
        TrainedModel::Popularity(_) => ModelConfig::Popularity,
        TrainedModel::Factor(f) => match f.encoder.as_deref() {
            Some(crate::model::VisitorEncoder::Sequence(e)) => {
                let mut c = crate::model::SasRecConfig {
                    modalities: Vec::new(),
                    max_len: e.max_len,
                    blocks: e.blocks.len(),
                    ..Default::default()
                };
                c.train.dim = f.dim;
                ModelConfig::Sasrec(c)
            }
            Some(crate::model::VisitorEncoder::Autoencoder(e)) => {
                let mut c = crate::model::AutoencoderConfig::default();
                c.train.dim = e.dim;
                ModelConfig::MultDae(c)
            }
            None => {
                let mut c = crate::model::FactorConfig::bpr_default();
                c.train.dim = f.dim;
                ModelConfig::BprMf(c)
            }
        },
        TrainedModel::ItemKnn(k) => ModelConfig::ItemKnn(k.config.clone()),
        TrainedModel::Blend(b) => ModelConfig::Blend(crate::model::BlendConfig {
            parts: b
                .parts
                .iter()
                .map(|(w, m)| crate::model::BlendPart {
                    weight: f64::from(*w),
                    model: example_config(m),
                })
                .collect(),
        }),
    }
}

/// A bundle of `model` over items `i0…i{n-1}` and one user, with `content`, checksummed
/// through a real serialise + load round trip: for tests and the fuzzing harness.
#[doc(hidden)]
pub fn example_bundle(model: TrainedModel, content: Vec<Modality>) -> Result<Bundle> {
    let n = example_items(&model);
    let config = example_config(&model);
    let mut items = IdMap::default();
    (0..n).for_each(|i| {
        items.get_or_insert(&format!("i{i}"));
    });
    let mut users = IdMap::default();
    users.get_or_insert("u0");
    let bundle = Bundle {
        manifest: Manifest {
            format: FORMAT.into(),
            format_version: Precision::F32.format_version(),
            created_by: "test".into(),
            model: config,
            dims: Dims { users: 1, items: n },
            users,
            items,
            item_titles: (0..n)
                .map(|i| format!("Item {i}"))
                .collect::<Vec<_>>()
                .iter()
                .map(|t| Some(t.as_str()))
                .collect(),
            item_categories: Categories::default(),
            data: Provenance {
                source: DataSource::Grouplens { dir: "-".into() },
                protocol: crate::data::Protocol::implicit_811(1),
                fingerprint: String::new(),
                file_sha256: Default::default(),
            },
            metrics: Default::default(),
            files: Default::default(),
            social: None,
            precision: Precision::F32,
            content: content
                .iter()
                .map(|m| ContentEntry {
                    name: m.name.clone(),
                    dim: m.dim,
                    encoder: None,
                })
                .collect(),
        },
        model,
        history: UserHistory {
            offsets: vec![0, 0],
            items: Vec::new(),
            ratings: Vec::new(),
        },
        content,
        item_counts: None,
        weights_file: WeightsFile::default(),
    };
    bundle.stored()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An MF bundle (int8, explicit feedback) with one user whose history is items 2 and 0,
    /// stored; and its serving bundle, stored.
    pub(crate) fn full_and_serving() -> (Bundle, Bundle) {
        let mf = TrainedModel::Factor(crate::model::FactorModel {
            dim: 2,
            user_factors: vec![0.5, -1.0],
            item_factors: vec![1.0, 0.0, 0.2, 0.9, -0.7, 0.4].into(),
            biases: Some(crate::model::Biases {
                global: 0.1,
                user: vec![0.3],
                item: vec![0.0, -0.2, 0.5],
            }),
            encoder: None,
            heads: Default::default(),
        });
        let mut full = tiny_bundle(mf, Vec::new());
        full.history = UserHistory {
            offsets: vec![0, 2],
            items: vec![2, 0],
            ratings: vec![4.0, 2.0],
        };
        full.manifest.data.protocol.feedback = crate::data::Feedback::Explicit;
        full.manifest.precision = Precision::Int8;
        let full = full.stored().unwrap();
        let serving = full.serving().unwrap().stored().unwrap();
        (full, serving)
    }

    /// [`super::example_bundle`], for tests.
    pub(crate) fn tiny_bundle(model: TrainedModel, content: Vec<Modality>) -> Bundle {
        super::example_bundle(model, content).unwrap()
    }

    #[test]
    fn nan_weights_are_refused_at_load_and_k_zero_is_an_error() {
        let popularity =
            |counts: Vec<f32>| TrainedModel::Popularity(crate::model::Popularity { counts });
        let b = tiny_bundle(popularity(vec![1.0, 2.0]), Vec::new());
        assert!(matches!(b.recommend("u0", 0), Err(Error::Config(_))));
        assert_eq!(b.recommend("u0", 1).unwrap().len(), 1);
        // Written with consistent checksums, as a hostile or broken exporter would.
        let mut bad = b.clone();
        bad.model = popularity(vec![1.0, f32::NAN]);
        let files: BTreeMap<String, Vec<u8>> = bad.to_files().unwrap().into_iter().collect();
        let err = Bundle::from_files(&files[MANIFEST_FILE], |f| Ok(files[f].clone()));
        assert!(
            matches!(&err, Err(Error::Bundle(m)) if m.contains("non-finite")),
            "{err:?}"
        );
    }

    #[test]
    fn content_round_trips_and_a_bad_shape_is_refused() {
        let content = vec![Modality {
            name: "text".into(),
            dim: 2,
            values: vec![1.0, 0.0, 0.0, 0.0],
            present: vec![true, false],
        }];
        let model = TrainedModel::Popularity(crate::model::Popularity {
            counts: vec![1.0, 2.0],
        });
        let b = tiny_bundle(model, content.clone());
        assert_eq!(b.content, content);
        assert_eq!(b.manifest.format_version, 2, "f32 bundles stay format 2");
        let mut bad = b.clone();
        bad.content[0].values.pop();
        assert!(matches!(bad.to_files(), Err(Error::Bundle(_))));
        // A manifest that lists a modality the weights lack is refused.
        let mut files: BTreeMap<String, Vec<u8>> = b.to_files().unwrap().into_iter().collect();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
        manifest["content"][0]["name"] = "image".into();
        files.insert(MANIFEST_FILE.into(), serde_json::to_vec(&manifest).unwrap());
        let err = Bundle::from_files(&files[MANIFEST_FILE], |f| Ok(files[f].clone()));
        assert!(matches!(err, Err(Error::Bundle(m)) if m.contains("content.image")));
    }

    #[test]
    fn a_blend_round_trips_and_bad_blend_bundles_are_refused() {
        let popularity =
            |counts: Vec<f32>| TrainedModel::Popularity(crate::model::Popularity { counts });
        let blend = TrainedModel::Blend(crate::model::Blend {
            parts: vec![
                (1.0, popularity(vec![1.0, 2.0, 3.0])),
                (0.5, popularity(vec![3.0, 1.0, 2.0])),
            ],
        });
        let b = tiny_bundle(blend.clone(), Vec::new());
        assert_eq!(b.model, blend);
        let files: BTreeMap<String, Vec<u8>> = b.to_files().unwrap().into_iter().collect();
        let load = |files: &BTreeMap<String, Vec<u8>>| {
            Bundle::from_files(&files[MANIFEST_FILE], |f| Ok(files[f].clone()))
        };
        assert_eq!(load(&files).unwrap().model, blend);
        let manifest = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut m: serde_json::Value = serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
            edit(&mut m);
            let mut f = files.clone();
            f.insert(MANIFEST_FILE.into(), serde_json::to_vec(&m).unwrap());
            load(&f)
        };
        // One part only; a negative weight; a part nested in a part; a part without tensors.
        let one = manifest(&|m| {
            m["model"]["parts"].as_array_mut().unwrap().pop();
        });
        assert!(matches!(&one, Err(Error::Bundle(_))), "{one:?}");
        let negative = manifest(&|m| m["model"]["parts"][1]["weight"] = (-1.0).into());
        assert!(matches!(&negative, Err(Error::Bundle(_))), "{negative:?}");
        let nested = manifest(&|m| {
            let inner = m["model"].clone();
            m["model"]["parts"][1]["model"] = inner;
        });
        assert!(matches!(&nested, Err(Error::Bundle(_))), "{nested:?}");
        let three = manifest(&|m| {
            let p = m["model"]["parts"][1].clone();
            m["model"]["parts"].as_array_mut().unwrap().push(p);
        });
        assert!(
            matches!(&three, Err(Error::Bundle(e)) if e.contains("blend part 2")),
            "{three:?}"
        );
        // A tensor of no part.
        let mut extra = files.clone();
        rewrite(&mut extra, |t| {
            let c = t["model.part1.item_popularity"].clone();
            t.insert("model.part7.item_popularity".into(), c);
        });
        let err = load(&extra);
        assert!(
            matches!(&err, Err(Error::Bundle(e)) if e.contains("part7")),
            "{err:?}"
        );
    }

    /// Rewrites `files`' weights through `edit` (tensor name → (dtype, shape, bytes)) and fixes
    /// the manifest's checksum, as a broken exporter would.
    fn rewrite(
        files: &mut BTreeMap<String, Vec<u8>>,
        edit: impl FnOnce(&mut BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>),
    ) {
        let st = SafeTensors::deserialize(&files[WEIGHTS_FILE]).unwrap();
        let mut t: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
            .collect();
        edit(&mut t);
        let views: Vec<(String, TensorView)> = t
            .iter()
            .map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let weights = safetensors::serialize(views, None).unwrap();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
        manifest["files"][WEIGHTS_FILE]["bytes"] = weights.len().into();
        manifest["files"][WEIGHTS_FILE]["sha256"] = sha256_hex(&weights).into();
        files.insert(MANIFEST_FILE.into(), serde_json::to_vec(&manifest).unwrap());
        files.insert(WEIGHTS_FILE.into(), weights);
    }

    #[test]
    fn a_serving_bundle_drops_the_users_and_keeps_the_items() {
        let (full, serving) = full_and_serving();
        assert_eq!(serving.manifest.format_version, SERVING_VERSION);
        // The int8 rows are written as held, not quantised again.
        let (TrainedModel::Factor(a), TrainedModel::Factor(b)) = (&full.model, &serving.model)
        else {
            panic!("factor models")
        };
        assert_eq!(a.item_factors, b.item_factors);
        // Item counts only in a serving bundle.
        let mut bad = serving.clone();
        bad.manifest.format_version = 3;
        let files: BTreeMap<String, Vec<u8>> = bad.to_files().unwrap().into_iter().collect();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
        manifest["format_version"] = 3.into();
        let err = Bundle::from_files(&serde_json::to_vec(&manifest).unwrap(), |n| {
            Ok(files[n].clone())
        })
        .unwrap_err();
        assert!(err.to_string().contains("serving bundle"), "{err}");
        assert!(serving.is_serving() && !full.is_serving());
        assert_eq!(serving.manifest.users.len(), 0);
        assert_eq!(serving.history.items.len(), 0);
        assert_eq!(serving.item_counts.as_deref(), Some(&[1, 0, 1][..]));
        let TrainedModel::Factor(f) = &serving.model else {
            panic!("a factor model")
        };
        assert!(f.user_factors.is_empty());
        assert!(matches!(f.item_factors, ItemVectors::Int8 { .. }));
    }

    #[test]
    fn format_3_round_trips_each_precision_and_refuses_inconsistent_tensors() {
        let factors = TrainedModel::Factor(crate::model::FactorModel {
            dim: 3,
            user_factors: vec![0.5, -1.0, 0.25],
            item_factors: vec![1.0, 2.0, -3.0, 0.01, 0.02, 0.0].into(),
            biases: None,
            encoder: None,
            heads: Default::default(),
        });
        let content = vec![Modality {
            name: "text".into(),
            dim: 2,
            values: vec![0.3, -0.6, 0.0, 0.0],
            present: vec![true, false],
        }];
        let f32_bundle = tiny_bundle(factors, content);
        for p in [Precision::F16, Precision::Int8] {
            let mut b = f32_bundle.clone();
            b.manifest.precision = p;
            let back = b.stored().unwrap();
            assert_eq!(back.manifest.format_version, 3);
            assert_eq!(back.content[0].present, [true, false]);
            let (TrainedModel::Factor(a), TrainedModel::Factor(q)) = (&b.model, &back.model) else {
                panic!("factor models")
            };
            // Per-row relative error: ≤ 1/254 of the row's largest entry (int8), less for f16.
            if p == Precision::Int8 {
                assert!(
                    matches!(q.item_factors, ItemVectors::Int8 { .. }),
                    "int8 item vectors are kept as stored"
                );
            }
            let (a_rows, q_rows) = (a.item_factors.to_f32(), q.item_factors.to_f32());
            for (row_a, row_q) in a_rows.chunks(3).zip(q_rows.chunks(3)) {
                let max = row_a.iter().fold(0f32, |m, x| m.max(x.abs()));
                for (x, y) in row_a.iter().zip(row_q) {
                    assert!((x - y).abs() <= max / 254.0 + 1e-7, "{p:?}: {x} vs {y}");
                }
            }
        }
        let mut b = f32_bundle.clone();
        b.manifest.precision = Precision::Int8;
        let files: BTreeMap<String, Vec<u8>> = b.to_files().unwrap().into_iter().collect();
        let load = |files: &BTreeMap<String, Vec<u8>>| {
            Bundle::from_files(&files[MANIFEST_FILE], |f| Ok(files[f].clone()))
        };
        // Read back (int8 rows held as stored) and written again without decoding them: the
        // same files, tensors in the same order.
        let again: BTreeMap<String, Vec<u8>> = load(&files)
            .unwrap()
            .to_files()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(again, files);
        // An int8 tensor without its scales.
        let mut no_scale = files.clone();
        rewrite(&mut no_scale, |t| {
            t.remove("model.item_factors.scale");
        });
        let err = load(&no_scale);
        assert!(
            matches!(&err, Err(Error::Bundle(m)) if m.contains("scale")),
            "{err:?}"
        );
        // Scales for the wrong number of rows.
        let mut short = files.clone();
        rewrite(&mut short, |t| {
            let s = t.get_mut("model.item_factors.scale").unwrap();
            s.1 = vec![1];
            s.2.truncate(4);
        });
        assert!(matches!(load(&short), Err(Error::Bundle(_))));
        // A finite scale that decodes to infinity (3e38 × 127), and a negative one.
        for bad_scale in [3e38f32, -1.0] {
            let mut huge = files.clone();
            rewrite(&mut huge, |t| {
                let s = t.get_mut("model.item_factors.scale").unwrap();
                s.2 = [bad_scale, bad_scale]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
            });
            let err = load(&huge);
            assert!(
                matches!(&err, Err(Error::Bundle(m)) if m.contains("int8")),
                "{err:?}"
            );
        }
        // int8 claimed in a format-2 manifest, and int8 tensors in an f32 bundle.
        let mut old = files.clone();
        let mut m: serde_json::Value = serde_json::from_slice(&old[MANIFEST_FILE]).unwrap();
        m["format_version"] = 2.into();
        old.insert(MANIFEST_FILE.into(), serde_json::to_vec(&m).unwrap());
        assert!(matches!(load(&old), Err(Error::Bundle(m)) if m.contains("version 3")));
        let mut f32_claim = files.clone();
        let mut m: serde_json::Value = serde_json::from_slice(&f32_claim[MANIFEST_FILE]).unwrap();
        m.as_object_mut().unwrap().remove("precision");
        f32_claim.insert(MANIFEST_FILE.into(), serde_json::to_vec(&m).unwrap());
        assert!(matches!(load(&f32_claim), Err(Error::Bundle(_))));
    }
}
