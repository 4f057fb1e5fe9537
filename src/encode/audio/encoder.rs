//! The audio encoder: a small 2-D convolutional network over log-mel spectrograms
//! `[batch, 1, n_mels, frames]` that maps clips of any length to one `dim`-vector.
//!
//! Three blocks of 3×3 convolution → batch norm → ReLU → 2×2 max-pool, then the mean over
//! frequency, mean- and max-pooling over (valid) time, and a linear map to `dim`. Log-mel input
//! is shifted so that digital silence is 0: the convolutions' zero padding, and the zeros that
//! pad shorter clips in a batch, then read as silence. Activations past each clip's end are
//! zeroed after every block, so in inference a clip's vector does not depend on what it is
//! batched with (in training, batch norm's batch statistics do include the padding).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::mel::{FrameMatrix, LOG_FLOOR};
use crate::error::{Error, Result};

const BLOCKS: usize = 3;
/// Shortest clip in frames: each block halves time. Shorter clips are padded with silence.
pub const MIN_FRAMES: usize = 1 << BLOCKS;
/// Scale applied to `log-mel − ln(1e-6)` (which spans about 0–20 on real audio).
const INPUT_SCALE: f64 = 0.25;

/// Shape of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioEncoderConfig {
    pub n_mels: usize,
    /// Output channels of the three convolution blocks.
    pub channels: [usize; BLOCKS],
    pub dim: usize,
}

impl Default for AudioEncoderConfig {
    fn default() -> Self {
        Self {
            n_mels: 96,
            channels: [16, 32, 64],
            dim: 128,
        }
    }
}

impl AudioEncoderConfig {
    /// A freshly initialised encoder (burn's default initialisation, seeded by `B::seed`).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<AudioEncoder<B>> {
        if self.n_mels < MIN_FRAMES || self.dim == 0 || self.channels.contains(&0) {
            return Err(Error::Config(format!(
                "audio encoder needs n_mels ≥ {MIN_FRAMES} and positive channels and dim, got {self:?}"
            )));
        }
        let mut input = 1;
        let blocks = self
            .channels
            .iter()
            .map(|&c| {
                let block = ConvBlock {
                    conv: Conv2dConfig::new([input, c], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device),
                    norm: BatchNormConfig::new(c).init(device),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                };
                input = c;
                block
            })
            .collect();
        Ok(AudioEncoder {
            blocks,
            out: LinearConfig::new(2 * input, self.dim).init(device),
            dim: self.dim,
        })
    }
}

#[derive(Module, Debug)]
struct ConvBlock<B: Backend> {
    conv: Conv2d<B>,
    norm: BatchNorm<B>,
    pool: MaxPool2d,
}

/// Log-mel spectrogram in, `dim`-vector out.
#[derive(Module, Debug)]
pub struct AudioEncoder<B: Backend> {
    blocks: Vec<ConvBlock<B>>,
    out: Linear<B>,
    dim: usize,
}

impl<B: Backend> AudioEncoder<B> {
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `mel [batch, 1, n_mels, T]` (log-mel as from [`super::MelSpectrogram::log_mel`]) with the
    /// number of real frames of each clip (`frames[i] ≤ T`) → `[batch, dim]`.
    pub fn forward(&self, mel: Tensor<B, 4>, frames: &[usize]) -> Tensor<B, 2> {
        let [batch, _, _, _] = mel.dims();
        assert_eq!(frames.len(), batch, "one frame count per clip");
        let valid: Vec<usize> = frames.iter().map(|f| (*f).max(MIN_FRAMES)).collect();
        let device = mel.device();
        let mut x = (mel - LOG_FLOOR.ln()) * INPUT_SCALE;
        x = x * time_mask::<B>(&valid, 0, &device).unsqueeze_dim::<4>(1);
        for (level, block) in self.blocks.iter().enumerate() {
            let h = relu(block.norm.forward(block.conv.forward(x)));
            x = block.pool.forward(h)
                * time_mask::<B>(&valid, level + 1, &device).unsqueeze_dim::<4>(1);
        }
        let [_, c, _, t] = x.dims();
        let per_time: Tensor<B, 3> = x.mean_dim(2).reshape([batch, c, t]);
        let mask = time_mask::<B>(&valid, BLOCKS, &device);
        let counts: Vec<f32> = valid.iter().map(|v| (v >> BLOCKS) as f32).collect();
        let counts = Tensor::<B, 1>::from_data(TensorData::new(counts, [batch]), &device)
            .reshape([batch, 1]);
        let mean = (per_time.clone() * mask).sum_dim(2).reshape([batch, c]) / counts;
        // Past-the-end positions are 0 and activations are ≥ 0 (ReLU, max-pool), so they never
        // win the max.
        let max = per_time.max_dim(2).reshape([batch, c]);
        self.out.forward(Tensor::cat(vec![mean, max], 1))
    }

