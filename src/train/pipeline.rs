//! From a loaded dataset to a verified bundle: split by the protocol, train on the chosen device,
//! measure validation and test metrics, and package everything the browser needs.

use crate::data::Interaction;
use crate::data::{Categories, DataSource, Dataset, Protocol, Split};
use crate::device::{run_on, BackendTask, DeviceKind};
use crate::encode::features::Modality;
use crate::encode::Content;
use crate::error::{Error, Result};
use crate::eval::click::{click_metrics, click_pairs, PopularityClick};
use crate::eval::{
    evaluate_with, ranked_lists, ranked_lists_with, topk_json, EvalOptions, ItemRows, Metrics,
    NoSpace, Rerank, Social, Target, WithFriends,
};
use crate::model::sequential::ordered_interactions;
use crate::model::{FitContext, ModelConfig, MostRecentItem, TrainedModel, UserHistory};
use crate::rank::Session;
use crate::rank::{HistoryEvent, Query};
use crate::store::{
    Bundle, BundleMetrics, ContentEntry, Dims, EncoderRef, Manifest, Precision, Provenance, FORMAT,
};
use crate::train::TrainObserver;

/// What to train, on what.
pub struct TrainRequest<'a> {
    pub dataset: &'a Dataset,
    pub source: DataSource,
    /// Fingerprint of the source files (see [`DataSource::fingerprint`]).
    pub fingerprint: String,
    pub protocol: Protocol,
    pub model: ModelConfig,
    /// Item and user content; required by the hybrid model.
    pub content: Option<&'a Content>,
    /// The social modality: a user graph and the weight of friends' scores (None: off).
    pub social: Option<Social>,
    /// How the bundle stores its catalog-sized tensors (f32, or format 3's f16/int8); metrics are
    /// measured on the stored model.
    pub precision: Precision,
    /// Catalog content to store in the bundle (for the browser's `addItem` and `personalize`),
    /// with the encoder that produced each modality where a browser can run it.
    pub catalog: Vec<(Modality, Option<EncoderRef>)>,
}

struct FitTask<'a> {
    config: &'a ModelConfig,
    content: Option<&'a Content>,
    split: &'a Split,
    history: &'a UserHistory,
    observer: &'a mut dyn TrainObserver,
}

impl BackendTask for FitTask<'_> {
    type Output = TrainedModel;
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        self,
        device: B::Device,
    ) -> Result<TrainedModel> {
        let ctx = FitContext {
            split: self.split,
            history: self.history,
            content: self.content,
            observer: self.observer,
        };
        self.config.fit::<B>(ctx, &device)
    }
}

/// Trains `request.model` under `request.protocol` on `device` and returns the bundle, with
/// validation and test metrics measured on the exact model the bundle holds.
pub fn train_bundle(
    request: TrainRequest<'_>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<Bundle> {
    train_bundle_timed(request, device, observer).map(|(bundle, _)| bundle)
}

/// Wall-clock seconds of [`train_bundle`]'s phases (kept out of the manifest, so that a bundle
/// stays a deterministic function of its data, configuration and seed).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Splitting and training the model (validation during training included).
    pub fit_seconds: f64,
    /// Validation and test metrics of the final model.
    pub evaluate_seconds: f64,
    /// Training interactions (an epoch's examples), for throughput figures.
    pub train_interactions: usize,
}

/// Seconds since the first call. `std::time::Instant` panics on wasm32-unknown-unknown, where
/// nothing trains a bundle anyway: there it reads 0.
fn clock() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    }
    #[cfg(target_arch = "wasm32")]
    0.0
}

/// [`train_bundle`], also returning how long fitting and evaluating took.
pub fn train_bundle_timed(
    request: TrainRequest<'_>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<(Bundle, Timings)> {
    let (mut bundle, split, mut timings) = fit_bundle(request, device, observer)?;
    let evaluating = clock();
    bundle.manifest.metrics = measure(&bundle, &split, None)?;
    timings.evaluate_seconds = clock() - evaluating;
    Ok((bundle, timings))
}

