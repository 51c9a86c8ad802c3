"""WavLM audio front-end (the paper's): the last hidden layer of a `transformers` WavLMModel.

Weights come from a local folder or a hub id through `WavLMModel.from_pretrained`
(`WavLMFrontend.from_pretrained`). Once part of an a2m model, the WavLM weights are saved in
the model's own safetensors file and its architecture in the model's config.json
(`hf_config`), so loading an a2m model never needs the hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from a2m_core.errors import InputError


def _base_plus_architecture() -> dict[str, Any]:
    """WavLM Base+ sizes (12 layers, 768 wide): transformers' WavLMConfig defaults."""
    from transformers import WavLMConfig

    return WavLMConfig().to_dict()


@dataclass(frozen=True)
class WavLMFrontendConfig:
    kind: Literal["wavlm"] = "wavlm"
    hf_config: dict[str, Any] = field(default_factory=_base_plus_architecture)  # transformers WavLMConfig.to_dict()
    source: str | None = None  # folder or hub id the weights came from; None: random init
    normalize_audio: bool = False  # per-utterance zero mean / unit variance; Base+ was trained without
    trainable: bool = False  # the paper keeps WavLM frozen

    def __post_init__(self) -> None:
        if self.hf_config.get("model_type") != "wavlm":
            raise ValueError(f"WavLMFrontendConfig.hf_config must be a WavLM config, "
                             f"got model_type {self.hf_config.get('model_type')!r}")


class WavLMFrontend(nn.Module):
    """Audio (b s) at 16 kHz -> WavLM last hidden states (b n 768) at 50 frames/s and lengths (b)."""

    def __init__(self, config: WavLMFrontendConfig):
        super().__init__()
        from transformers import WavLMConfig, WavLMModel

        self.config = config
        self.wavlm = WavLMModel(WavLMConfig.from_dict(config.hf_config))
        self.wavlm.requires_grad_(config.trainable)

    @classmethod
    def from_pretrained(cls, source: str, *, trainable: bool = False, normalize_audio: bool = False) -> WavLMFrontend:
        """Load WavLM weights from a local folder or a hub id."""
        from transformers import WavLMModel

        try:
            wavlm = WavLMModel.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise InputError(f"could not load WavLM from {source!r}: {exc}. Give a folder holding a WavLM "
                             "config.json and weights (e.g. a download of microsoft/wavlm-base-plus) or a "
                             "hub id reachable from this machine") from exc
        config = WavLMFrontendConfig(hf_config=wavlm.config.to_dict(), source=str(source),
                                     normalize_audio=normalize_audio, trainable=trainable)
        frontend = cls(config)
        frontend.wavlm.load_state_dict(wavlm.state_dict())
        return frontend

    @property
    def dim(self) -> int:
        return int(self.config.hf_config["hidden_size"])

    @property
    def min_samples(self) -> int:
        """Shortest audio that yields one frame (400 samples, 25 ms, for the standard conv stack)."""
        length = 1
        for kernel, stride in zip(reversed(self.wavlm.config.conv_kernel), reversed(self.wavlm.config.conv_stride)):
            length = (length - 1) * stride + kernel
        return length

    def forward(self, audio: Tensor, audio_lens: Tensor) -> tuple[Tensor, Tensor]:
        """audio (b s) float, audio_lens (b) int -> feats (b n 768), feat_lens (b)."""
        valid = torch.arange(audio.shape[1], device=audio.device)[None, :] < audio_lens[:, None]  # (b s)
        if self.config.normalize_audio:
            count = audio_lens[:, None].clamp(min=1).to(audio.dtype)
            mean = (audio * valid).sum(1, keepdim=True) / count
            var = (((audio - mean) * valid) ** 2).sum(1, keepdim=True) / count
            audio = (audio - mean) / torch.sqrt(var + 1e-7) * valid
        # Group-norm WavLMs (Base, Base+) were trained on zero-padded batches without a mask; their
        # first layer normalises over the padded length, so padding shifts valid frames slightly.
        mask = valid.long() if self.wavlm.config.feat_extract_norm == "layer" else None
        hidden = self.wavlm(audio, attention_mask=mask).last_hidden_state  # (b n 768)
        feat_lens = self.wavlm._get_feat_extract_output_lengths(audio_lens).to(audio_lens.dtype)
        return hidden, feat_lens.clamp(max=hidden.shape[1])
