//! The experiments behind the README's multimodal tables: ablations over modalities and fusion
//! strategies, cold start, and missing modalities — all on the same protocol as the baselines.

use crate::data::{Dataset, Split};
use crate::device::{run_on, BackendTask, DeviceKind};
use crate::encode::features::Modality;
use crate::encode::Content;
use crate::error::{Error, Result};
use crate::eval::{evaluate, Metrics, Target};
use crate::model::{train_hybrid, HybridConfig, HybridInputs, TrainedModel, UserHistory};
use crate::rank::placement;
use crate::train::TrainObserver;

/// Result of one hybrid run.
pub struct HybridRun {
    /// The trained model's precomputed user and item vectors (full presence mask).
    pub model: TrainedModel,
    /// Validation metrics of the same model: what settings are chosen on.
    pub valid: Metrics,
    pub test: Metrics,
    /// Test metrics with the named modality hidden for a share of items (missing-modality run).
    pub degraded: Option<Metrics>,
    pub shares: Vec<(String, f64)>,
}

struct HybridTask<'a> {
    config: &'a HybridConfig,
    split: &'a Split,
    content: &'a Content,
    cold: &'a [bool],
    /// (modality, share of items) to hide at test time.
    hide: Option<(&'a str, f64)>,
    observer: &'a mut dyn TrainObserver,
}

impl BackendTask for HybridTask<'_> {
    type Output = HybridRun;
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        self,
        device: B::Device,
    ) -> Result<HybridRun> {
        let history = UserHistory::from_interactions(self.split.n_users, &self.split.train);
        let inputs = HybridInputs::from_content(self.content, self.config, self.cold)?;
        let (trained, _) = train_hybrid::<B>(
            self.config,
            self.split,
            &history,
            &inputs,
            &device,
            self.observer,
        )?;
        let presence = trained.presence();
        let model = TrainedModel::Factor(trained.factors(&history, &presence)?);
        let valid = evaluate(&model, self.split, &history, Target::Valid);
        let test = evaluate(&model, self.split, &history, Target::Test);
        let names = trained.token_names();
        let degraded = match self.hide {
            None => None,
            Some((name, share)) => {
                let t = names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| Error::Config(format!("the model does not use '{name}'")))?;
                let mut rng = crate::rng::SeededRng::new(self.config.train.seed ^ 0xC0FFEE);
                let mut hidden = presence.clone();
                for row in hidden.chunks_mut(names.len()) {
                    if rng.unit_f64() < share {
                        row[t] = 0.0;
                    }
                }
                let m = TrainedModel::Factor(trained.factors(&history, &hidden)?);
                Some(evaluate(&m, self.split, &history, Target::Test))
            }
        };
        let shares = names.into_iter().zip(trained.mean_shares()?).collect();
        Ok(HybridRun {
            model,
            valid,
            test,
            degraded,
            shares,
        })
    }
}

/// Trains and evaluates one hybrid configuration.
pub fn run_hybrid(
    config: &HybridConfig,
    split: &Split,
    content: &Content,
    cold: &[bool],
    hide: Option<(&str, f64)>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<HybridRun> {
    run_on(
        device,
        HybridTask {
            config,
            split,
            content,
            cold,
            hide,
            observer,
        },
    )
}

/// One row of a results table: a name and metrics averaged over seeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub seeds: usize,
    /// Test metrics.
    pub metrics: Metrics,
    /// Validation metrics, for choosing between rows without looking at test.
    pub valid: Metrics,
    /// Mean modality shares (fused models only).
    pub shares: Vec<(String, f64)>,
}

/// Metric-wise mean over runs.
pub fn mean_metrics(runs: &[Metrics]) -> Metrics {
    Metrics::mean(runs)
}

