//! The original GroupLens ML-100K layout: `u.data` (tab-separated user, item, rating,
//! timestamp), `u.item` (pipe-separated, Latin-1, 19 genre flags) and `u.user`.

use std::path::Path;

use super::{
    file_label, read_text, Dataset, InteractionLog, ItemCatalog, ItemRecord, RowPolicy, SkipReport,
    UserRecord,
};
use crate::error::{Error, Result};

/// ML-100K's genre order in `u.item` (also listed in `u.genre`, which is used when present).
const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Splits every non-empty line of `path` on `sep`, requiring at least `min_fields` fields.
fn rows(
    path: &Path,
    sep: char,
    min_fields: usize,
    policy: RowPolicy,
    skipped: &mut SkipReport,
) -> Result<Vec<(usize, Vec<String>)>> {
    let file = file_label(path);
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split(sep).map(|f| f.trim().to_owned()).collect();
        let row = if fields.len() >= min_fields {
            Ok(fields)
        } else {
            Err(Error::Parse {
                file: file.clone(),
                line: i + 1,
                message: format!("expected {min_fields} fields, found {}", fields.len()),
            })
        };
        if let Some(f) = skipped.handle(policy, row)? {
            out.push((i + 1, f));
        }
    }
    Ok(out)
}

fn number<T: super::Number>(path: &Path, line: usize, what: &str, raw: &str) -> Result<T> {
    super::parse_number(raw).map_err(|why| Error::Parse {
        file: file_label(path),
        line,
        message: format!("{what}: {why}"),
    })
}

/// Loads `u.data`, and `u.item` / `u.user` where present.
pub fn load_grouplens(dir: &Path, policy: RowPolicy) -> Result<Dataset> {
    let mut skipped = SkipReport::default();
    let data = dir.join("u.data");
    let mut log = InteractionLog::default();
    for (line, f) in rows(&data, '\t', 4, policy, &mut skipped)? {
        let parsed = number::<f32>(&data, line, "rating", &f[2])
            .and_then(|r| Ok((r, number::<i64>(&data, line, "timestamp", &f[3])?)));
        if let Some((rating, ts)) = skipped.handle(policy, parsed)? {
            log.push(&f[0], &f[1], Some(rating), Some(ts));
        }
    }

    let genre_path = dir.join("u.genre");
    let genres: Vec<String> = if genre_path.is_file() {
        rows(&genre_path, '|', 2, policy, &mut skipped)?
            .into_iter()
            .map(|(_, f)| f[0].clone())
            .collect()
    } else {
        GENRES.iter().map(|g| g.to_string()).collect()
    };

    let mut items = ItemCatalog::default();
    let item_path = dir.join("u.item");
    if item_path.is_file() {
        for (_, f) in rows(&item_path, '|', 5 + genres.len(), policy, &mut skipped)? {
            // Release dates look like `01-Jan-1995`; the title usually ends in `(1995)` too.
            let year = f[2]
                .rsplit('-')
                .next()
                .and_then(|y| y.parse().ok())
                .or_else(|| year_in_title(&f[1]));
            items.records.push(ItemRecord {
                id: f[0].clone(),
                title: Some(f[1].clone()),
                year,
                categories: genres
                    .iter()
                    .zip(&f[5..])
                    .filter(|(_, flag)| flag.as_str() == "1")
                    .map(|(g, _)| g.clone())
                    .collect(),
                extra: [("imdb_url".to_owned(), f[4].clone())].into(),
                ..Default::default()
            });
        }
    }

    let mut users = Vec::new();
    let user_path = dir.join("u.user");
    if user_path.is_file() {
        for (line, f) in rows(&user_path, '|', 5, policy, &mut skipped)? {
            let Some(age) =
                skipped.handle(policy, number::<f32>(&user_path, line, "age", &f[1]))?
            else {
                continue;
            };
            users.push(UserRecord {
                id: f[0].clone(),
                age: Some(age),
                gender: Some(f[2].clone()),
                occupation: Some(f[3].clone()),
                features: [("zip_code".to_owned(), f[4].clone())].into(),
            });
        }
    }

    Ok(Dataset {
        name: "ml-100k".into(),
        log,
        items,
        users,
        kg: None,
        skipped,
    })
}

fn year_in_title(title: &str) -> Option<i32> {
    let open = title.rfind('(')?;
    title[open + 1..].strip_suffix(')')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_grouplens_layout_including_latin1_titles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("u.data"),
            "196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
        )
        .unwrap();
        let mut item =
            b"242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                .to_vec();
        // "Misérables" in Latin-1: é is the single byte 0xE9.
        item.extend_from_slice(
            b"302|Les Mis\xe9rables (1995)||||0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n",
        );
        std::fs::write(dir.path().join("u.item"), item).unwrap();
        std::fs::write(dir.path().join("u.user"), "196|49|M|writer|55105\n").unwrap();
        let ds = load_grouplens(dir.path(), RowPolicy::Strict).unwrap();
        assert_eq!(ds.log.interactions.len(), 2);
        assert_eq!(ds.log.interactions[0].timestamp, Some(881250949));
        assert_eq!(ds.items.records[0].categories, ["Comedy"]);
        assert_eq!(ds.items.records[0].year, Some(1997));
        assert_eq!(
            ds.items.records[1].title.as_deref(),
            Some("Les Misérables (1995)")
        );
        assert_eq!(ds.items.records[1].year, Some(1995));
        assert_eq!(ds.items.records[1].categories, ["Drama"]);
        assert_eq!(ds.users[0].occupation.as_deref(), Some("writer"));
    }

    #[test]
    fn bad_rating_is_a_parse_error_with_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.data"), "1\t2\t3\t4\n1\t3\tx\t5\n").unwrap();
        let err = load_grouplens(dir.path(), RowPolicy::Strict).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("u.data:2"), "{err}");
    }
}
