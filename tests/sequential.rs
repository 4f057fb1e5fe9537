//! SASRec on real data (ML-100K, temporal leave-last-out): it learns what comes next better than
//! popularity and the most-recent-item baseline, and a bundle read back serves a visitor's
//! history in order — the same vector the evaluation scored training users with, on the CPU and
//! on a burn device.

mod common;

use fusionrec::data::{Feedback, Protocol, RowPolicy, Split, SplitStrategy};
use fusionrec::model::{ModelConfig, SasRecConfig, TrainedModel};
use fusionrec::rank::{DeviceScorer, HistoryEvent, Session};
use fusionrec::store::Bundle;
use fusionrec::train::{most_recent_item_baseline, train_bundle, TrainRequest};

fn temporal() -> Protocol {
    Protocol {
        feedback: Feedback::Implicit {
            threshold: Some(4.0),
        },
        split: SplitStrategy::TemporalLeaveLastOut,
        seed: 2026,
        test_excludes_valid: true,
        eval_users: None,
    }
}

fn train(dataset: &fusionrec::data::Dataset, model: ModelConfig) -> Bundle {
    let source = common::ml100k_source();
    let request = TrainRequest {
        dataset,
        fingerprint: source.fingerprint().unwrap(),
        source,
        protocol: temporal(),
        model,
        content: None,
        social: None,
        precision: Default::default(),
        catalog: Vec::new(),
    };
    train_bundle(request, fusionrec::device::DeviceKind::Flex, &mut ()).unwrap()
}

#[test]
fn sasrec_beats_the_baselines_and_serves_a_visitor_in_order() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    // Ids only, few epochs: CI's budget. (The README's figure is the default configuration.)
    let mut config = SasRecConfig {
        modalities: Vec::new(),
        ..SasRecConfig::default()
    };
    config.train.epochs = 8;
    let trained = train(&dataset, ModelConfig::Sasrec(config));
    let popularity = train(&dataset, ModelConfig::Popularity);
    let recent = most_recent_item_baseline(&trained, &dataset).unwrap();
    let ndcg = trained.manifest.metrics.valid.ndcg(10);
    let (pop, last) = (
        popularity.manifest.metrics.valid.ndcg(10),
        recent.valid.ndcg(10),
    );
    assert!(
        ndcg > 1.5 * pop && ndcg > last,
        "valid NDCG@10: SASRec {ndcg}, popularity {pop}, most recent item {last}"
    );

    // Read back as a page does.
    let dir = tempfile::tempdir().unwrap();
    trained.write_dir(dir.path()).unwrap();
    let bundle = Bundle::read_dir(dir.path()).unwrap();
    let TrainedModel::Factor(m) = &bundle.model else {
        panic!("SASRec is stored as a factor model")
    };
    assert!(matches!(
        m.encoder.as_deref(),
        Some(fusionrec::model::VisitorEncoder::Sequence(_))
    ));
    let session = Session::new(bundle.clone());
    let split = Split::new(&dataset.log, &temporal()).unwrap();

    // A training user's history as a visitor's, with times, given backwards: the session orders
    // it by time and scores exactly what the evaluation scored for that user. (ML-100K's
    // timestamps tie; the times here are the training order, in which ties kept file order.)
    let device = Default::default();
    let scorer =
        DeviceScorer::<burn::backend::Flex>::new(&bundle.model, session.n_items(), &device)
            .unwrap();
    for user in [0u32, 17, 400] {
        let mut events: Vec<HistoryEvent> = split
            .train
            .iter()
            .filter(|x| x.user == user)
            .enumerate()
            .map(|(t, x)| HistoryEvent {
                item: session.id(x.item).to_owned(),
                rating: None,
                time: Some(t as f64),
            })
            .collect();
        assert!(events.len() > 3);
        events.reverse();
        let visitor = common::visitor_is_training_user(&session, m, &scorer, user, &events);

        // Without times the order given is the order; a different order, other scores.
        let mut ordered = events.clone();
        ordered.sort_by(|a, b| a.time.unwrap().total_cmp(&b.time.unwrap()));
        let untimed: Vec<HistoryEvent> = ordered
            .iter()
            .map(|e| HistoryEvent {
                time: None,
                ..e.clone()
            })
            .collect();
        assert!(session.scores_for_history(&untimed).unwrap() == visitor);
        let reversed: Vec<HistoryEvent> = untimed.iter().rev().cloned().collect();
        assert!(session.scores_for_history(&reversed).unwrap() != visitor);

        // Explanations: each event's move of the score, summing to the score.
        let top = &session.recommend(&events, 1, true).unwrap()[0].0;
        common::assert_adds_up(&session.explain(&events, top).unwrap());
    }

    // Times on some events only, or not numbers: clear errors.
    let event = |item: &str, time: Option<f64>| HistoryEvent {
        item: item.into(),
        rating: None,
        time,
    };
    let (a, b) = (session.id(0).to_owned(), session.id(1).to_owned());
    assert!(session
        .query(&[event(&a, Some(1.0)), event(&b, None)])
        .is_err());
    assert!(session.query(&[event(&a, Some(f64::NAN))]).is_err());
}
