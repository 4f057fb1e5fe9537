//! Band-limited resampling by windowed-sinc interpolation (Kaiser window), implemented here
//! rather than taken from a crate: it is ~100 lines, needs no FFT, and behaves the same natively
//! and in wasm.
//!
//! Output sample `n` sits at input time `t = n · from / to` (in input samples) and is
//! `Σ_k x[k] · h(t − k)` with `h` a sinc low-pass at `ROLLOFF` × the lower of the two Nyquist
//! frequencies, windowed over `ZERO_CROSSINGS` zero crossings on each side. Samples outside the
//! input count as zeros. For the usual rates the ratio `to / from` reduces to `L / M` with a
//! small `L`, and the kernel is tabulated once per phase (a polyphase filter); unusual rates
//! compute the kernel per output sample.

use crate::error::{Error, Result};

/// Zero crossings of the sinc kept on each side of the centre.
const ZERO_CROSSINGS: usize = 32;
/// Passband edge as a fraction of the output Nyquist frequency (when downsampling).
const ROLLOFF: f64 = 0.95;
/// Kaiser window shape: stopband attenuation of about 85 dB.
const KAISER_BETA: f64 = 8.6;
/// Largest number of kernel phases that is tabulated (`L` of the reduced ratio).
const MAX_TABLE_PHASES: usize = 4096;

/// Resamples `samples` from `from` Hz to `to` Hz. The output has `ceil(len · to / from)` samples.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let rates = super::decode::SAMPLE_RATES;
    if !rates.contains(&from) || !rates.contains(&to) {
        return Err(Error::Audio(format!(
            "cannot resample from {from} Hz to {to} Hz (rates run from {} to {} Hz)",
            rates.start(),
            rates.end()
        )));
    }
    if from == to {
        return Ok(samples.to_vec());
    }
    let g = gcd(from, to);
    let (up, down) = ((to / g) as usize, (from / g) as usize);
    let kernel = Kernel::new(from, to);
    let out_len = (samples.len() * up).div_ceil(down);
    let table = (up <= MAX_TABLE_PHASES).then(|| {
        (0..up)
            .map(|p| kernel.taps(p as f64 / up as f64))
            .collect::<Vec<_>>()
    });
    let reach = kernel.reach as isize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let pos = n * down;
        let (base, phase) = (pos / up, pos % up);
        let computed;
        let taps = match &table {
            Some(t) => &t[phase],
            None => {
                computed = kernel.taps(phase as f64 / up as f64);
                &computed
            }
        };
        // taps[j] multiplies x[base + j - reach].
        let first = base as isize - reach;
        let lo = (-first).max(0) as usize;
        let hi = taps
            .len()
            .min((samples.len() as isize - first).max(0) as usize);
        let acc: f64 = (lo..hi)
            .map(|j| taps[j] * f64::from(samples[(first + j as isize) as usize]))
            .sum();
        out.push(acc as f32);
    }
    Ok(out)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The windowed-sinc low-pass, in units of input samples.
struct Kernel {
    /// Cutoff as a fraction of the input sample rate (cycles per input sample).
    cutoff: f64,
    /// Half-width of the window in input samples.
    half_width: f64,
    /// Taps on each side of the centre sample.
    reach: usize,
    i0_beta: f64,
}

impl Kernel {
    fn new(from: u32, to: u32) -> Self {
        let cutoff = 0.5 * ROLLOFF * (f64::from(to) / f64::from(from)).min(1.0);
        let half_width = ZERO_CROSSINGS as f64 / (2.0 * cutoff);
        Self {
            cutoff,
            half_width,
            reach: half_width.ceil() as usize + 1,
            i0_beta: bessel_i0(KAISER_BETA),
        }
    }

    /// `h(frac − (j − reach))` for `j` in `0..=2·reach`: the weights of the input samples around
    /// an output that falls `frac` ∈ [0, 1) after an input sample.
    fn taps(&self, frac: f64) -> Vec<f64> {
        (0..=2 * self.reach)
            .map(|j| self.h(frac - (j as f64 - self.reach as f64)))
            .collect()
    }

