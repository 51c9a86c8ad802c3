"""Condition encoders: front-end features (b n c) -> the condition the transformers attend to.

All kinds share one interface, `ConditionEncoder(config)(feats, feat_lens) -> (cond (b m d),
cond_valid (b m) bool)`; the transformers take the condition as prefix tokens, so a fixed-size
condition (m constant) and a per-frame one (m follows the audio) both fit. `encode` also returns
the per-frame states the condition is compressed from (training supervises them; see
training.instruction_slots).

- `memory_retrieval` (the paper's): a linear query per audio frame attends over a learnable memory
  of `num_memory` tokens used as keys and values; positional encoding and encoder layers follow.
  What is retrieved is added to the query (a residual the paper does not spell out): at
  initialisation the attention over the memory is uniform, so retrieval alone hands every frame
  the same vector (measured on speech: 0.0000 standard deviation across frames), and a model
  trained from scratch on it never sees its audio (it stays at chance).
  The paper compresses this into a compact condition without saying how, so `output` chooses:
  `fixed` pools the frames into `num_cond_tokens` tokens with learned-query attention; `per_frame`
  keeps one token per audio frame.
- Ablations (paper Table 6): `avgpool` (average of every `pool` frames, e.g. AvgPool-8/32/64 read as
  the pooling window), `conv1d` (strided convolutions, downsampling by `pool`), `transformer_cls`
  (a transformer encoder whose CLS token is the condition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.layers import SinusoidalPositions, check_divisible, check_positive, encoder_stack, lengths_to_mask

ConditionKind = Literal["memory_retrieval", "avgpool", "conv1d", "transformer_cls"]
Encoded = tuple[Tensor, Tensor, Tensor, Tensor]  # cond (b m d), cond_valid (b m), frames (b n d), frames_valid (b n)


@dataclass(frozen=True)
class ConditionConfig:
    kind: ConditionKind = "memory_retrieval"
    dim_in: int = 768  # front-end width
    dim: int = 512
    num_memory: int = 256  # memory_retrieval: learnable key/value tokens
    output: Literal["fixed", "per_frame"] = "fixed"  # memory_retrieval only
    num_cond_tokens: int = 1  # memory_retrieval with fixed output
    pool: int = 8  # avgpool window / conv1d downsampling factor (a power of 2 for conv1d)
    num_layers: int = 2
    num_heads: int = 8
    ff_mult: int = 4
    dropout: float = 0.1
    max_frames: int = 3000  # 60 s at 50 frames/s: the positional table size

    def __post_init__(self) -> None:
        check_positive("ConditionConfig", dim_in=self.dim_in, dim=self.dim, num_memory=self.num_memory,
                       num_cond_tokens=self.num_cond_tokens, pool=self.pool, num_heads=self.num_heads,
                       ff_mult=self.ff_mult, max_frames=self.max_frames)
        check_divisible("ConditionConfig", self.dim, self.num_heads)
        if self.kind not in ("memory_retrieval", "avgpool", "conv1d", "transformer_cls"):
            raise ValueError(f"ConditionConfig.kind: unknown {self.kind!r}")
        if self.output not in ("fixed", "per_frame"):
            raise ValueError(f"ConditionConfig.output must be 'fixed' or 'per_frame', got {self.output!r}")
        if self.kind == "conv1d" and self.pool & (self.pool - 1):
            raise ValueError(f"ConditionConfig.pool must be a power of 2 for conv1d, got {self.pool}")
        if self.num_layers < 1 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ConditionConfig: bad num_layers {self.num_layers} or dropout {self.dropout}")

    @property
    def is_fixed_size(self) -> bool:
        return self.kind == "transformer_cls" or (self.kind == "memory_retrieval" and self.output == "fixed")


class AttentionPool(nn.Module):
    """num_queries learned queries attend over valid frames: (b n d) -> (b q d)."""

    def __init__(self, dim: int, num_queries: int, num_heads: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        q = self.queries.expand(x.shape[0], -1, -1)  # (b q d)
        out, _ = self.attn(q, x, x, key_padding_mask=~valid, need_weights=False)
        return out


class MemoryRetrievalEncoder(nn.Module):
    """The paper's encoder: per-frame queries retrieve from a learnable memory, then encoder layers."""

    def __init__(self, config: ConditionConfig):
        super().__init__()
        self.config = config
        self.query = nn.Linear(config.dim_in, config.dim)
        self.memory = nn.Parameter(torch.randn(config.num_memory, config.dim) / math.sqrt(config.dim))
        self.retrieve = nn.MultiheadAttention(config.dim, config.num_heads, batch_first=True)
        self.positions = SinusoidalPositions(config.dim, config.max_frames)
        self.encoder = encoder_stack(config.dim, config.num_layers, config.num_heads, config.ff_mult, config.dropout)
        self.pool = AttentionPool(config.dim, config.num_cond_tokens, config.num_heads) if config.is_fixed_size else None
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, feats: Tensor, feat_lens: Tensor) -> Encoded:
        valid = lengths_to_mask(feat_lens, feats.shape[1])  # (b n)
        q = self.query(feats)  # (b n d)
        memory = self.memory.expand(feats.shape[0], -1, -1)  # (b k d)
        retrieved, _ = self.retrieve(q, memory, memory, need_weights=False)  # (b n d)
        h = self.encoder(self.positions(q + retrieved), src_key_padding_mask=~valid)  # (b n d)
        if self.pool is None:
            return self.norm(h), valid, h, valid
        cond = self.pool(h, valid)  # (b q d)
        return self.norm(cond), torch.ones(cond.shape[:2], dtype=torch.bool, device=cond.device), h, valid


