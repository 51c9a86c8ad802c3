"""Training stages of the audio-to-motion model: which parts learn and from what loss.

Each stage wraps an `AudioToMotion`, freezes what it does not train (frozen parts stay in eval
mode, so their dropout is off), and returns its losses from `forward(batch)` for
training.loop.train. The order (MoMask's, with the paper's audio condition):

  rvq          the RVQ-VAE on motion windows
  masked       front-end (unless frozen) + condition encoder + masked transformer, tokens from the frozen RVQ-VAE
  residual     residual transformer on the frozen condition
  length       length predictor on the frozen condition
  transformers masked + residual + length in one pass (condition computed once: a third of the CPU time)

Front-ends: the log-mel front-end learns with the condition encoder; WavLM and MiniLM are frozen
(as in the paper), so their outputs can be cached on disk (training.stage_data, FeatureCache).
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn

from a2m_core.model import AudioToMotion

STAGES = ("rvq", "masked", "residual", "length", "transformers")


def frontend_is_frozen(model: AudioToMotion) -> bool:
    return model.config.frontend.kind != "logmel"


def frontend_fingerprint(model: AudioToMotion) -> dict:
    """Config plus a hash of the front-end's weights: the key of its feature cache."""
    digest = hashlib.sha1()
    for name, tensor in sorted(model.frontend.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return {"frontend": model.config.to_dict()["frontend"], "weights_sha1": digest.hexdigest()}


class Stage(nn.Module):
    """A model with some parts trainable; the rest frozen and kept in eval mode."""

    def __init__(self, model: AudioToMotion, trainable: tuple[str, ...]):
        super().__init__()
        self.model = model
        self.trainable = trainable
        model.requires_grad_(False)
        for name in trainable:
            getattr(model, name).requires_grad_(True)

    def train(self, mode: bool = True) -> Stage:
        super().train(False)
        for name in self.trainable:
            getattr(self.model, name).train(mode)
        return self


class RVQStage(Stage):
    """batch: motion (b w f) normalised windows -> reconstruction, velocity and commitment losses."""

    def __init__(self, model: AudioToMotion):
        super().__init__(model, ("rvq_vae",))

    def forward(self, batch: dict) -> dict[str, Tensor]:
        losses = self.model.rvq_vae.loss(batch["motion"])
        return {"loss": losses["total"], **{k: v for k, v in losses.items() if k != "total"}}


_TOKEN_STAGES = {
    "masked": ("condition", "masked"),
    "residual": ("residual",),
    "length": ("length_predictor",),
    "transformers": ("condition", "masked", "residual", "length_predictor"),
}


class TokenStage(Stage):
    """batch: utterances (audio or cached front-end features, or captions for a text model), motion, length.

    Motion becomes RVQ tokens with the frozen tokenizer; the losses are those of the parts named
    by `kind` (see _TOKEN_STAGES), summed.
    """

    def __init__(self, model: AudioToMotion, kind: str):
        parts = _TOKEN_STAGES[kind]
        if "condition" in parts and not frontend_is_frozen(model):
            parts = ("frontend", *parts)
        super().__init__(model, parts)
        self.kind = kind

    def condition(self, batch: dict) -> tuple[Tensor, Tensor]:
        model = self.model
        if "audio_features" in batch:  # a frozen front-end's cached output
            return model.condition(batch["audio_features"], batch["features_len"])
        if model.config.condition_input == "text":
            return model.encode_text(batch["caption"])
        return model.encode_audio(batch["audio"], batch["audio_len"])

    def forward(self, batch: dict) -> dict[str, Tensor]:
        model = self.model
        down = model.config.rvq_vae.downsample
        num_tokens = torch.div(batch["length"], down, rounding_mode="floor").clamp(1, model.config.masked.max_tokens)
        frames = int(num_tokens.max()) * down
        codes = model.rvq_vae.encode(batch["motion"][:, :frames])  # (b n q)
        cond, cond_valid = self.condition(batch)
        losses: dict[str, Tensor] = {}
        if "masked" in self.trainable:
            losses["masked"], losses["masked_acc"] = model.masked.loss(codes[..., 0], num_tokens, cond, cond_valid)
        if "residual" in self.trainable:
            losses["residual"], losses["residual_acc"] = model.residual.loss(codes, num_tokens, cond, cond_valid)
        if "length_predictor" in self.trainable:
            losses["length"] = model.length_predictor.loss(cond, cond_valid, num_tokens)
        losses["loss"] = sum(losses[k] for k in ("masked", "residual", "length") if k in losses)
        return losses


def make_stage(name: str, model: AudioToMotion) -> Stage:
    if name == "rvq":
        return RVQStage(model)
    if name in _TOKEN_STAGES:
        return TokenStage(model, name)
    raise ValueError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
