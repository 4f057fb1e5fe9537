//! Splits given by the user instead of made by fusionrec: three files (train, valid, optional
//! test) in the generic `user,item[,rating][,timestamp]` CSV format, or one interactions file
//! with a split column (`0` train, `1` valid, `2` test), as in RecBole/MMRec atomic files such as
//! `lfm2k.inter`.
//!
//! Why a loader and not a [`super::split::SplitStrategy`] alone: the split is a property of the
//! rows, so it is read with them, and every problem (a pair in two parts, a label that is not
//! 0/1/2, a held-out user without training rows, an empty validation part) is reported with the
//! file and line that cause it, before anything trains.
//!
//! Columns are found by name, case-insensitively, with any RecBole type suffix (`:token`)
//! removed: `user`/`user_id`/`userID`, `item`/`item_id`/`itemID`, and optional `rating`,
//! `timestamp`. A header with a tab is read as tab-separated (atomic files), otherwise as CSV.
//! Items that appear only in valid or test are part of the catalog: ranking is over every item
//! of every part.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    file_label, load_generic_items, read_text, table_reader, Dataset, InteractionLog, ItemCatalog,
    RowPolicy, SkipReport,
};
use crate::error::{Error, Result};

/// Which part of a given split an interaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Part {
    Train,
    Valid,
    Test,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Valid => "valid",
            Part::Test => "test",
        }
    }

    /// The split-column labels: `0`/`1`/`2` (RecBole, MMRec) or `train`/`valid`/`test`.
    fn parse(label: &str) -> Option<Self> {
        match label.trim() {
            "0" | "train" => Some(Part::Train),
            "1" | "valid" | "validation" => Some(Part::Valid),
            "2" | "test" => Some(Part::Test),
            _ => None,
        }
    }
}

/// One row read from a split file.
struct Row {
    file: usize,
    line: usize,
    user: String,
    item: String,
    rating: Option<f32>,
    timestamp: Option<i64>,
    part: Part,
}

/// The column name without a RecBole type suffix, lower-cased.
fn column_key(name: &str) -> String {
    name.split(':')
        .next()
        .unwrap_or(name)
        .trim()
        .to_ascii_lowercase()
}

