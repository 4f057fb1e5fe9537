//! Most-popular baseline: every user gets the items with the most training interactions.

use super::take_weight;
use crate::data::Interaction;
use crate::error::Result;
use crate::io::WeightMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    /// Training interactions per item.
    pub counts: Vec<f32>,
}

impl Popularity {
    pub fn fit(n_items: usize, train: &[Interaction]) -> Self {
        let mut counts = vec![0.0f32; n_items];
        for x in train {
            counts[x.item as usize] += 1.0;
        }
        Self { counts }
    }

    pub(super) fn weights(&self) -> WeightMap {
        [(
            "item_popularity".into(),
            (vec![self.counts.len()], self.counts.clone()),
        )]
        .into()
    }

    pub(super) fn from_weights(n_items: usize, w: &mut WeightMap) -> Result<Self> {
        Ok(Self {
            counts: take_weight(w, "item_popularity", &[n_items])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_training_interactions() {
        let x = |user, item| Interaction {
            user,
            item,
            rating: None,
            timestamp: None,
        };
        let p = Popularity::fit(3, &[x(0, 2), x(1, 2), x(1, 0)]);
        assert_eq!(p.counts, [1.0, 0.0, 2.0]);
    }
}
