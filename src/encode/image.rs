//! Image encoder: EfficientNet-Lite0 (ImageNet, 4.7 M parameters) implemented with burn, loaded
//! from its legacy PyTorch checkpoint; a photo in, a 1280-d pooled vector and 1000 logits out.
//!
//! Lite0 is EfficientNet-B0 made for mobile: no squeeze-excitation, ReLU6 instead of swish, and
//! TensorFlow's SAME padding (stride-2 layers pad one more pixel on the bottom/right), which the
//! checkpoint — a conversion of the TensorFlow weights to the `_conv_stem`/`_blocks.N` naming of
//! EfficientNet-PyTorch — was trained with. Batch norm (eps 1e-3) is folded into the convolution
//! before it at load time: the encoder only runs inference, so each layer becomes one convolution
//! with bias, computed in f64 once instead of four extra tensor ops per layer on every call.
//!
//! Preprocessing is the TensorFlow Lite recipe: RGB, short side resized to 256 with a triangle
//! (bilinear, antialiased when shrinking) filter, centre crop 224, then (x − 127) / 128.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::PaddedConvOptions;
use burn::tensor::{Tensor, TensorData};
use image::imageops::FilterType;
use image::RgbImage;

use crate::error::{Error, Result};
use crate::io::pth::read_pth_f32;
use crate::io::{WeightMap, Weights};

/// Side of the square network input.
pub const INPUT_SIZE: usize = 224;
/// Short side of the photo before the centre crop.
pub const RESIZE_SHORT_SIDE: u32 = 256;
/// Width of the pooled feature vector.
pub const FEATURES: usize = 1280;
/// ImageNet classes.
pub const CLASSES: usize = 1000;

/// Longest side over shortest side accepted: the resize scales the long side too, so a
/// 1 × 100 000 strip would otherwise ask for a 256 × 25 600 000 image.
const MAX_ASPECT: u32 = 64;

const BN_EPS: f64 = 1e-3;
const STEM: usize = 32;
/// B0 stages: (repeats, kernel, first stride, expand ratio, output channels).
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
];

/// A convolution with its batch norm folded in, TF SAME padding.
#[derive(Module, Debug)]
struct ConvBn<B: Backend> {
    weight: Param<Tensor<B, 4>>,
    bias: Param<Tensor<B, 1>>,
    stride: usize,
    groups: usize,
}

impl<B: Backend> ConvBn<B> {
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, h, w] = x.dims();
        let [_, _, kh, kw] = self.weight.dims();
        let (top, bottom) = same_padding(h, kh, self.stride);
        let (left, right) = same_padding(w, kw, self.stride);
        let options = PaddedConvOptions::asymmetric(
            [self.stride; 2],
            [top, left],
            [bottom, right],
            [1, 1],
            self.groups,
        );
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// TensorFlow SAME padding of one axis: output `ceil(size / stride)`, the odd pixel at the end.
fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

fn relu6<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.clamp(0.0, 6.0)
}

/// Inverted residual block (MBConv) without squeeze-excitation.
#[derive(Module, Debug)]
struct MbConv<B: Backend> {
    expand: Option<ConvBn<B>>,
    depthwise: ConvBn<B>,
    project: ConvBn<B>,
    residual: bool,
}

impl<B: Backend> MbConv<B> {
    fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = match &self.expand {
            Some(expand) => relu6(expand.forward(input.clone())),
            None => input.clone(),
        };
        let x = self.project.forward(relu6(self.depthwise.forward(x)));
        if self.residual {
            x + input
        } else {
            x
        }
    }
}

/// The EfficientNet-Lite0 network.
#[derive(Module, Debug)]
pub struct EfficientNetLite0<B: Backend> {
    stem: ConvBn<B>,
    blocks: Vec<MbConv<B>>,
    head: ConvBn<B>,
    classifier: Linear<B>,
}

/// Takes named tensors out of a state dict, checking each shape.
struct StateDict {
    weights: Weights,
}

