"""The contrastive evaluator: text tokenisation, InfoNCE, save/load, and that training separates pairs."""

from __future__ import annotations

import math

import pytest
import torch

from a2m_core.errors import InputError
from torch import nn

from training.evaluator.model import Evaluator, EvaluatorConfig, MotionEncoder, info_nce
from training.evaluator.train import EvaluatorStage
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


def test_time_parts_pool_the_whole_clip_and_each_part_of_it_apart():
    encoder = MotionEncoder(EvaluatorConfig(vocabulary=("a",), dim_motion=2, width=2, num_down=0, time_parts=2))
    encoder.net, encoder.out = nn.Identity(), nn.Identity()  # leave the pooling alone to look at
    frames = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 5.0], [99.0, 99.0]]])  # (1 4 2), the last frame padding
    pooled = encoder(frames, torch.tensor([3]))  # parts of 3 steps: [0, 1] and [2]
    torch.testing.assert_close(pooled, torch.tensor([[4 / 3, 5 / 3, 2.0, 0.0, 0.0, 5.0]]))
    swapped = encoder(frames[:, [2, 0, 1, 3]], torch.tensor([3]))  # the same frames, the last first
    torch.testing.assert_close(swapped[:, :2], pooled[:, :2])  # the whole clip's mean cannot tell
    assert not torch.allclose(swapped[:, 2:], pooled[:, 2:])
    with pytest.raises(ValueError, match="time_parts"):
        EvaluatorConfig(vocabulary=("a",), time_parts=0)


def test_the_order_term_prefers_the_caption_in_order_and_skips_clips_without_one():
    evaluator = Evaluator(EvaluatorConfig(vocabulary=("a", "person", "walks", "jumps", "and", "then"),
                                          dim_motion=4, order_weight=1.0))
    pairs = {"two": ("a person walks and then jumps.", "a person jumps and then walks.")}
    stage = EvaluatorStage(evaluator, pairs.get)
    batch = {"motion": torch.randn(3, 16, 4), "length": torch.tensor([16, 12, 8]),
             "caption": ["a person walks", "a person jumps", "a person walks and then jumps"],
             "clip": ["one", "other", "two"]}
    losses = stage(batch)
    motion = evaluator.embed_motion(batch["motion"][2:], batch["length"][2:])
    logits = motion @ evaluator.embed_text(list(pairs["two"])).t() / evaluator.config.temperature  # (1 2)
    assert float(losses["order"]) == pytest.approx(float(-torch.log_softmax(logits, -1)[0, 0]), rel=1e-5)
    assert float(losses["loss"]) == pytest.approx(float(losses["text"] + losses["order"]), rel=1e-5)
    assert float(stage({**batch, "clip": ["one", "other", "three"]})["order"]) == 0.0
    with pytest.raises(ValueError, match="order_pairs"):
        EvaluatorStage(evaluator)


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, {"time_parts": 3, "order_weight": 1.0}], ids=["default", "order"])
def test_training_brings_captions_and_their_motion_together(tiny_corpus, tmp_path, options):
    from training.evaluator.train import run_evaluator

    result = run_evaluator(tiny_corpus, tmp_path / "run", LoopConfig(max_steps=60, batch_size=8, warmup_steps=5,
                                                                      lr=1e-3, checkpoint_every=60),
                           options=options, progress=False)
    assert result.last_losses["text"] < math.log(8) * 0.7  # chance level for 8 pairs is log 8
    assert ("order" in result.last_losses) == bool(options)
    assert Evaluator.load(tmp_path / "run" / "model").config.time_parts == options.get("time_parts", 1)
