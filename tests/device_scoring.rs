//! What the browser runs, checked natively on real bundles: the device scorer (burn Flex here,
//! WebGPU in the browser) against the CPU reference, `similar` and `explain`.

mod common;

use fusionrec::data::{Protocol, RowPolicy};
use fusionrec::device::{read_floats, DeviceKind};
use fusionrec::model::ModelConfig;
use fusionrec::rank::{DeviceScorer, HistoryEvent, Session};
use fusionrec::train::{train_bundle, TrainRequest};
use fusionrec::Error;

fn train(model: ModelConfig) -> Session {
    let source = common::ml100k_source();
    let dataset = source.load(RowPolicy::Strict).unwrap();
    let request = TrainRequest {
        dataset: &dataset,
        fingerprint: source.fingerprint().unwrap(),
        source,
        protocol: Protocol::implicit_811(2026),
        model,
        content: None,
        social: None,
        precision: Default::default(),
        catalog: Vec::new(),
    };
    Session::new(train_bundle(request, DeviceKind::Flex, &mut ()).unwrap())
}

fn history(ids: &[(&str, Option<f32>)]) -> Vec<HistoryEvent> {
    ids.iter()
        .map(|&(item, rating)| HistoryEvent {
            item: item.into(),
            rating,
            time: None,
        })
        .collect()
}

/// Device scores equal the CPU's `scores_for_history` (within 1e-5, relative to the score's size
/// where it exceeds 1) for several histories, including an empty one.
fn assert_device_matches_cpu(bundle: &Session) {
    let scorer = DeviceScorer::<burn::backend::Flex>::new(
        &bundle.bundle().model,
        bundle.bundle().manifest.dims.items,
        &Default::default(),
    )
    .unwrap();
    let histories = [
        history(&[("50", Some(5.0)), ("172", None), ("133", Some(2.0))]),
        history(&[("1", Some(4.0))]),
        history(&[]),
    ];
    for h in &histories {
        let cpu = bundle.scores_for_history(h).unwrap();
        let (query, _) = bundle.query(h).unwrap();
        let device = read_floats(scorer.scores(&query).unwrap()).unwrap();
        assert_eq!(cpu.len(), device.len());
        let worst = cpu
            .iter()
            .zip(&device)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-5,
            "{}: max difference {worst}",
            bundle.bundle().manifest.model.kind()
        );
        assert!(cpu.iter().any(|&s| s != 0.0) || h.is_empty());
    }
}

fn assert_similar(bundle: &Session) {
    let similar = bundle.similar("50", 10).unwrap();
    assert_eq!(similar.len(), 10);
    assert!(similar.iter().all(|(id, _)| id != "50"));
    let mut ids: Vec<&str> = similar.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "distinct");
    assert!(similar.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
    assert!(similar[0].1 > 0.0);
    assert!(matches!(
        bundle.similar("no-such-item", 10),
        Err(Error::UnknownItem(id)) if id == "no-such-item"
    ));
}

/// `explain` splits each recommended item's score exactly into base + per-history-item
/// contributions, largest first, naming only history items.
fn assert_explanations_add_up(bundle: &Session) {
    let h = history(&[("50", Some(5.0)), ("172", None), ("133", Some(4.0))]);
    for (item, score) in bundle.recommend(&h, 5, true).unwrap() {
        let e = bundle.explain(&h, &item).unwrap();
        assert_eq!(e.item, item);
        assert!(
            (e.score - score).abs() <= 1e-6 * score.abs().max(1.0),
            "{e:?}"
        );
        let total = e.base + e.influences.iter().map(|(_, c)| c).sum::<f32>();
        assert!(
            (total - e.score).abs() <= 1e-5 * e.score.abs().max(1.0),
            "{e:?}"
        );
        assert_eq!(e.influences.len(), 3);
        assert!(e.influences.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(e
            .influences
            .iter()
            .all(|(id, _)| ["50", "172", "133"].contains(&id.as_str())));
    }
    assert!(matches!(
        bundle.explain(&h, "no-such-item"),
        Err(Error::UnknownItem(_))
    ));
}

#[test]
fn ease_device_scores_and_similar() {
    let bundle = train(ModelConfig::default_for("ease").unwrap());
    assert_device_matches_cpu(&bundle);
    assert_similar(&bundle);
    assert_explanations_add_up(&bundle);
    // For item–item models, `similar` is the item's row: what a one-item history scores.
    let one = history(&[("50", None)]);
    assert_eq!(
        bundle.similar("50", 10).unwrap(),
        bundle.recommend(&one, 10, true).unwrap()
    );
}

#[test]
fn bpr_device_scores_and_similar() {
    let mut config = ModelConfig::default_for("bpr-mf").unwrap();
    if let ModelConfig::BprMf(c) = &mut config {
        c.train.epochs = 5;
    }
    let bundle = train(config);
    assert_device_matches_cpu(&bundle);
    assert_similar(&bundle);
    assert_explanations_add_up(&bundle);
    // Cosine: bounded by 1.
    assert!(bundle
        .similar("50", 10)
        .unwrap()
        .iter()
        .all(|(_, s)| *s <= 1.0 + 1e-6));
}
