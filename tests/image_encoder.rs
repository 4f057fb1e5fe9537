//! EfficientNet-Lite0 on real photos (scikit-image's sample data): ImageNet top-1 classes, and a
//! golden comparison with an independent NumPy implementation
//! (tests/golden/efficientnet_reference.py), network alone and whole pipeline.

mod common;

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use fusionrec::encode::image::{
    decode_rgb, normalize, preprocess, ImageEncoder, CLASSES, FEATURES, INPUT_SIZE,
};

fn encoder() -> ImageEncoder<Flex> {
    ImageEncoder::from_pth_bytes(
        &common::fetched("efficientnet-lite0", "efficientnet-lite0-57934424.pth"),
        &Default::default(),
    )
    .expect("the published checkpoint loads")
}

fn photo(name: &str) -> Vec<u8> {
    common::fetched("sample-photos", name)
}

#[test]
fn photos_get_their_imagenet_classes() {
    let encoder = encoder();
    let (coffee, cat, rocket) = (
        photo("coffee.png"),
        photo("chelsea.png"),
        photo("rocket.jpg"),
    );
    let features = encoder.encode(&[&coffee, &cat, &rocket]).unwrap();
    assert_eq!(features.count, 3);
    assert_eq!(features.pooled.len(), 3 * FEATURES);
    assert_eq!(features.logits.len(), 3 * CLASSES);
    let (coffee_class, cat_class, rocket_class) =
        (features.top1(0), features.top1(1), features.top1(2));
    eprintln!(
        "top-1: coffee.png {coffee_class}, chelsea.png {cat_class}, rocket.jpg {rocket_class}"
    );
    // ImageNet order: 967 espresso, 968 cup; 281–285 the domestic cats; 657 missile,
    // 744 projectile, 812 space shuttle.
    assert!(
        [967, 968].contains(&coffee_class),
        "coffee.png → {coffee_class}"
    );
    assert!(
        (281..=285).contains(&cat_class),
        "chelsea.png → {cat_class}"
    );
    assert!(
        [657, 744, 812].contains(&rocket_class),
        "rocket.jpg → {rocket_class}"
    );
    // ReLU6 then averaging: pooled features lie in [0, 6].
    assert!(features.pooled.iter().all(|x| (0.0..=6.0).contains(x)));

    // A photo gives the same vector alone as in a batch.
    let alone = encoder.encode(&[&cat]).unwrap();
    let max_diff = alone
        .pooled
        .iter()
        .zip(&features.pooled[FEATURES..2 * FEATURES])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "batch vs alone: {max_diff}");
}

#[test]
fn a_corrupt_photo_is_bad_image() {
    // A PNG cut short. (A JPEG cut inside its scan data still decodes, grey where data is
    // missing: the JPEG decoder is lenient by design.)
    let bytes = photo("coffee.png");
    let Err(err) = preprocess(&bytes[..bytes.len() / 3]) else {
        panic!("a truncated PNG is refused");
    };
    assert_eq!(err.code(), "BAD_IMAGE", "{err}");
    let encoder = encoder();
    let Err(err) = encoder.encode(&[&photo("chelsea.png"), b"GIF89a..."]) else {
        panic!("a batch with a bad photo is refused");
    };
    assert_eq!(err.code(), "BAD_IMAGE", "{err}");
    // No photos: nothing to encode, and no tensor with a zero batch.
    assert_eq!(encoder.encode(&[]).unwrap().count, 0);
    assert!(encoder.forward(&[]).is_err());
}

#[derive(serde::Deserialize)]
struct Golden {
    input_sample_grid: Vec<usize>,
    photos: Vec<GoldenPhoto>,
}

#[derive(serde::Deserialize)]
struct GoldenPhoto {
    name: String,
    network: GoldenOutputs,
    pipeline: GoldenOutputs,
}

