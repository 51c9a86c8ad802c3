"""Residual vector quantisation with EMA codebooks (Zeghidour et al. 2021, as used by MoMask).

Each layer quantises what the layers before it left over. Codebooks are updated by exponential
moving averages of their assigned vectors (not by gradients); a code that goes unused is reset
to a random encoder output from the batch. Quantizer dropout trains with a random number of
layers, so that the base layer alone already decodes to a plausible motion.

Under torch.distributed (torchrun), the EMA statistics are summed over all ranks and codebook
(re)initialisations are taken from rank 0, so every rank keeps the same codebooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.layers import check_positive


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _sync_from_rank0(*tensors: Tensor) -> None:
    if _distributed():
        for tensor in tensors:
            torch.distributed.broadcast(tensor, src=0)


@dataclass(frozen=True)
class QuantizerConfig:
    num_quantizers: int = 6  # base layer + 5 residual layers
    num_codes: int = 512
    code_dim: int = 512
    ema_decay: float = 0.99
    dead_code_threshold: float = 1.0  # EMA usage below this (assignments per step) resets the code
    quantizer_dropout: float = 0.2  # probability of training a batch with fewer layers

    def __post_init__(self) -> None:
        check_positive("QuantizerConfig", num_quantizers=self.num_quantizers, num_codes=self.num_codes,
                       code_dim=self.code_dim)
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"QuantizerConfig.ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0.0 <= self.quantizer_dropout <= 1.0:
            raise ValueError(f"QuantizerConfig.quantizer_dropout must be in [0, 1], got {self.quantizer_dropout}")


class EMACodebook(nn.Module):
    """One codebook: nearest code lookup; EMA update and dead-code reset in training mode."""

    def __init__(self, num_codes: int, code_dim: int, decay: float, dead_code_threshold: float):
        super().__init__()
        self.decay = decay
        self.dead_code_threshold = dead_code_threshold
        self.register_buffer("codes", torch.randn(num_codes, code_dim))
        self.register_buffer("usage", torch.zeros(num_codes))  # EMA of assignments per step
        self.register_buffer("code_sum", self.codes.clone())  # EMA of assigned vectors' sum
        self.register_buffer("initialised", torch.tensor(False))

    def nearest(self, x: Tensor) -> Tensor:
        """x (m d) -> ids (m) of the closest codes (squared Euclidean)."""
        dist = x.pow(2).sum(1, keepdim=True) - 2 * x @ self.codes.t() + self.codes.pow(2).sum(1)[None]  # (m k)
        return dist.argmin(dim=1)

    def lookup(self, ids: Tensor) -> Tensor:
        """ids (...) -> codes (... d)."""
        return F.embedding(ids, self.codes)

    @torch.no_grad()
    def initialise_from(self, x: Tensor) -> None:
        """Set the codes to random rows of x (m d), so that no code starts far from every input."""
        self.codes.copy_(x[torch.randint(0, x.shape[0], (self.codes.shape[0],), device=x.device)])
        self.code_sum.copy_(self.codes)
        self.usage.fill_(1.0)
        self.initialised.fill_(True)
        _sync_from_rank0(self.codes, self.code_sum)

    @torch.no_grad()
    def update(self, x: Tensor, ids: Tensor) -> None:
        """EMA step on flattened vectors x (m d) assigned to ids (m); then reset dead codes."""
        onehot = F.one_hot(ids, self.codes.shape[0]).to(x.dtype)  # (m k)
        counts, sums = onehot.sum(0), onehot.t() @ x  # (k), (k d)
        if _distributed():
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
        self.usage.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.code_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.usage.sum()
        smoothed = (self.usage + 1e-5) / (total + self.codes.shape[0] * 1e-5) * total  # Laplace smoothing
        self.codes.copy_(self.code_sum / smoothed[:, None])
        dead = self.usage < self.dead_code_threshold
        num_dead = int(dead.sum())
        if num_dead:
            fresh = x[torch.randint(0, x.shape[0], (num_dead,), device=x.device)]
            self.codes[dead] = fresh
            self.code_sum[dead] = fresh
            self.usage[dead] = 1.0
            _sync_from_rank0(self.codes, self.code_sum)


class ResidualVQ(nn.Module):
    """Residual quantiser: x (b n d) -> quantised (b n d), ids (b n q), commitment loss."""

    def __init__(self, config: QuantizerConfig):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(
            EMACodebook(config.num_codes, config.code_dim, config.ema_decay, config.dead_code_threshold)
            for _ in range(config.num_quantizers)
        )

    def forward(self, x: Tensor, num_layers: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """x (b n d) -> quantised (b n d) with straight-through gradients, ids (b n q), commit loss ().

        num_layers limits how many layers quantise (default all; in training quantizer dropout may
        pick fewer). Layers not used get id -1. Quantisation runs in float32 whatever autocast says:
        nearest-code distances and the EMA statistics lose their meaning in bfloat16.
        """
        with torch.autocast(x.device.type, enabled=False):
            return self._quantise(x.float(), num_layers)

    def _quantise(self, x: Tensor, num_layers: int | None) -> tuple[Tensor, Tensor, Tensor]:
        q_total = self.config.num_quantizers
        if num_layers is None:
            num_layers = q_total
            if self.training and float(torch.rand(())) < self.config.quantizer_dropout:
                num_layers = int(torch.randint(1, q_total + 1, ()))
        residual = x
        quantised = torch.zeros_like(x)
        ids = torch.full((*x.shape[:2], q_total), -1, dtype=torch.long, device=x.device)
        commit = x.new_zeros(())
        flat_dim = x.shape[-1]
        for i, codebook in enumerate(self.layers[:num_layers]):
            flat = residual.reshape(-1, flat_dim)  # (b*n d)
            if self.training and not bool(codebook.initialised):
                codebook.initialise_from(flat.detach())
            layer_ids = codebook.nearest(flat.detach())
            if self.training:
                codebook.update(flat.detach(), layer_ids)
            q = codebook.lookup(layer_ids).reshape_as(residual)  # (b n d)
            commit = commit + F.mse_loss(residual, q.detach())
            residual = residual - q.detach()
            quantised = quantised + q
            ids[..., i] = layer_ids.reshape(x.shape[:2])
        quantised = x + (quantised - x).detach()  # straight-through estimator
        return quantised, ids, commit

    def decode_ids(self, ids: Tensor) -> Tensor:
        """ids (b n q') with q' <= num_quantizers, -1 for unused layers -> summed codes (b n d)."""
        out = 0
        for i in range(ids.shape[-1]):
            layer_ids = ids[..., i]
            code = self.layers[i].lookup(layer_ids.clamp(min=0))  # (b n d)
            out = out + code * (layer_ids >= 0)[..., None]
        return out