/// Reads one interactions table. Every row goes to `part`, or, with `split_column`, to the part
/// its label names.
fn read_rows(
    path: &Path,
    file: usize,
    source: Result<Part, &str>,
    policy: RowPolicy,
    skipped: &mut SkipReport,
) -> Result<Vec<Row>> {
    let label = file_label(path);
    let text = read_text(path)?;
    let mut reader = table_reader(&text);
    let parse_error = |line: usize, message: String| Error::Parse {
        file: label.clone(),
        line,
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| parse_error(1, e.to_string()))?
        .iter()
        .map(column_key)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(parse_error(1, "empty file: expected a header".into()));
    }
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let required = |names: &[&str]| {
        col(names).ok_or_else(|| {
            parse_error(
                1,
                format!(
                    "header must name a `{}` column (found: {})",
                    names[0],
                    header.join(",")
                ),
            )
        })
    };
    let u = required(&["user", "user_id", "userid"])?;
    let i = required(&["item", "item_id", "itemid"])?;
    let (r, t) = (col(&["rating"]), col(&["timestamp"]));
    // Either every row's part, or the column (and its name) that holds it.
    let assign: std::result::Result<Part, (usize, &str)> = match source {
        Ok(part) => Ok(part),
        Err(name) => Err((required(&[column_key(name).as_str()])?, name)),
    };
    let width = header.len();

    let mut rows = Vec::new();
    for record in reader.records() {
        let row = record
            .map_err(|e| {
                parse_error(
                    e.position().map_or(0, |p| p.line() as usize),
                    e.to_string(),
                )
            })
            .and_then(|rec| {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                let bad = |message: String| parse_error(line, message);
                if rec.len() != width {
                    return Err(bad(format!("expected {width} fields, found {}", rec.len())));
                }
                let (rating, ts) = crate::data::rating_and_time(&rec, r, t).map_err(&bad)?;
                if rec[u].is_empty() || rec[i].is_empty() {
                    return Err(bad("empty user or item id".into()));
                }
                let part = match assign {
                    Ok(part) => part,
                    Err((c, name)) => Part::parse(&rec[c]).ok_or_else(|| {
                        bad(format!(
                            "split label `{name}` is '{}': expected 0 (train), 1 (valid) or 2 (test)",
                            &rec[c]
                        ))
                    })?,
                };
                Ok(Row {
                    file,
                    line,
                    user: rec[u].to_owned(),
                    item: rec[i].to_owned(),
                    rating,
                    timestamp: ts,
                    part,
                })
            });
        if let Some(row) = skipped.handle(policy, row)? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Checks that the parts make a split one can train and evaluate on, naming the file and line of
/// the first problem, and builds the dataset.
fn assemble(
    files: &[PathBuf],
    rows: Vec<Row>,
    items: Option<&Path>,
    policy: RowPolicy,
    mut skipped: SkipReport,
    name: String,
) -> Result<Dataset> {
    let at = |row: &Row| (file_label(&files[row.file]), row.line);
    let mut seen: HashMap<(&str, &str), &Row> = HashMap::with_capacity(rows.len());
    let mut trains: HashSet<&str> = HashSet::new();
    for row in &rows {
        if let Some(first) = seen.get(&(row.user.as_str(), row.item.as_str())) {
            if first.part != row.part {
                let (file, line) = at(row);
                let (first_file, first_line) = at(first);
                return Err(Error::Parse {
                    file,
                    line,
                    message: format!(
                        "user '{}' / item '{}' is in {} here and in {} at {first_file}:{first_line}: \
                         a pair may be in one part of the split only",
                        row.user,
                        row.item,
                        row.part.name(),
                        first.part.name()
                    ),
                });
            }
        } else {
            seen.insert((&row.user, &row.item), row);
        }
        if row.part == Part::Train {
            trains.insert(&row.user);
        }
    }
    if let Some(row) = rows
        .iter()
        .find(|r| r.part != Part::Train && !trains.contains(r.user.as_str()))
    {
        let (file, line) = at(row);
        return Err(Error::Parse {
            file,
            line,
            message: format!(
                "user '{}' has {} interactions but none in train: a model cannot rank for a user \
                 it has never seen (drop the user's held-out rows, or move some to train)",
                row.user,
                row.part.name()
            ),
        });
    }
    for part in [Part::Train, Part::Valid] {
        if !rows.iter().any(|r| r.part == part) {
            let where_ = match files.len() {
                1 => format!("{} has no {} rows", file_label(&files[0]), part.name()),
                _ => format!(
                    "{} has no rows",
                    file_label(&files[if part == Part::Train { 0 } else { 1 }])
                ),
            };
            return Err(Error::Data(format!(
                "given split: {where_}; training needs a non-empty train and valid part \
                 (validation chooses epochs and settings)"
            )));
        }
    }

    let mut log = InteractionLog::default();
    for row in &rows {
        log.push(&row.user, &row.item, row.rating, row.timestamp);
        log.parts.push(row.part);
    }
    let items = match items {
        Some(path) => load_generic_items(path, policy, &mut skipped)?,
        None => ItemCatalog::default(),
    };
    Ok(Dataset {
        name,
        log,
        items,
        users: Vec::new(),
        kg: None,
        skipped,
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("given")
        .to_owned()
}

/// Loads a split from separate train / valid / (optional) test files.
pub fn load_given_files(
    train: &Path,
    valid: &Path,
    test: Option<&Path>,
    items: Option<&Path>,
    policy: RowPolicy,
) -> Result<Dataset> {
    let mut skipped = SkipReport::default();
    let mut files = vec![train.to_owned(), valid.to_owned()];
    files.extend(test.map(Path::to_owned));
    let mut rows = Vec::new();
    for (n, part) in [Part::Train, Part::Valid, Part::Test]
        .into_iter()
        .enumerate()
        .take(files.len())
    {
        rows.extend(read_rows(&files[n], n, Ok(part), policy, &mut skipped)?);
    }
    let name = train
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
        .map_or_else(|| stem(train), str::to_owned);
    assemble(&files, rows, items, policy, skipped, name)
}

/// Loads a split from one interactions file whose `column` holds 0 (train), 1 (valid) or 2
/// (test) on each row.
pub fn load_split_column(
    path: &Path,
    column: &str,
    items: Option<&Path>,
    policy: RowPolicy,
) -> Result<Dataset> {
    let mut skipped = SkipReport::default();
    let rows = read_rows(path, 0, Err(column), policy, &mut skipped)?;
    assemble(&[path.to_owned()], rows, items, policy, skipped, stem(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn files_and_split_column_give_the_same_parts_and_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let tr = write(
            dir.path(),
            "train.csv",
            "user,item,rating\nu1,a,5\nu1,b,4\nu2,a,4\n",
        );
        let va = write(dir.path(), "valid.csv", "user,item,rating\nu1,c,4\n");
        let te = write(dir.path(), "test.csv", "user,item,rating\nu2,d,5\n");
        let ds = load_given_files(&tr, &va, Some(&te), None, RowPolicy::Strict).unwrap();
        assert_eq!(
            ds.log.items.iter().collect::<Vec<_>>(),
            ["a", "b", "c", "d"],
            "held-out-only items are in the catalog"
        );
        assert_eq!(
            ds.log.parts,
            [
                Part::Train,
                Part::Train,
                Part::Train,
                Part::Valid,
                Part::Test
            ]
        );
        let col = write(
            dir.path(),
            "x.inter",
            "userID:token\titemID:token\trating:float\tx_label:token\nu1\ta\t5\t0\nu1\tb\t4\t0\nu2\ta\t4\t0\nu1\tc\t4\t1\nu2\td\t5\t2\n",
        );
        let ds2 = load_split_column(&col, "x_label", None, RowPolicy::Strict).unwrap();
        assert_eq!(ds2.log.interactions, ds.log.interactions);
        assert_eq!(ds2.log.parts, ds.log.parts);
    }

    #[test]
    fn bad_splits_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let tr = write(dir.path(), "train.csv", "user,item\nu1,a\nu1,b\nu2,a\n");
        let va = write(dir.path(), "valid.csv", "user,item\nu1,c\n");
        // The same pair in train (line 2) and test (line 3).
        let te = write(dir.path(), "test.csv", "user,item\nu2,d\nu1,a\n");
        let e = load_given_files(&tr, &va, Some(&te), None, RowPolicy::Strict).unwrap_err();
        match &e {
            Error::Parse {
                file,
                line,
                message,
            } => {
                assert!(file.ends_with("test.csv") && *line == 3, "{e}");
                assert!(message.contains("train.csv:2"), "{e}");
            }
            _ => panic!("{e}"),
        }
        // A test user with no training rows.
        let te = write(dir.path(), "test2.csv", "user,item\nu2,d\nu9,a\n");
        let e = load_given_files(&tr, &va, Some(&te), None, RowPolicy::Strict).unwrap_err();
        assert!(
            matches!(&e, Error::Parse { line: 3, message, .. } if message.contains("'u9'")),
            "{e}"
        );
        // An empty validation file.
        let empty = write(dir.path(), "empty.csv", "user,item\n");
        let e = load_given_files(&tr, &empty, None, None, RowPolicy::Strict).unwrap_err();
        assert!(
            matches!(&e, Error::Data(m) if m.contains("empty.csv has no rows")),
            "{e}"
        );
        // An unknown split label.
        let col = write(
            dir.path(),
            "l.inter",
            "userID\titemID\tx_label\nu1\ta\t0\nu1\tb\t7\n",
        );
        let e = load_split_column(&col, "x_label", None, RowPolicy::Strict).unwrap_err();
        assert!(
            matches!(&e, Error::Parse { line: 3, message, .. } if message.contains("'7'")),
            "{e}"
        );
        // A missing split column.
        let e = load_split_column(&col, "fold", None, RowPolicy::Strict).unwrap_err();
        assert!(
            matches!(&e, Error::Parse { line: 1, message, .. } if message.contains("`fold`")),
            "{e}"
        );
        // No valid rows in a split column file.
        let col = write(
            dir.path(),
            "n.inter",
            "userID\titemID\tx_label\nu1\ta\t0\nu1\tb\t2\n",
        );
        let e = load_split_column(&col, "x_label", None, RowPolicy::Strict).unwrap_err();
        assert!(
            matches!(&e, Error::Data(m) if m.contains("no valid rows")),
            "{e}"
        );
    }
}
