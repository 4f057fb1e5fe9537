//! Text encoder: all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) implemented with burn, tokenised by
//! the `tokenizers` crate, mean-pooled over real tokens and L2-normalised — the
//! sentence-transformers recipe, so our vectors match the published model's.
//!
//! The tokenizer.json shipped with the model pads and truncates to 128 tokens; we turn padding
//! off (batches are padded here, with pads masked out of attention *and* of the mean) and truncate
//! at 256 tokens, sentence-transformers' limit for this model.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::io::{read_safetensors_f32, Weights};

/// Shape of the network (all-MiniLM-L6-v2's values by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniLmConfig {
    pub vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_positions: usize,
}

impl Default for MiniLmConfig {
    fn default() -> Self {
        Self {
            vocab: 30522,
            hidden: 384,
            layers: 6,
            heads: 12,
            intermediate: 1536,
            max_positions: 512,
        }
    }
}

/// Longest input in tokens (with [CLS] and [SEP]).
pub const MAX_TOKENS: usize = 256;
const LAYER_NORM_EPS: f64 = 1e-12;

#[derive(Module, Debug)]
struct BertLayer<B: Backend> {
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    attention_out: Linear<B>,
    attention_norm: LayerNorm<B>,
    intermediate: Linear<B>,
    output: Linear<B>,
    output_norm: LayerNorm<B>,
}

/// The BERT encoder of MiniLM.
#[derive(Module, Debug)]
pub struct MiniLm<B: Backend> {
    word: Param<Tensor<B, 2>>,
    position: Param<Tensor<B, 2>>,
    token_type: Param<Tensor<B, 2>>,
    embedding_norm: LayerNorm<B>,
    layers: Vec<BertLayer<B>>,
    heads: usize,
}

/// Builds burn parameters from MiniLM's named tensors (see [`Weights`]).
struct WeightSource {
    weights: Weights,
}

impl WeightSource {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        self.weights.take(name, shape)
    }

    fn param2<B: Backend>(
        &mut self,
        name: &str,
        shape: [usize; 2],
        device: &B::Device,
    ) -> Result<Param<Tensor<B, 2>>> {
        let data = self.take(name, &shape)?;
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(data, shape),
            device,
        )))
    }

    fn param1<B: Backend>(
        &mut self,
        name: &str,
        n: usize,
        device: &B::Device,
    ) -> Result<Param<Tensor<B, 1>>> {
        let data = self.take(name, &[n])?;
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(data, [n]),
            device,
        )))
    }

    /// A PyTorch `nn.Linear` (weight `[out, in]`) as a burn `Linear` (weight `[in, out]`).
    fn linear<B: Backend>(
        &mut self,
        name: &str,
        d_in: usize,
        d_out: usize,
        device: &B::Device,
    ) -> Result<Linear<B>> {
        let mut transposed = self
            .weights
            .linear_pt(&format!("{name}.weight"), d_in, d_out)?;
        if panel_weights::<B>(d_out) {
            transposed = crate::kernels::pack_panels(&transposed, d_in);
        }
        let mut linear = LinearConfig::new(d_in, d_out).init(device);
        linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(transposed, [d_in, d_out]),
            device,
        ));
        linear.bias = Some(self.param1(&format!("{name}.bias"), d_out, device)?);
        Ok(linear)
    }

    fn layer_norm<B: Backend>(
        &mut self,
        name: &str,
        d: usize,
        device: &B::Device,
    ) -> Result<LayerNorm<B>> {
        let mut norm = LayerNormConfig::new(d)
            .with_epsilon(LAYER_NORM_EPS)
            .init(device);
        norm.gamma = self.param1(&format!("{name}.weight"), d, device)?;
        norm.beta = Some(self.param1(&format!("{name}.bias"), d, device)?);
        Ok(norm)
    }
}

