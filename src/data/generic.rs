//! The generic format, for catalogs users bring: an interactions CSV with a header naming
//! `user`, `item` and optionally `rating` and `timestamp`, plus an items file (JSON lines or CSV)
//! with an `id` and any of `title`, `year`, `categories`/`genres` (array, `|`- or comma-separated), `image`,
//! `audio`, `video` (an animated GIF, APNG or WebP) and other text fields. Relative media paths resolve against the items file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    file_label, read_text, Dataset, InteractionLog, ItemCatalog, ItemRecord, RowPolicy, SkipReport,
};
use crate::error::{Error, Result};

/// Loads the interactions CSV and, when given, the items file.
pub fn load_generic(
    interactions: &Path,
    items: Option<&Path>,
    policy: RowPolicy,
) -> Result<Dataset> {
    let mut skipped = SkipReport::default();
    let file = file_label(interactions);
    let text = read_text(interactions)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| Error::Parse {
        file: file.clone(),
        line: 1,
        message: e.to_string(),
    })?;
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing = |name: &str| Error::Parse {
        file: file.clone(),
        line: 1,
        message: format!(
            "header must name a `{name}` column (found: {})",
            header.iter().collect::<Vec<_>>().join(",")
        ),
    };
    let (u, i) = (
        col("user").ok_or_else(|| missing("user"))?,
        col("item").ok_or_else(|| missing("item"))?,
    );
    let (r, t) = (col("rating"), col("timestamp"));
    let width = header.len();

    let mut log = InteractionLog::default();
    for record in reader.records() {
        let row = record
            .map_err(|e| Error::Parse {
                file: file.clone(),
                line: e.position().map_or(0, |p| p.line() as usize),
                message: e.to_string(),
            })
            .and_then(|rec| {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                let bad = |message: String| Error::Parse {
                    file: file.clone(),
                    line,
                    message,
                };
                if rec.len() != width {
                    return Err(bad(format!("expected {width} fields, found {}", rec.len())));
                }
                let (rating, ts) = crate::data::rating_and_time(&rec, r, t).map_err(&bad)?;
                if rec[u].is_empty() || rec[i].is_empty() {
                    return Err(bad("empty user or item id".into()));
                }
                Ok((rec[u].to_owned(), rec[i].to_owned(), rating, ts))
            });
        if let Some((user, item, rating, ts)) = skipped.handle(policy, row)? {
            log.push(&user, &item, rating, ts);
        }
    }

    let items = match items {
        Some(path) => load_generic_items(path, policy, &mut skipped)?,
        None => ItemCatalog::default(),
    };
    Ok(Dataset {
        name: interactions
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("generic")
            .to_owned(),
        log,
        items,
        users: Vec::new(),
        kg: None,
        skipped,
    })
}

/// Reads an items file: JSON lines when it ends in `.jsonl`/`.json`, CSV otherwise.
pub fn load_generic_items(
    path: &Path,
    policy: RowPolicy,
    skipped: &mut SkipReport,
) -> Result<ItemCatalog> {
    let file = file_label(path);
    let base = path.parent().unwrap_or(Path::new("."));
    let text = read_text(path)?;
    let is_json = path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json");
    let mut rows: Vec<(usize, Result<BTreeMap<String, serde_json::Value>>)> = Vec::new();
    if is_json {
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let parsed = serde_json::from_str(line).map_err(|e| Error::Parse {
                file: file.clone(),
                line: i + 1,
                message: format!("not a JSON object: {e}"),
            });
            rows.push((i + 1, parsed));
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Error::Parse {
                file: file.clone(),
                line: 1,
                message: e.to_string(),
            })?
            .iter()
            .map(str::to_owned)
            .collect();
        for record in reader.records() {
            let line = record
                .as_ref()
                .map_or_else(
                    |e| e.position().map(|p| p.line()),
                    |r| r.position().map(|p| p.line()),
                )
                .unwrap_or(0) as usize;
            let parsed = record
                .map(|rec| {
                    header
                        .iter()
                        .zip(rec.iter())
                        .map(|(h, v)| (h.clone(), serde_json::Value::String(v.to_owned())))
                        .collect()
                })
                .map_err(|e| Error::Parse {
                    file: file.clone(),
                    line,
                    message: e.to_string(),
                });
            rows.push((line, parsed));
        }
    }

    let mut catalog = ItemCatalog::default();
    for (line, row) in rows {
        let record = row
            .and_then(|fields| item_record(fields, base))
            .map_err(|e| match e {
                Error::Data(message) => Error::Parse {
                    file: file.clone(),
                    line,
                    message,
                },
                other => other,
            });
        if let Some(rec) = skipped.handle(policy, record)? {
            catalog.records.push(rec);
        }
    }
    Ok(catalog)
}

