"""Model folders: round trip, and a clear error naming the file for each kind of damage."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from a2m_core.decoding import generate, make_noise
from a2m_core.errors import InputError
from a2m_core.model import load_model, preset_model, save_model
from a2m_core.model.io import CONFIG_FILE, WEIGHTS_FILE


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = preset_model("tiny")
    model.normalization = (np.arange(263, dtype=np.float32), np.full(263, 2.0, dtype=np.float32))
    return model, save_model(model, tmp_path / "model")


def test_round_trip_gives_identical_outputs(saved):
    model, directory = saved
    loaded = load_model(directory)
    assert loaded.config == model.config and not loaded.training
    audio = torch.randn(1, 12000) * 0.1
    lens = torch.tensor([12000])
    noise = make_noise(model, 1, seed=0)
    a = generate(model, audio, lens, torch.tensor([40]), noise)
    b = generate(loaded, audio, lens, torch.tensor([40]), noise)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.features, b.features)
    np.testing.assert_array_equal(loaded.normalization[0], model.normalization[0])
    np.testing.assert_array_equal(loaded.normalization[1], model.normalization[1])
    for key, value in model.state_dict().items():  # buffers too: EMA codebooks
        assert torch.equal(loaded.state_dict()[key], value), key


def test_save_replaces_an_existing_model(saved):
    model, directory = saved
    model.normalization = None
    save_model(model, directory)
    assert load_model(directory).normalization is None
    assert not list(directory.parent.glob(".model.*"))  # no staging leftovers


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_missing_config(saved):
    _, directory = saved
    (directory / CONFIG_FILE).unlink()
    with pytest.raises(InputError, match=CONFIG_FILE):
        load_model(directory)


def test_damaged_config(saved):
    _, directory = saved
    (directory / CONFIG_FILE).write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_model(directory)
    (directory / CONFIG_FILE).write_text(json.dumps({"format": "a2m-model", "format_version": 1,
                                                     "config": {"frontend": {"kind": "logmel"}}}))
    with pytest.raises(InputError, match="key config.condition is missing"):
        load_model(directory)
    (directory / CONFIG_FILE).write_text(json.dumps({"format": "a2m-model", "format_version": 99, "config": {}}))
    with pytest.raises(InputError, match="format_version 99, this a2m reads 1: .*newer a2m"):
        load_model(directory)
    (directory / CONFIG_FILE).write_text(json.dumps(["a2m-model"]))
    with pytest.raises(InputError, match="not an a2m model config"):
        load_model(directory)


def test_truncated_weights(saved):
    _, directory = saved
    path = directory / WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match=r"model\.safetensors.*truncated or damaged"):
        load_model(directory)


def test_missing_weights(saved):
    _, directory = saved
    (directory / WEIGHTS_FILE).unlink()
    with pytest.raises(InputError, match=WEIGHTS_FILE):
        load_model(directory)


def test_weights_of_another_model(saved, tmp_path):
    _, directory = saved
    other = save_model(preset_model("tiny", dataset="kit"), tmp_path / "kit")
    (directory / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(InputError, match="does not match its config.json.*wrong shape"):
        load_model(directory)


def test_normalization_files_come_in_pairs_and_fit(saved):
    _, directory = saved
    np.save(directory / "Std.npy", np.ones(10, dtype=np.float32))
    with pytest.raises(InputError, match="Std.npy must hold 263"):
        load_model(directory)
    (directory / "Std.npy").unlink()
    with pytest.raises(InputError, match="Std.npy is missing"):
        load_model(directory)


def test_pickled_normalization_is_refused(saved):
    _, directory = saved
    np.save(directory / "Mean.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Mean.npy"):
        load_model(directory)
