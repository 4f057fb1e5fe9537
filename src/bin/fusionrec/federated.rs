//! `fusionrec federated`: the private federated-averaging experiment
//! ([`fusionrec::train::federated`]); parsing and printing only.

use std::path::PathBuf;

use clap::Args;

use fusionrec::data::RowPolicy;
use fusionrec::error::{Error, Result};
use fusionrec::train::federated::{federated, FederatedConfig};

#[derive(Args)]
pub struct FederatedArgs {
    /// A full (not serving) bundle whose model has item features (content or factors).
    #[arg(long)]
    bundle: PathBuf,
    /// The dataset folder, if it moved since training.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Clients that personalise and release an update.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Held-out users (disjoint from the clients) the aggregate is measured on.
    #[arg(long, default_value_t = 300)]
    heldout: usize,
    /// ε of each client's release, comma-separated (ε = ∞, noiseless, is always added).
    #[arg(long, value_delimiter = ',', default_value = "8,1")]
    epsilon: Vec<f64>,
    /// L2 norm each θ is clipped to (sensitivity 2·clip).
    #[arg(long, default_value_t = 1.0)]
    clip: f32,
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Strength the aggregate θ̄ is applied with (units of the score's standard deviation).
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Seed of the user split and the noise.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: FederatedArgs) -> Result<()> {
    let b = crate::cli::read_bundle(&args.bundle)?;
    if b.is_serving() {
        return Err(Error::Config(
            "a serving bundle has no training users: use the full bundle".into(),
        ));
    }
    let mut source = b.manifest.data.source.clone();
    if let Some(dir) = &args.data {
        source = fusionrec::data::DataSource::relocate(&source, dir)?;
    }
    if source.fingerprint()? != b.manifest.data.fingerprint {
        return Err(Error::Data(
            "the dataset's files differ from those the bundle was trained on".into(),
        ));
    }
    let dataset = source.load(RowPolicy::Skip)?;
    let config = FederatedConfig {
        clients: args.clients,
        heldout: args.heldout,
        epsilons: args.epsilon,
        delta: args.delta,
        clip: args.clip,
        seed: args.seed,
        personalize: fusionrec::rank::PersonalizeConfig {
            strength: args.strength,
            ..Default::default()
        },
    };
    let report = federated(&b, &dataset, &config)?;
    if args.json {
        let text =
            serde_json::to_string(&report).map_err(|e| Error::Data(format!("report JSON: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "{} clients, {} held-out users ({} with validation items), θ of {} values, clip {}, δ {}, \
         strength {}",
        report.clients,
        report.heldout,
        report.heldout_valid_users,
        report.dim,
        report.clip,
        report.delta,
        report.strength
    );
    println!(
        "{:<8} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "epsilon", "sigma", "|θ̄|", "|θ̄−θ̄∞|", "val N@10", "val R@20", "test N@10", "test R@20"
    );
    for r in &report.rows {
        println!(
            "{:<8} {:>9.4} {:>8.4} {:>10.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4}",
            r.setting,
            r.sigma,
            r.norm,
            r.distance_to_noiseless,
            r.valid_ndcg10,
            r.valid_recall20,
            r.test_ndcg10,
            r.test_recall20
        );
    }
    Ok(())
}
