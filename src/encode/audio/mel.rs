//! Log-mel spectrograms and MFCCs, computed the way librosa does (so features and pretrained
//! audio networks from the Python world line up):
//!
//! - frames are centred: the signal is reflect-padded by `n_fft / 2` on both sides and frame `t`
//!   covers padded samples `t·hop .. t·hop + n_fft`, giving `1 + len / hop` frames;
//! - periodic Hann window, power spectrum `|FFT|²` (no normalisation by the window);
//! - Slaney mel scale (linear below 1 kHz, logarithmic above) with Slaney area normalisation
//!   (each triangle scaled by `2 / (f_right − f_left)`), librosa's `htk=False, norm="slaney"`;
//! - log-mel is the natural log `ln(mel + 1e-6)`: smooth, finite on digital silence, and
//!   without the clip-dependent `top_db` clamp of `power_to_db`;
//! - MFCCs are the orthonormal DCT-II of the log-mel over bands (librosa's
//!   `mfcc(S=log_mel, dct_type=2, norm="ortho")`).
//!
//! The FFT is an in-place iterative radix-2 transform (sizes are powers of two); all maths is in
//! `f64`, results are stored as `f32`.

use std::f64::consts::PI;

use crate::error::{Error, Result};

/// Feature settings. The defaults are those of the musicnn family of audio taggers: 16 kHz,
/// `n_fft` 512 (32 ms), hop 256 (16 ms), 96 mel bands from 0 Hz to Nyquist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub f_min: f64,
    pub f_max: f64,
}

impl Default for MelConfig {
    fn default() -> Self {
        Self {
            sample_rate: super::SAMPLE_RATE,
            n_fft: 512,
            hop: 256,
            n_mels: 96,
            f_min: 0.0,
            f_max: f64::from(super::SAMPLE_RATE) / 2.0,
        }
    }
}

/// Added to mel energies before the log.
pub const LOG_FLOOR: f64 = 1e-6;

/// A feature matrix stored row-major as `[rows, frames]` (row = mel band or MFCC), the layout of
/// one `[1, rows, frames]` image for a convolutional network.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMatrix {
    pub rows: usize,
    pub frames: usize,
    pub values: Vec<f32>,
}

impl FrameMatrix {
    pub fn get(&self, row: usize, frame: usize) -> f32 {
        self.values[row * self.frames + frame]
    }

    /// One frame (all rows) as a vector.
    pub fn frame(&self, frame: usize) -> Vec<f32> {
        (0..self.rows).map(|r| self.get(r, frame)).collect()
    }
}

/// Precomputed window, FFT tables and mel filterbank for one [`MelConfig`].
#[derive(Debug, Clone)]
pub struct MelSpectrogram {
    config: MelConfig,
    window: Vec<f64>,
    fft: Fft,
    /// `[n_mels][n_fft / 2 + 1]`.
    filters: Vec<Vec<f64>>,
}

impl MelSpectrogram {
    pub fn new(config: MelConfig) -> Result<Self> {
        let c = config;
        let nyquist = f64::from(c.sample_rate) / 2.0;
        if !c.n_fft.is_power_of_two() || c.n_fft < 4 {
            return Err(Error::Config(format!(
                "n_fft must be a power of two ≥ 4, got {}",
                c.n_fft
            )));
        }
        if c.hop == 0 || c.n_mels == 0 || c.sample_rate == 0 {
            return Err(Error::Config(
                "hop, n_mels and sample_rate must be positive".into(),
            ));
        }
        if !(0.0 <= c.f_min && c.f_min < c.f_max && c.f_max <= nyquist) {
            return Err(Error::Config(format!(
                "need 0 ≤ f_min < f_max ≤ {nyquist} Hz, got {} and {}",
                c.f_min, c.f_max
            )));
        }
        Ok(Self {
            config,
            window: hann(c.n_fft),
            fft: Fft::new(c.n_fft),
            filters: slaney_filterbank(&c),
        })
    }

    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The mel filterbank, `[n_mels][n_fft / 2 + 1]`.
    pub fn filters(&self) -> &[Vec<f64>] {
        &self.filters
    }

