//! Golden test of the MiniLM text encoder against vectors from an independent NumPy
//! implementation (tests/golden/minilm_reference.py, float64 maths rounded to float32).
//! Tolerance: cosine distance below 1e-4 per sentence (and token ids identical).

mod common;

use burn::backend::Flex;
use fusionrec::encode::TextEncoder;

#[derive(serde::Deserialize)]
struct Golden {
    sentences: Vec<Sentence>,
}

#[derive(serde::Deserialize)]
struct Sentence {
    text: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

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
    let golden: Golden =
        serde_json::from_str(include_str!("golden/minilm.json")).expect("golden file parses");
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
