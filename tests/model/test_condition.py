"""Condition encoders: every kind's shapes and masks, and that padding never changes a sample's condition."""

from __future__ import annotations

import pytest
import torch

from a2m_core.model.condition import ConditionConfig, ConditionEncoder

KINDS = [
    dict(kind="memory_retrieval", output="fixed", num_cond_tokens=1),
    dict(kind="memory_retrieval", output="fixed", num_cond_tokens=4),
    dict(kind="memory_retrieval", output="per_frame"),
    dict(kind="avgpool", pool=8),
    dict(kind="avgpool", pool=32),
    dict(kind="conv1d", pool=4),
    dict(kind="transformer_cls"),
]


def _encoder(**kw) -> ConditionEncoder:
    torch.manual_seed(0)
    return ConditionEncoder(ConditionConfig(dim_in=24, dim=16, num_memory=8, num_layers=1, num_heads=2, **kw)).eval()


def _expected_len(kw: dict, n: int) -> int:
    if kw["kind"] == "transformer_cls" or kw.get("output") == "fixed":
        return kw.get("num_cond_tokens", 1)
    if kw["kind"] == "memory_retrieval":
        return n
    return -(-n // kw["pool"])  # ceil


@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_shapes_and_valid_mask(kw):
    encoder = _encoder(**kw)
    feats = torch.randn(3, 70, 24)
    cond, valid = encoder(feats, torch.tensor([70, 35, 3]))
    m = _expected_len(kw, 70)
    assert cond.shape == (3, m, 16) and valid.shape == (3, m) and valid.dtype == torch.bool
    assert valid[0].all() and valid[:, 0].all()
    if not encoder.config.is_fixed_size:
        assert int(valid[2].sum()) == _expected_len(kw, 3)
    assert torch.isfinite(cond).all()


@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_padding_does_not_change_the_condition(kw):
    encoder = _encoder(**kw)
    feats = torch.randn(1, 40, 24)
    cond, valid = encoder(feats, torch.tensor([40]))
    padded = torch.cat([feats, torch.randn(1, 24, 24) * 5], dim=1)  # garbage after the end
    cond_p, valid_p = encoder(padded, torch.tensor([40]))
    m = cond.shape[1]
    assert valid_p[0, :m].all() and not valid_p[0, m:].any()
    torch.testing.assert_close(cond_p[:, :m][valid_p[:, :m]], cond[valid], rtol=1e-4, atol=1e-5)


def test_memory_retrieval_passes_the_audio_on_from_initialisation():
    """What is read from the memory is added to each frame's query: at initialisation the attention
    over the memory is near uniform, and without the residual every input gave the same condition."""
    torch.manual_seed(0)
    encoder = ConditionEncoder(ConditionConfig(dim_in=64, dim=64, num_memory=32, num_layers=1, num_heads=4,
                                               dropout=0.0)).eval()
    lens = torch.tensor([50])
    a, _ = encoder(torch.randn(1, 50, 64), lens)
    b, _ = encoder(torch.randn(1, 50, 64), lens)
    assert (a - b).norm() > 0.1 * a.norm()
    with torch.no_grad():  # and the memory is read: changing it changes the condition
        encoder.encoder.memory.mul_(50.0)
    c, _ = encoder(torch.ones(1, 50, 64), lens)
    with torch.no_grad():
        encoder.encoder.memory.mul_(-1.0)
    d, _ = encoder(torch.ones(1, 50, 64), lens)
    assert (c - d).norm() > 0.01 * c.norm()


@pytest.mark.parametrize("field,value", [("kind", "lstm"), ("output", "pooled"), ("dim", 10), ("pool", 0), ("num_layers", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError):
        ConditionConfig(**{field: value})


def test_conv1d_needs_power_of_two_pool():
    with pytest.raises(ValueError, match="power of 2"):
        ConditionConfig(kind="conv1d", pool=6)
