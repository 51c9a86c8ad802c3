"""The training loop: data order, warm-up, atomic checkpoints, resume after SIGKILL, DDP on gloo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, load_model, preset_model, save_model
from a2m_core.model.presets import preset_config
from training.loop import Distributed, LoopConfig, batch_indices, checkpoint_dirs, epoch_order, save_checkpoint, lr_at
from training.runner import RunConfig

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    # One thread per process: results are then bitwise repeatable, and two processes fit two cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _train_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "a2m_cli", "train", *args]


def test_batches_are_a_function_of_seed_and_step_and_shard_the_global_batch():
    config = LoopConfig(batch_size=4, seed=3)
    epoch, whole = batch_indices(10, 3, config, Distributed())
    assert epoch == 1  # 10 items make 2 batches of 4 per epoch
    assert batch_indices(10, 3, config, Distributed()) == (epoch, whole)
    shards = [batch_indices(10, 3, config, Distributed(rank=r, world_size=2))[1] for r in range(2)]
    assert sorted(shards[0] + shards[1]) == sorted(whole) and not set(shards[0]) & set(shards[1])
    assert batch_indices(10, 0, config, Distributed())[1] != batch_indices(10, 2, config, Distributed())[1]
    with pytest.raises(InputError, match="fewer than one batch"):
        batch_indices(3, 0, config, Distributed())


def test_bucketing_groups_similar_costs_and_keeps_every_item_once():
    costs = np.arange(64, dtype=float)[::-1]
    config = LoopConfig(batch_size=4, bucket_batches=4, seed=1)
    order = epoch_order(64, 0, config, costs)
    assert sorted(order.tolist()) == list(range(64))
    spreads = [np.ptp(costs[order[i:i + 4]]) for i in range(0, 64, 4)]
    plain = epoch_order(64, 0, LoopConfig(batch_size=4, seed=1))
    assert max(spreads) < np.mean([np.ptp(costs[plain[i:i + 4]]) for i in range(0, 64, 4)])
    np.testing.assert_array_equal(order, epoch_order(64, 0, config, costs))


def test_warmup_reaches_the_lr_then_stays_or_decays():
    config = LoopConfig(lr=2e-4, warmup_steps=4)
    assert [lr_at(s, config) for s in range(6)] == pytest.approx([5e-5, 1e-4, 1.5e-4, 2e-4, 2e-4, 2e-4])
    cosine = replace(config, schedule="cosine", max_steps=104)
    assert [lr_at(s, cosine) for s in (3, 4, 54, 104, 200)] == pytest.approx([2e-4, 2e-4, 1.1e-4, 2e-5, 2e-5])
    with pytest.raises(ValueError, match="schedule"):
        replace(config, schedule="linear")


def test_checkpoints_are_atomic_and_pruned(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    for step in (5, 10, 15):
        save_checkpoint(tmp_path, step, model, optimizer, {"stage": "test"}, keep=2)
    (tmp_path / "checkpoints" / ".step_0000020.saving-999").mkdir()  # what a save killed midway leaves
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step_0000010", "step_0000015"]
    saved = load_file(checkpoint_dirs(tmp_path)[-1] / "weights.safetensors")
    torch.testing.assert_close(saved["weight"], model.weight.detach())


def test_run_config_rejects_unknown_keys_and_bad_values(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: tiny\nloop: {max_steps: 5, batch_sise: 4}\n")
    with pytest.raises(InputError, match="loop.batch_sise"):
        RunConfig.from_yaml(path)
    path.write_text("loop: {max_steps: 0}\n")
    with pytest.raises(InputError, match="max_steps"):
        RunConfig.from_yaml(path)
    assert RunConfig.from_dict({"preset": "tiny", "loop": {"batch_size": 8}}).loop.batch_size == 8
    assert RunConfig.from_dict({"engines": ["espeak-ng"]}).engines == ("espeak-ng",)
    for bad in ({"engines": ["espeak-ng", "say"]}, {"engines": []}, {"renderings": 0}):
        with pytest.raises(InputError, match="engines|renderings"):
            RunConfig.from_dict(bad)


@pytest.mark.slow
def test_existing_run_needs_resume(tiny_corpus, tmp_path):
    from training.runner import run_stage

    config = RunConfig(preset="tiny", window_len=32, loop=LoopConfig(max_steps=2, batch_size=4, checkpoint_every=1))
    run_stage("rvq", tiny_corpus, tmp_path / "run", config, progress=False)
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    with pytest.raises(InputError, match="--resume"):
        run_stage("rvq", tiny_corpus, tmp_path / "run", config, progress=False)
    with pytest.raises(InputError, match="needs a trained RVQ-VAE"):
        run_stage("masked", tiny_corpus, tmp_path / "other", config, progress=False)


def _wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.time() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"training exited ({process.returncode}) before writing {path}: "
                                 f"{process.stderr.read().decode()[-2000:]}")
        if time.time() > deadline:
            raise AssertionError(f"no {path} after {timeout_s} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tiny_corpus, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("preset: tiny\nwindow_len: 32\n"
                      "loop: {max_steps: 60, batch_size: 4, warmup_steps: 5, checkpoint_every: 4, log_every: 2}\n")
    common = ["rvq", "--data", str(tiny_corpus), "--config", str(config)]
    subprocess.run(_train_cmd(*common, "--out", str(tmp_path / "straight")), env=_env(), check=True,
                   capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_cmd(*common, "--out", str(killed)), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _wait_for(killed / "checkpoints" / "step_0000008", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    newest = checkpoint_dirs(killed)[-1].name
    assert newest < "step_0000060" and not (killed / "model").exists(), "the run finished before it was killed"
    subprocess.run(_train_cmd(*common, "--out", str(killed), "--resume"), env=_env(), check=True, capture_output=True)

    straight = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    resumed = load_file(killed / "model" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6, msg=key)
    start = load_file(tmp_path / "straight" / "checkpoints" / "step_0000060" / "weights.safetensors")
    assert not torch.equal(start["model.rvq_vae.decoder.proj_out.weight"],
                           preset_model("tiny").state_dict()["rvq_vae.decoder.proj_out.weight"])


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tiny_corpus, tmp_path):
    """Length stage with dropout off: deterministic, so DDP's averaged gradients must equal one big batch's."""
    tiny = preset_config("tiny")
    model = AudioToMotion(replace(tiny, length=replace(tiny.length, dropout=0.0)))
    model.normalization = (torch.zeros(263).numpy(), torch.ones(263).numpy())
    save_model(model, tmp_path / "init")
    config = tmp_path / "run.yaml"
    config.write_text("loop: {max_steps: 6, batch_size: 4, warmup_steps: 2, lr: 1.0e-3}\n")  # the model: --init's
    common = ["length", "--data", str(tiny_corpus), "--config", str(config), "--init", str(tmp_path / "init")]
    subprocess.run(_train_cmd(*common, "--out", str(tmp_path / "one")), env=_env(), check=True, capture_output=True)
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "a2m_cli", "train", *common, "--out", str(tmp_path / "two")],
                         env=_env(), capture_output=True, text=True)
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    one = load_file(tmp_path / "one" / "model" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model" / "model.safetensors")
    start = model.state_dict()
    for key in (k for k in one if k.startswith("length_predictor.")):
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6, msg=key)
    moved = [k for k in one if k.startswith("length_predictor.") and not torch.allclose(one[k], start[k])]
    assert moved, "the length predictor did not train"


def test_run_config_builds_condition_ablations_and_picks_styles(tiny_corpus):
    from training.runner import _load_model

    config = RunConfig.from_dict({"preset": "tiny", "condition": {"kind": "avgpool", "pool": 8}, "styles": ["oral"]})
    model = _load_model(None, config, tiny_corpus)
    assert model.config.condition.kind == "avgpool" and model.config.condition.pool == 8
    assert config.styles == ("oral",)
    with pytest.raises(InputError, match="condition"):
        _load_model(None, RunConfig.from_dict({"preset": "tiny", "condition": {"kind": "lstm"}}), tiny_corpus)
    with pytest.raises(InputError, match="styles"):
        RunConfig.from_dict({"styles": ["shouted"]})


def test_init_carries_the_parts_whose_config_the_run_config_keeps(tiny_corpus, tmp_path):
    """An ablation started from a trained RVQ-VAE run keeps that RVQ-VAE and gets a fresh condition
    encoder; without preset or condition overrides --init loads as saved."""
    from training.runner import _load_model

    torch.manual_seed(1)
    trained = preset_model("tiny")
    save_model(trained, tmp_path / "rvq")
    same = _load_model(tmp_path / "rvq", RunConfig(), tiny_corpus)
    assert same.config == trained.config
    ablation = _load_model(tmp_path / "rvq", RunConfig.from_dict({"condition": {"kind": "conv1d", "pool": 4}}),
                           tiny_corpus)
    assert ablation.config.condition.kind == "conv1d" and ablation.config.rvq_vae == trained.config.rvq_vae
    for name, value in trained.rvq_vae.state_dict().items():
        assert torch.equal(ablation.rvq_vae.state_dict()[name], value)
    with pytest.raises(InputError, match="shares no part"):
        _load_model(tmp_path / "rvq", RunConfig(preset="edge"), tiny_corpus)


def test_a_trained_rvq_vae_keeps_its_normalisation_on_another_dataset(tiny_corpus, tmp_path):
    """Motion is normalised as the RVQ-VAE learnt it: a model with Mean/Std keeps them (also where an
    ablation carries its RVQ-VAE over); only a model without them takes the dataset's."""
    from training.runner import _load_model, _motion_normalizer

    corpus_mean = np.load(tiny_corpus / "Mean.npy")
    fresh = _load_model(None, RunConfig(preset="tiny"), tiny_corpus)
    np.testing.assert_array_equal(fresh.normalization[0], corpus_mean)
    trained = preset_model("tiny")
    trained.normalization = (np.full(263, 0.5, np.float32), np.full(263, 2.0, np.float32))
    save_model(trained, tmp_path / "rvq")
    for config in (RunConfig(), RunConfig.from_dict({"condition": {"kind": "conv1d", "pool": 4}})):
        model = _load_model(tmp_path / "rvq", config, tiny_corpus)
        assert model.normalization[0][0] == 0.5 and model.normalization[1][0] == 2.0
        np.testing.assert_allclose(_motion_normalizer(model).normalize(np.full((1, 263), 2.5)), 1.0)