/// Trains exactly as [`train_bundle_timed`] does and returns the validation metrics of the
/// model that bundle would hold — bit-identical to its `manifest.metrics.valid` — without ever
/// ranking the test part. This is what a hyper-parameter search scores a trial with
/// ([`crate::train::tune`]): choosing among configurations must not look at test, so test is
/// not computed at all rather than computed and ignored.
pub fn train_valid_only(
    request: TrainRequest<'_>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<(Metrics, Timings)> {
    let (bundle, split, mut timings) = fit_bundle(request, device, observer)?;
    let evaluating = clock();
    let m = &bundle.manifest;
    let scorer = WithFriends::new(&bundle.model, m.social.as_ref(), &bundle.history);
    let options = plain_options(&m.item_categories);
    let valid = evaluate_with(&scorer, &split, &bundle.history, Target::Valid, options);
    timings.evaluate_seconds = clock() - evaluating;
    Ok((valid, timings))
}

/// Splits, trains and packages the bundle (its metrics still empty), with the split it was
/// trained on and the fitting time; the callers decide which held-out parts to evaluate.
fn fit_bundle(
    request: TrainRequest<'_>,
    device: DeviceKind,
    observer: &mut dyn TrainObserver,
) -> Result<(Bundle, Split, Timings)> {
    let started = clock();
    let log = &request.dataset.log;
    if request.model.predicts_ratings()
        && request.protocol.feedback != crate::data::Feedback::Explicit
    {
        return Err(Error::Config(format!(
            "{} fits ratings (mf, or hybrid with a rating head): use the explicit protocol",
            request.model.kind()
        )));
    }
    let split = Split::new(log, &request.protocol)?;
    let history = UserHistory::from_interactions(split.n_users, &split.train);
    let model = run_on(
        device,
        FitTask {
            config: &request.model,
            content: request.content,
            split: &split,
            history: &history,
            observer,
        },
    )?;
    let fitted = clock();
    let titles = request.dataset.items.by_id();
    let item_titles = log
        .items
        .iter()
        .map(|id| titles.get(id).and_then(|r| r.title.as_deref()))
        .collect();
    let mut item_categories = Categories::default();
    for id in log.items.iter() {
        item_categories.push(
            titles
                .get(id)
                .iter()
                .flat_map(|r| &r.categories)
                .map(String::as_str),
        );
    }
    if item_categories.none_assigned() {
        item_categories = Categories::default();
    }
    let (content, entries): (Vec<Modality>, Vec<ContentEntry>) = request
        .catalog
        .into_iter()
        .map(|(m, encoder)| {
            let entry = ContentEntry {
                name: m.name.clone(),
                dim: m.dim,
                encoder,
            };
            (m, entry)
        })
        .unzip();
    let mut bundle = Bundle {
        manifest: Manifest {
            format: FORMAT.into(),
            format_version: request.precision.format_version(),
            created_by: format!("fusionrec {}", env!("CARGO_PKG_VERSION")),
            model: request.model,
            dims: Dims {
                users: log.users.len(),
                items: log.items.len(),
            },
            users: log.users.clone(),
            items: log.items.clone(),
            item_titles,
            item_categories,
            data: Provenance {
                source: request.source.clone(),
                protocol: request.protocol,
                fingerprint: request.fingerprint,
                file_sha256: request.source.file_hashes()?,
            },
            metrics: Default::default(),
            files: Default::default(),
            content: entries,
            social: request.social,
            precision: request.precision,
        },
        model,
        history,
        content,
        item_counts: None,
        weights_file: Default::default(),
    };
    if !request.precision.is_f32() {
        // Serve and measure exactly what the browser will load: the stored, decoded weights.
        bundle = bundle.stored()?;
    }
    let timings = Timings {
        fit_seconds: fitted - started,
        evaluate_seconds: 0.0,
        train_interactions: split.train.len(),
    };
    Ok((bundle, split, timings))
}

/// The split a loaded bundle was trained on, rebuilt from `dataset` under the bundle's own
/// protocol. The dataset must be the one the bundle was trained on (same ids, same training
/// history).
pub(crate) fn bundle_split(bundle: &Bundle, dataset: &Dataset) -> Result<Split> {
    let m = &bundle.manifest;
    if dataset.log.users != m.users || dataset.log.items != m.items {
        return Err(Error::Data(
            "this dataset's users or items differ from the bundle's".into(),
        ));
    }
    let split = Split::new(&dataset.log, &m.data.protocol)?;
    if UserHistory::from_interactions(split.n_users, &split.train) != bundle.history {
        return Err(Error::Data(
            "this dataset's training split differs from the bundle's history".into(),
        ));
    }
    Ok(split)
}

