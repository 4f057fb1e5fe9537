//! `fusionrec experiment`: the multimodal experiments behind the README's tables (ablation over
//! modalities and fusion, missing modalities, cold start), run through the library's public
//! API (`fusionrec::train::experiment`) and printed as tables.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use fusionrec::data::{DataSource, Dataset, Protocol, RowPolicy, Split};
use fusionrec::device::DeviceKind;
use fusionrec::encode::Content;
use fusionrec::error::Result;
use fusionrec::eval::Metrics;
use fusionrec::model::{HybridConfig, ModelConfig};
use fusionrec::train::experiment::{
    ablation_configs, averaged, cold_start_blend, cold_start_config, cold_start_ease,
    cold_start_neighbours, cold_start_split, degraded_mean, ease_missing_modality,
    fused_content_knn, mean_metrics, run_graph, tfidf_knn, ColdNeighbours, Row,
};
use fusionrec::train::{train_bundle, EpochReport, TrainObserver, TrainRequest};

#[derive(Args)]
pub struct ExperimentArgs {
    #[arg(long, default_value = "data/ml-100k")]
    data: PathBuf,
    /// Folder with MiniLM's tokenizer.json and model.safetensors (`fetch minilm`).
    #[arg(long, default_value = "data/minilm")]
    minilm: PathBuf,
    /// Model seeds per configuration (2026, 2027, …); the split always uses seed 2026.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    #[arg(long)]
    epochs: Option<usize>,
    /// Run only the configurations whose name contains one of these (comma-separated).
    #[arg(long)]
    only: Option<String>,
    #[arg(long, default_value = "flex")]
    device: String,
    #[arg(long)]
    json: bool,
    /// Seed of the cold-start item split (the README's figures use 2026; others are for checking
    /// how much a cold-start comparison depends on which items went cold).
    #[arg(long, default_value_t = 2026)]
    cold_split_seed: u64,
}

/// What the experiments share: the data, its split and content, the seeds, the two-tower's base
/// configuration, the device, which experiments to run, and the progress display.
struct Plan<'a> {
    dataset: &'a Dataset,
    source: &'a DataSource,
    split: &'a Split,
    content: &'a Content,
    seeds: &'a [u64],
    base: &'a HybridConfig,
    device: DeviceKind,
    only: Option<&'a str>,
    cold_split_seed: u64,
    bar: &'a ProgressBar,
}

impl Plan<'_> {
    /// Whether `name` is among the experiments asked for (`--only`, comma-separated parts).
    fn wanted(&self, name: &str) -> bool {
        self.only
            .is_none_or(|o| o.split(',').any(|part| name.contains(part)))
    }
}

/// Metrics with a modality, and with it hidden for half the items.
type WithAndHidden = (Metrics, Metrics);

/// Everything the experiments measured, printed as tables or JSON.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    /// (with text, text hidden for half the items), for the gated two-tower and EASE + content.
    missing: Option<WithAndHidden>,
    ease_missing: Option<WithAndHidden>,
    cold_rows: Vec<(String, f64)>,
    neighbours: Option<(ColdNeighbours, Metrics)>,
}

/// Runs the experiments `args` names and prints their tables (or JSON).
pub fn run(args: ExperimentArgs) -> Result<()> {
    let device: DeviceKind = args.device.parse()?;
    let source = DataSource::detect(&args.data)?;
    let dataset = source.load(RowPolicy::Strict)?;
    let split = Split::new(&dataset.log, &Protocol::implicit_811(2026))?;
    eprintln!("encoding item content (MiniLM, TF-IDF, tabular, KG)…");
    let content = Content::build(&dataset, Some(&args.minilm))?;
    let seeds: Vec<u64> = (0..args.seeds).map(|s| 2026 + s).collect();
    let mut base = HybridConfig::default();
    base.train.epochs = args.epochs.unwrap_or(base.train.epochs);
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{prefix:>20} epoch {pos}/{len} {msg}")
            .expect("static template"),
    );
    let plan = Plan {
        dataset: &dataset,
        source: &source,
        split: &split,
        content: &content,
        seeds: &seeds,
        base: &base,
        device,
        only: args.only.as_deref(),
        cold_split_seed: args.cold_split_seed,
        bar: &bar,
    };
    let mut observer = |r: &EpochReport| {
        bar.set_length(r.epochs as u64);
        bar.set_position(r.epoch as u64);
        if let Some(v) = r.valid {
            bar.set_message(format!("loss {:.4} valid ndcg@10 {v:.4}", r.loss));
            if bar.is_hidden() {
                eprintln!(
                    "{} epoch {}: loss {:.4}  valid ndcg@10 {v:.4}",
                    bar.prefix(),
                    r.epoch,
                    r.loss
                );
            }
        }
    };
    let mut report = Report {
        rows: baselines(&plan, &mut observer)?,
        ..Report::default()
    };
    let (rows, missing) = ablation(&plan, &mut observer)?;
    report.rows.extend(rows);
    report.missing = missing;
    if plan.wanted("ease-mm") {
        report.ease_missing = Some(ease_missing_modality(&split, &content, "text", 0.5, 2026)?);
    }
    let cold = [
        "cold hybrid",
        "cold blend",
        "cold knn",
        "cold ease",
        "cold graph",
        "cold neighbours",
    ];
    if cold.iter().any(|n| plan.wanted(n)) {
        (report.cold_rows, report.neighbours) = cold_start(&plan, &mut observer)?;
    }
    bar.finish_and_clear();
    if args.json {
        print_json(&report);
    } else {
        print_tables(&report, &seeds, args.cold_split_seed);
    }
    Ok(())
}

