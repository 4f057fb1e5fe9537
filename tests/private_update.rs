//! Private adaptor updates (`rank::private`) on real data: ML-100K's ease-mm bundle with its
//! catalog content (MiniLM text, tabular). Clients personalise on their training histories and
//! release θ; the noiseless aggregate is the plain mean of the clipped θs, the noise of the
//! ε = 1 aggregate shrinks as σ·sqrt(dim/N), and `fusionrec federated` reports finite metrics.

mod common;

use fusionrec::data::RowPolicy;
use fusionrec::rank::private::{aggregate, analytic_gaussian_sigma, clip_l2};
use fusionrec::rank::{HistoryEvent, PersonalizeConfig, PrivateUpdate, Session};

type Ad = burn::backend::Autodiff<burn::backend::Flex>;

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn private_updates_of_ml100k_clients_aggregate_as_the_mechanism_says() {
    let t0 = std::time::Instant::now();
    let dataset = common::ml100k_source().load(RowPolicy::Strict).unwrap();
    let (bundle, dir) = common::ml100k_ease_mm_bundle(&dataset);
    eprintln!("bundle trained in {:.1}s", t0.elapsed().as_secs_f64());

    // No adaptor yet: nothing to export, a coded error.
    let fresh = Session::new(bundle.clone());
    assert_eq!(
        fresh
            .private_update(1.0, 1e-5, 1.0, Some(1))
            .unwrap_err()
            .code(),
        "BAD_CONFIG"
    );

    // 40 clients: users 0, 5, 10, … personalise on their training items (all liked).
    let n = 40;
    let (mut thetas, mut clean, mut noisy): (Vec<Vec<f32>>, Vec<PrivateUpdate>, Vec<_>) =
        Default::default();
    for c in 0..n {
        let u = (5 * c) as u32;
        let events: Vec<HistoryEvent> = bundle
            .history
            .user(u)
            .0
            .iter()
            .map(|&i| HistoryEvent {
                item: bundle.manifest.items.id(i).into(),
                rating: None,
                time: None,
            })
            .collect();
        let mut session = Session::new(bundle.clone());
        session
            .personalize::<Ad>(&events, &PersonalizeConfig::default(), &Default::default())
            .unwrap();
        thetas.push(session.theta());
        clean.push(session.clipped_update(1.0).unwrap());
        noisy.push(
            session
                .private_update(1.0, 1e-5, 1.0, Some(100 + c as u64))
                .unwrap(),
        );
        // Bad parameters are configuration errors.
        for (e, d) in [(0.0, 1e-5), (f64::INFINITY, 1e-5), (1.0, 0.0), (1.0, 1.5)] {
            assert_eq!(
                session
                    .private_update(e, d, 1.0, Some(1))
                    .unwrap_err()
                    .code(),
                "BAD_CONFIG"
            );
        }
    }
    let dim = thetas[0].len();
    let norms: Vec<f64> = thetas.iter().map(|t| norm(t)).collect();
    eprintln!(
        "θ of {dim} values; norms before clipping {:.3}…{:.3}",
        norms.iter().cloned().fold(f64::INFINITY, f64::min),
        norms.iter().cloned().fold(0.0, f64::max)
    );
    assert!(dim > 100, "{dim}");

    // ε = ∞: the aggregate is the plain mean of the clipped θs (each of norm ≤ 1).
    let mean_clean = aggregate(&clean).unwrap();
    let clipped: Vec<Vec<f32>> = thetas.iter().map(|t| clip_l2(t, 1.0).unwrap()).collect();
    assert!(clipped.iter().all(|c| norm(c) <= 1.0 + 1e-5));
    for (j, m) in mean_clean.iter().enumerate() {
        let plain = clipped.iter().map(|c| f64::from(c[j])).sum::<f64>() / n as f64;
        assert!((f64::from(*m) - plain).abs() < 1e-6, "{j}: {m} vs {plain}");
    }

    // ε = 1: σ = 2 × 3.7306… (Δ = 2·clip); the aggregate's distance to the noiseless one is
    // that of the mean of N Gaussian vectors, ≈ σ·sqrt(dim/N).
    let sigma = analytic_gaussian_sigma(1.0, 1e-5, 2.0).unwrap();
    assert!((sigma - 2.0 * 3.730631634815939).abs() < 1e-6, "{sigma}");
    assert!(noisy
        .iter()
        .all(|u| (f64::from(u.sigma) - sigma).abs() < 1e-5));
    let mean_noisy = aggregate(&noisy).unwrap();
    let distance = norm(
        &mean_noisy
            .iter()
            .zip(&mean_clean)
            .map(|(a, b)| a - b)
            .collect::<Vec<f32>>(),
    );
    let expected = sigma * (dim as f64 / n as f64).sqrt();
    eprintln!("ε = 1: σ {sigma:.4}, ‖θ̄ − θ̄∞‖ {distance:.4}, σ·sqrt(dim/N) {expected:.4}");
    assert!(
        (distance / expected - 1.0).abs() < 0.15,
        "{distance} vs {expected}"
    );
    // Half the clients: the distance grows by about sqrt(2).
    let half = aggregate(&noisy[..n / 2]).unwrap();
    let half_clean = aggregate(&clean[..n / 2]).unwrap();
    let d_half = norm(
        &half
            .iter()
            .zip(&half_clean)
            .map(|(a, b)| a - b)
            .collect::<Vec<f32>>(),
    );
    let ratio = d_half / distance;
    assert!((ratio / 2f64.sqrt() - 1.0).abs() < 0.2, "{ratio}");

    // A client of another bundle, or of another width, is refused.
    let mut other = noisy[0].clone();
    other.bundle = "another".into();
    assert!(aggregate(&[noisy[1].clone(), other]).is_err());

    // The CLI: a small federated run prints finite metrics for every setting.
    let out = common::fusionrec(&[
        "federated",
        "--bundle",
        dir.path().to_str().unwrap(),
        "--clients",
        "20",
        "--heldout",
        "40",
        "--epsilon",
        "8,1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let settings: Vec<&str> = rows
        .iter()
        .map(|r| r["setting"].as_str().unwrap())
        .collect();
    assert_eq!(settings, ["none", "inf", "8", "1"]);
    for r in rows {
        for key in [
            "valid_ndcg10",
            "valid_recall20",
            "test_ndcg10",
            "test_recall20",
        ] {
            let v = r[key].as_f64().unwrap();
            assert!(v.is_finite() && (0.0..=1.0).contains(&v), "{key} {r}");
        }
    }
    assert!(rows[0]["test_ndcg10"].as_f64().unwrap() > 0.1, "{report}");
    assert_eq!(report["dim"].as_u64().unwrap() as usize, dim);
    // Held out: nearly every user (938 of the 939 with test items): with no adaptor, the
    // session's scores give the bundle's own recorded metrics, to one user's weight.
    let out = common::fusionrec(&[
        "federated",
        "--bundle",
        dir.path().to_str().unwrap(),
        "--clients",
        "1",
        "--heldout",
        "938",
        "--epsilon",
        "8",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &bundle.manifest.metrics;
    for (key, recorded) in [
        ("valid_ndcg10", m.valid.ndcg(10)),
        ("test_ndcg10", m.test.ndcg(10)),
        ("test_recall20", m.test.recall(20)),
    ] {
        let none = all["rows"][0][key].as_f64().unwrap();
        eprintln!("{key}: {none:.4} (recorded {recorded:.4})");
        assert!(
            (none - recorded).abs() < 0.003,
            "{key}: {none} vs {recorded}"
        );
    }
    // A bad ε is a coded error.
    let out = common::fusionrec(&[
        "federated",
        "--bundle",
        dir.path().to_str().unwrap(),
        "--epsilon",
        "0",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BAD_CONFIG"), "{stderr}");
    eprintln!("total {:.1}s", t0.elapsed().as_secs_f64());
}