    /// Power spectrogram `[n_fft / 2 + 1, frames]` of `samples` (centred, reflect-padded frames).
    pub fn power(&self, samples: &[f32]) -> Result<Vec<Vec<f64>>> {
        let n_fft = self.config.n_fft;
        if samples.is_empty() {
            return Err(Error::Audio("an empty clip has no spectrogram".into()));
        }
        let pad = n_fft / 2;
        let len = samples.len() as isize;
        let frames = 1 + samples.len() / self.config.hop;
        let mut re = vec![0.0; n_fft];
        let mut im = vec![0.0; n_fft];
        let mut out = Vec::with_capacity(frames);
        for t in 0..frames {
            let start = (t * self.config.hop) as isize - pad as isize;
            for (i, (r, w)) in re.iter_mut().zip(&self.window).enumerate() {
                *r = w * f64::from(samples[reflect(start + i as isize, len)]);
            }
            im.fill(0.0);
            self.fft.transform(&mut re, &mut im);
            out.push(
                (0..=n_fft / 2)
                    .map(|k| re[k] * re[k] + im[k] * im[k])
                    .collect(),
            );
        }
        Ok(out)
    }

    /// `ln(mel + 1e-6)`, `[n_mels, frames]`.
    pub fn log_mel(&self, samples: &[f32]) -> Result<FrameMatrix> {
        let power = self.power(samples)?;
        let (rows, frames) = (self.config.n_mels, power.len());
        let mut values = vec![0.0f32; rows * frames];
        for (t, spectrum) in power.iter().enumerate() {
            for (m, filter) in self.filters.iter().enumerate() {
                let energy: f64 = filter.iter().zip(spectrum).map(|(w, p)| w * p).sum();
                values[m * frames + t] = (energy + LOG_FLOOR).ln() as f32;
            }
        }
        Ok(FrameMatrix {
            rows,
            frames,
            values,
        })
    }
}

/// The first `n_mfcc` orthonormal DCT-II coefficients of each frame of a log-mel spectrogram.
pub fn mfcc(log_mel: &FrameMatrix, n_mfcc: usize) -> Result<FrameMatrix> {
    let n = log_mel.rows;
    if n_mfcc == 0 || n_mfcc > n {
        return Err(Error::Config(format!(
            "n_mfcc must be in 1..={n}, got {n_mfcc}"
        )));
    }
    let basis = dct2_ortho_basis(n, n_mfcc);
    let frames = log_mel.frames;
    let mut values = vec![0.0f32; n_mfcc * frames];
    for t in 0..frames {
        let x = log_mel.frame(t);
        for (k, row) in basis.iter().enumerate() {
            let c: f64 = row.iter().zip(&x).map(|(b, v)| b * f64::from(*v)).sum();
            values[k * frames + t] = c as f32;
        }
    }
    Ok(FrameMatrix {
        rows: n_mfcc,
        frames,
        values,
    })
}

/// Rows `k < n_out` of the orthonormal DCT-II matrix of size `n`:
/// `s_k · cos(π k (2i + 1) / 2n)` with `s_0 = √(1/n)`, `s_k = √(2/n)`.
pub fn dct2_ortho_basis(n: usize, n_out: usize) -> Vec<Vec<f64>> {
    (0..n_out)
        .map(|k| {
            let s = if k == 0 {
                (1.0 / n as f64).sqrt()
            } else {
                (2.0 / n as f64).sqrt()
            };
            (0..n)
                .map(|i| s * (PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos())
                .collect()
        })
        .collect()
}

/// Periodic Hann window (`scipy.signal.get_window("hann", n)`): `0.5 − 0.5 cos(2π i / n)`.
pub fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect()
}

/// Index into a signal of length `len` with NumPy's "reflect" padding (mirror without repeating
/// the edge sample), for any distance outside.
fn reflect(i: isize, len: isize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let m = i.rem_euclid(period);
    (if m < len { m } else { period - m }) as usize
}

