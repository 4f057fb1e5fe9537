//! Decoding of audio files from bytes (WAV/PCM and Ogg Vorbis, through symphonia) to one mono
//! `f32` channel at the file's own sample rate.

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::{Error, Result};

/// Mono samples in `[-1, 1]` at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Waveform {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Sample rates accepted, in Hz: telephone-grade to studio masters. A rate outside would make
/// resampling kernels (which span `rate / 16 kHz` input samples) or outputs unboundedly large.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;
/// The longest audio accepted, in seconds: an item's clip, not an album (10 minutes at 48 kHz is
/// 115 MB of f32 samples).
pub const MAX_SECONDS: f64 = 600.0;

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Audio(format!("{what}: {e}"))
}

/// Decodes a WAV or Ogg Vorbis file held in memory and mixes its channels to mono (the mean of
/// the channels, so a full-scale stereo file stays within `[-1, 1]`).
pub fn decode(bytes: &[u8]) -> Result<Waveform> {
    let source = std::io::Cursor::new(bytes.to_vec());
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| {
            bad(
                "unrecognised container (WAV and Ogg Vorbis are supported)",
                e,
            )
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::Audio("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::Audio("the audio track has no codec parameters".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| bad("unsupported codec", e))?;

    let mut samples = Vec::new();
    let mut sample_rate = None;
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(bad("reading the container", e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A corrupt packet is skipped, as players do; a file with none decodable fails below.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(bad("decoding", e)),
        };
        let rate = buf.spec().rate();
        if !SAMPLE_RATES.contains(&rate) {
            return Err(Error::Audio(format!(
                "sample rate {rate} Hz is outside {} to {} Hz",
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end()
            )));
        }
        if *sample_rate.get_or_insert(rate) != rate {
            return Err(Error::Audio(
                "the sample rate changes within the file".into(),
            ));
        }
        if samples.len() as f64 > MAX_SECONDS * f64::from(rate) {
            return Err(Error::Audio(format!(
                "longer than {} minutes: give the item a clip",
                MAX_SECONDS / 60.0
            )));
        }
        let channels = buf.num_planes();
        if channels == 0 || buf.frames() == 0 {
            continue;
        }
        buf.copy_to_vec_interleaved(&mut interleaved);
        let scale = 1.0 / channels as f32;
        samples.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
    }
    match sample_rate {
        Some(sample_rate) if sample_rate > 0 && !samples.is_empty() => Ok(Waveform {
            samples,
            sample_rate,
        }),
        _ => Err(Error::Audio("no decodable audio in the file".into())),
    }
}

/// A 16-bit PCM WAV file with `channels` interleaved channels: for tests and fuzzing seeds.
#[doc(hidden)]
pub fn wav_bytes(rate: u32, channels: u16, interleaved: &[i16]) -> Vec<u8> {
    let data_len = (interleaved.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in interleaved {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use super::wav_bytes;

    #[test]
    fn absurd_sample_rates_and_hour_long_files_are_refused() {
        let frames: Vec<i16> = vec![100; 64];
        for rate in [1u32, 999, 768_001, 2_000_000_000] {
            let err = decode(&wav_bytes(rate, 1, &frames)).unwrap_err();
            assert_eq!(err.code(), "BAD_AUDIO", "{rate}: {err}");
        }
        // 10 minutes and a bit at 1 kHz.
        let long = vec![0i16; 601_000];
        let err = decode(&wav_bytes(1_000, 1, &long)).unwrap_err();
        assert!(err.to_string().contains("longer than 10 minutes"), "{err}");
        assert!(decode(&wav_bytes(1_000, 1, &long[..599_000])).is_ok());
    }

    #[test]
    fn stereo_wav_is_mixed_to_mono() {
        // Left +0.5, right -0.25 (as i16) for 1000 frames: the mono mean is 0.125.
        let frames: Vec<i16> = (0..1000).flat_map(|_| [16384, -8192]).collect();
        let w = decode(&wav_bytes(22_050, 2, &frames)).unwrap();
        assert_eq!(w.sample_rate, 22_050);
        assert_eq!(w.samples.len(), 1000);
        assert!(
            w.samples.iter().all(|s| (s - 0.125).abs() < 1e-6),
            "{:?}",
            &w.samples[..4]
        );
        assert!((w.duration_secs() - 1000.0 / 22_050.0).abs() < 1e-12);
    }

    #[test]
    fn garbage_is_a_bad_audio_error() {
        for bytes in [&b""[..], b"not audio at all, just some text", &[0u8; 4096]] {
            let e = decode(bytes).unwrap_err();
            assert!(matches!(e, Error::Audio(_)), "{e}");
            assert_eq!(e.code(), "BAD_AUDIO");
        }
        // A WAV header that promises data it does not hold.
        let mut truncated = wav_bytes(16_000, 1, &[0; 100]);
        truncated.truncate(44);
        assert!(matches!(decode(&truncated), Err(Error::Audio(_))));
    }
}
