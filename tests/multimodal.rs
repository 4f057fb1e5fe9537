//! Multimodal pieces on real data, kept small enough for CI (TF-IDF, tabular and KG content; the
//! cold-start model uses MiniLM): cold items recommended from content well above random; a fused
//! model that beats popularity and trains into a bundle that round-trips.

mod common;

use common::train_ml100k as train;
use fusionrec::data::{Protocol, RowPolicy, Split};
use fusionrec::device::DeviceKind;
use fusionrec::encode::Content;
use fusionrec::eval::{evaluate, Target};
use fusionrec::model::{
    train_ease, EaseConfig, HybridConfig, ModelConfig, TrainedModel, UserHistory,
};
use fusionrec::rank::placement::{neighbor_weights, NEIGHBORS, TEMPERATURE};
use fusionrec::store::Bundle;
use fusionrec::train::experiment::{
    cold_similarities, cold_start_config, cold_start_split, run_hybrid, tfidf_knn,
    NeighbourPlacement,
};
use fusionrec::train::reevaluate;

fn small(modalities: &[&str]) -> HybridConfig {
    let mut config = HybridConfig {
        modalities: modalities.iter().map(|m| m.to_string()).collect(),
        ..HybridConfig::default()
    };
    config.train.epochs = 6;
    config.train.eval_every = 2;
    config
}

/// Cold items (never trained on) ranked among all items from content alone: EASE with each cold
/// item placed by its MiniLM neighbours, exactly as the browser places an added item, does far
/// better than random (asserted; deterministic); the fused tower is printed beside it (its
/// figure varies run to run, see below). Neither reliably beats TF-IDF item-kNN (the
/// tower is below it over 3 seeds, see the README; the placement depends on which items went
/// cold, see `experiment --only "cold neighbours"`), so that comparison is printed, not asserted.
#[test]
fn cold_items_are_recommended_from_content_well_above_random() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let split = Split::new(&dataset.log, &Protocol::implicit_811(2026)).unwrap();
    let (cold_split, cold) = cold_start_split(&split, 0.1, 2026);
    let test_items: std::collections::BTreeSet<u32> =
        cold_split.test.iter().map(|x| x.item).collect();
    let valid_items: std::collections::BTreeSet<u32> =
        cold_split.valid.iter().map(|x| x.item).collect();
    // 10% of the 1,447 items with positive feedback are test items, another 10% validation items.
    assert_eq!(test_items.len(), 145);
    assert_eq!(cold.iter().filter(|&&c| c).count(), 290);
    assert!(test_items.is_disjoint(&valid_items));
    assert!(
        cold_split.train.iter().all(|x| !cold[x.item as usize]),
        "no cold item in training"
    );
    assert!(cold_split.test.iter().all(|x| cold[x.item as usize]));

    let random = 20.0 / split.n_items as f64;
    // The fused content tower (MiniLM text + tabular) on the cold items.
    let minilm = common::data_dir().join("minilm");
    let content = Content::build(&dataset, Some(&minilm)).unwrap();
    let mut config = cold_start_config(&HybridConfig::default());
    config.train.epochs = 10;
    let run = run_hybrid(
        &config,
        &cold_split,
        &content,
        &cold,
        None,
        DeviceKind::Flex,
        &mut (),
    )
    .unwrap();
    let fused = run.test.recall(20);
    // The content baseline: item-kNN on TF-IDF cosines, ranking the same way.
    let history = UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let tfidf = evaluate(&tfidf_knn(&dataset), &cold_split, &history, Target::Test).recall(20);
    // EASE, cold items placed by their text neighbours as the browser places an added item: with
    // the browser's temperature, and with the sharper one the validation cold items prefer
    // (`experiment --only "cold neighbours"`): averaging over neighbours pulls a cold item's
    // score towards the mean, below the warm items that fill a top 20.
    let ease = TrainedModel::ItemKnn(
        train_ease(
            &EaseConfig::plain_default(),
            &history,
            cold_split.n_items,
            &[],
        )
        .unwrap(),
    );
    let sims = cold_similarities(&content.select(&["text".into()]).unwrap(), &cold);
    let placed_at = |temperature: f32| {
        let placed = sims
            .iter()
            .map(|(c, s)| (*c, neighbor_weights(s.clone(), NEIGHBORS, temperature)))
            .collect();
        let placement = NeighbourPlacement {
            base: &ease,
            placed,
        };
        evaluate(&placement, &cold_split, &history, Target::Test).recall(20)
    };
    // The browser's rule (`addItem`): its temperature was chosen on the validation cold items.
    let placed = placed_at(TEMPERATURE);
    eprintln!(
        "cold Recall@20: fused {fused:.4}, EASE placed by text neighbours {placed:.4} (k \
         {NEIGHBORS}, T {TEMPERATURE}), TF-IDF kNN {tfidf:.4}, random {random:.4}"
    );
    assert!(
        tfidf > 3.0 * random,
        "TF-IDF kNN {tfidf:.4} vs random {random:.4}"
    );
    // The content tower is printed, not asserted: its training on Flex is not reproducible run to
    // run (parallel float reductions change the early-stopping path), and this figure has been
    // measured anywhere from 0.0167 to 0.0408 with the same code and seed. The placement below
    // is deterministic (EASE has no seed) and is what the browser's `addItem` uses.
    assert!(
        placed > 2.0 * random,
        "placed EASE {placed:.4} vs random {random:.4}"
    );
}

#[test]
fn a_fused_model_trains_into_a_bundle_that_round_trips() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let content = Content::build(&dataset, None).unwrap();
    let bundle = train(
        &dataset,
        ModelConfig::Hybrid(small(&["tabular", "kg"])),
        Some(&content),
    );
    let pop = train(&dataset, ModelConfig::Popularity, None);
    let (h, p) = (
        bundle.manifest.metrics.test.ndcg(10),
        pop.manifest.metrics.test.ndcg(10),
    );
    assert!(h > 1.2 * p, "hybrid NDCG@10 {h:.4} vs popularity {p:.4}");

    let dir = tempfile::tempdir().unwrap();
    bundle.write_dir(dir.path()).unwrap();
    let loaded = Bundle::read_dir(dir.path()).unwrap();
    assert!(loaded.model == bundle.model);
    assert_eq!(
        reevaluate(&loaded, &dataset).unwrap(),
        bundle.manifest.metrics
    );
}
