//! The fuzz targets' short run in CI, on stable Rust: every target (`fusionrec::fuzzing`) gets
//! its seeds, every file of its corpus and of its crash regressions (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`), and a few thousand random mutations of them (bit flips, byte
//! sets, insertions, deletions, truncations, splices, length-field nudges). A panic fails the test
//! (each input is run under `catch_unwind` so the failing input is named), and so does an input
//! slower than a second. The long coverage-guided runs are `cargo +nightly fuzz run <target>`
//! (see `fuzz/README.md`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use fusionrec::fuzzing::{seeds, TARGETS};
use fusionrec::rng::SeededRng;

/// Mutations per target: about a minute for all targets together in a release build on 2 cores.
const MUTATIONS: usize = 20_000;
const SLOW: Duration = Duration::from_secs(1);

fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

fn mutate(rng: &mut SeededRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = out.len();
        match rng.below(8) {
            0 if n > 0 => {
                let i = rng.below(n);
                out[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                out[i] = [0, 0xff, 0x7f, 0x80, b'9', b'"', b',', b'\n'][rng.below(8)];
            }
            2 => {
                let i = rng.below(n + 1);
                let len = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                out.splice(i..i, bytes);
            }
            3 if n > 0 => {
                let i = rng.below(n);
                let j = (i + 1 + rng.below(32)).min(n);
                out.drain(i..j);
            }
            4 if n > 0 => out.truncate(rng.below(n)),
            5 if !other.is_empty() => {
                let i = rng.below(n + 1);
                let j = rng.below(other.len());
                let k = (j + 1 + rng.below(64)).min(other.len());
                out.splice(i..i, other[j..k].iter().copied());
            }
            6 if n >= 4 => {
                // A length or count field made huge or negative.
                let i = rng.below(n - 3);
                let v = [u32::MAX, 0x7fff_ffff, 1 << 30, 0][rng.below(4)];
                out[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                // A digit run made long: huge numbers in text formats.
                let i = rng.below(n + 1);
                out.splice(i..i, b"99999999999999999999".iter().copied());
            }
        }
    }
    out
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut report = Vec::new();
    let only = std::env::var("FUZZ_TARGET").ok();
    // FUZZ_LAST=path: each input is written there before it runs, to find one that kills the
    // process (an allocation the OOM killer ends is not a panic to catch).
    let last = std::env::var_os("FUZZ_LAST");
    for (name, target) in TARGETS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        eprintln!("fuzz smoke: {name}");
        let mut inputs = seeds(name);
        inputs.extend(files_in(&root.join("corpus").join(name)));
        let regressions = files_in(&root.join("regressions").join(name));
        inputs.extend(regressions.iter().cloned());
        assert!(!inputs.is_empty(), "{name}: no seeds");
        let mut rng = SeededRng::new(0xF022 ^ name.len() as u64);
        let started = Instant::now();
        let mut runs = 0usize;
        let mut run = |input: &[u8]| {
            if let Some(path) = &last {
                std::fs::write(path, input).unwrap();
            }
            let t = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| target(input)));
            let took = t.elapsed();
            let shown = &input[..input.len().min(96)];
            assert!(
                outcome.is_ok(),
                "{name}: panicked on an input of {} bytes starting {shown:?}",
                input.len()
            );
            assert!(
                took < SLOW,
                "{name}: {took:?} on an input of {} bytes starting {shown:?}",
                input.len()
            );
            runs += 1;
        };
        for input in &inputs {
            run(input);
        }
        for k in 0..MUTATIONS {
            let base = &inputs[k % inputs.len()];
            let other = &inputs[rng.below(inputs.len())];
            let m = mutate(&mut rng, base, other);
            run(&m);
        }
        report.push(format!(
            "{name:<16} {runs:>6} inputs ({} regressions) in {:.1} s",
            regressions.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    println!("{}", report.join("\n"));
}

/// Writes each target's seeds to `fuzz/corpus/<target>/seed-<k>` (run once, then commit them).
#[test]
#[ignore]
fn write_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    for (name, _) in TARGETS {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (k, seed) in seeds(name).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{k}")), seed).unwrap();
        }
    }
}
