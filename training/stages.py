"""Training stages of the audio-to-motion model: which parts learn and from what loss.

Each stage wraps an `AudioToMotion`, freezes what it does not train (frozen parts stay in eval
mode, so their dropout is off), and returns its losses from `forward(batch)` for
training.loop.train. The order (MoMask's, with the paper's audio condition):

  rvq          the RVQ-VAE on motion windows
  condition    front-end + condition encoder, supervised by the instruction's slots (corpus only;
               see training.instruction_slots): teaches a front-end trained from scratch the words
  masked       front-end (unless frozen) + condition encoder + masked transformer, tokens from the frozen RVQ-VAE
  residual     residual transformer on the frozen condition
  length       length predictor on the frozen condition
  transformers masked + residual + length in one pass (condition computed once: a third of the CPU time)
  decoders     masked + residual + length on the frozen condition (after `condition`); the
               condition of each utterance is computed once and cached on disk

Front-ends: the log-mel front-end learns with the condition encoder; the speech embedding, WavLM
and MiniLM are frozen (as in the paper) unless their config says `trainable`, so their outputs
can be cached on disk (training.stage_data, FeatureCache); where the condition encoder is frozen
too, its output is what the cache holds.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn

from a2m_core.model import AudioToMotion
from a2m_core.model.layers import lengths_to_mask
from training.instruction_slots import SlotProbe, WordProbe, pooled_condition

STAGES = ("rvq", "condition", "masked", "residual", "length", "transformers", "decoders")


def frontend_is_frozen(model: AudioToMotion) -> bool:
    """The log-mel front-end learns; pretrained ones only where their config says `trainable`."""
    frontend = model.config.frontend
    return frontend.kind != "logmel" and not frontend.trainable


def frontend_fingerprint(model: AudioToMotion, with_condition: bool = False) -> dict:
    """Config plus a hash of the front-end's weights (and the condition encoder's, with_condition):
    the key of their feature cache."""
    parts = ("frontend", "condition") if with_condition else ("frontend",)
    digest = hashlib.sha1()
    for part in parts:
        for name, tensor in sorted(getattr(model, part).state_dict().items()):
            digest.update(f"{part}.{name}".encode())
            digest.update(tensor.detach().cpu().float().numpy().tobytes())
    config = model.config.to_dict()
    return {**{part: config[part] for part in parts}, "weights_sha1": digest.hexdigest()}


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
    "decoders": ("masked", "residual", "length_predictor"),
}


def frontend_features(model: AudioToMotion, batch: dict) -> tuple[Tensor, Tensor]:
    """The front-end's output feats (b n c), feat_lens (b) for a batch: cached on disk, or computed
    from the audio (checked) or, for a text model, the captions."""
    if "audio_features" in batch:
        return batch["audio_features"], batch["features_len"]
    if model.config.condition_input == "text":
        return model.frontend(batch["caption"])
    model.check_audio(batch["audio"], batch["audio_len"])
    return model.frontend(batch["audio"], batch["audio_len"])


def condition_of(stage: Stage, batch: dict) -> tuple[Tensor, Tensor]:
    """The batch's condition (b m d), cond_valid (b m).

    A cache ("audio_features", "features_len") holds the frozen front-end's output, or the
    frozen condition itself where the condition encoder is frozen too (training.runner).
    """
    if "audio_features" in batch and "condition" not in stage.trainable:
        cond, lens = batch["audio_features"], batch["features_len"]
        return cond, lengths_to_mask(lens, cond.shape[1])
    return stage.model.condition(*frontend_features(stage.model, batch))


class ConditionStage(Stage):
    """batch: utterances with slot targets (b slots fields) and transcripts -> the slot cross entropy
    of the pooled condition plus the word-bag loss of the per-frame states (training.instruction_slots);
    with a teacher's condition (b m d) in the batch (training.runner, `distill`) also the fraction of
    its variance the condition misses (mean squared error over the batch's variance per channel),
    weighted by DISTILL_WEIGHT so that it leads.

    The probes are the stage's own modules: checkpoints hold them, the saved model does not.
    vocabulary: the word probe's words (WordProbe.vocabulary_of the training transcripts).
    """

    def __init__(self, model: AudioToMotion, vocabulary: list[str]):
        super().__init__(model, ("condition",) if frontend_is_frozen(model) else ("frontend", "condition"))
        self.slot_probe = SlotProbe(model.config.condition.dim)
        self.word_probe = WordProbe(model.config.condition.dim, vocabulary)

    def forward(self, batch: dict) -> dict[str, Tensor]:
        model = self.model
        cond, cond_valid, frames, frames_valid = model.condition.encode(*frontend_features(model, batch))
        words = batch["caption" if model.config.condition_input == "text" else "text"]
        losses = {**self.slot_probe.loss(pooled_condition(cond, cond_valid), batch["slots"]),
                  **self.word_probe.loss(frames, frames_valid, words)}
        total = losses["slots"] + losses["words"]
        if "teacher_condition" in batch:
            losses["distill"] = unexplained_variance(cond, batch["teacher_condition"])
            total = total + DISTILL_WEIGHT * losses["distill"]
        return {"loss": total, **losses}


DISTILL_WEIGHT = 10.0  # unexplained variance 1.0 at the start against slot + word losses of ~20 together


def unexplained_variance(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over the target's variance across the batch (b m d) -> (): 0 is a perfect
    copy, 1 no better than the batch mean."""
    variance = target.var(dim=0, unbiased=False).mean().clamp(min=1e-6)
    return (prediction - target).pow(2).mean() / variance


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

    def forward(self, batch: dict) -> dict[str, Tensor]:
        model = self.model
        down = model.config.rvq_vae.downsample
        num_tokens = torch.div(batch["length"], down, rounding_mode="floor").clamp(1, model.config.masked.max_tokens)
        frames = int(num_tokens.max()) * down
        codes = model.rvq_vae.encode(batch["motion"][:, :frames])  # (b n q)
        cond, cond_valid = condition_of(self, batch)
        losses: dict[str, Tensor] = {}
        if "masked" in self.trainable:
            losses["masked"], losses["masked_acc"] = model.masked.loss(codes[..., 0], num_tokens, cond, cond_valid)
        if "residual" in self.trainable:
            losses["residual"], losses["residual_acc"] = model.residual.loss(codes, num_tokens, cond, cond_valid)
        if "length_predictor" in self.trainable:
            losses["length"] = model.length_predictor.loss(cond, cond_valid, num_tokens)
        losses["loss"] = sum(losses[k] for k in ("masked", "residual", "length") if k in losses)
        return losses


def make_stage(name: str, model: AudioToMotion, vocabulary: list[str] | None = None) -> Stage:
    if name == "rvq":
        return RVQStage(model)
    if name == "condition":
        if vocabulary is None:
            raise ValueError("the condition stage needs the word probe's vocabulary")
        return ConditionStage(model, vocabulary)
    if name in _TOKEN_STAGES:
        return TokenStage(model, name)
    raise ValueError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