/// The ablation's configurations: (name, config) on top of `base`; all without the user tower's
/// recency path and time features but the row named for them.
pub fn ablation_configs(base: &HybridConfig) -> Vec<(String, HybridConfig)> {
    use crate::fuse::FusionKind;
    let with = |modalities: &[&str], fusion: FusionKind| HybridConfig {
        modalities: modalities.iter().map(|m| m.to_string()).collect(),
        fusion,
        user_recent: false,
        ..base.clone()
    };
    vec![
        (
            "two-tower id-only".into(),
            HybridConfig {
                user_features: false,
                ..with(&[], FusionKind::Gated)
            },
        ),
        ("+text (MiniLM)".into(), with(&["text"], FusionKind::Gated)),
        (
            "+graph/tabular".into(),
            with(&["tabular", "kg"], FusionKind::Gated),
        ),
        (
            "all, concat".into(),
            with(&["text", "tabular", "kg"], FusionKind::Concat),
        ),
        (
            "all, gated".into(),
            with(&["text", "tabular", "kg"], FusionKind::Gated),
        ),
        (
            "all, gated + recent&time".into(),
            HybridConfig {
                user_recent: true,
                ..with(&["text", "tabular", "kg"], FusionKind::Gated)
            },
        ),
        (
            "all, attention".into(),
            with(&["text", "tabular", "kg"], FusionKind::Attention),
        ),
    ]
}

/// Runs `config` with model seeds `seeds` on `split` and averages the test metrics. With
/// `hide = (token, share)`, each run also measures test metrics with that token hidden for that
/// share of items (see [`degraded_mean`]).
#[allow(clippy::too_many_arguments)]
pub fn averaged(
    name: &str,
    config: &HybridConfig,
    seeds: &[u64],
    split: &Split,
    content: &Content,
    cold: &[bool],
    hide: Option<(&str, f64)>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<(Row, Vec<HybridRun>)> {
    let mut runs = Vec::new();
    for &seed in seeds {
        let mut c = config.clone();
        c.train.seed = seed;
        runs.push(run_hybrid(
            &c, split, content, cold, hide, device, observer,
        )?);
    }
    let metrics = mean_metrics(&runs.iter().map(|r| r.test.clone()).collect::<Vec<_>>());
    let valid = mean_metrics(&runs.iter().map(|r| r.valid.clone()).collect::<Vec<_>>());
    let mut shares = runs[0].shares.clone();
    for (k, s) in shares.iter_mut().enumerate() {
        s.1 = runs.iter().map(|r| r.shares[k].1).sum::<f64>() / runs.len() as f64;
    }
    Ok((
        Row {
            name: name.into(),
            seeds: seeds.len(),
            metrics,
            valid,
            shares,
        },
        runs,
    ))
}

/// Mean test metrics of the runs' hidden-token measurements.
pub fn degraded_mean(runs: &[HybridRun]) -> Option<Metrics> {
    let d: Vec<Metrics> = runs.iter().filter_map(|r| r.degraded.clone()).collect();
    (!d.is_empty()).then(|| mean_metrics(&d))
}

/// Cold start: `share` of the items (seeded, among items with positive feedback) leave training
/// entirely and are the test items: test = every positive interaction with them. Another
/// `share` of the items leaves training too and serves as **validation cold items** (valid =
/// every positive interaction with them), so early stopping measures what cold start needs —
/// generalisation to items never trained on — without touching the test items. Returns the
/// modified split and the mask of every item kept out of training (test and validation).
pub fn cold_start_split(split: &Split, share: f64, seed: u64) -> (Split, Vec<bool>) {
    let mut items: Vec<u32> = split
        .train
        .iter()
        .chain(&split.valid)
        .chain(&split.test)
        .map(|x| x.item)
        .collect();
    items.sort_unstable();
    items.dedup();
    let mut rng = crate::rng::SeededRng::new(seed);
    rng.shuffle(&mut items);
    let n_cold = (items.len() as f64 * share).round() as usize;
    let mut test_item = vec![false; split.n_items];
    let mut cold = vec![false; split.n_items];
    items[..n_cold].iter().for_each(|&i| {
        test_item[i as usize] = true;
        cold[i as usize] = true;
    });
    items[n_cold..(2 * n_cold).min(items.len())]
        .iter()
        .for_each(|&i| cold[i as usize] = true);
    let all = || split.train.iter().chain(&split.valid).chain(&split.test);
    let out = Split {
        n_users: split.n_users,
        n_items: split.n_items,
        test_excludes_valid: split.test_excludes_valid,
        train: split
            .train
            .iter()
            .filter(|x| !cold[x.item as usize])
            .copied()
            .collect(),
        valid: all()
            .filter(|x| cold[x.item as usize] && !test_item[x.item as usize])
            .copied()
            .collect(),
        test: all()
            .filter(|x| test_item[x.item as usize])
            .copied()
            .collect(),
    };
    (out, cold)
}

/// The model for cold start: an item tower of content alone (MiniLM text and tabular features),
/// so that warm and cold items are represented the same way. TF-IDF and KG features are left
/// out on purpose: most of their dimensions belong to a handful of items, so the tower uses them
/// to memorise the training items (a tower with them ranked cold items below random, Recall@20
/// 0.005–0.012, while this one reached 0.078 in a first single-seed run).
///
/// The user tower keeps the cold-start experiment's earlier form (no recency path or time
/// features): those were validated on warm items only.
pub fn cold_start_config(base: &HybridConfig) -> HybridConfig {
    HybridConfig {
        modalities: vec!["text".into(), "tabular".into()],
        item_id: false,
        user_recent: false,
        ..base.clone()
    }
}

/// The content baseline for cold start: item-kNN whose similarities are TF-IDF cosines of the
/// items' text (title, year, genres), 100 neighbours per item.
pub fn tfidf_knn(dataset: &Dataset) -> TrainedModel {
    use crate::encode::features::item_text;
    use crate::encode::tfidf::{sparse_dot, TfIdf};
    let by_id = dataset.items.by_id();
    let texts: Vec<String> = dataset
        .log
        .items
        .iter()
        .map(|id| by_id.get(id).and_then(|r| item_text(r)).unwrap_or_default())
        .collect();
    let tfidf = TfIdf::fit(&texts, 1);
    let vectors: Vec<_> = texts.iter().map(|t| tfidf.transform(t)).collect();
    knn_from_similarity(vectors.len(), 100, |i, j| {
        sparse_dot(&vectors[i], &vectors[j])
    })
}

/// Item-kNN over a content similarity: each item keeps its `k` most similar items (positive
/// similarities only), scored like collaborative item-kNN.
fn knn_from_similarity(n: usize, k: usize, sim: impl Fn(usize, usize) -> f32) -> TrainedModel {
    use crate::model::{ItemKnn, ItemKnnConfig};
    let config = ItemKnnConfig {
        k: k.min(n.saturating_sub(1)).max(1),
        shrink: 0.0,
        ..Default::default()
    };
    let k = config.k;
    let mut neighbors = vec![u32::MAX; n * k];
    let mut similarities = vec![0.0; n * k];
    for i in 0..n {
        let mut row: Vec<(f32, u32)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (sim(i, j), j as u32))
            .filter(|(s, _)| *s > 0.0)
            .collect();
        row.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (slot, (s, j)) in row.into_iter().take(k).enumerate() {
            neighbors[i * k + slot] = j;
            similarities[i * k + slot] = s;
        }
    }
    TrainedModel::ItemKnn(ItemKnn {
        config,
        neighbors,
        similarities,
    })
}

