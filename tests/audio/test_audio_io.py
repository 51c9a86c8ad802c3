"""Loading, checking, resampling and message encoding of audio, on real files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from a2m_core.audio.io import (StreamResampler, check_sample_rate, check_samples, decode_samples,
                               encode_samples, load_audio, resample, save_wav)
from a2m_core.errors import InputError


def tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("rate,channels,subtype", [(48000, 2, "PCM_16"), (44100, 1, "FLOAT"),
                                                   (8000, 1, "PCM_16"), (22050, 6, "PCM_24")])
def test_load_any_wav_gives_16k_mono(tmp_path, rate, channels, subtype):
    x = np.repeat(tone(rate, 0.5)[:, None], channels, axis=1)
    path = tmp_path / "in.wav"
    soundfile.write(path, x, rate, subtype=subtype)
    audio = load_audio(path)
    assert audio.sample_rate_hz == 16000 and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) == 8000
    np.testing.assert_allclose(audio.samples[200:-200], tone(16000, 0.5)[200:-200], atol=2e-3)
    assert audio.warnings == ()


def test_bad_files_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(InputError, match="cannot read"):
        load_audio(tmp_path / "corrupt.wav")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    nan = tone(16000, 0.1)
    nan[5] = np.nan
    soundfile.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    with pytest.raises(InputError, match="NaN or Inf"):
        load_audio(tmp_path / "nan.wav")


def test_clipping_and_silence_are_warnings_not_errors(tmp_path):
    save_wav(tmp_path / "clip.wav", np.clip(tone(16000, 0.5) * 4, -1, 1))
    assert any("clipped" in w for w in load_audio(tmp_path / "clip.wav").warnings)
    assert any("silence" in w for w in check_samples(np.zeros(100, np.float32)))


@pytest.mark.parametrize("rate", [0, -16000, 16000.5, 100, 10**7])
def test_unusable_rates_are_rejected(rate):
    with pytest.raises(InputError, match="sample rate"):
        check_sample_rate(rate)


@pytest.mark.parametrize("from_hz", [48000, 44100, 22050, 8000, 16000])
def test_stream_resampler_matches_whole_signal(from_hz):
    rng = np.random.default_rng(from_hz)
    x = rng.normal(size=from_hz // 2 + 17).astype(np.float32)
    stream, pieces, i = StreamResampler(from_hz), [], 0
    while i < len(x):
        n = int(rng.integers(1, 2000))
        pieces.append(stream.push(x[i:i + n]))
        i += n
    pieces.append(stream.flush())
    np.testing.assert_allclose(np.concatenate(pieces), resample(x, from_hz), atol=1e-5)


@pytest.mark.parametrize("encoding,atol", [("int16", 1 / 32768), ("float32", 0.0)])
def test_encode_decode_round_trip(encoding, atol):
    x = np.stack([tone(16000, 0.05), -tone(16000, 0.05, 300.0)], axis=1)  # (n 2)
    back = decode_samples(encode_samples(x, encoding), encoding, channels=2)
    assert back.shape == x.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, x, atol=atol)


def test_int16_full_scale_and_saturation():
    data = encode_samples(np.array([-1.0, 1.0, 2.0, -3.0], np.float32), "int16")
    assert np.frombuffer(data, "<i2").tolist() == [-32768, 32767, 32767, -32768]


def test_bad_layouts_are_rejected():
    with pytest.raises(InputError, match="whole int16 frames"):
        decode_samples(b"\x00\x01\x02", "int16", 1)
    with pytest.raises(InputError, match="not supported"):
        decode_samples(b"", "mp3", 1)
    with pytest.raises(InputError, match="channel count"):
        decode_samples(b"", "float32", 0)