    /// Encodes log-mel spectrograms of any lengths in one padded batch.
    pub fn embed(&self, clips: &[FrameMatrix], device: &B::Device) -> Result<Tensor<B, 2>> {
        let (mel, frames) = log_mel_batch::<B>(clips, device)?;
        Ok(self.forward(mel, &frames))
    }
}

/// `[batch, 1, T]` with 1 for the frames of each clip that are real at pooling `level`.
fn time_mask<B: Backend>(valid: &[usize], level: usize, device: &B::Device) -> Tensor<B, 3> {
    let t = valid.iter().max().copied().unwrap_or(0) >> level;
    let data: Vec<f32> = valid
        .iter()
        .flat_map(|v| (0..t).map(move |i| f32::from(u8::from(i < v >> level))))
        .collect();
    Tensor::from_data(TensorData::new(data, [valid.len(), 1, t]), device)
}

/// Stacks log-mel spectrograms into `[batch, 1, n_mels, T]`, padding shorter clips with
/// silence (`ln(1e-6)`) to the longest (at least [`MIN_FRAMES`]); returns the real lengths.
pub fn log_mel_batch<B: Backend>(
    clips: &[FrameMatrix],
    device: &B::Device,
) -> Result<(Tensor<B, 4>, Vec<usize>)> {
    let first = clips
        .first()
        .ok_or_else(|| Error::Audio("an empty batch of clips".into()))?;
    let rows = first.rows;
    if let Some(c) = clips.iter().find(|c| c.rows != rows) {
        return Err(Error::Audio(format!(
            "clips with {} and {} mel bands in one batch",
            rows, c.rows
        )));
    }
    let t = clips
        .iter()
        .map(|c| c.frames)
        .max()
        .unwrap_or(0)
        .max(MIN_FRAMES);
    let silence = LOG_FLOOR.ln() as f32;
    let mut data = vec![silence; clips.len() * rows * t];
    for (b, clip) in clips.iter().enumerate() {
        for r in 0..rows {
            let dst = (b * rows + r) * t;
            data[dst..dst + clip.frames]
                .copy_from_slice(&clip.values[r * clip.frames..(r + 1) * clip.frames]);
        }
    }
    let frames = clips.iter().map(|c| c.frames).collect();
    Ok((
        Tensor::from_data(TensorData::new(data, [clips.len(), 1, rows, t]), device),
        frames,
    ))
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;

    use super::*;

    fn clip(frames: usize, phase: f32) -> FrameMatrix {
        FrameMatrix {
            rows: 96,
            frames,
            values: (0..96 * frames)
                .map(|i| -8.0 + 4.0 * ((i as f32) * 0.37 + phase).sin())
                .collect(),
        }
    }

    #[test]
    fn output_shape_and_batch_independence() {
        let device = Default::default();
        Flex::seed(&device, 7);
        let enc = AudioEncoderConfig::default().init::<Flex>(&device).unwrap();
        let (short, long, tiny) = (clip(37, 0.0), clip(90, 1.0), clip(3, 2.0));
        let batch = enc
            .embed(&[short.clone(), long.clone(), tiny.clone()], &device)
            .unwrap();
        assert_eq!(batch.dims(), [3, 128]);
        let batch: Vec<f32> = batch.into_data().to_vec().unwrap();
        for (i, c) in [short, long, tiny].iter().enumerate() {
            let alone: Vec<f32> = enc
                .embed(std::slice::from_ref(c), &device)
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap();
            let diff = alone
                .iter()
                .zip(&batch[i * 128..(i + 1) * 128])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-5, "clip {i}: alone vs batched differ by {diff}");
        }
        // Different clips give different vectors.
        let d01 = (0..128)
            .map(|j| (batch[j] - batch[128 + j]).abs())
            .fold(0.0f32, f32::max);
        assert!(d01 > 1e-3);
    }

    #[test]
    fn batches_check_their_clips() {
        let device = Default::default();
        assert!(log_mel_batch::<Flex>(&[], &device).is_err());
        let odd = FrameMatrix {
            rows: 40,
            frames: 10,
            values: vec![0.0; 400],
        };
        assert!(log_mel_batch::<Flex>(&[clip(10, 0.0), odd], &device).is_err());
        let (t, frames) = log_mel_batch::<Flex>(&[clip(3, 0.0)], &device).unwrap();
        assert_eq!(t.dims(), [1, 1, 96, MIN_FRAMES]);
        assert_eq!(frames, [3]);
        assert!(AudioEncoderConfig {
            dim: 0,
            ..Default::default()
        }
        .init::<Flex>(&device)
        .is_err());
    }
}
