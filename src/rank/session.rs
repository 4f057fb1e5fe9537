//! A visitor's session on a bundle: what the browser holds for one user, all of it on the device.
//!
//! - **Added items** (`addItem`): a new item is encoded on the device (MiniLM text, EfficientNet
//!   image) and placed by its content neighbours in the catalog: the `NEIGHBORS` most similar
//!   catalog items (cosine, averaged over the modalities both sides have — a missing modality is
//!   skipped, not zero-filled), weighted by a softmax of similarity / `TEMPERATURE`. Every model
//!   here scores linearly in its item representations (factor: `u·q_i`; item–item: `Σ_j x_j
//!   W[j,i]`; popularity: counts), so the new item's score is the same mixture of its neighbours'
//!   scores, and an event on it is the same mixture of events on them. This needs no retraining,
//!   works for every model kind, and is exact for what it claims: the new item behaves like the
//!   catalog items its content resembles.
//! - **Personal adaptor** (`personalize`): a linear taste vector θ over the items' stored content
//!   features (each modality L2-normalised; plus the normalised item vectors for factor models),
//!   fitted with a few autodiff steps of BPR on the visitor's local events ([`super::adaptor`],
//!   the same code natively and on WebGPU). Recommendations become
//!   `score + strength · std(score) · θ·φ(item)`: the standard deviation puts the term on each
//!   model's own scale. Events favouring a genre teach θ that genre's direction in content space.
//! - **State** ([`SessionState`]): added items and θ, tied to the bundle's weights checksum, so a
//!   page can save and restore them (IndexedDB) and get the same recommendations.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::adaptor::{Pairs, PersonalizeConfig};
use super::placement::{self, NEIGHBORS, TEMPERATURE};
use super::{score_history, Explanation, HistoryEvent, Query};
use crate::error::{Error, Result};
use crate::eval::{ItemRows, NoSpace, Rerank};
use crate::model::{TrainedModel, VisitorEncoder};
use crate::store::{Bundle, WEIGHTS_FILE};

/// The most events `explain` steps through for a score that is not linear in the events (a
/// blend, Mult-DAE): each step scores the whole catalog.
pub const EXPLAIN_EVENTS: usize = 256;

const STATE_FORMAT: &str = "fusionrec-session";
const STATE_VERSION: u32 = 1;

/// An item added on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedItem {
    pub id: String,
    pub title: Option<String>,
    /// The item's own content vectors by modality (as encoded, before normalisation).
    pub content: BTreeMap<String, Vec<f32>>,
    /// Catalog neighbours `(index, weight)`, best first, weights summing to 1.
    pub neighbors: Vec<(u32, f32)>,
}

/// Which items a list may hold: `{ "items": [ids] }` or `{ "category": "Horror" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    Items(Vec<String>),
    Category(String),
}

/// The personal adaptor: θ over the session's item features, and how strongly it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptor {
    pub theta: Vec<f32>,
    pub strength: f32,
    /// Fine-tuning steps taken so far (over every `personalize` call).
    pub steps: usize,
}

/// What a page saves: added items and the adaptor, for the bundle whose weights have `bundle`
/// as sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    pub format: String,
    pub version: u32,
    pub bundle: String,
    pub added: Vec<AddedItem>,
    pub adaptor: Option<Adaptor>,
}

/// Per-item features the adaptor is linear in, `dim` wide: each block (a content modality, then
/// a factor model's item vectors) L2-normalised, side by side in `blocks`' column ranges.
///
/// Rows are built when read, from the bundle's own matrices and one stored inverse norm per
/// item and block: a materialised `[n, dim]` copy was 256 MB for a 10⁶-item 64-d catalog, more
/// than the int8 bundle itself. A row holds exactly the values the copy held.
#[derive(Debug, Clone, Default)]
struct Features {
    dim: usize,
    blocks: Vec<(String, Range<usize>)>,
    /// `[n, blocks]`: 1 / max(‖row‖, 1e-12) of each item's block.
    inv_norms: Vec<f32>,
}

impl Features {
    /// Item `i`'s block `b` source row (content, or the model's item vector).
    fn source<'a>(bundle: &'a Bundle, b: usize, i: usize) -> Option<Cow<'a, [f32]>> {
        match bundle.content.get(b) {
            Some(m) => m.values.get(i * m.dim..(i + 1) * m.dim).map(Into::into),
            None => match &bundle.model {
                TrainedModel::Factor(m) => m.item_factors.row(i, m.dim),
                _ => None,
            },
        }
    }

    /// Writes catalog item `i`'s feature row into `out` (`dim` wide), without allocating:
    /// it runs for every catalog item on each personalised `recommend`.
    fn row(&self, bundle: &Bundle, i: usize, out: &mut [f32]) {
        let nb = self.blocks.len();
        for (b, (_, range)) in self.blocks.iter().enumerate() {
            let s = self.inv_norms.get(i * nb + b).copied().unwrap_or(0.0);
            let dst = &mut out[range.clone()];
            let filled = match bundle.content.get(b) {
                Some(m) => match m.values.get(i * m.dim..(i + 1) * m.dim) {
                    Some(x) if x.len() == dst.len() => {
                        dst.copy_from_slice(x);
                        true
                    }
                    _ => false,
                },
                None => match &bundle.model {
                    TrainedModel::Factor(m) => m.item_factors.row_into(i, m.dim, dst),
                    _ => false,
                },
            };
            match filled {
                true => dst.iter_mut().for_each(|o| *o *= s),
                false => dst.fill(0.0),
            }
        }
    }
}

use crate::kernels::dot;

/// A session's items as an [`ItemRows`] space for re-ranking (see [`Session::item_space`]).
pub struct ItemSpace<'a> {
    session: &'a Session,
    by_features: bool,
}

impl ItemRows for ItemSpace<'_> {
    fn dim(&self) -> usize {
        match self.by_features {
            true => self.session.features.dim,
            false => self.session.bundle.manifest.item_categories.names(),
        }
    }

    /// A catalog item's features (or category vector); an added item's is its neighbours'
    /// mixture, as its scores are.
    fn row(&self, item: u32, out: &mut [f32]) {
        let s = self.session;
        let catalog = |i: u32, out: &mut [f32]| match self.by_features {
            true => s.features.row(&s.bundle, i as usize, out),
            false => s.bundle.manifest.item_categories.row(i, out),
        };
        match (item as usize).checked_sub(s.n_catalog()) {
            None => catalog(item, out),
            Some(a) => {
                out.fill(0.0);
                let mut row = vec![0.0f32; out.len()];
                for &(j, w) in s.added.get(a).map_or(&[][..], |x| &x.neighbors[..]) {
                    catalog(j, &mut row);
                    out.iter_mut().zip(&row).for_each(|(o, r)| *o += w * r);
                }
            }
        }
    }
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (norm(a) * norm(b)).max(1e-12)
}