/// The placement similarity of items `i` and `j` (see [`placement::similarity`]).
fn mean_cosine(units: &[Vec<Option<Vec<f32>>>], i: usize, j: usize) -> Option<f32> {
    placement::similarity(units.iter().map(|u| (u[i].as_deref(), u[j].as_deref())))
}

/// Item-kNN on fused content: the similarity of two items is the mean, over the modalities both
/// have, of their cosine similarities. Late fusion, deterministic, no training.
pub fn fused_content_knn(modalities: &[&Modality], k: usize) -> TrainedModel {
    let n = modalities.first().map_or(0, |m| m.n_items());
    let units: Vec<_> = modalities.iter().map(|m| placement::unit_rows(m)).collect();
    knn_from_similarity(n, k, |i, j| mean_cosine(&units, i, j).unwrap_or(0.0))
}

/// Cold start with the content-augmented EASE: cold items have no co-occurrences, so their
/// weights come from the content Gram matrix alone. Deterministic (no seed).
pub fn cold_start_ease(cold_split: &Split, content: &Content) -> Result<Metrics> {
    let config = crate::model::EaseConfig::multimodal_default();
    let history = UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let model = crate::model::train_ease(
        &config,
        &history,
        cold_split.n_items,
        &content.select(&config.modalities)?,
    )?;
    Ok(evaluate(
        &TrainedModel::ItemKnn(model),
        cold_split,
        &history,
        Target::Test,
    ))
}

