//! Hyper-parameter search: the search space (a TOML file mapping a `train` option to the values
//! it may take), random and grid enumeration of configurations, and the configuration files that
//! `fusionrec train --config` reads and `fusionrec tune` writes (`best.toml`).
//!
//! The keys are `train`'s own flag names (`weight_decay` or `weight-decay` for
//! `--weight-decay`), so that a configuration found here is replayed by the command line with
//! nothing translated. This module knows which keys exist, what type each takes and which models
//! read it; the command line applies a configuration to its arguments, so that a trial and
//! `train --config best.toml` build their model through the very same code and reproduce each
//! other bit for bit.
//!
//! ```toml
//! dim = [32, 64, 128]                       # a list: choose among these values
//! lr = { log_uniform = [1e-3, 1e-1] }       # a range: random search only
//! weight_decay = { uniform = [0.0, 0.01] }
//! epochs = 40                               # one value: fixed for every trial
//! ```
//!
//! Scoring and the training loop live elsewhere: a trial is trained by
//! [`crate::train::train_valid_only`], which never ranks the test part.

use std::collections::HashSet;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{ModelConfig, Solver};
use crate::rng::SeededRng;

/// One option's value, typed by its [`Param`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Int(u64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Value {
    /// The value as a TOML value (what `best.toml` holds).
    fn to_toml(&self) -> toml::Value {
        match self {
            // TOML integers stop at 2^63 - 1; only a seed goes beyond, written as its digits
            // (which `Config::parse` reads back for `seed`).
            Value::Int(v) => match i64::try_from(*v) {
                Ok(i) => toml::Value::Integer(i),
                Err(_) => toml::Value::String(v.to_string()),
            },
            Value::Float(v) => toml::Value::Float(*v),
            Value::Bool(v) => toml::Value::Boolean(*v),
            Value::Str(v) => toml::Value::String(v.clone()),
        }
    }

    /// A short rendering for tables: floats to four significant digits (the exact value is in
    /// the JSON output and in `best.toml`).
    pub fn short(&self) -> String {
        match self {
            Value::Float(v) if *v != 0.0 && v.is_finite() => {
                let magnitude = v.abs().log10().floor() as i32;
                if (-4..6).contains(&magnitude) {
                    format!("{:.*}", (3 - magnitude).max(0) as usize, v)
                } else {
                    format!("{v:.3e}")
                }
            }
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            // Debug prints the shortest text that reads back as the same f64.
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v}"),
        }
    }
}

/// The type of an option's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count (dimensions, epochs, neighbours…): a non-negative TOML integer.
    Int,
    /// A real number; TOML integers are accepted (`lambda = [100, 200]`).
    Float,
    Bool,
    /// A name (`solver`, `loss`, `fusion`, `similarity`), checked when the model is built.
    Str,
}

/// A `train` option that a space or a configuration file may set.
#[derive(Debug, PartialEq, Eq)]
pub struct Param {
    /// The flag's name with underscores (`weight_decay` for `--weight-decay`).
    pub key: &'static str,
    pub kind: Kind,
    /// The model kinds ([`ModelConfig::kind`]) whose configuration reads it.
    pub models: &'static [&'static str],
}

/// Models trained by the shared loop ([`crate::model::training`]).
const TRAINED: &[&str] = &[
    "mf", "bpr-mf", "hybrid", "lightgcn", "graph", "vbpr", "sasrec", "mult-dae",
];
const RANKING_LOSS: &[&str] = &["hybrid", "lightgcn", "graph"];

