//! Item features from files: bring your own embeddings (CLIP, Whisper, VGGish, anything) as a
//! named modality next to the ones fusionrec encodes itself.
//!
//! `NAME=PATH[@IDS]`, one per `--item-features`:
//! - `.npy` (f32 or f64, 2-d, C or Fortran order) or `.safetensors` (one 2-d f32/f64 tensor, or
//!   the one named `NAME`): a matrix whose rows are aligned to item ids
//!   - by the id list `IDS` when given (a text file, one id per line, line r ↔ row r); or
//!   - else by position: row r is the item whose id is `r` — the convention of RecBole/MMRec
//!     atomic files (such as `lfm2k.inter` with `whisper.npy`), whose item ids are row indices.
//! - `.csv`: a header with an `id` column (taken as the id of each row) and numeric columns.
//!
//! A catalog item the file has no row for is *absent* in this modality (masked, as a missing
//! text is). A row whose id is not in the catalog, a duplicate id, a row count that differs from
//! the id list, and a NaN or infinite value are errors naming the file and row: silently
//! misaligned features are worse than none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::features::Modality;
use crate::data::IdMap;
use crate::error::{Error, Result};

/// A parsed `NAME=PATH[@IDS]` specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSpec {
    pub name: String,
    pub path: PathBuf,
    pub ids: Option<PathBuf>,
}

impl std::str::FromStr for FeatureSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, rest) = s.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--item-features '{s}': expected NAME=PATH or NAME=PATH@IDS"
            ))
        })?;
        let name = name.trim();
        let reserved = ["id", "text", "image", "tabular", "tfidf", "tags", "kg"];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || reserved.contains(&name)
        {
            return Err(Error::Config(format!(
                "--item-features '{s}': the name must be letters, digits, '_' or '-', and not one \
                 of fusionrec's own modalities {reserved:?}"
            )));
        }
        let (path, ids) = match rest.rsplit_once('@') {
            Some((p, ids)) => (p, Some(PathBuf::from(ids))),
            None => (rest, None),
        };
        Ok(Self {
            name: name.to_owned(),
            path: PathBuf::from(path),
            ids,
        })
    }
}

/// A dense matrix read from a file, with the id of each row where the file names it.
struct Matrix {
    rows: usize,
    dim: usize,
    values: Vec<f32>,
    ids: Option<Vec<String>>,
}

fn parse_error(path: &Path, line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        file: path.display().to_string(),
        line,
        message: message.into(),
    }
}

fn read_npy(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let bad = |m: String| parse_error(path, 0, m);
    let npy = npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not an .npy file: {e}")))?;
    let shape = npy.shape().to_vec();
    let [rows, dim] = shape[..] else {
        return Err(bad(format!("expected a 2-d array, found shape {shape:?}")));
    };
    let (rows, dim) = (rows as usize, dim as usize);
    let fortran = npy.order() == npyz::Order::Fortran;
    let dtype = match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => format!("{other:?}"),
    };
    let size = match dtype.as_str() {
        "<f4" | ">f4" => 4,
        "<f8" | ">f8" => 8,
        other => return Err(bad(format!("dtype {other}: expected float32 or float64"))),
    };
    // Checked before reading, so a header claiming 10⁹ rows cannot allocate them.
    if rows.checked_mul(dim).and_then(|n| n.checked_mul(size)) > Some(bytes.len()) {
        return Err(bad(format!(
            "shape {rows}×{dim} does not fit in a file of {} bytes",
            bytes.len()
        )));
    }
    let read_err = |e: std::io::Error| bad(format!("reading values: {e}"));
    let flat: Vec<f32> = match size {
        4 => npy.into_vec::<f32>().map_err(read_err)?,
        _ => npy
            .into_vec::<f64>()
            .map_err(read_err)?
            .into_iter()
            .map(|x| x as f32)
            .collect(),
    };
    let values = match fortran {
        false => flat,
        true => (0..rows * dim)
            .map(|k| flat[(k % dim) * rows + k / dim])
            .collect(),
    };
    Ok(Matrix {
        rows,
        dim,
        values,
        ids: None,
    })
}

