//! From a dataset to a bundle: the pipeline (and the experiment harness). The training loop
//! itself is [`crate::model::training`].

mod catalog;
pub mod experiment;
mod pipeline;

pub use catalog::{catalog_content, CatalogChoice};
pub use pipeline::{export_topk, reevaluate, train_bundle, TrainRequest};

pub use crate::model::training::{EpochReport, TrainObserver};
