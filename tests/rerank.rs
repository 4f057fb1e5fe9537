//! Re-ranking on real data (ML-100K): MMR diversity trades accuracy for intra-list diversity
//! under the bundle's own protocol, a score threshold shortens lists, a session's visitor lists
//! are diversified in the bundle's item-vector space, and the CLI reports and validates it.

mod common;

use fusionrec::data::RowPolicy;
use fusionrec::error::Error;
use fusionrec::eval::{ItemRows, Rerank};
use fusionrec::model::ModelConfig;
use fusionrec::rank::{HistoryEvent, Session};
use fusionrec::train::{reevaluate, reevaluate_with};

fn rerank(diversity: f32) -> Rerank {
    Rerank {
        diversity,
        min_score: None,
    }
}

#[test]
fn mmr_trades_ndcg_for_intra_list_diversity_under_the_bundles_protocol() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    // EASE without content: MMR compares items by their genres, the space ILD is measured in.
    let bundle = common::train_ml100k(&dataset, ModelConfig::default_for("ease").unwrap(), None);
    let recorded = &bundle.manifest.metrics.test;
    // Every bundle records novelty and (ML-100K has genres) intra-list diversity.
    let (novelty, ild) = (recorded.get("novelty@10"), recorded.get("ild@10"));
    assert!(novelty.is_some_and(|v| v > 1.0 && v < 11.0), "{novelty:?}");
    assert!(ild.is_some_and(|v| v > 0.3 && v < 1.0), "{ild:?}");
    // δ = 0 is the identity: exactly the recorded metrics.
    assert_eq!(
        reevaluate_with(&bundle, &dataset, Some(&rerank(0.0))).unwrap(),
        reevaluate(&bundle, &dataset).unwrap()
    );
    let at = |d: f32| {
        let m = reevaluate_with(&bundle, &dataset, Some(&rerank(d)))
            .unwrap()
            .test;
        (
            m.ndcg(10),
            m.get("ild@10").unwrap(),
            m.get("novelty@10").unwrap(),
        )
    };
    let (n0, ild0, _) = at(0.0);
    let (n3, ild3, _) = at(0.3);
    let (n7, ild7, nov7) = at(0.7);
    assert!(ild0 < ild3 && ild3 < ild7, "ILD {ild0} {ild3} {ild7}");
    assert!(n7 < n0, "NDCG {n0} → {n7}");
    assert!(
        n3 > 0.8 * n0,
        "a little diversity costs little: {n0} → {n3}"
    );
    assert!(
        nov7 > novelty.unwrap(),
        "diverse lists reach further into the tail"
    );

    // A threshold no score reaches leaves every list empty.
    let none = Rerank {
        diversity: 0.0,
        min_score: Some(1e9),
    };
    let m = reevaluate_with(&bundle, &dataset, Some(&none))
        .unwrap()
        .test;
    assert_eq!(
        (m.ndcg(10), m.recall(20), m.at(10).coverage),
        (0.0, 0.0, 0.0)
    );
    assert!(matches!(
        reevaluate_with(&bundle, &dataset, Some(&rerank(-0.1))),
        Err(Error::Config(_))
    ));
}

#[test]
fn a_visitors_list_is_diversified_in_the_bundles_item_vector_space() {
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let config = ModelConfig::default_for("bpr-mf").unwrap();
    let session = Session::new(common::train_ml100k(&dataset, config, None));
    let history: Vec<HistoryEvent> = ["50", "172", "133"]
        .iter()
        .map(|&item| HistoryEvent {
            item: item.into(),
            rating: None,
            time: None,
        })
        .collect();
    let plain = session.recommend(&history, 10, true).unwrap();
    let diverse = session
        .recommend_with(&history, 10, true, None, &rerank(0.8))
        .unwrap();
    assert_eq!(diverse.len(), 10);
    assert_eq!(
        diverse[0], plain[0],
        "MMR starts from the most relevant item"
    );
    assert_ne!(diverse, plain);
    assert!(diverse
        .iter()
        .all(|(id, _)| !["50", "172", "133"].contains(&id.as_str())));
    // Mean pairwise cosine in the space MMR used (BPR-MF's item vectors).
    let space = session.item_space().unwrap();
    let mean_cos = |list: &[(String, f32)]| {
        let rows: Vec<Vec<f32>> = list
            .iter()
            .map(|(id, _)| {
                let mut r = vec![0.0; space.dim()];
                space.row(session.index(id).unwrap(), &mut r);
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                r.iter().map(|x| x / n).collect()
            })
            .collect();
        let mut sum = 0.0;
        let mut pairs = 0;
        for a in 0..rows.len() {
            for b in a + 1..rows.len() {
                sum += rows[a]
                    .iter()
                    .zip(&rows[b])
                    .map(|(x, y)| x * y)
                    .sum::<f32>();
                pairs += 1;
            }
        }
        sum / pairs as f32
    };
    let (before, after) = (mean_cos(&plain), mean_cos(&diverse));
    assert!(after < before - 0.05, "mean cosine {before} → {after}");
    // A first visit is diversified too; a threshold keeps the items scoring at least it.
    let popular = session.popular(10, None).unwrap();
    let popular_diverse = session.popular_with(10, None, &rerank(0.6)).unwrap();
    assert_eq!(popular_diverse[0], popular[0]);
    assert_ne!(popular_diverse, popular);
    let cut = plain[4].1;
    let kept = session
        .recommend_with(
            &history,
            10,
            true,
            None,
            &Rerank {
                diversity: 0.0,
                min_score: Some(cut),
            },
        )
        .unwrap();
    assert_eq!(
        kept,
        plain
            .iter()
            .filter(|r| r.1 >= cut)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert!(matches!(
        session.recommend_with(&history, 10, true, None, &rerank(f32::NAN)),
        Err(Error::Config(_))
    ));
}

#[test]
fn cli_eval_and_recommend_take_diversity_and_refuse_bad_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ease");
    let out_s = out.to_str().unwrap();
    let data = common::data_dir().join("ml-100k");
    let o = common::fusionrec(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "ease",
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--bundle", out_s, "--json"];
        args.extend_from_slice(extra);
        let o = common::fusionrec(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let plain = eval(&[]);
    let diverse = eval(&["--diversity", "0.5"]);
    assert_eq!(plain["matches_training"], true);
    assert!(diverse.get("matches_training").is_none());
    assert_eq!(diverse["rerank"]["diversity"], 0.5);
    let ild = |v: &serde_json::Value| v["test"]["ild@10"].as_f64().unwrap();
    assert!(
        ild(&diverse) > ild(&plain) + 0.05,
        "{} vs {}",
        ild(&diverse),
        ild(&plain)
    );

    for (args, needle) in [
        (
            vec!["eval", "--bundle", out_s, "--diversity", "1.5"],
            "diversity",
        ),
        (
            vec![
                "recommend",
                "--bundle",
                out_s,
                "--user",
                "196",
                "--diversity",
                "0.3",
            ],
            "--history",
        ),
    ] {
        let o = common::fusionrec(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = common::fusionrec(&[
        "recommend",
        "--bundle",
        out_s,
        "--history",
        "50,172,133",
        "--diversity",
        "0.5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(recs.len(), 10);
}