/// A bundle with one visitor's added items and personal adaptor.
pub struct Session {
    bundle: Bundle,
    added: Vec<AddedItem>,
    added_index: HashMap<String, u32>,
    adaptor: Option<Adaptor>,
    features: Features,
    /// Each catalog item's share of the most popular one's training count (first visits).
    popularity: Vec<f32>,
    /// A factor model's item-vector norms, computed on the first `similar`.
    item_norms: std::sync::OnceLock<Vec<f32>>,
}

impl Session {
    pub fn new(bundle: Bundle) -> Self {
        let features = Self::build_features(&bundle);
        let mut popularity = vec![0.0f32; bundle.manifest.dims.items];
        match &bundle.item_counts {
            Some(counts) => popularity
                .iter_mut()
                .zip(counts)
                .for_each(|(p, &c)| *p = c as f32),
            None => {
                for &i in &bundle.history.items {
                    popularity[i as usize] += 1.0;
                }
            }
        }
        let top = popularity.iter().copied().fold(0.0f32, f32::max).max(1.0);
        popularity.iter_mut().for_each(|c| *c /= top);
        Self {
            bundle,
            added: Vec::new(),
            added_index: HashMap::new(),
            adaptor: None,
            features,
            popularity,
            item_norms: Default::default(),
        }
    }