/// Models trained through the bundle pipeline: the ID-only baselines and the graph models.
fn baselines(plan: &Plan<'_>, observer: &mut dyn TrainObserver) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (name, kind) in [
        ("BPR-MF", "bpr-mf"),
        ("LightGCN", "lightgcn"),
        ("graph (LightGCN + content kNN)", "graph"),
        ("VBPR (gated content)", "vbpr"),
        ("EASE", "ease"),
        ("EASE + content", "ease-mm"),
    ] {
        if !(plan.wanted(kind) || plan.wanted(name)) {
            continue;
        }
        plan.bar.set_prefix(kind);
        let mut runs = Vec::new();
        for &seed in plan.seeds {
            let mut config = ModelConfig::default_for(kind)?;
            config.set_seed(seed);
            let request = TrainRequest {
                dataset: plan.dataset,
                source: plan.source.clone(),
                fingerprint: String::new(),
                protocol: Protocol::implicit_811(2026),
                model: config,
                content: Some(plan.content),
                social: None,
                precision: Default::default(),
                catalog: Vec::new(),
            };
            runs.push(
                train_bundle(request, plan.device, observer)?
                    .manifest
                    .metrics,
            );
        }
        let (valid, test): (Vec<_>, Vec<_>) = runs.into_iter().map(|m| (m.valid, m.test)).unzip();
        rows.push(Row {
            name: name.into(),
            seeds: plan.seeds.len(),
            metrics: mean_metrics(&test),
            valid: mean_metrics(&valid),
            shares: vec![],
        });
    }
    Ok(rows)
}

