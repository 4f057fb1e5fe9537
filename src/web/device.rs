//! Device choice in the browser: WebGPU when the page has an adapter, else burn Flex on the CPU;
//! the bundle's scorer, the encoders and the adaptor's fine-tuning all run on the chosen one.
//! The adapter is requested here first because burn's own request panics when there is none.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, WgpuDevice};
use burn::backend::{Autodiff, Flex, Wgpu};
use burn::tensor::{backend::Backend, Tensor};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::encode::{ImageEncoder, TextEncoder};
use crate::error::{Error, Result};
use crate::rank::adaptor::{Pairs, PersonalizeConfig};
use crate::rank::{DeviceScorer, Query};
use crate::store::Bundle;

/// Most texts in one encoder batch of [`Engine::embed_texts`].
const TEXT_BATCH: usize = 64;

/// Batches of at most `most` indices of `lengths`, longest first, each padded to its first
/// (longest) row: a row joins the current batch while its length is at least ¾ of that row's,
/// so that padding stays under a third of a batch's tokens (short texts vary a lot in length:
/// ML-100K titles are 3 to 16 tokens; one batch of them is two thirds padding).
fn length_batches(lengths: &[usize], most: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match batches.last_mut() {
            Some(b) if b.len() < most && lengths[i] * 4 >= lengths[b[0]] * 3 => b.push(i),
            _ => batches.push(vec![i]),
        }
    }
    batches
}

thread_local! {
    /// burn's WebGPU runtime is set up once per worker; later bundles reuse it.
    static WEBGPU_READY: Cell<bool> = const { Cell::new(false) };
}

/// Everything that runs on one device: the bundle's scorer (none where the CPU kernels score:
/// always on the CPU engine, and for item–item models too large to upload densely) and, once
/// loaded, the encoders.
pub(super) struct OnDevice<B: Backend> {
    device: B::Device,
    scorer: Option<DeviceScorer<B>>,
    text: RefCell<Option<Rc<TextEncoder<B>>>>,
    image: RefCell<Option<Rc<ImageEncoder<B>>>>,
}

pub(super) enum Engine {
    WebGpu(Box<OnDevice<Wgpu>>),
    Cpu(Box<OnDevice<Flex>>),
}

/// Runs the same generic body on whichever device the engine holds.
macro_rules! on_device {
    ($engine:expr, $d:ident => $body:expr) => {
        match $engine {
            Engine::WebGpu($d) => $body,
            Engine::Cpu($d) => $body,
        }
    };
}

/// Whether `navigator.gpu.requestAdapter()` gives an adapter (in a page or a worker).
async fn webgpu_adapter() -> bool {
    let get = |target: &JsValue, key: &str| Reflect::get(target, &key.into()).ok();
    let Some(gpu) = get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "gpu"))
        .filter(|g| !g.is_undefined() && !g.is_null())
    else {
        return false;
    };
    let Some(request) = get(&gpu, "requestAdapter").and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return false;
    };
    match request.call0(&gpu).map(|p| p.dyn_into::<Promise>()) {
        Ok(Ok(promise)) => {
            matches!(JsFuture::from(promise).await, Ok(a) if !a.is_null() && !a.is_undefined())
        }
        _ => false,
    }
}

async fn read<B: Backend>(values: Tensor<B, 1>) -> Result<Vec<f32>> {
    values
        .into_data_async()
        .await
        .map_err(|e| Error::Device(format!("reading from the device failed: {e:?}")))?
        .to_vec()
        .map_err(|e| Error::Device(format!("unexpected value type: {e:?}")))
}

impl<B: Backend> OnDevice<B> {
    fn new(bundle: &Bundle, device: B::Device, upload: bool) -> Result<Self> {
        let n = bundle.manifest.dims.items;
        let upload = upload
            && DeviceScorer::<B>::supports(&bundle.model, n)
            && !DeviceScorer::<B>::holds_more(&bundle.model);
        Ok(Self {
            scorer: match upload {
                true => Some(DeviceScorer::new(&bundle.model, n, &device)?),
                false => None,
            },
            device,
            text: RefCell::new(None),
            image: RefCell::new(None),
        })
    }

    fn text_encoder(&self) -> Result<Rc<TextEncoder<B>>> {
        self.text.borrow().clone().ok_or_else(|| {
            Error::Encoder("the text encoder is not loaded (load option `encoders.text`)".into())
        })
    }

    fn image_encoder(&self) -> Result<Rc<ImageEncoder<B>>> {
        self.image.borrow().clone().ok_or_else(|| {
            Error::Encoder("the image encoder is not loaded (load option `encoders.image`)".into())
        })
    }

    async fn embed_text(&self, text: &str) -> Result<Vec<f32>> {
        let encoder = self.text_encoder()?;
        read(encoder.embed(&[text])?.reshape([-1])).await
    }