struct GraphTask<'a> {
    config: &'a crate::model::GraphConfig,
    split: &'a Split,
    content: &'a Content,
    cold: &'a [bool],
    observer: &'a mut dyn TrainObserver,
}

impl BackendTask for GraphTask<'_> {
    type Output = Metrics;
    fn run<B: burn::tensor::backend::AutodiffBackend>(self, device: B::Device) -> Result<Metrics> {
        let history = UserHistory::from_interactions(self.split.n_users, &self.split.train);
        let (model, _) = crate::model::train_graph::<B>(
            self.config,
            self.split,
            &history,
            &self.content.select(&self.config.modalities)?,
            self.cold,
            &device,
            self.observer,
        )?;
        Ok(evaluate(
            &TrainedModel::Factor(model),
            self.split,
            &history,
            Target::Test,
        ))
    }
}

/// Trains the graph model with `cold` items left out of the interaction graph (they keep their
/// place in the content graph, which is how they get an embedding) and returns test metrics.
pub fn run_graph(
    config: &crate::model::GraphConfig,
    split: &Split,
    content: &Content,
    cold: &[bool],
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<Metrics> {
    run_on(
        device,
        GraphTask {
            config,
            split,
            content,
            cold,
            observer,
        },
    )
}

/// Missing modality for the content-augmented EASE: its weights are fitted once, so "text
/// missing at test time" means fitting with `name` absent for a seeded `share` of the items (their
/// rows of that modality's Gram matrix are empty, not imputed). Returns (full, degraded) test
/// metrics.
pub fn ease_missing_modality(
    split: &Split,
    content: &Content,
    name: &str,
    share: f64,
    seed: u64,
) -> Result<(Metrics, Metrics)> {
    let config = crate::model::EaseConfig::multimodal_default();
    let history = UserHistory::from_interactions(split.n_users, &split.train);
    let fit = |modalities: &[&Modality]| -> Result<Metrics> {
        let model = crate::model::train_ease(&config, &history, split.n_items, modalities)?;
        Ok(evaluate(
            &TrainedModel::ItemKnn(model),
            split,
            &history,
            Target::Test,
        ))
    };
    let full = content.select(&config.modalities)?;
    let mut rng = crate::rng::SeededRng::new(seed ^ 0xC0FFEE);
    let mut hidden = content.get(name)?.clone();
    hidden.present.iter_mut().for_each(|p| {
        if rng.unit_f64() < share {
            *p = false;
        }
    });
    let degraded: Vec<&Modality> = full
        .iter()
        .map(|m| if m.name == name { &hidden } else { *m })
        .collect();
    Ok((fit(&full)?, fit(&degraded)?))
}

/// Late fusion of two scorers: per user, each model's scores are standardised over the catalog
/// (so that a cosine and a sum of similarities become comparable) and mixed with `weight` on
/// the first. `weight` 0 is the second model alone.
pub struct Blend<'a> {
    pub first: &'a dyn crate::eval::Scores,
    pub second: &'a dyn crate::eval::Scores,
    pub weight: f32,
}

impl crate::eval::Scores for Blend<'_> {
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        let standardised = |m: &dyn crate::eval::Scores| {
            let mut s = vec![0.0f32; out.len()];
            m.score(user, items, ratings, &mut s);
            let n = s.len().max(1) as f32;
            let mean = s.iter().sum::<f32>() / n;
            let sd = (s.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt();
            s.iter_mut().for_each(|x| *x = (*x - mean) / sd.max(1e-12));
            s
        };
        let (a, b) = (standardised(self.first), standardised(self.second));
        for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
            *o = self.weight * x + (1.0 - self.weight) * y;
        }
    }
}

