"""`a2m motion ...` on files a user has: the happy paths and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a2m_cli.main import main

FIXTURE = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "humanml3d"


def need_fixture() -> Path:
    if not (FIXTURE / "new_joint_vecs_012314.npy").is_file():
        pytest.skip(f"HumanML3D fixture absent: {FIXTURE} (it lives in ../shared beside the checkout)")
    return FIXTURE


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("a2m: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_decode_matches_reference_joints(tmp_path, capsys):
    fx = need_fixture()
    out = tmp_path / "joints.npy"
    code, stdout, _ = run_cli(["motion", "decode", fx / "new_joint_vecs_012314.npy", "--out", out], capsys)
    assert code == 0 and "(170, 22, 3)" in stdout
    np.testing.assert_allclose(np.load(out), np.load(fx / "new_joints_012314.npy"), atol=1e-5)


def test_decode_normalised_features_with_mean_std(tmp_path, capsys):
    fx = need_fixture()
    mean, std = np.load(fx / "Mean.npy"), np.load(fx / "Std.npy")
    normalised = (np.load(fx / "new_joint_vecs_012314.npy") - mean) / std
    np.save(tmp_path / "norm.npy", normalised.astype(np.float32))
    out = tmp_path / "joints.npy"
    code, _, err = run_cli(["motion", "decode", tmp_path / "norm.npy", "--out", out,
                            "--mean", fx / "Mean.npy", "--std", fx / "Std.npy"], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.load(out), np.load(fx / "new_joints_012314.npy"), atol=1e-4)


def test_encode_then_decode_round_trip(tmp_path, capsys):
    fx = need_fixture()
    joints = np.load(fx / "new_joints_012314.npy")
    feats, back = tmp_path / "f.npy", tmp_path / "j.npy"
    assert run_cli(["motion", "encode", fx / "new_joints_012314.npy", "--out", feats], capsys)[0] == 0
    assert np.load(feats).shape == (169, 263)
    assert run_cli(["motion", "decode", feats, "--out", back], capsys)[0] == 0
    np.testing.assert_allclose(np.load(back), joints[:-1], atol=1e-3)


def test_render_gif_of_joints(tmp_path, capsys):
    from a2m_core.motion.example import example_motion

    joints = example_motion(walk_s=0.5, wave_s=0.3).joints
    np.save(tmp_path / "j.npy", joints)
    out = tmp_path / "clip.gif"
    code, _, err = run_cli(["motion", "render", tmp_path / "j.npy", "--out", out, "--title", "test"], capsys)
    assert code == 0, err
    from PIL import Image

    with Image.open(out) as gif:
        assert gif.n_frames == len(joints)


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases = {}
    nan = np.zeros((10, 263), np.float32)
    nan[3, 5] = np.nan
    cases["nan"] = (nan, "NaN")
    cases["empty"] = (np.zeros((0, 263), np.float32), "empty")
    cases["wrong_dim"] = (np.zeros((10, 100), np.float32), "263")
    cases["wrong_rank"] = (np.zeros((10,), np.float32), "263")
    cases["wrong_joints"] = (np.zeros((10, 17, 3), np.float32), "263")
    paths = {}
    for name, (array, needle) in cases.items():
        np.save(tmp_path / f"{name}.npy", array)
        paths[name] = (tmp_path / f"{name}.npy", needle)
    (tmp_path / "garbage.npy").write_bytes(b"this is not a numpy file")
    paths["garbage"] = (tmp_path / "garbage.npy", "not a readable")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    paths["pickled"] = (tmp_path / "pickled.npy", "pickled.npy")
    paths["missing"] = (tmp_path / "missing.npy", "no such file")
    return paths


@pytest.mark.parametrize("case", ["nan", "empty", "wrong_dim", "wrong_rank", "wrong_joints", "garbage", "pickled", "missing"])
@pytest.mark.parametrize("command", ["decode", "render", "bvh"])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, case, command):
    path, needle = _bad_inputs(tmp_path)[case]
    suffix = {"decode": ".npy", "render": ".gif", "bvh": ".bvh"}[command]
    code, _, err = run_cli(["motion", command, path, "--out", tmp_path / f"out{suffix}"], capsys)
    assert_one_line_error(code, err, path.name, needle)
    assert not (tmp_path / f"out{suffix}").exists()


def test_encode_rejects_features_and_single_frame(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((10, 263), np.float32))
    code, _, err = run_cli(["motion", "encode", tmp_path / "f.npy", "--out", tmp_path / "o.npy"], capsys)
    assert_one_line_error(code, err, "f.npy", "(frames, 22, 3)")
    np.save(tmp_path / "one.npy", np.zeros((1, 22, 3), np.float32))
    code, _, err = run_cli(["motion", "encode", tmp_path / "one.npy", "--out", tmp_path / "o.npy"], capsys)
    assert_one_line_error(code, err, "one.npy")


def test_wrong_output_suffix_and_dataset_mismatch(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((10, 263), np.float32))
    code, _, err = run_cli(["motion", "render", tmp_path / "f.npy", "--out", tmp_path / "clip.avi"], capsys)
    assert_one_line_error(code, err, ".mp4")
    code, _, err = run_cli(["motion", "decode", tmp_path / "f.npy", "--out", tmp_path / "o.npy", "--dataset", "kit"], capsys)
    assert_one_line_error(code, err, "humanml3d", "kit")


def test_entry_point_error_has_no_traceback(tmp_path):
    """The installed console script (a real process) prints one line and exits 2."""
    exe = Path(sys.executable).parent / "a2m"
    result = subprocess.run([str(exe), "motion", "decode", str(tmp_path / "nope.npy"), "--out", str(tmp_path / "o.npy")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "nope.npy" in result.stderr


@pytest.mark.slow
def test_demo_speaks_generates_and_writes_video_and_bvh(tmp_path, capsys):
    """`make run`'s job without ROS: TTS -> default model -> an H.264 mp4 (a frame per motion frame) and a BVH."""
    code, stdout, err = run_cli(["demo", "--no-ros", "--out", tmp_path], capsys)
    assert code == 0, err
    video = tmp_path / "motion.mp4"
    joints = np.load(tmp_path / "joints.npy")
    assert joints.ndim == 3 and joints.shape[1:] == (22, 3) and len(joints) >= 4
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=codec_name,nb_read_frames", "-of", "csv=p=0", str(video)],
                           capture_output=True, text=True, check=True)
    codec, frames = probe.stdout.strip().split(",")
    assert codec == "h264" and int(frames) == len(joints)
    frames_line = next(line for line in (tmp_path / "motion.bvh").read_text().splitlines() if line.startswith("Frames:"))
    assert int(frames_line.split()[1]) == len(joints)
    assert str(video) in stdout and (tmp_path / "instruction.wav").is_file()