/// Slaney's mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        MIN_LOG_HZ / F_SP + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// Triangular filters with edges equally spaced in mel, area-normalised (librosa.filters.mel).
fn slaney_filterbank(c: &MelConfig) -> Vec<Vec<f64>> {
    let bins = c.n_fft / 2 + 1;
    let fft_hz: Vec<f64> = (0..bins)
        .map(|k| k as f64 * f64::from(c.sample_rate) / c.n_fft as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(c.f_min), hz_to_mel(c.f_max));
    let edges: Vec<f64> = (0..c.n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (c.n_mels + 1) as f64))
        .collect();
    (0..c.n_mels)
        .map(|m| {
            let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (right - left);
            fft_hz
                .iter()
                .map(|&f| {
                    let rising = (f - left) / (centre - left);
                    let falling = (right - f) / (right - centre);
                    norm * rising.min(falling).max(0.0)
                })
                .collect()
        })
        .collect()
}

/// In-place iterative radix-2 complex FFT (forward, unnormalised).
#[derive(Debug, Clone)]
struct Fft {
    n: usize,
    /// `e^{−2πik/n}` for `k < n/2`.
    twiddles: Vec<(f64, f64)>,
}

impl Fft {
    fn new(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        let twiddles = (0..n / 2)
            .map(|k| {
                let a = -2.0 * PI * k as f64 / n as f64;
                (a.cos(), a.sin())
            })
            .collect();
        Self { n, twiddles }
    }

    fn transform(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.n;
        let bits = n.trailing_zeros();
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if j > i {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= n {
            let half = size / 2;
            let stride = n / size;
            for start in (0..n).step_by(size) {
                for k in 0..half {
                    let (wr, wi) = self.twiddles[k * stride];
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * wr - im[b] * wi;
                    let ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            size *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spectrogram() -> MelSpectrogram {
        MelSpectrogram::new(MelConfig::default()).unwrap()
    }

    #[test]
    fn fft_matches_a_direct_dft() {
        let n = 64;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
        let (mut re, mut im) = (x.clone(), vec![0.0; n]);
        Fft::new(n).transform(&mut re, &mut im);
        for k in 0..n {
            let (mut dr, mut di) = (0.0, 0.0);
            for (i, v) in x.iter().enumerate() {
                let a = -2.0 * PI * (k * i) as f64 / n as f64;
                dr += v * a.cos();
                di += v * a.sin();
            }
            assert!(
                (re[k] - dr).abs() < 1e-9 && (im[k] - di).abs() < 1e-9,
                "bin {k}"
            );
        }
    }

    #[test]
    fn hann_window_values() {
        let w = hann(512);
        assert_eq!(w[0], 0.0);
        assert!((w[128] - 0.5).abs() < 1e-15);
        assert!((w[256] - 1.0).abs() < 1e-15);
        assert!((w[384] - 0.5).abs() < 1e-15);
        assert!(
            (w[1] - w[511]).abs() < 1e-15,
            "periodic: symmetric about n/2"
        );
        // Periodic Hann sums to n/2 exactly.
        assert!((w.iter().sum::<f64>() - 256.0).abs() < 1e-9);
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let idx: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }

    #[test]
    fn slaney_mel_scale_known_points() {
        assert_eq!(hz_to_mel(0.0), 0.0);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        // 6.4 × 1 kHz is 27 mels above 1 kHz.
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-12);
        for hz in [50.0, 999.0, 1000.0, 2500.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn constant_signal_has_energy_only_at_dc_and_its_hann_neighbour() {
        // Hann's spectrum is n/2 at bin 0 and −n/4 at bins ±1, zero elsewhere.
        let s = spectrogram();
        let power = s.power(&[0.5f32; 4096]).unwrap();
        assert_eq!(power.len(), 1 + 4096 / 256);
        let frame = &power[8];
        assert!((frame[0] - (0.5 * 256.0f64).powi(2)).abs() < 1e-6);
        assert!((frame[1] - (0.5 * 128.0f64).powi(2)).abs() < 1e-6);
        assert!(frame[2..].iter().all(|p| *p < 1e-15), "{:?}", &frame[2..5]);
        // In mel terms: only the bands whose triangles cover 0–31.25 Hz receive energy.
        let mel = s.log_mel(&[0.5f32; 4096]).unwrap();
        let floor = (LOG_FLOOR as f32).ln();
        let lit: Vec<usize> = (0..96).filter(|&m| mel.get(m, 8) > floor + 1.0).collect();
        assert_eq!(lit, [0, 1]);
    }

    #[test]
    fn a_pure_sine_lands_in_the_mel_band_centred_on_its_frequency() {
        let s = spectrogram();
        // Band centres are mel_to_hz(i · step), step = mel(8 kHz) / 97.
        let step = hz_to_mel(8000.0) / 97.0;
        for freq in [250.0, 1000.0, 3000.0, 6000.0] {
            let x: Vec<f32> = (0..16_000)
                .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / 16_000.0).sin()) as f32)
                .collect();
            let mel = s.log_mel(&x).unwrap();
            let frame = mel.frame(30);
            let best = (0..96)
                .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
                .unwrap();
            let expected = (hz_to_mel(freq) / step).round() as usize - 1;
            assert!(
                best.abs_diff(expected) <= 1,
                "{freq} Hz: band {best}, centre {} Hz (expected band {expected})",
                mel_to_hz((best + 1) as f64 * step)
            );
        }
    }

    #[test]
    fn a_bin_centred_sine_has_the_hann_peak_power() {
        // A sine of amplitude A at bin k under a Hann window: |X[k]| = A·n/4, |X[k±1]| = A·n/8.
        let s = spectrogram();
        let freq = 64.0 * 16_000.0 / 512.0; // exactly bin 64 (2 kHz)
        let x: Vec<f32> = (0..8192)
            .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / 16_000.0).sin()) as f32)
            .collect();
        let p = &s.power(&x).unwrap()[10];
        // Relative 1e-6: the input samples are rounded to f32.
        assert!(
            (p[64] / (0.5 * 128.0f64).powi(2) - 1.0).abs() < 1e-6,
            "{}",
            p[64]
        );
        assert!(
            (p[63] / (0.5 * 64.0f64).powi(2) - 1.0).abs() < 1e-6,
            "{}",
            p[63]
        );
    }

