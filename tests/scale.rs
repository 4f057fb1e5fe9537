//! The scale path's correctness on a small synthetic catalog (the scale runs themselves are
//! benchmarks: `bench/scale.py`): `fusionrec synth` writes a learnable power-law catalog, the
//! same seed writes the same files, and EASE (f32, in place) and BPR-MF (native SGD) recover
//! the planted preferences far better than popularity.

mod common;

use std::path::Path;

fn synth(dir: &Path, seed: &str) {
    let out = common::fusionrec(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--items",
        "3000",
        "--users",
        "3000",
        "--interactions",
        "90000",
        "--seed",
        seed,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Test NDCG@10 of `model` trained on the synthetic split in `dir`.
fn test_ndcg(dir: &Path, model: &str, extra: &[&str]) -> f64 {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let out_dir = dir.join(format!("model-{model}"));
    let mut args = vec![
        "train".to_owned(),
        "--model".into(),
        model.into(),
        "--split".into(),
        "given".into(),
        "--train".into(),
        file("train.csv"),
        "--valid".into(),
        file("valid.csv"),
        "--test".into(),
        file("test.csv"),
        "--items".into(),
        file("items.csv"),
        "--out".into(),
        out_dir.to_str().unwrap().into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::fusionrec(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json[model]["test"]["ndcg@10"].as_f64().unwrap()
}

#[test]
fn synthetic_catalog_is_seeded_power_law_and_learnable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    synth(&a, "7");
    synth(&b, "7");
    synth(&c, "8");
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for f in ["train.csv", "test.csv", "items.csv", "item_features.npy"] {
        assert!(read(&a, f) == read(&b, f), "{f} differs for the same seed");
    }
    assert!(read(&a, "train.csv") != read(&c, "train.csv"));

    let summary: serde_json::Value = serde_json::from_slice(&read(&a, "synth.json")).unwrap();
    let total: u64 = ["train", "valid", "test"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .sum();
    assert!(
        (total as f64 - 90_000.0).abs() < 0.05 * 90_000.0,
        "{total} interactions"
    );
    // Power law: the top 1% of items hold far more than 1% of the interactions.
    let top = summary["top1pct_share"].as_f64().unwrap();
    assert!(top > 0.05, "top 1% of items hold {top}");

    let pop = test_ndcg(&a, "popularity", &[]);
    let ease = test_ndcg(&a, "ease", &[]);
    let bpr = test_ndcg(&a, "bpr-mf", &[]);
    eprintln!("synthetic test NDCG@10: popularity {pop:.4}, EASE {ease:.4}, BPR-MF {bpr:.4}");
    assert!(ease >= 1.5 * pop, "EASE {ease:.4} vs popularity {pop:.4}");
    assert!(bpr >= 1.3 * pop, "BPR-MF {bpr:.4} vs popularity {pop:.4}");
}