/// Cold start by late fusion: the content tower (trained as in [`cold_start_config`]) blended with
/// TF-IDF item-kNN, the blend weight chosen on the *validation* cold items (Recall@20, grid
/// 0, 0.1, …, 1; ties to the smaller weight). Returns the chosen weight and test metrics.
pub fn cold_start_blend(
    config: &HybridConfig,
    cold_split: &Split,
    content: &Content,
    cold: &[bool],
    tfidf: &TrainedModel,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<(f32, Metrics)> {
    let tower = run_hybrid(config, cold_split, content, cold, None, device, observer)?.model;
    let history = UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let mut best = (f64::NEG_INFINITY, 0.0f32);
    for step in 0..=10 {
        let weight = step as f32 / 10.0;
        let blend = Blend {
            first: &tower,
            second: tfidf,
            weight,
        };
        let valid = evaluate(&blend, cold_split, &history, Target::Valid).recall(20);
        if valid > best.0 {
            best = (valid, weight);
        }
    }
    let blend = Blend {
        first: &tower,
        second: tfidf,
        weight: best.1,
    };
    Ok((best.1, evaluate(&blend, cold_split, &history, Target::Test)))
}

/// Cold items scored as the browser scores an added item: each is placed on warm catalog items
/// (its content neighbours, with weights summing to 1) and its score is the weighted mixture of
/// their scores. The neighbours' scores are the model's raw ones, seen items included: a cold
/// film that resembles films the user has watched should inherit their (high) scores.
pub struct NeighbourPlacement<'a> {
    pub base: &'a TrainedModel,
    /// `(cold item, [(warm neighbour, weight)])`; a neighbour is never itself placed.
    pub placed: Vec<(u32, Vec<(u32, f32)>)>,
}

impl crate::eval::Scores for NeighbourPlacement<'_> {
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        self.base.score(user, items, ratings, out);
        for (item, neighbors) in &self.placed {
            out[*item as usize] = neighbors.iter().map(|&(m, w)| w * out[m as usize]).sum();
        }
    }
}

/// Each cold item's similarity to every warm item: the mean cosine over the `modalities` both
/// have, as [`crate::rank::Session::add_item`] compares a new item with the catalog.
pub fn cold_similarities(modalities: &[&Modality], cold: &[bool]) -> Vec<(u32, Vec<(u32, f32)>)> {
    let units: Vec<_> = modalities.iter().map(|m| placement::unit_rows(m)).collect();
    (0..cold.len())
        .filter(|&c| cold[c])
        .map(|c| {
            let sims = (0..cold.len())
                .filter(|&w| !cold[w])
                .filter_map(|w| Some((w as u32, mean_cosine(&units, c, w)?)))
                .collect();
            (c as u32, sims)
        })
        .collect()
}

/// Neighbour counts and softmax temperatures of the placement grid (∞: equal weights).
pub const PLACEMENT_KS: [usize; 4] = [5, 10, 20, 50];
pub const PLACEMENT_TEMPERATURES: [f32; 5] = [0.01, 0.02, 0.05, 0.1, f32::INFINITY];

/// One setting of the placement grid and its Recall@20 on the validation cold items.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Placement {
    pub model: String,
    pub space: String,
    pub k: usize,
    pub temperature: f32,
    pub valid_recall: f64,
}

/// What a cold-start scorer does to the rest of the ranking. Every target of the cold-start
/// protocol is a cold item, so a scorer that lifts cold items above warm ones in general gains
/// Recall@20 without knowing the user better (see [`ColdItemsFirst`]); these two figures show
/// whether a gain came that way.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ColdDiagnostics {
    /// Mean share of cold items in the top 20 of the test users (all items ranked, seen ones
    /// excluded as in [`evaluate`]).
    pub cold_share: f64,
    /// Recall@20 of the users' held-out *warm* items (the original split's test interactions
    /// with items that stayed in training), ranked among all items.
    pub warm_recall: f64,
}

/// A control for [`ColdDiagnostics`]: `base`'s scores with every cold item moved above every warm
/// one (order within each group kept). Not a recommender: it shows how much Recall@20 the
/// cold-start protocol gives for preferring cold items as such.
pub struct ColdItemsFirst<'a> {
    pub base: &'a dyn crate::eval::Scores,
    pub cold: &'a [bool],
}

impl crate::eval::Scores for ColdItemsFirst<'_> {
    fn score(&self, user: u32, items: &[u32], ratings: &[f32], out: &mut [f32]) {
        self.base.score(user, items, ratings, out);
        let (lo, hi) = out
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        let lift = hi - lo + 1.0;
        out.iter_mut()
            .zip(self.cold)
            .filter(|(_, &c)| c)
            .for_each(|(x, _)| *x += lift);
    }
}