impl<B: Backend> MiniLm<B> {
    /// Loads the network from the model's `model.safetensors` bytes.
    pub fn from_safetensors(
        bytes: &[u8],
        config: MiniLmConfig,
        device: &B::Device,
    ) -> Result<Self> {
        let mut weights = Weights::new(read_safetensors_f32(bytes)?, "MiniLM");
        if weights.contains("bert.embeddings.word_embeddings.weight") {
            weights.set_prefix("bert");
        }
        let mut w = WeightSource { weights };
        let (h, c) = (config.hidden, config);
        let word = w.param2("embeddings.word_embeddings.weight", [c.vocab, h], device)?;
        let position = w.param2(
            "embeddings.position_embeddings.weight",
            [c.max_positions, h],
            device,
        )?;
        let token_type = w.param2("embeddings.token_type_embeddings.weight", [2, h], device)?;
        let embedding_norm = w.layer_norm("embeddings.LayerNorm", h, device)?;
        let layers = (0..c.layers)
            .map(|l| {
                let p = format!("encoder.layer.{l}");
                Ok(BertLayer {
                    query: w.linear(&format!("{p}.attention.self.query"), h, h, device)?,
                    key: w.linear(&format!("{p}.attention.self.key"), h, h, device)?,
                    value: w.linear(&format!("{p}.attention.self.value"), h, h, device)?,
                    attention_out: w.linear(
                        &format!("{p}.attention.output.dense"),
                        h,
                        h,
                        device,
                    )?,
                    attention_norm: w.layer_norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        h,
                        device,
                    )?,
                    intermediate: w.linear(
                        &format!("{p}.intermediate.dense"),
                        h,
                        c.intermediate,
                        device,
                    )?,
                    output: w.linear(&format!("{p}.output.dense"), c.intermediate, h, device)?,
                    output_norm: w.layer_norm(&format!("{p}.output.LayerNorm"), h, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            heads: c.heads,
        })
    }

    /// Sentence embeddings `[batch, hidden]` (mean over real tokens, L2-normalised) of padded
    /// token ids `[batch, tokens]` with `mask` 1.0 for real tokens and 0.0 for padding.
    pub fn embed(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let [b, t] = ids.dims();
        let h = self.word.val().dims()[1];
        let words = self
            .word
            .val()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, h]);
        let positions = self.position.val().narrow(0, 0, t).unsqueeze_dim::<3>(0);
        let types = self.token_type.val().narrow(0, 0, 1).unsqueeze_dim::<3>(0);
        // Token rows `[batch × tokens, hidden]`: every linear layer is then one matrix product
        // over the whole batch (a 3-d input would be one small product per text, each packing
        // the weights again).
        let mut x = self
            .embedding_norm
            .forward(words + positions + types)
            .reshape([b * t, h]);

        // Additive attention mask: 0 for tokens, a large negative number for padding.
        let bias = (mask.clone() - 1.0).mul_scalar(1e9).reshape([b, 1, 1, t]);
        let (nh, hd) = (self.heads, h / self.heads);
        let split = |y: Tensor<B, 2>| y.reshape([b, t, nh, hd]).swap_dims(1, 2);
        let scale = 1.0 / (hd as f64).sqrt();
        for layer in &self.layers {
            let q = split(linear(&layer.query, x.clone()).mul_scalar(scale));
            let k = split(linear(&layer.key, x.clone()));
            let v = split(linear(&layer.value, x.clone()));
            let scores = q.matmul(k.swap_dims(2, 3)) + bias.clone();
            let context = softmax(scores, 3)
                .matmul(v)
                .swap_dims(1, 2)
                .reshape([b * t, h]);
            x = layer
                .attention_norm
                .forward(x + linear(&layer.attention_out, context));
            let hidden = gelu_erf(linear(&layer.intermediate, x.clone()));
            x = layer.output_norm.forward(x + linear(&layer.output, hidden));
        }
        let x = x.reshape([b, t, h]);

        let m = mask.reshape([b, t, 1]);
        let summed = (x * m.clone()).sum_dim(1).reshape([b, h]);
        let counts = m.sum_dim(1).reshape([b, 1]).clamp_min(1.0);
        let mean = summed / counts;
        let norm = mean
            .clone()
            .powi_scalar(2)
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-12);
        mean / norm
    }
}

/// GELU in its exact erf form. On the CPU backend (Flex), whose GELU calls a scalar erf per
/// value, it runs on the host instead: [`erf_f32`] has no branches or calls (natively it
/// vectorises and the rows are shared over the rayon threads). On WebGPU it is the backend's own
/// GELU.
fn gelu_erf<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    if std::any::TypeId::of::<B>() == std::any::TypeId::of::<burn::backend::Flex>() {
        let (device, dims) = (x.device(), x.dims());
        if let Ok(mut v) = x.clone().into_data().into_vec::<f32>() {
            let gelu = |chunk: &mut [f32]| {
                for y in chunk {
                    *y = 0.5 * *y * (1.0 + erf_f32(*y * std::f32::consts::FRAC_1_SQRT_2));
                }
            };
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                v.par_chunks_mut(16 * 1024).for_each(gelu);
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            {
                let mut chunks = v.chunks_exact_mut(4);
                for c in &mut chunks {
                    // Safety: `c` holds 4 floats.
                    unsafe { simd128::gelu4(c) };
                }
                gelu(chunks.into_remainder());
            }
            #[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
            gelu(&mut v);
            return Tensor::from_data(TensorData::new(v, dims), &device);
        }
    }
    gelu(x)
}