/// Every option a space or a configuration file may set: the model knobs of `train`. Data,
/// split and output flags are not here — a search compares models on one fixed split.
pub const PARAMS: &[Param] = &[
    p("dim", Kind::Int, TRAINED),
    p("epochs", Kind::Int, TRAINED),
    p("lr", Kind::Float, TRAINED),
    p("weight_decay", Kind::Float, TRAINED),
    // Not read by BPR-MF's SGD solver (one triple at a time): see [`Space::check_model`].
    p("batch_size", Kind::Int, TRAINED),
    p("patience", Kind::Int, TRAINED),
    p("eval_every", Kind::Int, TRAINED),
    p("solver", Kind::Str, &["bpr-mf"]),
    p("loss", Kind::Str, RANKING_LOSS),
    p("temperature", Kind::Float, RANKING_LOSS),
    p("layers", Kind::Int, &["lightgcn", "graph"]),
    p("knn", Kind::Int, &["graph"]),
    p("fusion", Kind::Str, &["hybrid", "vbpr"]),
    p("user_recent", Kind::Bool, &["hybrid"]),
    p("recent_half_life", Kind::Float, &["hybrid"]),
    p("similarity", Kind::Str, &["item-knn"]),
    p("neighbors", Kind::Int, &["item-knn", "ease", "ease-mm"]),
    p("lambda", Kind::Float, &["ease", "ease-mm"]),
    p("candidates", Kind::Int, &["ease"]),
    p("content_weight", Kind::Float, &["ease-mm"]),
    p("max_len", Kind::Int, &["sasrec"]),
    p("blocks", Kind::Int, &["sasrec"]),
    p(
        "dropout",
        Kind::Float,
        &["sasrec", "mult-dae", "ease", "ease-mm"],
    ),
    p("order_weight", Kind::Float, &["ease", "ease-mm"]),
    p("order_window", Kind::Float, &["ease", "ease-mm"]),
    p("rank_weight", Kind::Float, &["ease", "ease-mm"]),
];

const fn p(key: &'static str, kind: Kind, models: &'static [&'static str]) -> Param {
    Param { key, kind, models }
}

/// Names people reach for that are spelled differently here, with the key to use.
const ALIASES: &[(&str, &str)] = &[
    ("l2", "lambda"),
    ("reg", "weight_decay"),
    ("factors", "dim"),
    ("learning_rate", "lr"),
    ("k", "neighbors"),
    ("alpha", "content_weight"),
];

/// The [`Param`] of a key (dashes read as underscores), or an error naming the key.
pub fn param(key: &str) -> Result<&'static Param> {
    let norm = key.replace('-', "_");
    if let Some(found) = PARAMS.iter().find(|p| p.key == norm) {
        return Ok(found);
    }
    let hint = match ALIASES.iter().find(|(alias, _)| *alias == norm) {
        Some((_, key)) => format!(" (did you mean '{key}'?)"),
        None => String::new(),
    };
    let keys: Vec<&str> = PARAMS.iter().map(|p| p.key).collect();
    Err(Error::Config(format!(
        "unknown option '{key}'{hint}; the options are {}",
        keys.join(", ")
    )))
}

/// Reads one TOML value as a value of `param` (in messages: `key`).
fn value_of(param: &Param, key: &str, v: &toml::Value) -> Result<Value> {
    let bad = |what: &str| Error::Config(format!("'{key}': {what}, found {v}"));
    Ok(match (param.kind, v) {
        (Kind::Int, toml::Value::Integer(i)) => {
            Value::Int(u64::try_from(*i).map_err(|_| bad("expected a count (≥ 0)"))?)
        }
        (Kind::Int, _) => return Err(bad("expected an integer")),
        (Kind::Float, toml::Value::Integer(i)) => Value::Float(*i as f64),
        (Kind::Float, toml::Value::Float(x)) if x.is_finite() => Value::Float(*x),
        (Kind::Float, _) => return Err(bad("expected a finite number")),
        (Kind::Bool, toml::Value::Boolean(b)) => Value::Bool(*b),
        (Kind::Bool, _) => return Err(bad("expected true or false")),
        (Kind::Str, toml::Value::String(s)) => Value::Str(s.clone()),
        (Kind::Str, _) => return Err(bad("expected a string")),
    })
}

/// The values one key may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// One of these (distinct) values.
    Values(Vec<Value>),
    /// Uniform on `[lo, hi]` (integers: each of `lo..=hi` equally likely).
    Uniform(f64, f64),
    /// Log-uniform on `[lo, hi]`, `0 < lo`: as likely in [1e-3, 1e-2] as in [1e-2, 1e-1],
    /// which is how learning rates and regularisation strengths are best explored.
    LogUniform(f64, f64),
}

/// One dimension of a search space.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    pub param: &'static Param,
    pub domain: Domain,
}

/// A search space: the keys to vary, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub dims: Vec<Dim>,
}