class AvgPoolEncoder(nn.Module):
    """Ablation AvgPool-k: project, then average every `pool` valid frames into one token."""

    def __init__(self, config: ConditionConfig):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.dim_in, config.dim)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, feats: Tensor, feat_lens: Tensor) -> Encoded:
        k = self.config.pool
        n = feats.shape[1]
        m = (n + k - 1) // k
        h = F.pad(self.proj(feats), (0, 0, 0, m * k - n))  # (b m*k d)
        weight = lengths_to_mask(feat_lens, m * k).to(h.dtype).reshape(h.shape[0], m, k, 1)  # (b m k 1)
        h = h.reshape(h.shape[0], m, k, -1)  # (b m k d)
        pooled = (h * weight).sum(2) / weight.sum(2).clamp(min=1.0)  # (b m d)
        cond_lens = torch.div(feat_lens + k - 1, k, rounding_mode="floor")
        cond, cond_valid = self.norm(pooled), lengths_to_mask(cond_lens, m)
        return cond, cond_valid, cond, cond_valid


class Conv1dEncoder(nn.Module):
    """Ablation Conv1d: stride-2 convolutions down to 1/pool of the frame rate."""

    def __init__(self, config: ConditionConfig):
        super().__init__()
        self.config = config
        self.num_down = int(math.log2(config.pool))
        dims = [config.dim_in] + [config.dim] * max(self.num_down, 1)
        self.convs = nn.ModuleList(
            nn.Conv1d(dims[i], dims[i + 1], 3, stride=2 if i < self.num_down else 1, padding=1)
            for i in range(len(dims) - 1)
        )
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, feats: Tensor, feat_lens: Tensor) -> Encoded:
        valid = lengths_to_mask(feat_lens, feats.shape[1])
        h = (feats * valid[..., None]).transpose(1, 2)  # (b c n)
        lens = feat_lens
        for i, conv in enumerate(self.convs):
            h = F.gelu(conv(h))
            if i < self.num_down:
                lens = torch.div(lens + 1, 2, rounding_mode="floor")  # ceil: output of k3 s2 p1
        h = h.transpose(1, 2)  # (b m d)
        cond, cond_valid = self.norm(h), lengths_to_mask(lens, h.shape[1])
        return cond, cond_valid, cond, cond_valid


class TransformerClsEncoder(nn.Module):
    """Ablation Transformer-CLS: a CLS token prepended to the projected frames is the condition."""

    def __init__(self, config: ConditionConfig):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.dim_in, config.dim)
        self.cls = nn.Parameter(torch.randn(1, 1, config.dim) * 0.02)
        self.positions = SinusoidalPositions(config.dim, config.max_frames + 1)
        self.encoder = encoder_stack(config.dim, config.num_layers, config.num_heads, config.ff_mult, config.dropout)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, feats: Tensor, feat_lens: Tensor) -> Encoded:
        b = feats.shape[0]
        h = torch.cat([self.cls.expand(b, -1, -1), self.proj(feats)], dim=1)  # (b 1+n d)
        valid = lengths_to_mask(feat_lens + 1, h.shape[1])
        h = self.encoder(self.positions(h), src_key_padding_mask=~valid)
        return self.norm(h[:, :1]), torch.ones(b, 1, dtype=torch.bool, device=feats.device), h[:, 1:], valid[:, 1:]


_ENCODERS: dict[str, type[nn.Module]] = {
    "memory_retrieval": MemoryRetrievalEncoder,
    "avgpool": AvgPoolEncoder,
    "conv1d": Conv1dEncoder,
    "transformer_cls": TransformerClsEncoder,
}


class ConditionEncoder(nn.Module):
    """feats (b n c), feat_lens (b) -> cond (b m d), cond_valid (b m) bool; the kind is in the config."""

    def __init__(self, config: ConditionConfig):
        super().__init__()
        self.config = config
        self.encoder = _ENCODERS[config.kind](config)

    def forward(self, feats: Tensor, feat_lens: Tensor) -> tuple[Tensor, Tensor]:
        cond, cond_valid, _, _ = self.encode(feats, feat_lens)
        return cond, cond_valid

    def encode(self, feats: Tensor, feat_lens: Tensor) -> Encoded:
        """-> cond (b m d), cond_valid (b m), and the per-frame states (b n' d), frames_valid (b n') it came from."""
        if feats.shape[1] > self.config.max_frames:
            raise ValueError(f"condition encoder got {feats.shape[1]} frames, at most {self.config.max_frames} "
                             "fit its positional table (raise ConditionConfig.max_frames)")
        return self.encoder(feats, feat_lens.clamp(min=1))
