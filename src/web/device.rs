//! Device choice in the browser: WebGPU when the page has an adapter, else burn Flex on the CPU.
//! The adapter is requested here first because burn's own request panics when there is none.

use std::cell::Cell;

use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, WgpuDevice};
use burn::backend::{Flex, Wgpu};
use burn::tensor::{backend::Backend, Tensor};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::rank::DeviceScorer;
use crate::store::Bundle;

thread_local! {
    /// burn's WebGPU runtime is set up once per worker; later bundles reuse it.
    static WEBGPU_READY: Cell<bool> = const { Cell::new(false) };
}

pub(super) enum Scorer {
    WebGpu(Box<DeviceScorer<Wgpu>>),
    Cpu(DeviceScorer<Flex>),
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

async fn read<B: Backend>(scores: Tensor<B, 1>) -> Result<Vec<f32>> {
    scores
        .into_data_async()
        .await
        .map_err(|e| Error::Device(format!("reading scores failed: {e:?}")))?
        .to_vec()
        .map_err(|e| Error::Device(format!("unexpected score type: {e:?}")))
}

impl Scorer {
    pub(super) async fn new(bundle: &Bundle, device: &str) -> Result<Self> {
        let (model, n) = (&bundle.model, bundle.manifest.dims.items);
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
            return Ok(Scorer::Cpu(DeviceScorer::new(
                model,
                n,
                &Default::default(),
            )?));
        }
        let device = WgpuDevice::default();
        if !WEBGPU_READY.get() {
            init_setup_async::<WebGpu>(&device, Default::default()).await;
            WEBGPU_READY.set(true);
        }
        Ok(Scorer::WebGpu(Box::new(DeviceScorer::new(
            model, n, &device,
        )?)))
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Scorer::WebGpu(_) => "webgpu",
            Scorer::Cpu(_) => "cpu",
        }
    }

    /// Scores on the device, read back asynchronously (a synchronous read panics on WebGPU).
    pub(super) async fn scores(&self, items: &[u32], ratings: &[f32]) -> Result<Vec<f32>> {
        match self {
            Scorer::WebGpu(s) => read(s.scores(items, ratings)?).await,
            Scorer::Cpu(s) => read(s.scores(items, ratings)?).await,
        }
    }
}
