//! Entry points for fuzzing every parser of outside bytes, shared by the coverage-guided
//! `cargo fuzz` targets (`fuzz/`, libFuzzer, nightly) and the stable smoke test that replays the
//! seed corpora and random mutations of them in CI (`tests/fuzz_smoke.rs`). Each takes arbitrary
//! bytes and must return — an `Err` is the right answer to garbage, a panic, a hang or a huge
//! allocation is a bug. Not part of the API.
#![doc(hidden)]

use std::io::Write;

use crate::data::RowPolicy;
use crate::store::{Bundle, MANIFEST_FILE, WEIGHTS_FILE};

/// A fuzz target: any bytes in, nothing out.
pub type Target = fn(&[u8]);

/// The targets by name, for the smoke test and the corpus layout (`fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Target); 9] = [
    ("bundle", bundle),
    ("safetensors", safetensors),
    ("pth", pth),
    ("minilm_weights", minilm_weights),
    ("image", image),
    ("audio", audio),
    ("csv", csv),
    ("atomic", atomic),
    ("session_state", session_state),
];

/// Splits an input at the first `0xFF 0x00` pair (absent: all `a`).
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|w| w == [0xff, 0x00]) {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[]),
    }
}

/// A bundle from a manifest and a weights file. The manifest's checksum entry for the weights
/// is rewritten to match them, so that the fuzzer gets past the checksum into the parsers.
pub fn bundle(data: &[u8]) {
    let (manifest, weights) = split(data);
    let manifest = match serde_json::from_slice::<serde_json::Value>(manifest) {
        Ok(mut m) => {
            if let Some(files) = m.get_mut("files").and_then(|f| f.as_object_mut()) {
                files.insert(
                    WEIGHTS_FILE.into(),
                    serde_json::json!({
                        "bytes": weights.len(),
                        "sha256": crate::io::sha256_hex(weights),
                    }),
                );
            }
            serde_json::to_vec(&m).unwrap_or_default()
        }
        Err(_) => manifest.to_vec(),
    };
    if let Ok(b) = Bundle::from_files(&manifest, |name| match name {
        WEIGHTS_FILE => Ok(weights.to_vec()),
        other => Err(crate::Error::Bundle(format!("no {other}"))),
    }) {
        // A bundle that loads must serve: recommend for a one-item history and a known user.
        let session = crate::rank::Session::new(b.clone());
        let first = b.manifest.items.iter().next().map(str::to_owned);
        if let Some(item) = first {
            let h = [crate::rank::HistoryEvent {
                item,
                rating: None,
                time: None,
            }];
            let _ = session.recommend(&h, 5, true);
        }
        if let Some(user) = b.manifest.users.iter().next() {
            let _ = b.recommend(user, 5);
        }
    }
}

pub fn safetensors(data: &[u8]) {
    let _ = crate::io::read_safetensors_f32(data);
}

pub fn pth(data: &[u8]) {
    let _ = crate::io::pth::read_pth_f32(data);
}

/// MiniLM's loader over any safetensors bytes, at a small configuration (the checks and the
/// `Weights` reader, not a 90 MB model).
pub fn minilm_weights(data: &[u8]) {
    let config = crate::encode::MiniLmConfig {
        vocab: 8,
        hidden: 4,
        layers: 1,
        heads: 2,
        intermediate: 8,
        max_positions: 8,
    };
    let _ = crate::encode::MiniLm::<burn::backend::Flex>::from_safetensors(
        data,
        config,
        &Default::default(),
    );
}

/// Image decode and the encoder's preprocessing (resize, crop, normalise).
pub fn image(data: &[u8]) {
    let _ = crate::encode::image::preprocess(data);
}

/// Audio decode and resampling to 16 kHz.
pub fn audio(data: &[u8]) {
    if let Ok(w) = crate::encode::audio::decode::decode(data) {
        let _ = crate::encode::audio::resample::resample(&w.samples, w.sample_rate, 16_000);
    }
}

