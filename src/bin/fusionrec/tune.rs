//! `fusionrec tune` (hyper-parameter search) and `train --config`: the command-line half.
//! The space, the sampling and the configuration files are [`fusionrec::train::tune`]; this
//! file maps their keys onto [`TrainArgs`] — the one place that does, so that a trial and
//! `train --config best.toml` build their model through the same [`model_config`] and give the
//! same validation metric to the last bit.
//!
//! Tune never looks at test: each trial is trained by [`train_valid_only`], which ranks the
//! validation part only; the test part is first ranked when `train --config best.toml` runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use fusionrec::error::{Error, Result};
use fusionrec::eval::Metrics;
use fusionrec::model::{ModelConfig, Solver};
use fusionrec::train::tune::{self as search, Config, Space, Value, PARAMS};
use fusionrec::train::{train_valid_only, EpochReport};

use super::{load, model_config, request, ModelArg, TrainArgs};

/// More trials than anyone runs on one machine: a typo (`--trials 1000000000`) is refused
/// instead of filling memory with configurations.
const MAX_TRIALS: u64 = 100_000;
/// The largest grid run whole without `--trials`.
const MAX_GRID: usize = 10_000;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum SearchArg {
    /// Configurations drawn at random (lists: uniformly; ranges: uniform or log-uniform),
    /// without repeats, seeded.
    Random,
    /// The Cartesian product of the lists, first key slowest (ranges are refused).
    Grid,
}

/// `fusionrec tune --model M --space space.toml --trials N --out DIR`: trains the model once per
/// configuration, each with the training loop's own early stopping on validation NDCG@10 (every
/// `eval_every` epochs, stopping after `patience` evaluations without improvement and keeping
/// the best epoch's weights; MF stops on validation RMSE; EASE and item-kNN are closed-form),
/// scores each on the validation part with `--metric`, prints a table (or `--json`) and writes
/// `DIR/best.toml` for `train --config` and `DIR/tune.json`.
#[derive(Args)]
pub(super) struct TuneArgs {
    /// The search space: a TOML file mapping train options to a list of values
    /// (`dim = [32, 64]`) or a range (`lr = { log_uniform = [1e-3, 1e-1] }`,
    /// `weight_decay = { uniform = [0.0, 0.01] }`).
    #[arg(long)]
    space: PathBuf,
    /// Configurations to train: random search draws this many (default 10); grid search runs
    /// the first this many of the grid (default: all of it, up to 10,000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_TRIALS))]
    trials: Option<u64>,
    /// How configurations are chosen.
    #[arg(long, value_enum, default_value = "random")]
    search: SearchArg,
    /// The validation metric that chooses: ndcg@10, recall@20, hit@5, … or rmse/mae (lower
    /// wins). Early stopping inside each trial stays on validation NDCG@10 (RMSE for MF).
    #[arg(long, default_value = "ndcg@10")]
    metric: String,
    /// Seed of the random search's draws (default: --seed, which also seeds the split and the
    /// models): a different search on the same split.
    #[arg(long)]
    search_seed: Option<u64>,
    /// The data, model and protocol flags of `train`; each trial starts from them and sets the
    /// space's keys. --out is the folder for best.toml and tune.json (no bundle is written:
    /// `train --config DIR/best.toml` trains the chosen model).
    #[command(flatten, next_help_heading = "Options shared with train")]
    train: TrainArgs,
}

/// Whether `id` (a `TrainArgs` field) was typed on the command line, not left at its default.
fn explicit(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_some_and(|m| m.value_source(id) == Some(ValueSource::CommandLine))
}

/// `train --config FILE`: applies the file's keys to `args`, except those typed on the command
/// line, which win (with a note on stderr).
pub(super) fn apply_config_file(args: &mut TrainArgs, matches: Option<&ArgMatches>) -> Result<()> {
    let Some(path) = args.config.clone() else {
        return Ok(());
    };
    let config = read_config(&path)?;
    for (key, value) in &config.entries {
        if explicit(matches, key) {
            eprintln!(
                "--{} on the command line wins over {}'s {key}",
                key.replace('_', "-"),
                path.display()
            );
            continue;
        }
        set(args, key, value)?;
    }
    Ok(())
}

fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Config::parse(&text).map_err(|e| in_file(e, path))
}

/// Prefixes a configuration error with the file it came from.
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
        other => other,
    }
}

fn int(key: &str, v: &Value) -> Result<usize> {
    match v {
        Value::Int(i) => {
            usize::try_from(*i).map_err(|_| Error::Config(format!("'{key}': {i} is too large")))
        }
        other => Err(Error::Config(format!(
            "'{key}': expected an integer, found {other}"
        ))),
    }
}

fn float(key: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Float(x) => Ok(*x),
        Value::Int(i) => Ok(*i as f64),
        other => Err(Error::Config(format!(
            "'{key}': expected a number, found {other}"
        ))),
    }
}

fn string(key: &str, v: &Value) -> Result<String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(Error::Config(format!(
            "'{key}': expected a string, found {other}"
        ))),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(Error::Config(format!(
            "'{key}': expected true or false, found {other}"
        ))),
    }
}

/// Sets one option on `args`, as its flag would: the keys of [`PARAMS`], `model` and `seed`.
fn set(args: &mut TrainArgs, key: &str, v: &Value) -> Result<()> {
    match key {
        "model" => {
            let name = string(key, v)?;
            args.model = ModelArg::from_str(&name, false)
                .map_err(|_| Error::Config(format!("'model': unknown model '{name}'")))?;
        }
        "seed" => args.seed = int(key, v)? as u64,
        "dim" => args.dim = Some(int(key, v)?),
        "epochs" => args.epochs = Some(int(key, v)?),
        "lr" => args.lr = Some(float(key, v)?),
        "weight_decay" => args.weight_decay = Some(float(key, v)?),
        "batch_size" => args.batch_size = Some(int(key, v)?),
        "patience" => args.patience = Some(int(key, v)?),
        "eval_every" => args.eval_every = Some(int(key, v)?),
        "solver" => args.solver = Some(string(key, v)?),
        "loss" => args.loss = Some(string(key, v)?),
        "temperature" => args.temperature = Some(float(key, v)?),
        "layers" => args.layers = Some(int(key, v)?),
        "knn" => args.knn = Some(int(key, v)?),
        "fusion" => args.fusion = string(key, v)?,
        "user_recent" => args.user_recent = Some(boolean(key, v)?),
        "recent_half_life" => args.recent_half_life = Some(float(key, v)?),
        "similarity" => args.similarity = string(key, v)?,
        "neighbors" => args.neighbors = Some(int(key, v)?),
        "lambda" => args.lambda = Some(float(key, v)?),
        "candidates" => args.candidates = Some(int(key, v)?),
        "content_weight" => args.content_weight = Some(float(key, v)?),
        "max_len" => args.max_len = Some(int(key, v)?),
        "blocks" => args.blocks = Some(int(key, v)?),
        "dropout" => args.dropout = Some(float(key, v)?),
        "order_weight" => args.order_weight = Some(float(key, v)?),
        "order_window" => args.order_window = Some(float(key, v)?),
        "rank_weight" => args.rank_weight = Some(float(key, v)?),
        other => {
            return Err(Error::Config(format!(
                "option '{other}' cannot be set from a file"
            )))
        }
    }
    Ok(())
}

