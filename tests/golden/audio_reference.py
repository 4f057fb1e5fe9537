#!/usr/bin/env python3
"""Reference log-mel spectrogram and MFCCs from librosa (golden values for tests/audio_features.rs).

What it does
------------
Builds a deterministic 16 kHz test waveform that the Rust test rebuilds identically (0.75 s:
a linear chirp 100 Hz -> 7 kHz, a 440 Hz tone, integer-LCG noise, and 1,000 samples of digital
silence in the middle; every sample rounded to float32), then computes with librosa:

  * power mel spectrogram: n_fft 512, hop 256, periodic Hann window, centred frames with
    pad_mode="reflect" (set explicitly: librosa >= 0.10 defaults to zero padding), power 2,
    96 mel bands from 0 Hz to 8 kHz, Slaney mel scale (htk=False) and Slaney area norm;
  * log-mel = ln(mel + 1e-6);
  * MFCC = librosa.feature.mfcc(S=log_mel, n_mfcc=20, dct_type=2, norm="ortho").

The float32 waveform is converted to float64 before librosa sees it, so the reference is
computed in double precision (librosa's mel filterbank itself is float32).  Values are written
rounded to 5 decimals, row-major [rows, frames], to tests/golden/audio.json.

Sanity checks (asserted): the MFCCs equal scipy's orthonormal DCT-II of the log-mel; frames of
pure silence sit exactly at ln(1e-6); the loudest band of a middle frame of the chirp is the
one whose centre is nearest the chirp's instantaneous frequency.

How to run
----------
  python3 -m venv /tmp/audioref && /tmp/audioref/bin/pip install librosa
  /tmp/audioref/bin/python tests/golden/audio_reference.py [OUT_JSON]

Versions used to generate the committed JSON: Python 3.11, librosa 0.11.0, numpy 2.4.6,
scipy (as pulled by librosa; version recorded in the JSON).
"""

import json
import math
import os
import sys

import librosa
import numpy as np
import scipy
import scipy.fft

SR = 16000
N = 12000
N_FFT, HOP, N_MELS, N_MFCC = 512, 256, 96, 20
SILENCE = (6000, 7000)


def test_signal():
    """The waveform; tests/audio_features.rs builds the same one (keep them in sync)."""
    t = np.arange(N, dtype=np.float64) / SR
    dur = N / SR
    chirp = np.sin(2 * np.pi * (100.0 * t + (7000.0 - 100.0) / (2 * dur) * t * t))
    tone = np.sin(2 * np.pi * 440.0 * t)
    state = 12345
    noise = np.empty(N)
    for i in range(N):
        state = (state * 1103515245 + 12345) % 2**31
        noise[i] = state / 2**31 * 2.0 - 1.0
    x = (0.4 * chirp + 0.2 * tone + 0.05 * noise).astype(np.float32)
    x[SILENCE[0] : SILENCE[1]] = 0.0
    return x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "audio.json")
    x = test_signal()
    y = x.astype(np.float64)
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, window="hann", center=True,
        pad_mode="reflect", power=2.0, n_mels=N_MELS, fmin=0.0, fmax=SR / 2,
        htk=False, norm="slaney",
    )
    log_mel = np.log(mel + 1e-6)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC, dct_type=2, norm="ortho")
    frames = log_mel.shape[1]
    assert log_mel.shape == (N_MELS, 1 + N // HOP), log_mel.shape
    assert mfcc.shape == (N_MFCC, frames)

    # Sanity checks.
    dct = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:N_MFCC]
    assert np.max(np.abs(dct - mfcc)) < 1e-9
    # Frame t covers samples t*HOP - 256 .. t*HOP + 256: frames 25 and 26 lie inside the silence.
    for t in (25, 26):
        assert np.all(log_mel[:, t] == np.log(1e-6)), t
    t_mid = 12
    f_inst = 100.0 + (7000.0 - 100.0) / (N / SR) * (t_mid * HOP / SR)
    centres = librosa.mel_frequencies(N_MELS + 2, fmin=0.0, fmax=SR / 2, htk=False)[1:-1]
    expected = int(np.argmin(np.abs(centres - f_inst)))
    assert abs(int(np.argmax(log_mel[:, t_mid])) - expected) <= 1, (np.argmax(log_mel[:, t_mid]), expected)

    golden = {
        "generated_by": "tests/golden/audio_reference.py",
        "versions": {"librosa": librosa.__version__, "numpy": np.__version__, "scipy": scipy.__version__},
        "signal": {
            "sample_rate": SR,
            "samples": N,
            "sum": float(np.sum(x.astype(np.float64))),
            "head": [float(v) for v in x[:8]],
        },
        "n_fft": N_FFT,
        "hop": HOP,
        "n_mels": N_MELS,
        "n_mfcc": N_MFCC,
        "frames": frames,
        "log_mel": [round(float(v), 5) for v in log_mel.reshape(-1)],
        "mfcc": [round(float(v), 5) for v in mfcc.reshape(-1)],
    }
    with open(out, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {frames} frames, log-mel range [{log_mel.min():.3f}, {log_mel.max():.3f}]")


if __name__ == "__main__":
    main()