def test_render_kit_motion_in_millimetres(tmp_path, capsys):
    """KIT-ML joints are millimetres; the renderer scales them (a metre-sized view would be empty)."""
    from a2m_core.motion.kinematics import forward_kinematics, rest_offsets
    from a2m_core.motion.skeleton import KIT

    t = 6
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (t, KIT.num_joints, 1))
    root = np.stack([np.zeros(t), np.full(t, 1000.0), np.linspace(0, 300, t)], axis=-1)
    joints = forward_kinematics(KIT, quats, root, rest_offsets(KIT)).astype(np.float32)
    np.save(tmp_path / "kit.npy", joints)
    code, _, err = run_cli(["motion", "render", tmp_path / "kit.npy", "--out", tmp_path / "kit.gif"], capsys)
    assert code == 0, err
    from PIL import Image

    with Image.open(tmp_path / "kit.gif") as gif:
        frame = np.asarray(gif.convert("RGB"))
    coloured = (np.abs(frame.astype(int) - frame.mean(axis=-1, keepdims=True)) > 40).any(axis=-1)
    assert coloured.sum() > 200, "the KIT skeleton should be drawn at human size, in colour"


def test_unwritable_output_folder_is_one_line_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(["motion", "urdf", "--out", tmp_path / "file" / "avatar.urdf"], capsys)
    assert_one_line_error(code, err, "avatar.urdf", "cannot create")
