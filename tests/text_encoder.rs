//! Golden test of the MiniLM text encoder against vectors from an independent NumPy
//! implementation (tests/golden/minilm_reference.py, float64 maths rounded to float32).
//! Tolerance: cosine distance below 1e-4 per sentence (and token ids identical).

mod common;

use burn::backend::Flex;
use fusionrec::encode::TextEncoder;

fn rows(t: burn::tensor::Tensor<Flex, 2>) -> Vec<Vec<f32>> {
    let [_, d] = t.dims();
    let v: Vec<f32> = t.into_data().to_vec().unwrap();
    v.chunks(d).map(<[f32]>::to_vec).collect()
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

#[test]
fn minilm_matches_the_numpy_reference() {
    let golden = common::minilm_golden();
    let encoder = TextEncoder::<Flex>::from_bytes(
        &common::fetched("minilm", "tokenizer.json"),
        &common::fetched("minilm", "model.safetensors"),
        &Default::default(),
    )
    .unwrap();

    for s in &golden.sentences {
        assert_eq!(
            encoder.token_ids(&s.text).unwrap(),
            s.input_ids,
            "tokens of '{}'",
            s.text
        );
    }
    // All sentences in one padded batch: pads must not change any sentence's vector.
    let texts: Vec<&str> = golden.sentences.iter().map(|s| s.text.as_str()).collect();
    let batch = rows(encoder.embed(&texts).unwrap());
    for (s, got) in golden.sentences.iter().zip(&batch) {
        let d = cosine_distance(got, &s.embedding);
        assert!(d < 1e-4, "'{}': cosine distance {d:e}", s.text);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit norm, got {norm}");
    }
    // Alone, the longest sentence gives the same vector as in the batch.
    let alone = rows(encoder.embed(&texts[2..3]).unwrap());
    assert!(cosine_distance(&alone[0], &batch[2]) < 1e-6);
    // Related texts are closer than unrelated ones.
    let (toy, animated, fox) = (&batch[1], &batch[2], &batch[3]);
    assert!(cosine_distance(toy, animated) + 0.2 < cosine_distance(toy, fox));
}

/// Our MiniLM on Last.fm-2K's artist tags against the embeddings the dataset ships
/// (`all-MiniLM-L6-v2.npy`, made by sentence-transformers from the same text: see
/// `../shared/data/lfm2k/README.md`): the first 24 artists, short and long tag lists alike (many
/// hit the 256-token truncation).
#[test]
fn minilm_agrees_with_the_shipped_lastfm_embeddings() {
    let dir = common::shared_data("lfm2k");
    // itemID → original artist id, from the two files that hold the same rows.
    let ids = |f: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split('\t').nth(1).unwrap().to_owned())
            .collect()
    };
    let og: std::collections::HashMap<String, String> = ids("lfm2k.inter")
        .into_iter()
        .zip(ids("lfm2k_og_ids.inter"))
        .collect();
    let tags: std::collections::HashMap<String, String> =
        std::fs::read_to_string(dir.join("lfm2k_text.tsv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once('\t'))
            .map(|(a, t)| (a.to_owned(), t.replace(',', ", ")))
            .collect();
    let n = 24;
    let texts: Vec<String> = (0..n).map(|i| tags[&og[&i.to_string()]].clone()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encoder = TextEncoder::<Flex>::from_bytes(
        &common::fetched("minilm", "tokenizer.json"),
        &common::fetched("minilm", "model.safetensors"),
        &Default::default(),
    )
    .unwrap();
    let ours = rows(encoder.embed(&texts).unwrap());
    let npy = std::fs::read(dir.join("all-MiniLM-L6-v2.npy")).unwrap();
    // NumPy format 1.0: 10-byte preamble + header, then little-endian f32 rows of 384.
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let data = &npy[10 + header_len..];
    let mut worst = 0.0f64;
    let mut long = 0;
    for (i, v) in ours.iter().enumerate() {
        let shipped: Vec<f32> = data[i * 384 * 4..(i + 1) * 384 * 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        worst = worst.max(cosine_distance(v, &shipped));
        long += usize::from(encoder.token_ids(texts[i]).unwrap().len() >= 256);
    }
    println!("MiniLM vs shipped Last.fm-2K rows: worst cosine distance {worst:.2e} over {n} artists ({long} truncated at 256 tokens)");
    assert!(long > 0, "the sample should include truncated tag lists");
    assert!(worst < 1e-4, "{worst}");
}
