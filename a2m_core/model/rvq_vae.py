"""RVQ-VAE motion tokenizer: 1D conv encoder, residual quantiser, 1D conv decoder (MoMask layout).

Features (b t f), normalised, 20 fps -> tokens (b t/4 q) -> features. Time is downsampled by
2**num_down (4 by default); t must be a multiple of that. Losses: smooth-L1 reconstruction,
smooth-L1 on the frame-to-frame differences (velocity), and the quantiser's commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.model.layers import check_positive, lengths_to_mask
from a2m_core.model.quantizer import QuantizerConfig, ResidualVQ

HELD_TOKENS = 2  # tokens of held pose decoded beyond each end of a clip (RVQVAE.decode, docs/model.md)


@dataclass(frozen=True)
class RVQVAEConfig:
    dim_motion: int = 263  # HumanML3D features; 251 for KIT-ML
    width: int = 512
    num_down: int = 2  # temporal downsampling 2**num_down = 4
    res_depth: int = 3  # dilated residual blocks per stage
    dilation_growth: int = 3
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    commit_weight: float = 0.02
    velocity_weight: float = 0.5

    def __post_init__(self) -> None:
        check_positive("RVQVAEConfig", dim_motion=self.dim_motion, width=self.width, num_down=self.num_down,
                       res_depth=self.res_depth, dilation_growth=self.dilation_growth)
        if self.commit_weight < 0 or self.velocity_weight < 0:
            raise ValueError("RVQVAEConfig: loss weights must be >= 0")

    @property
    def downsample(self) -> int:
        return 2**self.num_down


class ResStack(nn.Module):
    """Dilated residual conv blocks over (b c t); dilations grow so the receptive field widens."""

    def __init__(self, width: int, depth: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.ModuleList([nn.Conv1d(width, width, 3, padding=growth**i, dilation=growth**i), nn.Conv1d(width, width, 1)])
            for i in reversed(range(depth))
        )

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """x (b c t); valid (b 1 t) zeroes every conv output after each sequence's end."""
        for dilated, pointwise in self.convs:
            h = _masked(dilated(F.relu(x)), valid)
            x = x + _masked(pointwise(F.relu(h)), valid)
        return x


def _masked(x: Tensor, valid: Tensor | None) -> Tensor:
    return x if valid is None else x * valid


