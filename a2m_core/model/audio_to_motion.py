"""The whole model: audio front-end -> condition encoder -> masked + residual transformers -> RVQ-VAE.

`AudioToMotion` holds the trained parts; the decoding loop that turns a condition into tokens
and features is `a2m_core.decoding.generate`. With a text front-end (`TextFrontendConfig`)
the same class is the text-conditioned variant (text baseline, ASR cascade): only the front-end
differs, and `encode_text` replaces `encode_audio`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.model.condition import ConditionEncoder
from a2m_core.model.config import AudioToMotionConfig
from a2m_core.model.frontend_logmel import LogMelFrontend
from a2m_core.model.frontend_speech_embedding import SpeechEmbeddingFrontend
from a2m_core.model.frontend_wavlm import WavLMFrontend
from a2m_core.model.length_predictor import LengthPredictor
from a2m_core.model.masked_transformer import MaskedTransformer
from a2m_core.model.residual_transformer import ResidualTransformer
from a2m_core.model.rvq_vae import RVQVAE
from a2m_core.model.text_encoder import TextFrontend

_FRONTENDS: dict[str, type[nn.Module]] = {"logmel": LogMelFrontend, "speech_embedding": SpeechEmbeddingFrontend,
                                          "wavlm": WavLMFrontend, "text_minilm": TextFrontend}


class AudioToMotion(nn.Module):
    """Audio (or text) condition -> motion tokens -> normalised motion features.

    Public API (stable; see a2m_core.model for the whole list):
      AudioToMotion(config); loading, saving and presets: a2m_core.model.io, a2m_core.model.presets
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
