//! Video items: frames sampled from a clip, each encoded by the image encoder (EfficientNet-Lite0),
//! pooled over time into one 1280-d vector.
//!
//! - **Decoding**: animated GIF, APNG and animated WebP through the `image` crate (already a
//!   dependency, pure Rust, runs in the browser too); a still image is a one-frame clip. Codec
//!   video (H.264/VP9 in MP4/WebM) needs a native decoder library (ffmpeg, openh264) that does not
//!   build for wasm32: for those, callers pass the frames they extracted ([`encode_frames`]), as
//!   a page can with `<video>` + canvas.
//! - **Sampling**: `n` frames at the centres of `n` equal segments of the clip (uniform
//!   sampling, as TSN and most clip encoders do), so a long clip costs what a short one does.
//!   Frames are counted in one decoding pass and only the sampled ones are kept in a second, so
//!   memory holds `n` frames whatever the clip's length.
//! - **Pooling**: the mean of the frames' pooled features — order-free; a one-frame clip is
//!   exactly its frame's image vector, and a clip of one repeated frame is it up to float
//!   rounding, so video and photo items share one space.

use std::io::Cursor;

use burn::tensor::backend::Backend;
use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, DynamicImage, Frames, ImageFormat, RgbImage};

use super::image::decode_rgb;
use super::ImageEncoder;
use crate::error::{Error, Result};

/// Frames sampled from a clip unless the caller says otherwise.
pub const DEFAULT_FRAMES: usize = 8;
/// Longest clip decoded (frames): beyond it, give sampled frames instead.
pub const MAX_FRAMES: usize = 20_000;

/// The indices of `n` frames of a clip of `len`: the centres of `n` equal segments (every frame
/// once when `n ≥ len`).
pub fn sample_indices(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| ((2 * i + 1) * len) / (2 * n)).collect()
}

/// The clip's frames as an iterator, or `None` for a still image.
fn frames(bytes: &[u8]) -> Result<Option<Frames<'_>>> {
    let bad = |e: image::ImageError| Error::Image(e.to_string());
    let format = image::guess_format(bytes).map_err(bad)?;
    Ok(match format {
        ImageFormat::Gif => Some(
            GifDecoder::new(Cursor::new(bytes))
                .map_err(bad)?
                .into_frames(),
        ),
        ImageFormat::Png => {
            let d = PngDecoder::new(Cursor::new(bytes)).map_err(bad)?;
            match d.is_apng().map_err(bad)? {
                true => Some(d.apng().map_err(bad)?.into_frames()),
                false => None,
            }
        }
        ImageFormat::WebP => {
            let d = WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
            match d.has_animation() {
                true => Some(d.into_frames()),
                false => None,
            }
        }
        _ => None,
    })
}

/// Decodes `n` uniformly sampled frames of an animated GIF, APNG or WebP (a still image: its one
/// frame) to RGB. A clip with no frame or more than [`MAX_FRAMES`] is `BAD_IMAGE`.
pub fn sample_frames(bytes: &[u8], n: usize) -> Result<Vec<RgbImage>> {
    if n == 0 {
        return Err(Error::Config("sample at least one frame".into()));
    }
    let Some(counting) = frames(bytes)? else {
        return Ok(vec![decode_rgb(bytes)?]);
    };
    let mut len = 0usize;
    for frame in counting {
        frame.map_err(|e| Error::Image(format!("frame {len}: {e}")))?;
        len += 1;
        if len > MAX_FRAMES {
            return Err(Error::Image(format!(
                "clip longer than {MAX_FRAMES} frames: pass sampled frames instead"
            )));
        }
    }
    if len == 0 {
        return Err(Error::Image("the clip has no frames".into()));
    }
    let wanted = sample_indices(len, n);
    let mut out = Vec::with_capacity(wanted.len());
    let mut next = wanted.iter().peekable();
    for (i, frame) in frames(bytes)?.into_iter().flatten().enumerate() {
        if next.peek() == Some(&&i) {
            let frame = frame.map_err(|e| Error::Image(format!("frame {i}: {e}")))?;
            out.push(DynamicImage::ImageRgba8(frame.into_buffer()).to_rgb8());
            next.next();
        }
        if next.peek().is_none() {
            break;
        }
    }
    Ok(out)
}

/// The mean of the frames' image vectors (`encoder.dim()` wide). No frame is `BAD_IMAGE`.
pub fn encode_frames<B: Backend>(
    encoder: &ImageEncoder<B>,
    frames: &[RgbImage],
) -> Result<Vec<f32>> {
    if frames.is_empty() {
        return Err(Error::Image("no frames to encode".into()));
    }
    let features = encoder.encode_rgb(frames)?;
    let d = encoder.dim();
    let mut mean = vec![0.0f32; d];
    for row in features.pooled.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    let n = frames.len() as f32;
    mean.iter_mut().for_each(|m| *m /= n);
    Ok(mean)
}

/// A clip's vector: `n` sampled frames ([`sample_frames`]) encoded and mean-pooled.
pub fn encode_clip<B: Backend>(
    encoder: &ImageEncoder<B>,
    bytes: &[u8],
    n: usize,
) -> Result<Vec<f32>> {
    encode_frames(encoder, &sample_frames(bytes, n)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_sampling_takes_segment_centres() {
        assert_eq!(sample_indices(10, 4), [1, 3, 6, 8]);
        assert_eq!(sample_indices(3, 8), [0, 1, 2]);
        assert_eq!(sample_indices(100, 1), [50]);
        assert!(sample_indices(0, 4).is_empty());
    }

    #[test]
    fn bad_bytes_are_image_errors() {
        assert!(matches!(
            sample_frames(b"not a clip", 4),
            Err(Error::Image(_))
        ));
        assert!(matches!(sample_frames(b"GIF89a", 0), Err(Error::Config(_))));
        // A truncated GIF: a header and nothing else.
        assert!(matches!(
            sample_frames(b"GIF89a\x01\x00", 4),
            Err(Error::Image(_))
        ));
    }
}
