//! fusionrec: a multimodal recommender that trains natively and runs — inference and on-device
//! fine-tuning — in the browser, from one crate.
//!
//! The modules are layers, each using only those below it (checked in CI by
//! `scripts/check_layers.py`), and read as the pipeline, bottom to top:
//!
//! 1. [`error`], [`rng`]: the error type and the seeded random stream;
//! 2. [`device`] (burn backends) and [`io`] (weights, tensor files, checksums);
//! 3. [`data`]: datasets, splits, user histories;
//! 4. [`fuse`] (fusion blocks) and [`eval`] (metrics and the protocol, over any `Scores`);
//! 5. [`encode`]: text, image, audio, tabular and file features as modalities;
//! 6. [`model`]: the model zoo and the one training loop ([`model::training`]);
//! 7. [`store`]: the bundle;
//! 8. [`rank`]: serving — sessions, placement of new items, the personal adaptor;
//! 9. [`train`]: from a dataset to a bundle, and the experiments;
//! 10. the front ends: the browser facade (`web`) here, and the native CLI in `src/bin/fusionrec/`
//!     (parsing and printing over this library's public API).

pub mod data;
pub mod device;
pub mod encode;
pub mod error;
pub mod eval;
pub mod fuse;
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzzing;
pub mod io;
pub mod kernels;
pub mod model;
pub mod rank;
pub mod rng;
pub mod store;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
