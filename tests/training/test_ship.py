"""Shipping a model: float16 without the RVQ-VAE encoder, loads and generates like the full model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2m_core.decoding import generate_from_condition
from a2m_core.errors import InputError
from a2m_core.model import load_model, preset_model, save_model
from training.runner import RunConfig, run_stage
from training.ship import is_inference_only, ship_model


def test_shipped_model_is_smaller_and_decodes_the_same_tokens(tmp_path, tiny_corpus):
    torch.manual_seed(0)
    model = preset_model("tiny")
    model.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "full")
    size = ship_model(tmp_path / "full", tmp_path / "shipped")
    assert size < sum(p.stat().st_size for p in (tmp_path / "full").iterdir()) * 0.6
    assert is_inference_only(tmp_path / "shipped") and not is_inference_only(tmp_path / "full")
    shipped = load_model(tmp_path / "shipped")
    cond, valid = torch.randn(2, 1, 32), torch.ones(2, 1, dtype=torch.bool)
    lengths = torch.tensor([16, 24])
    full = generate_from_condition(model, cond, valid, lengths, torch.zeros(2, 12, 49, 32))
    tokens = full.tokens
    torch.testing.assert_close(shipped.rvq_vae.decode(tokens, lengths // 4), model.rvq_vae.decode(tokens, lengths // 4),
                               rtol=1e-2, atol=1e-2)
    with pytest.raises(InputError, match="inference-only"):
        run_stage("masked", tiny_corpus, tmp_path / "run", RunConfig(preset="tiny"), init=tmp_path / "shipped")


def test_ship_command_writes_the_folder_and_refuses_a_non_model(tmp_path, capsys):
    from a2m_cli.main import main

    model = preset_model("tiny")
    model.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "full")
    assert main(["ship", "--model", str(tmp_path / "full"), "--out", str(tmp_path / "shipped")]) == 0
    assert "MB" in capsys.readouterr().out and is_inference_only(tmp_path / "shipped")
    assert main(["ship", "--model", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a model folder" in capsys.readouterr().err
