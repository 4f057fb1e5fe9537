//! The two-tower model's auxiliary heads as a trained model keeps them: a click probability and
//! a rating for any (user, item), read from the towers' score `s = u · v` (the cosine under the
//! default `cosine` towers) plus a few biases — see [`super::hybrid`] for how they are trained.
//!
//! - click: `P(click) = σ(a_c · s + b_c + b_c,i)`
//! - rating: `r̂ = μ + b_u + b_i + a_r · s`
//!
//! Ranking never reads them: a bundle's lists are the towers' scores whatever its heads, and a
//! bundle without heads stores no extra tensor.

use super::take_weight;
use crate::error::{Error, Result};
use crate::io::WeightMap;

/// `P(click) = σ(scale · s + global + item[i])`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickHead {
    pub scale: f32,
    pub global: f32,
    pub item: Vec<f32>,
}

/// `r̂ = global + user[u] + item[i] + scale · s`; a user beyond `user` (a visitor folded in
/// from their history) has bias 0.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingHead {
    pub scale: f32,
    pub global: f32,
    pub user: Vec<f32>,
    pub item: Vec<f32>,
}

/// Whichever heads the model was trained with (none for every other model).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heads {
    pub click: Option<ClickHead>,
    pub rating: Option<RatingHead>,
}

impl ClickHead {
    /// The click probability of `item` for a towers' score `s`.
    pub fn probability(&self, item: u32, s: f32) -> f32 {
        let b = self.item.get(item as usize).copied().unwrap_or(0.0);
        let z = self.scale * s + self.global + b;
        1.0 / (1.0 + (-z).exp())
    }
}

impl RatingHead {
    /// The rating of (`user`, `item`) for a towers' score `s`.
    pub fn rating(&self, user: u32, item: u32, s: f32) -> f32 {
        let bias = |v: &[f32], k: u32| v.get(k as usize).copied().unwrap_or(0.0);
        self.global + bias(&self.user, user) + bias(&self.item, item) + self.scale * s
    }
}

impl Heads {
    pub fn is_empty(&self) -> bool {
        self.click.is_none() && self.rating.is_none()
    }

    /// The heads without per-user tensors (a serving bundle has no users).
    pub fn without_users(&self) -> Self {
        Self {
            click: self.click.clone(),
            rating: self.rating.as_ref().map(|r| RatingHead {
                user: Vec::new(),
                ..r.clone()
            }),
        }
    }

    /// Adds the heads' tensors to a model's weights (none when there are no heads).
    pub fn write(&self, w: &mut WeightMap) {
        if let Some(c) = &self.click {
            w.insert("click_head".into(), (vec![2], vec![c.scale, c.global]));
            w.insert(
                "click_item_bias".into(),
                (vec![c.item.len()], c.item.clone()),
            );
        }
        if let Some(r) = &self.rating {
            w.insert("rating_head".into(), (vec![2], vec![r.scale, r.global]));
            w.insert(
                "rating_user_bias".into(),
                (vec![r.user.len()], r.user.clone()),
            );
            w.insert(
                "rating_item_bias".into(),
                (vec![r.item.len()], r.item.clone()),
            );
        }
    }

    /// Takes the heads' tensors out of a model's weights, checking their shapes; no tensors,
    /// no heads.
    pub fn read(w: &mut WeightMap, n_users: usize, n_items: usize) -> Result<Self> {
        let pair = |w: &mut WeightMap, name: &str| -> Result<(f32, f32)> {
            let v = take_weight(w, name, &[2])?;
            if v.iter().all(|x| x.is_finite()) {
                Ok((v[0], v[1]))
            } else {
                Err(Error::Bundle(format!("{name}: not finite")))
            }
        };
        let click = match w.contains_key("click_head") {
            true => {
                let (scale, global) = pair(w, "click_head")?;
                Some(ClickHead {
                    scale,
                    global,
                    item: take_weight(w, "click_item_bias", &[n_items])?,
                })
            }
            false => None,
        };
        let rating = match w.contains_key("rating_head") {
            true => {
                let (scale, global) = pair(w, "rating_head")?;
                Some(RatingHead {
                    scale,
                    global,
                    user: take_weight(w, "rating_user_bias", &[n_users])?,
                    item: take_weight(w, "rating_item_bias", &[n_items])?,
                })
            }
            false => None,
        };
        Ok(Self { click, rating })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_by_hand_and_through_their_weights() {
        let heads = Heads {
            click: Some(ClickHead {
                scale: 2.0,
                global: -1.0,
                item: vec![0.5, 0.0],
            }),
            rating: Some(RatingHead {
                scale: 1.5,
                global: 3.5,
                user: vec![0.25],
                item: vec![-0.5, 0.0],
            }),
        };
        let c = heads.click.as_ref().unwrap();
        // σ(2 · 0.25 − 1 + 0.5) = σ(0) = ½.
        assert_eq!(c.probability(0, 0.25), 0.5);
        assert!((c.probability(1, 0.5) - 0.5).abs() < 1e-7);
        assert!((c.probability(1, 1.0) - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-7);
        let r = heads.rating.as_ref().unwrap();
        // 3.5 + 0.25 − 0.5 + 1.5 · 0.5; user 7 is unknown: bias 0.
        assert_eq!(r.rating(0, 0, 0.5), 4.0);
        assert_eq!(r.rating(7, 1, 0.0), 3.5);

        let mut w = WeightMap::new();
        heads.write(&mut w);
        assert_eq!(w.len(), 5);
        assert_eq!(Heads::read(&mut w, 1, 2).unwrap(), heads);
        assert!(w.is_empty(), "every tensor taken");
        let mut none = WeightMap::new();
        Heads::default().write(&mut none);
        assert!(none.is_empty());
        assert!(Heads::read(&mut none, 1, 2).unwrap().is_empty());
        heads.write(&mut w);
        assert!(
            Heads::read(&mut w, 1, 3).is_err(),
            "item biases for 2 items"
        );
    }
}
