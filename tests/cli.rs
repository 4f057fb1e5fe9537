//! The command-line tool end to end on real data: train → bundle → eval → recommend, and the
//! errors a user sees for bad input.

mod common;

use std::path::Path;

use common::{fusionrec, stderr};

#[test]
fn train_eval_recommend_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("knn");
    let out_s = out.to_str().unwrap();
    let o = fusionrec(&[
        "train",
        "--data",
        &common::ml100k_arg(),
        "--model",
        "item-knn",
        "--out",
        out_s,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let trained: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ndcg = trained["item-knn"]["test"]["ndcg@10"].as_f64().unwrap();
    assert!(ndcg > 0.05 && ndcg < 1.0, "{ndcg}");

    let o = fusionrec(&["eval", "--bundle", out_s, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(eval["matches_training"], true);
    assert_eq!(
        eval["test"], trained["item-knn"]["test"],
        "identical metrics after loading"
    );

    let o = fusionrec(&[
        "recommend",
        "--bundle",
        out_s,
        "--user",
        "196",
        "-k",
        "10",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = recs.iter().map(|r| r["item"].as_str().unwrap()).collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!((ids.len(), distinct.len()), (10, 10));
    let scores: Vec<f64> = recs.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "sorted best first: {scores:?}"
    );
    // None of them is in user 196's training history (as stored in the bundle).
    let bundle = fusionrec::store::Bundle::read_dir(&out).unwrap();
    let user = bundle.manifest.users.get("196").unwrap();
    let seen: Vec<&str> = bundle
        .history
        .user(user)
        .0
        .iter()
        .map(|&i| bundle.manifest.items.id(i))
        .collect();
    assert!(ids.iter().all(|i| !seen.contains(i)));
    assert!(recs
        .iter()
        .all(|r| !r["title"].as_str().unwrap().is_empty()));
}

#[test]
fn bad_input_gives_a_coded_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pop");
    let out_s = out.to_str().unwrap();
    assert!(fusionrec(&[
        "train",
        "--data",
        &common::ml100k_arg(),
        "--model",
        "popularity",
        "--out",
        out_s
    ])
    .status
    .success());

    let o = fusionrec(&["recommend", "--bundle", out_s, "--user", "no-such-user"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[UNKNOWN_USER]"), "{}", stderr(&o));

    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut future: serde_json::Value = serde_json::from_str(&text).unwrap();
    future["format_version"] = 99.into();
    std::fs::write(&manifest, serde_json::to_string(&future).unwrap()).unwrap();
    let o = fusionrec(&["recommend", "--bundle", out_s, "--user", "196"]);
    assert!(stderr(&o).contains("[BUNDLE_VERSION]"), "{}", stderr(&o));
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    let o = fusionrec(&["recommend", "--bundle", out_s, "--user", "196"]);
    assert!(stderr(&o).contains("[BUNDLE_INVALID]"), "{}", stderr(&o));

    let o = fusionrec(&["train", "--data", "/nonexistent", "--out", out_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("[IO]") && stderr(&o).contains("/nonexistent"),
        "{}",
        stderr(&o)
    );

    let o = fusionrec(&[
        "train",
        "--data",
        &common::ml100k_arg(),
        "--device",
        "cuda",
        "--model",
        "popularity",
        "--out",
        out_s,
    ]);
    if cfg!(feature = "cuda") {
        assert!(o.status.success() || stderr(&o).contains("[DEVICE]"));
    } else {
        assert!(
            stderr(&o).contains("[DEVICE]") && stderr(&o).contains("--features cuda"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn malformed_rows_fail_with_file_and_line_or_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("events.csv");
    let mut body = String::from("user,item,rating\n");
    for u in 0..30 {
        for i in 0..12 {
            body.push_str(&format!("u{u},i{},{}\n", (u + i) % 40, 1 + (u * i) % 5));
        }
    }
    body.push_str("u1,i1,not-a-number\n");
    std::fs::write(&csv, body).unwrap();
    let out = tmp.path().join("m");
    let args = [
        "train",
        "--interactions",
        csv.to_str().unwrap(),
        "--model",
        "popularity",
        "--threshold",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = fusionrec(&args);
    assert!(stderr(&o).contains("events.csv:362"), "{}", stderr(&o));
    let mut skip = args.to_vec();
    skip.push("--skip-bad-rows");
    let o = fusionrec(&skip);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped 1 malformed rows"),
        "{}",
        stderr(&o)
    );
    assert!(Path::new(&out).join("manifest.json").is_file());
}

#[test]
fn recommend_for_a_visitor_history() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ease");
    let out_s = out.to_str().unwrap();
    let o = fusionrec(&[
        "train",
        "--data",
        &common::ml100k_arg(),
        "--model",
        "ease",
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fusionrec(&[
        "recommend",
        "--bundle",
        out_s,
        "--history",
        "50,172,133",
        "-k",
        "10",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = recs.iter().map(|r| r["item"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 10);
    assert!(ids.iter().all(|i| !["50", "172", "133"].contains(i)));
    // The same list as the library's `Session::recommend` on the loaded bundle.
    let bundle = fusionrec::store::Bundle::read_dir(&out).unwrap();
    let events: Vec<_> = ["50", "172", "133"]
        .iter()
        .map(|&item| fusionrec::rank::HistoryEvent {
            item: item.into(),
            rating: None,
            time: None,
        })
        .collect();
    let expected = fusionrec::rank::Session::new(bundle)
        .recommend(&events, 10, true)
        .unwrap();
    for (r, (id, score)) in recs.iter().zip(&expected) {
        assert_eq!(r["item"], id.as_str());
        assert!((r["score"].as_f64().unwrap() - f64::from(*score)).abs() < 1e-6);
    }

    let o = fusionrec(&["recommend", "--bundle", out_s, "--history", "50,nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("UNKNOWN_ITEM"), "{}", stderr(&o));
    let o = fusionrec(&[
        "recommend",
        "--bundle",
        out_s,
        "--history",
        "50",
        "--user",
        "1",
    ]);
    assert!(!o.status.success(), "--user and --history conflict");
}

#[test]
fn k_fold_cross_validation_reports_mean_and_std_over_folds() {
    let o = fusionrec(&[
        "train",
        "--data",
        &common::ml100k_arg(),
        "--model",
        "ease",
        "--folds",
        "4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let folds = v["ease"]["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    let ndcg: Vec<f64> = folds
        .iter()
        .map(|f| f["test"]["ndcg@10"].as_f64().unwrap())
        .collect();
    // Different test folds give different figures; the summary is their mean and sample std.
    assert!(ndcg.iter().all(|&x| x > 0.1 && x < 0.5), "{ndcg:?}");
    assert!(ndcg.windows(2).any(|w| w[0] != w[1]), "{ndcg:?}");
    let mean = ndcg.iter().sum::<f64>() / 4.0;
    let std = (ndcg.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    let got_mean = v["ease"]["test_mean"]["ndcg@10"].as_f64().unwrap();
    let got_std = v["ease"]["test_std"]["ndcg@10"].as_f64().unwrap();
    assert!((got_mean - mean).abs() < 1e-12, "{got_mean} vs {mean}");
    assert!(
        (got_std - std).abs() < 1e-12 && std > 0.0,
        "{got_std} vs {std}"
    );
    // Each fold tests (nearly) every user: a quarter of each one's positives.
    let users: Vec<f64> = folds
        .iter()
        .map(|f| f["test"]["users"].as_f64().unwrap())
        .collect();
    assert!(users.iter().all(|&u| u > 900.0), "{users:?}");

    let data = common::ml100k_arg();
    for (extra, needle) in [
        (vec!["--folds", "2"], "at least 3 folds"),
        (
            vec!["--folds", "5", "--split", "temporal"],
            "per-user random",
        ),
    ] {
        let mut args = vec!["train", "--data", &data, "--model", "ease"];
        args.extend(extra);
        let o = fusionrec(&args);
        assert!(
            !o.status.success() && stderr(&o).contains(needle),
            "{}",
            stderr(&o)
        );
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// `encode --text`: the golden sentences in batches of 4 (sorted by length, so rows must be put
/// back in line order) give the reference vectors, row r for line r, in an `.npy` that
/// `--item-features NAME=FILE@IDS` reads.
#[test]
fn encode_text_writes_golden_vectors_in_line_order() {
    let golden = common::minilm_golden();
    let tmp = tempfile::tempdir().unwrap();
    let texts = tmp.path().join("texts.txt");
    let lines: Vec<&str> = golden.sentences.iter().map(|s| s.text.as_str()).collect();
    std::fs::write(&texts, lines.join("\n")).unwrap();
    let out = tmp.path().join("text.npy");
    let minilm = common::data_dir().join("minilm");
    let o = fusionrec(&[
        "encode",
        "--text",
        texts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch",
        "4",
        "--minilm",
        minilm.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let ids = tmp.path().join("ids.txt");
    let names: Vec<String> = (0..lines.len()).map(|i| format!("s{i}")).collect();
    std::fs::write(&ids, names.join("\n")).unwrap();
    let mut items = fusionrec::data::IdMap::default();
    for n in names.iter().rev() {
        items.get_or_insert(n);
    }
    let spec = format!("minilm={}@{}", out.display(), ids.display());
    let m =
        fusionrec::encode::external::load_item_features(&spec.parse().unwrap(), &items).unwrap();
    assert_eq!((m.dim, m.present.len()), (384, lines.len()));
    for (r, s) in golden.sentences.iter().enumerate() {
        let item = items.get(&format!("s{r}")).unwrap() as usize;
        let c = cosine(m.row(item), &s.embedding);
        assert!(1.0 - c < 1e-4, "line {r} '{}': cosine {c}", s.text);
    }
}

/// `encode --images`: one row per photo in file-name order, each the encoder's own features of
/// that photo, and the file stems as the id list.
#[test]
fn encode_images_writes_one_row_per_photo_in_name_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, ids) = (tmp.path().join("img.npy"), tmp.path().join("ids.txt"));
    let photos = common::data_dir().join("photos");
    let pth = common::data_dir().join("efficientnet-lite0/efficientnet-lite0-57934424.pth");
    let o = fusionrec(&[
        "encode",
        "--images",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch",
        "3",
        "--ids-out",
        ids.to_str().unwrap(),
        "--efficientnet",
        pth.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names = std::fs::read_to_string(&ids).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names, ["astronaut", "chelsea", "coffee", "rocket"]);
    let bytes = std::fs::read(&out).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[4, 1280]);
    let values: Vec<f32> = npy.into_vec().unwrap();
    let encoder = fusionrec::encode::ImageEncoder::<burn::backend::Flex>::from_pth_file(
        &pth,
        &Default::default(),
    )
    .unwrap();
    for (r, name) in ["astronaut.png", "rocket.jpg"].iter().enumerate() {
        let alone = encoder
            .encode(&[&common::fetched("sample-photos", name)])
            .unwrap();
        let row = if r == 0 { 0 } else { 3 };
        let c = cosine(&values[row * 1280..(row + 1) * 1280], &alone.pooled);
        assert!(1.0 - c < 1e-5, "{name}: cosine {c}");
    }

    let o = fusionrec(&[
        "encode", "--text", "x.txt", "--images", "y", "--out", "z.npy",
    ]);
    assert!(
        !o.status.success(),
        "--text and --images together are refused"
    );
}
