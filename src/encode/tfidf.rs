//! TF-IDF bag of words: the cheap text encoder, and the content baseline for cold start.

use std::collections::HashMap;

/// Lower-cased alphanumeric words (Unicode-aware), the unit of TF-IDF.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// A fitted vocabulary with smoothed inverse document frequencies
/// (idf = ln((1 + N) / (1 + df)) + 1, as in scikit-learn).
#[derive(Debug, Clone, PartialEq)]
pub struct TfIdf {
    vocab: HashMap<String, usize>,
    idf: Vec<f32>,
}

impl TfIdf {
    /// Fits on `docs`, keeping words that occur in at least `min_df` documents.
    pub fn fit<S: AsRef<str>>(docs: &[S], min_df: usize) -> Self {
        let tokens: Vec<Vec<String>> = docs.iter().map(|d| words(d.as_ref()).collect()).collect();
        Self::fit_tokens(&tokens, min_df)
    }

    /// Fits on documents given as tokens (words, or whole tags), keeping tokens that occur in
    /// at least `min_df` documents.
    pub fn fit_tokens(docs: &[Vec<String>], min_df: usize) -> Self {
        let mut df: HashMap<String, usize> = HashMap::new();
        for doc in docs {
            let mut seen: Vec<&String> = doc.iter().collect();
            seen.sort_unstable();
            seen.dedup();
            for w in seen {
                *df.entry(w.clone()).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> = df.into_iter().filter(|(_, d)| *d >= min_df).collect();
        kept.sort_unstable();
        let n = docs.len() as f32;
        let idf = kept
            .iter()
            .map(|(_, d)| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0)
            .collect();
        let vocab = kept
            .into_iter()
            .enumerate()
            .map(|(i, (w, _))| (w, i))
            .collect();
        Self { vocab, idf }
    }

    pub fn dim(&self) -> usize {
        self.idf.len()
    }

    /// L2-normalised sparse vector `(index, weight)`, sorted by index; empty if no known word.
    pub fn transform(&self, doc: &str) -> Vec<(usize, f32)> {
        self.transform_tokens(words(doc))
    }

    /// [`Self::transform`] of a document given as tokens.
    pub fn transform_tokens(&self, tokens: impl IntoIterator<Item = String>) -> Vec<(usize, f32)> {
        let mut tf: HashMap<usize, f32> = HashMap::new();
        for w in tokens {
            if let Some(&i) = self.vocab.get(&w) {
                *tf.entry(i).or_default() += 1.0;
            }
        }
        let mut v: Vec<(usize, f32)> = tf.into_iter().map(|(i, c)| (i, c * self.idf[i])).collect();
        v.sort_unstable_by_key(|&(i, _)| i);
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v
    }
}

/// Cosine of two L2-normalised sparse vectors sorted by index.
pub fn sparse_dot(a: &[(usize, f32)], b: &[(usize, f32)]) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tfidf_by_hand() {
        // N = 3 documents. df(toy)=2, df(story)=1, df(war)=1, df(a)=1 (min_df 1).
        let docs = ["Toy Story", "toy war", "A war"];
        let t = TfIdf::fit(&docs, 1);
        assert_eq!(t.dim(), 4);
        let idf_toy = (4.0f32 / 3.0).ln() + 1.0;
        let idf_story = 2.0f32.ln() + 1.0;
        let v = t.transform("Toy Story toy");
        // tf: toy 2, story 1 → weights 2·idf_toy, idf_story, normalised.
        let (a, b) = (2.0 * idf_toy, idf_story);
        let n = (a * a + b * b).sqrt();
        let toy = t.vocab["toy"];
        let story = t.vocab["story"];
        let got: HashMap<usize, f32> = v.iter().copied().collect();
        assert!((got[&toy] - a / n).abs() < 1e-6);
        assert!((got[&story] - b / n).abs() < 1e-6);
        assert!(t.transform("unknown words only").is_empty());
        assert!((sparse_dot(&v, &v) - 1.0).abs() < 1e-6);
        assert_eq!(sparse_dot(&v, &t.transform("a")), 0.0);
        // min_df 2 keeps only "toy" and "war".
        assert_eq!(TfIdf::fit(&docs, 2).dim(), 2);
    }
}
