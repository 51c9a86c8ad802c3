"""Audio augmentation for training: noise at an exact SNR, gain, reverb, band-limiting by resampling.

All functions take and return float32 (n) mono at one rate and never change the length
(except `through_rate`, which returns to the original rate with the length it implies).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from a2m_core.audio.io import SAMPLE_RATE_HZ, check_samples, resample
from a2m_core.errors import InputError

SOURCE_RATES_HZ = (8000, 12000, 22050, 44100, 48000)


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """10 log10 of the signal power over the noise power."""
    return float(10.0 * np.log10(np.mean(np.square(signal, dtype=np.float64)) /
                                 np.mean(np.square(noise, dtype=np.float64))))


def add_noise(signal: np.ndarray, target_snr_db: float, rng: np.random.Generator,
              noise: np.ndarray | None = None) -> np.ndarray:
    """signal + noise scaled so that the SNR is `target_snr_db` exactly (white Gaussian noise by default).

    A given `noise` is tiled or cut to the signal's length first. The noise is rescaled after
    drawing, so the measured SNR equals the target up to float32 rounding.
    """
    check_samples(signal, "signal")
    if not np.isfinite(target_snr_db):
        raise InputError(f"SNR must be a finite number of dB, got {target_snr_db}")
    power = float(np.mean(np.square(signal, dtype=np.float64)))
    if power == 0.0:
        raise InputError("signal is digital silence: an SNR is undefined; pass speech")
    if noise is None:
        noise = rng.standard_normal(len(signal))
    else:
        check_samples(noise, "noise")
        noise = np.resize(np.asarray(noise, dtype=np.float64), len(signal))
        if not np.any(noise):
            raise InputError("noise is digital silence; pass a noise recording with energy")
    noise = noise - noise.mean()
    noise *= np.sqrt(power / (np.mean(np.square(noise)) * 10.0 ** (target_snr_db / 10.0)))
    return (signal + noise).astype(np.float32)


def apply_gain(signal: np.ndarray, gain_db: float) -> np.ndarray:
    """signal * 10^(gain/20), clipped to full scale."""
    return np.clip(signal * 10.0 ** (gain_db / 20.0), -1.0, 1.0).astype(np.float32)


def synthetic_room_response(rt60_s: float, sample_rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """An exponentially decaying noise impulse response with reverberation time `rt60_s` (direct path first)."""
    if not 0.05 <= rt60_s <= 3.0:
        raise InputError(f"rt60 must be between 0.05 and 3 s, got {rt60_s}")
    n = int(rt60_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    ir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # -60 dB at rt60
    ir[0] = 1.0 / 0.3  # direct path dominates the tail
    return ir / np.sqrt(np.sum(ir**2))


def add_reverb(signal: np.ndarray, rt60_s: float, sample_rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """signal convolved with a synthetic room response, cut to its length and peak-limited to full scale."""
    check_samples(signal, "signal")
    wet = fftconvolve(signal, synthetic_room_response(rt60_s, sample_rate_hz, rng))[: len(signal)]
    peak = float(np.max(np.abs(wet)))
    return (wet / peak if peak > 1.0 else wet).astype(np.float32)


def through_rate(signal: np.ndarray, sample_rate_hz: int, source_rate_hz: int) -> np.ndarray:
    """As if recorded at `source_rate_hz` (8/12/22.05/44.1/48 kHz) and resampled back to `sample_rate_hz`."""
    check_samples(signal, "signal")
    return resample(resample(signal, sample_rate_hz, source_rate_hz), source_rate_hz, sample_rate_hz)


def speech_augment(signal: np.ndarray, rng: np.random.Generator, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The condition stage's augmentation: a third of the utterances band-limited as if recorded at
    8 or 12 kHz, half of them with white noise at 5-30 dB SNR (the evaluation's 10 dB and 12 kHz
    conditions lie inside these ranges)."""
    if rng.random() < 1 / 3:
        signal = through_rate(signal, sample_rate_hz, int(rng.choice((8000, 12000))))
    if rng.random() < 0.5 and np.any(signal):
        signal = add_noise(signal, float(rng.uniform(5.0, 30.0)), rng)
    return signal


def perturb_speed(signal: np.ndarray, factor: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The utterance spoken `factor` times faster and higher: pitch, formants (vocal-tract length) and
    tempo scale together, as when a recording is replayed at another rate (speed perturbation, Ko et
    al. 2015). The factor is rounded to steps of 100 Hz of the source rate; the length changes."""
    check_samples(signal, "signal")
    if not 0.5 <= factor <= 2.0:
        raise InputError(f"speed factor must be between 0.5 and 2, got {factor}")
    source_hz = int(round(sample_rate_hz * factor / 100.0)) * 100
    return resample(signal, source_hz, sample_rate_hz)


def speaker_augment(signal: np.ndarray, rng: np.random.Generator, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Another speaker saying the same words: speed perturbation by 0.85-1.15 (pitch, formants and
    tempo), then `speech_augment`'s band-limiting and noise."""
    return speech_augment(perturb_speed(signal, float(rng.uniform(0.85, 1.15)), sample_rate_hz), rng, sample_rate_hz)


def mask_features(features: np.ndarray, rng: np.random.Generator, max_time_frac: float = 0.1,
                  max_channel_frac: float = 0.1, num_masks: int = 2) -> np.ndarray:
    """SpecAugment-style masking of front-end features (n c): `num_masks` spans of up to
    `max_time_frac` of the frames and as many bands of up to `max_channel_frac` of the channels
    are set to the features' mean. Returns a copy."""
    out = np.array(features, dtype=np.float32, copy=True)
    n, c = out.shape
    fill = out.mean(axis=0) if n else np.zeros(c, np.float32)
    for _ in range(num_masks):
        width = int(rng.integers(0, int(max_time_frac * n) + 1))
        start = int(rng.integers(0, n - width + 1))
        out[start:start + width] = fill
        band = int(rng.integers(0, int(max_channel_frac * c) + 1))
        low = int(rng.integers(0, c - band + 1))
        out[:, low:low + band] = fill[low:low + band]
    return out
