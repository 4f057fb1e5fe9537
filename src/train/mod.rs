//! From a dataset to a bundle: the pipeline (and the experiment harness, and the
//! hyper-parameter search's spaces and sampling in [`tune`]). The training loop
//! itself is [`crate::model::training`].

mod blend;
mod catalog;
pub mod experiment;
#[cfg(not(target_arch = "wasm32"))]
pub mod federated;
mod pipeline;
pub mod tune;

pub use blend::{blend_bundles, BlendSearch, BlendWeights, SEARCH_WEIGHTS};
pub use catalog::{catalog_content, CatalogChoice};
pub use pipeline::{
    click_baseline, export_topk, most_recent_item_baseline, reevaluate, reevaluate_with,
    train_bundle, train_bundle_timed, train_valid_only, visitor_metrics, Timings, TrainRequest,
};

pub use crate::model::training::{EpochReport, TrainObserver};