/// The value of one of [`PARAMS`] in `args`, if set (options with a default always are).
fn get(args: &TrainArgs, key: &str) -> Option<Value> {
    let int = |v: Option<usize>| v.map(|v| Value::Int(v as u64));
    let float = |v: Option<f64>| v.map(Value::Float);
    let string = |v: &Option<String>| v.clone().map(Value::Str);
    match key {
        "dim" => int(args.dim),
        "epochs" => int(args.epochs),
        "lr" => float(args.lr),
        "weight_decay" => float(args.weight_decay),
        "batch_size" => int(args.batch_size),
        "patience" => int(args.patience),
        "eval_every" => int(args.eval_every),
        "solver" => string(&args.solver),
        "loss" => string(&args.loss),
        "temperature" => float(args.temperature),
        "layers" => int(args.layers),
        "knn" => int(args.knn),
        "fusion" => Some(Value::Str(args.fusion.clone())),
        "user_recent" => args.user_recent.map(Value::Bool),
        "recent_half_life" => float(args.recent_half_life),
        "similarity" => Some(Value::Str(args.similarity.clone())),
        "neighbors" => int(args.neighbors),
        "lambda" => float(args.lambda),
        "candidates" => int(args.candidates),
        "content_weight" => float(args.content_weight),
        "max_len" => int(args.max_len),
        "blocks" => int(args.blocks),
        "dropout" => float(args.dropout),
        "order_weight" => float(args.order_weight),
        "order_window" => float(args.order_window),
        "rank_weight" => float(args.rank_weight),
        _ => None,
    }
}

/// The configuration file that retrains `config` (built from `args`): the model, the seed and
/// every option of the model that `args` sets — the search's keys and whatever the command line
/// or a `--config` file fixed — with BPR-MF's solver spelled out (its default depends on the
/// device). Data and split flags are not options: `train` is given them again.
fn replay(args: &TrainArgs, config: &ModelConfig) -> Config {
    let kind = config.kind();
    let mut out = Config::default();
    out.set("model", Value::Str(kind.to_owned()));
    out.set("seed", Value::Int(args.seed));
    for p in PARAMS.iter().filter(|p| p.models.contains(&kind)) {
        if let Some(v) = get(args, p.key) {
            out.set(p.key, v);
        }
    }
    if let ModelConfig::BprMf(c) = config {
        let solver = match c.solver {
            Solver::Sgd => "sgd",
            Solver::Adam => "adam",
        };
        out.set("solver", Value::Str(solver.to_owned()));
    }
    out
}

/// One trained configuration.
struct Trial {
    params: Config,
    args: TrainArgs,
    config: ModelConfig,
    outcome: Result<Metrics>,
    score: f64,
    seconds: f64,
}

