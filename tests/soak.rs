//! Soak, native half: one [`Session`] serves round after round of recommend + explain +
//! personalize + addItem, and every 100 rounds saves its state, restores it through JSON, and
//! then goes back to the snapshot taken before the first round (so the catalog does not grow
//! without bound: a window adds at most 100 items). After each window the process's resident
//! memory is read; after the first window (warm-up) it must stay within 10% of that window's
//! figure, and no call may take more than 10× its kind's median (plus 5 ms, the scheduler's
//! noise on a loaded 2-core machine; for kinds with at least 10 calls). The memory series is
//! printed.
//!
//! `SOAK_ROUNDS` (default 200, what CI runs) sets the length; the full soak is
//! `SOAK_ROUNDS=1000 cargo test --release --test soak -- --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, Flex};
use fusionrec::data::RowPolicy;
use fusionrec::encode::Content;
use fusionrec::model::ModelConfig;
use fusionrec::rank::{HistoryEvent, PersonalizeConfig, Session};

/// Resident set size in bytes (Linux: `/proc/self/statm`, in pages).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn event(item: &str, rating: Option<f32>) -> HistoryEvent {
    HistoryEvent {
        item: item.into(),
        rating,
        time: None,
    }
}

#[test]
fn long_session_keeps_memory_flat_and_calls_steady() {
    let rounds: usize = std::env::var("SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    assert!(
        rounds >= 200 && rounds % 100 == 0,
        "SOAK_ROUNDS: a multiple of 100, ≥ 200"
    );

    // EASE with tabular content stored with the catalog: addItem places items by it and the
    // adaptor personalises on it (no MiniLM needed).
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let content = Content::build(&dataset, None).unwrap();
    let mut config = ModelConfig::default_for("ease-mm").unwrap();
    if let ModelConfig::EaseMm(c) = &mut config {
        c.modalities = vec!["tabular".into()];
    }
    let bundle = common::train_ml100k(&dataset, config, Some(&content));
    let tabular = bundle
        .content
        .iter()
        .find(|m| m.name == "tabular")
        .expect("tabular content stored")
        .clone();
    let mut session = Session::new(bundle);
    let baseline = serde_json::to_string(&session.state()).unwrap();
    let device = Default::default();
    let history = [
        event("50", None),
        event("172", Some(5.0)),
        event("133", None),
    ];

    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut timed = |name: &'static str, start: Instant| {
        times.entry(name).or_default().push(start.elapsed());
    };
    let mut series: Vec<(usize, u64)> = Vec::new();
    let first = session.recommend(&history, 10, true).unwrap();
    for round in 1..=rounds {
        // A new item, placed by a catalog item's tabular vector (slightly moved).
        let source = round % tabular.n_items();
        let mut v = tabular.row(source).to_vec();
        let at = round % v.len();
        v[at] += 0.1;
        let id = format!("soak-{round}");
        let t = Instant::now();
        session
            .add_item(
                &id,
                Some(format!("Soak {round}")),
                [("tabular".into(), v)].into(),
            )
            .unwrap();
        timed("addItem", t);

        let mut h = history.to_vec();
        h.push(event(&id, None));
        let t = Instant::now();
        let recs = session.recommend(&h, 10, true).unwrap();
        timed("recommend", t);
        assert_eq!(recs.len(), 10);

        let t = Instant::now();
        session.explain(&h, &recs[0].0).unwrap();
        timed("explain", t);

        let t = Instant::now();
        let config = PersonalizeConfig {
            steps: 5,
            seed: round as u64,
            ..Default::default()
        };
        session
            .personalize::<Autodiff<Flex>>(&h, &config, &device)
            .unwrap();
        timed("personalize", t);

        if round % 100 == 0 {
            let t = Instant::now();
            let saved = serde_json::to_string(&session.state()).unwrap();
            let before = session.recommend(&h, 10, true).unwrap();
            session
                .restore(serde_json::from_str(&saved).unwrap())
                .unwrap();
            assert_eq!(
                session.recommend(&h, 10, true).unwrap(),
                before,
                "restore changed answers"
            );
            session
                .restore(serde_json::from_str(&baseline).unwrap())
                .unwrap();
            timed("save+restore", t);
            assert_eq!(session.added().len(), 0);
            assert_eq!(session.recommend(&history, 10, true).unwrap(), first);
            series.push((round, rss_bytes()));
        }
    }

    eprintln!("soak: {rounds} rounds; resident memory after each window of 100:");
    for (round, rss) in &series {
        eprintln!("  round {round:>5}: {:>7.1} MB", *rss as f64 / 1e6);
    }
    let warm = series[0].1 as f64;
    for (round, rss) in &series[1..] {
        let growth = *rss as f64 / warm - 1.0;
        assert!(
            growth < 0.10,
            "round {round}: memory grew {:.1}% after warm-up",
            100.0 * growth
        );
    }
    for (name, ds) in &times {
        let mut sorted = ds.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        let worst = *sorted.last().unwrap();
        eprintln!(
            "  {name:<12} median {median:>10.2?}  worst {worst:>10.2?}  ({} calls)",
            ds.len()
        );
        // A median of fewer than 10 calls says little (save+restore runs once per window).
        if ds.len() >= 10 {
            assert!(
                worst <= median * 10 + Duration::from_millis(5),
                "{name}: slowest call {worst:?} vs median {median:?}"
            );
        }
    }
}
