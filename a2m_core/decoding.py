"""Decoding: condition -> base tokens (MaskGIT) -> residual tokens -> motion features.

One function serves eager PyTorch, every runtime backend and export. It is written so that a
tracer sees a fixed graph: the iteration loops have Python-constant trip counts, ranks come from
pairwise comparisons (no argsort with a data-dependent k), and all randomness is an input.

Randomness: `noise` (b, num_iters + num_quantizers - 1, max_tokens, num_codes) holds standard
Gumbel samples, one slice per decoding step (the masked iterations, then each residual layer).
Sampling a token is argmax(logits / temperature + noise), so the same noise gives the same
motion, and all-zero noise gives greedy decoding. `make_noise` draws it from a seed.

MaskGIT decoding (Chang et al. 2022; MoMask, Guo et al. 2024): start with every token masked;
at iteration t predict all masked tokens, then re-mask the floor(len * cos(pi/2 (t+1)/T))
least confident of the newly predicted ones (tokens kept earlier stay). Classifier-free
guidance mixes the logits: uncond + scale * (cond - uncond).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from a2m_core.errors import InputError
from a2m_core.model.audio_to_motion import AudioToMotion
from a2m_core.model.layers import lengths_to_mask
from a2m_core.model.masked_transformer import ranks_by_comparison


class Generated(NamedTuple):
    """tokens (b n q) int64, features (b t f) normalised (zero after each length), lengths (b) frames."""

    tokens: Tensor
    features: Tensor
    lengths: Tensor


def pad_audio(clips: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    """Utterances of any lengths -> (audio (b s) float32 zero-padded, audio_lens (b)), what `generate` takes."""
    audio_lens = torch.tensor([len(a) for a in clips])
    audio = torch.zeros(len(clips), int(audio_lens.max()))
    for row, a in enumerate(clips):
        audio[row, :len(a)] = torch.from_numpy(np.asarray(a, dtype=np.float32))
    return audio, audio_lens


def noise_shape(model: AudioToMotion, batch: int, num_iters: int = 10) -> tuple[int, int, int, int]:
    """Shape of the Gumbel noise `generate` consumes."""
    cfg = model.config
    return (batch, num_iters + cfg.residual.num_quantizers - 1, cfg.masked.max_tokens, cfg.masked.num_codes)


def make_noise(model: AudioToMotion, batch: int, num_iters: int = 10, seed: int | None = None,
               device: torch.device | str | None = None) -> Tensor:
    """Standard Gumbel noise for `generate`, reproducible from a seed (drawn on the CPU)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    uniform = torch.rand(noise_shape(model, batch, num_iters), generator=generator).clamp_(1e-10, 1 - 1e-7)
    return (-torch.log(-torch.log(uniform))).to(device or model.device)


def mask_schedule(num_iters: int) -> Tensor:
    """Share of tokens left masked after each iteration (num_iters): cos(pi/2 (t+1)/T), last is 0."""
    t = torch.arange(1, num_iters + 1, dtype=torch.float64) / num_iters
    return torch.cos(t * (math.pi / 2)).float().masked_fill(t >= 1.0, 0.0)  # cos(pi/2) is 6e-17, not 0


