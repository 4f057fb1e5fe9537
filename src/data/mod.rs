//! Interactions, item content and user features, and the loaders that read them from disk.
//!
//! Everything is keyed by dense `u32` indices; [`IdMap`] keeps the external ids (strings, as in
//! the source files) so that a bundle can speak the user's ids again. Loaders never panic on a
//! malformed row: they return [`Error::Parse`] naming the file and line, or skip and count the row
//! when [`RowPolicy::Skip`] is chosen.

mod generic;
mod given;
mod grouplens;
mod history;
mod recbole;
pub mod social;
pub mod split;
mod strings;
pub mod synth;

#[cfg(not(target_arch = "wasm32"))]
pub mod fetch;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use generic::{load_generic, load_generic_items};
pub use given::{load_given_files, load_split_column, Part};
pub use grouplens::load_grouplens;
pub use history::UserHistory;
pub use recbole::load_recbole;
pub use social::{load_user_graph, UserGraph};
pub use split::{Feedback, Protocol, Split, SplitStrategy};
pub use strings::{Categories, IdMap, Strings, Titles};

/// A number read from a data file: parsed, and finite (a NaN or ∞ rating, or one beyond `f32`,
/// would poison every score computed from it).
pub(crate) trait Number: std::str::FromStr + Copy {
    fn finite(self) -> bool;
}

impl Number for f32 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Number for f64 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Number for i64 {
    fn finite(self) -> bool {
        true
    }
}

/// `raw` as a finite number, or why not.
pub(crate) fn parse_number<T: Number>(raw: &str) -> std::result::Result<T, String> {
    match raw.trim().parse::<T>() {
        Ok(x) if x.finite() => Ok(x),
        Ok(_) => Err(format!("not a finite number: '{raw}'")),
        Err(_) => Err(format!("not a number: '{raw}'")),
    }
}

/// The optional rating and timestamp fields of one CSV row (`rating`, `timestamp`: their column
/// indices, if the header has them): an empty field is absent; a rating must be a finite number
/// that fits an `f32` (`1e39` would become ∞), a timestamp a finite number. `Err` says why.
pub(crate) fn rating_and_time(
    rec: &csv::StringRecord,
    rating: Option<usize>,
    timestamp: Option<usize>,
) -> std::result::Result<(Option<f32>, Option<i64>), String> {
    let num = |c: Option<usize>, what: &str| -> std::result::Result<Option<f64>, String> {
        match c.and_then(|c| rec.get(c)) {
            None | Some("") => Ok(None),
            Some(raw) => parse_number::<f64>(raw)
                .map(Some)
                .map_err(|why| format!("{what}: {why}")),
        }
    };
    let r = match num(rating, "rating")? {
        Some(x) if !(x as f32).is_finite() => {
            return Err(format!("rating: {x} is beyond the f32 range"))
        }
        x => x.map(|x| x as f32),
    };
    Ok((r, num(timestamp, "timestamp")?.map(|x| x as i64)))
}

/// One user–item event. `rating` is absent for purely implicit data, `timestamp` where the source
/// has none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    pub rating: Option<f32>,
    pub timestamp: Option<i64>,
}

/// All interactions of a dataset, with the id maps that give them meaning.
#[derive(Debug, Clone, Default)]
pub struct InteractionLog {
    pub users: IdMap,
    pub items: IdMap,
    pub interactions: Vec<Interaction>,
    /// For a given split: the part of each interaction (same order); empty otherwise.
    pub parts: Vec<Part>,
}

impl InteractionLog {
    pub fn push(&mut self, user: &str, item: &str, rating: Option<f32>, timestamp: Option<i64>) {
        let user = self.users.get_or_insert(user);
        let item = self.items.get_or_insert(item);
        self.interactions.push(Interaction {
            user,
            item,
            rating,
            timestamp,
        });
    }
}

