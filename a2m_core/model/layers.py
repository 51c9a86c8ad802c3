"""Building blocks the model's modules share: sinusoidal positions, an encoder stack, masked pooling.

Everything here is export-friendly: no data-dependent Python control flow, positions computed
from a fixed-size buffer that is rebuilt from the config (never saved with the weights).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_positions(num_positions: int, dim: int) -> Tensor:
    """(num_positions, dim) float32 sine/cosine table of Vaswani et al. 2017."""
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


class SinusoidalPositions(nn.Module):
    """Adds a sinusoidal position code to (b n d) inputs; the table is not a saved weight."""

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_positions(max_len, dim), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """x (b n d) -> x + pos (b n d); n must not exceed max_len."""
        return x + self.table[: x.shape[1]]


def encoder_stack(dim: int, num_layers: int, num_heads: int, ff_mult: int, dropout: float) -> nn.TransformerEncoder:
    """Pre-norm bidirectional transformer encoder, batch first, GELU."""
    layer = nn.TransformerEncoderLayer(
        d_model=dim,
        nhead=num_heads,
        dim_feedforward=dim * ff_mult,
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    # Nested tensors would drop padded positions in eval only, so train and eval outputs would
    # differ at padding and the export tracer would see a different graph.
    return nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)


def lengths_to_mask(lens: Tensor, max_len: int) -> Tensor:
    """lens (b) int -> valid (b n) bool, True where the position is inside the sequence."""
    return torch.arange(max_len, device=lens.device)[None, :] < lens[:, None]


def masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    """x (b n d), valid (b n) bool -> mean over the valid positions (b d)."""
    weight = valid.to(x.dtype)[..., None]  # (b n 1)
    return (x * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


def check_positive(owner: str, **values: float) -> None:
    """Raise ValueError naming the first config field that is not > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def check_divisible(owner: str, dim: int, num_heads: int) -> None:
    if dim % num_heads:
        raise ValueError(f"{owner}: dim {dim} is not divisible by num_heads {num_heads}")