impl Space {
    /// Parses a space file's text. Every mistake — TOML syntax, an unknown key, an empty list,
    /// a repeated value, a value of the wrong type, a range with `lo ≥ hi` or a log range
    /// reaching 0 — is an [`Error::Config`] naming the key.
    pub fn parse(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| Error::Config(format!("search space: {e}")))?;
        let mut dims = Vec::with_capacity(table.len());
        let mut seen = HashSet::new();
        for (key, item) in &table {
            let param = param(key)?;
            if !seen.insert(param.key) {
                return Err(Error::Config(format!(
                    "'{key}' is given twice (as '{}')",
                    param.key
                )));
            }
            let domain = match item {
                toml::Value::Array(values) => {
                    if values.is_empty() {
                        return Err(Error::Config(format!(
                            "'{key}': the list of values is empty"
                        )));
                    }
                    let values: Vec<Value> = values
                        .iter()
                        .map(|v| value_of(param, key, v))
                        .collect::<Result<_>>()?;
                    for (i, v) in values.iter().enumerate() {
                        if values[..i].contains(v) {
                            return Err(Error::Config(format!("'{key}': {v} is listed twice")));
                        }
                    }
                    Domain::Values(values)
                }
                toml::Value::Table(range) => range_of(param, key, range)?,
                single => Domain::Values(vec![value_of(param, key, single)?]),
            };
            dims.push(Dim { param, domain });
        }
        if dims.is_empty() {
            return Err(Error::Config("the search space has no keys".into()));
        }
        Ok(Self { dims })
    }

    /// Checks that the model `base` (built from the command line, before any trial) reads every
    /// key of the space: a trial varying a key the model ignores would train the same model
    /// again under another name.
    pub fn check_model(&self, base: &ModelConfig) -> Result<()> {
        let kind = base.kind();
        let varies_solver = self.dims.iter().any(|d| d.param.key == "solver");
        for d in &self.dims {
            let key = d.param.key;
            let sgd_batch = key == "batch_size"
                && !varies_solver
                && matches!(base, ModelConfig::BprMf(c) if c.solver == Solver::Sgd);
            if !d.param.models.contains(&kind) || sgd_batch {
                let why = if sgd_batch {
                    " (its SGD solver updates one triple at a time; --solver adam reads it)"
                        .to_owned()
                } else {
                    format!(" (read by {})", d.param.models.join(", "))
                };
                return Err(Error::Config(format!(
                    "model {kind} does not use '{key}'{why}"
                )));
            }
        }
        Ok(())
    }

    /// The number of configurations of a space of lists (None with a range, or on overflow).
    pub fn grid_size(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |n, d| match &d.domain {
            Domain::Values(v) => n.checked_mul(v.len()),
            _ => None,
        })
    }

    /// The first `limit` configurations of the Cartesian product of the lists, the first key
    /// varying slowest (the file's order reads as nested loops). Ranges are refused: a grid has
    /// no points to take from a continuum.
    pub fn grid(&self, limit: usize) -> Result<Vec<Config>> {
        if let Some(d) = self
            .dims
            .iter()
            .find(|d| !matches!(d.domain, Domain::Values(_)))
        {
            return Err(Error::Config(format!(
                "grid search needs a list of values for '{}', not a range (use --search random, \
                 or list the values)",
                d.param.key
            )));
        }
        let lists: Vec<&[Value]> = self
            .dims
            .iter()
            .map(|d| match &d.domain {
                Domain::Values(v) => v.as_slice(),
                _ => &[],
            })
            .collect();
        let total = self.grid_size().unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(limit.min(total).min(1 << 16));
        let mut index = vec![0usize; lists.len()];
        while out.len() < limit.min(total) {
            out.push(Config {
                entries: self
                    .dims
                    .iter()
                    .zip(&index)
                    .map(|(d, &i)| (d.param.key.to_owned(), lists_value(&d.domain, i)))
                    .collect(),
            });
            // Odometer: the last key turns fastest.
            for pos in (0..index.len()).rev() {
                index[pos] += 1;
                if index[pos] < lists[pos].len() {
                    break;
                }
                index[pos] = 0;
            }
        }
        Ok(out)
    }

    /// `n` distinct configurations drawn with the crate's seeded generator: the same seed gives
    /// the same trials on every platform. A space of lists with fewer than `n` configurations
    /// gives each once (in drawing order).
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Config> {
        let n = self.grid_size().map_or(n, |size| n.min(size));
        let mut rng = SeededRng::new(seed);
        let mut out: Vec<Config> = Vec::with_capacity(n.min(1 << 12));
        // Draws repeat in small spaces; give up long after a fair chance of finding new ones.
        let mut attempts = 0usize;
        while out.len() < n && attempts < n.saturating_mul(1000) {
            attempts += 1;
            let c = Config {
                entries: self
                    .dims
                    .iter()
                    .map(|d| (d.param.key.to_owned(), draw(d, &mut rng)))
                    .collect(),
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

fn lists_value(domain: &Domain, i: usize) -> Value {
    match domain {
        Domain::Values(v) => v[i].clone(),
        _ => Value::Int(0),
    }
}

/// A `{ uniform = [lo, hi] }` or `{ log_uniform = [lo, hi] }` table.
fn range_of(param: &Param, key: &str, range: &toml::Table) -> Result<Domain> {
    let bad = |what: String| Error::Config(format!("'{key}': {what}"));
    if !matches!(param.kind, Kind::Int | Kind::Float) {
        return Err(bad("a range needs a numeric option; list the values".into()));
    }
    let mut entries = range.iter();
    let (Some((how, bounds)), None) = (entries.next(), entries.next()) else {
        return Err(bad(
            "a range is { uniform = [lo, hi] } or { log_uniform = [lo, hi] }".into(),
        ));
    };
    let bounds: Vec<f64> = match bounds.as_array() {
        Some(b) if b.len() == 2 => b
            .iter()
            .map(|v| match (param.kind, v) {
                (Kind::Int, toml::Value::Integer(i)) if *i >= 0 => Ok(*i as f64),
                (Kind::Float, toml::Value::Integer(i)) => Ok(*i as f64),
                (Kind::Float, toml::Value::Float(x)) if x.is_finite() => Ok(*x),
                _ => Err(bad(format!(
                    "bad bound {v} (expected a {:?} bound)",
                    param.kind
                ))),
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(bad(format!(
                "{how} takes two bounds [lo, hi], found {bounds}"
            )))
        }
    };
    let (lo, hi) = (bounds[0], bounds[1]);
    if lo >= hi {
        return Err(bad(format!(
            "the range [{lo}, {hi}] is empty (need lo < hi)"
        )));
    }
    match how.replace('-', "_").as_str() {
        "uniform" => Ok(Domain::Uniform(lo, hi)),
        "log_uniform" if lo > 0.0 => Ok(Domain::LogUniform(lo, hi)),
        "log_uniform" => Err(bad(format!("log_uniform needs lo > 0, found {lo}"))),
        other => Err(bad(format!(
            "unknown range '{other}' (expected uniform or log_uniform)"
        ))),
    }
}

/// One draw from a dimension.
fn draw(d: &Dim, rng: &mut SeededRng) -> Value {
    let int = d.param.kind == Kind::Int;
    match &d.domain {
        Domain::Values(v) => v[rng.below(v.len())].clone(),
        Domain::Uniform(lo, hi) if int => {
            Value::Int(*lo as u64 + rng.below(((hi - lo) as usize).saturating_add(1)) as u64)
        }
        Domain::Uniform(lo, hi) => Value::Float((lo + (hi - lo) * rng.unit_f64()).min(*hi)),
        Domain::LogUniform(lo, hi) if int => {
            // Each integer gets the mass of [i, i + 1) on the log scale.
            let (a, b) = (lo.ln(), (hi + 1.0).ln());
            let x = (a + (b - a) * rng.unit_f64()).exp().floor();
            Value::Int(x.clamp(*lo, *hi) as u64)
        }
        Domain::LogUniform(lo, hi) => {
            let (a, b) = (lo.ln(), hi.ln());
            Value::Float((a + (b - a) * rng.unit_f64()).exp().clamp(*lo, *hi))
        }
    }
}

/// A configuration: option keys (as in [`PARAMS`], plus `model` and `seed` in files) with their
/// values, in order. A trial of a search, or a configuration file.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Config {
    pub entries: Vec<(String, Value)>,
}

impl Config {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` (replacing an earlier value, keeping its place).
    pub fn set(&mut self, key: &str, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key.to_owned(), value)),
        }
    }

    /// Reads a configuration file (what `train --config` takes): `model = "…"`, `seed = N` and
    /// any keys of [`PARAMS`], one value each. Anything else is an [`Error::Config`] naming the
    /// key — a typo must not silently train the defaults.
    pub fn parse(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| Error::Config(format!("configuration file: {e}")))?;
        let mut config = Config::default();
        for (key, item) in &table {
            let value = match (key.as_str(), item) {
                ("model", toml::Value::String(s)) => Value::Str(s.clone()),
                ("model", _) => {
                    return Err(Error::Config(format!(
                        "'model': expected a name, found {item}"
                    )))
                }
                ("seed", _) => {
                    let seed = match item {
                        toml::Value::Integer(i) => u64::try_from(*i).ok(),
                        // Above 2^63 - 1, which TOML integers cannot hold (`Value::to_toml`).
                        toml::Value::String(s) => s.parse().ok(),
                        _ => None,
                    };
                    Value::Int(seed.ok_or_else(|| {
                        Error::Config(format!("'seed': expected an integer ≥ 0, found {item}"))
                    })?)
                }
                _ => {
                    let param = param(key)?;
                    if matches!(item, toml::Value::Array(_) | toml::Value::Table(_)) {
                        return Err(Error::Config(format!(
                            "'{key}': a configuration holds one value per option (lists and \
                             ranges belong in a search space, `fusionrec tune --space`)"
                        )));
                    }
                    let v = value_of(param, key, item)?;
                    if config.get(param.key).is_some() {
                        return Err(Error::Config(format!("'{key}' is given twice")));
                    }
                    config.set(param.key, v);
                    continue;
                }
            };
            config.set(key, value);
        }
        Ok(config)
    }

    /// The configuration as TOML text that [`Config::parse`] reads back to the same values
    /// (floats are written exactly), after `header` as `#` comment lines.
    pub fn to_toml(&self, header: &str) -> String {
        let mut table = toml::Table::new();
        for (k, v) in &self.entries {
            table.insert(k.clone(), v.to_toml());
        }
        let mut out: String = header.lines().map(|l| format!("# {l}\n")).collect();
        out.push_str(&table.to_string());
        out
    }
}

/// Whether a metric is maximised (ranking metrics) or minimised (`rmse`, `mae`).
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(metric, "rmse" | "mae")
}

/// Checks a metric name as [`crate::eval::Metrics::get`] reads it: `ndcg@10`, `recall@20`,
/// … at a cut-off that is evaluated ([`crate::eval::KS`]), or `rmse`/`mae`.
pub fn check_metric(metric: &str) -> Result<()> {
    let ok = match metric.split_once('@') {
        None => matches!(metric, "rmse" | "mae"),
        Some((name, k)) => {
            ["ndcg", "recall", "precision", "hit", "mrr", "coverage"].contains(&name)
                && k.parse::<usize>()
                    .is_ok_and(|k| crate::eval::KS.contains(&k))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "unknown metric '{metric}' (ndcg, recall, precision, hit, mrr or coverage at {:?}, \
             or rmse/mae)",
            crate::eval::KS
        )))
    }
}

