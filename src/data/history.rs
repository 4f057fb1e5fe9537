//! Each user's training history in compressed rows: what models score from and what the
//! protocol excludes from recommendations.

use super::Interaction;
use crate::error::{Error, Result};

/// Each user's training interactions in compressed rows: the model's input for history-based
/// scoring (item-kNN) and the "seen" set excluded from recommendations.
#[derive(Debug, Clone, PartialEq)]
pub struct UserHistory {
    pub offsets: Vec<u32>,
    pub items: Vec<u32>,
    /// The rating of each event, 1.0 where the source has none.
    pub ratings: Vec<f32>,
}

impl UserHistory {
    pub fn from_interactions(n_users: usize, interactions: &[Interaction]) -> Self {
        let mut rows: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_users];
        for x in interactions {
            rows[x.user as usize].push((x.item, x.rating.unwrap_or(1.0)));
        }
        let mut out = UserHistory {
            offsets: vec![0],
            items: Vec::with_capacity(interactions.len()),
            ratings: Vec::with_capacity(interactions.len()),
        };
        for mut row in rows {
            row.sort_unstable_by_key(|&(i, _)| i);
            for (i, r) in row {
                out.items.push(i);
                out.ratings.push(r);
            }
            out.offsets.push(out.items.len() as u32);
        }
        out
    }

    pub fn n_users(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The user's items (sorted) and their ratings.
    pub fn user(&self, user: u32) -> (&[u32], &[f32]) {
        let (a, b) = (
            self.offsets[user as usize] as usize,
            self.offsets[user as usize + 1] as usize,
        );
        (&self.items[a..b], &self.ratings[a..b])
    }

    /// Checks internal consistency (offsets monotone, items in range) after loading.
    pub fn validate(&self, n_items: usize) -> Result<()> {
        let ok = self.offsets.first() == Some(&0)
            && self.offsets.windows(2).all(|w| w[0] <= w[1])
            && self.offsets.last().map(|&o| o as usize) == Some(self.items.len())
            && self.items.len() == self.ratings.len()
            && self.items.iter().all(|&i| (i as usize) < n_items);
        if ok {
            Ok(())
        } else {
            Err(Error::Bundle("user history is inconsistent".into()))
        }
    }
}