    /// Embeddings of `texts`, one row each in input order, computed in batches of at most
    /// [`TEXT_BATCH`] texts of similar token length (see [`length_batches`]).
    async fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encoder = self.text_encoder()?;
        let rows = texts
            .iter()
            .map(|t| encoder.token_ids(t))
            .collect::<Result<Vec<_>>>()?;
        let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
        let dim = encoder.dim();
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in length_batches(&lengths, TEXT_BATCH) {
            let ids: Vec<&[u32]> = chunk.iter().map(|&i| rows[i].as_slice()).collect();
            let values = read(
                encoder
                    .embed_batch(TextEncoder::<B>::pad(&ids))
                    .reshape([-1]),
            )
            .await?;
            for (&i, v) in chunk.iter().zip(values.chunks(dim)) {
                out[i] = v.to_vec();
            }
        }
        Ok(out)
    }

    async fn embed_image(&self, bytes: &[u8]) -> Result<(Vec<f32>, Vec<f32>)> {
        let encoder = self.image_encoder()?;
        let (pooled, logits) = encoder.forward(&[bytes])?;
        Ok((
            read(pooled.reshape([-1])).await?,
            read(logits.reshape([-1])).await?,
        ))
    }

    async fn fit_adaptor(
        &self,
        theta0: &[f32],
        pairs: &Pairs,
        config: &PersonalizeConfig,
        on_step: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        let theta = crate::rank::adaptor::fit_adaptor::<Autodiff<B>>(
            theta0,
            pairs,
            config,
            &self.device,
            on_step,
        )?;
        read(theta).await
    }
}

impl Engine {
    pub(super) async fn new(bundle: &Bundle, device: &str) -> Result<Self> {
        let webgpu = match device {
            "cpu" => false,
            "auto" => webgpu_adapter().await,
            "webgpu" if webgpu_adapter().await => true,
            "webgpu" => {
                return Err(Error::Device(
                    "WebGPU is not available in this browser (no adapter)".into(),
                ))
            }
            other => {
                return Err(Error::Config(format!(
                    "unknown device '{other}' (auto, webgpu or cpu)"
                )))
            }
        };
        if !webgpu {
            // On the CPU the crate's own kernels score the bundle as stored (int8 rows, sparse
            // item–item lists): a burn Flex copy would be f32 and dense, and no faster.
            return Ok(Engine::Cpu(Box::new(OnDevice::new(
                bundle,
                Default::default(),
                false,
            )?)));
        }
        let device = WgpuDevice::default();
        if !WEBGPU_READY.get() {
            init_setup_async::<WebGpu>(&device, Default::default()).await;
            WEBGPU_READY.set(true);
        }
        Ok(Engine::WebGpu(Box::new(OnDevice::new(
            bundle, device, true,
        )?)))
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Engine::WebGpu(_) => "webgpu",
            Engine::Cpu(_) => "cpu",
        }
    }

    /// Catalog scores on the device, read back asynchronously (a synchronous read panics on
    /// WebGPU); `None` when the CPU kernels score this bundle (see [`OnDevice`]).
    pub(super) async fn scores(&self, q: &Query) -> Result<Option<Vec<f32>>> {
        on_device!(self, d => match &d.scorer {
            Some(s) => Ok(Some(read(s.scores(q)?).await?)),
            None => Ok(None),
        })
    }

    /// Loads MiniLM from `tokenizer.json` and `model.safetensors` bytes.
    pub(super) fn load_text(&self, tokenizer: &[u8], weights: &[u8]) -> Result<()> {
        on_device!(self, d => {
            let encoder = TextEncoder::from_bytes(tokenizer, weights, &d.device)?;
            *d.text.borrow_mut() = Some(Rc::new(encoder));
            Ok(())
        })
    }

    /// Loads EfficientNet-Lite0 from the `.pth` bytes.
    pub(super) fn load_image(&self, weights: &[u8]) -> Result<()> {
        on_device!(self, d => {
            let encoder = ImageEncoder::from_pth_bytes(weights, &d.device)?;
            *d.image.borrow_mut() = Some(Rc::new(encoder));
            Ok(())
        })
    }

    pub(super) fn has_text(&self) -> bool {
        on_device!(self, d => d.text.borrow().is_some())
    }

    pub(super) fn has_image(&self) -> bool {
        on_device!(self, d => d.image.borrow().is_some())
    }

    /// MiniLM embedding (384-d, L2-normalised) of one text.
    pub(super) async fn embed_text(&self, text: &str) -> Result<Vec<f32>> {
        on_device!(self, d => d.embed_text(text).await)
    }

    /// MiniLM embeddings of several texts, batched (see [`OnDevice::embed_texts`]).
    pub(super) async fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        on_device!(self, d => d.embed_texts(texts).await)
    }

    /// EfficientNet-Lite0 pooled features (1280-d) and ImageNet logits of one photo.
    pub(super) async fn embed_image(&self, bytes: &[u8]) -> Result<(Vec<f32>, Vec<f32>)> {
        on_device!(self, d => d.embed_image(bytes).await)
    }

    /// The personal adaptor fitted by autodiff on this device.
    pub(super) async fn fit_adaptor(
        &self,
        theta0: &[f32],
        pairs: &Pairs,
        config: &PersonalizeConfig,
        on_step: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        on_device!(self, d => d.fit_adaptor(theta0, pairs, config, on_step).await)
    }
}
