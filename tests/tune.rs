//! `fusionrec tune` end to end on MovieLens-100K: trials scored on validation only, the best
//! configuration written as `best.toml`, and `train --config best.toml` reproducing the best
//! trial's validation metric exactly; and the errors a bad space gives.

mod common;

use std::path::Path;
use std::process::Output;

use common::{fusionrec, stderr};

fn ok_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Every object key anywhere in `v`.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

/// Checks a tune's JSON: `n` trials, each with a finite validation `ndcg@10` equal to its
/// score, nothing about test anywhere; returns the best trial's score.
fn check_tune_json(tune: &serde_json::Value, n: usize) -> f64 {
    let trials = tune["trials"].as_array().expect("trials");
    assert_eq!(trials.len(), n, "{tune}");
    for t in trials {
        let ndcg = t["valid"]["ndcg@10"].as_f64().expect("valid ndcg@10");
        assert!(ndcg.is_finite() && ndcg > 0.05 && ndcg < 1.0, "{t}");
        assert_eq!(
            t["score"].as_f64(),
            Some(ndcg),
            "the default metric is ndcg@10"
        );
        assert!(t["seconds"].as_f64().unwrap() >= 0.0);
    }
    let mut all = Vec::new();
    keys(tune, &mut all);
    assert!(
        !all.iter().any(|k| k.to_lowercase().contains("test")),
        "tune must not report test metrics: {all:?}"
    );
    let best = tune["best"]["score"].as_f64().unwrap();
    let max = trials
        .iter()
        .map(|t| t["score"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(best, max, "the best trial has the highest validation score");
    best
}

/// `train --config best.toml` (same data flags) and its validation NDCG@10.
fn retrain_valid_ndcg(best_toml: &Path, out: &Path, extra: &[&str]) -> (f64, Output) {
    let data = common::ml100k_arg();
    let mut args = vec![
        "train",
        "--data",
        &data,
        "--config",
        best_toml.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = fusionrec(&args);
    let trained = ok_json(&o);
    let (_, model) = trained.as_object().unwrap().iter().next().unwrap();
    (model["valid"]["ndcg@10"].as_f64().unwrap(), o)
}

/// BPR-MF (the SGD solver), random search over a list and a log-uniform range: the table has
/// a row per trial, and `train --config best.toml` gives the best trial's validation NDCG@10 to
/// the last bit (a sampled learning rate survives the round trip through TOML exactly).
#[test]
fn bpr_random_search_writes_a_best_toml_that_train_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let space = tmp.path().join("space.toml");
    std::fs::write(
        &space,
        "dim = [16, 32]\nlr = { log_uniform = [0.005, 0.05] }\n",
    )
    .unwrap();
    let out = tmp.path().join("tune");
    let data = common::ml100k_arg();
    let o = fusionrec(&[
        "tune",
        "--data",
        &data,
        "--model",
        "bpr-mf",
        "--space",
        space.to_str().unwrap(),
        "--trials",
        "3",
        "--epochs",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let header = table.lines().next().unwrap();
    for column in ["trial", "dim", "lr", "valid ndcg@10", "seconds"] {
        assert!(header.contains(column), "{table}");
    }
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("best"))
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(
        rows.iter().filter(|r| r.contains('*')).count(),
        1,
        "{table}"
    );
    assert!(!table.to_lowercase().contains("test"), "{table}");

    // The same run, machine-readable, is in tune.json.
    let tune: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tune.json")).unwrap()).unwrap();
    let best = check_tune_json(&tune, 3);
    let best_toml = out.join("best.toml");
    let text = std::fs::read_to_string(&best_toml).unwrap();
    for line in [
        "model = \"bpr-mf\"",
        "seed = 2026",
        "epochs = 10",
        "solver = \"sgd\"",
    ] {
        assert!(text.contains(line), "{text}");
    }

    let (valid, o) = retrain_valid_ndcg(&best_toml, &tmp.path().join("model"), &[]);
    assert!(
        (valid - best).abs() <= 1e-9,
        "train --config best.toml: valid ndcg@10 {valid}, the best trial {best}"
    );
    // train, unlike tune, does report test: the chosen model's held-out figure.
    let trained: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(trained["bpr-mf"]["test"]["ndcg@10"].as_f64().unwrap() > 0.05);
}

/// EASE, grid search (--json): one row per grid point, reproduced by `train --config`; the same
/// random search twice gives the same trials and another search seed other ones; a flag typed
/// on the command line wins over the file.
#[test]
fn ease_grid_and_seeded_random_search() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::ml100k_arg();
    let grid = tmp.path().join("grid.toml");
    std::fs::write(&grid, "lambda = [100, 250, 600]\n").unwrap();
    let out = tmp.path().join("grid");
    let tune = ok_json(&fusionrec(&[
        "tune",
        "--data",
        &data,
        "--model",
        "ease",
        "--space",
        grid.to_str().unwrap(),
        "--search",
        "grid",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let best = check_tune_json(&tune, 3);
    let lambdas: Vec<f64> = tune["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["params"]["lambda"].as_f64().unwrap())
        .collect();
    assert_eq!(lambdas, [100.0, 250.0, 600.0]);
    let best_toml = out.join("best.toml");
    let (valid, _) = retrain_valid_ndcg(&best_toml, &tmp.path().join("m1"), &[]);
    assert!((valid - best).abs() <= 1e-9, "{valid} vs {best}");
    // --lambda on the command line wins over best.toml's lambda (and says so).
    let worst = lambdas
        .iter()
        .zip(tune["trials"].as_array().unwrap())
        .min_by(|a, b| {
            a.1["score"]
                .as_f64()
                .partial_cmp(&b.1["score"].as_f64())
                .unwrap()
        })
        .map(|(l, t)| (l.to_string(), t["score"].as_f64().unwrap()))
        .unwrap();
    let (valid, o) =
        retrain_valid_ndcg(&best_toml, &tmp.path().join("m2"), &["--lambda", &worst.0]);
    assert!((valid - worst.1).abs() <= 1e-9, "{valid} vs {worst:?}");
    assert!(stderr(&o).contains("wins over"), "{}", stderr(&o));

    // --metric scores the trials by another validation metric.
    let o = fusionrec(&[
        "tune",
        "--data",
        &data,
        "--model",
        "ease",
        "--space",
        grid.to_str().unwrap(),
        "--search",
        "grid",
        "--trials",
        "2",
        "--metric",
        "recall@20",
        "--out",
        tmp.path().join("recall").to_str().unwrap(),
        "--json",
    ]);
    let recall = ok_json(&o);
    let trials = recall["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "--trials caps the grid");
    for t in trials {
        assert_eq!(t["score"], t["valid"]["recall@20"], "{t}");
    }
    assert_eq!(recall["metric"], "recall@20");

    let random = tmp.path().join("random.toml");
    std::fs::write(&random, "lambda = { log_uniform = [50.0, 1000.0] }\n").unwrap();
    let run = |seed: &str, dir: &str| {
        let out = tmp.path().join(dir);
        let tune = ok_json(&fusionrec(&[
            "tune",
            "--data",
            &data,
            "--model",
            "ease",
            "--space",
            random.to_str().unwrap(),
            "--trials",
            "2",
            "--search-seed",
            seed,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]));
        check_tune_json(&tune, 2);
        let params: Vec<serde_json::Value> = tune["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["params"].clone())
            .collect();
        (params, tune["best"]["score"].as_f64().unwrap())
    };
    let a = run("7", "r1");
    let b = run("7", "r2");
    let c = run("8", "r3");
    assert_eq!(a, b, "same search seed, same trials and scores");
    assert_ne!(a.0, c.0, "another search seed draws other trials");
    for p in a.0.iter().chain(&c.0) {
        let l = p["lambda"].as_f64().unwrap();
        assert!((50.0..=1000.0).contains(&l), "{l}");
    }
}

/// Mistakes in a space are coded configuration errors naming the key, before any training.
#[test]
fn bad_spaces_are_coded_errors_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::ml100k_arg();
    let out = tmp.path().join("out");
    let values = |n: usize| {
        let v: Vec<String> = (1..=n).map(|i| (8 * i).to_string()).collect();
        format!("[{}]", v.join(", "))
    };
    // 20 × 20 × 20 × 20 = 160,000 grid points: more than a grid runs whole without --trials.
    let huge = format!(
        "dim = {0}\nepochs = {0}\nbatch_size = {0}\npatience = {0}\nsolver = [\"adam\"]",
        values(20)
    );
    for (i, (model, space, extra, key)) in [
        ("bpr-mf", "dimm = [32]", &[][..], "'dimm'"),
        ("bpr-mf", "lambda = [100]", &[][..], "'lambda'"),
        ("ease", "dim = [32, 64]", &[][..], "'dim'"),
        ("ease", "l2 = [100]", &[][..], "'lambda'"),
        ("bpr-mf", "lr = []", &[][..], "'lr'"),
        ("bpr-mf", "lr = { uniform = [0.1, 0.01] }", &[][..], "'lr'"),
        (
            "bpr-mf",
            "lr = { log_uniform = [1e-3, 1e-1] }",
            &["--search", "grid"][..],
            "'lr'",
        ),
        ("bpr-mf", "dim = [16, 32]", &["--dim", "8"][..], "'dim'"),
        (
            "bpr-mf",
            "dim = [16]",
            &["--metric", "test@10"][..],
            "test@10",
        ),
        (
            "bpr-mf",
            "solver = [\"sgd\", \"newton\"]",
            &[][..],
            "newton",
        ),
        ("all", "dim = [16]", &[][..], "one model"),
        (
            "bpr-mf",
            huge.as_str(),
            &["--search", "grid"][..],
            "--trials",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = tmp.path().join(format!("space{i}.toml"));
        std::fs::write(&path, space).unwrap();
        let mut args = vec![
            "tune",
            "--data",
            &data,
            "--model",
            model,
            "--space",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = fusionrec(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{space}: {err}");
        assert!(
            err.contains("BAD_CONFIG") && err.contains(key),
            "{space}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // --trials 0 (or absurdly many) is refused by the parser, before anything runs.
    for trials in ["0", "1000000000"] {
        let o = fusionrec(&[
            "tune", "--model", "ease", "--space", "x.toml", "--trials", trials, "--out", "o",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("--trials"), "{}", stderr(&o));
    }
    // train --config refuses unknown keys and lists, naming them.
    for (text, key) in [("dimm = 32", "'dimm'"), ("dim = [32, 64]", "'dim'")] {
        let path = tmp.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let o = fusionrec(&[
            "train",
            "--data",
            &data,
            "--config",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains("BAD_CONFIG") && err.contains(key),
            "{text}: {err}"
        );
    }
    assert!(!out.join("best.toml").exists());
}
