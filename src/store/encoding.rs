//! How a bundle's tensors are stored (format version 3): per tensor, f32, f16, or int8 with one
//! f32 scale per row, chosen by the bundle's [`Precision`] and the tensor's role.
//!
//! | tensor | f32 | f16 | int8 |
//! |---|---|---|---|
//! | catalog- or user-sized matrices (`[items or users, d]`: factors, catalog content) | f32 | f16 | i8 + per-row scale |
//! | item–item weights (`model.knn.similarities`) | f32 | f16 | f16 |
//! | item–item indices (`model.knn.neighbors`) | f32 (format 2) | u16 below 65,535 items, else u32 | same |
//! | content presence (`content.*.present`) | f32 | u8 | u8 |
//! | history ratings, when every one is 1 (implicit feedback) | stored | omitted | omitted |
//! | everything else (biases, network weights, history) | f32 / u32 | f32 / u32 | f32 / u32 |
//!
//! Why per row: an item vector's entries share a scale, different items do not (popular items'
//! factors are larger), so one scale per row keeps the relative error of every item's dot
//! products near 1/254 where one scale per tensor would crush small rows to zero. Symmetric
//! (no zero point): scores are dot products, and a zero point would add a per-row term to each.
//!
//! Reading decodes back to f32 once, so every scorer (native and browser, the same code) serves
//! exactly the decoded values: native/browser parity is unchanged by quantisation, and the
//! metrics in a quantised bundle's manifest are measured on the decoded model.

use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a bundle stores its catalog-sized tensors (`train --precision`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F16,
    Int8,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    /// The bundle format version written for this precision: the oldest that can hold it, so
    /// that f32 bundles stay readable by format-2 readers.
    pub fn format_version(&self) -> u32 {
        match self {
            Precision::F32 => 2,
            Precision::F16 | Precision::Int8 => 3,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "int8" => Ok(Self::Int8),
            other => Err(Error::Config(format!(
                "unknown precision '{other}' (expected f32, f16 or int8)"
            ))),
        }
    }
}

/// One tensor as written: name, dtype, shape, little-endian bytes.
pub(super) type Stored = (String, Dtype, Vec<usize>, Vec<u8>);

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

/// The sizes that make a matrix catalog- or user-sized.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rows {
    pub items: usize,
    pub users: usize,
}

const NEIGHBORS: &str = "model.knn.neighbors";
const SIMILARITIES: &str = "model.knn.similarities";
/// The model tensors stored compactly: one vector per item or per user (Mult-DAE's encoder has
/// one row per item too).
const CATALOG_MATRICES: [&str; 3] = [
    "model.item_factors",
    "model.user_factors",
    "model.dae.encoder.weight",
];
/// The companion tensor holding an int8 tensor's per-row scales.
pub(super) const SCALE_SUFFIX: &str = ".scale";