    #[test]
    fn dct_of_a_constant_is_its_scaled_mean() {
        let m = FrameMatrix {
            rows: 96,
            frames: 2,
            values: vec![2.0; 192],
        };
        let c = mfcc(&m, 20).unwrap();
        assert_eq!((c.rows, c.frames), (20, 2));
        assert!((c.get(0, 1) - 2.0 * 96f32.sqrt()).abs() < 1e-4);
        assert!((1..20).all(|k| c.get(k, 0).abs() < 1e-5));
        // Orthonormal: the full basis is orthogonal with unit rows.
        let b = dct2_ortho_basis(8, 8);
        for i in 0..8 {
            for j in 0..8 {
                let d: f64 = b[i].iter().zip(&b[j]).map(|(x, y)| x * y).sum();
                assert!((d - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(mfcc(&m, 97).is_err());
    }

    #[test]
    fn frame_count_and_filterbank_shape() {
        let s = spectrogram();
        assert_eq!(s.log_mel(&[0.1; 16_000]).unwrap().frames, 63);
        assert_eq!(s.log_mel(&[0.1; 100]).unwrap().frames, 1);
        assert!(s.log_mel(&[]).is_err());
        assert_eq!(s.filters().len(), 96);
        assert!(s.filters().iter().all(|f| f.len() == 257));
        // Every band receives some bin (no empty triangles at 96 bands, n_fft 512).
        assert!(s.filters().iter().all(|f| f.iter().any(|w| *w > 0.0)));
        assert!(MelSpectrogram::new(MelConfig {
            n_fft: 500,
            ..Default::default()
        })
        .is_err());
        assert!(MelSpectrogram::new(MelConfig {
            f_max: 9000.0,
            ..Default::default()
        })
        .is_err());
    }
}
