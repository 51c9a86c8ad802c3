"""`a2m ros up` options reach the motion node as parameters (the override file it hands to rclpy)."""

from __future__ import annotations

import pytest
import yaml

from a2m_cli.main import build_parser
from a2m_cli.ros import _overrides_file


def test_robot_and_backend_options_become_motion_node_parameters(tmp_path):
    urdf = tmp_path / "robot.urdf"
    urdf.write_text("<robot name='r'/>")
    args = build_parser().parse_args(["ros", "up", "--audio-file", "speech.wav", "--backend", "onnxruntime",
                                      "--robot-urdf", str(urdf), "--retarget-map", "maps/mine.yaml"])
    params = yaml.safe_load(_overrides_file(args, tmp_path).read_text())["motion_node"]["ros__parameters"]
    assert params == {"backend": "onnxruntime", "robot_urdf": str(urdf.resolve()), "retarget_map": "maps/mine.yaml"}


def test_unset_options_leave_the_parameter_file_alone(tmp_path):
    """No --model: model_path stays as in config/a2m.yaml (empty: the node loads the shipped models/default)."""
    args = build_parser().parse_args(["ros", "up", "--mic"])
    params = yaml.safe_load(_overrides_file(args, tmp_path).read_text())["motion_node"]["ros__parameters"]
    assert params == {}


def test_bench_has_no_robot_options_and_still_writes_overrides(tmp_path):
    args = build_parser().parse_args(["ros", "bench", "--preset", "tiny", "--backend", "torch"])
    args.audio_file, args.mic_device = None, None  # as ros_bench sets them
    params = yaml.safe_load(_overrides_file(args, tmp_path).read_text())["motion_node"]["ros__parameters"]
    assert params == {"model_preset": "tiny", "backend": "torch"}


@pytest.mark.parametrize("backend", ["cuda", "onnx"])
def test_unknown_backend_is_refused_by_the_parser(backend, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ros", "up", "--mic", "--backend", backend])
    assert "invalid choice" in capsys.readouterr().err
