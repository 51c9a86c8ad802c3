"""Voice pool, real speech synthesis (espeak-ng, festival) and augmentation."""

import numpy as np
import pytest
import soundfile as sf

from a2m_core.audio.io import SAMPLE_RATE_HZ, save_wav
from a2m_core.audio.speech import Voice, synthesize
from a2m_core.errors import InputError
from training.data.augment import SOURCE_RATES_HZ, add_noise, add_reverb, apply_gain, snr_db, through_rate
from training.data.voices import SPLITS, voice_pool, voices_for_split

TEXT = "Please walk forward and then wave with your right hand."


def _f0_hz(audio, sr=SAMPLE_RATE_HZ):
    """Median autocorrelation pitch of the loud 40 ms frames."""
    estimates = []
    for i in range(0, len(audio) - 640, 320):
        x = audio[i:i + 640] - audio[i:i + 640].mean()
        if np.sqrt(np.mean(x**2)) < 0.05:
            continue
        c = np.correlate(x, x, "full")[639:]
        lo, hi = sr // 400, sr // 60
        estimates.append(sr / (lo + np.argmax(c[lo:hi])))
    return float(np.median(estimates))


def test_pool_has_40_distinct_espeak_speakers_plus_festival_and_disjoint_splits():
    pool = voice_pool()
    assert pool == voice_pool()  # deterministic
    espeak = [v for v in pool if v.engine == "espeak-ng"]
    assert len({v.speaker_id for v in espeak}) >= 40
    assert len({v.name.split("+")[0] for v in espeak}) == 8  # every accent
    assert {v.name for v in pool if v.engine == "festival"} == {"kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"}
    ids = [{v.speaker_id for v in voices_for_split(pool, s)} for s in SPLITS]
    assert sum(len(s) for s in ids) == len(pool) and all(ids)
    assert not (ids[0] & ids[2]) and not (ids[0] & ids[1]) and not (ids[1] & ids[2])


@pytest.mark.parametrize("engine, name", [("espeak-ng", "en-gb-scotland+m7"), ("festival", "kal_diphone"),
                                          ("festival", "cmu_us_slt_arctic_hts")])
def test_pitch_and_rate_change_the_real_speech(engine, name):
    low, high = (30, 75) if engine == "espeak-ng" else (-15, 15)
    normal_rate, fast_rate = (150, 200) if engine == "espeak-ng" else (100, 125)
    a_low = synthesize(TEXT, Voice(engine, name, low, normal_rate))
    a_high = synthesize(TEXT, Voice(engine, name, high, normal_rate))
    a_fast = synthesize(TEXT, Voice(engine, name, low, fast_rate))
    assert a_low.dtype == np.float32 and a_low.ndim == 1
    assert 1.5 < len(a_low) / SAMPLE_RATE_HZ < 6.0
    assert _f0_hz(a_high) > 1.1 * _f0_hz(a_low)
    assert len(a_fast) < 0.9 * len(a_low)


def test_wav_written_16k_mono_pcm16_and_atomically(tmp_path):
    audio = synthesize(TEXT, voice_pool()[0])
    path = tmp_path / "sub" / "a.wav"
    save_wav(path, audio)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    back, _ = sf.read(str(path), dtype="float32")
    assert np.max(np.abs(back - audio)) < 1e-4
    assert [p.name for p in path.parent.iterdir()] == ["a.wav"]  # no temp file left
    with pytest.raises(Exception):
        save_wav(tmp_path / "b.wav", np.zeros((3, 3, 3)))
    assert not list(tmp_path.glob(".*")) and not (tmp_path / "b.wav").exists()


def test_missing_engine_names_the_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="Debian package espeak-ng"):
        synthesize(TEXT, Voice("espeak-ng", "en-us+m1", 50, 160))
    with pytest.raises(InputError, match="Debian package festival"):
        synthesize(TEXT, Voice("festival", "kal_diphone", 0, 100))


def test_bad_text_and_voice_settings():
    with pytest.raises(InputError, match="empty"):
        synthesize("  ", voice_pool()[0])
    with pytest.raises(InputError, match="at most"):
        synthesize("wave " * 200, voice_pool()[0])
    with pytest.raises(InputError, match="non-ASCII"):
        synthesize("caf\u00e9", voice_pool()[0])
    with pytest.raises(ValueError, match="pitch"):
        Voice("espeak-ng", "en-us", 120, 160)


