//! The bad-input battery, command-line half: each hostile or broken input — damaged bundles,
//! lying manifests, bad histories, malformed data files and feature matrices — must end the
//! process with exit status 2 and `error [CODE]` naming the expected code. No case passes by
//! "not crashing": each asserts its code. The table the test prints is the battery's record.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::fusionrec;

/// A small catalog: 40 users × 12 items each out of 30, ratings 1–5, timestamps.
fn interactions() -> String {
    let mut body = String::from("user,item,rating,timestamp\n");
    for u in 0..40 {
        for k in 0..12 {
            let i = (u * 7 + k * 5) % 30;
            body.push_str(&format!(
                "u{u},i{i},{},{}\n",
                1 + (u + k) % 5,
                1000 + u * 12 + k
            ));
        }
    }
    body
}

struct Setup {
    dir: tempfile::TempDir,
    bundle: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("events.csv");
        std::fs::write(&csv, interactions()).unwrap();
        let bundle = dir.path().join("bundle");
        let o = fusionrec(&[
            "train",
            "--interactions",
            csv.to_str().unwrap(),
            "--model",
            "bpr-mf",
            "--epochs",
            "2",
            "--dim",
            "8",
            "--threshold",
            "0",
            "--out",
            bundle.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Setup { dir, bundle }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A copy of the good bundle under `name`, with `edit` applied to (manifest JSON, weights).
    fn bundle_with(
        &self,
        name: &str,
        edit: impl FnOnce(&mut serde_json::Value, &mut Vec<u8>),
        fix_checksum: bool,
    ) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::fs::read_to_string(self.bundle.join("manifest.json")).unwrap();
        let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut weights = std::fs::read(self.bundle.join("weights.safetensors")).unwrap();
        edit(&mut manifest, &mut weights);
        if fix_checksum {
            manifest["files"]["weights.safetensors"] = serde_json::json!({
                "bytes": weights.len(),
                "sha256": fusionrec::io::sha256_hex(&weights),
            });
        }
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
        std::fs::write(dir.join("weights.safetensors"), &weights).unwrap();
        dir
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

/// The safetensors header of `weights` (after its 8-byte length) as JSON, and where data starts.
fn header(weights: &[u8]) -> (serde_json::Value, usize) {
    let n = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&weights[8..8 + n]).unwrap(), 8 + n)
}

/// `weights` with its header replaced (data offsets are relative to the data, so they stay
/// valid); padded with spaces to a multiple of 8 bytes as writers do.
fn with_header(weights: &[u8], header: &serde_json::Value) -> Vec<u8> {
    let n = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let mut text = header.to_string().into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&weights[8 + n..]);
    out
}

fn recommend(bundle: &Path, history: &str, k: &str) -> Output {
    fusionrec(&[
        "recommend",
        "--bundle",
        bundle.to_str().unwrap(),
        "--history",
        history,
        "-k",
        k,
    ])
}

