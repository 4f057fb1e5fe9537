//! Metrics and the evaluation protocol.

pub mod metrics;
mod protocol;

pub use protocol::{evaluate, top_k, Metrics, Scores, Target, KS};
