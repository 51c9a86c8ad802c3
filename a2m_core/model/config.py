"""The model's config: one frozen dataclass composing the config of each part, checked for consistency.

`AudioToMotionConfig` is what a model folder's config.json holds (`to_dict` / `from_dict`); the
named configurations are in `a2m_core.model.presets`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from a2m_core.model.condition import ConditionConfig
from a2m_core.model.frontend_logmel import LogMelFrontendConfig
from a2m_core.model.frontend_speech_embedding import SpeechEmbeddingFrontendConfig
from a2m_core.model.frontend_wavlm import WavLMFrontendConfig
from a2m_core.model.length_predictor import LengthPredictorConfig
from a2m_core.model.masked_transformer import MaskedTransformerConfig
from a2m_core.model.quantizer import QuantizerConfig
from a2m_core.model.residual_transformer import ResidualTransformerConfig
from a2m_core.model.rvq_vae import RVQVAEConfig
from a2m_core.model.text_encoder import TextFrontendConfig

FrontendConfig = LogMelFrontendConfig | SpeechEmbeddingFrontendConfig | WavLMFrontendConfig | TextFrontendConfig
_FRONTEND_CONFIGS: dict[str, type] = {"logmel": LogMelFrontendConfig, "speech_embedding": SpeechEmbeddingFrontendConfig,
                                      "wavlm": WavLMFrontendConfig, "text_minilm": TextFrontendConfig}
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