/// Content known about one item. Fields a source lacks stay empty; `extra` keeps any other text
/// columns (descriptions, tags…) by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub id: String,
    pub title: Option<String>,
    pub year: Option<i32>,
    pub categories: Vec<String>,
    pub image: Option<PathBuf>,
    pub audio: Option<PathBuf>,
    /// A short clip (animated GIF, APNG or WebP; see `encode::video`).
    #[serde(default)]
    pub video: Option<PathBuf>,
    pub extra: BTreeMap<String, String>,
}

/// Item content by external id.
#[derive(Debug, Clone, Default)]
pub struct ItemCatalog {
    pub records: Vec<ItemRecord>,
}

impl ItemCatalog {
    pub fn by_id(&self) -> HashMap<&str, &ItemRecord> {
        self.records.iter().map(|r| (r.id.as_str(), r)).collect()
    }
}

/// Features of one user: MovieLens has age, gender, occupation and zip code; other sources keep
/// whatever columns they have in `features`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub age: Option<f32>,
    pub gender: Option<String>,
    pub occupation: Option<String>,
    pub features: BTreeMap<String, String>,
}

/// Knowledge-graph triples plus the item → entity links.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeGraph {
    pub triples: Vec<(String, String, String)>,
    pub item_entities: HashMap<String, String>,
}

/// A dataset as loaded from disk.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub name: String,
    pub log: InteractionLog,
    pub items: ItemCatalog,
    pub users: Vec<UserRecord>,
    pub kg: Option<KnowledgeGraph>,
    /// Rows skipped under [`RowPolicy::Skip`], with the first problem seen.
    pub skipped: SkipReport,
}

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowPolicy {
    /// Stop at the first malformed row with an error naming file and line.
    #[default]
    Strict,
    /// Skip malformed rows and count them in [`Dataset::skipped`].
    Skip,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkipReport {
    pub rows: usize,
    pub first: Option<String>,
}

impl SkipReport {
    /// Applies `policy` to a row's outcome: `Ok(Some(v))` for a good row, `Ok(None)` for a
    /// skipped one, `Err` in strict mode.
    pub(crate) fn handle<T>(&mut self, policy: RowPolicy, row: Result<T>) -> Result<Option<T>> {
        match (row, policy) {
            (Ok(v), _) => Ok(Some(v)),
            (Err(e), RowPolicy::Strict) => Err(e),
            (Err(e), RowPolicy::Skip) => {
                self.rows += 1;
                self.first.get_or_insert_with(|| e.to_string());
                Ok(None)
            }
        }
    }
}

/// Where a dataset lives on disk and in which layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum DataSource {
    /// RecBole atomic files `<dir>/<name>.{inter,item,user,kg,link}`.
    Recbole { dir: PathBuf, name: String },
    /// The GroupLens ML-100K layout: `u.data`, `u.item`, `u.user`.
    Grouplens { dir: PathBuf },
    /// An interactions CSV (`user,item[,rating][,timestamp]`) and optional items JSONL/CSV.
    Generic {
        interactions: PathBuf,
        items: Option<PathBuf>,
    },
    /// A split given as files: train, valid and optional test CSVs (`user,item[,rating][,timestamp]`).
    GivenSplit {
        train: PathBuf,
        valid: PathBuf,
        test: Option<PathBuf>,
        items: Option<PathBuf>,
    },
    /// A split given as one interactions file with a split column (0 train, 1 valid, 2 test).
    SplitColumn {
        interactions: PathBuf,
        column: String,
        items: Option<PathBuf>,
    },
}

impl DataSource {
    /// The same source, read from another folder (a dataset folder that moved since training).
    pub fn relocate(&self, dir: &Path) -> Result<DataSource> {
        Ok(match self {
            DataSource::Recbole { name, .. } => DataSource::Recbole {
                dir: dir.to_owned(),
                name: name.clone(),
            },
            DataSource::Grouplens { .. } => DataSource::Grouplens {
                dir: dir.to_owned(),
            },
            DataSource::Generic { .. }
            | DataSource::GivenSplit { .. }
            | DataSource::SplitColumn { .. } => return Err(Error::Config(
                "--data relocates folder datasets only; files named one by one keep their paths"
                    .into(),
            )),
        })
    }