pub(super) fn run(mut args: TuneArgs, matches: Option<&ArgMatches>) -> Result<()> {
    apply_config_file(&mut args.train, matches)?;
    if args.train.model == ModelArg::All {
        return Err(Error::Config(
            "tune searches one model at a time: choose --model".into(),
        ));
    }
    if args.train.folds.is_some() {
        return Err(Error::Config(
            "tune chooses on the validation part of one split: --folds is for train".into(),
        ));
    }
    let out = args
        .train
        .out
        .clone()
        .ok_or_else(|| Error::Config("--out: where best.toml and tune.json go".into()))?;
    search::check_metric(&args.metric)?;
    let text = std::fs::read_to_string(&args.space).map_err(|e| Error::io(&args.space, e))?;
    let space = Space::parse(&text).map_err(|e| in_file(e, &args.space))?;
    for d in &space.dims {
        if explicit(matches, d.param.key) {
            return Err(Error::Config(format!(
                "'{}' is both in the search space and on the command line (--{}): drop one",
                d.param.key,
                d.param.key.replace('_', "-")
            )));
        }
    }
    let base = model_config(args.train.model, &args.train)?;
    if matches!(args.metric.as_str(), "rmse" | "mae") && !base.predicts_ratings() {
        return Err(Error::Config(format!(
            "--metric {}: {} does not predict ratings (choose a ranking metric, or --model mf)",
            args.metric,
            base.kind()
        )));
    }
    space
        .check_model(&base)
        .map_err(|e| in_file(e, &args.space))?;

    let search_seed = args.search_seed.unwrap_or(args.train.seed);
    let configs = match args.search {
        SearchArg::Grid => {
            // Ranges first: their error says more than a grid size can.
            space.grid(0).map_err(|e| in_file(e, &args.space))?;
            let size = space.grid_size();
            let n = match (args.trials, size) {
                (Some(n), _) => n as usize,
                (None, Some(size)) if size <= MAX_GRID => size,
                (None, _) => {
                    return Err(Error::Config(format!(
                        "the grid has {} configurations: choose how many to run with --trials",
                        size.map_or("too many".to_owned(), |s| s.to_string())
                    )))
                }
            };
            let grid = space.grid(n).map_err(|e| in_file(e, &args.space))?;
            if let Some(size) = size.filter(|s| *s > grid.len()) {
                eprintln!(
                    "note: --trials {} runs the first {} of the grid's {size} configurations",
                    grid.len(),
                    grid.len()
                );
            }
            grid
        }
        SearchArg::Random => {
            let n = args.trials.map_or(10, |n| n as usize);
            let drawn = space.sample(n, search_seed);
            if drawn.len() < n {
                eprintln!(
                    "note: the space has {} distinct configurations; each runs once",
                    drawn.len()
                );
            }
            drawn
        }
    };
    if configs.is_empty() {
        return Err(Error::Config("no trials to run (--trials 0?)".into()));
    }
    // Every trial's model is built before any trains: a bad value (an unknown loss, say)
    // stops the search now, not after an hour.
    let mut trials = Vec::with_capacity(configs.len());
    for params in configs {
        let mut trial_args = args.train.clone();
        for (key, value) in &params.entries {
            set(&mut trial_args, key, value)?;
        }
        let config = model_config(trial_args.model, &trial_args)?;
        trials.push(Trial {
            params,
            args: trial_args,
            config,
            outcome: Ok(Metrics::default()),
            score: f64::NAN,
            seconds: 0.0,
        });
    }
    let all: Vec<ModelConfig> = trials.iter().map(|t| t.config.clone()).collect();
    let loaded = load(&args.train, &all)?;

    let higher = search::higher_is_better(&args.metric);
    let bar = ProgressBar::new(trials.len() as u64).with_style(
        ProgressStyle::with_template("tune [{bar:30}] trial {pos}/{len} {msg}")
            .expect("static template"),
    );
    let n = trials.len();
    for i in 0..n {
        let started = Instant::now();
        let best_so_far = search::best(
            &trials[..i].iter().map(|t| t.score).collect::<Vec<_>>(),
            higher,
        )
        .map(|b| format!(" (best {} {:.4})", args.metric, trials[b].score))
        .unwrap_or_default();
        let t = &mut trials[i];
        let mut observer = |r: &EpochReport| {
            if let Some(v) = r.valid {
                bar.set_message(format!(
                    "epoch {}/{}: valid {v:.4}{best_so_far}",
                    r.epoch, r.epochs
                ));
            }
        };
        let outcome = request(&t.args, &loaded, t.config.clone())
            .and_then(|req| train_valid_only(req, loaded.device, &mut observer))
            .map(|(valid, _)| valid);
        t.seconds = started.elapsed().as_secs_f64();
        t.score = match &outcome {
            Ok(valid) => valid.get(&args.metric).unwrap_or(f64::NAN),
            Err(_) => f64::NAN,
        };
        let line = match &outcome {
            Ok(_) => format!(
                "trial {}/{n} {}: valid {} {:.4} ({:.1} s)",
                i + 1,
                describe(&t.params),
                args.metric,
                t.score,
                t.seconds
            ),
            Err(e) => format!("trial {}/{n} {} failed: {e}", i + 1, describe(&t.params)),
        };
        // A trial that fails (diverges, say) is reported and the search goes on.
        t.outcome = outcome;
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let scores: Vec<f64> = trials.iter().map(|t| t.score).collect();
    let Some(b) = search::best(&scores, higher) else {
        return Err(Error::Data(format!(
            "no trial produced a validation {} (every trial failed or the validation part is \
             empty)",
            args.metric
        )));
    };
    let best = &trials[b];
    let best_config = replay(&best.args, &best.config);
    let out = &out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let best_path = out.join("best.toml");
    // args_os: `args` panics on an argument that is not UTF-8 (a path can be anything).
    let command: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let header = format!(
        "fusionrec tune: trial {} of {n} ({} search), valid {} = {}\n\
         tuned with: fusionrec {}\n\
         retrain with: fusionrec train --config {} --out DIR, plus the same data, split, --precision, --eval-users and --device flags",
        b + 1,
        match args.search {
            SearchArg::Random => "random",
            SearchArg::Grid => "grid",
        },
        args.metric,
        best.score,
        command.join(" "),
        best_path.display()
    );
    std::fs::write(&best_path, best_config.to_toml(&header))
        .map_err(|e| Error::io(&best_path, e))?;

    let json = serde_json::json!({
        "model": base.kind(),
        "metric": args.metric,
        "search": match args.search { SearchArg::Random => "random", SearchArg::Grid => "grid" },
        "seed": args.train.seed,
        "search_seed": search_seed,
        "trials": trials.iter().enumerate().map(|(i, t)| {
            let mut row = serde_json::json!({
                "trial": i + 1,
                "params": params_json(&t.params),
                "score": finite(t.score),
                "seconds": t.seconds,
            });
            match &t.outcome {
                Ok(valid) => row["valid"] = serde_json::json!(valid),
                Err(e) => row["error"] = serde_json::json!(e.to_string()),
            }
            row
        }).collect::<Vec<_>>(),
        "best": {
            "trial": b + 1,
            "score": best.score,
            "params": params_json(&best.params),
            "config": best_path.display().to_string(),
        },
    });
    let json_path = out.join("tune.json");
    std::fs::write(&json_path, format!("{json:#}\n")).map_err(|e| Error::io(&json_path, e))?;
    if args.train.json {
        println!("{json}");
    } else {
        print_trials(&trials, &space, &args.metric, b);
        println!(
            "best: trial {} (valid {} {:.4}); {} written",
            b + 1,
            args.metric,
            best.score,
            best_path.display()
        );
    }
    Ok(())
}

/// JSON has no NaN: a failed trial's score is null.
fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}

