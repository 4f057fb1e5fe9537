//! Shared by the integration tests: the real data and weights, fetched by the test script into
//! `data/` (or `FUSIONREC_DATA`). Missing files fail the test rather than skipping it.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use fusionrec::data::DataSource;

pub fn data_dir() -> PathBuf {
    std::env::var_os("FUSIONREC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"))
}

/// Reads a fetched file, with a message that says how to fetch it.
pub fn fetched(asset: &str, file: &str) -> Vec<u8> {
    let path = data_dir().join(match asset {
        "movielens-100k" => "ml-100k",
        "sample-photos" => "photos",
        "sample-sounds" => "sounds",
        other => other,
    });
    let path = path.join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo run --release -- fetch {asset}`",
            path.display()
        )
    })
}

/// A dataset of the team's shared folder (`../shared/data/<name>`, or `FUSIONREC_SHARED/data/<name>`),
/// read in place: these files may not be copied into the repository.
pub fn shared_data(name: &str) -> PathBuf {
    let root = std::env::var_os("FUSIONREC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = root.join("data").join(name);
    assert!(
        dir.is_dir(),
        "{} is missing: the shared datasets live in ../shared/data (set FUSIONREC_SHARED to move them)",
        dir.display()
    );
    dir
}

pub fn ml100k_source() -> DataSource {
    let dir = data_dir().join("ml-100k");
    assert!(
        dir.join("ml-100k.inter").is_file(),
        "MovieLens-100K is missing from {}: run `cargo run --release -- fetch movielens-100k`",
        dir.display()
    );
    DataSource::detect(&dir).expect("a RecBole folder")
}

/// Trains `model` on ML-100K under the README's protocol (implicit ≥ 4, per-user 8:1:1, seed
/// 2026) on burn Flex and returns its bundle, storing the content's text, image and tabular
/// modalities with the catalog.
pub fn train_ml100k(
    dataset: &fusionrec::data::Dataset,
    model: fusionrec::model::ModelConfig,
    content: Option<&fusionrec::encode::Content>,
) -> fusionrec::store::Bundle {
    let source = ml100k_source();
    let request = fusionrec::train::TrainRequest {
        dataset,
        fingerprint: source.fingerprint().unwrap(),
        source,
        protocol: fusionrec::data::Protocol::implicit_811(2026),
        model,
        content,
        social: None,
        precision: Default::default(),
        // What the CLI stores for content models: the modalities a browser uses.
        catalog: content
            .map(|c| {
                c.modalities
                    .iter()
                    .filter(|m| ["text", "image", "tabular"].contains(&m.name.as_str()))
                    .map(|m| (m.clone(), None))
                    .collect()
            })
            .unwrap_or_default(),
    };
    fusionrec::train::train_bundle(request, fusionrec::device::DeviceKind::Flex, &mut ()).unwrap()
}

/// Runs the `fusionrec` binary with `args`.
pub fn fusionrec(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fusionrec"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The ML-100K folder as a command-line argument.
pub fn ml100k_arg() -> String {
    match ml100k_source() {
        DataSource::Recbole { dir, .. } => dir.display().to_string(),
        other => panic!("unexpected source {other:?}"),
    }
}

/// A finished command's stderr, for assertion messages.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// ML-100K's EASE + content bundle (MiniLM text and tabular content stored with the catalog),
/// written to a temporary folder and read back, as a page loads it; with that folder.
pub fn ml100k_ease_mm_bundle(
    dataset: &fusionrec::data::Dataset,
) -> (fusionrec::store::Bundle, tempfile::TempDir) {
    let minilm = data_dir().join("minilm");
    let content = fusionrec::encode::Content::build(dataset, Some(&minilm)).unwrap();
    let model = fusionrec::model::ModelConfig::default_for("ease-mm").unwrap();
    let bundle = train_ml100k(dataset, model, Some(&content));
    let dir = tempfile::tempdir().unwrap();
    bundle.write_dir(dir.path()).unwrap();
    (fusionrec::store::Bundle::read_dir(dir.path()).unwrap(), dir)
}

/// The MiniLM golden file (tests/golden/minilm.json, from tests/golden/minilm_reference.py).
#[derive(serde::Deserialize)]
pub struct Golden {
    pub sentences: Vec<GoldenSentence>,
}

/// One golden sentence: its text, token ids and reference embedding.
#[derive(serde::Deserialize)]
pub struct GoldenSentence {
    pub text: String,
    pub input_ids: Vec<u32>,
    pub embedding: Vec<f32>,
}

/// The parsed MiniLM golden file.
pub fn minilm_golden() -> Golden {
    serde_json::from_str(include_str!("../golden/minilm.json")).expect("golden file parses")
}

/// EASE with these options (λ, DLAE's dropout, the order weight, the rank weight; see
/// `fusionrec::model::EaseConfig`), the rest at their defaults.
pub fn ease(
    lambda: f64,
    dropout: f64,
    order_weight: f64,
    rank_weight: f64,
) -> fusionrec::model::ModelConfig {
    let mut config = fusionrec::model::ModelConfig::default_for("ease").unwrap();
    if let fusionrec::model::ModelConfig::Ease(c) = &mut config {
        c.lambda = lambda;
        c.dropout = dropout;
        c.order_weight = order_weight;
        c.rank_weight = rank_weight;
    }
    config
}

/// A visitor with `events` is scored exactly as training `user` of `model` (the CPU session's
/// catalog scores equal the training user's), and within 1e-3 by `scorer` on a burn device;
/// returns the visitor's scores.
pub fn visitor_is_training_user<B: burn::tensor::backend::Backend>(
    session: &fusionrec::rank::Session,
    model: &dyn fusionrec::eval::Scores,
    scorer: &fusionrec::rank::DeviceScorer<B>,
    user: u32,
    events: &[fusionrec::rank::HistoryEvent],
) -> Vec<f32> {
    let (q, _) = session.query(events).unwrap();
    let visitor = session.catalog_scores(&q).unwrap();
    let mut trained_user = vec![0.0f32; session.n_items()];
    model.score(user, &[], &[], &mut trained_user);
    assert!(
        visitor == trained_user,
        "user {user}: visitor and trained scores differ"
    );
    let on_device = fusionrec::device::read_floats(scorer.scores(&q).unwrap()).unwrap();
    let gap = visitor
        .iter()
        .zip(&on_device)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(gap < 1e-3, "device scores differ by {gap}");
    visitor
}

/// `e`'s parts add up to its score: `base + Σ influences + personal = score`.
pub fn assert_adds_up(e: &fusionrec::rank::Explanation) {
    let sum: f32 = e.base + e.personal + e.influences.iter().map(|i| i.1).sum::<f32>();
    assert!(
        (sum - e.score).abs() < 1e-3 * e.score.abs().max(1.0),
        "{e:?}"
    );
}
