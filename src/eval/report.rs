//! [`Metrics`]: what an evaluation measured, as a typed struct (no string keys to mistype or
//! index into and panic on). It serialises as the flat map the bundles and `--json` output have
//! always held — `{"ndcg@10": …, "recall@20": …, "users": 938, "rmse": …}` — and reads it back,
//! so older bundles load unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The ranking metrics at one cut-off `k`, each a mean over the evaluated users (coverage: the
/// share of the catalog in anyone's top `k`), and the beyond-accuracy ones where measured:
/// novelty (mean self-information of the listed items) and intra-list diversity (`ild`, in the
/// dataset's category space), see [`super::rerank`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AtK {
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub hit: f64,
    pub mrr: f64,
    pub coverage: f64,
    pub novelty: Option<f64>,
    pub ild: Option<f64>,
}

impl AtK {
    /// Every figure by its printed name; `None` for one not measured.
    fn values(&self) -> [(&'static str, Option<f64>); 8] {
        [
            ("precision", Some(self.precision)),
            ("recall", Some(self.recall)),
            ("ndcg", Some(self.ndcg)),
            ("hit", Some(self.hit)),
            ("mrr", Some(self.mrr)),
            ("coverage", Some(self.coverage)),
            ("novelty", self.novelty),
            ("ild", self.ild),
        ]
    }

    fn slot(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "precision" => &mut self.precision,
            "recall" => &mut self.recall,
            "ndcg" => &mut self.ndcg,
            "hit" => &mut self.hit,
            "mrr" => &mut self.mrr,
            "coverage" => &mut self.coverage,
            "novelty" => self.novelty.get_or_insert(0.0),
            "ild" => self.ild.get_or_insert(0.0),
            _ => return None,
        })
    }
}

/// One evaluation: ranking metrics per cut-off, the number of users they average over, the
/// rating errors of models that predict ratings, and the click metrics (ROC-AUC, log loss) of
/// models that predict click probabilities (see [`super::click`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(into = "BTreeMap<String, f64>", try_from = "BTreeMap<String, f64>")]
pub struct Metrics {
    /// Users with held-out items in the evaluated part.
    pub users: usize,
    /// Cut-off `k` → the metrics of each user's top `k`.
    pub at: BTreeMap<usize, AtK>,
    pub rmse: Option<f64>,
    pub mae: Option<f64>,
    pub auc: Option<f64>,
    pub log_loss: Option<f64>,
}

impl Metrics {
    /// The metrics at cut-off `k`; NaN when `k` was not evaluated (see [`super::KS`]), so a
    /// missing figure shows as NaN in tables and never wins an early-stopping comparison.
    pub fn at(&self, k: usize) -> AtK {
        self.at.get(&k).copied().unwrap_or(AtK {
            precision: f64::NAN,
            recall: f64::NAN,
            ndcg: f64::NAN,
            hit: f64::NAN,
            mrr: f64::NAN,
            coverage: f64::NAN,
            novelty: None,
            ild: None,
        })
    }

    pub fn ndcg(&self, k: usize) -> f64 {
        self.at(k).ndcg
    }

    pub fn recall(&self, k: usize) -> f64 {
        self.at(k).recall
    }

    /// A metric by its printed name (`ndcg@10`, `rmse`, `users`…), for tables and options.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "users" => Some(self.users as f64),
            "rmse" => self.rmse,
            "mae" => self.mae,
            "auc" => self.auc,
            "log_loss" => self.log_loss,
            _ => {
                let (metric, k) = name.split_once('@')?;
                let at = self.at.get(&k.parse().ok()?)?;
                let (_, v) = at.values().into_iter().find(|(n, _)| *n == metric)?;
                v
            }
        }
    }

    /// Whether every figure of `recorded` is here with the same value (figures measured now
    /// but not recorded then, such as novelty in an older bundle, are not compared).
    pub fn reproduces(&self, recorded: &Metrics) -> bool {
        let now = BTreeMap::from(self.clone());
        BTreeMap::from(recorded.clone())
            .iter()
            .all(|(name, v)| now.get(name) == Some(v))
    }

    /// The metric-wise mean of several evaluations (e.g. over seeds or folds): each figure is
    /// averaged over the runs that have it.
    pub fn mean(runs: &[Metrics]) -> Metrics {
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for run in runs {
            for (name, v) in BTreeMap::from(run.clone()) {
                let e = sums.entry(name).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        let mean: BTreeMap<String, f64> = sums
            .into_iter()
            .map(|(name, (sum, n))| (name, sum / n as f64))
            .collect();
        // Every name came from a Metrics, so it parses back.
        Metrics::try_from(mean).unwrap_or_default()
    }
}

/// Each figure's mean and sample standard deviation over runs (folds, seeds), by its printed
/// name; a figure some runs lack is over the runs that have it (std 0 for a single run).
pub fn mean_std(runs: &[Metrics]) -> BTreeMap<String, (f64, f64)> {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for (name, v) in BTreeMap::from(run.clone()) {
            values.entry(name).or_default().push(v);
        }
    }
    values
        .into_iter()
        .map(|(name, v)| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = match v.len() {
                0 | 1 => 0.0,
                _ => v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
            };
            (name, (mean, var.sqrt()))
        })
        .collect()
}

