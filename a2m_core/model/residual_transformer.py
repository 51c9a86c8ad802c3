"""Residual transformer: predicts RVQ layer j from the sum of layers 0..j-1 (MoMask).

One network serves every residual layer: a layer-indicator embedding says which layer to
predict. Each layer has one code-embedding table, used both to embed that layer's tokens as
input and (through a shared projection) as the output weights when that layer is predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.conditioned_transformer import ConditionedEncoder, TokenTransformerConfig
from a2m_core.model.layers import lengths_to_mask


@dataclass(frozen=True)
class ResidualTransformerConfig(TokenTransformerConfig):
    num_quantizers: int = 6  # RVQ layers, including the base layer this model does not predict

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_quantizers < 2:
            raise ValueError(f"ResidualTransformerConfig.num_quantizers must be >= 2, got {self.num_quantizers}")


class ResidualTransformer(nn.Module):
    """ids (b n q), layer (b) in 1..q-1, condition -> logits for that layer's codes (b n num_codes)."""

    def __init__(self, config: ResidualTransformerConfig):
        super().__init__()
        self.config = config
        self.code_emb = nn.Parameter(torch.randn(config.num_quantizers, config.num_codes, config.dim) * 0.02)
        self.layer_emb = nn.Embedding(config.num_quantizers, config.dim)
        self.body = ConditionedEncoder(config)
        self.out_proj = nn.Linear(config.dim, config.dim)

    def forward(self, ids: Tensor, layer: Tensor, token_valid: Tensor, cond: Tensor, cond_valid: Tensor,
                drop_cond: Tensor) -> Tensor:
        """ids (b n q) (layers >= layer ignored), layer (b) int64 -> logits (b n k)."""
        q = self.config.num_quantizers
        per_layer = self.code_emb[torch.arange(q, device=ids.device), ids.clamp(min=0)]  # (b n q d)
        below = (torch.arange(q, device=ids.device)[None, :] < layer[:, None]).to(per_layer.dtype)  # (b q)
        h = (per_layer * below[:, None, :, None]).sum(2) + self.layer_emb(layer)[:, None]  # (b n d)
        h = self.body(h, token_valid, cond, cond_valid, drop_cond)
        out_weight = self.code_emb[layer]  # (b k d): the predicted layer's own table
        return torch.einsum("bnd,bkd->bnk", self.out_proj(h), out_weight)

    def loss(self, codes: Tensor, num_tokens: Tensor, cond: Tensor, cond_valid: Tensor) -> tuple[Tensor, Tensor]:
        """Cross entropy and accuracy for a random residual layer per sample; codes (b n q)."""
        b, n, q = codes.shape
        valid = lengths_to_mask(num_tokens, n)
        layer = torch.randint(1, q, (b,), device=codes.device)
        logits = self(codes, layer, valid, cond, cond_valid, self.body.sample_drop(b, codes.device))
        target = codes.gather(2, layer[:, None, None].expand(b, n, 1))[..., 0]  # (b n)
        loss = F.cross_entropy(logits[valid], target[valid])
        accuracy = (logits[valid].argmax(-1) == target[valid]).float().mean()
        return loss, accuracy
