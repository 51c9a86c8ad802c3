"""Masked and residual transformers, the length predictor: shapes, padding, condition dropout, learning."""

from __future__ import annotations

import torch

from a2m_core.model.conditioned_transformer import drop_condition
from a2m_core.model.layers import lengths_to_mask
from a2m_core.model.length_predictor import LengthPredictor, LengthPredictorConfig
from a2m_core.model.masked_transformer import MaskedTransformer, MaskedTransformerConfig, ranks_by_comparison
from a2m_core.model.residual_transformer import ResidualTransformer, ResidualTransformerConfig

SIZES = dict(num_codes=16, max_tokens=12, cond_dim=8, dim=16, num_layers=1, num_heads=2, dropout=0.0)


def _cond(b: int, m: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(b, m, 8), torch.ones(b, m, dtype=torch.bool)


def test_ranks_match_a_stable_double_argsort():
    scores = torch.tensor([[0.3, 0.1, 0.3, 0.9, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    expected = scores.argsort(dim=1, stable=True).argsort(dim=1)
    assert torch.equal(ranks_by_comparison(scores), expected)
    random = torch.rand(4, 49)
    assert torch.equal(ranks_by_comparison(random), random.argsort(1).argsort(1))


def test_masked_transformer_shapes_and_padding_invariance():
    torch.manual_seed(0)
    model = MaskedTransformer(MaskedTransformerConfig(**SIZES)).eval()
    ids = torch.randint(0, 17, (2, 10))
    cond, cond_valid = _cond(2)
    valid = lengths_to_mask(torch.tensor([10, 6]), 10)
    no_drop = torch.zeros(2, dtype=torch.bool)
    logits = model(ids, valid, cond, cond_valid, no_drop)
    assert logits.shape == (2, 10, 16)
    changed = ids.clone()
    changed[1, 6:] = 3  # padding content must not matter
    torch.testing.assert_close(model(changed, valid, cond, cond_valid, no_drop)[1, :6], logits[1, :6])


def test_dropped_condition_ignores_the_audio():
    torch.manual_seed(0)
    model = MaskedTransformer(MaskedTransformerConfig(**SIZES)).eval()
    ids = torch.randint(0, 17, (2, 8))
    valid = torch.ones(2, 8, dtype=torch.bool)
    drop = torch.ones(2, dtype=torch.bool)
    a = model(ids, valid, torch.randn(2, 3, 8), torch.ones(2, 3, dtype=torch.bool), drop)
    b = model(ids, valid, torch.randn(2, 5, 8), torch.tensor([[True] * 5, [True, False, False, False, False]]), drop)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    kept = model(ids, valid, torch.randn(2, 3, 8), torch.ones(2, 3, dtype=torch.bool), ~drop)
    assert not torch.allclose(a, kept)


def test_drop_condition_keeps_one_null_token():
    cond, valid = torch.randn(2, 4, 3), torch.ones(2, 4, dtype=torch.bool)
    null = torch.tensor([7.0, 8.0, 9.0])
    out, out_valid = drop_condition(cond, valid, null, torch.tensor([True, False]))
    assert out_valid[0].tolist() == [True, False, False, False] and out_valid[1].all()
    torch.testing.assert_close(out[0, 0], null)
    torch.testing.assert_close(out[1], cond[1])


def test_residual_transformer_uses_only_lower_layers_and_ties_output_weights():
    torch.manual_seed(0)
    model = ResidualTransformer(ResidualTransformerConfig(**SIZES, num_quantizers=4)).eval()
    ids = torch.randint(0, 16, (2, 7, 4))
    cond, cond_valid = _cond(2)
    valid = torch.ones(2, 7, dtype=torch.bool)
    layer = torch.tensor([2, 2])
    no_drop = torch.zeros(2, dtype=torch.bool)
    logits = model(ids, layer, valid, cond, cond_valid, no_drop)
    assert logits.shape == (2, 7, 16)
    upper_changed = ids.clone()
    upper_changed[..., 2:] = torch.randint(0, 16, (2, 7, 2))
    torch.testing.assert_close(model(upper_changed, layer, valid, cond, cond_valid, no_drop), logits)
    lower_changed = ids.clone()
    lower_changed[..., 1] = (ids[..., 1] + 1) % 16
    assert not torch.allclose(model(lower_changed, layer, valid, cond, cond_valid, no_drop), logits)
    # The predicted layer's code table is its output weight: scaling it scales the logits.
    with torch.no_grad():
        model.code_emb[2] *= 2
    torch.testing.assert_close(model(ids, layer, valid, cond, cond_valid, no_drop), 2 * logits)


def test_transformers_learn_a_fixed_sequence():
    """A few optimiser steps on one sequence lower both losses (the losses are wired to the targets)."""
    torch.manual_seed(0)
    masked = MaskedTransformer(MaskedTransformerConfig(**SIZES)).train()
    residual = ResidualTransformer(ResidualTransformerConfig(**SIZES, num_quantizers=3)).train()
    codes = torch.randint(0, 16, (4, 12, 3))
    num_tokens = torch.tensor([12, 12, 9, 5])
    cond, cond_valid = _cond(4)
    optimiser = torch.optim.Adam([*masked.parameters(), *residual.parameters()], lr=3e-3)
    history = []
    for _ in range(80):
        loss_m, _ = masked.loss(codes[..., 0], num_tokens, cond, cond_valid)
        loss_r, _ = residual.loss(codes, num_tokens, cond, cond_valid)
        optimiser.zero_grad()
        (loss_m + loss_r).backward()
        optimiser.step()
        history.append((float(loss_m.detach()), float(loss_r.detach())))
    first = torch.tensor(history[:10]).mean(0)
    last = torch.tensor(history[-10:]).mean(0)
    assert (last < 0.75 * first).all(), (first, last)


def test_length_predictor_classes_are_token_counts():
    torch.manual_seed(0)
    predictor = LengthPredictor(LengthPredictorConfig(cond_dim=8, dim=16, max_tokens=12, dropout=0.0))
    cond, cond_valid = _cond(3)
    target = torch.tensor([1, 7, 12])
    optimiser = torch.optim.Adam(predictor.parameters(), lr=1e-2)
    for _ in range(100):
        loss = predictor.loss(cond, cond_valid, target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert predictor.predict(cond, cond_valid).tolist() == [1, 7, 12]


def test_predicted_length_is_a_quantile_not_a_spike_below_most_of_the_mass():
    predictor = LengthPredictor(LengthPredictorConfig(cond_dim=8, dim=16, max_tokens=12, dropout=0.0))
    probs = torch.zeros(2, 12)
    probs[0, 1] = 0.3  # a spike at 2 tokens, 0.7 spread over 7-12 tokens: the median is 8
    probs[0, 6:] = 0.7 / 6
    probs[1, 11] = 1.0  # all on the last class: cumulative rounding must not step past it
    predictor.forward = lambda cond, cond_valid: probs.log()
    cond, cond_valid = _cond(2)
    assert predictor.predict(cond, cond_valid).tolist() == [8, 12]  # argmax would say [2, 12]
    assert predictor.predict(cond, cond_valid, quantile=0.7).tolist() == [10, 12]  # cumulative 0.65 at 9 tokens
