//! The social modality in scoring: a user's scores plus `weight ×` the mean of their friends'
//! scores, each friend scored from the friend's own training history by the same model.
//!
//! Why this form: every model here scores linearly in the user's history (item–item models) or
//! in a user vector (factor models), so averaging friends' scores is exactly "friends' histories
//! (or tastes) in the user representation", it works for every model kind without retraining,
//! and `weight = 0` switches it off. Only training histories are read, so nothing held out leaks.

use serde::{Deserialize, Serialize};

use super::Scores;
use crate::data::UserGraph;
use crate::data::UserHistory;

/// A user graph with the weight of friends' scores; stored in bundles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Social {
    pub weight: f32,
    pub graph: UserGraph,
}

/// No user graph: [`WithFriends`] then scores exactly as its base.
static NO_FRIENDS: Social = Social {
    weight: 0.0,
    graph: UserGraph {
        friends: Vec::new(),
    },
};

/// `base` with friends' scores added (see the module doc).
pub struct WithFriends<'a, S: ?Sized> {
    pub base: &'a S,
    pub social: &'a Social,
    pub history: &'a UserHistory,
}

impl<'a, S: ?Sized> WithFriends<'a, S> {
    /// `base`, with friends' scores when there is a `social` graph.
    pub fn new(base: &'a S, social: Option<&'a Social>, history: &'a UserHistory) -> Self {
        Self {
            base,
            social: social.unwrap_or(&NO_FRIENDS),
            history,
        }
    }
}

impl<S: Scores + ?Sized> Scores for WithFriends<'_, S> {
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        self.base.score(user, items, ratings, out);
        let friends = self
            .social
            .graph
            .friends
            .get(user as usize)
            .map_or(&[][..], Vec::as_slice);
        if friends.is_empty() || self.social.weight == 0.0 {
            return;
        }
        let w = self.social.weight / friends.len() as f32;
        let mut theirs = vec![0.0f32; out.len()];
        for &f in friends {
            let (f_items, f_ratings) = self.history.user(f);
            self.base.score(f, f_items, f_ratings, &mut theirs);
            out.iter_mut().zip(&theirs).for_each(|(o, t)| *o += w * t);
        }
    }

    fn predict(&self, user: u32, item: u32) -> Option<f32> {
        self.base.predict(user, item)
    }
    fn click(&self, user: u32, item: u32) -> Option<f32> {
        self.base.click(user, item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Interaction;
    use crate::model::{Popularity, TrainedModel};

    /// Scores = the user's own item ids, so the blend can be checked by hand.
    struct OwnItems;
    impl Scores for OwnItems {
        fn score(&self, _: u32, items: &[u32], _: &[f32], out: &mut [f32]) {
            out.fill(0.0);
            items.iter().for_each(|&i| out[i as usize] = 1.0);
        }
    }

    #[test]
    fn friends_scores_are_averaged_and_weighted() {
        let x = |user, item| Interaction {
            user,
            item,
            rating: None,
            timestamp: None,
        };
        let history = UserHistory::from_interactions(3, &[x(0, 0), x(1, 1), x(2, 2)]);
        let social = Social {
            weight: 0.5,
            graph: UserGraph {
                friends: vec![vec![1, 2], vec![], vec![0]],
            },
        };
        let s = WithFriends {
            base: &OwnItems,
            social: &social,
            history: &history,
        };
        let mut out = vec![0.0; 3];
        let (items, ratings) = history.user(0);
        s.score(0, items, ratings, &mut out);
        assert_eq!(out, [1.0, 0.25, 0.25]);
        s.score(1, history.user(1).0, history.user(1).1, &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0], "no friends: the base scores");
        let off = Social {
            weight: 0.0,
            ..social.clone()
        };
        let pop = TrainedModel::Popularity(Popularity::fit(3, &[x(0, 0)]));
        let base_only = WithFriends {
            base: &pop,
            social: &off,
            history: &history,
        };
        let mut a = vec![0.0; 3];
        base_only.score(0, items, ratings, &mut a);
        let mut b = vec![0.0; 3];
        pop.score(0, items, ratings, &mut b);
        assert_eq!(a, b, "weight 0 switches it off");
    }
}
