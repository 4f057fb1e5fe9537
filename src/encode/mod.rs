//! Encoders: raw item content of one modality in, a fixed-size vector out. Pretrained networks
//! (text: MiniLM, images: EfficientNet-Lite0) are implemented with burn and run wherever burn
//! runs, the browser included.

pub mod audio;
pub mod bulk;
mod content;
pub mod external;
pub mod features;
pub mod image;
pub mod text;
pub mod tfidf;
pub mod video;

pub use self::image::{EfficientNetLite0, ImageEncoder, ImageFeatures};
pub use audio::{AudioEncoder, AudioEncoderConfig};
pub use content::Content;
pub use text::{MiniLm, MiniLmConfig, TextEncoder};
