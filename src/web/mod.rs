//! The browser facade: a wasm-bindgen `Recommender` class that converts JavaScript values, picks
//! the device (WebGPU, else burn Flex on the CPU) and forwards to [`crate::rank`]. No model logic
//! lives here. Every failure becomes a rejected Promise holding a JS `Error` whose `code` is
//! [`Error::code`]; nothing input-dependent can panic.

mod device;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::encode::features::new_item_text;
use crate::error::{Error, Result};
use crate::eval::Rerank;
use crate::io::sha256_hex;
use crate::rank::adaptor::adaptor_loss;
use crate::rank::{Explanation, Filter, HistoryEvent, PersonalizeConfig, Session, SessionState};
use crate::store::{Bundle, Manifest, WEIGHTS_FILE};
use device::Engine;

/// The one mapping from [`Error`] to JavaScript: an `Error` with the message and a `code`.
fn js_error(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&error, &"code".into(), &e.code().into());
    error.into()
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T> {
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::Data(format!("{what}: {e}")))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::Data(format!("result: {e}")))
}

#[derive(Deserialize)]
struct RecommendOptions {
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    exclude: Exclude,
    /// Attach each item's explanation (as `explain` gives it) to the recommendation.
    #[serde(default)]
    explain: bool,
    /// Restrict the list to `{ items: [ids] }` or `{ category }`.
    #[serde(default)]
    filter: Option<Filter>,
    /// MMR's weight of diversity in [0, 1] (0: the relevance order; see `eval::rerank`).
    #[serde(default)]
    diversity: Option<f32>,
    /// Leave out items scoring below this.
    #[serde(default, rename = "minScore")]
    min_score: Option<f32>,
}

impl RecommendOptions {
    fn rerank(&self) -> Rerank {
        Rerank {
            diversity: self.diversity.unwrap_or(0.0),
            min_score: self.min_score,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum Exclude {
    #[default]
    Seen,
    None,
}

#[derive(Deserialize)]
struct SimilarOptions {
    #[serde(default = "default_k")]
    k: usize,
}

fn default_k() -> usize {
    10
}

/// Options may be left out entirely.
fn options<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T> {
    let value = if value.is_undefined() || value.is_null() {
        Object::new().into()
    } else {
        value
    };
    from_js(value, "options")
}

#[derive(Serialize)]
struct Recommendation<'a> {
    item: &'a str,
    score: f32,
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Explained<'a>>,
}

#[derive(Serialize)]
struct Influence<'a> {
    item: &'a str,
    title: Option<&'a str>,
    contribution: f32,
}

#[derive(Serialize)]
struct Share<'a> {
    modality: &'a str,
    share: f32,
}

/// An [`Explanation`] as JavaScript sees it, with titles.
#[derive(Serialize)]
struct Explained<'a> {
    item: &'a str,
    title: Option<&'a str>,
    score: f32,
    base: f32,
    personal: f32,
    influences: Vec<Influence<'a>>,
    modalities: Vec<Share<'a>>,
}

impl<'a> Explained<'a> {
    fn new(session: &'a Session, e: &'a Explanation) -> Self {
        let title = |id: &str| session.title(session.index(id).ok()?);
        Explained {
            item: &e.item,
            title: title(&e.item),
            score: e.score,
            base: e.base,
            personal: e.personal,
            influences: e
                .influences
                .iter()
                .map(|(id, c)| Influence {
                    item: id,
                    title: title(id),
                    contribution: *c,
                })
                .collect(),
            modalities: e
                .modalities
                .iter()
                .map(|(m, s)| Share {
                    modality: m,
                    share: *s,
                })
                .collect(),
        }
    }
}

/// `addItem`'s input: an id, and what describes the item (text parts, a photo, and/or
/// precomputed feature vectors by modality name, such as `audio`).
#[derive(Deserialize)]
struct NewItem {
    id: String,
    title: Option<String>,
    year: Option<i32>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(alias = "text")]
    description: Option<String>,
    /// Vectors for modalities the bundle stores from files (`train --item-features`), used as
    /// they are: the caller computed them with the same embedder as the catalog's.
    #[serde(default)]
    features: BTreeMap<String, Vec<f32>>,
}

