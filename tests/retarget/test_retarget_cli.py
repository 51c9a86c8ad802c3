"""`a2m retarget` end to end: trajectory file and video out, one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from a2m_cli.main import main
from a2m_core.retarget.robot_trajectory import RobotTrajectory


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def short_clip(tmp_path, fixture_motion):
    path = tmp_path / "clip.npy"
    np.save(path, fixture_motion.joints[:12])
    return path


def test_retarget_writes_a_trajectory_and_reports_quality(tmp_path, short_clip, g1_urdf, capsys):
    out = tmp_path / "out" / "robot.npz"
    code, stdout, err = run_cli(["retarget", short_clip, "--urdf", g1_urdf, "--out", out], capsys)
    assert code == 0, err
    trajectory = RobotTrajectory.load(out)
    assert trajectory.num_frames == 12 and len(trajectory.joint_names) == 29
    assert "position limit violation: 0 rad" in stdout and "keypoint error" in stdout


@pytest.mark.slow
def test_retarget_video_side_by_side(tmp_path, short_clip, g1_urdf, capsys):
    video = tmp_path / "side.gif"
    code, stdout, err = run_cli(["retarget", short_clip, "--urdf", g1_urdf, "--out", tmp_path / "r.npz",
                                 "--video", video], capsys)
    assert code == 0, err
    from PIL import Image

    with Image.open(video) as gif:
        assert gif.n_frames == 12 and gif.size[0] == 2 * gif.size[1]  # two panels side by side


def _one_line_error(code, err, *needles):
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("a2m: error:"), err
    for needle in needles:
        assert needle in err, err


def test_bad_inputs_are_one_line_errors(tmp_path, short_clip, g1_urdf, fixture_motion, capsys):
    out = tmp_path / "r.npz"
    bad_urdf = tmp_path / "bad.urdf"
    bad_urdf.write_text("<robot name='x'><link")
    _one_line_error(*run_cli(["retarget", short_clip, "--urdf", bad_urdf, "--out", out], capsys)[::2],
                    "not a parseable URDF")
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text("keypoints: [{human: pelvis, link: nowhere_link}, {human: left_ankle, link: pelvis},"
                       " {human: right_ankle, link: pelvis}]\n"
                       "feet: {left: {link: nowhere_link, sole_points: [[0, 0, 0]], human_joints: [left_ankle]},"
                       " right: {link: nowhere_link, sole_points: [[0, 0, 0]], human_joints: [right_ankle]}}\n")
    _one_line_error(*run_cli(["retarget", short_clip, "--urdf", g1_urdf, "--map", bad_map, "--out", out],
                             capsys)[::2], "nowhere_link")
    nan_clip = tmp_path / "nan.npy"
    joints = fixture_motion.joints[:5].copy()
    joints[2, 0, 0] = np.nan
    np.save(nan_clip, joints)
    _one_line_error(*run_cli(["retarget", nan_clip, "--urdf", g1_urdf, "--out", out], capsys)[::2], "NaN")
    _one_line_error(*run_cli(["retarget", short_clip, "--urdf", g1_urdf, "--out", tmp_path / "r.csv"],
                             capsys)[::2], ".npz")
    assert not out.exists()


def test_help_answers_without_importing_pinocchio():
    code = "import sys; from a2m_cli.main import build_parser; build_parser(); assert 'pinocchio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    result = subprocess.run([sys.executable, "-m", "a2m_cli", "retarget", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--urdf" in result.stdout


def test_benchmark_counts_every_timed_frame(g1_urdf, fixture_motion):
    """The benchmark's bookkeeping (its speed figure is reported in docs/retarget.md, never asserted)."""
    from a2m_core.motion.motion import Motion
    from a2m_core.retarget.speed_bench import benchmark

    clip = Motion(joints=fixture_motion.joints[:7], skeleton=fixture_motion.skeleton)
    result = benchmark([clip, clip], g1_urdf, repeats=2)
    assert result.num_frames == 28 and result.cpu_s > 0 and result.wall_s > 0


def test_quality_report_over_clips(g1_urdf, fixture_motion):
    """The --quality summary: one line of keypoint errors, one of limits and sliding, one of flagged clips."""
    from a2m_core.motion.motion import Motion
    from a2m_core.retarget.speed_bench import quality_lines

    clip = Motion(joints=fixture_motion.joints[:10], skeleton=fixture_motion.skeleton)
    lines = quality_lines([clip, clip], ["a", "b"], g1_urdf)
    assert lines[0].startswith("2 clips, 20 frames: keypoint error") and "right_wrist" in lines[0]
    assert "position limit violation 0 rad, velocity 0 rad/s" in lines[1]
    assert lines[2] == "clips with best-effort frames: none"
