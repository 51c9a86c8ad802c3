"""The two graphs every backend runs: (a) audio -> condition, (b) condition -> motion.

This split measured best (project docs, export facts): graph (a) has a dynamic batch and audio
length; graph (b) has a dynamic batch and a fixed token count (`max_tokens`), with the MaskGIT
and residual iterations unrolled and all randomness fed in as Gumbel noise. The torch backend
runs these same modules eagerly, so every backend computes the same function.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from a2m_core.decoding import generate_from_condition, noise_shape
from a2m_core.model import AudioToMotion
from a2m_core.motion.skeleton import SKELETONS
from a2m_core.runtime.interface import DecodingConfig
from a2m_core.runtime.joints import cumulative_sum_matrix, features_to_joints


class ConditionGraph(nn.Module):
    """Graph (a): audio (b s) float32 16 kHz, audio_lens (b) int64 -> cond (b m d), cond_valid (b m) bool.

    Input checks live in the caller (`Backend`), so the graph holds only tensor operations.
    """

    def __init__(self, model: AudioToMotion):
        super().__init__()
        if model.config.condition_input != "audio":
            raise ValueError("ConditionGraph needs an audio model; this one is text-conditioned")
        self.frontend = model.frontend
        self.condition = model.condition

    def forward(self, audio: Tensor, audio_lens: Tensor) -> tuple[Tensor, Tensor]:
        feats, feat_lens = self.frontend(audio, audio_lens)  # (b n c), (b)
        return self.condition(feats, feat_lens)


class MotionGraph(nn.Module):
    """Graph (b): condition + lengths + noise -> tokens, raw features, joints, lengths.

    cond (b m d), cond_valid (b m) bool, lengths (b) int64 frames (<= 0: predicted from the
    condition), noise (b s n k) Gumbel (`noise_shape`) -> tokens (b n q) int64, features (b t f)
    float32 in dataset units (still normalised when the model has no Mean/Std), joints (b t j 3),
    motion_lengths (b) int64 frames; t = max_tokens x downsampling, zero after each length.
    """

    def __init__(self, model: AudioToMotion, decoding: DecodingConfig = DecodingConfig()):
        super().__init__()
        self.model = model
        self.decoding = decoding
        cfg = model.config
        self.num_joints = SKELETONS[cfg.dataset].num_joints
        if model.normalization is not None:
            mean, std = (torch.as_tensor(a, dtype=torch.float32) for a in model.normalization)
        else:
            mean, std = torch.zeros(cfg.rvq_vae.dim_motion), torch.ones(cfg.rvq_vae.dim_motion)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.register_buffer("tri", cumulative_sum_matrix(cfg.max_frames), persistent=False)

    def noise_shape(self, batch: int) -> tuple[int, int, int, int]:
        return noise_shape(self.model, batch, self.decoding.num_iters)

    def forward(self, cond: Tensor, cond_valid: Tensor, lengths: Tensor, noise: Tensor
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        model, d = self.model, self.decoding
        down = model.config.rvq_vae.downsample
        predicted = model.length_predictor.predict(cond, cond_valid, d.length_quantile) * down  # (b) frames
        frames = torch.where(lengths > 0, lengths, predicted)
        out = generate_from_condition(model, cond, cond_valid, frames, noise, **d.to_dict(),
                                      num_positions=model.config.masked.max_tokens)
        valid = torch.arange(out.features.shape[1], device=cond.device)[None, :] < out.lengths[:, None]  # (b t)
        features = torch.where(valid[..., None], out.features * self.std + self.mean,
                               torch.zeros_like(out.features))  # (b t f)
        joints = features_to_joints(features, self.num_joints, self.tri)  # (b t j 3)
        joints = torch.where(valid[..., None, None], joints, torch.zeros_like(joints))
        return out.tokens, features, joints, out.lengths