fn params_json(c: &Config) -> serde_json::Value {
    serde_json::Value::Object(
        c.entries
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect(),
    )
}

fn describe(c: &Config) -> String {
    c.entries
        .iter()
        .map(|(k, v)| format!("{k}={}", v.short()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The results table: one row per trial (in order), one column per key of the space, the
/// validation metric and the seconds; the best row is starred.
fn print_trials(trials: &[Trial], space: &Space, metric: &str, best: usize) {
    let keys: Vec<&str> = space.dims.iter().map(|d| d.param.key).collect();
    let widths: Vec<usize> = keys
        .iter()
        .map(|k| {
            trials
                .iter()
                .filter_map(|t| t.params.get(k).map(|v| v.short().len()))
                .chain([k.len()])
                .max()
                .unwrap_or(8)
        })
        .collect();
    let metric_col = format!("valid {metric}");
    print!("{:>6}", "trial");
    for (k, w) in keys.iter().zip(&widths) {
        print!("  {k:>w$}");
    }
    println!("  {metric_col:>14}  {:>8}", "seconds");
    for (i, t) in trials.iter().enumerate() {
        let mark = if i == best { "*" } else { " " };
        print!("{:>5}{mark}", i + 1);
        for (k, w) in keys.iter().zip(&widths) {
            let v = t.params.get(k).map(Value::short).unwrap_or_default();
            print!("  {v:>w$}");
        }
        let score = match &t.outcome {
            Ok(_) => format!("{:.4}", t.score),
            Err(_) => "failed".to_owned(),
        };
        println!("  {score:>14}  {:>8.1}", t.seconds);
    }
}