/// A linear layer on token rows `[rows, d_in]`. In the browser on the CPU backend (Flex in
/// wasm) it is [`crate::kernels::linear_panels`] on the tensors' own storage, the weights packed
/// once at load ([`panel_weights`]): gemm's SIMD128 kernel, reading them as stored, was about
/// half as fast there. Elsewhere —
/// natively, where Flex's gemm has AVX kernels and threads, and on WebGPU — burn's `Linear`.
fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    #[cfg(target_arch = "wasm32")]
    if let Some(y) = flex_host::linear(layer, &x) {
        return y;
    }
    assert!(
        !panel_weights::<B>(layer.weight.dims()[1]),
        "MiniLM's panel-ordered weights can only go through kernels::linear_panels"
    );
    layer.forward(x)
}

/// Whether MiniLM's linear weights of `d_out` columns are stored in
/// [`crate::kernels::pack_panels`]'s order (the same shape, values permuted): in wasm on the CPU
/// backend, where [`linear`] always reads them with [`crate::kernels::linear_panels`], and only
/// there (burn's `Linear` would compute garbage from them).
fn panel_weights<B: Backend>(d_out: usize) -> bool {
    cfg!(target_arch = "wasm32")
        && d_out % 8 == 0
        && std::any::TypeId::of::<B>() == std::any::TypeId::of::<burn::backend::Flex>()
}

/// Flex tensors in wasm read and made in place (no copy of the weights).
#[cfg(target_arch = "wasm32")]
mod flex_host {
    use std::any::Any;

    use burn::backend::Flex;
    use burn::nn::Linear;
    use burn::tensor::backend::Backend;
    use burn::tensor::{Tensor, TensorData, TensorPrimitive};
    use burn_flex::FlexTensor;

    /// The Flex tensor under `t` (a cheap clone: storage is shared), when `B` is Flex.
    fn flex<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
        let any: Box<dyn Any> = Box::new(t.clone());
        let t = any.downcast::<Tensor<Flex, D>>().ok()?;
        let t = t.into_primitive().tensor();
        Some(if t.is_contiguous() {
            t
        } else {
            t.to_contiguous()
        })
    }

    pub(super) fn linear<B: Backend>(layer: &Linear<B>, x: &Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        let [rows, k] = x.dims();
        let (x, w) = (flex(x)?, flex(&layer.weight.val())?);
        let b = flex(&layer.bias.as_ref()?.val())?;
        let (x, w, b) = (
            x.as_slice::<f32>()?,
            w.as_slice::<f32>()?,
            b.as_slice::<f32>()?,
        );
        let n = b.len();
        if w.len() != k * n {
            return None;
        }
        let mut out = vec![0.0f32; rows * n];
        match super::panel_weights::<B>(n) {
            true => crate::kernels::linear_panels(x, w, b, k, &mut out),
            false => crate::kernels::linear(x, w, b, k, &mut out),
        }
        let y = Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(FlexTensor::from_data(
            TensorData::new(out, [rows, n]),
        )));
        let any: Box<dyn Any> = Box::new(y);
        any.downcast::<Tensor<B, 2>>().ok().map(|y| *y)
    }
}

/// erf in f32 without branches or calls (so that loops over it vectorise): the rational
/// approximation Eigen and XLA use for float, `x·P(x²)/Q(x²)` on x clamped to [−4, 4]; its error
/// is below 5e-7 (a few float ulps) on the whole line.
fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ERF_P[0];
    for c in &ERF_P[1..] {
        p = p * x2 + c;
    }
    let mut q = ERF_Q[0];
    for c in &ERF_Q[1..] {
        q = q * x2 + c;
    }
    x * p / q
}

/// [`erf_f32`]'s numerator and denominator coefficients, highest power of x² first.
const ERF_P: [f32; 7] = [
    -2.726_142_4e-10,
    2.770_681_5e-8,
    -2.101_024e-6,
    -5.692_506_2e-5,
    -7.349_906_4e-4,
    -2.954_6e-3,
    -1.609_603_3e-2,
];
const ERF_Q: [f32; 5] = [
    -1.456_607_15e-5,
    -2.133_740_5e-4,
    -1.682_827e-3,
    -7.373_329_3e-3,
    -1.426_473_9e-2,
];

