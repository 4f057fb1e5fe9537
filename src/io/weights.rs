//! Named `f32` weight arrays and a candle-style reader over them.
//!
//! [`WeightMap`] is the form every model goes into and comes out of safetensors. [`Weights`] is
//! how a network is built from one: `pp("encoder.layer.0")` scopes names by a prefix,
//! `take(name, shape)` removes a tensor and checks its shape, `linear_pt` reads a PyTorch
//! `nn.Linear` weight (`[out, in]`) in burn's layout (`[in, out]`). Errors say which file kind
//! and which tensor, under the error variant the caller chose (a bundle's tensor is
//! `BUNDLE_INVALID`, an encoder's is `BAD_WEIGHTS`).

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// Named weight arrays with their shapes, row-major.
pub type WeightMap = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Every f32 tensor of a safetensors file by name, with its shape; other dtypes (such as int64
/// position ids) are left out.
pub fn read_safetensors_f32(bytes: &[u8]) -> Result<WeightMap> {
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| Error::Weights(format!("safetensors: {e}")))?;
    Ok(tensors
        .tensors()
        .into_iter()
        .filter(|(_, view)| view.dtype() == Dtype::F32)
        .map(|(name, view)| {
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (name, (view.shape().to_vec(), data))
        })
        .collect())
}

/// Removes `name` from `weights`, requiring exactly `shape`; `error` builds the error variant.
pub fn take_tensor(
    weights: &mut WeightMap,
    name: &str,
    shape: &[usize],
    error: impl Fn(String) -> Error,
) -> Result<Vec<f32>> {
    let (got, data) = weights
        .remove(name)
        .ok_or_else(|| error(format!("missing tensor '{name}'")))?;
    if got != shape || data.len() != shape.iter().product::<usize>() {
        return Err(error(format!(
            "tensor '{name}' has shape {got:?}, expected {shape:?}"
        )));
    }
    Ok(data)
}

/// A network's weights being consumed by name (see the module docs).
#[derive(Debug)]
pub struct Weights {
    tensors: WeightMap,
    prefix: String,
    /// What the weights are, for messages: "MiniLM", "EfficientNet-Lite0".
    owner: &'static str,
}

impl Weights {
    pub fn new(tensors: WeightMap, owner: &'static str) -> Self {
        Self {
            tensors,
            prefix: String::new(),
            owner,
        }
    }

    /// Whether a tensor of this full name (ignoring the prefix) exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The names not taken yet (a complete load leaves none).
    pub fn remaining(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The same weights, with `prefix.` put in front of every later name.
    pub fn pp(&mut self, prefix: &str) -> Scoped<'_> {
        let prefix = join(&self.prefix, prefix);
        Scoped {
            weights: self,
            prefix,
        }
    }

    /// Sets the prefix of every later name (e.g. `bert.` for checkpoints saved with a head).
    pub fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.trim_end_matches('.').to_string();
    }

    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let full = join(&self.prefix, name);
        let owner = self.owner;
        take_tensor(&mut self.tensors, &full, shape, |m| {
            Error::Weights(format!("{owner} {m}"))
        })
    }

    /// A PyTorch `nn.Linear` weight named `name` (`[d_out, d_in]`), transposed to `[d_in, d_out]`.
    pub fn linear_pt(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Vec<f32>> {
        let w = self.take(name, &[d_out, d_in])?;
        let mut transposed = vec![0.0f32; w.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                transposed[i * d_out + o] = w[o * d_in + i];
            }
        }
        Ok(transposed)
    }
}

/// [`Weights`] under a prefix, from [`Weights::pp`].
#[derive(Debug)]
pub struct Scoped<'a> {
    weights: &'a mut Weights,
    prefix: String,
}

impl Scoped<'_> {
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let full = join(&self.prefix, name);
        let saved = std::mem::take(&mut self.weights.prefix);
        let out = self.weights.take(&full, shape);
        self.weights.prefix = saved;
        out
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> WeightMap {
        let mut m = WeightMap::new();
        m.insert("a.b.w".into(), (vec![2, 3], vec![1., 2., 3., 4., 5., 6.]));
        m.insert("c".into(), (vec![2], vec![7., 8.]));
        m
    }

    #[test]
    fn takes_by_prefix_checks_shapes_and_transposes() {
        let mut w = Weights::new(map(), "Test");
        assert_eq!(w.pp("a.b").take("w", &[2, 3]).unwrap().len(), 6);
        let mut w = Weights::new(map(), "Test");
        // [out=2, in=3] → [in=3, out=2]
        assert_eq!(
            w.linear_pt("a.b.w", 3, 2).unwrap(),
            [1., 4., 2., 5., 3., 6.]
        );
        let err = w.take("c", &[3]).unwrap_err();
        assert_eq!(err.code(), "BAD_WEIGHTS");
        assert!(err
            .to_string()
            .contains("tensor 'c' has shape [2], expected [3]"));
        let err = w.take("c", &[2]).unwrap_err();
        assert!(err.to_string().contains("missing tensor 'c'"), "{err}");
        let mut m = map();
        let err = take_tensor(&mut m, "zz", &[1], Error::Bundle).unwrap_err();
        assert_eq!(err.code(), "BUNDLE_INVALID");
    }
}
