"""Log-mel front-end: the fixed-DFT convolution against torch.stft, filterbank shape, frame counts."""

from __future__ import annotations

import math

import pytest
import torch

from a2m_core.model.frontend_logmel import LogMelFrontend, LogMelFrontendConfig, LogMelSpectrogram, mel_filterbank


def test_dft_convolution_matches_stft_power():
    config = LogMelFrontendConfig()
    spec = LogMelSpectrogram(config)
    audio = torch.randn(2, 16000) * 0.1
    pad = config.n_fft // 2
    window = torch.zeros(config.n_fft)
    start = (config.n_fft - config.win_len) // 2
    window[start : start + config.win_len] = torch.hann_window(config.win_len, periodic=True)
    stft = torch.stft(torch.nn.functional.pad(audio, (pad, pad)), config.n_fft, config.hop_len, window=window,
                      center=False, return_complex=True)  # (b f n)
    expected_power = stft.abs() ** 2
    real, imag = torch.nn.functional.conv1d(torch.nn.functional.pad(audio[:, None], (pad, pad)), spec.dft,
                                            stride=config.hop_len).chunk(2, dim=1)
    torch.testing.assert_close(real**2 + imag**2, expected_power, rtol=1e-3, atol=1e-4)


def test_log_mel_of_a_tone_peaks_at_its_frequency():
    config = LogMelFrontendConfig()
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * math.pi * 1000.0 * t)[None]
    mel = LogMelSpectrogram(config)(tone)  # (1 n m)
    fb = mel_filterbank(config.num_mels, config.n_fft, 16000, 0.0, 8000.0)
    bin_1k = round(1000 / 8000 * (config.n_fft // 2))
    assert abs(int(mel[0, 25].argmax()) - int(fb[:, bin_1k].argmax())) <= 1  # 1 kHz sits between two filters


def test_filterbank_covers_the_band_with_nonnegative_triangles():
    fb = mel_filterbank(40, 512, 16000, 0.0, 8000.0)
    assert fb.shape == (40, 257)
    assert (fb >= 0).all()
    assert (fb.sum(0)[2:-2] > 0).all()  # every inner frequency bin feeds some filter


@pytest.mark.parametrize("num_samples", [1, 319, 320, 48000])
def test_frontend_shapes_and_lengths(num_samples):
    frontend = LogMelFrontend(LogMelFrontendConfig(dim=48, num_layers=1)).eval()
    feats, lens = frontend(torch.randn(2, num_samples), torch.tensor([num_samples, max(1, num_samples // 2)]))
    assert feats.shape == (2, num_samples // 320 + 1, 48)
    assert lens.tolist() == [num_samples // 320 + 1, max(1, num_samples // 2) // 320 + 1]
    assert torch.isfinite(feats).all()


def test_dft_weights_are_not_saved():
    frontend = LogMelFrontend(LogMelFrontendConfig())
    assert not any("dft" in k or k.endswith(".mel") for k in frontend.state_dict())


@pytest.mark.parametrize("field,value", [("win_len", 1024), ("f_max_hz", 9000.0), ("kernel_size", 4), ("dim", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        LogMelFrontendConfig(**{field: value})
