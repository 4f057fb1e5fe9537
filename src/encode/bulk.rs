//! Whole catalogs through the pretrained encoders (`fusionrec encode`, and the `text` and `image`
//! modalities of training): batched so the network runs on many items at once, texts sorted by
//! length first so that a batch pads to little more than its own texts, rows returned in input
//! order.

use std::path::Path;

use burn::tensor::backend::Backend;

use super::{ImageEncoder, TextEncoder};
use crate::error::{Error, Result};

/// Embeddings of `texts`, row-major `[texts.len(), encoder.dim()]`, row `r` for `texts[r]`,
/// computed in batches of at most `batch` texts of similar token length (the same vectors as
/// [`TextEncoder::embed`] on each text alone, up to float rounding).
pub fn embed_texts<B: Backend>(
    encoder: &TextEncoder<B>,
    texts: &[&str],
    batch: usize,
) -> Result<Vec<f32>> {
    let rows = texts
        .iter()
        .map(|t| encoder.token_ids(t))
        .collect::<Result<Vec<_>>>()?;
    // Longest first: the first batch allocates the largest buffers, later ones reuse them.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
    let dim = encoder.dim();
    let mut out = vec![0.0f32; texts.len() * dim];
    for chunk in order.chunks(batch.max(1)) {
        let ids: Vec<&[u32]> = chunk.iter().map(|&i| rows[i].as_slice()).collect();
        let values = crate::device::read_floats(encoder.embed_batch(TextEncoder::<B>::pad(&ids)))?;
        for (&i, v) in chunk.iter().zip(values.chunks(dim)) {
            out[i * dim..(i + 1) * dim].copy_from_slice(v);
        }
    }
    Ok(out)
}

/// EfficientNet-Lite0 pooled features of the image files `paths`, row-major
/// `[paths.len(), encoder.dim()]`, in batches of `batch`. A file that cannot be read or decoded
/// is an error naming it.
pub fn embed_image_files<B: Backend>(
    encoder: &ImageEncoder<B>,
    paths: &[&Path],
    batch: usize,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(paths.len() * encoder.dim());
    for chunk in paths.chunks(batch.max(1)) {
        let mut values = Vec::new();
        for path in chunk {
            let bytes = std::fs::read(path).map_err(|e| Error::io(*path, e))?;
            let x = super::image::preprocess(&bytes)
                .map_err(|e| Error::Image(format!("{}: {e}", path.display())))?;
            values.extend(x);
        }
        out.extend(encoder.encode_preprocessed(values, chunk.len())?.pooled);
    }
    Ok(out)
}

/// Writes `values` (row-major, `dim` columns) as a 2-d little-endian f32 `.npy` — the format
/// `train --item-features NAME=FILE.npy[@IDS]` reads.
pub fn write_npy(path: &Path, values: &[f32], dim: usize) -> Result<()> {
    use npyz::WriterBuilder;
    if dim == 0 || values.len() % dim != 0 {
        return Err(Error::Data(format!(
            "{} values do not make rows of {dim}",
            values.len()
        )));
    }
    let io_err = |e| Error::io(path, e);
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err)?);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[(values.len() / dim) as u64, dim as u64])
        .writer(file)
        .begin_nd()
        .map_err(io_err)?;
    writer.extend(values.iter().copied()).map_err(io_err)?;
    writer.finish().map_err(io_err)
}
