"""Runtime fixtures: a tiny model folder and its ONNX export, made once per test session.

The export goes through the real `a2m export onnx` command (so the fixture tests it too); it
takes tens of seconds on a busy 2-core machine, so the tests that use it are marked slow.
Torch runs on one thread here: the tensors are tiny, and on a busy 2-core machine torch's
thread pool waits for cores more than it computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random model with normalisation statistics, so features become plausible-scale joints."""
    from a2m_core.model import preset_model, save_model

    torch.manual_seed(0)
    model = preset_model("tiny")
    rng = np.random.default_rng(0)
    model.normalization = (rng.normal(0, 0.1, 263).astype(np.float32), rng.uniform(0.05, 0.2, 263).astype(np.float32))
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir, tmp_path_factory) -> Path:
    """`a2m export onnx` of the tiny model."""
    from a2m_cli.main import main

    out = tmp_path_factory.mktemp("export") / "tiny_onnx"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["export", "onnx", "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def _speech_like(seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))
    return (rng.normal(0, 0.1, t.shape) * envelope).astype(np.float32)


@pytest.fixture(scope="session")
def speech_like():
    """(seconds, seed, rate=16000) -> noise with a syllable-rate envelope: not speech, but not
    stationary either (the models under test are random anyway)."""
    return _speech_like