def guide(cond_logits: Tensor, uncond_logits: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance at the logits: uncond + scale * (cond - uncond)."""
    return uncond_logits + scale * (cond_logits - uncond_logits)


def guided_logits(net, tokens: tuple[Tensor, ...], valid: Tensor, cond: Tensor, cond_valid: Tensor,
                  scale: float) -> Tensor:
    """net(*tokens, valid, cond, cond_valid, drop_cond) -> logits (b n k) guided at `scale`.

    The conditional and unconditional branches run as one batch of 2b; at scale 1 guidance is
    the conditional logits alone, so only that branch runs (half the work: a decoding option
    for slow CPUs, see docs/performance.md).
    """
    b = cond.shape[0]
    keep = torch.zeros(b, dtype=torch.bool, device=cond.device)
    if scale == 1.0:
        return net(*tokens, valid, cond, cond_valid, keep)

    def both(x: Tensor) -> Tensor:
        return torch.cat([x, x])

    cond_logits, uncond_logits = net(*map(both, tokens), both(valid), both(cond), both(cond_valid),
                                     torch.cat([keep, ~keep])).chunk(2)
    return guide(cond_logits, uncond_logits, scale)


def top_k_filter(logits: Tensor, k: int | None) -> Tensor:
    """Keep the k largest logits of the last dim, the rest -inf; k None or >= the vocabulary keeps all."""
    if k is None or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # constant k: exports as a plain TopK
    return logits.masked_fill(logits < kth, float("-inf"))


def _check(model: AudioToMotion, cond: Tensor, lengths: Tensor | None, noise: Tensor | None, num_iters: int,
           temperature: float, length_quantile: float) -> None:
    if num_iters < 1 or not temperature > 0:
        raise InputError(f"need num_iters >= 1 and temperature > 0, got {num_iters} and {temperature}")
    if not 0.0 < length_quantile < 1.0:
        raise InputError(f"length_quantile must be in (0, 1), got {length_quantile}")
    if lengths is not None and (lengths.shape != (cond.shape[0],) or lengths.is_floating_point()):
        raise InputError(f"lengths must be integer frames, one per batch row, got {lengths.dtype} {tuple(lengths.shape)}")
    if lengths is not None and (int(lengths.min()) < 1 or int(lengths.max()) > model.config.max_frames):
        raise InputError(f"motion lengths must be between 1 and {model.config.max_frames} frames "
                         f"({model.config.max_frames / model.config.fps:.1f} s), got {lengths.tolist()}")
    expected = noise_shape(model, cond.shape[0], num_iters)
    if noise is not None and tuple(noise.shape) != expected:
        raise InputError(f"noise must have shape {expected} (see noise_shape), got {tuple(noise.shape)}")


@torch.no_grad()
def generate_from_condition(
    model: AudioToMotion,
    cond: Tensor,
    cond_valid: Tensor,
    lengths: Tensor | None = None,
    noise: Tensor | None = None,
    *,
    num_iters: int = 10,
    cfg_scale: float = 4.0,
    res_cfg_scale: float = 5.0,
    temperature: float = 1.0,
    topk: int | None = None,
    length_quantile: float = 0.65,
    num_positions: int | None = None,
) -> Generated:
    """cond (b m d), cond_valid (b m) -> Generated(tokens (b n q), features (b n*4 f), lengths (b)).

    lengths (b) int64 frames, rounded down to whole tokens (4 frames), or None: the length_quantile
    of the length predictor's distribution. noise: see the module docstring; None draws fresh
    noise. num_positions fixes the padded token count n (export uses max_tokens); None uses the
    longest length in the batch.
    """
    _check(model, cond, lengths, noise, num_iters, temperature, length_quantile)
    cfg = model.config
    down = cfg.rvq_vae.downsample
    b = cond.shape[0]
    if noise is None:
        noise = make_noise(model, b, num_iters, device=cond.device)
    if lengths is None:
        num_tokens = model.length_predictor.predict(cond, cond_valid, length_quantile)  # (b)
    else:
        num_tokens = torch.div(lengths, down, rounding_mode="floor").clamp(1, cfg.masked.max_tokens)
    n = num_positions if num_positions is not None else int(num_tokens.max())
    valid = lengths_to_mask(num_tokens, n)  # (b n)

    mask_id = model.masked.mask_id
    ids = torch.full((b, n), mask_id, dtype=torch.long, device=cond.device)
    remaining = mask_schedule(num_iters).to(cond.device)  # (T)
    for t in range(num_iters):
        logits = guided_logits(model.masked, (ids,), valid, cond, cond_valid, cfg_scale)
        logits = top_k_filter(logits, topk) / temperature  # (b n k)
        sampled = (logits + noise[:, t, :n]).argmax(-1)  # (b n)
        confidence = logits.softmax(-1).gather(-1, sampled[..., None])[..., 0]  # (b n)
        still_masked = ids == mask_id
        ids = torch.where(still_masked, sampled, ids)
        # Only tokens predicted in this iteration may be re-masked; kept tokens and padding never.
        confidence = torch.where(still_masked & valid, confidence, torch.full_like(confidence, 2.0))
        num_masked = torch.floor(num_tokens.to(remaining.dtype) * remaining[t])  # (b)
        remask = ranks_by_comparison(confidence) < num_masked[:, None]
        ids = torch.where(remask, torch.full_like(ids, mask_id), ids)

    num_q = cfg.residual.num_quantizers
    layers = [torch.where(valid, ids, torch.zeros_like(ids))]  # padding gets code 0, cut after decoding
    zeros = torch.zeros_like(ids)
    for j in range(1, num_q):
        codes = torch.stack(layers + [zeros] * (num_q - j), dim=-1)  # (b n q)
        layer = torch.full((b,), j, dtype=torch.long, device=cond.device)
        logits = guided_logits(model.residual, (codes, layer), valid, cond, cond_valid, res_cfg_scale)
        logits = top_k_filter(logits, topk) / temperature
        sampled = (logits + noise[:, num_iters + j - 1, :n]).argmax(-1)
        layers.append(torch.where(valid, sampled, zeros))
    tokens = torch.stack(layers, dim=-1)  # (b n q)

    features = model.rvq_vae.decode(tokens, num_tokens)  # (b n*4 f), zero after each length
    return Generated(tokens, features, num_tokens * down)


@torch.no_grad()
def generate(
    model: AudioToMotion,
    audio: Tensor,
    audio_lens: Tensor,
    lengths: Tensor | None = None,
    noise: Tensor | None = None,
    **options,
) -> Generated:
    """audio (b s) float 16 kHz mono, zero padded; audio_lens (b) -> Generated.

    Options as in generate_from_condition: num_iters=10, cfg_scale=4.0, res_cfg_scale=5.0,
    temperature=1.0, topk=None, length_quantile=0.65, num_positions=None.
    """
    cond, cond_valid = model.encode_audio(audio, audio_lens)
    return generate_from_condition(model, cond, cond_valid, lengths, noise, **options)


@torch.no_grad()
def generate_from_text(model: AudioToMotion, texts: list[str], lengths: Tensor | None = None,
                       noise: Tensor | None = None, **options) -> Generated:
    """Text-conditioned variant: b instructions -> Generated."""
    cond, cond_valid = model.encode_text(texts)
    return generate_from_condition(model, cond, cond_valid, lengths, noise, **options)