fn as_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn item_record(mut fields: BTreeMap<String, serde_json::Value>, base: &Path) -> Result<ItemRecord> {
    let id = fields
        .remove("id")
        .as_ref()
        .and_then(as_text)
        .ok_or_else(|| Error::Data("item has no `id`".into()))?;
    let year = match fields.remove("year").as_ref().and_then(as_text) {
        // ML-100K spells a missing year 'unkonwn' (and files derived from it keep it).
        None => None,
        Some(y)
            if ["unknown", "unkonwn", "nan", "na"].contains(&y.to_ascii_lowercase().as_str()) =>
        {
            None
        }
        Some(y) => Some(
            y.parse()
                .map_err(|_| Error::Data(format!("year: not a number: '{y}'")))?,
        ),
    };
    let categories = match fields
        .remove("categories")
        .or_else(|| fields.remove("genres"))
    {
        Some(serde_json::Value::Array(values)) => values.iter().filter_map(as_text).collect(),
        // `|`-separated (MovieLens style), else comma-separated ("Action, Comedy").
        Some(v) => as_text(&v)
            .map(|s| {
                s.split(if s.contains('|') { '|' } else { ',' })
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut path = |name: &str| -> Option<PathBuf> {
        fields
            .remove(name)
            .as_ref()
            .and_then(as_text)
            .map(|p| base.join(p))
    };
    let (image, audio, video) = (path("image"), path("audio"), path("video"));
    let title = fields.remove("title").as_ref().and_then(as_text);
    let extra = fields
        .iter()
        .filter_map(|(k, v)| as_text(v).map(|t| (k.clone(), t)))
        .collect();
    Ok(ItemRecord {
        id,
        title,
        year,
        categories,
        image,
        audio,
        video,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_interactions_in_any_column_order_and_jsonl_items() {
        let dir = tempfile::tempdir().unwrap();
        let inter = dir.path().join("events.csv");
        std::fs::write(
            &inter,
            "timestamp,item,user,rating\n10,a,u1,5\n11,b,u1,\n12,a,u2,3.5\n",
        )
        .unwrap();
        let items = dir.path().join("items.jsonl");
        std::fs::write(
            &items,
            r#"{"id": "a", "title": "A film", "genres": ["Drama", "War"], "year": 1999, "image": "img/a.jpg", "description": "Long text"}
{"id": 7, "categories": "Comedy|Romance"}
"#,
        )
        .unwrap();
        let ds = load_generic(&inter, Some(&items), RowPolicy::Strict).unwrap();
        let got: Vec<_> = ds
            .log
            .interactions
            .iter()
            .map(|x| (x.user, x.item, x.rating, x.timestamp))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0, Some(5.0), Some(10)),
                (0, 1, None, Some(11)),
                (1, 0, Some(3.5), Some(12))
            ]
        );
        let a = &ds.items.records[0];
        assert_eq!(a.categories, ["Drama", "War"]);
        assert_eq!(a.year, Some(1999));
        assert_eq!(
            a.image.as_deref(),
            Some(dir.path().join("img/a.jpg").as_path())
        );
        assert_eq!(a.extra["description"], "Long text");
        assert_eq!(ds.items.records[1].id, "7");
        assert_eq!(ds.items.records[1].categories, ["Comedy", "Romance"]);
    }

    #[test]
    fn csv_items_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let inter = dir.path().join("i.csv");
        std::fs::write(&inter, "user,item\nu1,a\nu2,b,extra\nu3,c\n").unwrap();
        let err = load_generic(&inter, None, RowPolicy::Strict).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
        let ds = load_generic(&inter, None, RowPolicy::Skip).unwrap();
        assert_eq!((ds.log.interactions.len(), ds.skipped.rows), (2, 1));

        let no_user = dir.path().join("n.csv");
        std::fs::write(&no_user, "who,item\nu1,a\n").unwrap();
        assert!(load_generic(&no_user, None, RowPolicy::Strict)
            .unwrap_err()
            .to_string()
            .contains("`user`"));

        let items = dir.path().join("items.csv");
        std::fs::write(
            &items,
            "id,title,year\n1,\"Heat, the film\",1995\n2,Bad,nineteen\n",
        )
        .unwrap();
        let mut skipped = SkipReport::default();
        let err = load_generic_items(&items, RowPolicy::Strict, &mut skipped).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
        let cat = load_generic_items(&items, RowPolicy::Skip, &mut skipped).unwrap();
        assert_eq!(cat.records.len(), 1);
        assert_eq!(cat.records[0].title.as_deref(), Some("Heat, the film"));
        assert_eq!(skipped.rows, 1);
    }
}