/// The protocol's evaluation, with intra-list diversity in the catalog's category space when it
/// has categories.
pub(crate) fn plain_options(categories: &Categories) -> EvalOptions<'_> {
    EvalOptions {
        rerank: None,
        diversity_space: (!categories.none_assigned()).then_some(categories as &dyn ItemRows),
    }
}

/// Validation and test metrics of `bundle` on `split`: the protocol's, with intra-list
/// diversity in the catalog's category space when it has categories, and every list re-ranked
/// by `rerank` when given (MMR in the session's item space, see `rank::Session::item_space`).
pub(crate) fn measure(
    bundle: &Bundle,
    split: &Split,
    rerank: Option<&Rerank>,
) -> Result<BundleMetrics> {
    let m = &bundle.manifest;
    let scorer = WithFriends::new(&bundle.model, m.social.as_ref(), &bundle.history);
    let session;
    let space;
    let mut options = plain_options(&m.item_categories);
    if let Some(r) = rerank.filter(|r| !r.is_identity()) {
        r.validate_for(*crate::eval::KS.iter().max().unwrap_or(&10))?;
        // A threshold alone compares no items: no space to build.
        if r.diversity == 0.0 {
            options.rerank = Some((r, &NoSpace as &dyn ItemRows));
        } else {
            session = Session::new(bundle.clone());
            space = session.item_space()?;
            options.rerank = Some((r, &space as &dyn ItemRows));
        }
    }
    let at = |target| evaluate_with(&scorer, split, &bundle.history, target, options);
    Ok(BundleMetrics {
        valid: at(Target::Valid),
        test: at(Target::Test),
    })
}

/// Recomputes a loaded bundle's metrics on `dataset` under the bundle's own protocol.
pub fn reevaluate(bundle: &Bundle, dataset: &Dataset) -> Result<BundleMetrics> {
    reevaluate_with(bundle, dataset, None)
}

/// [`reevaluate`] with every list re-ranked by `rerank` (diversity, a score threshold): the
/// accuracy–diversity trade-off of a bundle under its own protocol.
pub fn reevaluate_with(
    bundle: &Bundle,
    dataset: &Dataset,
    rerank: Option<&Rerank>,
) -> Result<BundleMetrics> {
    let split = bundle_split(bundle, dataset)?;
    measure(bundle, &split, rerank)
}

/// The most-recent-item baseline ([`crate::model::MostRecentItem`]) measured on the split
/// `bundle` was trained on, exactly as the bundle's own metrics are: the reference a sequential
/// model's figures are read against.
pub fn most_recent_item_baseline(bundle: &Bundle, dataset: &Dataset) -> Result<BundleMetrics> {
    let split = bundle_split(bundle, dataset)?;
    let baseline = MostRecentItem::fit(&split, &bundle.history)?;
    let options = plain_options(&bundle.manifest.item_categories);
    let at = |target| evaluate_with(&baseline, &split, &bundle.history, target, options);
    Ok(BundleMetrics {
        valid: at(Target::Valid),
        test: at(Target::Test),
    })
}

/// The click baseline's figures on a click bundle's own split: ROC-AUC and log loss of the
/// popularity-logistic model ([`PopularityClick`], fitted on the training part) under
/// [`crate::eval::click`]'s protocol — the same pairs the bundle's click head is measured on.
/// Only the click figures are set.
pub fn click_baseline(bundle: &Bundle, dataset: &Dataset) -> Result<BundleMetrics> {
    let split = bundle_split(bundle, dataset)?;
    let model = PopularityClick::fit(&split, bundle.manifest.data.protocol.seed);
    let at = |target| {
        let (auc, log_loss) = click_metrics(&model, &click_pairs(&split, target)).unzip();
        Metrics {
            auc,
            log_loss,
            ..Metrics::default()
        }
    };
    Ok(BundleMetrics {
        valid: at(Target::Valid),
        test: at(Target::Test),
    })
}

