//! EfficientNet-Lite0 on real photos (scikit-image's sample data): ImageNet top-1 classes, and a
//! golden comparison with an independent NumPy implementation (tests/golden/efficientnet_reference.py).

mod common;

use burn::backend::Flex;
use fusionrec::encode::image::{preprocess, ImageEncoder, CLASSES, FEATURES};

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
    let (coffee, cat) = (photo("coffee.png"), photo("chelsea.png"));
    let features = encoder.encode(&[&coffee, &cat]).unwrap();
    assert_eq!(features.count, 2);
    assert_eq!(features.pooled.len(), 2 * FEATURES);
    assert_eq!(features.logits.len(), 2 * CLASSES);
    let (coffee_class, cat_class) = (features.top1(0), features.top1(1));
    eprintln!("top-1: coffee.png {coffee_class}, chelsea.png {cat_class}");
    // ImageNet order: 967 espresso, 968 cup; 281–285 the domestic cats.
    assert!([967, 968].contains(&coffee_class), "coffee.png → {coffee_class}");
    assert!((281..=285).contains(&cat_class), "chelsea.png → {cat_class}");
    // ReLU6 then averaging: pooled features lie in [0, 6].
    assert!(features.pooled.iter().all(|x| (0.0..=6.0).contains(x)));

    // A photo gives the same vector alone as in a batch.
    let alone = encoder.encode(&[&cat]).unwrap();
    let max_diff = alone
        .pooled
        .iter()
        .zip(&features.pooled[FEATURES..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "batch vs alone: {max_diff}");
}

#[test]
fn a_corrupt_photo_is_bad_image() {
    // A PNG cut short. (A JPEG cut inside its scan data still decodes, grey where data is
    // missing: the JPEG decoder is lenient by design.)
    let bytes = photo("coffee.png");
    let err = preprocess(&bytes[..bytes.len() / 3])
        .err()
        .expect("a truncated PNG is refused");
    assert_eq!(err.code(), "BAD_IMAGE", "{err}");
    let err = encoder()
        .encode(&[&photo("chelsea.png"), b"GIF89a..."])
        .err()
        .expect("a batch with a bad photo is refused");
    assert_eq!(err.code(), "BAD_IMAGE", "{err}");
}
