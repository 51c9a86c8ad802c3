"""The condition stage (instruction slots supervise the front-end and condition encoder) and the
decoders stage that trains the token transformers on the frozen, cached condition."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from a2m_core.errors import InputError
from a2m_core.model import load_model, preset_model, save_model
from training.data.augment import speech_augment
from training.instruction_slots import (NUM_SLOTS, SLOT_FIELDS, ClipSlots, SlotProbe, WordProbe, load_slot_probe,
                                       pooled_condition, slot_targets)
from training.loop import LoopConfig
from training.runner import RunConfig, run_stage


def test_slot_targets_index_each_field_and_leave_missing_slots_empty():
    actions = [{"kind": "wave", "side": "right", "direction": None, "count": 3, "speed": "normal"},
               {"kind": "walk", "side": None, "direction": "backward", "count": 4, "speed": "fast"}]
    targets = slot_targets(actions)
    kinds = SLOT_FIELDS["kind"]
    assert targets.shape == (NUM_SLOTS, len(SLOT_FIELDS))
    assert targets[0].tolist() == [kinds.index("wave"), 2, 0, SLOT_FIELDS["count"].index(3), 2]
    assert targets[1].tolist() == [kinds.index("walk"), 0, 2, SLOT_FIELDS["count"].index(4), 3]
    assert targets[2].tolist() == [0, 0, 0, 0, 0]  # no third action
    with pytest.raises(ValueError, match="side"):
        slot_targets([{"kind": "wave", "side": "up", "direction": None, "count": 2, "speed": "normal"}])


def test_clip_slots_read_records_and_say_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="records"):
        ClipSlots(tmp_path)
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "000001.json").write_text(json.dumps(
        {"actions": [{"kind": "sit_down", "side": None, "direction": None, "count": None, "speed": "normal"}]}))
    assert ClipSlots(tmp_path)("000001")[0, 0] == SLOT_FIELDS["kind"].index("sit_down")
    with pytest.raises(InputError, match="000002"):
        ClipSlots(tmp_path)("000002")


def test_probe_loss_is_low_only_for_the_right_slots():
    torch.manual_seed(0)
    probe = SlotProbe(8)
    targets = torch.from_numpy(np.stack([slot_targets([{"kind": "kick", "side": "left", "direction": None,
                                                        "count": 1, "speed": "normal"}])] * 4))
    pooled = torch.randn(4, 8, requires_grad=True)
    optimizer = torch.optim.Adam([pooled, *probe.parameters()], lr=0.1)
    for _ in range(100):
        loss = probe.loss(pooled, targets)["slots"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fitted = probe.loss(pooled, targets)
    assert fitted["kind_acc"] == 1.0 and fitted["slots"] < 0.1
    other = targets.clone()
    other[:, 0, 1] = SLOT_FIELDS["side"].index("right")
    assert probe.loss(pooled, other)["slots"] > fitted["slots"] + 1.0


def test_pooled_condition_ignores_padded_tokens():
    cond = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    assert pooled_condition(cond, torch.tensor([[True, True, False]])).tolist() == [[2.0, 2.0]]


def test_speech_augment_keeps_length_and_follows_the_generator():
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    outs = [speech_augment(speech, np.random.default_rng(seed)) for seed in range(12)]
    assert all(len(o) == len(speech) and o.dtype == np.float32 for o in outs)
    assert any(not np.allclose(o, speech) for o in outs) and any(np.allclose(o, speech) for o in outs)
    np.testing.assert_array_equal(outs[3], speech_augment(speech, np.random.default_rng(3)))


@pytest.mark.slow
def test_condition_then_decoders_train_their_own_parts(tiny_corpus, tmp_path):
    """condition trains front-end + condition encoder (its probe stays out of the model); decoders
    trains the transformers on the condition cached on disk and leaves the condition as it was."""
    model = preset_model("tiny")
    model.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "init")
    config = RunConfig(loop=LoopConfig(max_steps=3, batch_size=4, checkpoint_every=3, warmup_steps=1))
    result = run_stage("condition", tiny_corpus, tmp_path / "cond", config, init=tmp_path / "init", progress=False)
    assert np.isfinite(result.last_losses["slots"]) and "kind_acc" in result.last_losses
    run_stage("decoders", tiny_corpus, tmp_path / "dec", config, init=tmp_path / "cond" / "model", progress=False)
    init, cond, dec = (load_model(tmp_path / p) for p in ("init", "cond/model", "dec/model"))

    def moved(a, b, part):
        return any(not torch.equal(x, y) for x, y in zip(getattr(a, part).parameters(), getattr(b, part).parameters()))

    assert moved(init, cond, "frontend") and moved(init, cond, "condition") and not moved(init, cond, "masked")
    assert not moved(cond, dec, "frontend") and not moved(cond, dec, "condition")
    assert moved(cond, dec, "masked") and moved(cond, dec, "residual") and moved(cond, dec, "length_predictor")
    checkpoint = tmp_path / "cond" / "checkpoints" / "step_0000003"  # its slot probe reads this condition only
    assert load_slot_probe(checkpoint, dec).proj.weight.shape[1] == model.config.condition.dim
    with pytest.raises(InputError, match="another condition"):
        load_slot_probe(checkpoint, init)
    cached = np.load(next((tmp_path / "dec" / "feature_cache").rglob("*.npy")))
    assert cached.shape == (model.config.condition.num_cond_tokens, model.config.condition.dim)


def test_word_probe_targets_the_words_present_and_learns_which_frame_carries_them():
    vocabulary = WordProbe.vocabulary_of(["wave your left hand", "kick with your left leg", "wave your right hand"] * 20)
    assert vocabulary == sorted(set("wave your left hand kick with leg right".split()))
    torch.manual_seed(0)
    probe = WordProbe(6, vocabulary)
    targets = probe.targets(["Wave your LEFT hand!", "jump"], torch.device("cpu"))
    assert targets[0].sum() == 4 and targets[0, vocabulary.index("left")] == 1 and targets[1].sum() == 0
    # one frame per word: frame k is word k's one-hot direction; padding frames must not count
    frames = torch.eye(6)[None].repeat(2, 1, 1)
    valid = torch.tensor([[True] * 6, [True, True, False, False, False, False]])
    texts = ["left hand", "left"]
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
    for _ in range(200):
        loss = probe.loss(frames, valid, texts)["words"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert probe.loss(frames, valid, texts)["word_recall"] == 1.0


@pytest.mark.parametrize("kind", ["memory_retrieval", "avgpool", "conv1d", "transformer_cls"])
def test_condition_encoders_return_the_frames_their_condition_comes_from(kind):
    from a2m_core.model.condition import ConditionConfig, ConditionEncoder

    encoder = ConditionEncoder(ConditionConfig(kind=kind, dim_in=8, dim=16, num_memory=4, num_layers=1, num_heads=2,
                                               pool=4)).eval()
    feats, lens = torch.randn(2, 20, 8), torch.tensor([20, 11])
    cond, cond_valid, frames, frames_valid = encoder.encode(feats, lens)
    forward = encoder(feats, lens)
    torch.testing.assert_close(forward[0], cond)
    assert frames.shape[:2] == frames_valid.shape and frames.shape[-1] == 16
    assert frames_valid[0].all() and frames_valid[1].sum() < frames_valid[0].sum()


@pytest.mark.parametrize("with_condition", [False, True])
def test_batched_cache_fill_gives_each_utterance_its_own_features(tiny_corpus, tmp_path, with_condition):
    """The runner warms a frozen front-end's cache in padded batches; a clip's features must not
    depend on its batch mates (the real speech-embedding front-end and condition encoder)."""
    from dataclasses import replace

    from a2m_core.model.presets import preset_config
    from a2m_core.model.speech_embedding_import import init_model
    from training.data.datasets import MotionAudioConfig, MotionAudioDataset
    from training.runner import _feature_cache

    config = preset_config("edge-embedding")
    model = init_model(replace(config, condition=replace(config.condition, num_cond_tokens=2))).eval()
    data = MotionAudioDataset(tiny_corpus, MotionAudioConfig(split="train"))
    paths = sorted({e.audio for e in data.entries}, key=lambda p: p.stat().st_size)[:3]
    cache, batch_features = _feature_cache(model, tmp_path / "batched", with_condition)
    assert cache.fill(paths, data.load_audio, batch_features, progress=False) == len(paths)
    single, _ = _feature_cache(model, tmp_path / "single", with_condition)
    for path in paths:
        torch.testing.assert_close(torch.from_numpy(cache.features(path, data.load_audio)),
                                   torch.from_numpy(single.features(path, data.load_audio)), atol=2e-4, rtol=1e-4)


def test_unexplained_variance_is_zero_for_a_copy_and_one_for_the_batch_mean():
    from training.stages import unexplained_variance

    torch.manual_seed(0)
    target = torch.randn(16, 1, 8) * 3 + 5
    assert float(unexplained_variance(target.clone(), target)) == 0.0
    batch_mean = target.mean(0, keepdim=True).expand_as(target)
    assert float(unexplained_variance(batch_mean, target)) == pytest.approx(1.0, abs=1e-5)
    assert float(unexplained_variance(target + 0.1 * torch.randn_like(target), target)) < 0.01


@pytest.mark.slow
def test_distilling_a_shipped_model_gives_a_new_front_end_its_decoders(tiny_corpus, tmp_path):
    """The condition stage with `distill`: --init (an inference-only edge model) is the teacher;
    the edge-embedding student learns its condition and keeps its decoders; the result is
    inference-only like its --init, and the teacher's targets are its own condition of each file."""
    from training.data.datasets import MotionAudioConfig, MotionAudioDataset
    from training.ship import is_inference_only, ship_model

    torch.manual_seed(0)
    teacher = preset_model("edge")
    teacher.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(teacher, tmp_path / "full")
    ship_model(tmp_path / "full", tmp_path / "teacher")
    config = RunConfig(preset="edge-embedding", distill=True,
                       loop=LoopConfig(max_steps=2, batch_size=4, checkpoint_every=2, warmup_steps=1))
    result = run_stage("condition", tiny_corpus, tmp_path / "run", config, init=tmp_path / "teacher", progress=False)
    assert 0.0 < result.last_losses["distill"] < 100.0

    student, shipped = load_model(tmp_path / "run" / "model"), load_model(tmp_path / "teacher")
    assert is_inference_only(tmp_path / "run" / "model") and student.config.frontend.kind == "speech_embedding"
    for part in ("masked", "residual", "length_predictor", "rvq_vae.decoder"):
        mine, theirs = student.get_submodule(part).state_dict(), shipped.get_submodule(part).state_dict()
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs), part

    from training.runner import _teacher_cache

    data = MotionAudioDataset(tiny_corpus, MotionAudioConfig(split="train"))
    audio = data.load_audio(data.entries[0].audio)
    with torch.no_grad():
        expected, _ = shipped.condition(*shipped.frontend(torch.from_numpy(audio)[None], torch.tensor([len(audio)])))
    cache, _ = _teacher_cache(student, tmp_path / "teacher", tmp_path / "run" / "teacher_cache")
    before = len(list((tmp_path / "run" / "teacher_cache").rglob("*.npy")))
    # filled in padded batches: the log-mel front-end's convolutions see a batch's padding at a clip's end
    torch.testing.assert_close(torch.from_numpy(cache.features(data.entries[0].audio, data.load_audio)), expected[0],
                               atol=0.05, rtol=0.0)
    assert len(list((tmp_path / "run" / "teacher_cache").rglob("*.npy"))) == before  # filled by the run


def test_distill_is_refused_where_it_cannot_work(tiny_corpus, tmp_path):
    model = preset_model("tiny")
    model.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "init")
    loop = LoopConfig(max_steps=1, batch_size=2, warmup_steps=1)
    with pytest.raises(InputError, match="condition-stage option"):
        run_stage("decoders", tiny_corpus, tmp_path / "a", RunConfig(distill=True, loop=loop), init=tmp_path / "init")
    with pytest.raises(InputError, match="one fixed shape"):
        run_stage("condition", tiny_corpus, tmp_path / "b",
                  RunConfig(distill=True, condition={"num_cond_tokens": 2}, loop=loop), init=tmp_path / "init")