/// Test metrics of `bundle` scored the way a page scores a visitor: each user's training and
/// validation events, in time order (see [`crate::model::sequential::training_sequences`]), as a
/// visitor's history through [`Session`] — fold-in for factor models, the encoder for a
/// sequential one — ranked without those events. The protocol sequential recommenders are
/// usually tested under (the validation event is the input's last); the bundle's own test
/// metrics give every model the training events only. For a sequential bundle, with the
/// most-recent-item baseline under the same protocol (its last item: the validation event).
pub fn visitor_metrics(bundle: &Bundle, dataset: &Dataset) -> Result<(Metrics, Option<Metrics>)> {
    let mut split = bundle_split(bundle, dataset)?;
    // The visitor's events are "seen" on the page, so never recommended back (even under
    // MMRec's keep-valid-at-test convention).
    split.test_excludes_valid = true;
    let seen: Vec<Interaction> = split.train.iter().chain(&split.valid).copied().collect();
    let rows = ordered_interactions(split.n_users, &seen);
    let session = Session::new(bundle.clone());
    let queries = rows
        .iter()
        .map(|row| {
            let events: Vec<HistoryEvent> = row
                .iter()
                .map(|x| HistoryEvent {
                    item: session.id(x.item).to_owned(),
                    rating: x.rating,
                    time: None,
                })
                .collect();
            Ok(session.query(&events)?.0)
        })
        .collect::<Result<Vec<Query>>>()?;
    let visitors = Visitors {
        session: &session,
        queries,
    };
    let options = plain_options(&bundle.manifest.item_categories);
    let measured = evaluate_with(&visitors, &split, &bundle.history, Target::Test, options);
    let recent = match &bundle.manifest.model {
        ModelConfig::Sasrec(_) => {
            let sequences: Vec<Vec<u32>> = rows
                .iter()
                .map(|row| row.iter().map(|x| x.item).collect())
                .collect();
            let recent = MostRecentItem::with_sequences(&split, &bundle.history, &sequences)?;
            Some(evaluate_with(
                &recent,
                &split,
                &bundle.history,
                Target::Test,
                options,
            ))
        }
        _ => None,
    };
    Ok((measured, recent))
}

/// Each user's visitor query, scored by the session (see [`visitor_metrics`]).
struct Visitors<'a> {
    session: &'a Session,
    queries: Vec<Query>,
}

impl crate::eval::Scores for Visitors<'_> {
    fn score(&self, user: u32, _: &[u32], _: &[f32], out: &mut [f32]) {
        // Every query's items were resolved against this session when it was built: scoring
        // cannot fail on them.
        match self
            .queries
            .get(user as usize)
            .map(|q| self.session.catalog_scores(q))
        {
            Some(Ok(scores)) if scores.len() == out.len() => out.copy_from_slice(&scores),
            _ => out.fill(0.0),
        }
    }
}

/// The bundle's top `k` for every user with held-out items in `target`, as
/// `{"user": ["item", …]}` with original ids (the lists its metrics are computed from).
pub fn export_topk(
    bundle: &Bundle,
    dataset: &Dataset,
    target: Target,
    k: usize,
    rerank: Option<&Rerank>,
) -> Result<serde_json::Value> {
    crate::eval::check_k(k)?;
    let split = bundle_split(bundle, dataset)?;
    let scorer = WithFriends::new(
        &bundle.model,
        bundle.manifest.social.as_ref(),
        &bundle.history,
    );
    if let Some(r) = rerank {
        r.validate_for(k)?;
    }
    let lists = match rerank.filter(|r| !r.is_identity()) {
        None => ranked_lists(&scorer, &split, &bundle.history, target, k),
        Some(r) if r.diversity == 0.0 => {
            let rerank = Some((r, &NoSpace as &dyn ItemRows));
            ranked_lists_with(&scorer, &split, &bundle.history, target, k, rerank)
        }
        Some(r) => {
            let session = Session::new(bundle.clone());
            let space = session.item_space()?;
            let rerank = Some((r, &space as &dyn ItemRows));
            ranked_lists_with(&scorer, &split, &bundle.history, target, k, rerank)
        }
    };
    let m = &bundle.manifest;
    Ok(topk_json(&lists, &m.users, &m.items))
}