/// The two-tower ablation over modalities and fusion (with text hidden for half the items for
/// the full gated model).
fn ablation(
    plan: &Plan<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<(Vec<Row>, Option<WithAndHidden>)> {
    let (split, content, device) = (plan.split, plan.content, plan.device);
    let mut rows = Vec::new();
    let mut missing = None;
    for (name, config) in ablation_configs(plan.base) {
        if !plan.wanted(&name) {
            continue;
        }
        plan.bar.set_prefix(name.clone());
        let uses_text = config.modalities.iter().any(|m| m == "text");
        let hide = uses_text.then_some(("text", 0.5));
        let (row, runs) = averaged(
            &name,
            &config,
            plan.seeds,
            split,
            content,
            &vec![false; split.n_items],
            hide,
            device,
            observer,
        )?;
        if name == "all, gated" {
            missing = degraded_mean(&runs).map(|m| (row.metrics.clone(), m));
        }
        rows.push(row);
    }
    Ok((rows, missing))
}

/// Cold start: 10% of items never seen in training, ranked among all items.
#[allow(clippy::type_complexity)]
fn cold_start(
    plan: &Plan<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<(Vec<(String, f64)>, Option<(ColdNeighbours, Metrics)>)> {
    let (dataset, split, content, base, device) = (
        plan.dataset,
        plan.split,
        plan.content,
        plan.base,
        plan.device,
    );
    let mut cold_rows = Vec::new();
    let mut neighbours = None;
    let (cold_split, cold) = cold_start_split(split, 0.1, plan.cold_split_seed);
    let history =
        fusionrec::model::UserHistory::from_interactions(cold_split.n_users, &cold_split.train);
    let tfidf = fusionrec::eval::evaluate(
        &tfidf_knn(dataset),
        &cold_split,
        &history,
        fusionrec::eval::Target::Test,
    );
    let n_cold = {
        let mut items: Vec<u32> = cold_split.test.iter().map(|x| x.item).collect();
        items.sort_unstable();
        items.dedup();
        items.len()
    };
    cold_rows.push((
        format!("random (20/N; {n_cold} cold test items)"),
        20.0 / split.n_items as f64,
    ));
    cold_rows.push(("TF-IDF item-kNN".to_owned(), tfidf.recall(20)));
    if plan.wanted("cold hybrid") {
        plan.bar.set_prefix("cold hybrid");
        let (row, _) = averaged(
            "cold",
            &cold_start_config(base),
            plan.seeds,
            &cold_split,
            content,
            &cold,
            None,
            device,
            observer,
        )?;
        cold_rows.push((
            "fused text+tabular tower".to_owned(),
            row.metrics.recall(20),
        ));
    }
    if plan.wanted("cold blend") {
        plan.bar.set_prefix("cold blend");
        let tfidf_model = tfidf_knn(dataset);
        let (mut runs, mut weights) = (Vec::new(), Vec::new());
        for &seed in plan.seeds {
            let mut config = cold_start_config(base);
            config.train.seed = seed;
            let (w, m) = cold_start_blend(
                &config,
                &cold_split,
                content,
                &cold,
                &tfidf_model,
                device,
                observer,
            )?;
            weights.push(format!("{w:.1}"));
            runs.push(m);
        }
        cold_rows.push((
            format!(
                "blend: tower + TF-IDF kNN (tower weight {} by validation)",
                weights.join("/")
            ),
            mean_metrics(&runs).recall(20),
        ));
    }
    if plan.wanted("cold knn") {
        let m = fusionrec::eval::evaluate(
            &fused_content_knn(&content.select(&["text".into(), "tabular".into()])?, 100),
            &cold_split,
            &history,
            fusionrec::eval::Target::Test,
        );
        cold_rows.push((
            "fused content kNN (MiniLM text + tabular)".to_owned(),
            m.recall(20),
        ));
    }
    if plan.wanted("cold ease") {
        let m = cold_start_ease(&cold_split, content)?;
        cold_rows.push(("EASE + content (text, tabular)".to_owned(), m.recall(20)));
    }
    if plan.wanted("cold neighbours") {
        let run = cold_start_neighbours(split, &cold_split, content, &cold, &tfidf_knn(dataset))?;
        let c = &run.grid[run.chosen];
        cold_rows.push((
            format!("{}, cold items placed by neighbours", c.model),
            run.test.recall(20),
        ));
        cold_rows.push((
            "blend: that + TF-IDF kNN".to_owned(),
            run.blend.1.recall(20),
        ));
        neighbours = Some((run, tfidf.clone()));
    }
    if plan.wanted("cold graph") {
        plan.bar.set_prefix("cold graph");
        let mut runs = Vec::new();
        for &seed in plan.seeds {
            let mut config = fusionrec::model::GraphConfig::multimodal_default();
            config.train.seed = seed;
            runs.push(run_graph(
                &config,
                &cold_split,
                content,
                &cold,
                device,
                observer,
            )?);
        }
        cold_rows.push((
            "graph (LightGCN + content kNN)".to_owned(),
            mean_metrics(&runs).recall(20),
        ));
    }
    Ok((cold_rows, neighbours))
}

fn print_json(report: &Report) {
    let out = serde_json::json!({
        "rows": report.rows,
        "missing_text_50pct": report.missing.as_ref().map(|(full, m)| serde_json::json!({ "full": full, "text_hidden": m })),
        "ease_missing_text_50pct": report.ease_missing.as_ref().map(|(full, m)| serde_json::json!({ "full": full, "text_hidden": m })),
        "cold_start_recall@20": report.cold_rows,
        "cold_neighbours": report.neighbours.as_ref().map(|(run, _)| serde_json::json!({
            "valid_grid": run.grid,
            "chosen": run.grid[run.chosen],
            "test": run.test,
            "blend_tfidf_weight": run.blend.0,
            "blend_test": run.blend.1,
            "tfidf_valid_recall@20": run.tfidf_valid_recall,
            "diagnostics": { "tfidf_knn": run.diagnostics[0], "placed": run.diagnostics[1], "blend": run.diagnostics[2], "control_cold_first": run.control.1 },
        })),
    });
    println!("{out}");
}

fn print_tables(report: &Report, seeds: &[u64], cold_split_seed: u64) {
    let Report {
        rows,
        missing,
        ease_missing,
        cold_rows,
        neighbours,
    } = report;
    println!("ML-100K, implicit (rating ≥ 4), per-user 8:1:1 split seed 2026, test metrics averaged over model seeds {seeds:?}:");
    println!(
        "{:<26}{:>10}{:>11}{:>16}   modality shares",
        "model", "NDCG@10", "Recall@20", "valid NDCG@10"
    );
    for r in rows {
        let shares: Vec<String> = r
            .shares
            .iter()
            .map(|(n, s)| format!("{n} {s:.2}"))
            .collect();
        println!(
            "{:<26}{:>10.4}{:>11.4}{:>16.4}   {}",
            r.name,
            r.metrics.ndcg(10),
            r.metrics.recall(20),
            r.valid.ndcg(10),
            shares.join(", ")
        );
    }
    if let Some((full, m)) = &missing {
        let (a, b) = (full.ndcg(10), m.ndcg(10));
        println!("\nmissing modality (all, gated): NDCG@10 {a:.4} with text, {b:.4} with text hidden for 50% of items ({:+.1}%)", 100.0 * (b - a) / a);
    }
    if let Some((full, m)) = &ease_missing {
        let (a, b) = (full.ndcg(10), m.ndcg(10));
        println!("missing modality (EASE + content): NDCG@10 {a:.4} with text, {b:.4} with text absent for 50% of items ({:+.1}%)", 100.0 * (b - a) / a);
    }
    if !cold_rows.is_empty() {
        println!("\ncold start (10% of items never seen in training, cold split seed {}), Recall@20 of their interactions ranked among all items:", cold_split_seed);
        for (name, v) in cold_rows {
            println!("  {name:<40}{v:.4}");
        }
    }
    if let Some((run, tfidf)) = neighbours {
        print_neighbours(run, tfidf);
    }
}

/// The cold-neighbours placement grid on validation and the chosen setting's test figures.
fn print_neighbours(run: &ColdNeighbours, tfidf: &Metrics) {
    println!(
        "\ncold neighbours: validation Recall@20 of the placement grid, model, space, k × T (chosen *; TF-IDF kNN: {:.4}):",
        run.tfidf_valid_recall
    );
    let chosen = &run.grid[run.chosen];
    let temperatures = fusionrec::train::experiment::PLACEMENT_TEMPERATURES;
    print!("  {:<32}", "");
    temperatures
        .iter()
        .for_each(|t| print!("{:>8}", format!("T {t}")));
    println!();
    for p in run.grid.iter().filter(|p| p.temperature == temperatures[0]) {
        print!("  {:<32}", format!("{}, {}, k {}", p.model, p.space, p.k));
        for q in run
            .grid
            .iter()
            .filter(|q| (&q.model, &q.space, q.k) == (&p.model, &p.space, p.k))
        {
            let mark = if std::ptr::eq(q, chosen) { "*" } else { " " };
            print!("{:>7.4}{mark}", q.valid_recall);
        }
        println!();
    }
    println!("  test (deterministic: EASE has no seed and the cold split is fixed, so every model seed gives these figures):");
    println!(
        "  {:<48}{:>9}{:>11}{:>12}{:>13}",
        "", "NDCG@10", "Recall@20", "cold share", "warm R@20"
    );
    let names = [
        "TF-IDF item-kNN".to_owned(),
        format!(
            "{}, {}, k {}, T {}",
            chosen.model, chosen.space, chosen.k, chosen.temperature
        ),
        format!("blend, TF-IDF kNN weight {:.1}", run.blend.0),
        "control: TF-IDF kNN, every cold item first".to_owned(),
    ];
    for ((name, m), d) in names
        .iter()
        .zip([tfidf, &run.test, &run.blend.1, &run.control.0])
        .zip(run.diagnostics.iter().chain([&run.control.1]))
    {
        println!(
            "  {name:<48}{:>9.4}{:>11.4}{:>12.3}{:>13.4}",
            m.ndcg(10),
            m.recall(20),
            d.cold_share,
            d.warm_recall
        );
    }
}
