//! Item and user features for the hybrid models: one dense matrix per modality, with a presence
//! flag per item (a missing modality is masked downstream, never a zero vector posing as data).
//!
//! Modalities built here from a [`Dataset`]:
//! - `text`: MiniLM embedding (384-d) of "title (year). genres. other text";
//! - `tfidf`: TF-IDF of the same text (the cheap text encoder);
//! - `tabular`: genre multi-hot + release decade one-hot + normalised year;
//! - `kg`: the item's Freebase neighbourhood — relation:entity pairs, kept when shared by at least
//!   five items, TF-IDF weighted (a fixed neighbour aggregation; the model learns its projection).

use std::collections::HashMap;

use burn::tensor::backend::Backend;

use super::tfidf::TfIdf;
use super::TextEncoder;
use crate::data::{Dataset, Interaction, ItemRecord};
use crate::error::{Error, Result};

/// One modality for every item of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Modality {
    pub name: String,
    pub dim: usize,
    /// `n_items × dim`, row-major; rows of absent items are zero and must be masked.
    pub values: Vec<f32>,
    pub present: Vec<bool>,
}

impl Modality {
    pub fn n_items(&self) -> usize {
        self.present.len()
    }

    pub fn row(&self, item: usize) -> &[f32] {
        &self.values[item * self.dim..(item + 1) * self.dim]
    }

    fn from_rows(name: &str, dim: usize, rows: Vec<Option<Vec<f32>>>) -> Self {
        let mut values = vec![0.0; rows.len() * dim];
        let present = rows.iter().map(Option::is_some).collect();
        for (i, row) in rows.into_iter().enumerate() {
            if let Some(r) = row {
                values[i * dim..(i + 1) * dim].copy_from_slice(&r);
            }
        }
        Self {
            name: name.to_owned(),
            dim,
            values,
            present,
        }
    }
}

