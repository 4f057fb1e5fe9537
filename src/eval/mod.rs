//! Metrics and the evaluation protocol.

pub mod click;
pub mod metrics;
mod protocol;
mod report;
pub mod rerank;
pub mod social;

pub use protocol::{
    check_k, evaluate, evaluate_with, ranked_lists, ranked_lists_with, top_k, topk_json,
    EvalOptions, Scores, Target, KS,
};
pub use report::{mean_std, AtK, Metrics};
pub use rerank::{ItemRows, NoSpace, Rerank};
pub use social::{Social, WithFriends};
