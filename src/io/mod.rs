//! The bottom layer: bytes in and out. Named weight arrays and the formats they come in
//! (safetensors, PyTorch's legacy `.pth`), and content checksums. Everything above — data
//! loaders, encoders, models, the bundle — reads and writes tensors through here, and this module
//! depends on nothing of the crate but its error type.

pub mod pth;
mod weights;

pub use weights::{read_safetensors_f32, take_tensor, WeightMap, Weights};

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`: the checksum bundles, data provenance and encoder
/// references record.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}
