"""The contrastive evaluator: text tokenisation, InfoNCE, save/load, and that training separates pairs."""

from __future__ import annotations

import math

import pytest
import torch

from a2m_core.errors import InputError
from training.evaluator.model import Evaluator, EvaluatorConfig, info_nce
from training.loop import LoopConfig


def test_info_nce_of_a_hand_case():
    a = torch.eye(2)
    # cosine logits [[1, 0], [0, 1]] / 1: each row's loss is -log(e / (e + 1)), both directions alike
    assert float(info_nce(a, a, 1.0)) == pytest.approx(-math.log(math.e / (math.e + 1)))
    assert float(info_nce(a, a.flip(0), 1.0)) == pytest.approx(-math.log(1 / (math.e + 1)))


def test_unknown_words_map_to_one_id_and_save_load_round_trips(tmp_path):
    evaluator = Evaluator(EvaluatorConfig(vocabulary=("a", "person", "walks"), dim_motion=263)).eval()
    ids, counts = evaluator.text.tokenize(["A person walks!", "someone zooms"])
    assert ids.tolist() == [[2, 3, 4], [1, 1, 0]] and counts.tolist() == [3, 2]
    evaluator.save(tmp_path / "ev")
    loaded = Evaluator.load(tmp_path / "ev")
    motion, lengths = torch.randn(2, 40, 263), torch.tensor([40, 24])
    torch.testing.assert_close(loaded.embed_motion(motion, lengths), evaluator.embed_motion(motion, lengths))
    assert torch.linalg.norm(loaded.embed_text(["a person walks"]), dim=-1).item() == pytest.approx(1.0)
    with pytest.raises(InputError, match="without audio"):
        loaded.embed_audio(torch.zeros(1, 16000), torch.tensor([16000]))
    (tmp_path / "ev" / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(InputError, match="a2m train evaluator"):
        Evaluator.load(tmp_path / "ev")


@pytest.mark.slow
def test_training_brings_captions_and_their_motion_together(tiny_corpus, tmp_path):
    from training.evaluator.train import run_evaluator

    result = run_evaluator(tiny_corpus, tmp_path / "run", LoopConfig(max_steps=60, batch_size=8, warmup_steps=5,
                                                                      lr=1e-3, checkpoint_every=60), progress=False)
    assert result.last_losses["text"] < math.log(8) * 0.7  # chance level for 8 pairs is log 8
    assert (tmp_path / "run" / "model" / "config.json").is_file()
