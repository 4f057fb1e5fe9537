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

/// Format 3 on a 10⁴-item catalog: a 64-d BPR-MF in int8 takes ≤ 100 bytes per item, keeps test
/// NDCG@10 within 1% (relative) of f32 and ≥ 9 of each top 10; f16 keeps ≥ 9.5 of 10; both load
/// back as format 3, and `eval` re-evaluates the int8 bundle to exactly its recorded metrics.
#[test]
fn quantized_bundles_are_small_and_rank_like_f32() {
    use fusionrec::store::Bundle;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = common::fusionrec(&[
        "synth",
        "--out",
        d.to_str().unwrap(),
        "--items",
        "10000",
        "--users",
        "4000",
        "--interactions",
        "160000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = ["--dim", "64", "--epochs", "30", "--eval-every", "10"];
    let mut ndcg = Vec::new();
    for p in ["f32", "f16", "int8"] {
        let mut extra = args.to_vec();
        extra.extend(["--precision", p]);
        // test_ndcg writes the bundle to model-bpr-mf; keep each precision's copy.
        ndcg.push(test_ndcg(d, "bpr-mf", &extra));
        std::fs::rename(d.join("model-bpr-mf"), d.join(format!("bundle-{p}"))).unwrap();
    }
    let [f32_ndcg, f16_ndcg, int8_ndcg] = ndcg[..] else {
        unreachable!()
    };
    eprintln!("test NDCG@10: f32 {f32_ndcg:.4}, f16 {f16_ndcg:.4}, int8 {int8_ndcg:.4}");
    for (name, q) in [("f16", f16_ndcg), ("int8", int8_ndcg)] {
        assert!(
            (q - f32_ndcg).abs() <= 0.01 * f32_ndcg,
            "{name}: {q:.4} vs f32 {f32_ndcg:.4}"
        );
    }

    let load = |p: &str| Bundle::read_dir(&d.join(format!("bundle-{p}"))).unwrap();
    let (full, half, int8) = (load("f32"), load("f16"), load("int8"));
    assert_eq!(int8.manifest.format_version, 3);
    assert_eq!(full.manifest.format_version, 2);
    let users: Vec<String> = full
        .manifest
        .users
        .iter()
        .take(500)
        .map(str::to_owned)
        .collect();
    let overlap = |b: &Bundle| {
        let total: usize = users
            .iter()
            .map(|u| {
                let a: Vec<String> = full
                    .recommend(u, 10)
                    .unwrap()
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
                let q = b.recommend(u, 10).unwrap();
                q.iter().filter(|(i, _)| a.contains(i)).count()
            })
            .sum();
        total as f64 / users.len() as f64
    };
    let eval = common::fusionrec(&["eval", "--bundle", d.join("bundle-int8").to_str().unwrap()]);
    let said = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success() && said.contains("matches the metrics recorded at training: yes"),
        "{said}{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let (o16, o8) = (overlap(&half), overlap(&int8));
    eprintln!("mean top-10 overlap with f32 over 500 users: f16 {o16:.2}, int8 {o8:.2}");
    assert!(o16 >= 9.5 && o8 >= 9.0, "f16 {o16}, int8 {o8}");

    // Bytes that grow with the catalog: every stored tensor whose first dimension is the item
    // count (item factors and their scales), per item.
    let n = full.manifest.dims.items; // items with interactions (a few of the 10⁴ have none)
    let per_item = |p: &str| {
        let bytes = std::fs::read(d.join(format!("bundle-{p}/weights.safetensors"))).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let total: usize = st
            .tensors()
            .iter()
            .filter(|(_, v)| v.shape().first() == Some(&n))
            .map(|(_, v)| v.data().len())
            .sum();
        total as f64 / n as f64
    };
    let (b32, b16, b8) = (per_item("f32"), per_item("f16"), per_item("int8"));
    eprintln!("bytes per item: f32 {b32}, f16 {b16}, int8 {b8}");
    assert_eq!(b32, 256.0);
    assert_eq!(b16, 128.0);
    assert!(b8 <= 100.0, "{b8}");
}
