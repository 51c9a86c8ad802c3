"""What the two graphs take and give, without torch: names, decoding settings, shapes.

Backends that only run exported graphs (onnxruntime, TensorRT) import this and never torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# "auto": the fastest that loads, in this order (int8 excepted: it trades some accuracy for speed and
# is only used when named; docs/performance.md "INT8" gives both)
BACKENDS = ("auto", "tensorrt", "onnxruntime", "onnxruntime-int8", "torch")
CONDITION_INPUTS = ("audio", "audio_lens")
CONDITION_OUTPUTS = ("cond", "cond_valid")
MOTION_INPUTS = ("cond", "cond_valid", "lengths", "noise")
MOTION_OUTPUTS = ("tokens", "features", "joints", "motion_lengths")


@dataclass(frozen=True)
class DecodingConfig:
    """Decoding settings baked into graph (b) (paper: 10 iterations, guidance 4 base / 5 residual).

    length_quantile: where no length is given, the motion lasts this quantile of the length
    predictor's distribution (docs/model.md).
    """

    num_iters: int = 10
    cfg_scale: float = 4.0
    res_cfg_scale: float = 5.0
    temperature: float = 1.0
    topk: int | None = None
    length_quantile: float = 0.65

    def __post_init__(self) -> None:
        if self.num_iters < 1:
            raise ValueError(f"DecodingConfig.num_iters must be >= 1, got {self.num_iters}")
        if not self.temperature > 0:
            raise ValueError(f"DecodingConfig.temperature must be > 0, got {self.temperature}")
        if self.topk is not None and self.topk < 1:
            raise ValueError(f"DecodingConfig.topk must be >= 1 or None, got {self.topk}")
        if not 0.0 < self.length_quantile < 1.0:
            raise ValueError(f"DecodingConfig.length_quantile must be in (0, 1), got {self.length_quantile}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GraphSpec:
    """What a backend's graphs expect and produce, read from a model config (or an export's copy)."""

    dataset: str
    fps: float
    max_frames: int
    max_audio_s: float
    noise_dims: tuple[int, int, int]  # (steps, max_tokens, num_codes) per sample
    has_normalization: bool

    @classmethod
    def from_model(cls, model, num_iters: int) -> GraphSpec:
        """From a loaded AudioToMotion and the number of MaskGIT iterations."""
        cfg = model.config
        steps = num_iters + cfg.residual.num_quantizers - 1
        return cls(dataset=cfg.dataset, fps=cfg.fps, max_frames=cfg.max_frames, max_audio_s=cfg.max_audio_s,
                   noise_dims=(steps, cfg.masked.max_tokens, cfg.masked.num_codes),
                   has_normalization=model.normalization is not None)

    @classmethod
    def from_dict(cls, data: dict) -> GraphSpec:
        """Inverse of dataclasses.asdict (export.json keeps one)."""
        return cls(**{**data, "noise_dims": tuple(data["noise_dims"])})


@dataclass(frozen=True)
class GraphOutputs:
    """What graph (b) returns for a batch: tokens (b n q), features (b t f), joints (b t j 3), lengths (b)."""

    tokens: np.ndarray
    features: np.ndarray
    joints: np.ndarray
    lengths: np.ndarray
