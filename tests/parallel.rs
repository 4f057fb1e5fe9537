//! Data-parallel training through the command line (`train --devices N`, the `multi-device`
//! feature): on the CPU backend the replicas are threads, which is what these tests can run;
//! on GPUs the same code puts one replica on each (`scripts/gpu-check.sh`). The loop's own
//! equivalence to one device is a unit test in `src/model/parallel.rs`.
#![cfg(feature = "multi-device")]

mod common;

use std::path::Path;

fn synth(dir: &Path) {
    let out = common::fusionrec(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--items",
        "400",
        "--users",
        "600",
        "--interactions",
        "12000",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// `train` on the synthetic split in `dir`; the process output and the bundle folder.
fn train(dir: &Path, tag: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let out_dir = dir.join(tag);
    let mut args: Vec<String> = [
        "train",
        "--split",
        "given",
        "--train",
        &file("train.csv"),
        "--valid",
        &file("valid.csv"),
        "--test",
        &file("test.csv"),
        "--items",
        &file("items.csv"),
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (common::fusionrec(&args), out_dir)
}

fn test_ndcg(out: &std::process::Output, model: &str) -> f64 {
    assert!(out.status.success(), "{}", common::stderr(out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json[model]["test"]["ndcg@10"].as_f64().unwrap()
}

#[test]
fn two_replicas_train_as_well_as_one_device() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path());
    for (model, extra) in [
        ("lightgcn", &["--epochs", "8", "--eval-every", "4"][..]),
        (
            "bpr-mf",
            &[
                "--solver",
                "adam",
                "--lr",
                "0.005",
                "--epochs",
                "30",
                "--eval-every",
                "10",
            ][..],
        ),
        (
            "sasrec",
            &["--modalities", "none", "--epochs", "4", "--eval-every", "2"][..],
        ),
        (
            "hybrid",
            &[
                "--modalities",
                "tabular",
                "--epochs",
                "4",
                "--eval-every",
                "2",
            ][..],
        ),
    ] {
        let base: Vec<&str> = [&["--model", model][..], extra].concat();
        let one = test_ndcg(&train(tmp.path(), &format!("{model}-1"), &base).0, model);
        let (out, bundle) = train(
            tmp.path(),
            &format!("{model}-2"),
            &[&base[..], &["--devices", "2"]].concat(),
        );
        let two = test_ndcg(&out, model);
        eprintln!("{model}: test NDCG@10 one device {one:.4}, two {two:.4}");
        if model == "sasrec" || model == "hybrid" {
            // Dropout draws differ per replica; the model must still learn as well.
            assert!(
                (two - one).abs() <= 0.2 * one,
                "{model}: two devices {two} vs one {one}"
            );
        } else if model == "lightgcn" {
            // Its softmax loss samples nothing: two replicas take one device's steps exactly,
            // up to the order of float sums.
            assert!(
                (two - one).abs() < 2e-3,
                "{model}: two devices {two} vs one {one}"
            );
        } else {
            // The same batches and steps; only the negatives' streams differ.
            assert!(
                (two - one).abs() <= 0.1 * one,
                "{model}: two devices {two} vs one {one}"
            );
        }
        // The bundle records the device count (it changes the negative streams)…
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["model"]["devices"], 2, "{}", manifest["model"]);
        // …and serves like any other.
        let eval = common::fusionrec(&["eval", "--bundle", bundle.to_str().unwrap()]);
        assert!(eval.status.success(), "{}", common::stderr(&eval));
    }
}

#[test]
fn solvers_without_replicas_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path());
    for (extra, says) in [
        (&["--model", "ease"][..], "closed form"),
        (
            &["--model", "bpr-mf", "--solver", "sgd"][..],
            "sgd solver (one CPU thread; --solver adam trains data-parallel) trains on one device",
        ),
        (
            &["--model", "lightgcn", "--devices", "0"][..],
            "devices must be between 1 and 64",
        ),
        (
            &["--model", "lightgcn", "--devices", "100000"][..],
            "devices must be between 1 and 64",
        ),
    ] {
        let mut args = extra.to_vec();
        if !args.contains(&"--devices") {
            args.extend(["--devices", "2"]);
        }
        let (out, _) = train(tmp.path(), "refused", &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{extra:?}: {}",
            common::stderr(&out)
        );
        let err = common::stderr(&out);
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}
