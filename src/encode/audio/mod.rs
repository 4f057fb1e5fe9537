//! Audio modality: clip bytes (WAV, Ogg Vorbis) → mono 16 kHz waveform → log-mel spectrogram →
//! a fixed-size vector from a small convolutional network ([`AudioEncoder`]), trainable end to
//! end so that it can become the audio token of the fusion in [`crate::fuse`].

pub mod decode;
pub mod encoder;
pub mod mel;
pub mod resample;

pub use decode::{decode, Waveform};
pub use encoder::{log_mel_batch, AudioEncoder, AudioEncoderConfig};
pub use mel::{mfcc, FrameMatrix, MelConfig, MelSpectrogram};
pub use resample::resample;

use crate::error::Result;

/// The sample rate every clip is converted to before features are computed.
pub const SAMPLE_RATE: u32 = 16_000;

/// Decodes a clip and resamples it to [`SAMPLE_RATE`].
pub fn load(bytes: &[u8]) -> Result<Waveform> {
    let w = decode(bytes)?;
    Ok(Waveform {
        samples: resample(&w.samples, w.sample_rate, SAMPLE_RATE)?,
        sample_rate: SAMPLE_RATE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_resamples_a_wav_to_16_khz() {
        let x: Vec<i16> = (0..22_050)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 22_050.0).sin())
                    as i16
            })
            .collect();
        let w = load(&decode::tests::wav_bytes(22_050, 1, &x)).unwrap();
        assert_eq!(w.sample_rate, SAMPLE_RATE);
        assert_eq!(w.samples.len(), 16_000);
        assert!((w.duration_secs() - 1.0).abs() < 1e-9);
    }
}
