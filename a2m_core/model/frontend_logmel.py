"""A small log-mel audio front-end trained from scratch (for edge devices and the default model).

The short-time Fourier transform is a strided Conv1d whose fixed weights are the windowed DFT
basis (cosine and sine rows), so the whole front-end exports to ONNX / TensorRT as plain
convolutions, with no STFT operator. The fixed weights are rebuilt from the config and are not
saved. Frame rate is 50 per second at 16 kHz (hop 320), the same as WavLM's, so condition
encoders see the same time scale with either front-end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.model.layers import check_positive


@dataclass(frozen=True)
class LogMelFrontendConfig:
    kind: Literal["logmel"] = "logmel"
    sample_rate_hz: int = SAMPLE_RATE_HZ
    n_fft: int = 512
    win_len: int = 400  # 25 ms Hann window, centred in the n_fft frame
    hop_len: int = 320  # 20 ms: 50 frames/s like WavLM
    num_mels: int = 80
    f_min_hz: float = 0.0
    f_max_hz: float = SAMPLE_RATE_HZ / 2  # Nyquist
    dim: int = 256  # output width
    num_layers: int = 2  # residual conv blocks after the input projection
    kernel_size: int = 5

    def __post_init__(self) -> None:
        check_positive("LogMelFrontendConfig", sample_rate_hz=self.sample_rate_hz, n_fft=self.n_fft,
                       win_len=self.win_len, hop_len=self.hop_len, num_mels=self.num_mels, dim=self.dim,
                       kernel_size=self.kernel_size)
        if self.win_len > self.n_fft:
            raise ValueError(f"LogMelFrontendConfig: win_len {self.win_len} exceeds n_fft {self.n_fft}")
        if not 0 <= self.f_min_hz < self.f_max_hz <= self.sample_rate_hz / 2:
            raise ValueError(f"LogMelFrontendConfig: need 0 <= f_min_hz < f_max_hz <= Nyquist, "
                             f"got {self.f_min_hz}, {self.f_max_hz}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"LogMelFrontendConfig: kernel_size must be odd, got {self.kernel_size}")
        if self.num_layers < 0:
            raise ValueError(f"LogMelFrontendConfig: num_layers must be >= 0, got {self.num_layers}")


def dft_basis(n_fft: int, win_len: int) -> Tensor:
    """(2 * (n_fft // 2 + 1), 1, n_fft) windowed cosine rows then sine rows, as Conv1d weights."""
    window = torch.zeros(n_fft, dtype=torch.float64)
    start = (n_fft - win_len) // 2
    window[start : start + win_len] = torch.hann_window(win_len, periodic=True, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * k * n / n_fft
    basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window  # (2f n_fft)
    return basis[:, None, :].float()


def mel_filterbank(num_mels: int, n_fft: int, sample_rate_hz: int, f_min_hz: float, f_max_hz: float) -> Tensor:
    """(num_mels, n_fft // 2 + 1) triangular HTK-mel filters with Slaney area normalisation."""

    def hz_to_mel(f: float) -> float:  # plain floats: every tensor here comes from a factory on one device
        return 2595.0 * math.log10(1.0 + f / 700.0)

    freqs = torch.linspace(0, sample_rate_hz / 2, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(hz_to_mel(f_min_hz), hz_to_mel(f_max_hz), num_mels + 2, dtype=torch.float64)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)  # (num_mels + 2) back in Hz
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    filters = filters * (2.0 / (upper - lower))  # equal area per filter
    return filters.float()


class LogMelSpectrogram(nn.Module):
    """16 kHz audio -> log-mel frames, with the DFT as a fixed-weight Conv1d."""

    def __init__(self, config: LogMelFrontendConfig):
        super().__init__()
        self.config = config
        self.register_buffer("dft", dft_basis(config.n_fft, config.win_len), persistent=False)
        self.register_buffer("mel", mel_filterbank(config.num_mels, config.n_fft, config.sample_rate_hz,
                                                   config.f_min_hz, config.f_max_hz), persistent=False)

    def num_frames(self, audio_lens: Tensor) -> Tensor:
        """Frames covering audio_lens samples (b) -> (b)."""
        return torch.div(audio_lens, self.config.hop_len, rounding_mode="floor") + 1

    def forward(self, audio: Tensor) -> Tensor:
        """audio (b s) float -> log-mel (b n num_mels), n = s // hop_len + 1."""
        pad = self.config.n_fft // 2
        x = F.pad(audio[:, None, :], (pad, pad))  # (b 1 s+2pad); zero padding exports everywhere
        spec = F.conv1d(x, self.dft, stride=self.config.hop_len)  # (b 2f n)
        real, imag = spec.chunk(2, dim=1)
        power = real**2 + imag**2  # (b f n)
        mel = torch.einsum("mf,bfn->bnm", self.mel, power)
        return (torch.log10(mel + 1e-10) + 4.0) / 4.0  # roughly zero-mean, unit-range for speech


class ConvBlock(nn.Module):
    """Residual pre-norm Conv1d block over (b n d)."""

    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv(self.norm(x).transpose(1, 2)).transpose(1, 2)  # (b n d)
        return x + F.gelu(h)


class LogMelFrontend(nn.Module):
    """Audio (b s) at 16 kHz -> features (b n dim) at 50 frames/s and their lengths (b)."""

    def __init__(self, config: LogMelFrontendConfig):
        super().__init__()
        self.config = config
        self.spectrogram = LogMelSpectrogram(config)
        self.proj = nn.Conv1d(config.num_mels, config.dim, config.kernel_size, padding=config.kernel_size // 2)
        self.blocks = nn.ModuleList(ConvBlock(config.dim, config.kernel_size) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.dim)

    @property
    def dim(self) -> int:
        return self.config.dim

    def forward(self, audio: Tensor, audio_lens: Tensor) -> tuple[Tensor, Tensor]:
        """audio (b s) float, audio_lens (b) int -> feats (b n dim), feat_lens (b)."""
        mel = self.spectrogram(audio)  # (b n m)
        h = F.gelu(self.proj(mel.transpose(1, 2))).transpose(1, 2)  # (b n d)
        for block in self.blocks:
            h = block(h)
        return self.norm(h), self.spectrogram.num_frames(audio_lens)