    fn h(&self, t: f64) -> f64 {
        let x = t / self.half_width;
        if x.abs() >= 1.0 {
            return 0.0;
        }
        let arg = 2.0 * self.cutoff * t;
        let sinc = if arg == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / self.i0_beta;
        2.0 * self.cutoff * sinc * window
    }
}

/// Modified Bessel function of the first kind, order 0 (power series; converges fast for the
/// arguments of a Kaiser window).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    let q = x * x / 4.0;
    while term > 1e-17 * sum {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, amp: f64, secs: f64) -> Vec<f32> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// Magnitude of the DFT of `x` at `freq` Hz, scaled so that a sine of amplitude A gives A.
    fn tone_amplitude(x: &[f32], rate: u32, freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, &v)| {
            let a = w * i as f64;
            (re + f64::from(v) * a.cos(), im - f64::from(v) * a.sin())
        });
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    #[test]
    fn bessel_i0_known_values() {
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-13);
        assert!((bessel_i0(8.6) - 750.461_159_563_165_9).abs() / 750.46 < 1e-13);
    }

    #[test]
    fn a_resampled_sine_keeps_its_frequency_amplitude_and_phase() {
        for (from, freq) in [
            (44_100, 1000.0),
            (48_000, 3000.0),
            (22_050, 440.0),
            (8_000, 1000.0),
        ] {
            let x = sine(from, freq, 0.5, 1.0);
            let y = resample(&x, from, 16_000).unwrap();
            assert_eq!(y.len(), (x.len() * 16_000).div_ceil(from as usize));
            // Away from the edges the output is the same sine sampled at 16 kHz.
            let expected = sine(16_000, freq, 0.5, 1.0);
            let middle = 2000..14_000;
            let err = middle
                .clone()
                .map(|i| (y[i] - expected[i]).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 2e-3, "{from} Hz → 16 kHz, {freq} Hz: max error {err}");
            // Peak bin: scan 10 Hz bins over the whole band.
            let seg = &y[middle];
            let peak = (1..800)
                .map(|b| {
                    (
                        b as f64 * 10.0,
                        tone_amplitude(seg, 16_000, b as f64 * 10.0),
                    )
                })
                .fold((0.0, 0.0), |best, c| if c.1 > best.1 { c } else { best });
            assert_eq!(peak.0, freq, "{from} Hz: peak at {} Hz", peak.0);
            assert!(
                (peak.1 - 0.5).abs() < 2e-3,
                "{from} Hz: amplitude {}",
                peak.1
            );
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed() {
        // 10 kHz would alias to 6 kHz at 16 kHz; the low-pass must suppress it (≥ 60 dB).
        let y = resample(&sine(48_000, 10_000.0, 0.5, 1.0), 48_000, 16_000).unwrap();
        let seg = &y[2000..14_000];
        let alias = tone_amplitude(seg, 16_000, 6000.0);
        assert!(alias < 0.5e-3, "aliased amplitude {alias}");
        let rms =
            (seg.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / seg.len() as f64).sqrt();
        assert!(rms < 0.5e-3, "rms {rms}");
    }

    #[test]
    fn odd_rates_use_the_untabulated_path() {
        // 44_101 / 16_000 does not reduce: L = 16_000 phases, computed per sample.
        let x = sine(44_101, 1000.0, 0.5, 0.25);
        let y = resample(&x, 44_101, 16_000).unwrap();
        let expected = sine(16_000, 1000.0, 0.5, 0.25);
        let err = (1000..3000)
            .map(|i| (y[i] - expected[i]).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 2e-3, "max error {err}");
    }

    #[test]
    fn same_rate_is_identity_and_zero_rate_is_an_error() {
        let x = vec![0.1, -0.2, 0.3];
        assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
        assert!(matches!(resample(&x, 0, 16_000), Err(Error::Audio(_))));
        assert!(resample(&[], 44_100, 16_000).unwrap().is_empty());
    }
}