    fn build_features(bundle: &Bundle) -> Features {
        let n = bundle.manifest.dims.items;
        let mut blocks: Vec<(String, usize)> = bundle
            .content
            .iter()
            .map(|m| (m.name.clone(), m.dim))
            .collect();
        if let TrainedModel::Factor(m) = &bundle.model {
            blocks.push(("collaborative".into(), m.dim));
        }
        let nb = blocks.len();
        let mut inv_norms = vec![0.0f32; n * nb];
        let mut ranges = Vec::new();
        let mut at = 0;
        for (b, (name, d)) in blocks.into_iter().enumerate() {
            for i in 0..n {
                if let Some(row) = Features::source(bundle, b, i) {
                    inv_norms[i * nb + b] = 1.0 / norm(&row).max(1e-12);
                }
            }
            ranges.push((name, at..at + d));
            at += d;
        }
        Features {
            dim: at,
            blocks: ranges,
            inv_norms,
        }
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    fn n_catalog(&self) -> usize {
        self.bundle.manifest.dims.items
    }

    /// Catalog items, then added ones.
    pub fn n_items(&self) -> usize {
        self.n_catalog() + self.added.len()
    }

    pub fn added(&self) -> &[AddedItem] {
        &self.added
    }

    pub fn adaptor(&self) -> Option<&Adaptor> {
        self.adaptor.as_ref()
    }

    /// The session index of an item id (catalog items first, then added ones).
    pub fn index(&self, id: &str) -> Result<u32> {
        self.bundle
            .manifest
            .items
            .get(id)
            .or_else(|| self.added_index.get(id).copied())
            .ok_or_else(|| Error::UnknownItem(id.to_owned()))
    }

    pub fn id(&self, i: u32) -> &str {
        let n = self.n_catalog();
        match (i as usize).checked_sub(n) {
            None => self.bundle.manifest.items.id(i),
            Some(a) => &self.added[a].id,
        }
    }

    pub fn title(&self, i: u32) -> Option<&str> {
        let n = self.n_catalog();
        match (i as usize).checked_sub(n) {
            None => self.bundle.manifest.item_titles.get(i as usize),
            Some(a) => self.added.get(a)?.title.as_deref(),
        }
    }

    /// Catalog items (with weights) that stand for session item `i`.
    fn expand(&self, i: u32) -> Vec<(u32, f32)> {
        match (i as usize).checked_sub(self.n_catalog()) {
            None => vec![(i, 1.0)],
            Some(a) => self.added[a].neighbors.clone(),
        }
    }

    /// Session indices and ratings of a history, sorted and de-duplicated; unknown ids and
    /// non-finite ratings are errors.
    pub fn resolve(&self, history: &[HistoryEvent]) -> Result<Vec<(u32, f32)>> {
        let mut pairs: Vec<(u32, f32)> = history
            .iter()
            .map(|e| {
                let i = self.index(&e.item)?;
                match e.rating {
                    Some(r) if !r.is_finite() => Err(Error::Data(format!(
                        "rating of item '{}' is not a number",
                        e.item
                    ))),
                    r => Ok((i, r.unwrap_or(1.0))),
                }
            })
            .collect::<Result<_>>()?;
        pairs.sort_by_key(|p| p.0);
        pairs.dedup_by_key(|p| p.0);
        Ok(pairs)
    }

    /// The query of `events`, each with its event weight (`weights`, aligned; see
    /// [`TrainedModel::event_weights`], computed over the whole history) times its expansion
    /// weights (an added item enters as its catalog neighbours).
    fn query_of(&self, events: &[(u32, f32)], weights: &[f32], n_events: usize) -> Query {
        let mut q = Query {
            events: n_events,
            ..Query::default()
        };
        for (&(i, r), &e) in events.iter().zip(weights) {
            for (j, w) in self.expand(i) {
                q.items.push(j);
                q.ratings.push(r);
                q.weights.push(e * w);
            }
        }
        q
    }

    /// Each event's weight, over the whole history (see [`TrainedModel::event_weights`]).
    fn event_weights(&self, events: &[(u32, f32)]) -> Vec<f32> {
        let ratings: Vec<f32> = events.iter().map(|e| e.1).collect();
        self.bundle.model.event_weights(&ratings)
    }

    /// `model`'s query of resolved events (a set): its own event weights, Mult-DAE's encoding of
    /// the set, and for a blend each part's query (see [`Query::parts`]). SASRec's ordered
    /// encoding is added by [`Session::query`], which has the events' order.
    fn model_query(
        &self,
        model: &TrainedModel,
        events: &[(u32, f32)],
        n_events: usize,
    ) -> Result<Query> {
        if let TrainedModel::Blend(b) = model {
            let mut q = self.query_of(events, &vec![1.0; events.len()], n_events);
            q.parts = b
                .parts
                .iter()
                .map(|(_, m)| self.model_query(m, events, n_events))
                .collect::<Result<_>>()?;
            return Ok(q);
        }
        let ratings: Vec<f32> = events.iter().map(|e| e.1).collect();
        let mut q = self.query_of(events, &model.event_weights(&ratings), n_events);
        if let TrainedModel::Factor(m) = model {
            if let Some(VisitorEncoder::Autoencoder(e)) = m.encoder.as_deref() {
                let bag: Vec<Vec<(u32, f32)>> = events.iter().map(|e| self.expand(e.0)).collect();
                q.user = Some(e.encode(&bag)?);
            }
        }
        Ok(q)
    }

    /// The query for a history, and the session indices it holds (sorted: "seen"). A
    /// bundle with a visitor encoder (SASRec, Mult-DAE) carries the history's encoding.
    pub fn query(&self, history: &[HistoryEvent]) -> Result<(Query, Vec<u32>)> {
        let events = self.resolve(history)?;
        let seen = events.iter().map(|e| e.0).collect();
        let mut q = self.model_query(&self.bundle.model, &events, events.len())?;
        if let Some((_, VisitorEncoder::Sequence(_))) = self.sequential() {
            q.user = Some(self.encode(&self.ordered(history)?)?);
        }
        Ok((q, seen))
    }

    /// The factors and visitor encoder of a bundle whose user vectors come from an encoder
    /// (SASRec, Mult-DAE: see [`crate::model::VisitorEncoder`]).
    fn sequential(&self) -> Option<(&crate::model::FactorModel, &crate::model::VisitorEncoder)> {
        match &self.bundle.model {
            TrainedModel::Factor(m) => m.encoder.as_deref().map(|e| (m, e)),
            _ => None,
        }
    }

    /// The session indices of a history in the order the events happened: by time when every
    /// event has one (stable), as given when none has; repeats kept.
    pub fn ordered(&self, history: &[HistoryEvent]) -> Result<Vec<u32>> {
        let timed = history.iter().filter(|e| e.time.is_some()).count();
        if timed != 0 && timed != history.len() {
            return Err(Error::Data(format!(
                "{timed} of {} history events have a time: give every event a time or none",
                history.len()
            )));
        }
        let mut order = history
            .iter()
            .map(|e| match e.time {
                Some(t) if !t.is_finite() => Err(Error::Data(format!(
                    "time of item '{}' is not a number",
                    e.item
                ))),
                t => Ok((t.unwrap_or(0.0), self.index(&e.item)?)),
            })
            .collect::<Result<Vec<(f64, u32)>>>()?;
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(order.into_iter().map(|p| p.1).collect())
    }

    /// An encoder bundle's user vector for session items in order (an added item enters as its
    /// neighbours' mixture).
    fn encode(&self, order: &[u32]) -> Result<Vec<f32>> {
        let (m, encoder) = self
            .sequential()
            .ok_or_else(|| Error::Config("this bundle's model is not sequential".into()))?;
        let events: Vec<Vec<(u32, f32)>> = order.iter().map(|&i| self.expand(i)).collect();
        encoder.encode(&m.item_factors, &events)
    }

    /// Catalog scores of a query, computed on the CPU.
    pub fn catalog_scores(&self, q: &Query) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; self.n_catalog()];
        score_history(&self.bundle.model, q, &mut out)?;
        Ok(out)
    }

    /// Every session item's score from the catalog's (`base`, one per catalog item): added items
    /// score as the mixture of their neighbours; with `personal`, the adaptor's term is added.
    pub fn complete(&self, mut base: Vec<f32>, personal: bool) -> Result<Vec<f32>> {
        let n = self.n_catalog();
        if base.len() != n {
            return Err(Error::Data(format!(
                "{} scores for a catalog of {n}",
                base.len()
            )));
        }
        let catalog_scores = |b: &[f32], a: &AddedItem| -> f32 {
            a.neighbors.iter().map(|&(m, w)| w * b[m as usize]).sum()
        };
        let extra: Vec<f32> = self
            .added
            .iter()
            .map(|a| catalog_scores(&base, a))
            .collect();
        if let (true, Some(adaptor)) = (personal, &self.adaptor) {
            let mean = base.iter().sum::<f32>() / n.max(1) as f32;
            let var = base.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n.max(1) as f32;
            let scale = adaptor.strength * var.sqrt();
            let terms = self.personal_terms(&adaptor.theta);
            base.iter_mut()
                .zip(&terms)
                .for_each(|(s, t)| *s += scale * t);
            base.extend(extra.iter().zip(&terms[n..]).map(|(s, t)| s + scale * t));
        } else {
            base.extend(extra);
        }
        Ok(base)
    }

    /// θ·φ(item) for every session item (added items: their neighbours' mixture).
    fn personal_terms(&self, theta: &[f32]) -> Vec<f32> {
        let f = &self.features;
        let mut row = vec![0.0f32; f.dim];
        let t: Vec<f32> = (0..self.n_catalog())
            .map(|i| {
                f.row(&self.bundle, i, &mut row);
                dot(&row, theta)
            })
            .collect();
        let mut t = t;
        let extra: Vec<f32> = self
            .added
            .iter()
            .map(|a| a.neighbors.iter().map(|&(m, w)| w * t[m as usize]).sum())
            .collect();
        t.extend(extra);
        t
    }

    /// Scores of every session item for a history, on the CPU (the browser computes the
    /// catalog part on its device and calls [`Session::complete`]).
    pub fn scores_for_history(&self, history: &[HistoryEvent]) -> Result<Vec<f32>> {
        let (q, _) = self.query(history)?;
        self.complete(self.catalog_scores(&q)?, true)
    }

    /// Top-`k` of `scores` as `(session index, score)`, without `seen` when given.
    pub fn rank(&self, scores: &[f32], seen: Option<&[u32]>, k: usize) -> Vec<(u32, f32)> {
        crate::eval::top_k(scores, seen.unwrap_or(&[]), k)
            .into_iter()
            .map(|i| (i, scores[i as usize]))
            .collect()
    }

    /// The item space re-ranking compares items in: the session's item features (content
    /// blocks and a factor model's item vectors, each block L2-normalised — what the adaptor
    /// is linear in), else the catalog's categories. `BAD_CONFIG` when the bundle has neither.
    pub fn item_space(&self) -> Result<ItemSpace<'_>> {
        let by_features = self.features.dim > 0;
        if !by_features && self.bundle.manifest.item_categories.none_assigned() {
            return Err(Error::Config(
                "this bundle has no item vectors, content or categories to diversify by".into(),
            ));
        }
        Ok(ItemSpace {
            session: self,
            by_features,
        })
    }

    /// [`Session::rank`], then re-ranked by `rerank` (MMR diversity in [`Session::item_space`],
    /// a score threshold; see [`crate::eval::rerank`]).
    pub fn rank_with(
        &self,
        scores: &[f32],
        seen: Option<&[u32]>,
        k: usize,
        rerank: &Rerank,
    ) -> Result<Vec<(u32, f32)>> {
        rerank.validate_for(k)?;
        if rerank.is_identity() {
            return Ok(self.rank(scores, seen, k));
        }
        let pool = self.rank(scores, seen, rerank.pool(k));
        // The space is needed only to diversify: a threshold alone works on any bundle.
        if rerank.diversity == 0.0 {
            Ok(rerank.apply(&pool, k, &NoSpace))
        } else {
            Ok(rerank.apply(&pool, k, &self.item_space()?))
        }
    }

    /// A first visit (no history): the catalog's most popular items, by how many training
    /// users interacted with each, scored as the share of the most popular one's count (ties to
    /// the lower index; added items have no count). Any model's scores for an empty history are
    /// constant, which would rank arbitrarily.
    pub fn popular(&self, k: usize, filter: Option<&Filter>) -> Result<Vec<(u32, f32)>> {
        self.popular_with(k, filter, &Rerank::default())
    }

    /// [`Session::popular`], re-ranked by `rerank`.
    pub fn popular_with(
        &self,
        k: usize,
        filter: Option<&Filter>,
        rerank: &Rerank,
    ) -> Result<Vec<(u32, f32)>> {
        crate::eval::check_k(k)?;
        let mut scores = self.popularity.clone();
        scores.resize(self.n_items(), 0.0);
        self.apply_filter(&mut scores, filter)?;
        self.rank_with(&scores, None, k, rerank)
    }

    /// Leaves only the items `filter` allows rankable: the others' scores become NaN, which
    /// [`crate::eval::top_k`] never returns. An unknown id is `UNKNOWN_ITEM`; a category
    /// filter on a bundle without categories, or a category no item has, is `BAD_CONFIG`.
    pub fn apply_filter(&self, scores: &mut [f32], filter: Option<&Filter>) -> Result<()> {
        let Some(filter) = filter else {
            return Ok(());
        };
        let mut allowed = vec![false; scores.len()];
        match filter {
            Filter::Items(ids) => {
                for id in ids {
                    allowed[self.index(id)? as usize] = true;
                }
            }
            Filter::Category(category) => {
                let categories = &self.bundle.manifest.item_categories;
                if categories.is_empty() {
                    return Err(Error::Config(
                        "this bundle stores no item categories to filter by".into(),
                    ));
                }
                let Some(c) = categories.category(category) else {
                    return Err(Error::Config(format!(
                        "no item has the category '{category}'"
                    )));
                };
                for (i, slot) in allowed.iter_mut().enumerate() {
                    *slot = categories.has(i, c);
                }
            }
        }
        for (s, keep) in scores.iter_mut().zip(&allowed) {
            if !keep {
                *s = f32::NAN;
            }
        }
        Ok(())
    }

    /// The catalog (bundle items, then added ones): `(id, title, categories)` in index order.
    pub fn items(&self) -> Vec<(&str, Option<&str>, Vec<&str>)> {
        let categories = &self.bundle.manifest.item_categories;
        (0..self.n_items() as u32)
            .map(|i| {
                let cats = categories.get(i as usize).collect();
                (self.id(i), self.title(i), cats)
            })
            .collect()
    }

    /// Top-`k` items for a visitor's history, `(item id, score)` best first; the history's own
    /// items are excluded when `exclude_seen`. An empty history gets [`Session::popular`].
    pub fn recommend(
        &self,
        history: &[HistoryEvent],
        k: usize,
        exclude_seen: bool,
    ) -> Result<Vec<(String, f32)>> {
        self.recommend_filtered(history, k, exclude_seen, None)
    }

    /// [`Session::recommend`] restricted to the items `filter` allows.
    pub fn recommend_filtered(
        &self,
        history: &[HistoryEvent],
        k: usize,
        exclude_seen: bool,
        filter: Option<&Filter>,
    ) -> Result<Vec<(String, f32)>> {
        self.recommend_with(history, k, exclude_seen, filter, &Rerank::default())
    }

    /// [`Session::recommend_filtered`], re-ranked by `rerank` (see [`Session::rank_with`]).
    pub fn recommend_with(
        &self,
        history: &[HistoryEvent],
        k: usize,
        exclude_seen: bool,
        filter: Option<&Filter>,
        rerank: &Rerank,
    ) -> Result<Vec<(String, f32)>> {
        crate::eval::check_k(k)?;
        rerank.validate()?;
        if history.is_empty() {
            return Ok(self.named(self.popular_with(k, filter, rerank)?));
        }
        let (q, seen) = self.query(history)?;
        let mut scores = self.complete(self.catalog_scores(&q)?, true)?;
        self.apply_filter(&mut scores, filter)?;
        let ranked = self.rank_with(&scores, exclude_seen.then_some(&seen[..]), k, rerank)?;
        Ok(self.named(ranked))
    }

    fn named(&self, ranked: Vec<(u32, f32)>) -> Vec<(String, f32)> {
        ranked
            .into_iter()
            .map(|(i, s)| (self.id(i).to_owned(), s))
            .collect()
    }

    /// The `k` items most similar to `item_id`, itself excluded, as session indices. Factor
    /// models: cosine of item vectors (an added item's is its neighbours' mixture). Item–item
    /// models: what a one-item history scores (the item's weight row). Popularity: the most
    /// popular others.
    pub fn similar_indices(&self, item_id: &str, k: usize) -> Result<Vec<(u32, f32)>> {
        crate::eval::check_k(k)?;
        let item = self.index(item_id)?;
        let scores = match &self.bundle.model {
            TrainedModel::Factor(m) => {
                let d = m.dim;
                let vector = |i: u32| -> Vec<f32> {
                    let mut v = vec![0.0f32; d];
                    for (j, w) in self.expand(i) {
                        if let Some(q) = m.item_factors.row(j as usize, d) {
                            v.iter_mut().zip(q.iter()).for_each(|(a, b)| *a += w * b);
                        }
                    }
                    v
                };
                let q = vector(item);
                // Catalog items: one pass of the scoring kernel and the cached row norms — the
                // same values as a cosine per row (the kernel is bit-identical to `dot` on the
                // decoded rows), without a vector per item (10⁶ items: 212 ms before).
                let n = self.n_catalog();
                let mut scores = vec![0.0f32; n];
                m.item_factors.matvec(&q, &mut scores);
                let norms = self.item_norms.get_or_init(|| {
                    (0..n)
                        .map(|i| m.item_factors.row(i, d).map_or(0.0, |r| norm(&r)))
                        .collect()
                });
                let qn = norm(&q);
                scores
                    .iter_mut()
                    .zip(norms)
                    .for_each(|(s, &rn)| *s /= (qn * rn).max(1e-12));
                scores.extend((n as u32..self.n_items() as u32).map(|i| cosine(&q, &vector(i))));
                scores
            }
            // A blend: what a one-item history scores.
            TrainedModel::Blend(_) => {
                let q = self.model_query(&self.bundle.model, &[(item, 1.0)], 1)?;
                self.complete(self.catalog_scores(&q)?, false)?
            }
            // Popularity has no item–item notion: its "similar" items are the most popular.
            TrainedModel::ItemKnn(_) | TrainedModel::Popularity(_) => {
                // An item's similarity to itself is taken as its row's largest weight (EASE's
                // diagonal is zero by construction, not by dissimilarity), so that an added item
                // placed on a catalog item is as similar to it as that item's closest one.
                let q = self.query_of(&[(item, 1.0)], &[1.0], 1);
                let mut row = self.catalog_scores(&q)?;
                for (&j, &w) in q.items.iter().zip(&q.weights) {
                    let own = self.catalog_scores(&Query::plain(&[j], &[1.0]))?;
                    row[j as usize] += w * own.iter().copied().fold(0.0, f32::max);
                }
                self.complete(row, false)?
            }
        };
        Ok(self.rank(&scores, Some(&[item]), k))
    }

    pub fn similar(&self, item_id: &str, k: usize) -> Result<Vec<(String, f32)>> {
        Ok(self.named(self.similar_indices(item_id, k)?))
    }

    /// Content vector of session item `i` in the bundle's modality `m` (index into
    /// `bundle.content`), when it has one.
    fn content_of(&self, i: u32, m: usize) -> Option<&[f32]> {
        let modality = &self.bundle.content[m];
        match (i as usize).checked_sub(self.n_catalog()) {
            None => modality.present[i as usize].then(|| modality.row(i as usize)),
            Some(a) => self.added[a].content.get(&modality.name).map(Vec::as_slice),
        }
    }

    /// Explains `item_id`'s score for a visitor's history (see [`Explanation`]).
    ///
    /// A sequential bundle's score is not a sum over events: there each event's influence is
    /// how much it moved the item's score when it happened (the score after the history up to
    /// and including it, less the score before it), which sums exactly to `score − base` too.
    /// A blend's or Mult-DAE's is not either: there each event's influence is what adding it
    /// moved the score, the events taken in catalog order; beyond [`EXPLAIN_EVENTS`] events
    /// the older ones' part is in `base`.
    pub fn explain(&self, history: &[HistoryEvent], item_id: &str) -> Result<Explanation> {
        let target = self.index(item_id)? as usize;
        let events = self.resolve(history)?;
        let at = |q: &Query, personal: bool| -> Result<f32> {
            Ok(self.complete(self.catalog_scores(q)?, personal)?[target])
        };
        let (full, _) = self.query(history)?;
        let score = at(&full, true)?;
        let personal = score - at(&full, false)?;
        let sequence = match self.sequential() {
            Some((_, VisitorEncoder::Sequence(e))) => Some(e.max_len),
            _ => None,
        };
        let as_set = matches!(self.bundle.model, TrainedModel::Blend(_))
            || matches!(self.sequential(), Some((_, VisitorEncoder::Autoencoder(_))));
        let (base, mut influences) = match sequence {
            // A blend's or an autoencoder's score is not linear in the events either: each
            // event's influence is what adding it moved the score, the (resolved) events taken
            // in catalog order. Only the last EXPLAIN_EVENTS are stepped through (each step
            // scores the catalog); a longer history's older events are in `base`.
            None if as_set => {
                let prefix = |n: usize| -> Result<f32> {
                    at(
                        &self.model_query(&self.bundle.model, &events[..n], n)?,
                        false,
                    )
                };
                let start = events.len().saturating_sub(EXPLAIN_EVENTS);
                let base = prefix(start)?;
                let mut before = base;
                let mut moved = Vec::with_capacity(events.len() - start);
                for n in start + 1..=events.len() {
                    let after = prefix(n)?;
                    moved.push((events[n - 1].0, after - before));
                    before = after;
                }
                (base, moved)
            }
            None => {
                let base = at(&self.query_of(&[], &[], events.len()), false)?;
                // Each event alone, with the weight it has in the whole history.
                let weights = self.event_weights(&events);
                let influences = events
                    .iter()
                    .zip(&weights)
                    .map(|(&e, &w)| {
                        let q = self.query_of(&[e], &[w], events.len());
                        Ok((e.0, at(&q, false)? - base))
                    })
                    .collect::<Result<Vec<(u32, f32)>>>()?;
                (base, influences)
            }
            Some(max_len) => {
                // Only the window the encoder reads moves the score: older events get nothing.
                let order = self.ordered(history)?;
                let order = &order[order.len().saturating_sub(max_len)..];
                let prefix = |n: usize| -> Result<f32> {
                    let q = Query {
                        user: Some(self.encode(&order[..n])?),
                        ..Query::default()
                    };
                    at(&q, false)
                };
                let base = prefix(0)?;
                let (mut before, mut by_item) = (base, BTreeMap::<u32, f32>::new());
                for (n, &i) in order.iter().enumerate() {
                    let after = prefix(n + 1)?;
                    *by_item.entry(i).or_default() += after - before;
                    before = after;
                }
                (base, by_item.into_iter().collect())
            }
        };
        influences.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

        let mut modalities: Vec<(String, f32)> = (0..self.bundle.content.len())
            .filter_map(|m| {
                let t = self.content_of(target as u32, m)?;
                let total: f32 = events
                    .iter()
                    .filter_map(|e| self.content_of(e.0, m))
                    .map(|h| cosine(t, h).max(0.0))
                    .sum();
                Some((self.bundle.content[m].name.clone(), total))
            })
            .collect();
        let sum: f32 = modalities.iter().map(|m| m.1).sum();
        if sum > 0.0 {
            modalities.iter_mut().for_each(|m| m.1 /= sum);
        } else {
            modalities.clear();
        }
        modalities.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(Explanation {
            item: item_id.to_owned(),
            score,
            base,
            influences: self.named(influences),
            personal,
            modalities,
        })
    }

    /// Adds an item described by its `content` vectors (modality name → vector, encoded by the
    /// bundle's encoders); returns its catalog neighbours `(id, weight)`. The id must be new.
    pub fn add_item(
        &mut self,
        id: &str,
        title: Option<String>,
        content: BTreeMap<String, Vec<f32>>,
    ) -> Result<Vec<(String, f32)>> {
        if id.is_empty() {
            return Err(Error::Data("an added item needs a non-empty id".into()));
        }
        if self.index(id).is_ok() {
            return Err(Error::Data(format!("item '{id}' already exists")));
        }
        let mut shared = Vec::new();
        for (name, v) in &content {
            let m = self
                .bundle
                .content
                .iter()
                .position(|m| &m.name == name)
                .ok_or_else(|| {
                    Error::Data(format!(
                        "this bundle stores no '{name}' content to compare a new item with"
                    ))
                })?;
            if v.len() != self.bundle.content[m].dim {
                return Err(Error::Data(format!(
                    "'{name}' vector has {} values, the catalog's have {}",
                    v.len(),
                    self.bundle.content[m].dim
                )));
            }
            if !v.iter().all(|x| x.is_finite()) || norm(v) == 0.0 {
                return Err(Error::Data(format!(
                    "'{name}' vector is zero or not finite"
                )));
            }
            shared.push((m, v));
        }
        if self.bundle.content.is_empty() {
            return Err(Error::Config(
                "this bundle stores no catalog content to place a new item by (train it with \
                 --catalog-content text)"
                    .into(),
            ));
        }
        if shared.is_empty() {
            return Err(Error::Data(format!(
                "item '{id}' has no content the catalog has ({})",
                self.content_names().join(", ")
            )));
        }
        let shared: Vec<(usize, Vec<f32>)> = shared
            .into_iter()
            .filter_map(|(m, v)| Some((m, placement::unit(v)?)))
            .collect();
        let sims: Vec<(u32, f32)> = (0..self.n_catalog() as u32)
            .filter_map(|i| {
                let rows: Vec<Option<Vec<f32>>> = shared
                    .iter()
                    .map(|&(m, _)| self.content_of(i, m).and_then(placement::unit))
                    .collect();
                let pairs = shared
                    .iter()
                    .zip(&rows)
                    .map(|((_, v), row)| (Some(v.as_slice()), row.as_deref()));
                Some((i, placement::similarity(pairs)?))
            })
            .collect();
        if sims.is_empty() {
            return Err(Error::Data(format!(
                "no catalog item has the content item '{id}' comes with"
            )));
        }
        let neighbors = placement::neighbor_weights(sims, NEIGHBORS, TEMPERATURE);
        let index = self.n_items() as u32;
        self.added.push(AddedItem {
            id: id.to_owned(),
            title,
            content,
            neighbors: neighbors.clone(),
        });
        self.added_index.insert(id.to_owned(), index);
        Ok(self.named(neighbors))
    }

    /// Names of the bundle's content modalities.
    pub fn content_names(&self) -> Vec<String> {
        self.bundle.content.iter().map(|m| m.name.clone()).collect()
    }

    /// The adaptor's training pairs for local `events`: each liked event (rating ≥ 4, or no
    /// rating) against each disliked one (rating ≤ 2) and against `negatives` sampled items the
    /// events do not name. Errors when the bundle has no item features or no event is liked.
    pub fn personalize_pairs(
        &self,
        events: &[HistoryEvent],
        config: &PersonalizeConfig,
    ) -> Result<Pairs> {
        let ok = (1..=10_000).contains(&config.steps)
            && config.lr.is_finite()
            && config.lr > 0.0
            && config.l2.is_finite()
            && config.l2 >= 0.0
            && config.strength.is_finite()
            && config.negatives <= 1000;
        if !ok {
            return Err(Error::Config(
                "personalize: steps 1…10000, lr > 0, l2 ≥ 0, finite strength, negatives ≤ 1000"
                    .into(),
            ));
        }
        let f = &self.features;
        if f.dim == 0 {
            return Err(Error::Config(
                "this bundle stores no item features to personalize on (train it with \
                 --catalog-content, or use a factor model; a blend's parts give none)"
                    .into(),
            ));
        }
        // An event without a rating is implicit feedback: liked (`resolve` would read it as 1).
        let implicit: Vec<HistoryEvent> = events
            .iter()
            .map(|e| HistoryEvent {
                item: e.item.clone(),
                rating: Some(e.rating.unwrap_or(5.0)),
                time: None,
            })
            .collect();
        let events = self.resolve(&implicit)?;
        let liked: Vec<u32> = events.iter().filter(|e| e.1 >= 4.0).map(|e| e.0).collect();
        let disliked: Vec<u32> = events.iter().filter(|e| e.1 <= 2.0).map(|e| e.0).collect();
        if liked.is_empty() {
            return Err(Error::Data(
                "personalize needs at least one liked event (rating ≥ 4, or none)".into(),
            ));
        }
        let seen: Vec<u32> = events.iter().map(|e| e.0).collect();
        let n = self.n_catalog();
        let mut rng = crate::rng::SeededRng::new(config.seed);
        let feature = |i: u32| -> Vec<f32> {
            let mut v = vec![0.0f32; f.dim];
            let mut row = vec![0.0f32; f.dim];
            for (j, w) in self.expand(i) {
                f.row(&self.bundle, j as usize, &mut row);
                v.iter_mut().zip(&row).for_each(|(a, b)| *a += w * b);
            }
            v
        };
        let mut values = Vec::new();
        let mut rows = 0;
        for &p in &liked {
            let fp = feature(p);
            let mut others = disliked.clone();
            let mut tries = 0;
            while others.len() < disliked.len() + config.negatives && tries < 100 * config.negatives
            {
                let j = rng.below(n) as u32;
                if seen.binary_search(&j).is_err() {
                    others.push(j);
                }
                tries += 1;
            }
            for o in others {
                let fo = feature(o);
                values.extend(fp.iter().zip(&fo).map(|(a, b)| a - b));
                rows += 1;
            }
        }
        Ok(Pairs {
            dim: f.dim,
            rows,
            values,
        })
    }

    /// Installs a fitted θ (see [`super::adaptor`]).
    pub fn set_adaptor(&mut self, theta: Vec<f32>, strength: f32, steps: usize) -> Result<()> {
        if theta.len() != self.features.dim || !theta.iter().all(|x| x.is_finite()) {
            return Err(Error::Data(format!(
                "adaptor has {} values, expected {} finite ones",
                theta.len(),
                self.features.dim
            )));
        }
        let steps = steps + self.adaptor.as_ref().map_or(0, |a| a.steps);
        self.adaptor = Some(Adaptor {
            theta,
            strength,
            steps,
        });
        Ok(())
    }

    /// The adaptor's starting point for the next fine-tuning (zero before the first).
    pub fn theta(&self) -> Vec<f32> {
        self.adaptor
            .as_ref()
            .map_or_else(|| vec![0.0; self.features.dim], |a| a.theta.clone())
    }

    /// Fine-tunes the adaptor on `events` on an autodiff device, synchronously (native; the
    /// browser runs the same [`super::adaptor::fit_adaptor`] and reads θ back
    /// asynchronously).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn personalize<B: burn::tensor::backend::AutodiffBackend>(
        &mut self,
        events: &[HistoryEvent],
        config: &PersonalizeConfig,
        device: &B::Device,
    ) -> Result<()> {
        let pairs = self.personalize_pairs(events, config)?;
        let theta =
            super::adaptor::fit_adaptor::<B>(&self.theta(), &pairs, config, device, &mut |_| {})?;
        let theta = crate::device::read_floats(theta)?;
        self.set_adaptor(theta, config.strength, config.steps)
    }

    /// Per-block names of the adaptor's features (`text`, `tabular`, `collaborative`, …).
    pub fn feature_blocks(&self) -> Vec<String> {
        self.features.blocks.iter().map(|b| b.0.clone()).collect()
    }

    /// The state a page saves.
    pub fn state(&self) -> SessionState {
        SessionState {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            bundle: self.weights_sha256(),
            added: self.added.clone(),
            adaptor: self.adaptor.clone(),
        }
    }

    pub(crate) fn weights_sha256(&self) -> String {
        self.bundle
            .manifest
            .files
            .get(WEIGHTS_FILE)
            .map(|f| f.sha256.clone())
            .unwrap_or_default()
    }

    /// Restores a saved state onto this (fresh) session; it must belong to this bundle.
    pub fn restore(&mut self, state: SessionState) -> Result<()> {
        if state.format != STATE_FORMAT || state.version != STATE_VERSION {
            return Err(Error::Data(format!(
                "not a saved session (format '{}' version {})",
                state.format, state.version
            )));
        }
        if state.bundle != self.weights_sha256() {
            return Err(Error::Data(
                "the saved session belongs to another bundle".into(),
            ));
        }
        let n = self.n_catalog() as u32;
        self.added.clear();
        self.added_index.clear();
        self.adaptor = None;
        for a in state.added {
            if a.neighbors.is_empty() || a.neighbors.iter().any(|&(m, w)| m >= n || !w.is_finite())
            {
                return Err(Error::Data(format!(
                    "saved item '{}' has invalid neighbours",
                    a.id
                )));
            }
            if self.index(&a.id).is_ok() {
                return Err(Error::Data(format!("saved item '{}' is duplicated", a.id)));
            }
            self.added_index.insert(a.id.clone(), self.n_items() as u32);
            self.added.push(a);
        }
        if let Some(a) = state.adaptor {
            self.set_adaptor(a.theta, a.strength, a.steps)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::features::Modality;
    use crate::model::Popularity;

    #[test]
    fn a_serving_bundle_answers_a_visitor_as_its_full_bundle() {
        let (full, serving) = crate::store::tests::full_and_serving();
        let (a, b) = (Session::new(full), Session::new(serving));
        for history in [vec!["i1"], vec!["i0", "i2"]] {
            let h: Vec<HistoryEvent> = history
                .iter()
                .map(|i| HistoryEvent {
                    item: (*i).into(),
                    rating: None,
                    time: None,
                })
                .collect();
            let (q, _) = a.query(&h).unwrap();
            assert_eq!(a.catalog_scores(&q).unwrap(), b.catalog_scores(&q).unwrap());
            assert_eq!(
                a.recommend(&h, 3, false).unwrap(),
                b.recommend(&h, 3, false).unwrap()
            );
        }
        // First visits rank by the stored counts as by the history: items 0 and 2, then 1.
        let first = b.recommend(&[], 3, true).unwrap();
        assert_eq!(a.recommend(&[], 3, true).unwrap(), first);
        assert_eq!(first[2].0, "i1");
    }

    /// A 4-item factor bundle with a 2-d `text` content; items 0 and 1 alike, 2 and 3 alike.
    fn session() -> Session {
        Session::new(crate::fuzzing::tiny_bundle().expect("the fuzzing seed bundle"))
    }

    fn events(ids: &[(&str, Option<f32>)]) -> Vec<HistoryEvent> {
        ids.iter()
            .map(|&(item, rating)| HistoryEvent {
                item: item.into(),
                rating,
                time: None,
            })
            .collect()
    }

    #[test]
    fn filters_restrict_lists_to_ids_or_a_category() {
        let s = session();
        let h = events(&[("i0", None)]);
        let all = s.recommend(&h, 3, true).unwrap();
        assert_eq!(all.len(), 3);
        let ids = Filter::Items(vec!["i3".into(), "i2".into(), "i0".into()]);
        let only = s.recommend_filtered(&h, 3, true, Some(&ids)).unwrap();
        // The seen i0 stays excluded; the rest keep the unfiltered order.
        let expected: Vec<_> = all.iter().filter(|(i, _)| i != "i1").cloned().collect();
        assert_eq!(only, expected);
        let unknown = Filter::Items(vec!["nope".into()]);
        assert_eq!(
            s.recommend_filtered(&h, 3, true, Some(&unknown))
                .unwrap_err()
                .code(),
            "UNKNOWN_ITEM"
        );
        let horror = Filter::Category("Horror".into());
        assert_eq!(
            s.recommend_filtered(&h, 3, true, Some(&horror))
                .unwrap_err()
                .code(),
            "BAD_CONFIG",
            "a bundle without categories"
        );

        let mut bundle = session().bundle;
        let mut categories = crate::data::Categories::default();
        for c in [&["Comedy"][..], &["Horror"], &[], &["Horror", "Drama"]] {
            categories.push(c.iter().copied());
        }
        bundle.manifest.item_categories = categories;
        let s = Session::new(bundle);
        let got = s.recommend_filtered(&h, 3, true, Some(&horror)).unwrap();
        let mut names: Vec<_> = got.iter().map(|(i, _)| i.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["i1", "i3"]);
        let first = s.recommend_filtered(&[], 3, true, Some(&horror)).unwrap();
        assert_eq!(first.len(), 2);
        let none = Filter::Category("Western".into());
        assert_eq!(
            s.recommend_filtered(&h, 3, true, Some(&none))
                .unwrap_err()
                .code(),
            "BAD_CONFIG"
        );
        let items = s.items();
        assert_eq!(items.len(), 4);
        assert_eq!(items[3].0, "i3");
        assert_eq!(items[3].2, ["Horror".to_string(), "Drama".to_string()]);
    }

    #[test]
    fn a_first_visit_gets_the_most_popular_items_and_k_zero_is_an_error() {
        let mut bundle = session().bundle;
        bundle.history = crate::model::UserHistory {
            offsets: vec![0, 2],
            items: vec![3, 1],
            ratings: vec![1.0, 1.0],
        };
        let s = Session::new(bundle);
        let recs = s.recommend(&[], 3, true).unwrap();
        assert_eq!(
            recs,
            [
                ("i1".to_string(), 1.0),
                ("i3".into(), 1.0),
                ("i0".into(), 0.0)
            ]
        );
        assert!(matches!(
            s.recommend(&events(&[("i0", None)]), 0, true),
            Err(Error::Config(_))
        ));
        assert!(matches!(s.similar("i0", 0), Err(Error::Config(_))));
    }

    #[test]
    fn an_added_item_scores_as_its_neighbours_mixture() {
        let mut s = session();
        let near = s
            .add_item(
                "new",
                Some("New".into()),
                [("text".into(), vec![0.0, 2.0])].into(),
            )
            .unwrap();
        // Closest to item 2 (cosine 1), then 3; the softmax weights sum to 1.
        assert_eq!(near[0].0, "i2");
        assert!((near.iter().map(|n| n.1).sum::<f32>() - 1.0).abs() < 1e-6);
        let h = events(&[("i2", None)]);
        let scores = s.scores_for_history(&h).unwrap();
        let expected: f32 = s.added()[0]
            .neighbors
            .iter()
            .map(|&(m, w)| w * scores[m as usize])
            .sum();
        assert_eq!(scores.len(), 5);
        assert!((scores[4] - expected).abs() < 1e-6);
        // It is the most similar item to i2 after i3 … or i3 after it: either way in the top 2.
        let similar = s.similar("i2", 2).unwrap();
        assert!(similar.iter().any(|(id, _)| id == "new"), "{similar:?}");
        // An event on it is an event on its neighbours.
        let via_new = s.scores_for_history(&events(&[("new", None)])).unwrap();
        assert!(via_new[2] > via_new[0]);
        // Errors: duplicate id, unknown modality, wrong size.
        assert!(s
            .add_item("new", None, [("text".into(), vec![1.0, 0.0])].into())
            .is_err());
        assert!(s
            .add_item("x", None, [("image".into(), vec![1.0, 0.0])].into())
            .is_err());
        assert!(s
            .add_item("x", None, [("text".into(), vec![1.0])].into())
            .is_err());
        assert!(s.add_item("x", None, BTreeMap::new()).is_err());
    }

    #[test]
    fn explanation_adds_up_with_added_items_and_the_adaptor() {
        let mut s = session();
        s.add_item("new", None, [("text".into(), vec![0.0, 1.0])].into())
            .unwrap();
        s.set_adaptor(vec![0.5, -0.5, 1.0, 0.0], 1.0, 3).unwrap();
        let h = events(&[("i0", Some(5.0)), ("new", None)]);
        for item in ["i1", "i3", "new"] {
            let e = s.explain(&h, item).unwrap();
            let total = e.base + e.influences.iter().map(|x| x.1).sum::<f32>() + e.personal;
            assert!((total - e.score).abs() < 1e-5, "{e:?}");
            let i = s.index(item).unwrap() as usize;
            assert!((s.scores_for_history(&h).unwrap()[i] - e.score).abs() < 1e-6);
            assert_eq!(e.modalities.len(), 1);
            assert!((e.modalities[0].1 - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn explanation_adds_up_for_a_rank_weighted_item_item_bundle() {
        // Each event's rank weight comes from the whole history (ratings 1, 5, 3 rank 1, 3, 2),
        // also in the one-event queries of the influences and for an added item's neighbours.
        let knn = crate::model::ItemKnn {
            config: crate::model::ItemKnnConfig {
                k: 3,
                rank_weight: 1.0,
                ..Default::default()
            },
            neighbors: vec![1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2],
            similarities: vec![0.5, 0.2, 0.1, 0.5, 0.3, 0.1, 0.2, 0.3, 0.4, 0.1, 0.1, 0.4],
        };
        let text = Modality {
            name: "text".into(),
            dim: 2,
            values: vec![1.0, 0.0, 1.0, 0.1, 0.0, 1.0, 0.1, 1.0],
            present: vec![true; 4],
        };
        let bundle = crate::store::tests::tiny_bundle(TrainedModel::ItemKnn(knn), vec![text]);
        let mut s = Session::new(bundle);
        s.add_item("new", None, [("text".into(), vec![0.0, 1.0])].into())
            .unwrap();
        let h = events(&[("i0", Some(1.0)), ("i1", Some(5.0)), ("new", Some(3.0))]);
        for item in ["i2", "i3"] {
            let e = s.explain(&h, item).unwrap();
            let total = e.base + e.influences.iter().map(|x| x.1).sum::<f32>() + e.personal;
            assert!((total - e.score).abs() < 1e-6, "{e:?}");
            let i = s.index(item).unwrap() as usize;
            assert!((s.scores_for_history(&h).unwrap()[i] - e.score).abs() < 1e-6);
        }
    }

    #[test]
    fn state_round_trips_and_is_tied_to_its_bundle() {
        let mut s = session();
        s.add_item(
            "new",
            Some("N".into()),
            [("text".into(), vec![0.3, 1.0])].into(),
        )
        .unwrap();
        s.set_adaptor(vec![0.1, 0.2, 0.3, 0.4], 2.0, 5).unwrap();
        let h = events(&[("i1", None)]);
        let before = s.recommend(&h, 4, true).unwrap();
        let json = serde_json::to_string(&s.state()).unwrap();
        let mut fresh = session();
        fresh.restore(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(fresh.recommend(&h, 4, true).unwrap(), before);
        let mut other = s.state();
        other.bundle = "0".repeat(64);
        assert!(session().restore(other).is_err());
    }

    #[test]
    fn personalize_pairs_read_ratings_as_likes_and_dislikes() {
        let s = session();
        let config = PersonalizeConfig {
            negatives: 0,
            ..PersonalizeConfig::default()
        };
        // No rating = liked; 1★ = disliked; 3★ = neither.
        let pairs = s
            .personalize_pairs(
                &events(&[("i0", None), ("i3", Some(1.0)), ("i1", Some(3.0))]),
                &config,
            )
            .unwrap();
        assert_eq!(pairs.rows, 1);
        // φ(i0) − φ(i3): text block (1, 0) − (0.1, 1)/‖·‖, then the item-vector block.
        let n = (0.01f32 + 1.0).sqrt();
        assert!(
            (pairs.values[0] - (1.0 - 0.1 / n)).abs() < 1e-6,
            "{:?}",
            pairs.values
        );
        assert!((pairs.values[1] - (0.0 - 1.0 / n)).abs() < 1e-6);
        assert!(s
            .personalize_pairs(&events(&[("i3", Some(1.0))]), &config)
            .is_err());
        let bad = PersonalizeConfig {
            steps: 0,
            ..PersonalizeConfig::default()
        };
        assert!(matches!(
            s.personalize_pairs(&events(&[("i0", None)]), &bad),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn popularity_has_no_influences_and_no_features() {
        let bundle = crate::store::tests::tiny_bundle(
            TrainedModel::Popularity(Popularity {
                counts: vec![3.0, 1.0, 2.0, 0.0],
            }),
            Vec::new(),
        );
        let s = Session::new(bundle);
        let e = s.explain(&events(&[("i1", None)]), "i0").unwrap();
        assert_eq!((e.score, e.base, e.influences[0].1), (3.0, 3.0, 0.0));
        assert!(s
            .personalize_pairs(&events(&[("i1", None)]), &PersonalizeConfig::default())
            .is_err());
    }
}
