"""`a2m model init|info` and `a2m generate` end to end on real speech (espeak-ng) at any rate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from a2m_cli.main import main
from a2m_core.audio.speech import espeak

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "humanml3d"


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """A spoken instruction as a 44.1 kHz stereo WAV (the CLI must downmix and resample)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: apt-get install espeak-ng")
    directory = tmp_path_factory.mktemp("speech")
    samples, rate = espeak("walk forward, then wave with your right hand")
    from scipy.signal import resample_poly

    stereo = np.stack([resample_poly(samples, 44100, rate)] * 2, axis=1)
    path = directory / "instruction.wav"
    soundfile.write(path, stereo, 44100)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    if not (SHARED / "Mean.npy").is_file():
        pytest.skip(f"HumanML3D Mean/Std absent: {SHARED}")
    directory = tmp_path_factory.mktemp("models") / "tiny"
    assert main(["model", "init", "--preset", "tiny", "--out", str(directory),
                 "--mean", str(SHARED / "Mean.npy"), "--std", str(SHARED / "Std.npy")]) == 0
    return directory


def test_init_writes_a_model_folder_and_refuses_to_overwrite(model_dir, capsys):
    assert sorted(p.name for p in model_dir.iterdir()) == ["Mean.npy", "Std.npy", "config.json", "model.safetensors"]
    assert main(["model", "init", "--preset", "tiny", "--out", str(model_dir)]) == 2
    assert "--force" in capsys.readouterr().err


def test_info_reports_parameters_per_component(model_dir, capsys):
    assert main(["model", "info", str(model_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    counts = info["parameters"]
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total") > 0
    assert set(counts) >= {"frontend", "condition", "rvq_vae", "masked", "residual", "length_predictor"}
    assert info["normalization"] is True and info["config"]["frontend"]["kind"] == "logmel"


def test_generate_writes_features_joints_and_bvh_reproducibly(model_dir, speech, tmp_path, capsys):
    def run(seed: int, name: str) -> np.ndarray:
        args = ["generate", "--model", str(model_dir), "--audio", str(speech), "--out", str(tmp_path / f"{name}.npy"),
                "--seed", str(seed), "--length", "42"]
        if name == "a":
            args += ["--joints", str(tmp_path / "a_joints.npy"), "--bvh", str(tmp_path / "a.bvh")]
        assert main(args) == 0
        return np.load(tmp_path / f"{name}.npy")

    a, b, c = run(1, "a"), run(1, "b"), run(2, "c")
    assert a.shape == (40, 263) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    mean, std = np.load(SHARED / "Mean.npy"), np.load(SHARED / "Std.npy")
    assert np.abs((a - mean) / std).max() < 1e3  # denormalised with the model's stats
    assert np.load(tmp_path / "a_joints.npy").shape == (40, 22, 3)
    assert (tmp_path / "a.bvh").read_text().startswith("HIERARCHY")


def test_generate_errors_are_one_line(model_dir, speech, tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "none"), "--audio", str(speech), "--out", str(tmp_path / "o.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["generate", "--model", str(model_dir), "--audio", str(tmp_path / "no.wav"), "--out", str(tmp_path / "o.npy")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["generate", "--model", str(model_dir), "--audio", str(speech), "--out", str(tmp_path / "o.txt")]) == 2
    assert ".npy" in capsys.readouterr().err
    bare = tmp_path / "bare"
    assert main(["model", "init", "--preset", "tiny", "--out", str(bare)]) == 0
    assert main(["generate", "--model", str(bare), "--audio", str(speech), "--out", str(tmp_path / "o.npy"),
                 "--joints", str(tmp_path / "j.npy")]) == 2
    assert "Mean.npy" in capsys.readouterr().err