#[derive(serde::Deserialize)]
struct GoldenOutputs {
    pooled: Vec<f32>,
    top5: Vec<usize>,
    top5_logits: Vec<f32>,
    #[serde(default)]
    crop_offset: Option<[u32; 2]>,
    #[serde(default)]
    input_channel_means: Vec<f32>,
    #[serde(default)]
    input_samples: Vec<f32>,
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("golden/efficientnet.json")).expect("golden file parses")
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    1.0 - dot / (na * nb)
}

/// Indices of the five largest logits of row `i`, and those logits.
fn top5(logits: &[f32], i: usize) -> (Vec<usize>, Vec<f32>) {
    let row = &logits[i * CLASSES..(i + 1) * CLASSES];
    let mut order: Vec<usize> = (0..CLASSES).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    order.truncate(5);
    let values = order.iter().map(|&c| row[c]).collect();
    (order, values)
}

fn run(encoder: &ImageEncoder<Flex>, inputs: Vec<f32>, n: usize) -> (Vec<f32>, Vec<f32>) {
    let x = Tensor::<Flex, 4>::from_data(
        TensorData::new(inputs, [n, 3, INPUT_SIZE, INPUT_SIZE]),
        &Default::default(),
    );
    let (pooled, logits) = encoder.model().forward(x);
    (
        pooled.into_data().to_vec().unwrap(),
        logits.into_data().to_vec().unwrap(),
    )
}

/// The network alone, on inputs identical to the reference's (a 224 × 224 window of each PNG,
/// no resizing). Tolerance: cosine distance 1e-5 on the 1280 pooled features, same top-5
/// classes, top-5 logits within 1e-3 relative.
#[test]
fn network_matches_the_numpy_reference() {
    let golden = golden();
    let encoder = encoder();
    let mut inputs = Vec::new();
    for p in &golden.photos {
        let [x, y] = p
            .network
            .crop_offset
            .expect("network inputs name their window");
        let rgb = decode_rgb(&photo(&p.name)).unwrap();
        let window = image::imageops::crop_imm(&rgb, x, y, 224, 224).to_image();
        inputs.extend(normalize(&window));
    }
    let (pooled, logits) = run(&encoder, inputs, golden.photos.len());
    for (i, p) in golden.photos.iter().enumerate() {
        let want = &p.network;
        let d = cosine_distance(&pooled[i * FEATURES..(i + 1) * FEATURES], &want.pooled);
        let (classes, values) = top5(&logits, i);
        let rel = values
            .iter()
            .zip(&want.top5_logits)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        eprintln!(
            "{} network: pooled cosine distance {d:.2e}, top-5 logit rel. error {rel:.2e}, top-5 {classes:?}",
            p.name
        );
        assert!(d < 1e-5, "{}: cosine distance {d:e}", p.name);
        assert_eq!(classes, want.top5, "{}", p.name);
        assert!(rel < 1e-3, "{}: logits off by {rel:e}", p.name);
    }
}

/// The whole pipeline against Pillow's preprocessing. Pillow and the image crate resample with
/// the same triangle filter but round between passes differently, so inputs may differ by a
/// grey level: inputs within 2/128 on a grid of samples (channel means within 0.5/128), pooled
/// features (first 256) within cosine distance 1e-3, top-1 among the reference's top 2 and at
/// least 4 of the top 5 shared.
#[test]
fn pipeline_matches_pillow_and_the_reference() {
    let golden = golden();
    let encoder = encoder();
    let grid = &golden.input_sample_grid;
    let plane = INPUT_SIZE * INPUT_SIZE;
    let mut inputs = Vec::new();
    for p in &golden.photos {
        let x = preprocess(&photo(&p.name)).unwrap();
        let want = &p.pipeline;
        let mut max_diff = 0.0f32;
        let mut k = 0;
        for c in 0..3 {
            for &r in grid {
                for &col in grid {
                    let got = x[c * plane + r * INPUT_SIZE + col];
                    max_diff = max_diff.max((got - want.input_samples[k]).abs());
                    k += 1;
                }
            }
            let mean = x[c * plane..(c + 1) * plane].iter().sum::<f32>() / plane as f32;
            let dm = (mean - want.input_channel_means[c]).abs();
            assert!(dm < 0.5 / 128.0, "{} channel {c} mean off by {dm}", p.name);
        }
        eprintln!(
            "{} input: max sample difference {:.1} grey levels",
            p.name,
            max_diff * 128.0
        );
        assert!(max_diff <= 2.0 / 128.0 + 1e-6, "{}: {max_diff}", p.name);
        inputs.extend(x);
    }
    let (pooled, logits) = run(&encoder, inputs, golden.photos.len());
    for (i, p) in golden.photos.iter().enumerate() {
        let want = &p.pipeline;
        let dims = want.pooled.len();
        let d = cosine_distance(&pooled[i * FEATURES..i * FEATURES + dims], &want.pooled);
        let (classes, _) = top5(&logits, i);
        eprintln!(
            "{} pipeline: pooled cosine distance {d:.2e}, top-5 {classes:?} (reference {:?})",
            p.name, want.top5
        );
        assert!(d < 1e-3, "{}: cosine distance {d:e}", p.name);
        // astronaut.png's two best classes are close enough to swap on a grey level.
        assert!(want.top5[..2].contains(&classes[0]), "{}", p.name);
        let shared = classes.iter().filter(|c| want.top5.contains(c)).count();
        assert!(shared >= 4, "{}: top-5 {classes:?}", p.name);
    }
}