/// [`erf_f32`]'s GELU four lanes at a time in wasm (LLVM leaves the loop scalar at the browser
/// build's size optimisation): each lane does the scalar code's operations in its order, so the
/// values are the same.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    /// Safety: `y` holds at least 4 floats.
    #[inline(always)]
    pub(super) unsafe fn gelu4(y: &mut [f32]) {
        let v = v128_load(y.as_ptr() as *const v128);
        let x = f32x4_mul(v, f32x4_splat(std::f32::consts::FRAC_1_SQRT_2));
        let x = f32x4_min(f32x4_max(x, f32x4_splat(-4.0)), f32x4_splat(4.0));
        let x2 = f32x4_mul(x, x);
        let mut p = f32x4_splat(super::ERF_P[0]);
        for &c in &super::ERF_P[1..] {
            p = f32x4_add(f32x4_mul(p, x2), f32x4_splat(c));
        }
        let mut q = f32x4_splat(super::ERF_Q[0]);
        for &c in &super::ERF_Q[1..] {
            q = f32x4_add(f32x4_mul(q, x2), f32x4_splat(c));
        }
        let erf = f32x4_div(f32x4_mul(x, p), q);
        let half_y = f32x4_mul(f32x4_splat(0.5), v);
        let out = f32x4_mul(half_y, f32x4_add(f32x4_splat(1.0), erf));
        v128_store(y.as_mut_ptr() as *mut v128, out);
    }
}

/// Tokenizer + network: text in, unit vectors out.
pub struct TextEncoder<B: Backend> {
    tokenizer: Tokenizer,
    model: MiniLm<B>,
    device: B::Device,
}

/// Token ids and mask of a padded batch.
pub struct TokenBatch {
    pub ids: Vec<i64>,
    pub mask: Vec<f32>,
    pub batch: usize,
    pub tokens: usize,
}

impl<B: Backend> TextEncoder<B> {
    /// From the bytes of `tokenizer.json` and `model.safetensors`.
    pub fn from_bytes(
        tokenizer_json: &[u8],
        safetensors: &[u8],
        device: &B::Device,
    ) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json)
            .map_err(|e| Error::Weights(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| Error::Weights(format!("tokenizer truncation: {e}")))?;
        let model = MiniLm::from_safetensors(safetensors, MiniLmConfig::default(), device)?;
        Ok(Self {
            tokenizer,
            model,
            device: device.clone(),
        })
    }

    /// Token ids of one text, with [CLS] and [SEP].
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Data(format!("tokenizing '{text}': {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Pads the token ids of `texts` into one batch.
    pub fn tokenize(&self, texts: &[&str]) -> Result<TokenBatch> {
        let rows = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        Ok(Self::pad(&rows))
    }

    /// Pads rows of token ids (from [`TextEncoder::token_ids`]) into one batch, as long as its
    /// longest row.
    pub fn pad(rows: &[&[u32]]) -> TokenBatch {
        let tokens = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; rows.len() * tokens];
        let mut mask = vec![0.0f32; rows.len() * tokens];
        for (r, row) in rows.iter().enumerate() {
            for (c, &id) in row.iter().enumerate() {
                ids[r * tokens + c] = i64::from(id);
                mask[r * tokens + c] = 1.0;
            }
        }
        TokenBatch {
            ids,
            mask,
            batch: rows.len(),
            tokens,
        }
    }

    /// Embeddings `[texts, 384]` as a tensor on the encoder's device (read it back with
    /// `into_data_async` in the browser).
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor<B, 2>> {
        Ok(self.embed_batch(self.tokenize(texts)?))
    }

    /// Embeddings `[batch, 384]` of a padded batch (see [`TextEncoder::pad`]).
    pub fn embed_batch(&self, batch: TokenBatch) -> Tensor<B, 2> {
        let shape = [batch.batch, batch.tokens];
        let ids = Tensor::from_data(TensorData::new(batch.ids, shape), &self.device);
        let mask = Tensor::from_data(TensorData::new(batch.mask, shape), &self.device);
        self.model.embed(ids, mask)
    }

    pub fn dim(&self) -> usize {
        MiniLmConfig::default().hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vectorisable_erf_matches_libm() {
        let mut worst = 0.0f32;
        for i in -80_000..=80_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf_f32(x) - libm::erff(x)).abs());
        }
        assert!(worst < 1e-6, "max |erf_f32 − erff| = {worst}");
        assert_eq!((erf_f32(-30.0), erf_f32(30.0)), (-1.0, 1.0));
    }
}
