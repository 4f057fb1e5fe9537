//! From a dataset to a bundle: the pipeline (and the experiment harness). The training loop
//! itself is [`crate::model::training`].

mod catalog;
pub mod experiment;
mod pipeline;

pub use catalog::{catalog_content, CatalogChoice};
pub use pipeline::{
    export_topk, reevaluate, reevaluate_with, train_bundle, train_bundle_timed, Timings,
    TrainRequest,
};

pub use crate::model::training::{EpochReport, TrainObserver};