struct State {
    session: RefCell<Session>,
    engine: Engine,
}

/// No `RefCell` borrow of the session is ever held across an `.await`: calls interleave at
/// await points (the worker does not serialise them), so each step borrows, copies what it
/// needs, and lets go.
impl State {
    fn list(&self, ranked: impl IntoIterator<Item = (u32, f32)>) -> Result<JsValue> {
        self.explained_list(ranked, None)
    }

    /// Recommendations, each with its explanation for `history` when one is given.
    fn explained_list(
        &self,
        ranked: impl IntoIterator<Item = (u32, f32)>,
        history: Option<&[HistoryEvent]>,
    ) -> Result<JsValue> {
        let session = self.session.borrow();
        let ranked: Vec<(u32, f32)> = ranked.into_iter().collect();
        let explanations: Vec<Option<Explanation>> = ranked
            .iter()
            .map(|&(i, _)| {
                history
                    .map(|h| session.explain(h, session.id(i)))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let list: Vec<Recommendation> = ranked
            .iter()
            .zip(&explanations)
            .map(|(&(i, score), e)| Recommendation {
                item: session.id(i),
                score,
                title: session.title(i),
                explanation: e.as_ref().map(|e| Explained::new(&session, e)),
            })
            .collect();
        to_js(&list)
    }

    async fn recommend(&self, history: JsValue, options: JsValue) -> Result<JsValue> {
        let history: Vec<HistoryEvent> = from_js(history, "history")?;
        let options: RecommendOptions = self::options(options)?;
        crate::eval::check_k(options.k)?;
        let rerank = options.rerank();
        rerank.validate()?;
        let explain = options.explain.then_some(&history[..]);
        if history.is_empty() {
            let popular =
                self.session
                    .borrow()
                    .popular_with(options.k, options.filter.as_ref(), &rerank)?;
            return self.explained_list(popular, None);
        }
        let (query, seen) = self.session.borrow().query(&history)?;
        let base = match self.engine.scores(&query).await? {
            Some(base) => base,
            None => self.session.borrow().catalog_scores(&query)?,
        };
        let ranked = {
            let session = self.session.borrow();
            let mut scores = session.complete(base, true)?;
            session.apply_filter(&mut scores, options.filter.as_ref())?;
            let seen = match options.exclude {
                Exclude::Seen => Some(&seen[..]),
                Exclude::None => None,
            };
            session.rank_with(&scores, seen, options.k, &rerank)?
        };
        self.explained_list(ranked, explain)
    }

    fn explain(&self, history: JsValue, item: &str) -> Result<JsValue> {
        let history: Vec<HistoryEvent> = from_js(history, "history")?;
        let session = self.session.borrow();
        let e = session.explain(&history, item)?;
        to_js(&Explained::new(&session, &e))
    }

    fn similar(&self, item: &str, options: JsValue) -> Result<JsValue> {
        let options: SimilarOptions = self::options(options)?;
        let similar = self.session.borrow().similar_indices(item, options.k)?;
        self.list(similar)
    }

    /// Encodes a new item on the device and places it (see [`Session::add_item`]). The photo is
    /// always decoded (a bad one is `BAD_IMAGE`); it is encoded by EfficientNet when the bundle's
    /// catalog has image content to compare with, and otherwise reported as unused.
    async fn add_item(&self, item: JsValue, image: Option<Vec<u8>>) -> Result<JsValue> {
        let item: NewItem = from_js(item, "item")?;
        let wanted = {
            let session = self.session.borrow();
            if session.index(&item.id).is_ok() {
                return Err(Error::Data(format!("item '{}' already exists", item.id)));
            }
            session.content_names()
        };
        let mut content = BTreeMap::new();
        let mut unused = Vec::new();
        for (name, vector) in &item.features {
            if ["text", "image"].contains(&name.as_str()) {
                return Err(Error::Data(format!(
                    "features.{name}: '{name}' is encoded on the device from the item's text or photo; \
                     pass those instead"
                )));
            }
            match wanted.contains(name) {
                true => {
                    content.insert(name.clone(), vector.clone());
                }
                false => {
                    return Err(Error::Data(format!(
                        "features.{name}: this bundle stores no '{name}' content (it has: {})",
                        wanted.join(", ")
                    )))
                }
            }
        }
        let text = new_item_text(
            item.title.as_deref(),
            item.year,
            &item.categories,
            item.description.as_deref(),
        );
        if let Some(text) = text {
            match wanted.iter().any(|m| m == "text") {
                true => {
                    content.insert("text".to_owned(), self.engine.embed_text(&text).await?);
                }
                false => unused.push("text"),
            }
        }
        if let Some(bytes) = &image {
            crate::encode::image::decode_rgb(bytes)?;
            match wanted.iter().any(|m| m == "image") {
                true => {
                    let (pooled, _) = self.engine.embed_image(bytes).await?;
                    content.insert("image".to_owned(), pooled);
                }
                false => unused.push("image"),
            }
        }
        let used: Vec<String> = content.keys().cloned().collect();
        let neighbors =
            self.session
                .borrow_mut()
                .add_item(&item.id, item.title.clone(), content)?;
        #[derive(Serialize)]
        struct Added<'a> {
            item: &'a str,
            used: Vec<String>,
            unused: Vec<&'a str>,
            neighbors: Vec<Recommendation<'a>>,
        }
        let session = self.session.borrow();
        to_js(&Added {
            item: &item.id,
            used,
            unused,
            neighbors: neighbors
                .iter()
                .map(|(id, w)| Recommendation {
                    item: id,
                    score: *w,
                    title: session.index(id).ok().and_then(|i| session.title(i)),
                    explanation: None,
                })
                .collect(),
        })
    }

    /// A few autodiff steps of the personal adaptor on this device, from local `events`.
    async fn personalize(
        &self,
        events: JsValue,
        options: JsValue,
        on_step: Option<js_sys::Function>,
    ) -> Result<JsValue> {
        let events: Vec<HistoryEvent> = from_js(events, "events")?;
        let config: PersonalizeConfig = self::options(options)?;
        let (pairs, theta0) = {
            let session = self.session.borrow();
            (
                session.personalize_pairs(&events, &config)?,
                session.theta(),
            )
        };
        let before = adaptor_loss(&theta0, &pairs, config.l2);
        let mut report = |step: usize| {
            if let Some(f) = &on_step {
                // A throwing progress callback must not abort fine-tuning.
                let _ = f.call2(&JsValue::NULL, &step.into(), &config.steps.into());
            }
        };
        let theta = self
            .engine
            .fit_adaptor(&theta0, &pairs, &config, &mut report)
            .await?;
        let after = adaptor_loss(&theta, &pairs, config.l2);
        self.session
            .borrow_mut()
            .set_adaptor(theta, config.strength, config.steps)?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Tuned {
            steps: usize,
            pairs: usize,
            loss_before: f64,
            loss_after: f64,
        }
        to_js(&Tuned {
            steps: config.steps,
            pairs: pairs.rows,
            loss_before: before,
            loss_after: after,
        })
    }

    /// Loads the encoders from their files' bytes, checking each against the encoder the
    /// bundle's catalog content was made with (sha256 of the weights).
    fn load_encoders(&self, files: Object) -> Result<JsValue> {
        let bytes = |name: &str| -> Option<Vec<u8>> {
            Reflect::get(&files, &name.into())
                .ok()?
                .dyn_into::<Uint8Array>()
                .ok()
                .map(|b| b.to_vec())
        };
        let expected = |modality: &str| -> Option<String> {
            let session = self.session.borrow();
            let entry = session
                .bundle()
                .manifest
                .content
                .iter()
                .find(|c| c.name == modality)?;
            Some(entry.encoder.as_ref()?.weights_sha256.clone())
        };
        let check = |modality: &str, weights: &[u8]| -> Result<()> {
            match expected(modality) {
                Some(sha) if sha != sha256_hex(weights) => Err(Error::Encoder(format!(
                    "the {modality} encoder's weights differ from those the bundle's catalog was \
                     encoded with (sha256 {sha})"
                ))),
                _ => Ok(()),
            }
        };
        if let (Some(tokenizer), Some(weights)) = (bytes("tokenizer"), bytes("text")) {
            check("text", &weights)?;
            self.engine.load_text(&tokenizer, &weights)?;
        }
        if let Some(weights) = bytes("image") {
            check("image", &weights)?;
            self.engine.load_image(&weights)?;
        }
        to_js(&serde_json::json!({
            "text": self.engine.has_text(),
            "image": self.engine.has_image(),
        }))
    }

    /// Raw encoder outputs, for checking the on-device encoders against native ones.
    async fn encode(
        &self,
        text: Option<String>,
        image: Option<Uint8Array>,
        texts: Option<Vec<String>>,
    ) -> Result<JsValue> {
        let mut out = serde_json::Map::new();
        if let Some(text) = text {
            out.insert("text".into(), self.engine.embed_text(&text).await?.into());
        }
        if let Some(texts) = texts {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            out.insert(
                "texts".into(),
                self.engine.embed_texts(&texts).await?.into(),
            );
        }
        if let Some(image) = image {
            let (pooled, logits) = self.engine.embed_image(&image.to_vec()).await?;
            let top1 = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            out.insert("image".into(), pooled.into());
            out.insert("top1".into(), top1.into());
        }
        to_js(&out)
    }

    fn export_bundle(&self) -> Result<JsValue> {
        let session = self.session.borrow();
        let bundle = session.bundle();
        let weights = bundle.weights_file.0.as_ref().ok_or_else(|| {
            Error::Bundle("this bundle was not loaded from files and cannot be saved".into())
        })?;
        let manifest = serde_json::to_vec(&bundle.manifest)
            .map_err(|e| Error::Bundle(format!("serialising the manifest: {e}")))?;
        let files = Object::new();
        let set = |o: &Object, k: &str, v: &JsValue| {
            Reflect::set(o, &k.into(), v)
                .map(|_| ())
                .map_err(|_| Error::Data("could not build the saved bundle".into()))
        };
        set(&files, WEIGHTS_FILE, &Uint8Array::from(&weights[..]).into())?;
        let out = Object::new();
        set(&out, "manifest", &Uint8Array::from(&manifest[..]).into())?;
        set(&out, "files", &files.into())?;
        Ok(out.into())
    }

    fn export_update(&self, options: JsValue) -> Result<JsValue> {
        #[derive(Deserialize)]
        struct ExportOptions {
            epsilon: f64,
            #[serde(default = "default_dp_delta")]
            delta: f64,
            #[serde(default = "default_clip")]
            clip: f32,
            /// A fixed seed makes the noise reproducible — and removable by whoever knows it:
            /// tests only. Absent, the noise is keyed by the browser's CSPRNG.
            #[serde(default)]
            seed: Option<u64>,
        }
        fn default_dp_delta() -> f64 {
            1e-5
        }
        fn default_clip() -> f32 {
            1.0
        }
        let o: ExportOptions =
            from_js(options, "exportUpdate options").map_err(|e| Error::Config(e.to_string()))?;
        let u = self
            .session
            .borrow()
            .private_update(o.epsilon, o.delta, o.clip, o.seed)?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Update {
            delta: Vec<f32>,
            dim: usize,
            clip: f32,
            sigma: f32,
            epsilon: f64,
            delta_dp: f64,
            bundle: String,
        }
        to_js(&Update {
            delta: u.delta,
            dim: u.dim,
            clip: u.clip,
            sigma: u.sigma,
            epsilon: u.epsilon,
            delta_dp: u.delta_dp,
            bundle: u.bundle,
        })
    }

    fn export_state(&self) -> Result<Uint8Array> {
        let state = self.session.borrow().state();
        let bytes = serde_json::to_vec(&state)
            .map_err(|e| Error::Data(format!("saving the session: {e}")))?;
        Ok(Uint8Array::from(&bytes[..]))
    }

    fn items(&self) -> Result<JsValue> {
        #[derive(Serialize)]
        struct Item<'a> {
            item: &'a str,
            title: Option<&'a str>,
            categories: Vec<&'a str>,
        }
        let session = self.session.borrow();
        let items: Vec<Item> = session
            .items()
            .into_iter()
            .map(|(item, title, categories)| Item {
                item,
                title,
                categories,
            })
            .collect();
        to_js(&items)
    }

