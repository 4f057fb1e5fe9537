//! Blends on real data (ML-100K under the README's protocol): a rank-weighted DLAE and a
//! Mult-DAE trained on one split, blended with weights chosen on validation or given. The weight search's
//! "first model alone" point scores exactly what that model scores (standardising a user's scores
//! never reorders them), the chosen blend is at least as good on validation, the bundle reads
//! back and reproduces its metrics, and a visitor with a training user's history gets that
//! user's scores — in the full bundle and in its serving bundle.

mod common;

use common::train_ml100k as train;
use fusionrec::data::{Protocol, RowPolicy, Split};
use fusionrec::eval::Scores;
use fusionrec::model::{AutoencoderConfig, ModelConfig, TrainedModel};
use fusionrec::rank::{DeviceScorer, HistoryEvent, Session};
use fusionrec::store::Bundle;
use fusionrec::train::{blend_bundles, reevaluate, BlendWeights, SEARCH_WEIGHTS};

#[test]
fn a_blend_chosen_on_validation_serves_visitors_like_training_users() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let ease = common::ease(300.0, 0.33, 0.0, 0.5);
    let mut dae = AutoencoderConfig::default();
    dae.train.epochs = 40;
    let parts = [
        train(&dataset, ease, None),
        train(&dataset, ModelConfig::MultDae(dae), None),
    ];
    let (blend, search) = blend_bundles(&parts, &dataset, BlendWeights::Search, "ndcg@10").unwrap();

    // Every weight of the second part tried, the first fixed at 1; the first alone scores what
    // it scores by itself, to the last digit; the chosen blend is the best tried.
    assert_eq!(search.tried.len(), SEARCH_WEIGHTS.len());
    let alone = search.tried.iter().find(|t| t.0 == [1.0, 0.0]).unwrap().1;
    assert_eq!(alone, parts[0].manifest.metrics.valid.ndcg(10));
    let best = search.tried.iter().map(|t| t.1).fold(f64::MIN, f64::max);
    let valid = blend.manifest.metrics.valid.ndcg(10);
    assert_eq!(valid, best);
    let (e, d) = (
        parts[0].manifest.metrics.valid.ndcg(10),
        parts[1].manifest.metrics.valid.ndcg(10),
    );
    eprintln!(
        "valid NDCG@10: DLAE {e:.4}, Mult-DAE {d:.4}, blend {valid:.4}; test: {:.4}, {:.4}, {:.4}",
        parts[0].manifest.metrics.test.ndcg(10),
        parts[1].manifest.metrics.test.ndcg(10),
        blend.manifest.metrics.test.ndcg(10)
    );
    assert!(valid >= e && valid >= d);

    // Given weights, both parts count; written and read back: the same model and metrics.
    let (blend, search) = blend_bundles(
        &parts,
        &dataset,
        BlendWeights::Given(vec![1.0, 0.5]),
        "ndcg@10",
    )
    .unwrap();
    assert!(search.tried.is_empty());
    let dir = tempfile::tempdir().unwrap();
    blend.write_dir(dir.path()).unwrap();
    let back = Bundle::read_dir(dir.path()).unwrap();
    assert!(back.model == blend.model);
    assert!(reevaluate(&back, &dataset)
        .unwrap()
        .reproduces(&blend.manifest.metrics));
    let TrainedModel::Blend(b) = &back.model else {
        panic!("a blend")
    };
    assert_eq!(b.parts.len(), 2);
    assert!(!DeviceScorer::<burn::backend::Flex>::supports(
        &back.model,
        1682
    ));

    // A visitor with a training user's history: that user's scores, in the full bundle and in
    // the serving bundle; an explanation adds up.
    let session = Session::new(back.clone());
    let serving = Session::new(back.serving().unwrap().stored().unwrap());
    let split = Split::new(&dataset.log, &Protocol::implicit_811(2026)).unwrap();
    for user in [0u32, 17, 400] {
        let (items, ratings) = back.history.user(user);
        let events: Vec<HistoryEvent> = items
            .iter()
            .zip(ratings)
            .map(|(&i, &r)| HistoryEvent {
                item: session.id(i).to_owned(),
                rating: Some(r),
                time: None,
            })
            .collect();
        assert_eq!(
            events.len(),
            split.train.iter().filter(|x| x.user == user).count()
        );
        let visitor = session.scores_for_history(&events).unwrap();
        let mut trained = vec![0.0f32; session.n_items()];
        Scores::score(&back.model, user, items, ratings, &mut trained);
        let gap = visitor
            .iter()
            .zip(&trained)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            gap < 1e-4,
            "user {user}: visitor and trained scores differ by {gap}"
        );
        assert!(serving.scores_for_history(&events).unwrap() == visitor);
        let top = &session.recommend(&events, 1, true).unwrap()[0].0;
        common::assert_adds_up(&session.explain(&events, top).unwrap());
        assert_eq!(session.similar(top, 5).unwrap().len(), 5);
    }

    // The longest history: explain steps through its last EXPLAIN_EVENTS events, the older
    // ones' part in the base, and still adds up.
    let longest = (0..back.manifest.dims.users as u32)
        .max_by_key(|&u| back.history.user(u).0.len())
        .unwrap();
    let events: Vec<HistoryEvent> = back
        .history
        .user(longest)
        .0
        .iter()
        .map(|&i| HistoryEvent {
            item: session.id(i).to_owned(),
            rating: None,
            time: None,
        })
        .collect();
    assert!(events.len() > fusionrec::rank::session::EXPLAIN_EVENTS);
    let top = &session.recommend(&events, 1, true).unwrap()[0].0;
    let e = session.explain(&events, top).unwrap();
    assert_eq!(e.influences.len(), fusionrec::rank::session::EXPLAIN_EVENTS);
    common::assert_adds_up(&e);

    // Clear errors: weights for the wrong number of bundles, a negative weight, an unknown
    // metric, one bundle, parts from another split.
    let err = |w: BlendWeights, metric: &str, parts: &[Bundle]| {
        blend_bundles(parts, &dataset, w, metric)
            .unwrap_err()
            .code()
    };
    assert_eq!(
        err(BlendWeights::Given(vec![1.0]), "ndcg@10", &parts),
        "BAD_CONFIG"
    );
    assert_eq!(
        err(BlendWeights::Given(vec![1.0, -1.0]), "ndcg@10", &parts),
        "BAD_CONFIG"
    );
    assert_eq!(err(BlendWeights::Search, "ndgc@10", &parts), "BAD_CONFIG");
    assert_eq!(
        err(BlendWeights::Search, "ndcg@10", &parts[..1]),
        "BAD_CONFIG"
    );
    let source = common::ml100k_source();
    let other = fusionrec::train::train_bundle(
        fusionrec::train::TrainRequest {
            dataset: &dataset,
            fingerprint: source.fingerprint().unwrap(),
            source,
            protocol: Protocol::implicit_811(7),
            model: ModelConfig::Popularity,
            content: None,
            social: None,
            precision: Default::default(),
            catalog: Vec::new(),
        },
        fusionrec::device::DeviceKind::Flex,
        &mut (),
    )
    .unwrap();
    let mixed = [parts[0].clone(), other];
    let e = blend_bundles(&mixed, &dataset, BlendWeights::Search, "ndcg@10").unwrap_err();
    assert!(e.to_string().contains("another split"), "{e}");
}

/// A blend configuration trains through the library like any model (each part fitted in turn),
/// into the same model as blending the parts trained alone with the same weights.
#[test]
fn a_blend_configuration_trains_its_parts() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let ease = ModelConfig::default_for("ease").unwrap();
    let config = fusionrec::model::BlendConfig {
        parts: vec![
            fusionrec::model::BlendPart {
                weight: 1.0,
                model: ease.clone(),
            },
            fusionrec::model::BlendPart {
                weight: 0.25,
                model: ModelConfig::Popularity,
            },
        ],
    };
    let trained = train(&dataset, ModelConfig::Blend(config), None);
    let parts = [
        train(&dataset, ease, None),
        train(&dataset, ModelConfig::Popularity, None),
    ];
    let (blended, _) = blend_bundles(
        &parts,
        &dataset,
        BlendWeights::Given(vec![1.0, 0.25]),
        "ndcg@10",
    )
    .unwrap();
    assert!(trained.model == blended.model);
    assert_eq!(trained.manifest.metrics, blended.manifest.metrics);
}
