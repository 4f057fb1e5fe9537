//! fusionrec: a multimodal recommender that trains natively and runs — inference and on-device
//! fine-tuning — in the browser, from one crate.
//!
//! The pipeline follows the folders: [`data`] → [`model`] → [`train`] / [`eval`] → [`store`].
//! The native command-line tool lives in [`cli`]; [`device`] picks the burn backend.

pub mod data;
pub mod device;
pub mod encode;
pub mod error;
pub mod eval;
pub mod fuse;
pub mod io;
pub mod model;
pub mod rank;
pub mod rng;
pub mod store;
pub mod train;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
