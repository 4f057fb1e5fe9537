//! Video items on real images: a clip made of scikit-image's sample photos (coffee, cat, rocket)
//! encoded as an animated GIF (256-colour quantised, as GIF clips are), decoded, uniformly
//! sampled, encoded by EfficientNet-Lite0 and mean-pooled. Each sampled frame must still be
//! recognised as its photo's ImageNet class; the clip vector is the mean of its frames'; a still
//! photo is a one-frame clip equal to its image vector; and an items file's `video` field becomes
//! the `video` modality.

mod common;

use burn::backend::Flex;
use fusionrec::data::{DataSource, RowPolicy};
use fusionrec::encode::image::{decode_rgb, ImageEncoder, FEATURES};
use fusionrec::encode::video::{encode_clip, encode_frames, sample_frames};
use fusionrec::encode::Content;
use image::codecs::gif::GifEncoder;
use image::{DynamicImage, Frame, RgbImage};

fn encoder() -> ImageEncoder<Flex> {
    ImageEncoder::from_pth_bytes(
        &common::fetched("efficientnet-lite0", "efficientnet-lite0-57934424.pth"),
        &Default::default(),
    )
    .unwrap()
}

fn photo(name: &str) -> RgbImage {
    let rgb = decode_rgb(&common::fetched("sample-photos", name)).unwrap();
    image::imageops::resize(&rgb, 320, 256, image::imageops::FilterType::Triangle)
}

/// An animated GIF of `frames`.
fn gif(frames: &[&RgbImage]) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut bytes, 10);
        let frames = frames
            .iter()
            .map(|f| Frame::new(DynamicImage::ImageRgb8((*f).clone()).to_rgba8()));
        enc.encode_frames(frames).unwrap();
    }
    bytes
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn a_clip_of_real_photos_is_sampled_recognised_and_pooled() {
    let encoder = encoder();
    let (coffee, cat, rocket) = (
        photo("coffee.png"),
        photo("chelsea.png"),
        photo("rocket.jpg"),
    );
    // 8 frames: coffee ×3, cat ×3, rocket ×2.
    let clip = gif(&[
        &coffee, &coffee, &coffee, &cat, &cat, &cat, &rocket, &rocket,
    ]);
    assert_eq!(sample_frames(&clip, 8).unwrap().len(), 8);
    assert_eq!(sample_frames(&clip, 100).unwrap().len(), 8);
    // Three samples: frames 1, 4 and 6 (segment centres) — one of each photo.
    let frames = sample_frames(&clip, 3).unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].dimensions(), (320, 256));
    let features = encoder.encode_rgb(&frames).unwrap();
    let classes: Vec<usize> = (0..3).map(|i| features.top1(i)).collect();
    // ImageNet: 967 espresso, 968 cup; 281–285 domestic cats; 657 missile, 744 projectile,
    // 812 space shuttle (as for the photos themselves in tests/image_encoder.rs).
    assert!([967, 968].contains(&classes[0]), "{classes:?}");
    assert!((281..=285).contains(&classes[1]), "{classes:?}");
    assert!([657, 744, 812].contains(&classes[2]), "{classes:?}");

    // The clip vector is the mean of its sampled frames' vectors, and closer to each frame than
    // the frames are to one another.
    let pooled = encode_clip(&encoder, &clip, 3).unwrap();
    assert_eq!(pooled.len(), FEATURES);
    let rows: Vec<&[f32]> = features.pooled.chunks(FEATURES).collect();
    for (d, p) in pooled.iter().enumerate() {
        let mean = (rows[0][d] + rows[1][d] + rows[2][d]) / 3.0;
        assert!((p - mean).abs() < 1e-5, "dim {d}: {p} vs {mean}");
    }
    let between = cosine(rows[0], rows[1]).max(cosine(rows[1], rows[2]));
    eprintln!(
        "sampled frames' classes {classes:?}; cosine clip–frame {:.3} {:.3} {:.3}, frames ≤ {between:.3}",
        cosine(&pooled, rows[0]),
        cosine(&pooled, rows[1]),
        cosine(&pooled, rows[2])
    );
    for row in &rows {
        assert!(
            cosine(&pooled, row) > between,
            "{} vs {between}",
            cosine(&pooled, row)
        );
    }

    // A still photo is a one-frame clip: exactly its image vector.
    let png = common::fetched("sample-photos", "chelsea.png");
    let still = encode_clip(&encoder, &png, 8).unwrap();
    assert_eq!(still, encoder.encode(&[&png]).unwrap().pooled);
    assert_eq!(
        encode_frames(&encoder, &[decode_rgb(&png).unwrap()]).unwrap(),
        still
    );
    // A damaged clip is BAD_IMAGE, not a panic.
    let err = encode_clip(&encoder, &clip[..clip.len() / 2], 3).unwrap_err();
    assert_eq!(err.code(), "BAD_IMAGE", "{err}");
}

#[test]
fn an_items_file_video_field_becomes_the_video_modality() {
    let dir = tempfile::tempdir().unwrap();
    let (coffee, cat) = (photo("coffee.png"), photo("chelsea.png"));
    std::fs::write(dir.path().join("a.gif"), gif(&[&coffee, &cat])).unwrap();
    std::fs::write(dir.path().join("b.gif"), gif(&[&cat, &cat])).unwrap();
    let items = dir.path().join("items.jsonl");
    std::fs::write(
        &items,
        "{\"id\": \"a\", \"title\": \"A\", \"video\": \"a.gif\"}\n\
         {\"id\": \"b\", \"title\": \"B\", \"video\": \"b.gif\"}\n\
         {\"id\": \"c\", \"title\": \"C\"}\n",
    )
    .unwrap();
    let inter = dir.path().join("inter.csv");
    std::fs::write(&inter, "user,item\nu1,a\nu1,b\nu2,c\nu2,a\n").unwrap();
    let dataset = DataSource::Generic {
        interactions: inter,
        items: Some(items),
    }
    .load(RowPolicy::Strict)
    .unwrap();
    let mut content = Content::build(&dataset, None).unwrap();
    let pth = common::data_dir().join("efficientnet-lite0/efficientnet-lite0-57934424.pth");
    assert_eq!(content.add_videos(&dataset, &pth).unwrap(), 2);
    let m = content.get("video").unwrap();
    assert_eq!(m.dim, FEATURES);
    let index = |id: &str| dataset.log.items.get(id).unwrap() as usize;
    assert!(m.present[index("a")] && m.present[index("b")] && !m.present[index("c")]);
    // b is the cat twice: its vector is the cat frame's.
    let cat_vec = encoder()
        .encode_rgb(&sample_frames(&gif(&[&cat]), 1).unwrap())
        .unwrap()
        .pooled;
    assert!(cosine(m.row(index("b")), &cat_vec) > 0.999);
}
