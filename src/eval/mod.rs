//! Metrics and the evaluation protocol.

pub mod metrics;
mod protocol;
pub mod social;

pub use protocol::{
    check_k, evaluate, ranked_lists, top_k, topk_json, Metrics, Scores, Target, KS,
};
pub use social::{Social, WithFriends};