impl From<Metrics> for BTreeMap<String, f64> {
    fn from(m: Metrics) -> Self {
        let mut out = BTreeMap::new();
        for (k, at) in &m.at {
            for (name, v) in at.values() {
                if let Some(v) = v {
                    out.insert(format!("{name}@{k}"), v);
                }
            }
        }
        out.insert("users".into(), m.users as f64);
        if let Some(v) = m.rmse {
            out.insert("rmse".into(), v);
        }
        if let Some(v) = m.mae {
            out.insert("mae".into(), v);
        }
        if let Some(v) = m.auc {
            out.insert("auc".into(), v);
        }
        if let Some(v) = m.log_loss {
            out.insert("log_loss".into(), v);
        }
        out
    }
}

impl TryFrom<BTreeMap<String, f64>> for Metrics {
    type Error = String;

    fn try_from(map: BTreeMap<String, f64>) -> Result<Self, String> {
        let mut m = Metrics::default();
        for (name, v) in map {
            match name.as_str() {
                "users" => m.users = v as usize,
                "rmse" => m.rmse = Some(v),
                "mae" => m.mae = Some(v),
                "auc" => m.auc = Some(v),
                "log_loss" => m.log_loss = Some(v),
                _ => {
                    let slot = name.split_once('@').and_then(|(metric, k)| {
                        let k: usize = k.parse().ok()?;
                        m.at.entry(k).or_default().slot(metric)
                    });
                    *slot.ok_or_else(|| format!("unknown metric '{name}'"))? = v;
                }
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_flat_map_bundles_hold() {
        let json = r#"{"coverage@10":0.5,"hit@10":0.6,"mrr@10":0.3,"ndcg@10":0.25,
            "precision@10":0.1,"recall@10":0.2,"users":938.0,"rmse":0.9}"#;
        let m: Metrics = serde_json::from_str(json).unwrap();
        assert_eq!(m.users, 938);
        assert_eq!(m.ndcg(10), 0.25);
        assert_eq!(m.get("recall@10"), Some(0.2));
        assert_eq!(m.rmse, Some(0.9));
        assert_eq!(m.mae, None);
        assert!(m.ndcg(20).is_nan());
        assert_eq!(m.get("ndcg@20"), None);
        let back: BTreeMap<String, f64> =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        let orig: BTreeMap<String, f64> = serde_json::from_str(json).unwrap();
        assert_eq!(back, orig);
        let err = serde_json::from_str::<Metrics>(r#"{"ndgc@10":0.1}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown metric 'ndgc@10'"),
            "{err}"
        );
    }

    #[test]
    fn reproduction_compares_the_recorded_figures() {
        let old = Metrics::try_from(BTreeMap::from([("ndcg@10".to_string(), 0.25)])).unwrap();
        let mut now = old.clone();
        now.at.get_mut(&10).unwrap().novelty = Some(2.5);
        assert!(now.reproduces(&old));
        assert!(
            !old.reproduces(&now),
            "a recorded figure that is missing now"
        );
        now.at.get_mut(&10).unwrap().ndcg = 0.26;
        assert!(!now.reproduces(&old));
    }

    #[test]
    fn mean_std_by_hand() {
        let run = |v: f64| Metrics::try_from(BTreeMap::from([("ndcg@10".to_string(), v)])).unwrap();
        let s = mean_std(&[run(0.1), run(0.2), run(0.3)]);
        let (mean, std) = s["ndcg@10"];
        assert!(
            (mean - 0.2).abs() < 1e-12 && (std - 0.1).abs() < 1e-12,
            "{mean} {std}"
        );
        assert_eq!(s["users"], (0.0, 0.0));
        assert_eq!(mean_std(&[run(0.5)])["ndcg@10"], (0.5, 0.0));
    }

    #[test]
    fn mean_averages_each_figure_over_the_runs_that_have_it() {
        let a = Metrics::try_from(BTreeMap::from([
            ("ndcg@10".to_string(), 0.2),
            ("rmse".into(), 1.0),
        ]))
        .unwrap();
        let b = Metrics::try_from(BTreeMap::from([("ndcg@10".to_string(), 0.4)])).unwrap();
        let m = Metrics::mean(&[a, b]);
        assert!((m.ndcg(10) - 0.3).abs() < 1e-12);
        assert_eq!(m.rmse, Some(1.0));
    }
}