@pytest.mark.parametrize("target", [-5.0, 0.0, 10.0, 30.0])
def test_noise_is_added_at_the_exact_snr(target):
    rng = np.random.default_rng(0)
    speech = synthesize(TEXT, voice_pool()[3])
    noisy = add_noise(speech, target, rng)
    assert abs(snr_db(speech, noisy - speech) - target) < 0.1
    babble = rng.standard_normal(1000).astype(np.float32)  # shorter than the speech: tiled
    noisy = add_noise(speech, target, rng, noise=babble)
    assert abs(snr_db(speech, noisy - speech) - target) < 0.1


def test_noise_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="silence"):
        add_noise(np.zeros(100, np.float32), 10, rng)
    with pytest.raises(InputError, match="NaN"):
        add_noise(np.full(100, np.nan, np.float32), 10, rng)
    with pytest.raises(InputError, match="finite"):
        add_noise(np.ones(100, np.float32), float("nan"), rng)


@pytest.mark.parametrize("source", SOURCE_RATES_HZ)
def test_through_rate_band_limits_and_keeps_length(source):
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(16000).astype(np.float32) * 0.1
    out = through_rate(noise, 16000, source)
    assert abs(len(out) - len(noise)) <= 2
    freqs = np.fft.rfftfreq(15000, 1 / 16000)
    power_out = np.abs(np.fft.rfft(out[:15000])) ** 2
    power_in = np.abs(np.fft.rfft(noise[:15000])) ** 2
    if source < 16000:
        nyquist = source / 2
        assert power_out[freqs > 1.05 * nyquist].sum() / power_out.sum() < 0.01  # nothing above it survives
        band = (freqs > 0.3 * nyquist) & (freqs < 0.8 * nyquist)
        assert power_out[band].sum() > 0.9 * power_in[band].sum()  # the speech band is kept
    else:
        assert np.corrcoef(out[100:-100], noise[100:-100])[0, 1] > 0.99


def test_gain_and_reverb():
    rng = np.random.default_rng(2)
    x = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    assert np.allclose(apply_gain(x, 6.0206), 2 * x, atol=1e-5)
    impulse = np.zeros(16000, np.float32)
    impulse[0] = 0.5
    wet = add_reverb(impulse, 0.4, 16000, rng)
    assert len(wet) == len(impulse)
    tail = np.abs(wet[1:]).max()
    assert 0 < tail < 0.5 and np.abs(wet[8000:]).max() < np.abs(wet[1:800]).max() * 0.05  # decays


@pytest.mark.parametrize("factor", [0.85, 1.15])
def test_speed_perturbation_scales_pitch_and_length(factor):
    from training.data.augment import perturb_speed

    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 200.0 * t)).astype(np.float32)
    out = perturb_speed(tone, factor)
    assert abs(len(out) - 16000 / factor) <= 2
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak_hz = np.argmax(spectrum) * 16000 / len(out)
    assert abs(peak_hz - 200.0 * factor) < 3.0


def test_feature_masks_cover_spans_with_the_mean_and_are_seeded():
    from training.data.augment import mask_features

    feats = np.random.default_rng(0).normal(size=(50, 96)).astype(np.float32)
    a = mask_features(feats, np.random.default_rng(1), max_time_frac=0.2, max_channel_frac=0.2)
    b = mask_features(feats, np.random.default_rng(1), max_time_frac=0.2, max_channel_frac=0.2)
    assert np.array_equal(a, b) and a.shape == feats.shape and not np.shares_memory(a, feats)
    changed = a != feats
    assert changed.any() and changed.mean() < 0.6
    rows = np.where(changed.all(axis=1))[0]
    cols = np.where(changed.all(axis=0))[0]
    assert len(rows) + len(cols) > 0  # whole frames or whole bands were masked
    assert np.allclose(a[rows], feats.mean(axis=0)) if len(rows) else np.allclose(a[:, cols], feats.mean(axis=0)[cols])