    fn import_state(&self, bytes: &[u8]) -> Result<()> {
        let state: SessionState = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("not a saved session: {e}")))?;
        self.session.borrow_mut().restore(state)
    }
}

/// A bundle arriving in pieces: the manifest first, chunk by chunk, parsed here by
/// [`BundleLoader::open`] (so the page never parses — or holds — a 10⁶-item manifest in
/// JavaScript), then each listed file chunk by chunk, straight into wasm memory as it
/// downloads; [`Recommender::from_loader`] verifies and loads it. The page holds one chunk at a
/// time instead of whole files.
#[wasm_bindgen]
pub struct BundleLoader {
    /// The manifest's bytes as they arrive, until [`BundleLoader::open`] parses them.
    manifest_bytes: Vec<u8>,
    manifest: Option<Manifest>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Default for BundleLoader {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl BundleLoader {
    #[wasm_bindgen(constructor)]
    pub fn new() -> BundleLoader {
        console_error_panic_hook::set_once();
        BundleLoader {
            manifest_bytes: Vec::new(),
            manifest: None,
            files: BTreeMap::new(),
        }
    }

    /// Appends a chunk of `manifest.json` (the page holds no copy of a 30 MB manifest). The
    /// buffer grows by doubling, not by a reservation of the announced length: measured at
    /// 10⁶ items, the smaller buffers it leaves behind are reused by the parsed manifest, and
    /// an exact reservation left the wasm memory 15–20 MB larger.
    #[wasm_bindgen(js_name = pushManifest)]
    pub fn push_manifest(&mut self, chunk: &[u8]) -> std::result::Result<(), JsValue> {
        if self.manifest.is_some() {
            return Err(js_error(Error::Bundle(
                "the manifest is already read".into(),
            )));
        }
        // Every growth is fallible: past what wasm32 can hold it is an error, not a trap.
        self.manifest_bytes.try_reserve(chunk.len()).map_err(|_| {
            js_error(Error::TooLarge(format!(
                "{} bytes of manifest do not fit in this page's memory",
                self.manifest_bytes.len() + chunk.len()
            )))
        })?;
        self.manifest_bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Parses and checks the manifest (errors as `Recommender.load` gives them), frees its
    /// bytes and answers the files it lists. `max_bytes` (the page's `maxBytes`): the largest
    /// bundle, manifest and listed files together, this page takes — refused here
    /// (TOO_LARGE), before any file is downloaded. Memory follows bytes: the weights file is
    /// held as loaded, and what is decoded from it is at most four times its size (int8
    /// content), while int8 item vectors are read in place.
    pub fn open(&mut self, max_bytes: Option<f64>) -> std::result::Result<JsValue, JsValue> {
        let bytes = std::mem::take(&mut self.manifest_bytes);
        let size = bytes.len() as u64;
        let manifest = Bundle::parse_manifest(&bytes).map_err(js_error)?;
        drop(bytes);
        if let Some(max) = max_bytes {
            let total = manifest.total_bytes(size);
            if total as f64 > max {
                return Err(js_error(Error::TooLarge(format!(
                    "the bundle is {total} bytes, over this page's maxBytes of {max}"
                ))));
            }
        }
        self.manifest = Some(manifest);
        self.files()
    }

    fn manifest(&self) -> std::result::Result<&Manifest, JsValue> {
        self.manifest
            .as_ref()
            .ok_or_else(|| js_error(Error::Bundle("the manifest is not read yet".into())))
    }

    /// The files the manifest lists: `[{ name, bytes }]` (`bytes`: the declared size).
    pub fn files(&self) -> std::result::Result<JsValue, JsValue> {
        #[derive(Serialize)]
        struct Listed<'a> {
            name: &'a str,
            bytes: u64,
        }
        let listed: Vec<Listed> = (self.manifest()?.files.iter())
            .map(|(name, f)| Listed {
                name,
                bytes: f.bytes,
            })
            .collect();
        to_js(&listed).map_err(js_error)
    }

    /// Appends a chunk to a listed file. Space for the declared size is reserved on the first
    /// chunk (a size this memory cannot hold is an error, not a crash); a file growing past its
    /// declared size is refused at once.
    pub fn push(&mut self, name: &str, chunk: &[u8]) -> std::result::Result<(), JsValue> {
        let declared = self
            .manifest()?
            .files
            .get(name)
            .ok_or_else(|| js_error(Error::Bundle(format!("manifest lists no {name}"))))?
            .bytes;
        let file = self.files.entry(name.to_owned()).or_default();
        let size = file.len() as u64 + chunk.len() as u64;
        if size > declared {
            return Err(js_error(Error::Bundle(format!(
                "{name} is larger than the {declared} bytes its manifest declares"
            ))));
        }
        let too_large = || {
            js_error(Error::TooLarge(format!(
                "{name}: {declared} bytes do not fit in this page's memory"
            )))
        };
        if file.capacity() == 0 {
            // At most 1 GiB up front: a manifest that overstates a size fails its checksum
            // at the end, and should not have grown the page's memory by then.
            let want = usize::try_from(declared.min(1 << 30)).map_err(|_| too_large())?;
            file.try_reserve_exact(want).map_err(|_| too_large())?;
        }
        // Every later growth is fallible too: past what wasm32 can hold (a file over 1 GiB
        // doubles its buffer) it is an error, not a trap.
        file.try_reserve(chunk.len()).map_err(|_| too_large())?;
        file.extend_from_slice(chunk);
        Ok(())
    }
}

/// A loaded bundle with one visitor's session, scoring on WebGPU or the CPU.
#[wasm_bindgen]
pub struct Recommender {
    state: Rc<State>,
}

#[wasm_bindgen]
impl Recommender {
    /// Verifies and loads a bundle from its manifest bytes and `files` (file name → bytes), on
    /// `device`: `'auto'` (WebGPU if an adapter is available, else the CPU), `'webgpu'` or `'cpu'`.
    pub async fn load(
        manifest: Uint8Array,
        files: Object,
        device: String,
    ) -> std::result::Result<Recommender, JsValue> {
        console_error_panic_hook::set_once();
        let file = |name: &str| -> Result<Vec<u8>> {
            let bytes = Reflect::get(&files, &name.into()).unwrap_or(JsValue::UNDEFINED);
            bytes
                .dyn_into::<Uint8Array>()
                .map(|b| b.to_vec())
                .map_err(|_| Error::Bundle(format!("no bytes given for the bundle file {name}")))
        };
        // The manifest's bytes are freed before the weights are copied in: wasm memory never
        // shrinks, so its peak is what a page keeps.
        let manifest = Bundle::parse_manifest(&manifest.to_vec()).map_err(js_error)?;
        let bundle = Bundle::from_manifest(manifest, file).map_err(js_error)?;
        Self::start(bundle, &device).await
    }

    /// Verifies and loads a bundle streamed into a [`BundleLoader`], on `device` (as `load`).
    #[wasm_bindgen(js_name = fromLoader)]
    pub async fn from_loader(
        loader: BundleLoader,
        device: String,
    ) -> std::result::Result<Recommender, JsValue> {
        let BundleLoader {
            manifest,
            mut files,
            ..
        } = loader;
        let manifest = manifest
            .ok_or_else(|| js_error(Error::Bundle("the manifest is not read yet".into())))?;
        let file = |name: &str| -> Result<Vec<u8>> {
            files
                .remove(name)
                .ok_or_else(|| Error::Bundle(format!("no bytes given for the bundle file {name}")))
        };
        let bundle = Bundle::from_manifest(manifest, file).map_err(js_error)?;
        Self::start(bundle, &device).await
    }

    async fn start(bundle: Bundle, device: &str) -> std::result::Result<Recommender, JsValue> {
        let engine = Engine::new(&bundle, device).await.map_err(js_error)?;
        Ok(Recommender {
            state: Rc::new(State {
                session: RefCell::new(Session::new(bundle)),
                engine,
            }),
        })
    }

    /// The bundle's catalog content modalities (what an added item can be placed by).
    #[wasm_bindgen(getter)]
    pub fn content(&self) -> Vec<String> {
        self.state.session.borrow().content_names()
    }

    /// `'webgpu'` or `'cpu'`: where scores are computed.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.state.engine.name().into()
    }

    /// The catalog, added items included: `[{ item, title, categories }]` in index order.
    pub fn items(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.items().map_err(js_error) })
    }

    /// Top-k items for `history` (`[{ item, rating? }]`); options `{ k = 10, exclude = 'seen' |
    /// 'none', explain = false, filter: { items: [ids] } | { category } }`. Resolves to
    /// `[{ item, score, title, explanation? }]`, best first.
    pub fn recommend(&self, history: JsValue, options: JsValue) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.recommend(history, options).await.map_err(js_error) })
    }

    /// Why `item` scores what it does for `history`: `{ item, title, score, base, personal,
    /// influences: [{ item, title, contribution }], modalities: [{ modality, share }] }`, where
    /// `score = base + Σ contribution + personal` exactly.
    pub fn explain(&self, history: JsValue, item: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.explain(history, &item).map_err(js_error) })
    }

    /// The `k` items most similar to `item` (itself excluded); options `{ k = 10 }`.
    pub fn similar(&self, item: String, options: JsValue) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.similar(&item, options).map_err(js_error) })
    }

    /// Adds `{ id, title?, year?, categories?, description? }` with an optional photo (encoded
    /// bytes: JPEG, PNG or WebP), encoded on this device. Resolves to `{ item, used, unused,
    /// neighbors: [{ item, score, title }] }`.
    #[wasm_bindgen(js_name = addItem)]
    pub fn add_item(&self, item: JsValue, image: Option<Uint8Array>) -> Promise {
        let state = self.state.clone();
        let image = image.map(|b| b.to_vec());
        future_to_promise(async move { state.add_item(item, image).await.map_err(js_error) })
    }

    /// Fine-tunes the personal adaptor on local `events` (`[{ item, rating? }]`); options
    /// `{ steps = 20, lr, l2, negatives, strength, seed }`; `on_step(step, steps)` reports
    /// progress. Resolves to `{ steps, pairs, lossBefore, lossAfter }`.
    pub fn personalize(
        &self,
        events: JsValue,
        options: JsValue,
        on_step: Option<js_sys::Function>,
    ) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            state
                .personalize(events, options, on_step)
                .await
                .map_err(js_error)
        })
    }

    /// Loads encoders from bytes: `{ tokenizer, text }` (MiniLM's `tokenizer.json` and
    /// `model.safetensors`) and/or `{ image }` (EfficientNet-Lite0 `.pth`). Resolves to which
    /// encoders are loaded.
    #[wasm_bindgen(js_name = loadEncoders)]
    pub fn load_encoders(&self, files: Object) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.load_encoders(files).map_err(js_error) })
    }

    /// Raw encoder outputs `{ text?: number[], texts?: number[][], image?: number[], top1?:
    /// number }`; `texts` are encoded in batches.
    pub fn encode(
        &self,
        text: Option<String>,
        image: Option<Uint8Array>,
        texts: Option<Vec<String>>,
    ) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.encode(text, image, texts).await.map_err(js_error) })
    }

    /// The loaded bundle as files, for `save`: `{ manifest, files: { name: bytes } }` — the
    /// weights file exactly as it was loaded (so its checksum holds) and the manifest
    /// re-serialised. The page keeps no copy of its own while the bundle is loaded (at 10⁶
    /// items that copy was 100 MB); this copies out of wasm memory only while saving.
    #[wasm_bindgen(js_name = exportBundle)]
    pub fn export_bundle(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.export_bundle().map_err(js_error) })
    }

    /// The (ε, δ)-DP release of the personal adaptor θ (`rank::private`): options `{ epsilon,
    /// delta, clip, seed? }` (the JS wrapper fills the defaults; without a seed the noise is
    /// keyed by the browser's CSPRNG). Resolves to `{ delta: number[], dim, clip, sigma, epsilon, deltaDp, bundle }`.
    /// `BAD_CONFIG` for bad options or a session without an adaptor.
    #[wasm_bindgen(js_name = exportUpdate)]
    pub fn export_update(&self, options: JsValue) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.export_update(options).map_err(js_error) })
    }

    /// The session (added items, adaptor) as bytes, for the page to store.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.export_state().map(Into::into).map_err(js_error) })
    }

    /// Restores a session saved by `exportState` for this same bundle.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&self, bytes: Uint8Array) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            state
                .import_state(&bytes.to_vec())
                .map(|()| JsValue::UNDEFINED)
                .map_err(js_error)
        })
    }
}