impl StateDict {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        self.weights.take(name, shape)
    }

    /// `conv` (no bias, PyTorch layout `[out, in / groups, k, k]`) followed by batch norm `bn`,
    /// folded into one convolution.
    fn conv_bn<B: Backend>(
        &mut self,
        conv: &str,
        bn: &str,
        [c_in, c_out, kernel, stride, groups]: [usize; 5],
        device: &B::Device,
    ) -> Result<ConvBn<B>> {
        let shape = [c_out, c_in / groups, kernel, kernel];
        let w = self.take(&format!("{conv}.weight"), &shape)?;
        let gamma = self.take(&format!("{bn}.weight"), &[c_out])?;
        let beta = self.take(&format!("{bn}.bias"), &[c_out])?;
        let mean = self.take(&format!("{bn}.running_mean"), &[c_out])?;
        let var = self.take(&format!("{bn}.running_var"), &[c_out])?;
        let per_out = w.len() / c_out;
        let mut weight = Vec::with_capacity(w.len());
        let mut bias = Vec::with_capacity(c_out);
        for o in 0..c_out {
            let scale = f64::from(gamma[o]) / (f64::from(var[o]) + BN_EPS).sqrt();
            weight.extend(
                w[o * per_out..(o + 1) * per_out]
                    .iter()
                    .map(|&x| (f64::from(x) * scale) as f32),
            );
            bias.push((f64::from(beta[o]) - f64::from(mean[o]) * scale) as f32);
        }
        Ok(ConvBn {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(weight, shape), device)),
            bias: Param::from_tensor(Tensor::from_data(TensorData::new(bias, [c_out]), device)),
            stride,
            groups,
        })
    }
}

impl<B: Backend> EfficientNetLite0<B> {
    /// Loads the network from the bytes of the legacy `.pth` checkpoint
    /// (`efficientnet-lite0-57934424.pth`). Every tensor's shape is checked, and tensors the
    /// network does not use (another EfficientNet's, say) are an error too.
    pub fn from_pth_bytes(bytes: &[u8], device: &B::Device) -> Result<Self> {
        Self::from_state_dict(read_pth_f32(bytes)?, device)
    }

    fn from_state_dict(tensors: WeightMap, device: &B::Device) -> Result<Self> {
        let mut sd = StateDict {
            weights: Weights::new(tensors, "EfficientNet-Lite0"),
        };
        let stem = sd.conv_bn("_conv_stem", "_bn0", [3, STEM, 3, 2, 1], device)?;
        let mut blocks = Vec::new();
        let mut c_in = STEM;
        for (repeats, kernel, first_stride, expand_ratio, c_out) in STAGES {
            for r in 0..repeats {
                let p = format!("_blocks.{}", blocks.len());
                let stride = if r == 0 { first_stride } else { 1 };
                let hidden = c_in * expand_ratio;
                let expand = if expand_ratio == 1 {
                    None
                } else {
                    Some(sd.conv_bn(
                        &format!("{p}._expand_conv"),
                        &format!("{p}._bn0"),
                        [c_in, hidden, 1, 1, 1],
                        device,
                    )?)
                };
                let depthwise = sd.conv_bn(
                    &format!("{p}._depthwise_conv"),
                    &format!("{p}._bn1"),
                    [hidden, hidden, kernel, stride, hidden],
                    device,
                )?;
                let project = sd.conv_bn(
                    &format!("{p}._project_conv"),
                    &format!("{p}._bn2"),
                    [hidden, c_out, 1, 1, 1],
                    device,
                )?;
                blocks.push(MbConv {
                    expand,
                    depthwise,
                    project,
                    residual: stride == 1 && c_in == c_out,
                });
                c_in = c_out;
            }
        }
        let head = sd.conv_bn("_conv_head", "_bn1", [c_in, FEATURES, 1, 1, 1], device)?;

        // PyTorch Linear weight [out, in] → burn [in, out].
        let transposed = sd.weights.linear_pt("_fc.weight", FEATURES, CLASSES)?;
        let bias = sd.take("_fc.bias", &[CLASSES])?;
        let mut classifier = LinearConfig::new(FEATURES, CLASSES).init(device);
        classifier.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(transposed, [FEATURES, CLASSES]),
            device,
        ));
        classifier.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [CLASSES]),
            device,
        )));

        let names: Vec<&str> = sd.weights.remaining().take(5).collect();
        if !names.is_empty() {
            return Err(Error::Weights(format!(
                "EfficientNet-Lite0 weights hold {} tensors it does not use, e.g. {}",
                sd.weights.remaining().count(),
                names.join(", ")
            )));
        }
        Ok(Self {
            stem,
            blocks,
            head,
            classifier,
        })
    }

    /// Pooled features `[n, 1280]` and logits `[n, 1000]` of normalised images `[n, 3, H, W]`
    /// (224 × 224 for the published accuracy; other sizes run too).
    pub fn forward(&self, images: Tensor<B, 4>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut x = relu6(self.stem.forward(images));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = relu6(self.head.forward(x));
        let [n, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([n, c]);
        let logits = self.classifier.forward(pooled.clone());
        (pooled, logits)
    }
}

/// Decodes a JPEG, PNG, WebP or GIF photo (format guessed from the bytes; an animation's first
/// frame) to 8-bit RGB.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    image::load_from_memory(bytes)
        .map(|img| img.to_rgb8())
        .map_err(|e| Error::Image(e.to_string()))
}

