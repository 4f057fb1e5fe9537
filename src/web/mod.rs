//! The browser facade: a wasm-bindgen `Recommender` class that converts JavaScript values, picks
//! the device (WebGPU, else burn Flex on the CPU) and forwards to [`crate::rank`]. No model logic
//! lives here. Every failure becomes a rejected Promise holding a JS `Error` whose `code` is
//! [`Error::code`]; nothing input-dependent can panic.

mod device;

use std::rc::Rc;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::{Error, Result};
use crate::rank::HistoryEvent;
use crate::store::Bundle;
use device::Scorer;

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
}

struct State {
    bundle: Bundle,
    scorer: Scorer,
}

impl State {
    fn list(&self, ranked: impl IntoIterator<Item = (u32, f32)>) -> Result<JsValue> {
        let items = &self.bundle.manifest.items;
        let titles = &self.bundle.manifest.item_titles;
        let list: Vec<Recommendation> = ranked
            .into_iter()
            .map(|(i, score)| Recommendation {
                item: items.id(i),
                score,
                title: titles.get(i as usize).and_then(|t| t.as_deref()),
            })
            .collect();
        to_js(&list)
    }

    async fn recommend(&self, history: JsValue, options: JsValue) -> Result<JsValue> {
        let history: Vec<HistoryEvent> = from_js(history, "history")?;
        let options: RecommendOptions = self::options(options)?;
        let (items, ratings) = self.bundle.history_indices(&history)?;
        let scores = self.scorer.scores(&items, &ratings).await?;
        let excluded: &[u32] = match options.exclude {
            Exclude::Seen => &items,
            Exclude::None => &[],
        };
        let top = crate::eval::top_k(&scores, excluded, options.k);
        self.list(top.into_iter().map(|i| (i, scores[i as usize])))
    }

    fn explain(&self, history: JsValue, item: &str) -> Result<JsValue> {
        let history: Vec<HistoryEvent> = from_js(history, "history")?;
        let e = self.bundle.explain(&history, item)?;
        let titles = &self.bundle.manifest.item_titles;
        let title = |id: &str| {
            let i = self.bundle.manifest.items.get(id)?;
            titles.get(i as usize)?.as_deref()
        };
        #[derive(Serialize)]
        struct Influence<'a> {
            item: &'a str,
            title: Option<&'a str>,
            contribution: f32,
        }
        #[derive(Serialize)]
        struct Explained<'a> {
            item: &'a str,
            title: Option<&'a str>,
            score: f32,
            base: f32,
            influences: Vec<Influence<'a>>,
        }
        to_js(&Explained {
            item: &e.item,
            title: title(&e.item),
            score: e.score,
            base: e.base,
            influences: e
                .influences
                .iter()
                .map(|(id, c)| Influence {
                    item: id,
                    title: title(id),
                    contribution: *c,
                })
                .collect(),
        })
    }

    fn similar(&self, item: &str, options: JsValue) -> Result<JsValue> {
        let options: SimilarOptions = self::options(options)?;
        let similar = self.bundle.similar(item, options.k)?;
        let items = &self.bundle.manifest.items;
        self.list(
            similar
                .iter()
                .filter_map(|(id, s)| items.get(id).map(|i| (i, *s))),
        )
    }
}

/// A loaded bundle, scoring on WebGPU or the CPU.
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
        let bundle = Bundle::from_files(&manifest.to_vec(), file).map_err(js_error)?;
        let scorer = Scorer::new(&bundle, &device).await.map_err(js_error)?;
        Ok(Recommender {
            state: Rc::new(State { bundle, scorer }),
        })
    }

    /// `'webgpu'` or `'cpu'`: where scores are computed.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.state.scorer.name().into()
    }

    /// Top-k items for `history` (`[{ item, rating? }]`); options `{ k = 10, exclude = 'seen' |
    /// 'none' }`. Resolves to `[{ item, score, title }]`, best first.
    pub fn recommend(&self, history: JsValue, options: JsValue) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.recommend(history, options).await.map_err(js_error) })
    }

    /// Why `item` scores what it does for `history`: `{ item, title, score, base, influences:
    /// [{ item, title, contribution }] }`, where `score = base + Σ contribution` exactly.
    pub fn explain(&self, history: JsValue, item: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.explain(history, &item).map_err(js_error) })
    }

    /// The `k` items most similar to `item` (itself excluded); options `{ k = 10 }`.
    pub fn similar(&self, item: String, options: JsValue) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { state.similar(&item, options).map_err(js_error) })
    }
}