/// Encodes one f32 tensor for `precision`; returns one or two stored tensors.
pub(super) fn encode(
    name: String,
    shape: Vec<usize>,
    data: &[f32],
    precision: Precision,
    rows: Rows,
) -> Vec<Stored> {
    let f32s =
        |name, shape, data: &[f32]| (name, Dtype::F32, shape, le_bytes(data, f32::to_le_bytes));
    if precision == Precision::F32 {
        return vec![f32s(name, shape, data)];
    }
    if name == NEIGHBORS {
        // Indices arrive as f32 with −1 for padding (the in-memory weight map's convention).
        return vec![match rows.items < u16::MAX as usize {
            true => {
                let idx: Vec<u16> = data
                    .iter()
                    .map(|&v| if v < 0.0 { u16::MAX } else { v as u16 })
                    .collect();
                (name, Dtype::U16, shape, le_bytes(&idx, u16::to_le_bytes))
            }
            false => {
                let idx: Vec<u32> = data
                    .iter()
                    .map(|&v| if v < 0.0 { u32::MAX } else { v as u32 })
                    .collect();
                (name, Dtype::U32, shape, le_bytes(&idx, u32::to_le_bytes))
            }
        }];
    }
    if name.starts_with("content.") && name.ends_with(".present") {
        let flags: Vec<u8> = data.iter().map(|&p| u8::from(p != 0.0)).collect();
        return vec![(name, Dtype::U8, shape, flags)];
    }
    // By name, not by shape (a network weight may happen to have as many rows as the catalog).
    let catalog_sized = shape.len() == 2
        && (shape[0] == rows.items || shape[0] == rows.users)
        && (CATALOG_MATRICES.contains(&name.as_str()) || name.starts_with("content."));
    let f16s = |name, shape, data: &[f32]| {
        let bits: Vec<u16> = data
            .iter()
            .map(|&x| half::f16::from_f32(x).to_bits())
            .collect();
        (name, Dtype::F16, shape, le_bytes(&bits, u16::to_le_bytes))
    };
    match (precision, catalog_sized || name == SIMILARITIES) {
        (_, false) => vec![f32s(name, shape, data)],
        (Precision::F16, true) => vec![f16s(name, shape, data)],
        (_, true) if name == SIMILARITIES => vec![f16s(name, shape, data)],
        (_, true) => {
            let (q, scales) = quantize_rows(data, shape[1]);
            let scale_name = format!("{name}{SCALE_SUFFIX}");
            vec![
                (
                    name,
                    Dtype::I8,
                    shape.clone(),
                    q.iter().map(|&v| v as u8).collect(),
                ),
                f32s(scale_name, vec![shape[0]], &scales),
            ]
        }
    }
}

/// Symmetric per-row int8: `scale = max|x| / 127`, `q = round(x / scale)`.
pub fn quantize_rows(data: &[f32], width: usize) -> (Vec<i8>, Vec<f32>) {
    let width = width.max(1);
    let mut q = Vec::with_capacity(data.len());
    let mut scales = Vec::with_capacity(data.len() / width);
    for row in data.chunks(width) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        // Decoding gives a row whose largest magnitude is fl(127·scale), and encoding that row
        // again gives fl(fl(127·scale)/127) = scale (it did for 10⁷ random maxima), so a
        // decoded bundle written again is the same bytes (tested below).
        let scale = max / 127.0;
        scales.push(scale);
        q.extend(row.iter().map(|&x| match scale > 0.0 {
            true => (x / scale).round().clamp(-127.0, 127.0) as i8,
            false => 0,
        }));
    }
    (q, scales)
}

pub use crate::kernels::dequantize_rows;