    /// Recognises a dataset folder by its files: `*.inter` → RecBole, `u.data` → GroupLens.
    pub fn detect(dir: &Path) -> Result<Self> {
        if dir.join("u.data").is_file() {
            return Ok(DataSource::Grouplens {
                dir: dir.to_owned(),
            });
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "inter") {
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| Error::Data(format!("bad file name {}", path.display())))?;
                return Ok(DataSource::Recbole {
                    dir: dir.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        Err(Error::Data(format!(
            "{} holds neither RecBole atomic files (*.inter) nor GroupLens files (u.data); \
             pass --interactions/--items for the generic format",
            dir.display()
        )))
    }

    pub fn load(&self, policy: RowPolicy) -> Result<Dataset> {
        match self {
            DataSource::Recbole { dir, name } => load_recbole(dir, name, policy),
            DataSource::Grouplens { dir } => load_grouplens(dir, policy),
            DataSource::Generic {
                interactions,
                items,
            } => load_generic(interactions, items.as_deref(), policy),
            DataSource::GivenSplit {
                train,
                valid,
                test,
                items,
            } => load_given_files(train, valid, test.as_deref(), items.as_deref(), policy),
            DataSource::SplitColumn {
                interactions,
                column,
                items,
            } => load_split_column(interactions, column, items.as_deref(), policy),
        }
    }

    /// Whether the source fixes the split itself (then the protocol's split is [`SplitStrategy::Given`]).
    pub fn gives_split(&self) -> bool {
        matches!(
            self,
            DataSource::GivenSplit { .. } | DataSource::SplitColumn { .. }
        )
    }

    /// The files this source reads (those that exist), for fingerprinting.
    pub fn files(&self) -> Vec<PathBuf> {
        let candidates: Vec<PathBuf> = match self {
            DataSource::Recbole { dir, name } => ["inter", "item", "user", "kg", "link"]
                .iter()
                .map(|ext| dir.join(format!("{name}.{ext}")))
                .collect(),
            DataSource::Grouplens { dir } => ["u.data", "u.item", "u.user"]
                .iter()
                .map(|f| dir.join(f))
                .collect(),
            DataSource::Generic {
                interactions,
                items,
            }
            | DataSource::SplitColumn {
                interactions,
                items,
                ..
            } => std::iter::once(interactions.clone())
                .chain(items.clone())
                .collect(),
            DataSource::GivenSplit {
                train,
                valid,
                test,
                items,
            } => [Some(train), Some(valid), test.as_ref(), items.as_ref()]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
        };
        candidates.into_iter().filter(|p| p.is_file()).collect()
    }
}

/// Reads a file as text; bytes that are not UTF-8 are read as Latin-1 (GroupLens `u.item` is).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// A reader over a delimited table with a header: tab-separated when the header line has a tab
/// (RecBole atomic files and HetRec `.dat` files, read without quoting), else CSV; a leading BOM
/// is dropped, fields are trimmed, and rows may have any number of fields (callers check).
pub(crate) fn table_reader(text: &str) -> csv::Reader<&[u8]> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let tab = text.lines().next().is_some_and(|h| h.contains('\t'));
    csv::ReaderBuilder::new()
        .delimiter(if tab { b'\t' } else { b',' })
        .quoting(!tab)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes())
}

pub(crate) fn file_label(path: &Path) -> String {
    path.display().to_string()
}

impl DataSource {
    /// sha256 over the names and bytes of the source files: recorded in bundles so that
    /// re-evaluation can tell whether it sees the same data.
    pub fn fingerprint(&self) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for path in self.files() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            hasher.update(name.as_bytes());
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        Ok(format!("{:x}", hasher.finalize()))
    }

    /// The sha256 of each source file by path, as recorded in bundles (a given split's files are
    /// named one by one, so anyone can check they hold the same split).
    pub fn file_hashes(&self) -> Result<BTreeMap<String, String>> {
        use sha2::{Digest, Sha256};
        self.files()
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                Ok((
                    path.display().to_string(),
                    format!("{:x}", Sha256::digest(&bytes)),
                ))
            })
            .collect()
    }
}
