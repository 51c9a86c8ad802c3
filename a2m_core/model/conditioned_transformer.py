"""The encoder both token transformers share: condition tokens as a prefix, then motion tokens.

Classifier-free guidance needs the same network without its condition: `drop_cond` replaces the
condition by one learned null token (the other condition positions are masked out), so the
unconditional branch sees nothing of the audio, not even its length. Training drops the
condition with probability `cond_drop_prob`; generation runs both branches in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from a2m_core.model.layers import SinusoidalPositions, check_divisible, check_positive, encoder_stack


@dataclass(frozen=True)
class TokenTransformerConfig:
    """Sizes shared by the masked and the residual transformer (paper: 6 layers, 6 heads, 384 wide)."""

    num_codes: int = 512
    max_tokens: int = 49  # 196 frames / 4: HumanML3D's longest clip
    cond_dim: int = 512
    dim: int = 384
    num_layers: int = 6
    num_heads: int = 6
    ff_mult: int = 4
    dropout: float = 0.1
    cond_drop_prob: float = 0.2  # training: share of samples without condition, for guidance

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_positive(name, num_codes=self.num_codes, max_tokens=self.max_tokens, cond_dim=self.cond_dim,
                       dim=self.dim, num_layers=self.num_layers, num_heads=self.num_heads, ff_mult=self.ff_mult)
        check_divisible(name, self.dim, self.num_heads)
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.cond_drop_prob < 1.0:
            raise ValueError(f"{name}: dropout and cond_drop_prob must be in [0, 1)")


def drop_condition(cond: Tensor, cond_valid: Tensor, null_cond: Tensor, drop: Tensor) -> tuple[Tensor, Tensor]:
    """Where drop (b) is True, replace cond (b m c) by the null token at position 0 only."""
    first_only = torch.arange(cond_valid.shape[1], device=cond_valid.device)[None, :] == 0  # (1 m)
    cond = torch.where(drop[:, None, None], null_cond.to(cond.dtype).expand_as(cond), cond)
    # Boolean algebra rather than a Where on bools or an in-place write: onnxruntime has no
    # boolean Where kernel, and a slice assignment exports as ScatterND.
    dropped = drop[:, None]  # (b 1)
    cond_valid = (cond_valid & ~dropped) | (first_only & dropped)
    return cond, cond_valid


class ConditionedEncoder(nn.Module):
    """token embeddings (b n d) + condition (b m c) -> contextual token states (b n d)."""

    def __init__(self, config: TokenTransformerConfig):
        super().__init__()
        self.config = config
        self.cond_proj = nn.Linear(config.cond_dim, config.dim)
        self.null_cond = nn.Parameter(torch.randn(config.cond_dim) * 0.02)
        self.cond_type = nn.Parameter(torch.zeros(config.dim))  # tells prefix tokens from motion tokens
        self.positions = SinusoidalPositions(config.dim, config.max_tokens)
        self.encoder = encoder_stack(config.dim, config.num_layers, config.num_heads, config.ff_mult, config.dropout)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, tokens: Tensor, token_valid: Tensor, cond: Tensor, cond_valid: Tensor,
                drop_cond: Tensor) -> Tensor:
        """tokens (b n d), token_valid (b n), cond (b m c), cond_valid (b m), drop_cond (b) bool -> (b n d)."""
        cond, cond_valid = drop_condition(cond, cond_valid, self.null_cond, drop_cond)
        prefix = self.cond_proj(cond) + self.cond_type  # (b m d)
        x = torch.cat([prefix, self.positions(tokens)], dim=1)  # (b m+n d)
        valid = torch.cat([cond_valid, token_valid], dim=1)  # (b m+n)
        h = self.encoder(x, src_key_padding_mask=~valid)
        return self.norm(h[:, cond.shape[1] :])

    def sample_drop(self, batch: int, device: torch.device) -> Tensor:
        """Training-time condition dropout (b) bool; never in eval."""
        if not self.training:
            return torch.zeros(batch, dtype=torch.bool, device=device)
        return torch.rand(batch, device=device) < self.config.cond_drop_prob