/// Decodes a stored tensor that is not f32 back to the f32 values the in-memory weight map holds
/// (int8 tensors are decoded by the caller, which pairs them with their scales). `precision` is
/// the manifest's: a compact dtype in an f32 bundle is an error.
pub(super) fn decode(
    name: &str,
    dtype: Dtype,
    data: &[u8],
    precision: Precision,
) -> Result<Vec<f32>> {
    let bad = |why: &str| Err(Error::Bundle(format!("tensor {name}: {why}")));
    if precision == Precision::F32 {
        return bad(&format!("{dtype:?} in an f32 bundle"));
    }
    let words16 = || {
        data.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    };
    match dtype {
        Dtype::F16 if data.len() % 2 == 0 => {
            let values: Vec<f32> = words16()
                .map(|b| half::f16::from_bits(b).to_f32())
                .collect();
            match values.iter().position(|v| !v.is_finite()) {
                Some(at) => bad(&format!("non-finite value at index {at}")),
                None => Ok(values),
            }
        }
        Dtype::U16 if name == NEIGHBORS && data.len() % 2 == 0 => Ok(words16()
            .map(|i| if i == u16::MAX { -1.0 } else { f32::from(i) })
            .collect()),
        Dtype::U32 if name == NEIGHBORS && data.len() % 4 == 0 => Ok(data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .map(|i| if i == u32::MAX { -1.0 } else { i as f32 })
            .collect()),
        Dtype::U8 if name.starts_with("content.") && name.ends_with(".present") => {
            match data.iter().all(|&b| b <= 1) {
                true => Ok(data.iter().map(|&b| f32::from(b)).collect()),
                false => bad("presence flags must be 0 or 1"),
            }
        }
        _ => bad(&format!("unexpected dtype {dtype:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_rows_keep_each_rows_relative_error_small() {
        // A large row and a tiny one: per-row scales keep both.
        let data = [10.0, -5.0, 2.5, 0.001, -0.0005, 0.0];
        let (q, s) = quantize_rows(&data, 3);
        assert_eq!(q[..3], [127, -64, 32]);
        let back = dequantize_rows(&q, &s, 3);
        for (x, y) in data.iter().zip(&back) {
            assert!(
                (x - y).abs() <= x.abs().max(0.001) / 127.0 + 1e-9,
                "{x} vs {y}"
            );
        }
        // An all-zero row has scale 0 and decodes to zeros.
        let (q, s) = quantize_rows(&[0.0, 0.0], 2);
        assert_eq!((q, s.clone()), (vec![0, 0], vec![0.0]));
    }

    /// Encoding what decoding gave back reproduces the same bytes: a trained bundle's metrics,
    /// measured on the decoded model, are those of the files written from it.
    #[test]
    fn int8_encoding_is_idempotent() {
        let mut rng = crate::rng::SeededRng::new(9);
        for width in [1, 3, 64, 128] {
            for _ in 0..200 {
                let std = 10f64.powf(rng.unit_f64() * 8.0 - 4.0);
                let row = rng.normal_vec(width, std);
                let (q, s) = quantize_rows(&row, width);
                let back = dequantize_rows(&q, &s, width);
                let (q2, s2) = quantize_rows(&back, width);
                assert_eq!((&q, &s), (&q2, &s2), "width {width}, std {std}");
                assert_eq!(back, dequantize_rows(&q2, &s2, width));
            }
        }
    }

    #[test]
    fn roles_choose_the_encoding() {
        let rows = Rows { items: 3, users: 2 };
        let enc = |name: &str, shape: Vec<usize>, p| {
            let n = shape.iter().product();
            encode(name.into(), shape, &vec![0.5; n], p, rows)
                .into_iter()
                .map(|(n, d, _, _)| (n, d))
                .collect::<Vec<_>>()
        };
        let item_factors = || ("model.item_factors", vec![3, 4]);
        assert_eq!(
            enc(item_factors().0, item_factors().1, Precision::F32)[0].1,
            Dtype::F32
        );
        assert_eq!(
            enc(item_factors().0, item_factors().1, Precision::F16)[0].1,
            Dtype::F16
        );
        assert_eq!(
            enc(item_factors().0, item_factors().1, Precision::Int8),
            [
                ("model.item_factors".to_string(), Dtype::I8),
                ("model.item_factors.scale".to_string(), Dtype::F32)
            ]
        );
        // A network weight (not catalog-sized) stays f32; so do 1-d biases.
        assert_eq!(
            enc("model.fusion.weight", vec![4, 4], Precision::Int8)[0].1,
            Dtype::F32
        );
        assert_eq!(
            enc("model.item_bias", vec![3], Precision::Int8)[0].1,
            Dtype::F32
        );
        assert_eq!(
            enc(SIMILARITIES, vec![3, 2], Precision::Int8)[0].1,
            Dtype::F16
        );
        assert_eq!(enc(NEIGHBORS, vec![3, 2], Precision::F16)[0].1, Dtype::U16);
        assert_eq!(
            enc("content.text.present", vec![3], Precision::F16)[0].1,
            Dtype::U8
        );
    }

    #[test]
    fn decode_rejects_compact_dtypes_in_f32_bundles_and_bad_values() {
        let nan16 = half::f16::NAN.to_bits().to_le_bytes();
        assert!(decode("model.x", Dtype::F16, &nan16, Precision::F16).is_err());
        assert!(decode("model.x", Dtype::F16, &[0, 0], Precision::F32).is_err());
        assert!(decode("content.t.present", Dtype::U8, &[2], Precision::Int8).is_err());
        assert!(decode("model.other", Dtype::U16, &[0, 0], Precision::Int8).is_err());
        let idx = decode(NEIGHBORS, Dtype::U16, &[1, 0, 255, 255], Precision::Int8).unwrap();
        assert_eq!(idx, [1.0, -1.0]);
    }
}
