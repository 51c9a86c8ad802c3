"""WavLM front-end through transformers, loaded from a local folder.

No WavLM weights can be downloaded on these machines, so the folder holds a small, randomly
initialised WavLMModel saved with save_pretrained: the loading code is the real one.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from a2m_core.decoding import generate, make_noise
from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, load_model, save_model
from a2m_core.model.frontend_wavlm import WavLMFrontend
from a2m_core.model.presets import preset_config

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                      num_buckets=32, max_bucket_distance=100)
    directory = tmp_path_factory.mktemp("wavlm")
    transformers.WavLMModel(config).eval().save_pretrained(directory)
    return directory


def test_loads_a_local_folder_and_returns_the_last_hidden_layer(wavlm_dir):
    frontend = WavLMFrontend.from_pretrained(str(wavlm_dir)).eval()
    reference = transformers.WavLMModel.from_pretrained(wavlm_dir).eval()
    audio = torch.randn(2, 16000) * 0.1
    audio[1, 8000:] = 0
    feats, lens = frontend(audio, torch.tensor([16000, 8000]))
    assert feats.shape == (2, 49, 32) and lens.tolist() == [49, 24]
    torch.testing.assert_close(feats, reference(audio).last_hidden_state)
    assert frontend.min_samples == 400
    assert not any(p.requires_grad for p in frontend.parameters())  # frozen, as in the paper


def test_bad_source_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="could not load WavLM"):
        WavLMFrontend.from_pretrained(str(tmp_path / "absent"))


def test_model_with_a_pretrained_wavlm_saves_loads_and_generates(wavlm_dir, tmp_path):
    """The whole paper layout (tiny sizes) with a WavLM front-end, through save/load, needs no hub."""
    frontend = WavLMFrontend.from_pretrained(str(wavlm_dir))
    tiny = preset_config("tiny")
    config = replace(tiny, frontend=frontend.config, condition=replace(tiny.condition, dim_in=32))
    model = AudioToMotion(config).eval()
    model.frontend.load_state_dict(frontend.state_dict())
    loaded = load_model(save_model(model, tmp_path / "m"))
    audio, lens = torch.randn(1, 20000) * 0.1, torch.tensor([20000])
    noise = make_noise(model, 1, seed=0)
    a = generate(model, audio, lens, torch.tensor([32]), noise)
    b = generate(loaded, audio, lens, torch.tensor([32]), noise)
    assert a.features.shape == (1, 32, 263) and torch.equal(a.tokens, b.tokens)
    with pytest.raises(InputError, match="between 400 samples"):
        generate(model, torch.zeros(1, 300), torch.tensor([300]))


def test_cli_init_takes_a_wavlm_folder_and_checks_its_width(wavlm_dir, tmp_path, capsys):
    from a2m_cli.main import main

    assert main(["model", "init", "--preset", "paper", "--wavlm", str(wavlm_dir), "--out", str(tmp_path / "m")]) == 2
    assert "32 wide; the paper preset needs 768" in capsys.readouterr().err
    assert main(["model", "init", "--preset", "edge", "--wavlm", str(wavlm_dir), "--out", str(tmp_path / "m")]) == 2
    assert "WavLM front-end" in capsys.readouterr().err