def test_train_command_overrides_condition_and_styles(tiny_corpus, tmp_path):
    """`a2m train --condition kind=avgpool,pool=4 --styles oral` builds and records that run."""
    import json

    from a2m_cli.main import main

    save_model(preset_model("tiny"), tmp_path / "rvq")
    assert main(["train", "condition", "--data", str(tiny_corpus), "--out", str(tmp_path / "run"), "--init",
                 str(tmp_path / "rvq"), "--condition", "kind=avgpool,pool=4", "--styles", "oral", "--steps", "1",
                 "--batch-size", "2"]) == 0
    assert load_model(tmp_path / "run" / "model").config.condition.pool == 4
    run = json.loads((tmp_path / "run" / "train_summary.json").read_text())["run"]
    assert run["condition"] == {"kind": "avgpool", "pool": 4} and run["styles"] == ["oral"]
    assert main(["train", "condition", "--data", str(tiny_corpus), "--out", str(tmp_path / "bad"), "--init",
                 str(tmp_path / "rvq"), "--condition", "kind"]) == 2
    # the length stage does not train the condition encoder: replacing it would leave it random
    assert main(["train", "length", "--data", str(tiny_corpus), "--out", str(tmp_path / "bad"), "--init",
                 str(tmp_path / "rvq"), "--condition", "kind=avgpool", "--steps", "1"]) == 2


@pytest.mark.slow
def test_frozen_front_end_features_are_cached_on_disk(tiny_corpus, tmp_path):
    """Stages that train neither the front-end nor the condition encoder compute the condition of
    every training utterance once, before the first step, into OUT/feature_cache."""
    from training.data.datasets import MotionAudioConfig, MotionAudioDataset
    from training.runner import run_stage

    model = preset_model("tiny")
    model.normalization = (np.zeros(263, np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "init")
    config = RunConfig(loop=LoopConfig(max_steps=3, batch_size=4, checkpoint_every=3))
    run_stage("length", tiny_corpus, tmp_path / "run", config, init=tmp_path / "init", progress=False)
    assert not np.load(tmp_path / "run" / "model" / "Mean.npy").any()  # the init's, not the corpus's
    cached = list((tmp_path / "run" / "feature_cache").rglob("*.npy"))
    utterances = {e.audio for e in MotionAudioDataset(tiny_corpus, MotionAudioConfig(split="train")).entries}
    assert len(cached) == len(utterances)
    condition = np.load(cached[0])
    assert condition.shape == (model.config.condition.num_cond_tokens, model.config.condition.dim)