/// The index of the best score (the first among equals); NaN never wins. None when no score is
/// a number.
pub fn best(scores: &[f64], higher_is_better: bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) if higher_is_better => s > scores[b],
            Some(b) => s < scores[b],
        };
        if better {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str) -> Space {
        Space::parse(text).unwrap()
    }

    fn config_error(text: &str) -> String {
        match Space::parse(text) {
            Err(Error::Config(m)) => m,
            other => panic!("expected a configuration error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn grid_of_two_by_three_gives_six_distinct_configs_first_key_slowest() {
        let s = space("dim = [32, 64]\nlr = [0.001, 0.01, 0.1]\n");
        assert_eq!(s.grid_size(), Some(6));
        let grid = s.grid(100).unwrap();
        assert_eq!(grid.len(), 6);
        for (i, c) in grid.iter().enumerate() {
            assert!(!grid[..i].contains(c), "{c:?} repeats");
        }
        let pairs: Vec<(Value, Value)> = grid
            .iter()
            .map(|c| (c.get("dim").unwrap().clone(), c.get("lr").unwrap().clone()))
            .collect();
        assert_eq!(pairs[0], (Value::Int(32), Value::Float(0.001)));
        assert_eq!(pairs[2], (Value::Int(32), Value::Float(0.1)));
        assert_eq!(pairs[3], (Value::Int(64), Value::Float(0.001)));
        assert_eq!(pairs[5], (Value::Int(64), Value::Float(0.1)));
        // --trials caps the grid at its first configurations.
        assert_eq!(s.grid(4).unwrap(), grid[..4].to_vec());
    }

    #[test]
    fn grid_refuses_ranges_naming_the_key() {
        let s = space("dim = [32]\nlr = { log_uniform = [1e-3, 1e-1] }\n");
        assert_eq!(s.grid_size(), None);
        match s.grid(10) {
            Err(Error::Config(m)) => assert!(m.contains("'lr'"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn random_search_is_seeded_distinct_and_in_range() {
        let text = "dim = [32, 64, 128]\nlr = { log_uniform = [1e-3, 1e-1] }\n\
                    weight_decay = { uniform = [0.0, 0.01] }\nepochs = { uniform = [10, 12] }\n";
        let s = space(text);
        let a = s.sample(50, 7);
        let b = s.sample(50, 7);
        let c = s.sample(50, 8);
        assert_eq!(a.len(), 50);
        assert_eq!(a, b, "the same seed gives the same trials");
        assert_ne!(a, c, "another seed gives other trials");
        let mut epochs = HashSet::new();
        let mut dims = HashSet::new();
        let mut low_decade = 0;
        for t in &a {
            let keys: Vec<&str> = t.entries.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["dim", "lr", "weight_decay", "epochs"]);
            let Some(Value::Float(lr)) = t.get("lr") else {
                panic!("{t:?}")
            };
            assert!((1e-3..=1e-1).contains(lr), "lr {lr}");
            low_decade += usize::from(*lr < 1e-2);
            let Some(Value::Float(wd)) = t.get("weight_decay") else {
                panic!("{t:?}")
            };
            assert!((0.0..=0.01).contains(wd), "weight_decay {wd}");
            let Some(Value::Int(e)) = t.get("epochs") else {
                panic!("{t:?}")
            };
            epochs.insert(*e);
            let Some(Value::Int(d)) = t.get("dim") else {
                panic!("{t:?}")
            };
            dims.insert(*d);
        }
        // Log-uniform: about half the draws in the lower decade (a uniform draw puts ~9% there).
        assert!(
            (15..=35).contains(&low_decade),
            "{low_decade} of 50 below 1e-2"
        );
        assert_eq!(
            epochs,
            HashSet::from([10, 11, 12]),
            "integer ranges are inclusive"
        );
        assert_eq!(dims, HashSet::from([32, 64, 128]));
    }

    #[test]
    fn integer_log_uniform_stays_in_range() {
        let s = space("neighbors = { log_uniform = [10, 1000] }\n");
        for t in s.sample(200, 3) {
            let Some(Value::Int(k)) = t.get("neighbors") else {
                panic!("{t:?}")
            };
            assert!((10..=1000).contains(k), "{k}");
        }
    }

    #[test]
    fn random_search_over_a_small_grid_gives_each_config_once() {
        let s = space("dim = [32, 64]\nepochs = [5, 10]\n");
        let t = s.sample(10, 1);
        assert_eq!(t.len(), 4);
        let mut sorted = t.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        let mut grid = s.grid(10).unwrap();
        let mut sampled = t;
        let key = |c: &Config| format!("{c:?}");
        grid.sort_by_key(key);
        sampled.sort_by_key(key);
        assert_eq!(grid, sampled);
    }

    #[test]
    fn bad_spaces_are_configuration_errors_naming_the_key() {
        for (text, key) in [
            ("dimm = [32]", "'dimm'"),
            ("l2 = [100.0]", "did you mean 'lambda'"),
            ("dim = []", "'dim'"),
            ("dim = [32, 32]", "'dim'"),
            ("dim = [32.5]", "'dim'"),
            ("dim = [-1]", "'dim'"),
            ("lr = [\"fast\"]", "'lr'"),
            ("lr = { uniform = [0.1, 0.01] }", "'lr'"),
            ("lr = { uniform = [0.1] }", "'lr'"),
            ("lr = { log_uniform = [0.0, 0.1] }", "'lr'"),
            ("lr = { normal = [0.0, 0.1] }", "'lr'"),
            (
                "lr = { uniform = [0.0, 0.1], log_uniform = [0.01, 0.1] }",
                "'lr'",
            ),
            ("fusion = { uniform = [0, 1] }", "'fusion'"),
            ("lr = [nan]", "'lr'"),
            ("dim = [32]\ndim = [64]", "dim"),
            (
                "dim = [32]\nweight-decay = [0.1]\nweight_decay = [0.2]",
                "weight_decay",
            ),
            ("", "no keys"),
            ("dim = [", "search space"),
        ] {
            let m = config_error(text);
            assert!(m.contains(key), "{text:?}: {m}");
        }
    }

    #[test]
    fn keys_the_model_does_not_use_are_refused() {
        let bpr = ModelConfig::default_for("bpr-mf").unwrap();
        let ease = ModelConfig::default_for("ease").unwrap();
        assert!(space("dim = [32]\nlr = [0.01]").check_model(&bpr).is_ok());
        assert!(space("lambda = [100, 200]\nneighbors = [100]")
            .check_model(&ease)
            .is_ok());
        for (text, model, key) in [
            ("lambda = [100]", &bpr, "'lambda'"),
            ("dim = [32]", &ease, "'dim'"),
            ("batch_size = [256]", &bpr, "'batch_size'"),
            ("content_weight = [1.0]", &ease, "'content_weight'"),
        ] {
            match space(text).check_model(model) {
                Err(Error::Config(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // With the solver among the keys, the batch size matters to the Adam trials.
        assert!(space("solver = [\"sgd\", \"adam\"]\nbatch_size = [256]")
            .check_model(&bpr)
            .is_ok());
    }

    #[test]
    fn a_configuration_round_trips_through_toml_exactly() {
        let lr = 0.012_345_678_901_234_567_f64;
        let mut c = Config::default();
        c.set("model", Value::Str("bpr-mf".into()));
        c.set("seed", Value::Int(u64::MAX - 1));
        c.set("dim", Value::Int(64));
        c.set("lr", Value::Float(lr));
        c.set("weight_decay", Value::Float(1e-7));
        c.set("solver", Value::Str("sgd".into()));
        c.set("user_recent", Value::Bool(false));
        let text = c.to_toml("best of 12 trials\nvalid ndcg@10 0.2");
        assert!(
            text.starts_with("# best of 12 trials\n# valid ndcg@10 0.2\n"),
            "{text}"
        );
        let back = Config::parse(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.get("lr"), Some(&Value::Float(lr)));
    }

    #[test]
    fn configuration_files_refuse_lists_and_unknown_keys() {
        for (text, key) in [
            ("dim = [32, 64]", "'dim'"),
            ("out = \"models\"", "'out'"),
            ("model = 3", "'model'"),
            ("seed = -1", "'seed'"),
            ("lr = \"x\"", "'lr'"),
        ] {
            match Config::parse(text) {
                Err(Error::Config(m)) => assert!(m.contains(key), "{text}: {m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let c = Config::parse("weight-decay = 0.5\nlambda = 300").unwrap();
        assert_eq!(c.get("weight_decay"), Some(&Value::Float(0.5)));
        assert_eq!(c.get("lambda"), Some(&Value::Float(300.0)));
    }

    #[test]
    fn metrics_names_and_the_best_trial() {
        for ok in ["ndcg@10", "recall@20", "hit@5", "rmse"] {
            assert!(check_metric(ok).is_ok(), "{ok}");
        }
        for bad in ["ndcg@11", "ndcg", "auc@10", "test"] {
            assert!(check_metric(bad).is_err(), "{bad}");
        }
        assert_eq!(best(&[0.1, f64::NAN, 0.3, 0.3, 0.2], true), Some(2));
        assert_eq!(best(&[0.9, 0.7, f64::NAN], false), Some(1));
        assert_eq!(best(&[f64::NAN], true), None);
        assert_eq!(Value::Float(0.012_345_6).short(), "0.01235");
        assert_eq!(Value::Float(200.0).short(), "200.0");
        assert_eq!(Value::Float(1e-7).short(), "1.000e-7");
    }
}
