"""Masked transformer over base-layer RVQ tokens (MaskGIT / MoMask).

Training hides a cosine-scheduled share of each sequence's tokens (BERT-style: of the hidden
ones 80 % become [MASK], 10 % a random code, 10 % stay) and predicts them from the rest and
the condition. Generation is in `a2m_core.decoding`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.conditioned_transformer import ConditionedEncoder, TokenTransformerConfig
from a2m_core.model.layers import lengths_to_mask


@dataclass(frozen=True)
class MaskedTransformerConfig(TokenTransformerConfig):
    pass


def cosine_mask_ratio(progress: Tensor) -> Tensor:
    """Share of tokens still masked at progress in [0, 1]: cos(pi/2 * progress), 1 at 0, 0 at 1."""
    return torch.cos(progress * (math.pi / 2))


def ranks_by_comparison(scores: Tensor) -> Tensor:
    """scores (b n) -> ascending rank of each score in its row (b n) int64, ties broken by position.

    Counting pairwise comparisons avoids a double argsort and data-dependent top-k, which
    TensorRT handles badly; for n = 49 the (b n n) comparison is tiny.
    """
    n = scores.shape[1]
    smaller = scores[:, None, :] < scores[:, :, None]  # (b i j): score_j < score_i
    position = torch.arange(n, device=scores.device)
    tie_before = (scores[:, None, :] == scores[:, :, None]) & (position[None, None, :] < position[None, :, None])
    return (smaller | tie_before).sum(-1)


class MaskedTransformer(nn.Module):
    """ids (b n) with [MASK] = num_codes, condition -> logits over base codes (b n num_codes)."""

    def __init__(self, config: MaskedTransformerConfig):
        super().__init__()
        self.config = config
        self.mask_id = config.num_codes
        self.token_emb = nn.Embedding(config.num_codes + 1, config.dim)
        self.body = ConditionedEncoder(config)
        self.head = nn.Linear(config.dim, config.num_codes)

    def forward(self, ids: Tensor, token_valid: Tensor, cond: Tensor, cond_valid: Tensor,
                drop_cond: Tensor) -> Tensor:
        """ids (b n), token_valid (b n), cond (b m c), cond_valid (b m), drop_cond (b) -> logits (b n k)."""
        h = self.body(self.token_emb(ids), token_valid, cond, cond_valid, drop_cond)
        return self.head(h)

    def loss(self, codes: Tensor, num_tokens: Tensor, cond: Tensor, cond_valid: Tensor) -> tuple[Tensor, Tensor]:
        """Masked-token cross entropy and accuracy on base codes (b n) of num_tokens (b) valid tokens."""
        b, n = codes.shape
        device = codes.device
        valid = lengths_to_mask(num_tokens, n)
        num_masked = torch.ceil(cosine_mask_ratio(torch.rand(b, device=device)) * num_tokens).clamp(min=1)
        order = ranks_by_comparison(torch.rand(b, n, device=device).masked_fill(~valid, 2.0))
        hidden = order < num_masked[:, None]  # (b n), only valid positions
        action = torch.rand(b, n, device=device)
        random_codes = torch.randint(0, self.config.num_codes, (b, n), device=device)
        inputs = torch.where(hidden & (action < 0.8), self.mask_id, codes)
        inputs = torch.where(hidden & (action >= 0.8) & (action < 0.9), random_codes, inputs)
        inputs = inputs.masked_fill(~valid, self.mask_id)
        logits = self(inputs, valid, cond, cond_valid, self.body.sample_drop(b, device))
        loss = F.cross_entropy(logits[hidden], codes[hidden])
        accuracy = (logits[hidden].argmax(-1) == codes[hidden]).float().mean()
        return loss, accuracy