/// [`ColdDiagnostics`] of `scorer`; `split` is the split `cold_split` was made from.
pub fn cold_diagnostics(
    scorer: &dyn crate::eval::Scores,
    split: &Split,
    cold_split: &Split,
    cold: &[bool],
) -> ColdDiagnostics {
    use crate::data::split::items_by_user;
    let history = UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let targets = items_by_user(cold_split.n_users, &cold_split.test);
    let earlier = items_by_user(cold_split.n_users, &cold_split.valid);
    let mut scores = vec![0.0f32; cold_split.n_items];
    let (mut share, mut users) = (0.0, 0);
    for (user, relevant) in targets.iter().enumerate() {
        if relevant.is_empty() {
            continue;
        }
        let (items, ratings) = history.user(user as u32);
        scorer.score(user as u32, items, ratings, &mut scores);
        let mut excluded = [items, &earlier[user]].concat();
        excluded.sort_unstable();
        let top = crate::eval::top_k(&scores, &excluded, 20);
        share += top.iter().filter(|&&i| cold[i as usize]).count() as f64 / top.len().max(1) as f64;
        users += 1;
    }
    let warm = Split {
        valid: Vec::new(),
        test: split
            .test
            .iter()
            .filter(|x| !cold[x.item as usize])
            .copied()
            .collect(),
        ..cold_split.clone()
    };
    ColdDiagnostics {
        cold_share: share / users.max(1) as f64,
        warm_recall: evaluate(scorer, &warm, &history, Target::Test).recall(20),
    }
}

/// Result of [`cold_start_neighbours`].
pub struct ColdNeighbours {
    /// Every setting tried, in grid order (model, space, k, temperature).
    pub grid: Vec<Placement>,
    /// Index in `grid` of the setting chosen on validation.
    pub chosen: usize,
    pub test: Metrics,
    /// The TF-IDF kNN weight of the blend, chosen on validation, and the blend's test metrics.
    pub blend: (f32, Metrics),
    /// TF-IDF kNN's validation Recall@20, to read the grid against.
    pub tfidf_valid_recall: f64,
    /// Diagnostics of TF-IDF kNN, the chosen placement and the blend, in that order.
    pub diagnostics: [ColdDiagnostics; 3],
    /// The [`ColdItemsFirst`] control on TF-IDF kNN: test metrics and diagnostics.
    pub control: (Metrics, ColdDiagnostics),
}