/// Resizes so that the short side is 256 (triangle filter) and cuts out the central 224 × 224.
pub fn resize_and_crop(rgb: &RgbImage) -> Result<RgbImage> {
    let (w, h) = rgb.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::Image("image has no pixels".into()));
    }
    let short = w.min(h);
    if w.max(h) / short > MAX_ASPECT {
        return Err(Error::Image(format!(
            "{w}×{h} is more elongated than {MAX_ASPECT}:1"
        )));
    }
    let scale = |long: u32| {
        let scaled = (u64::from(long) * u64::from(RESIZE_SHORT_SIDE) + u64::from(short) / 2)
            / u64::from(short);
        u32::try_from(scaled).map_err(|_| Error::Image(format!("image too elongated: {w}×{h}")))
    };
    let (nw, nh) = if w <= h {
        (RESIZE_SHORT_SIDE, scale(h)?)
    } else {
        (scale(w)?, RESIZE_SHORT_SIDE)
    };
    let resized = image::imageops::resize(rgb, nw, nh, FilterType::Triangle);
    let side = INPUT_SIZE as u32;
    let (x, y) = ((nw - side) / 2, (nh - side) / 2);
    Ok(image::imageops::crop_imm(&resized, x, y, side, side).to_image())
}

/// Channel-first floats `[3, H, W]`, (x − 127) / 128.
pub fn normalize(rgb: &RgbImage) -> Vec<f32> {
    let (w, h) = rgb.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, pixel) in rgb.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(pixel.0[c]) - 127.0) / 128.0;
        }
    }
    out
}

/// The network input `[3, 224, 224]` of one encoded photo.
pub fn preprocess(bytes: &[u8]) -> Result<Vec<f32>> {
    Ok(normalize(&resize_and_crop(&decode_rgb(bytes)?)?))
}

/// What [`ImageEncoder::encode`] returns: row-major `[count, 1280]` and `[count, 1000]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFeatures {
    pub count: usize,
    pub pooled: Vec<f32>,
    pub logits: Vec<f32>,
}

impl ImageFeatures {
    /// The highest-scoring ImageNet class of image `i` (panics unless `i < count`).
    pub fn top1(&self, i: usize) -> usize {
        let row = &self.logits[i * CLASSES..(i + 1) * CLASSES];
        (0..CLASSES)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0)
    }
}

/// Preprocessing + network: encoded photos in, features out.
pub struct ImageEncoder<B: Backend> {
    model: EfficientNetLite0<B>,
    device: B::Device,
}

impl<B: Backend> ImageEncoder<B> {
    /// From the bytes of the `.pth` checkpoint (what a browser fetches).
    pub fn from_pth_bytes(bytes: &[u8], device: &B::Device) -> Result<Self> {
        Ok(Self {
            model: EfficientNetLite0::from_pth_bytes(bytes, device)?,
            device: device.clone(),
        })
    }