/// The text an item is described by, for both text encoders.
pub fn item_text(record: &ItemRecord) -> Option<String> {
    // A `text` field is the text to embed, composed by whoever wrote the catalog (the benchmark
    // split's items.csv, tags of a music catalog): used as it is, not combined again.
    if let Some(text) = record.extra.get("text") {
        return Some(text.clone());
    }
    let mut parts = Vec::new();
    match (&record.title, record.year) {
        (Some(t), Some(y)) if !t.contains(&format!("({y})")) => parts.push(format!("{t} ({y}).")),
        (Some(t), _) => parts.push(format!("{t}.")),
        (None, _) => {}
    }
    if !record.categories.is_empty() {
        parts.push(format!("{}.", record.categories.join(", ")));
    }
    for key in ["description", "overview", "summary", "plot"] {
        if let Some(v) = record.extra.get(key) {
            parts.push(v.clone());
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The text of an item that is not in a dataset (the browser's `addItem`), composed exactly as
/// for catalog items so that its MiniLM vector is comparable with theirs.
pub fn new_item_text(
    title: Option<&str>,
    year: Option<i32>,
    categories: &[String],
    description: Option<&str>,
) -> Option<String> {
    // Blank text describes nothing: it is no text, not the embedding of an empty string.
    let text = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let record = ItemRecord {
        id: String::new(),
        title: text(title),
        year,
        categories: categories.iter().filter_map(|c| text(Some(c))).collect(),
        image: None,
        audio: None,
        video: None,
        extra: text(description)
            .map(|d| [("description".to_owned(), d)].into())
            .unwrap_or_default(),
    };
    item_text(&record)
}

/// Item records in catalog (index) order.
fn records(dataset: &Dataset) -> Vec<Option<&ItemRecord>> {
    let by_id = dataset.items.by_id();
    dataset
        .log
        .items
        .iter()
        .map(|id| by_id.get(id).copied())
        .collect()
}

/// Anchors along the longer side of the catalog's bounding box in [`location_modality`].
pub const LOCATION_GRID: usize = 32;

/// An item's coordinates from its `lat`/`lon` (or `latitude`/`longitude`) fields, in degrees.
fn coordinates(record: &ItemRecord) -> Result<Option<(f64, f64)>> {
    let field = |names: [&str; 2]| names.iter().find_map(|n| record.extra.get(*n));
    match (field(["lat", "latitude"]), field(["lon", "longitude"])) {
        (Some(lat), Some(lon)) => {
            let parse = |v: &str| v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
            match (parse(lat), parse(lon)) {
                (Some(lat), Some(lon)) if lat.abs() <= 90.0 && lon.abs() <= 180.0 => {
                    Ok(Some((lat, lon)))
                }
                _ => Err(Error::Data(format!(
                    "item '{}': coordinates ({lat}, {lon}) are not a latitude and longitude",
                    record.id
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// Location as content: each item's position (`lat`/`lon` fields) as Gaussian bumps around a
/// grid of anchors over the catalog's bounding box — [`LOCATION_GRID`] anchors along its longer
/// side, the same spacing `s` along the other, bandwidth `s`. Raw coordinates would make cosine
/// similarity meaningless; with these features the cosine of two items is a smooth function of
/// their distance (≈ exp(−d²/4s²)), so "near the places a user visits" becomes co-occurrence
/// evidence for the content models. Distances use an equirectangular projection (fine at city
/// scale). `None` when no item has coordinates.
pub fn location_modality(dataset: &Dataset) -> Result<Option<Modality>> {
    let points: Vec<Option<(f64, f64)>> = records(dataset)
        .into_iter()
        .map(|r| r.map_or(Ok(None), coordinates))
        .collect::<Result<_>>()?;
    let known: Vec<(f64, f64)> = points.iter().flatten().copied().collect();
    if known.is_empty() {
        return Ok(None);
    }
    let mean_lat = known.iter().map(|p| p.0).sum::<f64>() / known.len() as f64;
    let km = |(lat, lon): (f64, f64)| (lon * 111.32 * mean_lat.to_radians().cos(), lat * 110.57);
    let xy: Vec<(f64, f64)> = known.iter().map(|&p| km(p)).collect();
    let (min_x, max_x) = xy
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (min_y, max_y) = xy
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let spacing = ((max_x - min_x).max(max_y - min_y) / (LOCATION_GRID - 1) as f64).max(1e-3);
    let (nx, ny) = (
        ((max_x - min_x) / spacing).ceil() as usize + 1,
        ((max_y - min_y) / spacing).ceil() as usize + 1,
    );
    let anchors: Vec<(f64, f64)> = (0..ny)
        .flat_map(|j| {
            (0..nx).map(move |i| (min_x + i as f64 * spacing, min_y + j as f64 * spacing))
        })
        .collect();
    let rows = points
        .iter()
        .map(|p| {
            p.map(|p| {
                let (x, y) = km(p);
                anchors
                    .iter()
                    .map(|a| {
                        (-((x - a.0).powi(2) + (y - a.1).powi(2)) / (2.0 * spacing * spacing)).exp()
                            as f32
                    })
                    .collect()
            })
        })
        .collect();
    Ok(Some(Modality::from_rows("location", anchors.len(), rows)))
}

/// MiniLM embeddings of every item's text, encoded in batches of `batch` texts of similar length.
pub fn text_modality<B: Backend>(
    dataset: &Dataset,
    encoder: &TextEncoder<B>,
    batch: usize,
) -> Result<Modality> {
    let texts: Vec<Option<String>> = records(dataset)
        .into_iter()
        .map(|r| r.and_then(item_text))
        .collect();
    let present: Vec<(usize, &str)> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.as_deref()?)))
        .collect();
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    let dim = encoder.dim();
    let batch_texts: Vec<&str> = present.iter().map(|&(_, t)| t).collect();
    let values = super::bulk::embed_texts(encoder, &batch_texts, batch)?;
    for (&(i, _), v) in present.iter().zip(values.chunks(dim)) {
        rows[i] = Some(v.to_vec());
    }
    Ok(Modality::from_rows("text", dim, rows))
}

/// EfficientNet-Lite0 pooled features (1280-d) of every item that has an `image` file, encoded
/// in batches of `batch` images. An unreadable or undecodable image is an error naming the item:
/// a catalog problem should be fixed, not silently turned into a missing modality.
pub fn image_modality<B: Backend>(
    dataset: &Dataset,
    encoder: &crate::encode::ImageEncoder<B>,
    batch: usize,
) -> Result<Modality> {
    let items = records(dataset);
    let with_image: Vec<(usize, &ItemRecord, &std::path::Path)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.and_then(|r| Some((i, r, r.image.as_deref()?))))
        .collect();
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; items.len()];
    let dim = encoder.dim();
    for chunk in with_image.chunks(batch.max(1)) {
        let bytes: Vec<Vec<u8>> = chunk
            .iter()
            .map(|(_, item, path)| {
                let b = std::fs::read(path).map_err(|e| Error::io(*path, e))?;
                // Decode once up front so that a bad file is reported with its item.
                crate::encode::image::decode_rgb(&b)
                    .map_err(|e| Error::Image(format!("item '{}': {e}", item.id)))?;
                Ok(b)
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let features = encoder.encode(&refs)?;
        for (&(i, _, _), v) in chunk.iter().zip(features.pooled.chunks(dim)) {
            rows[i] = Some(v.to_vec());
        }
    }
    Ok(Modality::from_rows("image", dim, rows))
}

/// The video modality: each item's clip (`video`), `frames` uniformly sampled frames encoded by
/// `encoder` and mean-pooled (see [`crate::encode::video`]). `None` when no item has a clip.
pub fn video_modality<B: Backend>(
    dataset: &Dataset,
    encoder: &crate::encode::ImageEncoder<B>,
    frames: usize,
) -> Result<Option<Modality>> {
    let items = records(dataset);
    if !items.iter().flatten().any(|r| r.video.is_some()) {
        return Ok(None);
    }
    let rows = items
        .iter()
        .map(|r| {
            let Some((item, path)) = r.and_then(|r| Some((r, r.video.as_deref()?))) else {
                return Ok(None);
            };
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            crate::encode::video::encode_clip(encoder, &bytes, frames)
                .map(Some)
                .map_err(|e| Error::Image(format!("item '{}' video: {e}", item.id)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Modality::from_rows("video", encoder.dim(), rows)))
}

/// TF-IDF of every item's text (words in at least two items).
pub fn tfidf_modality(dataset: &Dataset) -> Modality {
    let texts: Vec<Option<String>> = records(dataset)
        .into_iter()
        .map(|r| r.and_then(item_text))
        .collect();
    let docs: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
    let tfidf = TfIdf::fit(&docs, 2);
    let rows = texts
        .iter()
        .map(|t| dense_row(tfidf.transform(t.as_deref()?), tfidf.dim()))
        .collect();
    Modality::from_rows("tfidf", tfidf.dim(), rows)
}

/// A sparse TF-IDF vector as a dense row; `None` (an absent item) when it has no known token.
fn dense_row(sparse: Vec<(usize, f32)>, dim: usize) -> Option<Vec<f32>> {
    if sparse.is_empty() {
        return None;
    }
    let mut dense = vec![0.0; dim];
    sparse.into_iter().for_each(|(i, x)| dense[i] = x);
    Some(dense)
}

/// TF-IDF of every item's categories taken whole (a tag like "hip hop" is one token; lower-cased,
/// trimmed; tags of at least two items): for folksonomies such as Last.fm's artist tags, where the
/// rare tags carry the signal and the plain multi-hot of [`tabular_modality`] is dominated by the
/// common ones. `None` when no item has a category.
pub fn tags_modality(dataset: &Dataset) -> Option<Modality> {
    let docs: Vec<Vec<String>> = records(dataset)
        .into_iter()
        .map(|r| {
            r.map(|r| {
                r.categories
                    .iter()
                    .map(|c| c.trim().to_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        })
        .collect();
    if docs.iter().all(Vec::is_empty) {
        return None;
    }
    let tfidf = TfIdf::fit_tokens(&docs, 2);
    let rows = docs
        .into_iter()
        .map(|doc| dense_row(tfidf.transform_tokens(doc), tfidf.dim()))
        .collect();
    Some(Modality::from_rows("tags", tfidf.dim(), rows))
}

/// Genre multi-hot, release decade one-hot and the year scaled to about [-1, 1].
pub fn tabular_modality(dataset: &Dataset) -> Modality {
    let recs = records(dataset);
    let mut genres: Vec<&str> = recs
        .iter()
        .flatten()
        .flat_map(|r| r.categories.iter().map(String::as_str))
        .collect();
    genres.sort_unstable();
    genres.dedup();
    let years: Vec<i32> = recs.iter().flatten().filter_map(|r| r.year).collect();
    let (lo, hi) = (
        years.iter().min().copied().unwrap_or(0),
        years.iter().max().copied().unwrap_or(0),
    );
    let decades: Vec<i32> = {
        let mut d: Vec<i32> = years.iter().map(|y| y / 10).collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    let dim = genres.len() + decades.len() + 1;
    let rows = recs
        .iter()
        .map(|r| {
            let r = (*r)?;
            if r.categories.is_empty() && r.year.is_none() {
                return None;
            }
            let mut v = vec![0.0f32; dim];
            for g in &r.categories {
                if let Ok(i) = genres.binary_search(&g.as_str()) {
                    v[i] = 1.0;
                }
            }
            if let Some(y) = r.year {
                if let Ok(d) = decades.binary_search(&(y / 10)) {
                    v[genres.len() + d] = 1.0;
                }
                v[dim - 1] = if hi > lo {
                    2.0 * (y - lo) as f32 / (hi - lo) as f32 - 1.0
                } else {
                    0.0
                };
            }
            Some(v)
        })
        .collect();
    Modality::from_rows("tabular", dim, rows)
}

/// Knowledge-graph neighbourhood of each linked item (see the module docs); `None` when the
/// dataset has no graph.
pub fn kg_modality(dataset: &Dataset) -> Option<Modality> {
    let kg = dataset.kg.as_ref()?;
    let entity_item: HashMap<&str, usize> = dataset
        .log
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((kg.item_entities.get(id)?.as_str(), i)))
        .collect();
    let n = dataset.log.items.len();
    let mut docs: Vec<Vec<String>> = vec![Vec::new(); n];
    for (h, r, t) in &kg.triples {
        if let Some(&i) = entity_item.get(h.as_str()) {
            docs[i].push(format!("{r}>{t}"));
        }
        if let Some(&i) = entity_item.get(t.as_str()) {
            docs[i].push(format!("{h}>{r}"));
        }
    }
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        let mut u: Vec<&str> = d.iter().map(String::as_str).collect();
        u.sort_unstable();
        u.dedup();
        u.into_iter().for_each(|f| *df.entry(f).or_default() += 1);
    }
    let mut vocab: Vec<&str> = df
        .iter()
        .filter(|(_, &c)| c >= 5)
        .map(|(f, _)| *f)
        .collect();
    vocab.sort_unstable();
    let index: HashMap<&str, usize> = vocab.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let n_docs = docs.iter().filter(|d| !d.is_empty()).count() as f32;
    let idf: Vec<f32> = vocab
        .iter()
        .map(|f| ((1.0 + n_docs) / (1.0 + df[f] as f32)).ln() + 1.0)
        .collect();
    let rows = docs
        .iter()
        .map(|d| {
            let mut v = vec![0.0f32; vocab.len()];
            for f in d {
                if let Some(&i) = index.get(f.as_str()) {
                    v[i] = idf[i];
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            (norm > 0.0).then(|| v.into_iter().map(|x| x / norm).collect())
        })
        .collect();
    Some(Modality::from_rows("kg", vocab.len(), rows))
}

/// User features: age bucket, gender and occupation one-hot (MovieLens demographics; other
/// sources contribute what they have). Users without a record get an all-zero row.
pub fn user_features(dataset: &Dataset) -> (usize, Vec<f32>) {
    const AGE_EDGES: [f32; 6] = [18.0, 25.0, 35.0, 45.0, 50.0, 56.0];
    let mut genders: Vec<&str> = dataset
        .users
        .iter()
        .filter_map(|u| u.gender.as_deref())
        .collect();
    let mut jobs: Vec<&str> = dataset
        .users
        .iter()
        .filter_map(|u| u.occupation.as_deref())
        .collect();
    for v in [&mut genders, &mut jobs] {
        v.sort_unstable();
        v.dedup();
    }
    let dim = AGE_EDGES.len() + 1 + genders.len() + jobs.len();
    let by_id: HashMap<&str, usize> = dataset
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut values = vec![0.0f32; dataset.log.users.len() * dim];
    for (u, id) in dataset.log.users.iter().enumerate() {
        let Some(&r) = by_id.get(id) else {
            continue;
        };
        let rec = &dataset.users[r];
        let row = &mut values[u * dim..(u + 1) * dim];
        if let Some(age) = rec.age {
            row[AGE_EDGES.iter().filter(|&&e| age >= e).count()] = 1.0;
        }
        if let Some(g) = rec
            .gender
            .as_deref()
            .and_then(|g| genders.binary_search(&g).ok())
        {
            row[AGE_EDGES.len() + 1 + g] = 1.0;
        }
        if let Some(j) = rec
            .occupation
            .as_deref()
            .and_then(|j| jobs.binary_search(&j).ok())
        {
            row[AGE_EDGES.len() + 1 + genders.len() + j] = 1.0;
        }
    }
    (dim, values)
}

/// Width of [`user_time_features`].
pub const USER_TIME_DIM: usize = 4;

/// Time features of each user, from the interactions given — pass the training interactions
/// only, so that nothing of validation or test leaks in: `log1p(count)`, `log1p(span in days)`
/// between the first and last timestamp, and the shares of timestamped interactions within one
/// day and within one week (inclusive) of the last one. Interactions without a timestamp count
/// in `count` only; a user without any has zeros for the other three.
pub fn user_time_features(n_users: usize, interactions: &[Interaction]) -> (usize, Vec<f32>) {
    const DAY: i64 = 86_400;
    let mut counts = vec![0usize; n_users];
    let mut times: Vec<Vec<i64>> = vec![Vec::new(); n_users];
    for x in interactions {
        counts[x.user as usize] += 1;
        times[x.user as usize].extend(x.timestamp);
    }
    let mut values = vec![0.0f32; n_users * USER_TIME_DIM];
    for (u, (row, ts)) in values.chunks_mut(USER_TIME_DIM).zip(&times).enumerate() {
        row[0] = (counts[u] as f32).ln_1p();
        let (Some(&first), Some(&last)) = (ts.iter().min(), ts.iter().max()) else {
            continue;
        };
        let share = |window: i64| {
            ts.iter().filter(|&&t| t >= last - window).count() as f32 / ts.len() as f32
        };
        row[1] = ((last - first) as f32 / DAY as f32).ln_1p();
        row[2] = share(DAY);
        row[3] = share(7 * DAY);
    }
    (USER_TIME_DIM, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_new_item_text_is_no_text() {
        assert_eq!(
            new_item_text(Some("  "), None, &["".into()], Some("\t")),
            None
        );
        let t = new_item_text(Some(" Heat "), None, &[], None).unwrap();
        assert!(t.contains("Heat") && !t.contains(" Heat "), "{t}");
    }
    use crate::data::{ItemCatalog, UserRecord};
    use std::collections::BTreeMap;

    fn dataset() -> Dataset {
        let mut ds = Dataset::default();
        ds.log.push("u1", "a", Some(5.0), None);
        ds.log.push("u2", "b", Some(5.0), None);
        ds.log.push("u2", "c", Some(5.0), None);
        let rec = |id: &str, title: &str, year, cats: &[&str]| ItemRecord {
            id: id.into(),
            title: Some(title.into()),
            year,
            categories: cats.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        };
        ds.items = ItemCatalog {
            records: vec![
                rec("a", "Toy Story", Some(1995), &["Animation", "Comedy"]),
                rec("b", "Heat", Some(1975), &["Action"]),
            ],
        };
        ds.users = vec![UserRecord {
            id: "u2".into(),
            age: Some(30.0),
            gender: Some("F".into()),
            occupation: Some("writer".into()),
            ..Default::default()
        }];
        ds
    }

    #[test]
    fn location_features_make_cosine_a_function_of_distance() {
        let mut ds = dataset();
        let at = |lat: f64, lon: f64| {
            BTreeMap::from([
                ("lat".to_string(), lat.to_string()),
                ("lon".to_string(), lon.to_string()),
            ])
        };
        // a and b 100 m apart in Singapore, c 20 km east of them; d has no coordinates.
        ds.log.push("u3", "d", None, None);
        ds.items.records[0].extra = at(1.3000, 103.8000);
        ds.items.records[1].extra = at(1.3009, 103.8000);
        ds.items.records.push(ItemRecord {
            id: "c".into(),
            extra: at(1.3000, 103.9800),
            ..Default::default()
        });
        let m = location_modality(&ds).unwrap().unwrap();
        assert_eq!(m.present, [true, true, true, false]);
        let cos = |i: usize, j: usize| {
            let (a, b) = (m.row(i), m.row(j));
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
                * b.iter().map(|x| x * x).sum::<f32>().sqrt())
        };
        assert!(cos(0, 1) > 0.99, "{}", cos(0, 1));
        assert!(cos(0, 2) < 0.01, "{}", cos(0, 2));
        ds.items.records[2].extra = at(91.0, 0.0);
        assert!(location_modality(&ds).is_err());
        ds.items.records.iter_mut().for_each(|r| r.extra.clear());
        assert!(location_modality(&ds).unwrap().is_none());
    }

    #[test]
    fn a_text_field_is_the_text_as_written() {
        let mut ds = dataset();
        ds.items.records[0]
            .extra
            .insert("text".into(), "rock, 90s, seen live".into());
        assert_eq!(
            item_text(&ds.items.records[0]).unwrap(),
            "rock, 90s, seen live"
        );
    }

    #[test]
    fn item_text_reads_like_a_description() {
        let ds = dataset();
        assert_eq!(
            item_text(&ds.items.records[0]).unwrap(),
            "Toy Story (1995). Animation, Comedy."
        );
    }

    #[test]
    fn tabular_by_hand_and_missing_items_are_masked() {
        let m = tabular_modality(&dataset());
        // Genres [Action, Animation, Comedy], decades [197, 199], year scaled to [-1, 1].
        assert_eq!(m.dim, 3 + 2 + 1);
        assert_eq!(m.row(0), &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        assert_eq!(m.row(1), &[1.0, 0.0, 0.0, 1.0, 0.0, -1.0]);
        assert_eq!(m.present, [true, true, false], "item c has no record");
        assert!(m.row(2).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn tags_are_whole_lower_cased_and_idf_weighted() {
        let mut ds = dataset();
        // Three items: "Hip Hop" on all three, "jazz" on two, "rare" on one (dropped: df < 2).
        let rec = |id: &str, cats: &[&str]| ItemRecord {
            id: id.into(),
            categories: cats.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        };
        ds.items.records = vec![
            rec("a", &["Hip Hop", " jazz"]),
            rec("b", &["hip hop", "JAZZ", "rare"]),
            rec("c", &["hip hop"]),
        ];
        let m = tags_modality(&ds).unwrap();
        // Vocabulary [hip hop, jazz]; idf = ln((1+3)/(1+df)) + 1: 1.0 and ln(4/3) + 1.
        assert_eq!(m.dim, 2);
        let (h, j) = (1.0f32, (4.0f32 / 3.0).ln() + 1.0);
        let n = (h * h + j * j).sqrt();
        for (got, want) in m.row(0).iter().zip([h / n, j / n]) {
            assert!((got - want).abs() < 1e-6, "{:?}", m.row(0));
        }
        assert_eq!(
            m.row(0),
            m.row(1),
            "case, spaces and the rare tag do not matter"
        );
        assert_eq!(m.row(2), &[1.0, 0.0]);
        ds.items
            .records
            .iter_mut()
            .for_each(|r| r.categories.clear());
        assert!(tags_modality(&ds).is_none());
    }

    #[test]
    fn user_time_features_by_hand() {
        const DAY: i64 = 86_400;
        let at = |user, t: Option<i64>| Interaction {
            user,
            item: 0,
            rating: None,
            timestamp: t,
        };
        let xs = [
            at(0, Some(3 * DAY)),
            at(0, Some(0)),
            at(0, Some(10 * DAY)),
            at(0, Some(DAY / 2)),
            at(1, None),
        ];
        let (dim, v) = user_time_features(3, &xs);
        assert_eq!(dim, USER_TIME_DIM);
        // User 0: 4 events over 10 days; within a day of the last only itself, within a week
        // the last two (days 3 and 10).
        let want = [5f32.ln(), 11f32.ln(), 0.25, 0.5];
        assert!(
            v[..4].iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{v:?}"
        );
        // User 1: one event without a timestamp; user 2: none at all.
        assert_eq!(&v[4..], &[2f32.ln(), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn user_features_one_hot() {
        let (dim, v) = user_features(&dataset());
        assert_eq!(dim, 7 + 1 + 1);
        assert!(v[..dim].iter().all(|&x| x == 0.0), "u1 has no record");
        // Age 30 → bucket 2 (≥18, ≥25); gender F; occupation writer.
        assert_eq!(&v[dim..], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
    }
}
