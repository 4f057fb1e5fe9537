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
//! - **Limits**: every frame the decoders allocate is checked against [`frame_limits`] (sides up
//!   to 16,384 pixels, 512 MiB per frame, the `image` crate's default budget): a GIF whose
//!   logical screen claims 65,535 × 65,535 is `BAD_IMAGE`, not a 17 GB allocation. Stills go
//!   through `image::load_from_memory`, which applies the same default budget.
//! - **Pooling**: the mean of the frames' pooled features — order-free; a one-frame clip is
//!   exactly its frame's image vector, and a clip of one repeated frame is it up to float
//!   rounding, so video and photo items share one space.

use std::io::Cursor;

use burn::tensor::backend::Backend;
use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, DynamicImage, Frames, ImageDecoder, ImageFormat, Limits, RgbImage};

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

/// Longest side of a clip's frames, in pixels.
pub const MAX_SIDE: u32 = 16_384;

/// What a clip decoder may allocate: sides up to [`MAX_SIDE`], and the `image` crate's default
/// budget (512 MiB) per frame.
pub fn frame_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits
}

/// The clip's frames as an iterator, or `None` for a still image.
fn frames(bytes: &[u8]) -> Result<Option<Frames<'_>>> {
    let bad = |e: image::ImageError| Error::Image(e.to_string());
    let format = image::guess_format(bytes).map_err(bad)?;
    Ok(match format {
        ImageFormat::Gif => {
            let mut d = GifDecoder::new(Cursor::new(bytes)).map_err(bad)?;
            d.set_limits(frame_limits()).map_err(bad)?;
            Some(d.into_frames())
        }
        ImageFormat::Png => {
            let mut d = PngDecoder::new(Cursor::new(bytes)).map_err(bad)?;
            d.set_limits(frame_limits()).map_err(bad)?;
            match d.is_apng().map_err(bad)? {
                true => Some(d.apng().map_err(bad)?.into_frames()),
                false => None,
            }
        }
        ImageFormat::WebP => {
            let mut d = WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
            d.set_limits(frame_limits()).map_err(bad)?;
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

#[cfg(test)]
mod limit_tests {
    use super::*;

    /// A one-pixel GIF whose logical screen claims `w × h` (every frame is a screen-sized canvas).
    fn gif_claiming(w: u16, h: u16) -> Vec<u8> {
        let mut b = b"GIF89a".to_vec();
        b.extend(w.to_le_bytes());
        b.extend(h.to_le_bytes());
        b.extend([0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]); // 2-colour global table
        b.extend([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b]);
        b
    }

    #[test]
    fn a_clip_claiming_a_huge_screen_is_refused_before_allocating() {
        assert_eq!(sample_frames(&gif_claiming(1, 1), 8).unwrap().len(), 1);
        for (w, h) in [(65_535, 65_535), (20_000, 2)] {
            match sample_frames(&gif_claiming(w, h), 8) {
                Err(Error::Image(_)) => {}
                other => panic!("{w}×{h}: {:?}", other.map(|f| f.len())),
            }
        }
    }
}