    /// From a `.pth` file on disk.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_pth_file(path: &std::path::Path, device: &B::Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_pth_bytes(&bytes, device)
    }

    pub fn model(&self) -> &EfficientNetLite0<B> {
        &self.model
    }

    /// The preprocessed batch `[n, 3, 224, 224]` on the encoder's device (at least one image).
    pub fn batch(&self, images: &[&[u8]]) -> Result<Tensor<B, 4>> {
        if images.is_empty() {
            return Err(Error::Image("no images to encode".into()));
        }
        let mut data = Vec::with_capacity(images.len() * 3 * INPUT_SIZE * INPUT_SIZE);
        for bytes in images {
            data.extend(preprocess(bytes)?);
        }
        let shape = [images.len(), 3, INPUT_SIZE, INPUT_SIZE];
        Ok(Tensor::from_data(
            TensorData::new(data, shape),
            &self.device,
        ))
    }

    /// The preprocessed batch `[n, 3, 224, 224]` of decoded images (video frames).
    pub fn batch_rgb(&self, images: &[RgbImage]) -> Result<Tensor<B, 4>> {
        if images.is_empty() {
            return Err(Error::Image("no images to encode".into()));
        }
        let mut data = Vec::with_capacity(images.len() * 3 * INPUT_SIZE * INPUT_SIZE);
        for rgb in images {
            data.extend(normalize(&resize_and_crop(rgb)?));
        }
        let shape = [images.len(), 3, INPUT_SIZE, INPUT_SIZE];
        Ok(Tensor::from_data(
            TensorData::new(data, shape),
            &self.device,
        ))
    }

    /// [`ImageEncoder::encode`] of decoded images (synchronous: not for WebGPU).
    pub fn encode_rgb(&self, images: &[RgbImage]) -> Result<ImageFeatures> {
        let (pooled, logits) = self.model.forward(self.batch_rgb(images)?);
        Self::read_back(images.len(), pooled, logits)
    }

    fn read_back(
        count: usize,
        pooled: Tensor<B, 2>,
        logits: Tensor<B, 2>,
    ) -> Result<ImageFeatures> {
        let read = |t: Tensor<B, 2>| {
            t.into_data()
                .to_vec::<f32>()
                .map_err(|e| Error::Data(format!("reading encoder output: {e:?}")))
        };
        Ok(ImageFeatures {
            count,
            pooled: read(pooled)?,
            logits: read(logits)?,
        })
    }

    /// Pooled features and logits as tensors on the encoder's device (read them back with
    /// `into_data_async` in the browser).
    pub fn forward(&self, images: &[&[u8]]) -> Result<(Tensor<B, 2>, Tensor<B, 2>)> {
        Ok(self.model.forward(self.batch(images)?))
    }

    /// [`ImageEncoder::encode`] of `count` images already through [`preprocess`], their
    /// `[count, 3, 224, 224]` values concatenated (synchronous: not for WebGPU).
    pub fn encode_preprocessed(&self, values: Vec<f32>, count: usize) -> Result<ImageFeatures> {
        let shape = [count, 3, INPUT_SIZE, INPUT_SIZE];
        if count == 0 || values.len() != shape.iter().product::<usize>() {
            return Err(Error::Image(format!(
                "{} preprocessed values are not {count} images",
                values.len()
            )));
        }
        let input = Tensor::from_data(TensorData::new(values, shape), &self.device);
        let (pooled, logits) = self.model.forward(input);
        Self::read_back(count, pooled, logits)
    }

    /// Pooled features and logits read back to the host (synchronous: not for WebGPU).
    pub fn encode(&self, images: &[&[u8]]) -> Result<ImageFeatures> {
        if images.is_empty() {
            return Ok(ImageFeatures {
                count: 0,
                pooled: Vec::new(),
                logits: Vec::new(),
            });
        }
        let (pooled, logits) = self.forward(images)?;
        Self::read_back(images.len(), pooled, logits)
    }

    pub fn dim(&self) -> usize {
        FEATURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::pth::tests::legacy_checkpoint;
    use burn::backend::Flex;

    #[test]
    fn same_padding_puts_the_odd_pixel_last() {
        assert_eq!(same_padding(224, 3, 2), (0, 1));
        assert_eq!(same_padding(56, 5, 2), (1, 2));
        assert_eq!(same_padding(14, 5, 1), (2, 2));
        assert_eq!(same_padding(7, 1, 1), (0, 0));
        assert_eq!(same_padding(7, 3, 2), (1, 1));
    }

    #[test]
    fn undecodable_images_are_bad_image() {
        let png = {
            let mut out = std::io::Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 260, image::Rgb([9, 8, 7])))
                .write_to(&mut out, image::ImageFormat::Png)
                .unwrap();
            out.into_inner()
        };
        let input = preprocess(&png).unwrap();
        assert_eq!(input.len(), 3 * INPUT_SIZE * INPUT_SIZE);
        assert!((input[0] - (9.0 - 127.0) / 128.0).abs() < 1e-6);
        assert!((input[2 * INPUT_SIZE * INPUT_SIZE] - (7.0 - 127.0) / 128.0).abs() < 1e-6);

        let strip = {
            let mut out = std::io::Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(RgbImage::new(65 * 3, 3))
                .write_to(&mut out, image::ImageFormat::Png)
                .unwrap();
            out.into_inner()
        };
        for bad in [
            &png[..png.len() / 2],
            b"not an image at all".as_slice(),
            &[],
            &strip,
        ] {
            let err = preprocess(bad).unwrap_err();
            assert_eq!(err.code(), "BAD_IMAGE", "{err}");
        }
    }

    #[test]
    fn a_checkpoint_with_a_wrong_shape_is_rejected() {
        // The stem convolution as [32, 3, 5, 3] instead of [32, 3, 3, 3].
        let n = 32 * 3 * 5 * 3;
        let stride = [45, 15, 3, 1];
        let bytes = legacy_checkpoint("_conv_stem.weight", &[32, 3, 5, 3], &stride, &vec![0.5; n]);
        let err =
            EfficientNetLite0::<Flex>::from_pth_bytes(&bytes, &Default::default()).unwrap_err();
        assert_eq!(err.code(), "BAD_WEIGHTS");
        assert!(err.to_string().contains("_conv_stem.weight"), "{err}");
        assert!(err.to_string().contains("[32, 3, 5, 3]"), "{err}");

        let err =
            EfficientNetLite0::<Flex>::from_pth_bytes(b"\x80\x02garbage", &Default::default())
                .unwrap_err();
        assert_eq!(err.code(), "BAD_WEIGHTS");
    }
}