fn with_file(name: &str, data: &[u8], run: impl FnOnce(&std::path::Path)) {
    let Ok(dir) = tempfile_dir() else { return };
    let path = dir.join(name);
    if std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .is_ok()
    {
        run(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "fusionrec-fuzz-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The generic interactions CSV (and, after the split marker, an items file), loaded and split.
pub fn csv(data: &[u8]) {
    let (inter, items) = split(data);
    with_file("events.csv", inter, |path| {
        let items_path = path.with_file_name("items.csv");
        let has_items = !items.is_empty() && std::fs::write(&items_path, items).is_ok();
        let items = has_items.then_some(items_path.as_path());
        for policy in [RowPolicy::Strict, RowPolicy::Skip] {
            if let Ok(d) = crate::data::load_generic(path, items, policy) {
                let _ = crate::data::Split::new(&d.log, &crate::data::Protocol::implicit_811(1));
            }
        }
    });
}

/// A RecBole atomic interactions file with a split column, as `--split-column x_label` reads it.
pub fn atomic(data: &[u8]) {
    with_file("data.inter", data, |path| {
        if let Ok(d) = crate::data::load_split_column(path, "x_label", None, RowPolicy::Skip) {
            let _ = crate::data::Split::new(&d.log, &crate::data::Protocol::implicit_811(1));
        }
    });
}

/// A saved browser session (what IndexedDB holds) restored onto a small bundle.
pub fn session_state(data: &[u8]) {
    let Ok(state) = serde_json::from_slice::<crate::rank::SessionState>(data) else {
        return;
    };
    let Some(bundle) = tiny_bundle() else { return };
    let mut session = crate::rank::Session::new(bundle);
    if session.restore(state).is_ok() {
        let h = [crate::rank::HistoryEvent {
            item: "i0".into(),
            rating: None,
            time: None,
        }];
        let _ = session.recommend(&h, 3, true);
    }
}

/// Four items in two dimensions (0 and 1 alike, 2 and 3 alike), one user.
fn tiny_factors() -> crate::model::FactorModel {
    crate::model::FactorModel {
        dim: 2,
        user_factors: vec![0.0; 2],
        item_factors: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9].into(),
        biases: None,
        encoder: None,
        heads: Default::default(),
    }
}

/// [`tiny_factors`] with a 2-d `text` content alike in the same pairs (also the session tests'
/// bundle).
pub(crate) fn tiny_bundle() -> Option<Bundle> {
    crate::store::example_bundle(
        crate::model::TrainedModel::Factor(tiny_factors()),
        vec![crate::encode::features::Modality {
            name: "text".into(),
            dim: 2,
            values: vec![1.0, 0.0, 1.0, 0.1, 0.0, 1.0, 0.1, 1.0],
            present: vec![true; 4],
        }],
    )
    .ok()
}

/// [`tiny_bundle`]'s catalog as a sequential (SASRec) bundle: a 2-wide encoder of one block
/// over the last 3 events, so the fuzzer reaches the encoder's shapes and the ordered history.
fn tiny_sequential_bundle() -> Option<Bundle> {
    use crate::model::sequential::{Dense, Norm, SeqBlock};
    use crate::model::{FactorModel, SeqEncoder, TrainedModel};
    let dense = |w: [f32; 4]| Dense {
        d_in: 2,
        d_out: 2,
        w: w.to_vec(),
        b: vec![0.1, -0.1],
    };
    let norm = || Norm {
        gamma: vec![1.0, 0.5],
        beta: vec![0.0, 0.1],
    };
    let encoder = SeqEncoder {
        dim: 2,
        max_len: 3,
        positions: vec![0.1, 0.0, 0.0, 0.1, -0.1, 0.2],
        blocks: vec![SeqBlock {
            norm1: norm(),
            query: dense([1.0, 0.0, 0.0, 1.0]),
            key: dense([0.5, 0.5, -0.5, 0.5]),
            value: dense([1.0, 0.2, 0.1, 1.0]),
            out: dense([0.9, 0.0, 0.0, 0.9]),
            norm2: norm(),
            ff1: dense([1.0, -1.0, 1.0, 1.0]),
            ff2: dense([0.5, 0.0, 0.0, 0.5]),
        }],
        norm: norm(),
    };
    crate::store::example_bundle(
        TrainedModel::Factor(FactorModel {
            dim: 2,
            user_factors: vec![0.3, 0.7],
            item_factors: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9].into(),
            biases: None,
            encoder: Some(Box::new(crate::model::VisitorEncoder::Sequence(encoder))),
            heads: Default::default(),
        }),
        Vec::new(),
    )
    .ok()
}

/// [`tiny_bundle`]'s factor model blended with a Mult-DAE over the same catalog (hidden width 2),
/// so the fuzzer reaches a blend's parts and the autoencoder's encoder.
fn tiny_blend_bundle() -> Option<Bundle> {
    use crate::model::{Blend, DaeEncoder, FactorModel, TrainedModel, VisitorEncoder};
    let factors = tiny_factors();
    let dae = FactorModel {
        dim: 3,
        user_factors: vec![0.2, -0.1, 1.0],
        item_factors: vec![1.0, 0.0, 0.1, 0.5, 0.5, 0.0, 0.0, 1.0, -0.1, 0.3, 0.3, 0.2].into(),
        biases: None,
        encoder: Some(Box::new(VisitorEncoder::Autoencoder(DaeEncoder {
            dim: 2,
            weight: vec![0.5, -0.5, 0.1, 0.2, -0.3, 0.4, 0.0, 0.6],
            bias: vec![0.05, -0.05],
        }))),
        heads: Default::default(),
    };
    crate::store::example_bundle(
        TrainedModel::Blend(Blend {
            parts: vec![
                (1.0, TrainedModel::Factor(factors)),
                (0.5, TrainedModel::Factor(dae)),
            ],
        }),
        Vec::new(),
    )
    .ok()
}

/// Valid inputs for target `name`, made by the crate's own writers: the seed corpus (also
/// written to `fuzz/corpus/<name>/` by `tests/fuzz_smoke.rs -- --ignored write_seeds`).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    let interactions = || {
        let mut s = String::from("user,item,rating,timestamp\n");
        for u in 0..12 {
            for k in 0..10 {
                s.push_str(&format!(
                    "u{u},i{},{},{}\n",
                    (u * 3 + k) % 15,
                    1 + k % 5,
                    100 + k
                ));
            }
        }
        s
    };
    let weights = || {
        tiny_bundle()
            .and_then(|b| b.to_files().ok())
            .map(|files| {
                files
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>()
            })
            .unwrap_or_default()
    };
    match name {
        "bundle" => {
            let files = |b: Option<Bundle>| {
                b.and_then(|b| b.to_files().ok())
                    .map(|files| files.into_iter().collect())
                    .unwrap_or_default()
            };
            [
                weights(),
                files(tiny_sequential_bundle()),
                files(tiny_blend_bundle()),
            ]
            .iter()
            .filter_map(|files: &std::collections::BTreeMap<_, Vec<u8>>| {
                match (files.get(MANIFEST_FILE), files.get(WEIGHTS_FILE)) {
                    (Some(m), Some(w)) => Some([m.as_slice(), &[0xff, 0x00], w].concat()),
                    _ => None,
                }
            })
            .collect()
        }
        "safetensors" | "minilm_weights" => weights().remove(WEIGHTS_FILE).into_iter().collect(),
        "pth" => vec![crate::io::pth::legacy_checkpoint(
            "w",
            &[2, 3],
            &[1, 2],
            &[1., 4., 2., 5., 3., 6.],
        )],
        "image" => {
            let img = image::RgbImage::from_fn(12, 9, |x, y| {
                image::Rgb([x as u8 * 20, y as u8 * 25, 90])
            });
            let mut png = std::io::Cursor::new(Vec::new());
            match img.write_to(&mut png, image::ImageFormat::Png) {
                Ok(()) => vec![png.into_inner()],
                Err(_) => Vec::new(),
            }
        }
        "audio" => {
            let frames: Vec<i16> = (0..800).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
            vec![crate::encode::audio::decode::wav_bytes(22_050, 1, &frames)]
        }
        "csv" => vec![[
            interactions().as_bytes(),
            &[0xff, 0x00],
            b"id,title\ni1,One\ni2,Two\n",
        ]
        .concat()],
        "atomic" => {
            let mut s = String::from("user_id:token\titem_id:token\tx_label:float\n");
            for u in 0..12 {
                for k in 0..10 {
                    s.push_str(&format!(
                        "{u}\t{}\t{}\n",
                        (u * 3 + k) % 15,
                        [0, 0, 0, 0, 0, 0, 0, 0, 1, 2][k]
                    ));
                }
            }
            vec![s.into_bytes()]
        }
        "session_state" => tiny_bundle()
            .map(|b| {
                let mut s = crate::rank::Session::new(b);
                let _ = s.add_item(
                    "new",
                    Some("New".into()),
                    [("text".to_string(), vec![0.5f32, 0.5])].into(),
                );
                serde_json::to_vec(&s.state()).unwrap_or_default()
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle seeds (factor, sequential, a blend with a Mult-DAE) load, so the fuzzer starts
    /// from valid bundles; a sequential manifest claiming width 0, or a blend whose autoencoder
    /// claims another width, is an error, not a panic in the encoder.
    #[test]
    fn the_bundle_seeds_load_and_a_zero_width_encoder_is_refused() {
        let seeds = seeds("bundle");
        assert_eq!(seeds.len(), 3);
        let load = |manifest: &[u8], weights: &[u8]| {
            Bundle::from_files(manifest, |name| match name {
                WEIGHTS_FILE => Ok(weights.to_vec()),
                other => Err(crate::Error::Bundle(format!("no {other}"))),
            })
        };
        for seed in &seeds {
            let (m, w) = split(seed);
            load(m, w).unwrap();
            bundle(seed);
        }
        let (m, w) = split(&seeds[1]);
        let mut manifest: serde_json::Value = serde_json::from_slice(m).unwrap();
        assert_eq!(manifest["model"]["kind"], "sasrec");
        manifest["model"]["dim"] = 0.into();
        let m = serde_json::to_vec(&manifest).unwrap();
        assert!(load(&m, w).is_err());
        bundle(&[m.as_slice(), &[0xff, 0x00], w].concat());

        let (m, w) = split(&seeds[2]);
        let mut manifest: serde_json::Value = serde_json::from_slice(m).unwrap();
        assert_eq!(manifest["model"]["kind"], "blend");
        assert_eq!(manifest["model"]["parts"][1]["model"]["kind"], "mult-dae");
        for dim in [0, 1, 3, u64::MAX] {
            manifest["model"]["parts"][1]["model"]["dim"] = dim.into();
            let m = serde_json::to_vec(&manifest).unwrap();
            assert!(load(&m, w).is_err(), "dim {dim}");
            bundle(&[m.as_slice(), &[0xff, 0x00], w].concat());
        }
    }
}
