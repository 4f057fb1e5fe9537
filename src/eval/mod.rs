//! Metrics and the evaluation protocol.

pub mod metrics;
mod protocol;
mod report;
pub mod social;

pub use protocol::{check_k, evaluate, ranked_lists, top_k, topk_json, Scores, Target, KS};
pub use report::{AtK, Metrics};
pub use social::{Social, WithFriends};