/// Cold start with EASE and cold items placed by content neighbours (as the browser's `addItem`):
/// EASE, plain and with content (text, tabular), fitted on the cold split's training part; each
/// cold item takes the `k` warm items most similar in a content space (MiniLM text, TF-IDF,
/// tabular, text and TF-IDF, every modality), with softmax(similarity / temperature) weights. The
/// model, space, `k` and temperature are chosen on the *validation* cold items (Recall@20; ties to
/// the earlier setting in grid order); the test items are scored once, with the chosen setting.
/// The chosen placement is also blended with `tfidf` (item-kNN), the weight chosen on validation
/// as in [`cold_start_blend`]. Deterministic (no seed). `split` is the split `cold_split` was
/// made from (for [`cold_diagnostics`]).
pub fn cold_start_neighbours(
    split: &Split,
    cold_split: &Split,
    content: &Content,
    cold: &[bool],
    tfidf: &TrainedModel,
) -> Result<ColdNeighbours> {
    use crate::model::{train_ease, EaseConfig};
    use crate::rank::placement::neighbor_weights;
    let history = UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let mut models = Vec::new();
    for (name, config) in [
        ("EASE", EaseConfig::plain_default()),
        ("EASE + content", EaseConfig::multimodal_default()),
    ] {
        let model = train_ease(
            &config,
            &history,
            cold_split.n_items,
            &content.select(&config.modalities)?,
        )?;
        models.push((name, TrainedModel::ItemKnn(model)));
    }
    // "all" as the README's figures were measured: the tags modality (added later) left out.
    let every: Vec<String> = content
        .modalities
        .iter()
        .map(|m| m.name.clone())
        .filter(|n| n != "tags")
        .collect();
    let mut spaces = Vec::new();
    for (name, modalities) in [
        ("text", vec!["text".to_owned()]),
        ("tfidf", vec!["tfidf".into()]),
        ("tabular", vec!["tabular".into()]),
        ("text+tfidf", vec!["text".into(), "tfidf".into()]),
        ("all", every),
    ] {
        spaces.push((name, cold_similarities(&content.select(&modalities)?, cold)));
    }
    let place = |sims: &[(u32, Vec<(u32, f32)>)], k: usize, temperature: f32| {
        sims.iter()
            .map(|(c, s)| (*c, neighbor_weights(s.clone(), k, temperature)))
            .collect::<Vec<_>>()
    };
    let mut grid = Vec::new();
    let mut best: Option<(f64, usize, NeighbourPlacement)> = None;
    for (model_name, model) in &models {
        for (space, sims) in &spaces {
            for k in PLACEMENT_KS {
                for temperature in PLACEMENT_TEMPERATURES {
                    let scorer = NeighbourPlacement {
                        base: model,
                        placed: place(sims, k, temperature),
                    };
                    let valid_recall =
                        evaluate(&scorer, cold_split, &history, Target::Valid).recall(20);
                    if best.as_ref().is_none_or(|b| valid_recall > b.0) {
                        best = Some((valid_recall, grid.len(), scorer));
                    }
                    grid.push(Placement {
                        model: model_name.to_string(),
                        space: space.to_string(),
                        k,
                        temperature,
                        valid_recall,
                    });
                }
            }
        }
    }
    let (_, chosen, scorer) = best.ok_or_else(|| Error::Config("empty placement grid".into()))?;
    let test = evaluate(&scorer, cold_split, &history, Target::Test);
    let mut weight = (f64::NEG_INFINITY, 0.0f32);
    for step in 0..=10 {
        let w = step as f32 / 10.0;
        let blend = Blend {
            first: tfidf,
            second: &scorer,
            weight: w,
        };
        let valid = evaluate(&blend, cold_split, &history, Target::Valid).recall(20);
        if valid > weight.0 {
            weight = (valid, w);
        }
    }
    let blend = Blend {
        first: tfidf,
        second: &scorer,
        weight: weight.1,
    };
    let control = ColdItemsFirst { base: tfidf, cold };
    let diagnostics = [tfidf as &dyn crate::eval::Scores, &scorer, &blend]
        .map(|m| cold_diagnostics(m, split, cold_split, cold));
    Ok(ColdNeighbours {
        grid,
        chosen,
        test,
        blend: (
            weight.1,
            evaluate(&blend, cold_split, &history, Target::Test),
        ),
        tfidf_valid_recall: evaluate(tfidf, cold_split, &history, Target::Valid).recall(20),
        diagnostics,
        control: (
            evaluate(&control, cold_split, &history, Target::Test),
            cold_diagnostics(&control, split, cold_split, cold),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Scores;
    use crate::model::Popularity;

    #[test]
    fn placed_items_score_as_their_neighbours_mixture() {
        let base = TrainedModel::Popularity(Popularity {
            counts: vec![1.0, 2.0, 3.0, 0.0],
        });
        let placement = NeighbourPlacement {
            base: &base,
            placed: vec![(3, vec![(0, 0.25), (2, 0.75)])],
        };
        let mut out = vec![0.0; 4];
        placement.score(0, &[], &[], &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 2.5]);
        // The control lifts cold items above every warm one, keeping each group's order.
        let cold = [false, true, false, true];
        ColdItemsFirst {
            base: &placement,
            cold: &cold,
        }
        .score(0, &[], &[], &mut out);
        assert_eq!(crate::eval::top_k(&out, &[], 4), [3, 1, 2, 0]);
    }

    #[test]
    fn blend_mixes_standardised_scores() {
        let up = TrainedModel::Popularity(Popularity {
            counts: vec![1.0, 2.0, 3.0],
        });
        let down = TrainedModel::Popularity(Popularity {
            counts: vec![30.0, 20.0, 10.0],
        });
        let mut out = vec![0.0; 3];
        let blend = |weight| Blend {
            first: &up,
            second: &down,
            weight,
        };
        // Standardised, `down` is (√1.5, 0, −√1.5) whatever its scale.
        blend(0.0).score(0, &[], &[], &mut out);
        let z = 1.5f32.sqrt();
        assert!((out[0] - z).abs() < 1e-5 && out[1].abs() < 1e-5 && (out[2] + z).abs() < 1e-5);
        // Opposite rankings with equal weight cancel out.
        blend(0.5).score(0, &[], &[], &mut out);
        assert!(out.iter().all(|x| x.abs() < 1e-5), "{out:?}");
    }
}