class MotionEncoder(nn.Module):
    """(b f t) -> (b d t/4)."""

    def __init__(self, config: RVQVAEConfig):
        super().__init__()
        w = config.width
        layers: list[nn.Module] = [nn.Conv1d(config.dim_motion, w, 3, padding=1), nn.ReLU()]
        for _ in range(config.num_down):
            layers += [nn.Conv1d(w, w, 4, stride=2, padding=1), ResStack(w, config.res_depth, config.dilation_growth)]
        layers.append(nn.Conv1d(w, config.quantizer.code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MotionDecoder(nn.Module):
    """(b d n) -> (b f n*4).

    With token lengths, activations after each sequence's end are zeroed after every conv, so
    a padded batch decodes each sequence exactly as if it were alone (convs pad with zeros).
    """

    def __init__(self, config: RVQVAEConfig):
        super().__init__()
        w = config.width
        self.proj_in = nn.Conv1d(config.quantizer.code_dim, w, 3, padding=1)
        self.stages = nn.ModuleList(
            nn.ModuleList([ResStack(w, config.res_depth, config.dilation_growth), nn.Conv1d(w, w, 3, padding=1)])
            for _ in range(config.num_down)
        )
        self.mid = nn.Conv1d(w, w, 3, padding=1)
        self.proj_out = nn.Conv1d(w, config.dim_motion, 3, padding=1)

    def forward(self, x: Tensor, num_tokens: Tensor | None = None) -> Tensor:
        valid = None if num_tokens is None else lengths_to_mask(num_tokens, x.shape[-1])[:, None].to(x.dtype)  # (b 1 n)
        x = F.relu(_masked(self.proj_in(_masked(x, valid)), valid))
        for res, conv in self.stages:
            x = F.interpolate(res(x, valid), scale_factor=2, mode="nearest")  # (b w 2n)
            valid = None if valid is None else F.interpolate(valid, scale_factor=2, mode="nearest")
            x = _masked(conv(x), valid)
        x = F.relu(_masked(self.mid(x), valid))
        return _masked(self.proj_out(x), valid)


class RVQVAE(nn.Module):
    """Motion features <-> residual tokens."""

    def __init__(self, config: RVQVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = MotionEncoder(config)
        self.quantizer = ResidualVQ(config.quantizer)
        self.decoder = MotionDecoder(config)

    def _check(self, motion: Tensor) -> None:
        if motion.ndim != 3 or motion.shape[-1] != self.config.dim_motion:
            raise ValueError(f"RVQVAE expects motion (b t {self.config.dim_motion}), got {tuple(motion.shape)}")
        if motion.shape[1] % self.config.downsample:
            raise ValueError(f"RVQVAE: motion length {motion.shape[1]} is not a multiple of {self.config.downsample}")

    def forward(self, motion: Tensor, num_layers: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """motion (b t f) -> reconstruction (b t f), ids (b t/4 q), commitment loss ()."""
        self._check(motion)
        latent = self.encoder(motion.transpose(1, 2)).transpose(1, 2)  # (b n d)
        quantised, ids, commit = self.quantizer(latent, num_layers)
        recon = self.decoder(quantised.transpose(1, 2)).transpose(1, 2)  # (b t f)
        return recon, ids, commit

    @torch.no_grad()
    def encode(self, motion: Tensor) -> Tensor:
        """motion (b t f) -> ids (b t/4 q) with every layer."""
        self._check(motion)
        latent = self.encoder(motion.transpose(1, 2)).transpose(1, 2)
        return self.quantizer(latent, self.config.quantizer.num_quantizers)[1]

    def decode(self, ids: Tensor, num_tokens: Tensor | None = None) -> Tensor:
        """ids (b n q') -> motion (b n*4 f); q' may be fewer than the trained layers, -1 skips a layer.

        num_tokens (b): valid tokens per sequence; frames after 4 * num_tokens come out zero and the
        valid frames do not depend on the padding.

        The decoder's convolutions pad with zeros, which at a clip's first and last frames reads as
        the mean pose, so a clip decoded alone jumps at its ends. Each sequence is decoded with its
        first and last token held HELD_TOKENS more tokens beyond its ends, as if the body stood in
        those poses, and cut back to its own frames.
        """
        b, n, q = ids.shape
        down, held = self.config.downsample, HELD_TOKENS
        if num_tokens is None:
            num_tokens = torch.full((b,), n, dtype=torch.long, device=ids.device)
        last = (num_tokens - 1).clamp(min=0)[:, None]  # (b 1)
        positions = torch.minimum((torch.arange(n + 2 * held, device=ids.device) - held).clamp(min=0)[None], last)
        latent = self.quantizer.decode_ids(ids.gather(1, positions[..., None].expand(-1, -1, q)))  # (b n+2h d)
        motion = self.decoder(latent.transpose(1, 2), num_tokens + 2 * held).transpose(1, 2)
        motion = motion[:, down * held:down * (held + n)]  # (b n*4 f)
        return motion * lengths_to_mask(num_tokens * down, down * n)[..., None].to(motion.dtype)

    def loss(self, motion: Tensor) -> dict[str, Tensor]:
        """Training losses on motion (b t f): total, recon, velocity, commit."""
        recon, _, commit = self(motion)
        recon_loss = F.smooth_l1_loss(recon, motion)
        velocity_loss = F.smooth_l1_loss(recon[:, 1:] - recon[:, :-1], motion[:, 1:] - motion[:, :-1])
        total = recon_loss + self.config.velocity_weight * velocity_loss + self.config.commit_weight * commit
        return {"total": total, "recon": recon_loss, "velocity": velocity_loss, "commit": commit}
