"""The whole model: audio front-end -> condition encoder -> masked + residual transformers -> RVQ-VAE.

`AudioToMotion` holds the trained parts; the decoding loop that turns a condition into tokens
and features is `a2m_core.generation.generate`. With a text front-end (`TextFrontendConfig`)
the same class is the text-conditioned variant (text baseline, ASR cascade): only the front-end
differs, and `encode_text` replaces `encode_audio`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.model.condition import ConditionConfig, ConditionEncoder
from a2m_core.model.frontend_logmel import LogMelFrontend, LogMelFrontendConfig
from a2m_core.model.frontend_speech_embedding import SpeechEmbeddingFrontend, SpeechEmbeddingFrontendConfig
from a2m_core.model.frontend_wavlm import WavLMFrontend, WavLMFrontendConfig
from a2m_core.model.length_predictor import LengthPredictor, LengthPredictorConfig
from a2m_core.model.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from a2m_core.model.quantizer import QuantizerConfig
from a2m_core.model.residual_transformer import ResidualTransformer, ResidualTransformerConfig
from a2m_core.model.rvq_vae import RVQVAE, RVQVAEConfig
from a2m_core.model.text_encoder import TextFrontend, TextFrontendConfig

FrontendConfig = LogMelFrontendConfig | SpeechEmbeddingFrontendConfig | WavLMFrontendConfig | TextFrontendConfig
_FRONTEND_CONFIGS: dict[str, type] = {"logmel": LogMelFrontendConfig, "speech_embedding": SpeechEmbeddingFrontendConfig,
                                      "wavlm": WavLMFrontendConfig, "text_minilm": TextFrontendConfig}
_FRONTENDS: dict[str, type[nn.Module]] = {"logmel": LogMelFrontend, "speech_embedding": SpeechEmbeddingFrontend,
                                          "wavlm": WavLMFrontend, "text_minilm": TextFrontend}
DATASET_FEATURES = {"humanml3d": (263, 20.0), "kit": (251, 12.5)}  # feature width, frames per second


def frontend_dim(config: FrontendConfig) -> int:
    if isinstance(config, WavLMFrontendConfig):
        return int(config.hf_config["hidden_size"])
    return config.dim


@dataclass(frozen=True)
class AudioToMotionConfig:
    frontend: FrontendConfig
    condition: ConditionConfig
    rvq_vae: RVQVAEConfig
    masked: MaskedTransformerConfig
    residual: ResidualTransformerConfig
    length: LengthPredictorConfig
    dataset: str = "humanml3d"
    max_audio_s: float = 30.0  # longer audio is refused: attention cost grows with its square

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_FEATURES:
            raise ValueError(f"AudioToMotionConfig.dataset must be one of {sorted(DATASET_FEATURES)}, got {self.dataset!r}")
        q = self.rvq_vae.quantizer
        checks = {
            "condition.dim_in == front-end width": self.condition.dim_in == frontend_dim(self.frontend),
            "masked.cond_dim == condition.dim": self.masked.cond_dim == self.condition.dim,
            "residual.cond_dim == condition.dim": self.residual.cond_dim == self.condition.dim,
            "length.cond_dim == condition.dim": self.length.cond_dim == self.condition.dim,
            "masked.num_codes == residual.num_codes == quantizer.num_codes":
                self.masked.num_codes == self.residual.num_codes == q.num_codes,
            "residual.num_quantizers == quantizer.num_quantizers": self.residual.num_quantizers == q.num_quantizers,
            "masked.max_tokens == residual.max_tokens == length.max_tokens":
                self.masked.max_tokens == self.residual.max_tokens == self.length.max_tokens,
            "rvq_vae.dim_motion == the dataset's feature width":
                self.rvq_vae.dim_motion == DATASET_FEATURES[self.dataset][0],
        }
        broken = [name for name, ok in checks.items() if not ok]
        if broken:
            raise ValueError(f"AudioToMotionConfig is inconsistent: need {'; '.join(broken)}")
        if self.max_audio_s <= 0:
            raise ValueError(f"AudioToMotionConfig.max_audio_s must be > 0, got {self.max_audio_s}")

    @property
    def fps(self) -> float:
        return DATASET_FEATURES[self.dataset][1]

    @property
    def max_frames(self) -> int:
        """Longest motion in frames (max_tokens x downsampling)."""
        return self.masked.max_tokens * self.rvq_vae.downsample

    @property
    def condition_input(self) -> str:
        """'text' for the text-conditioned variant, else 'audio'."""
        return "text" if isinstance(self.frontend, TextFrontendConfig) else "audio"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioToMotionConfig:
        """Inverse of to_dict; raises KeyError / TypeError / ValueError on a malformed dict."""
        frontend = dict(data["frontend"])
        frontend_cls = _FRONTEND_CONFIGS.get(frontend.get("kind", ""))
        if frontend_cls is None:
            raise ValueError(f"unknown front-end kind {frontend.get('kind')!r}; known: {sorted(_FRONTEND_CONFIGS)}")
        rvq = dict(data["rvq_vae"])
        rvq["quantizer"] = QuantizerConfig(**rvq["quantizer"])
        scalars = {k: v for k, v in data.items()
                   if k not in ("frontend", "condition", "rvq_vae", "masked", "residual", "length")}
        return cls(frontend=frontend_cls(**frontend), condition=ConditionConfig(**data["condition"]),
                   rvq_vae=RVQVAEConfig(**rvq), masked=MaskedTransformerConfig(**data["masked"]),
                   residual=ResidualTransformerConfig(**data["residual"]),
                   length=LengthPredictorConfig(**data["length"]), **scalars)

    def with_frontend(self, frontend: FrontendConfig) -> AudioToMotionConfig:
        """Same model with another front-end config of the same width (e.g. pretrained WavLM)."""
        return replace(self, frontend=frontend)


class AudioToMotion(nn.Module):
    """Audio (or text) condition -> motion tokens -> normalised motion features.

    Public API (stable; see a2m_core.model for the whole list):
      AudioToMotion(config), AudioToMotion.from_preset(name), AudioToMotion.load(dir), model.save(dir)
      model.encode_audio(audio (b s) float 16 kHz, audio_lens (b)) -> cond (b m d), cond_valid (b m)
      model.encode_text(list of b str) -> cond, cond_valid            (text variant only)
      model.normalization: (mean, std) float32 arrays (dim_motion,) or None; set by training, saved with the model
    """

    def __init__(self, config: AudioToMotionConfig):
        super().__init__()
        self.config = config
        self.frontend = _FRONTENDS[config.frontend.kind](config.frontend)
        self.condition = ConditionEncoder(config.condition)
        self.rvq_vae = RVQVAE(config.rvq_vae)
        self.masked = MaskedTransformer(config.masked)
        self.residual = ResidualTransformer(config.residual)
        self.length_predictor = LengthPredictor(config.length)
        self.normalization: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_preset(cls, name: str, dataset: str = "humanml3d", **overrides: Any) -> AudioToMotion:
        """A randomly initialised model of a preset ('paper', 'edge', 'text', 'tiny') for a dataset's
        features ('humanml3d', 'kit'), in eval mode."""
        from a2m_core.model.presets import preset_config

        return cls(preset_config(name, dataset, **overrides)).eval()

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> AudioToMotion:
        """Load a model folder (config.json + model.safetensors [+ Mean.npy, Std.npy]); eval mode."""
        from a2m_core.model.io import load_model

        return load_model(directory, map_location=map_location)

    def save(self, directory: str | Path) -> Path:
        """Write this model as a folder; returns its path."""
        from a2m_core.model.io import save_model

        return save_model(self, directory)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> dict[str, int]:
        """Parameter count per component and in total (codebooks are buffers and not counted)."""
        counts = {name: sum(p.numel() for p in module.parameters()) for name, module in self.named_children()}
        counts["total"] = sum(counts.values())
        return counts

    def check_audio(self, audio: Tensor, audio_lens: Tensor) -> None:
        """InputError unless audio (b s) float and audio_lens (b) integer lengths are usable."""
        if self.config.condition_input != "audio":
            raise InputError("this is a text-conditioned model: call encode_text with instructions, not audio")
        if audio.ndim != 2 or not audio.is_floating_point():
            raise InputError(f"audio must be a float tensor (batch, samples) of 16 kHz mono, got "
                             f"{audio.dtype} {tuple(audio.shape)}; downmix and resample first (a2m_core.audio.io)")
        if audio_lens.shape != (audio.shape[0],) or audio_lens.is_floating_point():
            raise InputError(f"audio_lens must be integers, one per batch row ({audio.shape[0]}), "
                             f"got {audio_lens.dtype} {tuple(audio_lens.shape)}")
        if audio.shape[0] == 0 or audio.shape[1] == 0:
            raise InputError(f"audio is empty (shape {tuple(audio.shape)}): expected at least one clip of speech")
        min_samples = self.frontend.min_samples if isinstance(self.frontend, WavLMFrontend) else 1
        max_samples = int(self.config.max_audio_s * 16000)
        if (int(audio_lens.min()) < min_samples or int(audio_lens.max()) > audio.shape[1]):
            raise InputError(f"audio lengths must be between {min_samples} samples and the padded length "
                             f"{audio.shape[1]}, got {audio_lens.tolist()}")
        if int(audio_lens.max()) > max_samples:
            raise InputError(f"audio of {int(audio_lens.max()) / 16000:.1f} s is longer than this model's "
                             f"{self.config.max_audio_s:.0f} s limit: split the instruction (or use VAD)")
        if not bool(torch.isfinite(audio).all()):
            raise InputError("audio contains NaN or infinite samples: check the source")

    def encode_audio(self, audio: Tensor, audio_lens: Tensor) -> tuple[Tensor, Tensor]:
        """audio (b s) float 16 kHz mono, zero padded; audio_lens (b) -> cond (b m d), cond_valid (b m)."""
        self.check_audio(audio, audio_lens)
        feats, feat_lens = self.frontend(audio, audio_lens)  # (b n c), (b)
        return self.condition(feats, feat_lens)

    def encode_text(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """texts (b) -> cond (b m d), cond_valid (b m); text-conditioned models only."""
        if self.config.condition_input != "text":
            raise InputError("this is an audio model: call encode_audio, or load a text-conditioned model")
        feats, feat_lens = self.frontend(texts)
        return self.condition(feats, feat_lens)
