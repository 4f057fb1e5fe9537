//! RecBole atomic files: tab-separated, with a typed header such as `user_id:token` `rating:float`.
//! See <https://recbole.io/docs/user_guide/data/atomic_files.html>.

use std::path::Path;

use super::{
    file_label, read_text, Dataset, InteractionLog, ItemCatalog, ItemRecord, KnowledgeGraph,
    RowPolicy, SkipReport, UserRecord,
};
use crate::error::{Error, Result};

/// One parsed atomic file: column names (type suffix removed) and raw rows with line numbers.
pub(crate) struct AtomicTable {
    file: String,
    columns: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl AtomicTable {
    pub(crate) fn read(path: &Path, policy: RowPolicy, skipped: &mut SkipReport) -> Result<Self> {
        let file = file_label(path);
        let text = read_text(path)?;
        let mut lines = text.lines().enumerate();
        let header = lines.next().map(|(_, l)| l).ok_or_else(|| Error::Parse {
            file: file.clone(),
            line: 1,
            message: "empty file: expected a header like `user_id:token`".into(),
        })?;
        let columns: Vec<String> = header
            .split('\t')
            .map(|c| c.split(':').next().unwrap_or(c).trim().to_owned())
            .collect();
        let mut rows = Vec::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
            let row = if fields.len() == columns.len() {
                Ok(fields)
            } else {
                Err(Error::Parse {
                    file: file.clone(),
                    line: i + 1,
                    message: format!("expected {} fields, found {}", columns.len(), fields.len()),
                })
            };
            if let Some(fields) = skipped.handle(policy, row)? {
                rows.push((i + 1, fields));
            }
        }
        Ok(Self {
            file,
            columns,
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn required(&self, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| Error::Parse {
            file: self.file.clone(),
            line: 1,
            message: format!(
                "missing column `{name}` (have: {})",
                self.columns.join(", ")
            ),
        })
    }

    fn parse_error(&self, line: usize, message: String) -> Error {
        Error::Parse {
            file: self.file.clone(),
            line,
            message,
        }
    }
}

fn parse_opt<T: super::Number>(
    table: &AtomicTable,
    line: usize,
    col: Option<usize>,
    fields: &[String],
) -> Result<Option<T>> {
    let Some(c) = col else { return Ok(None) };
    let raw = fields[c].trim();
    if raw.is_empty() {
        return Ok(None);
    }
    super::parse_number(raw)
        .map(Some)
        .map_err(|why| table.parse_error(line, format!("`{}`: {why}", table.columns[c])))
}

/// Loads `<dir>/<name>.inter` and, where present, `.item`, `.user`, `.kg` and `.link`.
pub fn load_recbole(dir: &Path, name: &str, policy: RowPolicy) -> Result<Dataset> {
    let mut skipped = SkipReport::default();
    let inter = AtomicTable::read(&dir.join(format!("{name}.inter")), policy, &mut skipped)?;
    let (u, i) = (inter.required("user_id")?, inter.required("item_id")?);
    let (r, t) = (inter.column("rating"), inter.column("timestamp"));
    let mut log = InteractionLog::default();
    for (line, f) in &inter.rows {
        let parsed = parse_opt::<f32>(&inter, *line, r, f).and_then(|rating| {
            let ts = parse_opt::<f64>(&inter, *line, t, f)?;
            Ok((rating, ts.map(|x| x as i64)))
        });
        if let Some((rating, ts)) = skipped.handle(policy, parsed)? {
            log.push(f[u].trim(), f[i].trim(), rating, ts);
        }
    }

    let mut items = ItemCatalog::default();
    let item_path = dir.join(format!("{name}.item"));
    if item_path.is_file() {
        let table = AtomicTable::read(&item_path, policy, &mut skipped)?;
        let id = table.required("item_id")?;
        let title = table.column("movie_title").or(table.column("title"));
        let year_col = table.column("release_year").or(table.column("year"));
        let class = table.column("class").or(table.column("genre"));
        for (_, f) in &table.rows {
            // The year is a `token` column: ML-100K spells a missing one 'unkonwn'.
            let year = year_col.and_then(|c| f[c].trim().parse().ok());
            let extra = table
                .columns
                .iter()
                .enumerate()
                .filter(|(c, _)| ![Some(id), title, class, year_col].contains(&Some(*c)))
                .map(|(c, name)| (name.clone(), f[c].clone()))
                .collect();
            items.records.push(ItemRecord {
                id: f[id].trim().to_owned(),
                title: title.map(|c| f[c].trim().to_owned()),
                year,
                categories: class
                    .map(|c| f[c].split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                extra,
                ..Default::default()
            });
        }
    }

    let mut users = Vec::new();
    let user_path = dir.join(format!("{name}.user"));
    if user_path.is_file() {
        let table = AtomicTable::read(&user_path, policy, &mut skipped)?;
        let id = table.required("user_id")?;
        let age = table.column("age");
        for (line, f) in &table.rows {
            let Some(age) = skipped.handle(policy, parse_opt::<f32>(&table, *line, age, f))? else {
                continue;
            };
            let get = |name: &str| table.column(name).map(|c| f[c].trim().to_owned());
            users.push(UserRecord {
                id: f[id].trim().to_owned(),
                age,
                gender: get("gender"),
                occupation: get("occupation"),
                features: table
                    .columns
                    .iter()
                    .zip(f)
                    .map(|(c, v)| (c.clone(), v.trim().to_owned()))
                    .collect(),
            });
        }
    }

    let kg_path = dir.join(format!("{name}.kg"));
    let link_path = dir.join(format!("{name}.link"));
    let kg = if kg_path.is_file() && link_path.is_file() {
        let table = AtomicTable::read(&kg_path, policy, &mut skipped)?;
        let (h, r, t) = (
            table.required("head_id")?,
            table.required("relation_id")?,
            table.required("tail_id")?,
        );
        let triples = table
            .rows
            .iter()
            .map(|(_, f)| (f[h].clone(), f[r].clone(), f[t].clone()))
            .collect();
        let links = AtomicTable::read(&link_path, policy, &mut skipped)?;
        let (i, e) = (links.required("item_id")?, links.required("entity_id")?);
        let item_entities = links
            .rows
            .iter()
            .map(|(_, f)| (f[i].clone(), f[e].clone()))
            .collect();
        Some(KnowledgeGraph {
            triples,
            item_entities,
        })
    } else {
        None
    };

    Ok(Dataset {
        name: name.to_owned(),
        log,
        items,
        users,
        kg,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn reads_typed_atomic_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "toy.inter",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
             u1\ti1\t4\t100\nu1\ti2\t2\t101\nu2\ti1\t5\t99\n",
        );
        write(
            dir.path(),
            "toy.item",
            "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n\
             i1\tToy Story\t1995\tAnimation Children's Comedy\ni2\tHeat\tunkonwn\tAction\n",
        );
        write(
            dir.path(),
            "toy.user",
            "user_id:token\tage:token\tgender:token\toccupation:token\n\
             u1\t24\tM\ttechnician\n",
        );
        let ds = load_recbole(dir.path(), "toy", RowPolicy::Strict).unwrap();
        assert_eq!(ds.log.interactions.len(), 3);
        assert_eq!(ds.log.users.len(), 2);
        assert!(ds.log.items.iter().eq(["i1", "i2"]));
        let last = ds.log.interactions[2];
        assert_eq!(
            (last.user, last.item, last.rating, last.timestamp),
            (1, 0, Some(5.0), Some(99))
        );
        assert_eq!(ds.items.records[0].title.as_deref(), Some("Toy Story"));
        assert_eq!(ds.items.records[0].year, Some(1995));
        assert_eq!(
            ds.items.records[0].categories,
            ["Animation", "Children's", "Comedy"]
        );
        assert_eq!(ds.items.records[1].year, None);
        assert_eq!(ds.users[0].age, Some(24.0));
        assert_eq!(ds.users[0].occupation.as_deref(), Some("technician"));
        assert!(ds.kg.is_none());
    }

    #[test]
    fn malformed_row_names_file_and_line_or_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "bad.inter",
            "user_id:token\titem_id:token\trating:float\n\
             u1\ti1\t4\nu1\ti2\nu2\ti1\tfive\nu3\ti3\t1\n",
        );
        let err = load_recbole(dir.path(), "bad", RowPolicy::Strict).unwrap_err();
        match &err {
            Error::Parse { file, line, .. } => {
                assert!(file.ends_with("bad.inter"), "{file}");
                assert_eq!(*line, 3);
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        let ds = load_recbole(dir.path(), "bad", RowPolicy::Skip).unwrap();
        assert_eq!(ds.log.interactions.len(), 2);
        assert_eq!(ds.skipped.rows, 2);
        assert!(ds.skipped.first.as_deref().unwrap().contains(":3:"));
    }
}