fn train_csv(s: &Setup, csv: &str, extra: &[&str]) -> Output {
    let out = s.path("out");
    let mut args = vec![
        "train",
        "--interactions",
        csv,
        "--model",
        "popularity",
        "--threshold",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fusionrec(&args)
}

#[test]
fn every_bad_input_is_a_coded_error() {
    let s = Setup::new();
    let good = &s.bundle;
    let mut cases: Vec<(&str, &str, Output)> = Vec::new();
    let mut case = |name: &'static str, code: &'static str, o: Output| cases.push((name, code, o));

    // Bundles: damaged bytes.
    let b = s.bundle_with("truncated", |_, w| w.truncate(w.len() / 2), false);
    case(
        "truncated weights",
        "BUNDLE_CHECKSUM",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "bitflip",
        |_, w| {
            let n = w.len();
            w[n - 3] ^= 0x40
        },
        false,
    );
    case(
        "bit-flipped weights",
        "BUNDLE_CHECKSUM",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with("bitflip-header", |_, w| w[12] ^= 0x5b, true);
    case(
        "bit-flipped header, checksum updated",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with("empty-weights", |_, w| w.clear(), true);
    case(
        "0-byte weights, checksum updated",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "nan",
        |_, w| {
            let (h, start) = header(w);
            let at = start + h["model.item_factors"]["data_offsets"][0].as_u64().unwrap() as usize;
            w[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        },
        true,
    );
    case(
        "NaN in the item factors",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "inf",
        |_, w| {
            let n = w.len();
            w[n - 4..].copy_from_slice(&f32::INFINITY.to_le_bytes());
        },
        true,
    );
    case(
        "∞ as the last value",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "shape",
        |_, w| {
            let (mut h, _) = header(w);
            let shape = h["model.item_factors"]["shape"].clone();
            h["model.item_factors"]["shape"] =
                serde_json::json!([shape[1].as_u64().unwrap(), shape[0].as_u64().unwrap()]);
            *w = with_header(w, &h);
        },
        true,
    );
    case(
        "transposed tensor shape",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "huge-dim",
        |_, w| {
            let (mut h, _) = header(w);
            h["model.item_factors"]["shape"] = serde_json::json!([30, 1_000_000_000u64]);
            *w = with_header(w, &h);
        },
        true,
    );
    case(
        "a 3·10¹⁰-element tensor claim",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "no-weights",
        |m, _| m["files"] = serde_json::json!({}),
        false,
    );
    case(
        "manifest lists no weights",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );

    // Manifests that lie or break.
    let b = s.bundle_with("version", |m, _| m["format_version"] = 99.into(), false);
    case(
        "future format version",
        "BUNDLE_VERSION",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with("format", |m, _| m["format"] = "other".into(), false);
    case(
        "wrong format name",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "no-model",
        |m, _| {
            m.as_object_mut().unwrap().remove("model");
        },
        false,
    );
    case(
        "manifest without a model",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "dup-ids",
        |m, _| m["items"][1] = m["items"][0].clone(),
        false,
    );
    case(
        "duplicate item ids",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "negative",
        |m, _| m["files"]["weights.safetensors"]["bytes"] = (-1).into(),
        false,
    );
    case(
        "negative file size",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with(
        "billion",
        |m, _| m["dims"]["items"] = 1_000_000_000u64.into(),
        false,
    );
    case(
        "10⁹ items claimed",
        "BUNDLE_INVALID",
        recommend(&b, "i1", "5"),
    );
    let b = s.bundle_with("dim0", |m, _| m["model"]["dim"] = 0.into(), false);
    case("factor dim 0", "BUNDLE_INVALID", recommend(&b, "i1", "5"));
    std::fs::create_dir_all(s.path("not-json")).unwrap();
    s.file("not-json/manifest.json", [0xff, 0xfe, b'{']);
    case(
        "manifest of invalid UTF-8",
        "BUNDLE_INVALID",
        recommend(&s.path("not-json"), "i1", "5"),
    );
    case(
        "no bundle there",
        "IO",
        recommend(&s.path("nowhere"), "i1", "5"),
    );

    // Histories and options.
    case(
        "unknown item in the history",
        "UNKNOWN_ITEM",
        recommend(good, "i1,nope", "5"),
    );
    case(
        "empty item id in the history",
        "UNKNOWN_ITEM",
        recommend(good, "i1,,i2", "5"),
    );
    case("k = 0", "BAD_CONFIG", recommend(good, "i1", "0"));
    let o = fusionrec(&[
        "recommend",
        "--bundle",
        good.to_str().unwrap(),
        "--user",
        "nobody",
    ]);
    case("unknown user", "UNKNOWN_USER", o);

    // Interaction files.
    case(
        "missing file",
        "IO",
        train_csv(&s, s.path("none.csv").to_str().unwrap(), &[]),
    );
    let f = s.file("empty.csv", "");
    case("0-byte file", "PARSE", train_csv(&s, &f, &[]));
    let f = s.file("header.csv", "user,item,rating\n");
    case("header only", "BAD_DATA", train_csv(&s, &f, &[]));
    let f = s.file("cols.csv", "user,rating\nu1,5\n");
    case("no item column", "PARSE", train_csv(&s, &f, &[]));
    let f = s.file("utf8.csv", b"user,item\nu1,\xff\xfe\n".as_slice());
    case("invalid UTF-8", "BAD_DATA", train_csv(&s, &f, &[]));
    let f = s.file("mixed.csv", interactions().replacen("u0,", "u0\t", 3));
    case(
        "a row with another delimiter",
        "PARSE",
        train_csv(&s, &f, &[]),
    );
    let f = s.file("range.csv", interactions() + "u1,i2,1e39,1\n");
    case("rating not a finite f32", "PARSE", train_csv(&s, &f, &[]));
    let f = s.file("nanrating.csv", interactions() + "u1,i2,NaN,1\n");
    case("NaN rating", "PARSE", train_csv(&s, &f, &[]));
    let f = s.file("badts.csv", interactions() + "u1,i2,5,yesterday\n");
    case("timestamp not a number", "PARSE", train_csv(&s, &f, &[]));
    let f = s.file("emptyid.csv", interactions() + ",i2,5,1\n");
    case("empty user id", "PARSE", train_csv(&s, &f, &[]));

    // Feature matrices (`--item-features`).
    let csv = s.file("events.csv", interactions());
    let f = s.file("short.csv", "id,a,b\ni1,1,2\ni2,3\n");
    let spec = format!("feat={f}");
    case(
        "feature row with a missing value",
        "PARSE",
        train_csv(&s, &csv, &["--item-features", &spec]),
    );
    let f = s.file("nanfeat.csv", "id,a,b\ni1,1,NaN\n");
    let spec = format!("feat={f}");
    case(
        "NaN feature",
        "PARSE",
        train_csv(&s, &csv, &["--item-features", &spec]),
    );
    let f = s.file("unknown.csv", "id,a\nno-such-item,1\n");
    let spec = format!("feat={f}");
    case(
        "feature row for an unknown item",
        "PARSE",
        train_csv(&s, &csv, &["--item-features", &spec]),
    );
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let head = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }";
    let mut head = head.to_owned();
    while (10 + head.len() + 1) % 64 != 0 {
        head.push(' ');
    }
    head.push('\n');
    npy.extend((head.len() as u16).to_le_bytes());
    npy.extend(head.as_bytes());
    npy.extend([0u8; 64]);
    let f = s.file("huge.npy", npy);
    let spec = format!("feat={f}");
    case(
        ".npy claiming 10¹² values",
        "PARSE",
        train_csv(&s, &csv, &["--item-features", &spec]),
    );

    // A bundle over the caller's `--max-bytes` (the native twin of a page's `maxBytes`): refused
    // from its manifest, and a weights file longer on disk than listed is refused unread.
    let limited = |bundle: &Path, max: &str| {
        fusionrec(&[
            "--max-bytes",
            max,
            "recommend",
            "--bundle",
            bundle.to_str().unwrap(),
            "--history",
            "i1",
        ])
    };
    case(
        "bundle over --max-bytes",
        "TOO_LARGE",
        limited(good, "1000"),
    );
    let grown = s.bundle_with("grown", |_, w| w.extend([0u8; 4096]), false);
    let listed: u64 = ["manifest.json", "weights.safetensors"]
        .iter()
        .map(|f| std::fs::metadata(good.join(f)).unwrap().len())
        .sum();
    case(
        "weights longer on disk than listed, under --max-bytes",
        "TOO_LARGE",
        limited(&grown, &(listed + 100).to_string()),
    );
    case("--max-bytes 0", "-", limited(good, "0"));

    // The record, then the verdicts.
    let mut failures = Vec::new();
    println!("{:<40} {:<16} {:<16} exit", "case", "expected", "got");
    for (name, code, o) in &cases {
        let err = String::from_utf8_lossy(&o.stderr);
        let got = err
            .split("error [")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or("-");
        println!("{name:<40} {code:<16} {got:<16} {:?}", o.status.code());
        if o.status.code() != Some(2) || got != *code {
            failures.push(format!(
                "{name}: expected {code}, got {got} ({:?}): {err}",
                o.status.code()
            ));
        }
    }
    assert!(cases.len() >= 30, "{} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Valid if unusual CSV is read, not refused: a byte-order mark, and a quoted id holding a
    // newline (the id keeps it).
    let f = s.file("bom.csv", format!("\u{feff}{}", interactions()));
    assert!(train_csv(&s, &f, &[]).status.success(), "BOM");
    let f = s.file("quoted.csv", interactions() + "u1,\"i\n2\",5,1\n");
    assert!(train_csv(&s, &f, &[]).status.success(), "quoted newline");
    let manifest = std::fs::read_to_string(s.path("out").join("manifest.json")).unwrap();
    assert!(manifest.contains("\"i\\n2\""), "the id with its newline");
    // The good bundle still answers after all that.
    assert!(recommend(good, "i1", "5").status.success());
}
