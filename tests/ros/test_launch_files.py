"""The launch file, RViz config and parameter file agree with the nodes.

ROS launch and rviz2 cannot be installed on these machines (pip wheels only), so the launch
file is checked by compiling it and by the files it names; `a2m ros up` runs the same nodes
from the same parameter file and is tested end to end in test_bringup.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_launch_file_compiles_and_names_existing_files():
    source = (REPO / "launch" / "a2m.launch.py").read_text()
    tree = ast.parse(source)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    for relative in ("config/a2m.yaml", "rviz/a2m.rviz", "urdf/avatar.urdf"):
        folder, name = relative.split("/")
        assert f'"{folder}" / "{name}"' in source, relative
        assert (REPO / relative).is_file(), relative
    for executable in ("motion_node", "microphone_node", "audio_file_node"):
        assert f'executable="{executable}"' in source
        assert (REPO / "a2m_ros" / f"{executable}.py").is_file()


def test_rviz_config_shows_the_robot_and_markers_in_the_urdf_root():
    config = yaml.safe_load((REPO / "rviz" / "a2m.rviz").read_text())
    displays = {d["Class"]: d for d in config["Visualization Manager"]["Displays"]}
    assert displays["rviz_default_plugins/RobotModel"]["Description Topic"]["Value"] == "/robot_description"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/skeleton_markers"
    fixed = config["Visualization Manager"]["Global Options"]["Fixed Frame"]
    params = yaml.safe_load((REPO / "config" / "a2m.yaml").read_text())
    assert fixed == params["motion_node"]["ros__parameters"]["frame_id"]
    assert f'<link name="{fixed}"' in (REPO / "urdf" / "avatar.urdf").read_text()


@pytest.mark.ros
@pytest.mark.parametrize("module,cls", [("a2m_ros.motion_node", "MotionNode"),
                                        ("a2m_ros.microphone_node", "MicrophoneNode"),
                                        ("a2m_ros.audio_file_node", "AudioFileNode")])
def test_parameter_file_lists_exactly_the_declared_parameters(rclpy_context, module, cls, speech, monkeypatch):
    """Every parameter a node declares (with a description) is in config/a2m.yaml, and nothing else."""
    import importlib

    from rclpy.parameter import Parameter

    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")  # the microphone node must not find a device
    params = yaml.safe_load((REPO / "config" / "a2m.yaml").read_text())
    node_class = getattr(importlib.import_module(module), cls)
    overrides = [Parameter("path", value=str(speech("wave")))] if cls == "AudioFileNode" else []  # it needs a file
    node = node_class(context=rclpy_context, parameter_overrides=overrides)
    try:
        built_in = {"use_sim_time", "start_type_description_service"}  # every rclpy node has these
        declared = {name: p for name, p in node.get_parameters_by_prefix("").items() if name not in built_in}
        for name in declared:
            assert node.describe_parameter(name).description, f"{name} has no description"
        in_file = set(params[node.get_name()]["ros__parameters"])
        assert in_file == set(declared) - {"path"}, set(declared) ^ in_file
        for name in in_file:
            assert params[node.get_name()]["ros__parameters"][name] == declared[name].value, name
    finally:
        node.destroy_node()