fn read_safetensors(path: &Path, bytes: &[u8], name: &str) -> Result<Matrix> {
    use safetensors::{tensor::Dtype, SafeTensors};
    let bad = |m: String| parse_error(path, 0, m);
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not safetensors: {e}")))?;
    let names = st.names();
    let pick = match names.len() {
        1 => names[0].to_owned(),
        _ if names.contains(&name) => name.to_owned(),
        _ => {
            return Err(bad(format!(
                "{} tensors ({}): name one '{name}' or keep one",
                names.len(),
                names
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let t = st
        .tensor(&pick)
        .map_err(|e| bad(format!("tensor '{pick}': {e}")))?;
    let [rows, dim] = t.shape()[..] else {
        return Err(bad(format!(
            "tensor '{pick}': expected 2-d, found shape {:?}",
            t.shape()
        )));
    };
    let data = t.data();
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_le_bytes(a) as f32
            })
            .collect(),
        other => {
            return Err(bad(format!(
                "tensor '{pick}': dtype {other:?}, expected F32 or F64"
            )))
        }
    };
    Ok(Matrix {
        rows,
        dim,
        values,
        ids: None,
    })
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| parse_error(path, 1, e.to_string()))?
        .clone();
    let id_col = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("id"))
        .ok_or_else(|| parse_error(path, 1, "a features CSV needs an `id` column"))?;
    let dim = header.len() - 1;
    if dim == 0 {
        return Err(parse_error(path, 1, "no feature columns besides `id`"));
    }
    let (mut ids, mut values) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let rec = record.map_err(|e| {
            parse_error(
                path,
                e.position().map_or(0, |p| p.line() as usize),
                e.to_string(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        for (c, field) in rec.iter().enumerate() {
            if c == id_col {
                ids.push(field.to_owned());
            } else {
                let x: f32 = field.parse().map_err(|_| {
                    parse_error(
                        path,
                        line,
                        format!("column `{}`: not a number: '{field}'", &header[c]),
                    )
                })?;
                values.push(x);
            }
        }
    }
    Ok(Matrix {
        rows: ids.len(),
        dim,
        values,
        ids: Some(ids),
    })
}

/// Loads `spec` as the modality `spec.name` over the catalog `items`.
pub fn load_item_features(spec: &FeatureSpec, items: &IdMap) -> Result<Modality> {
    let path = &spec.path;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut m = match ext.as_str() {
        "npy" => read_npy(path, &bytes)?,
        "safetensors" => read_safetensors(path, &bytes, &spec.name)?,
        "csv" => read_csv(path, &bytes)?,
        other => {
            return Err(Error::Config(format!(
                "{}: features must be .npy, .safetensors or .csv (found '.{other}')",
                path.display()
            )))
        }
    };
    // The file's rows must be whole (a CSV is checked field by field above).
    if m.values.len() != m.rows * m.dim {
        return Err(parse_error(path, 0, "truncated data"));
    }
    // A CSV's data starts on line 2 (after its header); a matrix row r is reported as "line" r+1.
    let header_lines = usize::from(m.ids.is_some());
    let line_of = |row: usize| row + 1 + header_lines;
    if let Some(list) = &spec.ids {
        let text = crate::data::read_text(list)?;
        let ids: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if m.ids.is_some() {
            return Err(Error::Config(format!(
                "{}: a CSV names its rows in its `id` column; drop @{}",
                path.display(),
                list.display()
            )));
        }
        if ids.len() != m.rows {
            return Err(Error::Data(format!(
                "{} has {} rows but the id list {} has {} ids",
                path.display(),
                m.rows,
                list.display(),
                ids.len()
            )));
        }
        m.ids = Some(ids);
    }
    let ids: Vec<String> = m
        .ids
        .take()
        .unwrap_or_else(|| (0..m.rows).map(|r| r.to_string()).collect());
    let dim = m.dim;
    let mut values = vec![0.0f32; items.len() * dim];
    let mut present = vec![false; items.len()];
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        let x = &m.values[row * dim..(row + 1) * dim];
        if let Some(c) = x.iter().position(|v| !v.is_finite()) {
            return Err(parse_error(
                path,
                line_of(row),
                format!("row {row} (item '{id}'): value {c} is {}", x[c]),
            ));
        }
        if let Some(first) = seen.insert(id, row) {
            return Err(parse_error(
                path,
                line_of(row),
                format!("item '{id}' has a second row (first: row {first})"),
            ));
        }
        let Some(i) = items.get(id) else {
            let rule = match spec.ids.is_some() || ext == "csv" {
                true => "by its id",
                false => {
                    "by position (row r is item id r; give NAME=PATH@IDS to align by an id list)"
                }
            };
            return Err(parse_error(
                path,
                line_of(row),
                format!(
                    "row {row}: item '{id}' is not in the catalog of {} items (rows are aligned {rule})",
                    items.len()
                ),
            ));
        };
        let i = i as usize;
        values[i * dim..(i + 1) * dim].copy_from_slice(x);
        present[i] = true;
    }
    Ok(Modality {
        name: spec.name.clone(),
        dim,
        values,
        present,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(ids: &[&str]) -> IdMap {
        IdMap::from(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    /// A hand-written .npy (version 1.0) of `rows × dim` little-endian f64 values.
    fn npy_f64(rows: usize, dim: usize, values: &[f64], fortran: bool) -> Vec<u8> {
        let dict = format!(
            "{{'descr': '<f8', 'fortran_order': {}, 'shape': ({rows}, {dim}), }}",
            if fortran { "True" } else { "False" }
        );
        let mut header = dict.into_bytes();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header);
        for v in values {
            out.extend(v.to_le_bytes());
        }
        out
    }

    #[test]
    fn npy_rows_align_by_position_or_by_id_list_and_csv_by_id_column() {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("f.npy");
        // Row r = [r, 10 r]; stored Fortran-order to check the transpose.
        std::fs::write(&npy, npy_f64(3, 2, &[0., 1., 2., 0., 10., 20.], true)).unwrap();
        let items = catalog(&["2", "0", "5"]);
        let spec: FeatureSpec = format!("audio={}", npy.display()).parse().unwrap();
        // Row 1 has id "1", which is not in the catalog.
        let e = load_item_features(&spec, &items).unwrap_err();
        assert!(
            e.to_string().contains("item '1' is not in the catalog"),
            "{e}"
        );
        let items = catalog(&["2", "0", "1", "7"]);
        let m = load_item_features(&spec, &items).unwrap();
        assert_eq!(m.dim, 2);
        assert_eq!(m.row(0), [2.0, 20.0]);
        assert_eq!(m.row(1), [0.0, 0.0]);
        assert_eq!(m.row(2), [1.0, 10.0]);
        assert_eq!(m.present, [true, true, true, false]);

        let ids = dir.path().join("ids.txt");
        std::fs::write(&ids, "b\na\nc\n").unwrap();
        let spec: FeatureSpec = format!("audio={}@{}", npy.display(), ids.display())
            .parse()
            .unwrap();
        let m = load_item_features(&spec, &catalog(&["a", "b", "c"])).unwrap();
        assert_eq!(m.row(0), [1.0, 10.0]);
        std::fs::write(&ids, "b\na\n").unwrap();
        let e = load_item_features(&spec, &catalog(&["a", "b", "c"])).unwrap_err();
        assert!(e.to_string().contains("has 3 rows but the id list"), "{e}");

        let csv = dir.path().join("f.csv");
        std::fs::write(&csv, "x,id,y\n1,b,2\n3,a,4\n").unwrap();
        let spec: FeatureSpec = format!("geo={}", csv.display()).parse().unwrap();
        let m = load_item_features(&spec, &catalog(&["a", "b", "c"])).unwrap();
        assert_eq!((m.row(0), m.row(1)), (&[3.0, 4.0][..], &[1.0, 2.0][..]));
        assert_eq!(m.present, [true, true, false]);
    }

    #[test]
    fn nan_rows_duplicates_bad_shapes_and_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("f.csv");
        std::fs::write(&csv, "id,x\na,1\nb,NaN\n").unwrap();
        let spec: FeatureSpec = format!("geo={}", csv.display()).parse().unwrap();
        let e = load_item_features(&spec, &catalog(&["a", "b"])).unwrap_err();
        assert!(matches!(&e, Error::Parse { line: 3, .. }), "{e}");
        std::fs::write(&csv, "id,x\na,1\na,2\n").unwrap();
        let e = load_item_features(&spec, &catalog(&["a", "b"])).unwrap_err();
        assert!(e.to_string().contains("second row"), "{e}");

        let npy = dir.path().join("big.npy");
        // A header that claims 10⁹ rows over 4 values: an error, not an allocation.
        std::fs::write(&npy, npy_f64(1_000_000_000, 2, &[1., 2., 3., 4.], false)).unwrap();
        let spec: FeatureSpec = format!("a={}", npy.display()).parse().unwrap();
        let e = load_item_features(&spec, &catalog(&["0"])).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");

        assert!("text=x.npy".parse::<FeatureSpec>().is_err());
        assert!("x.npy".parse::<FeatureSpec>().is_err());
        assert!("a b=x.npy".parse::<FeatureSpec>().is_err());
    }
}
