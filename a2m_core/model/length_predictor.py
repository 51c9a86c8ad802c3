"""Motion length from the audio condition, as a class over token counts (one class per 4 frames).

Class c means c + 1 tokens, i.e. 4 (c + 1) frames at the tokenizer's downsampling of 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.layers import check_positive, masked_mean


@dataclass(frozen=True)
class LengthPredictorConfig:
    cond_dim: int = 512
    dim: int = 256
    max_tokens: int = 49  # classes
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_positive("LengthPredictorConfig", cond_dim=self.cond_dim, dim=self.dim, max_tokens=self.max_tokens)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LengthPredictorConfig.dropout must be in [0, 1), got {self.dropout}")


class LengthPredictor(nn.Module):
    """cond (b m c), cond_valid (b m) -> logits over 1..max_tokens tokens (b max_tokens)."""

    def __init__(self, config: LengthPredictorConfig):
        super().__init__()
        self.config = config
        self.net = nn.Sequential(
            nn.LayerNorm(config.cond_dim), nn.Linear(config.cond_dim, config.dim), nn.GELU(),
            nn.Dropout(config.dropout), nn.Linear(config.dim, config.max_tokens),
        )

    def forward(self, cond: Tensor, cond_valid: Tensor) -> Tensor:
        return self.net(masked_mean(cond, cond_valid))

    def predict(self, cond: Tensor, cond_valid: Tensor, quantile: float = 0.5) -> Tensor:
        """The token count at `quantile` of the predicted distribution (b) int64 in 1..max_tokens.

        Not the most likely one: training data pad every short action to the shortest clip, so the
        distribution has a spike there, and where the condition is unsure (walking left: a turn, then
        a walk) the mode picks that spike although most of the mass lies at twice the length. Decoding
        asks for a quantile above the median (DecodingConfig.length_quantile): an instruction that
        names no count or pace spreads its mass over every count the corpus gives it.
        """
        probs = self(cond, cond_valid).softmax(-1)  # (b max_tokens)
        below = (probs.cumsum(-1) < quantile).sum(-1)  # classes before the quantile
        return below.clamp(max=self.config.max_tokens - 1) + 1

    def loss(self, cond: Tensor, cond_valid: Tensor, num_tokens: Tensor) -> Tensor:
        """Cross entropy against true token counts num_tokens (b) (clamped to 1..max_tokens)."""
        target = num_tokens.clamp(1, self.config.max_tokens) - 1
        return F.cross_entropy(self(cond, cond_valid), target)
