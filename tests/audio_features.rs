//! Audio features against independent references.
//!
//! - Golden: log-mel and MFCCs of a deterministic 16 kHz waveform against librosa
//!   (tests/golden/audio_reference.py writes tests/golden/audio.json). Tolerances: max absolute
//!   difference 2e-5 on ln(mel + 1e-6) and 1e-4 on the MFCCs (the JSON is rounded to 1e-5;
//!   measured: 5.2e-6 and 1.5e-5).
//! - Real clips (`fetch sample-sounds`): sample rate, length and RMS level of the decoded Ogg
//!   Vorbis files against libsndfile (through Python's soundfile), RMS after resampling to 16 kHz
//!   against soxr's "vhq" resampler (through librosa), and sanity of their log-mel.

mod common;

use fusionrec::encode::audio::{self, mfcc, MelConfig, MelSpectrogram};

#[derive(serde::Deserialize)]
struct Golden {
    signal: Signal,
    frames: usize,
    n_mels: usize,
    n_mfcc: usize,
    log_mel: Vec<f32>,
    mfcc: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Signal {
    samples: usize,
    sum: f64,
    head: Vec<f32>,
}

/// The waveform of tests/golden/audio_reference.py (`test_signal`), built the same way.
fn test_signal(n: usize) -> Vec<f32> {
    let (sr, dur) = (16_000.0, n as f64 / 16_000.0);
    let mut state: u64 = 12345;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let chirp =
                (2.0 * std::f64::consts::PI * (100.0 * t + (7000.0 - 100.0) / (2.0 * dur) * t * t))
                    .sin();
            let tone = (2.0 * std::f64::consts::PI * 440.0 * t).sin();
            state = (state * 1_103_515_245 + 12345) % (1 << 31);
            let noise = state as f64 / f64::from(1u32 << 31) * 2.0 - 1.0;
            let x = (0.4 * chirp + 0.2 * tone + 0.05 * noise) as f32;
            if (6000..7000).contains(&i) {
                0.0
            } else {
                x
            }
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn log_mel_and_mfcc_match_librosa() {
    let golden: Golden =
        serde_json::from_str(include_str!("golden/audio.json")).expect("golden file parses");
    let x = test_signal(golden.signal.samples);
    // Same waveform as the reference.
    assert_eq!(&x[..8], &golden.signal.head[..]);
    let sum: f64 = x.iter().map(|v| f64::from(*v)).sum();
    assert!(
        (sum - golden.signal.sum).abs() < 1e-6,
        "{sum} vs {}",
        golden.signal.sum
    );

    let spec = MelSpectrogram::new(MelConfig::default()).unwrap();
    let log_mel = spec.log_mel(&x).unwrap();
    assert_eq!(
        (log_mel.rows, log_mel.frames),
        (golden.n_mels, golden.frames)
    );
    let d = max_abs_diff(&log_mel.values, &golden.log_mel);
    eprintln!("log-mel: max |rust − librosa| = {d:e}");
    assert!(d < 2e-5, "log-mel differs by {d}");

    let c = mfcc(&log_mel, golden.n_mfcc).unwrap();
    let d = max_abs_diff(&c.values, &golden.mfcc);
    eprintln!("mfcc: max |rust − librosa| = {d:e}");
    assert!(d < 1e-4, "MFCCs differ by {d}");
}

/// (file, sample rate, frames, RMS of the mono mix, RMS after resampling to 16 kHz), from
/// libsndfile and soxr (see the module comment).
const CLIPS: &[(&str, u32, usize, f64, f64)] = &[
    ("audio-channel-front-left", 48000, 71042, 0.08585, 0.08584),
    ("audio-channel-rear-center", 48000, 65026, 0.10905, 0.10890),
    ("bell", 44100, 6151, 0.07570, 0.07567),
    ("camera-shutter", 96000, 83734, 0.02198, 0.01445),
    ("phone-incoming-call", 44100, 64546, 0.29950, 0.29949),
    ("phone-outgoing-busy", 8000, 23078, 0.12524, 0.12524),
    ("service-login", 22050, 48066, 0.06970, 0.06970),
    ("suspend-error", 44100, 52569, 0.46185, 0.46185),
    // Most of this alarm's energy is above 8 kHz: the resampler must remove it.
    ("alarm-clock-elapsed", 48000, 294128, 0.14039, 0.00761),
];

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn real_clips_decode_resample_and_give_sensible_log_mels() {
    let spec = MelSpectrogram::new(MelConfig::default()).unwrap();
    for &(name, rate, frames, level, level_16k) in CLIPS {
        let bytes = common::fetched("sample-sounds", &format!("{name}.oga"));
        let w = audio::decode(&bytes).unwrap();
        assert_eq!(w.sample_rate, rate, "{name}");
        assert_eq!(w.samples.len(), frames, "{name}: length");
        let r = rms(&w.samples);
        assert!((r / level - 1.0).abs() < 0.01, "{name}: rms {r} vs {level}");

        let clip = audio::load(&bytes).unwrap();
        assert_eq!(clip.sample_rate, 16_000);
        assert!(
            (clip.duration_secs() - w.duration_secs()).abs() < 1.0 / 16_000.0,
            "{name}: duration"
        );
        let r16 = rms(&clip.samples);
        eprintln!("{name}: rms {r:.5} (libsndfile {level}), at 16 kHz {r16:.5} (soxr {level_16k})");
        assert!(
            (r16 / level_16k - 1.0).abs() < 0.03,
            "{name}: rms at 16 kHz {r16} vs {level_16k}"
        );

        let mel = spec.log_mel(&clip.samples).unwrap();
        assert_eq!(mel.frames, 1 + clip.samples.len() / 256);
        let floor = 1e-6f32.ln();
        assert!(
            mel.values
                .iter()
                .all(|v| v.is_finite() && *v >= floor - 1e-4),
            "{name}: log-mel not finite"
        );
        // Far above the floor somewhere: the loudest cell is ≥ 1000× the 1e-6 floor.
        let loudest = mel.values.iter().copied().fold(f32::MIN, f32::max);
        assert!(
            loudest > floor + 1000f32.ln(),
            "{name}: loudest log-mel {loudest}"
        );
        // Energy: by Parseval each frame's one-sided power sums to n·Σ(w·x)², and Hann² frames
        // at hop n/2 weigh every sample by Σw²/hop = 3/4 on average; so the spectrogram's total
        // energy is about 512 · 0.75 · Σx². Per sample the weight swings between 1/2 and 1 with
        // its position in the hop, so clicks (camera-shutter: 0.88) stray from 3/4: 20% slack,
        // still far tighter than any scaling mistake (a lost one-sided ×2, the window squared).
        let power = spec.power(&clip.samples).unwrap();
        let spectral: f64 = power
            .iter()
            .map(|p| p[0] + p[256] + 2.0 * p[1..256].iter().sum::<f64>())
            .sum();
        let temporal = 512.0
            * 0.75
            * clip
                .samples
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>();
        eprintln!(
            "{name}: spectral / temporal energy {:.4}",
            spectral / temporal
        );
        assert!(
            (spectral / temporal - 1.0).abs() < 0.2,
            "{name}: spectrogram energy {spectral} vs {temporal}"
        );
    }
}

#[test]
fn speech_lives_in_the_speech_band() {
    // The spoken clips' loudest mel band (averaged over time) lies between 100 Hz and 4 kHz.
    let spec = MelSpectrogram::new(MelConfig::default()).unwrap();
    for side in ["front-left", "rear-center"] {
        let bytes = common::fetched("sample-sounds", &format!("audio-channel-{side}.oga"));
        let mel = spec.log_mel(&audio::load(&bytes).unwrap().samples).unwrap();
        let band_energy: Vec<f32> = (0..mel.rows)
            .map(|m| (0..mel.frames).map(|t| mel.get(m, t).exp()).sum())
            .collect();
        let best = (0..mel.rows)
            .max_by(|&a, &b| band_energy[a].total_cmp(&band_energy[b]))
            .unwrap();
        let step = audio::mel::hz_to_mel(8000.0) / 97.0;
        let centre = audio::mel::mel_to_hz((best + 1) as f64 * step);
        assert!(
            (100.0..4000.0).contains(&centre),
            "{side}: loudest band at {centre} Hz"
        );
    }
}