/// A user's catalog with photos becomes an `image` modality: items with a photo get its
/// 1280-d features, items without are absent (masked), and a corrupt file is reported with its
/// item.
#[test]
fn catalog_photos_become_an_image_modality() {
    use fusionrec::data::{load_generic, RowPolicy};
    use fusionrec::encode::features::image_modality;
    let dir = tempfile::tempdir().unwrap();
    let photos = common::data_dir().join("photos");
    std::fs::write(
        dir.path().join("events.csv"),
        "user,item\nu1,cup\nu1,cat\nu2,cat\nu2,plain\nu3,cup\nu3,rocket\n",
    )
    .unwrap();
    let items = |rocket: &str| {
        format!(
            "{{\"id\": \"cup\", \"title\": \"Coffee\", \"image\": \"{}\"}}\n\
             {{\"id\": \"cat\", \"title\": \"Cat\", \"image\": \"{}\"}}\n\
             {{\"id\": \"plain\", \"title\": \"No picture\"}}\n\
             {{\"id\": \"rocket\", \"title\": \"Rocket\", \"image\": \"{rocket}\"}}\n",
            photos.join("coffee.png").display(),
            photos.join("chelsea.png").display(),
        )
    };
    std::fs::write(
        dir.path().join("items.jsonl"),
        items(&photos.join("rocket.jpg").display().to_string()),
    )
    .unwrap();
    let load = || {
        load_generic(
            &dir.path().join("events.csv"),
            Some(&dir.path().join("items.jsonl")),
            RowPolicy::Strict,
        )
        .unwrap()
    };
    let dataset = load();
    let m = image_modality(&dataset, &encoder(), 2).unwrap();
    let order: Vec<&str> = dataset.log.items.iter().collect();
    assert_eq!(order, ["cup", "cat", "plain", "rocket"]);
    assert_eq!((m.name.as_str(), m.dim), ("image", FEATURES));
    assert_eq!(m.present, [true, true, false, true]);
    assert!(m.row(2).iter().all(|&x| x == 0.0));
    // Each row is that photo's features, whatever batch it was encoded in.
    let alone = encoder().encode(&[&photo("chelsea.png")]).unwrap();
    let cos = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (n(a) * n(b))
    };
    assert!(cos(m.row(1), &alone.pooled) > 1.0 - 1e-5);
    assert!(cos(m.row(0), m.row(1)) < 0.9, "coffee and cat look alike?");

    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(
        dir.path().join("items.jsonl"),
        items(&bad.display().to_string()),
    )
    .unwrap();
    let err = image_modality(&load(), &encoder(), 2).unwrap_err();
    assert_eq!(err.code(), "BAD_IMAGE");
    assert!(err.to_string().contains("rocket"), "{err}");
}
