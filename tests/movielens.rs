//! The spine on real data: MovieLens-100K loads completely, the protocol splits it as specified,
//! the trained models reach the accuracy the project promises, and bundles round-trip exactly.

mod common;

use fusionrec::data::{Protocol, Split};
use fusionrec::device::DeviceKind;
use fusionrec::model::ModelConfig;
use fusionrec::store::{Bundle, WEIGHTS_FILE};
use fusionrec::train::{reevaluate, train_bundle, TrainRequest};
use fusionrec::Error;

fn ml100k() -> fusionrec::data::Dataset {
    let source = common::ml100k_source();
    source
        .load(fusionrec::data::RowPolicy::Strict)
        .expect("ML-100K loads")
}

fn train(model: &str, protocol: Protocol) -> (fusionrec::data::Dataset, Bundle) {
    let source = common::ml100k_source();
    let dataset = ml100k();
    let request = TrainRequest {
        dataset: &dataset,
        fingerprint: source.fingerprint().unwrap(),
        source,
        protocol,
        model: ModelConfig::default_for(model).unwrap(),
        content: None,
        social: None,
        precision: Default::default(),
        catalog: Vec::new(),
    };
    let bundle = train_bundle(request, DeviceKind::Flex, &mut ()).unwrap();
    (dataset, bundle)
}

#[test]
fn movielens_100k_loads_completely() {
    let ds = ml100k();
    assert_eq!(ds.log.interactions.len(), 100_000);
    assert_eq!(ds.log.users.len(), 943);
    assert_eq!(ds.log.items.len(), 1682);
    assert_eq!(ds.items.records.len(), 1682);
    assert_eq!(ds.users.len(), 943);
    assert_eq!(ds.skipped.rows, 0);
    let kg = ds.kg.as_ref().expect("ML-100K ships a knowledge graph");
    assert_eq!(kg.triples.len(), 91_631);
    assert_eq!(kg.item_entities.len(), 1_598);
    let toy = ds.items.records.iter().find(|r| r.id == "1").unwrap();
    assert_eq!(toy.title.as_deref(), Some("Toy Story"));
    assert_eq!(toy.year, Some(1995));
    assert_eq!(toy.categories, ["Animation", "Children's", "Comedy"]);
    let ratings: Vec<f32> = ds
        .log
        .interactions
        .iter()
        .map(|x| x.rating.unwrap())
        .collect();
    assert!(ratings.iter().all(|r| (1.0..=5.0).contains(r)));
}

#[test]
fn implicit_811_split_partitions_the_positive_ratings() {
    let ds = ml100k();
    let positives = ds
        .log
        .interactions
        .iter()
        .filter(|x| x.rating.unwrap() >= 4.0)
        .count();
    let split = Split::new(&ds.log, &Protocol::implicit_811(2026)).unwrap();
    let (tr, va, te) = (split.train.len(), split.valid.len(), split.test.len());
    assert_eq!(tr + va + te, positives);
    assert_eq!(positives, 55_375);
    // Per-user rounding keeps the global shares close to 8:1:1.
    let share = te as f64 / positives as f64;
    assert!((0.09..0.11).contains(&share), "test share {share}");
    let mut pairs: Vec<_> = split
        .train
        .iter()
        .chain(&split.valid)
        .chain(&split.test)
        .map(|x| (x.user, x.item))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    assert_eq!(pairs.len(), positives, "train, valid and test are disjoint");
}

#[test]
fn bpr_mf_beats_popularity_by_20_percent_and_its_bundle_round_trips() {
    let (dataset, pop) = train("popularity", Protocol::implicit_811(2026));
    let (_, bpr) = train("bpr-mf", Protocol::implicit_811(2026));
    let (p, b) = (
        pop.manifest.metrics.test.ndcg(10),
        bpr.manifest.metrics.test.ndcg(10),
    );
    assert!(b >= 1.2 * p, "BPR-MF NDCG@10 {b:.4} vs popularity {p:.4}");

    let dir = tempfile::tempdir().unwrap();
    bpr.write_dir(dir.path()).unwrap();
    let loaded = Bundle::read_dir(dir.path()).unwrap();
    // The bundle holds exactly the trained model (compared without printing megabytes).
    assert!(loaded.model == bpr.model, "weights differ after loading");
    assert!(
        loaded.history == bpr.history,
        "history differs after loading"
    );
    assert_eq!(loaded.manifest.metrics, bpr.manifest.metrics);
    assert_eq!(reevaluate(&loaded, &dataset).unwrap(), bpr.manifest.metrics);

    // A flipped byte in the weights is caught by the checksum…
    let weights = dir.path().join(WEIGHTS_FILE);
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&weights, &bytes).unwrap();
    assert!(matches!(
        Bundle::read_dir(dir.path()),
        Err(Error::Checksum { .. })
    ));
    // …and so is a truncated file.
    bytes[mid] ^= 0x01;
    std::fs::write(&weights, &bytes[..bytes.len() - 100]).unwrap();
    let err = Bundle::read_dir(dir.path()).unwrap_err();
    assert_eq!(err.code(), "BUNDLE_CHECKSUM", "{err}");
}

#[test]
fn mf_with_biases_reaches_rmse_below_0_95() {
    let (_, mf) = train("mf", Protocol::explicit_811(2026));
    let rmse = mf.manifest.metrics.test.rmse.unwrap();
    assert!(rmse < 0.95, "MF test RMSE {rmse:.4}");
    // And it is a real rating model: MAE well below the spread of ratings.
    assert!(mf.manifest.metrics.test.mae.unwrap() < 0.8);
}

#[test]
fn item_knn_is_a_real_personalised_baseline() {
    let (_, pop) = train("popularity", Protocol::implicit_811(2026));
    let (_, knn) = train("item-knn", Protocol::implicit_811(2026));
    let (p, k) = (
        pop.manifest.metrics.test.ndcg(10),
        knn.manifest.metrics.test.ndcg(10),
    );
    assert!(k > p, "item-kNN NDCG@10 {k:.4} vs popularity {p:.4}");
    assert!(
        knn.manifest.metrics.test.at(20).coverage > 2.0 * pop.manifest.metrics.test.at(20).coverage
    );
}
